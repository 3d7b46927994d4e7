// Scenario format v1 (DESIGN.md "Scenario format", scenarios/README.md): strict validation with
// "FILE:LINE:COL: PATH: what was expected" messages.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "arm_gic/trace_points.h"
#include "core/backend.h"
#include "core/runner.h"
#include "core/scenario.h"
#include "registry/builtin_backends.h"

namespace irqdiff {
namespace {

const std::string kSource = IRQDIFF_SOURCE_DIR;

/// The message of the InputError that parsing `text` raises ("" and a test failure if none).
std::string error_of(const std::string& text) {
    try {
        parse_scenario(text, builtin_backends().catalogue(), "t.yaml");
    } catch (const InputError& e) {
        return e.what();
    }
    ADD_FAILURE() << "no error for:\n" << text;
    return "";
}

const std::string kHeader =
    "name: t\n"
    "vm: {vcpus: 2}\n"
    "devices:\n"
    "  - {name: nic, vectors: 2, passthrough: true}\n"
    "routes:\n"
    "  - {source: nic.0, vcpu: 0}\n"
    "  - {source: nic.1, vcpu: 1}\n";

TEST(ScenarioLoader, SeedScenarioLoadsCompletely) {
    Scenario s =
        load_scenario(kSource + "/scenarios/seed/pending_across_migration.yaml", builtin_backends().catalogue());
    EXPECT_EQ(s.name, "pending-interrupt-across-migration");
    EXPECT_EQ(s.vcpus, 2u);
    ASSERT_EQ(s.devices.size(), 1u);
    EXPECT_TRUE(s.devices[0].passthrough);
    ASSERT_EQ(s.sources.size(), 2u);
    EXPECT_EQ(s.sources[1].name, "nic.1");
    EXPECT_EQ(s.sources[1].vcpu, 1u);
    ASSERT_EQ(s.policy.size(), 1u);
    EXPECT_EQ(s.policy[0].key, "arm.transfer");
    EXPECT_EQ(s.policy[0].value, "set_forwarding");
    ASSERT_EQ(s.steps.size(), 6u);
    EXPECT_EQ(s.steps[1].kind, StepKind::Mask);
    EXPECT_EQ(s.steps[1].vcpu, 0);
    const Step& m = s.steps[3];
    ASSERT_EQ(m.kind, StepKind::Migrate);
    EXPECT_EQ(m.order.kind, OrderSpec::Kind::Named);
    EXPECT_EQ(m.order.name, "qemu");
    ASSERT_EQ(m.fires.size(), 1u);
    EXPECT_EQ(m.fires[0].source, 1u);
    EXPECT_EQ(m.fires[0].before, "start_vcpus");
    EXPECT_EQ(m.fires[0].before_loc.line, 22);
    ASSERT_EQ(s.expect.size(), 2u);
    EXPECT_EQ(s.expect[0].outcome, Outcome::DeliveredOnce);
}

// Each file under tests/data/malformed states on its second line, "# error: LINE:COL: message",
// the exact message it must be rejected with (tests/python/test_cli.py checks the CLI the same way).
std::vector<std::string> malformed_files() {
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(kSource + "/tests/data/malformed"))
        if (entry.path().extension() == ".yaml") files.push_back(entry.path().filename().string());
    std::sort(files.begin(), files.end());
    return files;
}

std::string stated_error(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("# error: ", 0) == 0) return line.substr(9);
    return "";
}

class MalformedFile : public ::testing::TestWithParam<std::string> {};

TEST_P(MalformedFile, IsRejectedWithTheMessageItStates) {
    std::string path = kSource + "/tests/data/malformed/" + GetParam();
    std::string expected = stated_error(path);
    ASSERT_FALSE(expected.empty()) << path << " states no '# error:' line";
    try {
        load_scenario(path, builtin_backends().catalogue());
        FAIL() << path << " loaded";
    } catch (const InputError& e) {
        EXPECT_EQ(std::string(e.what()), path + ":" + expected);
        EXPECT_EQ(e.where().file, path);
        EXPECT_GT(e.where().line, 0);
    }
}

INSTANTIATE_TEST_SUITE_P(TestsData, MalformedFile, ::testing::ValuesIn(malformed_files()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             return info.param.substr(0, info.param.find('.'));
                         });

TEST(ScenarioLoader, TheMalformedLibraryCoversTheRequiredKindsOfBadInput) {
    std::vector<std::string> files = malformed_files();
    for (const char* f :
         {"unknown_key.yaml", "wrong_type.yaml", "source_names_no_device.yaml", "vcpu_out_of_range.yaml",
          "leading_zero.yaml", "invalid_yaml.yaml", "unknown_violation.yaml", "violation_not_declared_as_one.yaml"})
        EXPECT_NE(std::find(files.begin(), files.end(), f), files.end()) << f;
}

TEST(ScenarioLoader, MissingFileIsAnInputError) {
    EXPECT_THROW(load_scenario(kSource + "/tests/data/does_not_exist.yaml", builtin_backends().catalogue()),
                 InputError);
    EXPECT_THROW(load_scenario(kSource + "/tests/data", builtin_backends().catalogue()), InputError);  // a directory
}

TEST(ScenarioLoader, RejectsStructuralProblems) {
    EXPECT_EQ(error_of(""), "t.yaml:1:1: empty file: expected a scenario map");
    EXPECT_EQ(error_of("- a\n- b\n"), "t.yaml:1:1: expected a map, got a list");
    EXPECT_EQ(error_of("name: t\n"), "t.yaml:1:1: missing key 'vm'");
    EXPECT_EQ(error_of("name: a\nname: b\n"), "t.yaml:2:1: duplicate key 'name' (first at line 1)");
    EXPECT_EQ(error_of("name: t\nvm: {vcpus: 1}\ndevices: []\nsteps: [{run: all}]\n---\nname: u\n"),
              "t.yaml:6:1: expected one YAML document, found a second one");
    EXPECT_EQ(error_of(kHeader + "steps: []\n"), "t.yaml:8:8: steps: expected at least one step");
}

// Required keys are checked before their values: a test of one value gives a whole document.
std::string with_vm(const std::string& vm) { return "name: t\nvm: " + vm + "\ndevices: []\nsteps: [{run: all}]\n"; }

TEST(ScenarioLoader, RejectsNumbersThatAreNotPlainIntegersInRange) {
    EXPECT_EQ(error_of(with_vm("{vcpus: \"2\"}")),
              "t.yaml:2:13: vm.vcpus: expected an integer from 1 to 64, got the quoted string '2'");
    EXPECT_EQ(error_of(with_vm("{vcpus: two}")), "t.yaml:2:13: vm.vcpus: expected an integer from 1 to 64, got 'two'");
    EXPECT_EQ(error_of(with_vm("{vcpus: 0}")),
              "t.yaml:2:13: vm.vcpus: 0 is out of range (expected an integer from 1 to 64)");
    EXPECT_EQ(error_of(with_vm("{vcpus: -1}")), "t.yaml:2:13: vm.vcpus: expected an integer from 1 to 64, got '-1'");
    EXPECT_EQ(error_of(with_vm("{vcpus: 99999999999999999999999}")),
              "t.yaml:2:13: vm.vcpus: 99999999999999999999999 is out of range (expected an integer from 1 to 64)");
    EXPECT_EQ(error_of(with_vm("{vcpus: [1]}")), "t.yaml:2:13: vm.vcpus: expected an integer from 1 to 64, got a list");
    // 0x-hexadecimal is an integer too.
    Scenario s =
        parse_scenario("name: t\nvm: {vcpus: 0x2}\ndevices: []\nsteps: [{run: all}]\n", builtin_backends().catalogue());
    EXPECT_EQ(s.vcpus, 2u);
}

// A message quoting user input stays on one line.
TEST(ScenarioLoader, QuotedInputWithControlCharactersStaysOnOneLine) {
    EXPECT_EQ(error_of(with_vm("{vcpus: \"1\\n2\"}")),
              "t.yaml:2:13: vm.vcpus: expected an integer from 1 to 64, got the quoted string '1\\n2'");
}

TEST(ScenarioLoader, RejectsBadSourcesAndRoutes) {
    const std::string dev = "name: t\nvm: {vcpus: 2}\ndevices: [{name: nic, vectors: 2}]\n";
    const std::string run = "steps: [{run: all}]\n";
    EXPECT_EQ(error_of(dev + "routes: [{source: nic, vcpu: 0}]\n" + run),
              "t.yaml:4:19: routes[0].source: 'nic' is not a source (expected DEVICE.VECTOR, e.g. nic.0)");
    EXPECT_EQ(error_of(dev + "routes: [{source: nic.2, vcpu: 0}]\n" + run),
              "t.yaml:4:19: routes[0].source: 'nic.2': device nic has 2 vectors (nic.0..nic.1)");
    EXPECT_EQ(error_of(dev + "routes: [{source: nic.01, vcpu: 0}]\n" + run),
              "t.yaml:4:19: routes[0].source: 'nic.01': device nic has 2 vectors (nic.0..nic.1)");
    EXPECT_EQ(error_of(dev + "routes: [{source: nic.0, vcpu: 0}, {source: nic.0, vcpu: 1}]\n" + run),
              "t.yaml:4:45: routes[1].source: nic.0 is already routed (at line 4)");
    EXPECT_EQ(error_of(dev + "steps: [{fire: nic.1}]\n"),
              "t.yaml:4:16: steps[0].fire: nic.1 has no route (add '- {source: nic.1, vcpu: N}' under routes)");
    EXPECT_EQ(error_of("name: t\nvm: {vcpus: 1}\ndevices: [{name: nic, vectors: 1}, {name: nic, vectors: 1}]\n" + run),
              "t.yaml:3:43: devices[1].name: duplicate device 'nic' (first at line 3)");
    EXPECT_EQ(error_of("name: t\nvm: {vcpus: 1}\ndevices: [{name: n.ic, vectors: 1}]\n" + run),
              "t.yaml:3:18: devices[0].name: 'n.ic' is not a device name (expected a letter, then letters, "
              "digits, _ or -)");
}

TEST(ScenarioLoader, RejectsBadSteps) {
    EXPECT_EQ(error_of(kHeader + "steps: [run]\n"),
              "t.yaml:8:9: steps[0]: expected a one-key map such as 'run: all' or 'fire: SOURCE', got 'run'");
    EXPECT_EQ(error_of(kHeader + "steps: [{run: all, fire: nic.0}]\n"),
              "t.yaml:8:9: steps[0]: expected a one-key map such as 'run: all' or 'fire: SOURCE', got a map with "
              "2 keys");
    EXPECT_EQ(error_of(kHeader + "steps: [{run: some}]\n"),
              "t.yaml:8:15: steps[0].run: expected 'all' or {vcpu: N}, got 'some'");
    EXPECT_EQ(error_of(kHeader + "steps: [{mask: {vcpu: 5}}]\n"),
              "t.yaml:8:23: steps[0].mask.vcpu: vCPU 5 is out of range (vm.vcpus is 2, so 0..1)");
    EXPECT_EQ(error_of(kHeader + "steps: [{mask: {}}]\n"), "t.yaml:8:16: steps[0].mask: missing key 'vcpu'");
    EXPECT_EQ(error_of(kHeader + "steps: [{migrate: {order: [start_vcpus, start_vcpus]}}]\n"),
              "t.yaml:8:41: steps[0].migrate.order[1]: step 'start_vcpus' is listed twice (first at line 8)");
    EXPECT_EQ(error_of(kHeader + "steps: [{migrate: {fire: [{source: nic.0}]}}]\n"),
              "t.yaml:8:27: steps[0].migrate.fire[0]: missing key 'before'");
    EXPECT_EQ(error_of(kHeader + "steps: [{migrate: {when: now}}]\n"),
              "t.yaml:8:20: steps[0].migrate: unknown key 'when' (expected one of: kind, order, fire, cancel_after)");
}

TEST(ScenarioLoader, RejectsBadExpectations) {
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {nic.0: gone}\n"),
              "t.yaml:9:17: expect.nic.0: 'gone' is not an outcome (expected one of: delivered-once, lost, "
              "duplicated, pending, save-refused, impossible, spurious, delivered-after-deassign, undefined)");
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {nic.1: lost}\n"),
              "t.yaml:9:10: expect: nic.1 is never fired by the steps, so it has no outcome");
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {all: lost, all: lost}\n"),
              "t.yaml:9:21: expect: duplicate key 'all' (first at line 9)");
}

TEST(ScenarioLoader, ExpectedViolationsAreNoneOrAListOfOperations) {
    Scenario none = parse_scenario(kHeader + "steps: [{fire: nic.0}]\nexpect: {violations: none}\n",
                                   builtin_backends().catalogue());
    ASSERT_TRUE(none.expect_violations.has_value());
    EXPECT_TRUE(none.expect_violations->ops.empty());
    Scenario some =
        parse_scenario(kHeader + "steps: [{fire: nic.0}]\nexpect: {nic.0: lost, violations: [VCPU.write_LR]}\n",
                       builtin_backends().catalogue());
    ASSERT_TRUE(some.expect_violations.has_value());
    EXPECT_EQ(some.expect_violations->ops, (std::vector<std::string>{"VCPU.write_LR"}));
    EXPECT_EQ(some.expect.size(), 1u);
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {violations: maybe}\n"),
              "t.yaml:9:22: expect.violations: expected 'none' or a list of operations such as [VCPU.write_LR], got "
              "'maybe'");
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {violations: [oops]}\n"),
              "t.yaml:9:23: expect.violations[0]: 'oops' is not an operation name (LAYER.NAME, e.g. VCPU.write_LR)");
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {violations: [VCPU.write_LR, VCPU.write_LR]}\n"),
              "t.yaml:9:38: expect.violations[1]: 'VCPU.write_LR' is listed twice");
}

// The names are checked against the event catalogue (Registry::catalogue()) and resolve to the
// declared violations of that name: VCPU.write_LR is three (HW=1 for a vLPI, two list registers,
// an LR and the VPT), and the runner matches a reported violation by its declaration.
TEST(ScenarioLoader, ExpectedViolationsNameDeclaredViolations) {
    Scenario s = parse_scenario(kHeader + "steps: [{fire: nic.0}]\nexpect: {violations: [VCPU.write_LR]}\n",
                                builtin_backends().catalogue());
    ASSERT_TRUE(s.expect_violations.has_value());
    EXPECT_EQ(s.expect_violations->points, (std::vector<const TracePointInfo*>{&arm::tp::kVcpuWriteLrHwViolation,
                                                                               &arm::tp::kVcpuWriteLrTwiceViolation,
                                                                               &arm::tp::kVcpuWriteLrAndVptViolation}));
    const std::string declared = "GICR.vlpi_pending, VPT.software_write, VCPU.write_EOIR1, VCPU.write_LR";
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {violations: [VCPU.write_lr]}\n"),
              "t.yaml:9:23: expect.violations[0]: unknown event 'VCPU.write_lr': expected a declared event such as " +
                  declared);
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {violations: [KVM.free_lpi]}\n"),
              "t.yaml:9:23: expect.violations[0]: event 'KVM.free_lpi' is never a violation (declared as op): expected "
              "a declared event such as " +
                  declared);
    // A catalogue of policies alone (what a stack's own tests pass) declares no event.
    try {
        parse_scenario(kHeader + "steps: [{fire: nic.0}]\nexpect: {violations: [VCPU.write_LR]}\n",
                       builtin_backends().policies(), "t.yaml");
        ADD_FAILURE() << "loaded";
    } catch (const InputError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "t.yaml:9:23: expect.violations[0]: unknown event 'VCPU.write_LR': expected a declared event such as "
                  "(none: the catalogue declares no violation)");
    }
}

TEST(ScenarioLoader, RejectsUnknownPolicies) {
    EXPECT_EQ(
        error_of(kHeader + "policy: {arm.transfr: none}\nsteps: [{run: all}]\n"),
        "t.yaml:8:10: unknown policy 'arm.transfr' (expected one of: arm.transfer, arm.gic, "
        "arm.its_command_error, arm.its_table_fault, arm.vpt_writeback, arm.vfio_vector_enable, "
        "arm.list_registers, arm.vpendbaser_dirty_reads, arm.save, arm.its_save_error, arm.vmm_gicr_save, "
        "arm.irqfd_deassign, arm.vmm_its_regs, arm.vsgi_ispendr, arm.guest_nassgireq, arm.cpr_detach, "
        "x86.set_lapic_clears_pir, x86.posting, x86.ipiv, x86.guest_apic_dest, x86.sn_on_put, "
        "x86.irqfd_deassign, x86.vfio_vector_enable, x86.cpr_detach, x86.vcpu_events_nmi)");
}

TEST(ScenarioLoader, ParsesEveryStepKind) {
    Scenario s = parse_scenario(
        kHeader +
            "steps:\n"
            "  - run: {vcpu: 1}\n"
            "  - block: {vcpu: 0}\n"
            "  - preempt: {vcpu: 1}\n"
            "  - retarget: {source: nic.0, vcpu: 1}\n"
            "  - unassign: {source: nic.1}\n"
            "  - migrate:\n"
            "  - migrate: {order: [restore_irqchip, start_vcpus], fire: [{source: nic.0, before: any}]}\n"
            "  - migrate: {order: all}\n"
            "  - migrate: {order: {set: cloud-hypervisor}}\n"
            "expect: {all: pending}\n",
        builtin_backends().catalogue());
    ASSERT_EQ(s.steps.size(), 9u);
    EXPECT_EQ(s.steps[0].kind, StepKind::Run);
    EXPECT_EQ(s.steps[0].vcpu, 1);
    EXPECT_EQ(s.steps[2].kind, StepKind::Preempt);
    EXPECT_EQ(s.steps[3].kind, StepKind::Retarget);
    EXPECT_EQ(s.steps[3].source, 0u);
    EXPECT_EQ(s.steps[3].vcpu, 1);
    EXPECT_EQ(s.steps[4].kind, StepKind::Unassign);
    EXPECT_EQ(s.steps[4].source, 1u);
    EXPECT_EQ(s.steps[5].order.kind, OrderSpec::Kind::Named);
    EXPECT_EQ(s.steps[6].order.kind, OrderSpec::Kind::Explicit);
    EXPECT_EQ(s.steps[6].order.steps, (std::vector<std::string>{"restore_irqchip", "start_vcpus"}));
    EXPECT_EQ(s.steps[6].fires[0].before, "any");
    EXPECT_EQ(s.steps[7].order.kind, OrderSpec::Kind::All);
    EXPECT_EQ(s.steps[8].order.kind, OrderSpec::Kind::Set);  // docs/design.md "Order sets"
    EXPECT_EQ(s.steps[8].order.name, "cloud-hypervisor");
    ASSERT_EQ(s.expect.size(), 1u);
    EXPECT_FALSE(s.expect[0].source.has_value());
    EXPECT_EQ(s.expect[0].outcome, Outcome::Pending);
}

// `arch` (not yet in scenarios/README.md; core/scenario_loader.cc Loader::arch): the backends a
// scenario is meant for, one name or a list, each from kScenarioArches. Parsed before `vm`, so a
// one-line document around it is enough; its value is on line 2, column 7.
std::string with_arch(const std::string& arch) {
    return "name: t\narch: " + arch + "\nvm: {vcpus: 1}\ndevices: []\nsteps: [{run: all}]\n";
}

// scenarios/README.md "Files under scenarios/ARCH/ are meant for that backend; the others run on
// every backend": a scenario without `arch` names no backend.
TEST(ScenarioLoader, ArchIsOptionalAndEmptyWhenNotWritten) {
    Scenario s =
        parse_scenario("name: t\nvm: {vcpus: 1}\ndevices: []\nsteps: [{run: all}]\n", builtin_backends().catalogue());
    EXPECT_TRUE(s.arches.empty());
}

// `arch: x86` or `arch: [arm, x86]` (core/scenario.h Scenario::arches); arch_loc is the value's.
TEST(ScenarioLoader, ArchIsOneBackendOrAListOfThem) {
    Scenario one = parse_scenario(with_arch("x86"), builtin_backends().catalogue(), "t.yaml");
    EXPECT_EQ(one.arches, (std::vector<std::string>{"x86"}));
    EXPECT_EQ(one.arch_loc.file, "t.yaml");
    EXPECT_EQ(one.arch_loc.line, 2);
    EXPECT_EQ(one.arch_loc.column, 7);
    EXPECT_EQ(parse_scenario(with_arch("[arm, x86]"), builtin_backends().catalogue()).arches,
              (std::vector<std::string>{"arm", "x86"}));
    EXPECT_EQ(parse_scenario(with_arch("[x86]"), builtin_backends().catalogue()).arches,
              (std::vector<std::string>{"x86"}));
    // A string, quoted or not (scenarios/README.md "Values").
    EXPECT_EQ(parse_scenario(with_arch("\"arm\""), builtin_backends().catalogue()).arches,
              (std::vector<std::string>{"arm"}));
    Scenario block =
        parse_scenario("name: t\narch:\n  - arm\n  - x86\nvm: {vcpus: 1}\ndevices: []\nsteps: [{run: all}]\n",
                       builtin_backends().catalogue());
    EXPECT_EQ(block.arches, (std::vector<std::string>{"arm", "x86"}));
    EXPECT_EQ(block.arch_loc.line, 3);
}

// Every scenario under scenarios/ARCH/ says so with `arch: ARCH` (scenarios/README.md).
TEST(ScenarioLoader, ScenariosUnderAnArchDirectoryNameThatArch) {
    for (const char* arch : {"arm", "x86"}) {
        size_t n = 0;
        for (const auto& entry : std::filesystem::directory_iterator(kSource + "/scenarios/" + arch)) {
            if (entry.path().extension() != ".yaml") continue;
            Scenario s = load_scenario(entry.path().string(), builtin_backends().catalogue());
            EXPECT_EQ(s.arches, (std::vector<std::string>{arch})) << entry.path();
            ++n;
        }
        EXPECT_GT(n, 0u) << arch;
    }
    EXPECT_TRUE(load_scenario(kSource + "/scenarios/seed/pending_across_migration.yaml", builtin_backends().catalogue())
                    .arches.empty());
}

// `arch` values come from {arm, x86}: not the ideal reference, not the CLI's `both`, case matters.
TEST(ScenarioLoader, RejectsUnknownArchBackends) {
    EXPECT_EQ(error_of(with_arch("riscv")), "t.yaml:2:7: arch: unknown backend 'riscv' (expected arm or x86)");
    EXPECT_EQ(error_of(with_arch("ideal")), "t.yaml:2:7: arch: unknown backend 'ideal' (expected arm or x86)");
    EXPECT_EQ(error_of(with_arch("both")), "t.yaml:2:7: arch: unknown backend 'both' (expected arm or x86)");
    EXPECT_EQ(error_of(with_arch("X86")), "t.yaml:2:7: arch: unknown backend 'X86' (expected arm or x86)");
    EXPECT_EQ(error_of(with_arch("[arm, mips]")), "t.yaml:2:13: arch[1]: unknown backend 'mips' (expected arm or x86)");
}

// A backend listed twice, an empty list and a value that is neither a string nor a list of
// strings are errors at the offending node.
TEST(ScenarioLoader, RejectsArchListedTwiceEmptyOrOfTheWrongType) {
    EXPECT_EQ(error_of(with_arch("[arm, arm]")), "t.yaml:2:13: arch[1]: 'arm' is listed twice");
    EXPECT_EQ(error_of(with_arch("[x86, arm, x86]")), "t.yaml:2:18: arch[2]: 'x86' is listed twice");
    EXPECT_EQ(error_of(with_arch("[]")), "t.yaml:2:7: arch: expected at least one backend");
    EXPECT_EQ(error_of(with_arch("{x86: true}")), "t.yaml:2:7: arch: expected a string, got a map");
    EXPECT_EQ(error_of(with_arch("[x86, [arm]]")), "t.yaml:2:13: arch[1]: expected a string, got a list");
    EXPECT_EQ(error_of("name: t\narch: x86\narch: arm\nvm: {vcpus: 1}\ndevices: []\nsteps: [{run: all}]\n"),
              "t.yaml:3:1: duplicate key 'arch' (first at line 2)");
}

// Registry::arches_for (core/backend.h): with no --arch, a scenario with `arch` runs only on
// those backends, one without on every virtualizing backend.
TEST(ScenarioLoader, ArchChoosesTheBackendsWhenNoneAreRequested) {
    const Registry& r = builtin_backends();
    const std::vector<std::string> every = {"arm", "x86"};
    EXPECT_EQ(r.default_arches(), every);
    EXPECT_EQ(r.arches_for(parse_scenario(with_vm("{vcpus: 1}"), builtin_backends().catalogue()), nullptr, "--arch"),
              every);
    EXPECT_EQ(r.arches_for(parse_scenario(with_arch("x86"), builtin_backends().catalogue()), nullptr, "--arch"),
              (std::vector<std::string>{"x86"}));
    EXPECT_EQ(r.arches_for(parse_scenario(with_arch("arm"), builtin_backends().catalogue()), nullptr, "--arch"),
              (std::vector<std::string>{"arm"}));
    std::vector<std::string> both =
        r.arches_for(parse_scenario(with_arch("[arm, x86]"), builtin_backends().catalogue()), nullptr, "--arch");
    std::sort(both.begin(), both.end());
    EXPECT_EQ(both, every);
}

// Registry::arches_for: requested backends are used as given when `arch` allows them; `ideal`
// may always run; a scenario without `arch` allows every backend.
TEST(ScenarioLoader, ArchAllowsTheRequestedBackendsItNamesAndIdeal) {
    const Registry& r = builtin_backends();
    const std::vector<std::string> ideal = {"ideal"}, x86 = {"x86"}, ideal_x86 = {"ideal", "x86"},
                                   every = {"arm", "x86"};
    Scenario meant_x86 = parse_scenario(with_arch("x86"), builtin_backends().catalogue());
    EXPECT_EQ(r.arches_for(meant_x86, &ideal, "--arch"), ideal);
    EXPECT_EQ(r.arches_for(meant_x86, &x86, "--arch"), x86);
    EXPECT_EQ(r.arches_for(meant_x86, &ideal_x86, "--arch"), ideal_x86);
    EXPECT_EQ(r.arches_for(parse_scenario(with_arch("[arm, x86]"), builtin_backends().catalogue()), &every, "--arch"),
              every);
    EXPECT_EQ(r.arches_for(parse_scenario(with_vm("{vcpus: 1}"), builtin_backends().catalogue()), &every, "--arch"),
              every);
    EXPECT_EQ(r.arches_for(parse_scenario(with_vm("{vcpus: 1}"), builtin_backends().catalogue()), &ideal, "--arch"),
              ideal);
}

// Registry::arches_for: a requested backend the scenario's `arch` does not allow is an InputError
// located at the `arch` value, naming the option that asked for it.
TEST(ScenarioLoader, ArchRejectsARequestedBackendItDoesNotName) {
    const Registry& r = builtin_backends();
    const std::vector<std::string> arm = {"arm"}, x86 = {"x86"}, every = {"arm", "x86"}, ideal_arm = {"ideal", "arm"};
    Scenario meant_x86 = parse_scenario(with_arch("x86"), builtin_backends().catalogue(), "t.yaml");
    try {
        r.arches_for(meant_x86, &arm, "--arch");
        ADD_FAILURE() << "no error";
    } catch (const InputError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "t.yaml:2:7: arch: the scenario is meant for x86 only, but --arch asks for arm");
        EXPECT_EQ(e.where().line, 2);
        EXPECT_EQ(e.where().column, 7);
    }
    auto message = [&](const Scenario& s, const std::vector<std::string>& requested, const std::string& place) {
        try {
            r.arches_for(s, &requested, place);
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(message(meant_x86, every, "--arch"),
              "t.yaml:2:7: arch: the scenario is meant for x86 only, but --arch asks for arm");
    EXPECT_EQ(message(meant_x86, ideal_arm, "run(arch=...)"),
              "t.yaml:2:7: arch: the scenario is meant for x86 only, but run(arch=...) asks for arm");
    EXPECT_EQ(message(parse_scenario(with_arch("[arm]"), builtin_backends().catalogue(), "t.yaml"), x86, "--arch"),
              "t.yaml:2:7: arch: the scenario is meant for arm only, but --arch asks for x86");
}

// Device `kind` (not yet in scenarios/README.md; Loader::devices): `msi`, the default, needs
// `vectors`; `timer` is the x86 LAPIC timer with the one source NAME.0.
TEST(ScenarioLoader, DeviceKindIsMsiByDefault) {
    Scenario s = parse_scenario(
        "name: t\nvm: {vcpus: 1}\ndevices: [{name: nic, vectors: 2}, {name: eth, kind: msi, vectors: 1}]\n"
        "steps: [{run: all}]\n",
        builtin_backends().catalogue());
    ASSERT_EQ(s.devices.size(), 2u);
    EXPECT_EQ(s.devices[0].kind, DeviceKind::Msi);
    EXPECT_EQ(s.devices[0].kind_loc.line, s.devices[0].loc.line);  // not written: the device's position
    EXPECT_EQ(s.devices[0].kind_loc.column, s.devices[0].loc.column);
    EXPECT_EQ(s.devices[1].kind, DeviceKind::Msi);
    EXPECT_EQ(s.devices[1].kind_loc.column, 54);
    EXPECT_EQ(s.sources.size(), 3u);
    EXPECT_STREQ(to_string(DeviceKind::Msi), "msi");
    EXPECT_STREQ(to_string(DeviceKind::Timer), "timer");
}

// `kind: timer`: one source NAME.0, `vectors` optional (1), never passthrough; it can be fired,
// also during a migration.
TEST(ScenarioLoader, TimerDeviceHasOneSourceAndIsNotPassthrough) {
    Scenario s = parse_scenario(
        "name: t\nvm: {vcpus: 2}\n"
        "devices:\n"
        "  - {name: tm, kind: timer}\n"
        "  - {name: tn, kind: timer, vectors: 1, passthrough: false}\n"
        "routes: [{source: tm.0, vcpu: 0}, {source: tn.0, vcpu: 1}]\n"
        "steps: [{fire: tm.0}, {migrate: {fire: [{source: tn.0, before: any}]}}, {run: all}]\n"
        "expect: {all: delivered-once}\n",
        builtin_backends().catalogue());
    ASSERT_EQ(s.devices.size(), 2u);
    for (const Device& d : s.devices) {
        EXPECT_EQ(d.kind, DeviceKind::Timer);
        EXPECT_EQ(d.vectors, 1u);
        EXPECT_FALSE(d.passthrough);
    }
    EXPECT_EQ(s.devices[0].kind_loc.line, 4);
    EXPECT_EQ(s.devices[0].kind_loc.column, 22);
    ASSERT_EQ(s.sources.size(), 2u);
    EXPECT_EQ(s.sources[0].name, "tm.0");
    EXPECT_EQ(s.sources[1].name, "tn.0");
    EXPECT_EQ(s.sources[1].vcpu, 1u);
}

// `kind` is the string msi or timer; an MSI device still needs `vectors`.
TEST(ScenarioLoader, RejectsBadDeviceKinds) {
    const std::string run = "steps: [{run: all}]\n";
    EXPECT_EQ(error_of("name: t\nvm: {vcpus: 1}\ndevices: [{name: tm, kind: apic}]\n" + run),
              "t.yaml:3:28: devices[0].kind: 'apic' is not a device kind (expected msi, timer or ipi)");
    EXPECT_EQ(error_of("name: t\nvm: {vcpus: 1}\ndevices: [{name: tm, kind: [timer]}]\n" + run),
              "t.yaml:3:28: devices[0].kind: expected a string, got a list");
    EXPECT_EQ(error_of("name: t\nvm: {vcpus: 1}\ndevices: [{name: nic, kind: msi}]\n" + run),
              "t.yaml:3:11: devices[0]: missing key 'vectors'");
}

// A timer is not a PCI device: `passthrough: true` is an error; `vectors`, if written, is 1.
TEST(ScenarioLoader, RejectsATimerPassedThroughOrWithMoreThanOneVector) {
    const std::string run = "steps: [{run: all}]\n";
    EXPECT_EQ(error_of("name: t\nvm: {vcpus: 1}\ndevices: [{name: tm, kind: timer, passthrough: true}]\n" + run),
              "t.yaml:3:48: devices[0].passthrough: a timer is not a PCI device: it cannot be passed through");
    EXPECT_EQ(error_of("name: t\nvm: {vcpus: 1}\ndevices: [{name: tm, kind: timer, passthrough: yes}]\n" + run),
              "t.yaml:3:48: devices[0].passthrough: expected true or false, got 'yes'");
    EXPECT_EQ(error_of("name: t\nvm: {vcpus: 1}\ndevices: [{name: tm, kind: timer, vectors: 2}]\n" + run),
              "t.yaml:3:44: devices[0].vectors: 2 is out of range (expected an integer from 1 to 1)");
    EXPECT_EQ(error_of("name: t\nvm: {vcpus: 1}\ndevices: [{name: tm, kind: timer, vectors: 0}]\n" + run),
              "t.yaml:3:44: devices[0].vectors: 0 is out of range (expected an integer from 1 to 1)");
    EXPECT_EQ(
        error_of("name: t\nvm: {vcpus: 1}\ndevices: [{name: tm, kind: timer}]\nroutes: [{source: tm.1, vcpu: 0}]\n" +
                 run),
        "t.yaml:4:19: routes[0].source: 'tm.1': device tm has 1 vector (tm.0..tm.0)");
}

// A timer source belongs to its vCPU's local APIC: it cannot be retargeted or unassigned (the
// error is at the step's source).
TEST(ScenarioLoader, RejectsRetargetingOrUnassigningATimer) {
    const std::string timer =
        "name: t\nvm: {vcpus: 2}\ndevices: [{name: tm, kind: timer}]\n"
        "routes: [{source: tm.0, vcpu: 0}]\n";
    EXPECT_EQ(error_of(timer + "steps: [{retarget: {source: tm.0, vcpu: 1}}]\n"),
              "t.yaml:5:29: steps[0].retarget.source: tm.0 is a timer: it belongs to its vCPU's local APIC and "
              "cannot be retargeted");
    EXPECT_EQ(error_of(timer + "steps: [{unassign: {source: tm.0}}]\n"),
              "t.yaml:5:29: steps[0].unassign.source: tm.0 is a timer: it belongs to its vCPU's local APIC and "
              "cannot be unassigned");
}

// The backends' own checks of `kind` and of ARM-only steps (arm_gic/backend.cc, x86_pi/backend.cc,
// x86_pi/guest/guest.cc): the message of the InputError running `text` on `arch` raises.
std::string run_error_of(const std::string& text, const std::string& arch) {
    Scenario s = parse_scenario(text, builtin_backends().catalogue(), "t.yaml");
    try {
        run_scenario(s, builtin_backends(), std::vector<std::string>{arch}, {});
    } catch (const InputError& e) {
        return e.what();
    }
    ADD_FAILURE() << "no error on " << arch << " for:\n" << text;
    return "";
}

const std::string kTimer =
    "name: t\n"
    "vm: {vcpus: 1}\n"
    "devices:\n"
    "  - {name: tm, kind: timer}\n"
    "routes:\n"
    "  - {source: tm.0, vcpu: 0}\n"
    "steps: [{fire: tm.0}, {run: all}]\n"
    "expect: {tm.0: delivered-once}\n";

// The arm backend models no timer: an InputError at the `kind` value.
TEST(ScenarioLoader, ArmRejectsATimerAtItsKind) {
    EXPECT_EQ(run_error_of(kTimer, "arm"),
              "t.yaml:4:22: devices[0].kind: timer is the x86 local-APIC timer; the arm backend models no timer "
              "(give the scenario 'arch: x86')");
    // Also when the timer is not the first device, and not routed.
    EXPECT_EQ(run_error_of("name: t\nvm: {vcpus: 1}\ndevices:\n  - {name: nic, vectors: 1}\n"
                           "  - {name: tm, kind: timer}\nsteps: [{run: all}]\n",
                           "arm"),
              "t.yaml:5:22: devices[1].kind: timer is the x86 local-APIC timer; the arm backend models no timer "
              "(give the scenario 'arch: x86')");
}

// The x86 backend and the ideal reference run a timer as a source; the ideal one as an ordinary one.
TEST(ScenarioLoader, X86AndIdealRunATimer) {
    for (const char* arch : {"x86", "ideal"}) {
        ScenarioResult r = run_scenario(parse_scenario(kTimer, builtin_backends().catalogue()), builtin_backends(),
                                        std::vector<std::string>{arch}, {});
        ASSERT_EQ(r.runs.size(), 1u);
        ASSERT_NE(r.runs[0].outcome("tm.0"), nullptr) << arch;
        EXPECT_EQ(r.runs[0].outcome("tm.0")->outcome, Outcome::DeliveredOnce) << arch;
        EXPECT_TRUE(r.expectations_met()) << arch;
    }
}

// toggle_lpis is an ARM step: the x86 backend rejects it at the step; arm and ideal run it.
TEST(ScenarioLoader, X86RejectsToggleLpisAtTheStep) {
    const std::string text = kHeader + "steps:\n  - fire: nic.0\n  - toggle_lpis: {vcpu: 0}\n  - run: all\n";
    EXPECT_EQ(run_error_of(text, "x86"),
              "t.yaml:10:5: steps[1].toggle_lpis: an ARM step (GICR_CTLR.EnableLPIs): the x86 backend has no LPIs "
              "(give the scenario 'arch: arm')");
    for (const char* arch : {"arm", "ideal"})
        EXPECT_NO_THROW(run_scenario(parse_scenario(text, builtin_backends().catalogue()), builtin_backends(),
                                     std::vector<std::string>{arch}, {}))
            << arch;
}

// A vCPU has one local-APIC timer (one LVTT): a second timer source routed to it is an error at
// that route's vCPU, on every backend.
TEST(ScenarioLoader, SecondTimerOnOneVcpuIsAnErrorAtItsRoute) {
    const std::string text =
        "name: t\nvm: {vcpus: 2}\n"
        "devices:\n"
        "  - {name: ta, kind: timer}\n"
        "  - {name: tb, kind: timer}\n"
        "routes:\n"
        "  - {source: ta.0, vcpu: 1}\n"
        "  - {source: tb.0, vcpu: 1}\n"
        "steps: [{fire: ta.0}, {fire: tb.0}, {run: all}]\n";
    EXPECT_EQ(error_of(text),
              "t.yaml:8:26: routes[1].vcpu: vCPU 1 has one local-APIC timer, and ta.0 is already routed to it (at "
              "line 7)");
    // One timer per vCPU is fine.
    std::string spread = text;
    spread.replace(spread.find("{source: ta.0, vcpu: 1}"), 23, "{source: ta.0, vcpu: 0}");
    ScenarioResult x86 = run_scenario(parse_scenario(spread, builtin_backends().catalogue()), builtin_backends(),
                                      std::vector<std::string>{"x86"}, {});
    EXPECT_EQ(x86.runs[0].outcome("ta.0")->outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(x86.runs[0].outcome("tb.0")->outcome, Outcome::DeliveredOnce);
}

// The malformed library (tests/data/malformed, checked by MalformedFile and tests/python/test_cli.py)
// also holds the `arch`, `kind` and `delivery` mistakes: a bad arch value, a timer passed through, a timer retargeted.
TEST(ScenarioLoader, TheMalformedLibraryCoversArchAndTimerMistakes) {
    std::vector<std::string> files = malformed_files();
    for (const char* f : {"arch_both.yaml", "arch_listed_twice.yaml", "arch_empty.yaml", "timer_passthrough.yaml",
                          "timer_retargeted.yaml", "timer_unassigned.yaml", "timer_two_vectors.yaml",
                          "timer_twice_on_one_vcpu.yaml", "unknown_device_kind.yaml", "unknown_delivery_mode.yaml",
                          "assign_timer.yaml", "unroute_extra_key.yaml", "unknown_timer_mode.yaml",
                          "timer_mode_on_msi.yaml"})
        EXPECT_NE(std::find(files.begin(), files.end(), f), files.end()) << f;
}

// Issue 15 §2.1: the `ipi` kind's mistakes (no sender, a sender or SGI out of range, a self-IPI, an
// IPI retargeted or passed through, `from` on an MSI device) each have a located error.
TEST(ScenarioLoader, TheMalformedLibraryCoversIpiMistakes) {
    std::vector<std::string> files = malformed_files();
    for (const char* f : {"ipi_without_from.yaml", "ipi_from_out_of_range.yaml", "ipi_seventeen_vectors.yaml",
                          "ipi_to_itself.yaml", "ipi_retargeted.yaml", "from_on_msi_device.yaml", "ipi_passthrough.yaml"})
        EXPECT_NE(std::find(files.begin(), files.end(), f), files.end()) << f;
}

// An IPI device: sources ipi.K sent by vCPU `from`, routed to their targets.
TEST(ScenarioLoader, AnIpiDeviceHasASenderAndOneSourcePerSgi) {
    Scenario s = parse_scenario(R"(name: ipi
vm: {vcpus: 2}
devices:
  - {name: ipi, kind: ipi, vectors: 2, from: 1}
routes:
  - {source: ipi.1, vcpu: 0}
steps:
  - fire: ipi.1
)",
                                builtin_backends().catalogue());
    ASSERT_EQ(s.devices.size(), 1u);
    EXPECT_EQ(s.devices[0].kind, DeviceKind::Ipi);
    EXPECT_EQ(s.devices[0].from, 1u);
    ASSERT_EQ(s.sources.size(), 2u);
    EXPECT_EQ(s.sources[1].name, "ipi.1");
    EXPECT_EQ(s.sources[1].vcpu, 0u);
    EXPECT_STREQ(to_string(DeviceKind::Ipi), "ipi");
}

}  // namespace
}  // namespace irqdiff

namespace irqdiff {
namespace {

// Issue 17 §5: the loader is linear in devices, routes and expectations (a name index instead of
// scans: 60,000 devices loaded in 21.5 s before, 1.45 s after, Release), and its size limits are
// clear errors. What the index finds is what a scan finds.
TEST(ScenarioLoaderScale, NameLookupsThroughTheIndexMatchAScan) {
    std::string y = "name: t\nvm: {vcpus: 4}\ndevices:\n";
    for (int i = 0; i < 300; ++i) y += fmt::format("  - {{name: d{}, vectors: {}}}\n", 299 - i, 1 + i % 3);
    y += "routes:\n";
    for (int i = 0; i < 300; ++i) y += fmt::format("  - {{source: d{}.0, vcpu: {}}}\n", i, i % 4);
    y += "steps: [{run: all}, {fire: d17.0}, {run: all}]\nexpect: {d17.0: delivered-once}\n";
    Scenario s = parse_scenario(y, builtin_backends().catalogue());
    ASSERT_EQ(s.sources_by_name.size(), s.sources.size());
    Scenario scan = s;
    scan.sources_by_name.clear();  // no index: the scan
    scan.devices_by_name.clear();
    for (SourceId id = 0; id < s.sources.size(); ++id) {
        EXPECT_EQ(s.find_source(s.sources[id].name), id);
        EXPECT_EQ(scan.find_source(s.sources[id].name), id);
    }
    for (uint32_t d = 0; d < s.devices.size(); ++d) EXPECT_EQ(s.find_device(s.devices[d].name), d);
    EXPECT_EQ(s.find_source("d17.3"), std::nullopt);
    EXPECT_EQ(s.find_source("nope.0"), std::nullopt);
    EXPECT_EQ(s.find_device("d300"), std::nullopt);
    EXPECT_EQ(*s.sources[*s.find_source("d17.0")].vcpu, 1u);
}

// yaml-cpp 0.7's YAML::LoadAll loops for ever, allocating, on a lone ',' (jbeder/yaml-cpp#1040;
// found by the scenario_loader fuzz target): the loader counts documents with a parser that
// stops after two, so these are errors at once.
TEST(ScenarioLoaderScale, InputThatHungYamlCppIsAnErrorAtOnce) {
    EXPECT_EQ(error_of(","), "t.yaml:1:1: empty document: expected a scenario map");
    EXPECT_EQ(error_of("!!bd,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,"),
              "t.yaml:1:1: tag '!!bd' is not allowed: scenario values are plain YAML");
    EXPECT_EQ(error_of(""), "t.yaml:1:1: empty file: expected a scenario map");
}

TEST(ScenarioLoaderScale, SizeLimitsAreClearErrors) {
    // More vectors together than kMaxSources (513 devices of 2048).
    std::string y = "name: t\nvm: {vcpus: 1}\ndevices:\n";
    for (int i = 0; i < 513; ++i) y += fmt::format("  - {{name: d{}, vectors: 2048}}\n", i);
    y += "steps: [{run: all}]\n";
    EXPECT_NE(error_of(y).find("t.yaml:516:5: devices[512]: the devices have more than 1048576 vectors together"),
              std::string::npos)
        << error_of(y);
    // A route to a device that is not there lists only the first 20 device names.
    std::string r = "name: t\nvm: {vcpus: 1}\ndevices:\n";
    for (int i = 0; i < 30; ++i) r += fmt::format("  - {{name: d{}, vectors: 1}}\n", i);
    r += "routes: [{source: x.0, vcpu: 0}]\nsteps: [{run: all}]\n";
    EXPECT_NE(error_of(r).find("'x.0' names no device (devices: d0, d1, "), std::string::npos) << error_of(r);
    EXPECT_NE(error_of(r).find("d19, and 10 more)"), std::string::npos) << error_of(r);
    // Duplicates are still found, with the first one's line.
    EXPECT_NE(error_of("name: t\nvm: {vcpus: 1}\ndevices:\n  - {name: a, vectors: 1}\n  - {name: a, vectors: 1}\n"
                       "steps: [{run: all}]\n")
                  .find("duplicate device 'a' (first at line 4)"),
              std::string::npos);
    EXPECT_NE(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {nic.0: lost, nic.0: lost}\n").find("duplicate"),
              std::string::npos);
    // A timer per vCPU, as before.
    EXPECT_NE(error_of("name: t\nvm: {vcpus: 2}\ndevices:\n  - {name: t0, kind: timer}\n  - {name: t1, kind: timer}\n"
                       "routes:\n  - {source: t0.0, vcpu: 1}\n  - {source: t1.0, vcpu: 1}\nsteps: [{run: all}]\n")
                  .find("vCPU 1 has one local-APIC timer, and t0.0 is already routed to it (at line 7)"),
              std::string::npos);
}

// ---- hostile input (issue 17 §6) -------------------------------------------------------------

// Every string a scenario gives is UTF-8 (RFC 3629 §4): a name that is not ran as a table but broke
// --json (nlohmann::json refuses to dump it); the position is the string's, the offset in it.
TEST(ScenarioLoaderText, StringsThatAreNotUtf8AreRejectedWithTheByteAndItsOffset) {
    const std::string rest = "vm: {vcpus: 1}\ndevices: []\nsteps: [{run: all}]\n";
    EXPECT_EQ(error_of("name: a\xff" "b\n" + rest), "t.yaml:1:7: name: not valid UTF-8 (byte 0xff at offset 1)");
    EXPECT_EQ(error_of("name: t\ndescription: ok \xc3\n" + rest),
              "t.yaml:2:14: description: not valid UTF-8 (byte 0xc3 at offset 3)");
    // Overlong forms and surrogates are not UTF-8 either.
    EXPECT_EQ(error_of("name: \xc0\xaf\n" + rest), "t.yaml:1:7: name: not valid UTF-8 (byte 0xc0 at offset 0)");
    EXPECT_EQ(error_of("name: x\xed\xa0\x80\n" + rest), "t.yaml:1:7: name: not valid UTF-8 (byte 0xed at offset 1)");
    EXPECT_EQ(error_of("name: t\nvm: {vcpus: 1}\ndevices: [{name: \"n\xe9\", vectors: 1}]\nsteps: [{run: all}]\n"),
              "t.yaml:3:18: devices[0].name: not valid UTF-8 (byte 0xe9 at offset 1)");
    EXPECT_EQ(error_of("name: t\n\xfe: 1\n" + rest), "t.yaml:2:1: key not valid UTF-8 (byte 0xfe at offset 0)");
    // UTF-8 itself is welcome.
    Scenario s = parse_scenario("name: caf\xc3\xa9-\xe2\x86\x92\ndescription: \xf0\x9f\x90\x9b\n" + rest,
                                builtin_backends().catalogue());
    EXPECT_EQ(s.name, "caf\xc3\xa9-\xe2\x86\x92");
    EXPECT_EQ(s.description, "\xf0\x9f\x90\x9b");
}

// A message quoting input keeps UTF-8 and escapes the bytes that are not (a Python ValueError, a
// JSON string): InputError's one_line.
TEST(ScenarioLoaderText, MessagesQuotingBytesThatAreNotUtf8EscapeThem) {
    EXPECT_EQ(one_line("caf\xc3\xa9 \xff\xc3(\xed\xa0\x80\x1b"), "caf\xc3\xa9 \\xff\\xc3(\\xed\\xa0\\x80\\x1b");
    const std::string e = error_of(kHeader + "steps: [{\"r\xffn\": all}]\n");
    EXPECT_EQ(e.rfind("t.yaml:8:10: steps[0]: unknown step 'r\\xffn' (expected one of: run, ", 0), 0u) << e;
}

// The table prints names to a terminal: a one-line string has no control character (C0, DEL, C1),
// a description only newlines and tabs.
TEST(ScenarioLoaderText, ControlCharactersAreRejectedOutsideADescriptionsNewlinesAndTabs) {
    const std::string rest = "vm: {vcpus: 1}\ndevices: []\nsteps: [{run: all}]\n";
    EXPECT_EQ(error_of("name: \"red\\e[31m\"\n" + rest),
              "t.yaml:1:7: name: control character U+001B at offset 3 (a one-line string has none)");
    EXPECT_EQ(error_of("name: \"a\\tb\"\n" + rest),
              "t.yaml:1:7: name: control character U+0009 at offset 1 (a one-line string has none)");
    EXPECT_EQ(error_of("name: \"a\\nb\"\n" + rest),
              "t.yaml:1:7: name: control character U+000A at offset 1 (a one-line string has none)");
    EXPECT_EQ(error_of("name: \"x\\u009b2J\"\n" + rest),
              "t.yaml:1:7: name: control character U+009B at offset 1 (a one-line string has none)");
    EXPECT_EQ(error_of("name: t\ndescription: \"ring\\a\"\n" + rest),
              "t.yaml:2:14: description: control character U+0007 at offset 4 (a description may have newlines "
              "and tabs, no other control characters)");
    EXPECT_EQ(error_of("name: t\nvm: {vcpus: 1}\ndevices: []\nsteps: [{run: all}]\npolicy: {arm.gic: \"v4.1\\0\"}\n"),
              "t.yaml:5:19: policy.arm.gic: control character U+0000 at offset 4 (a one-line string has none)");
    Scenario s = parse_scenario("name: t\ndescription: |\n  one\n  \ttwo\n" + rest, builtin_backends().catalogue());
    EXPECT_EQ(s.description, "one\n\ttwo\n");
}

// yaml-cpp 0.7 stops deep nesting with YAML::DeepRecursion, whose message is "bad file": the loader
// names the limit (the document's maps and lists, the top-level map included).
TEST(ScenarioLoaderText, DeepNestingNamesTheLimit) {
    auto nested = [](int n) { return "name: t\nx: " + std::string(n, '[') + std::string(n, ']') + "\n"; };
    EXPECT_EQ(error_of(nested(498)).find("unknown key 'x'"), 12u) << error_of(nested(498));  // 499 levels load
    const std::string e = error_of(nested(499));
    EXPECT_EQ(e.rfind("t.yaml:2:", 0), 0u) << e;
    EXPECT_NE(e.find(": invalid YAML: nesting too deep, limit 499 levels of maps and lists"), std::string::npos) << e;
    EXPECT_NE(error_of(nested(5000)).find("nesting too deep, limit 499 levels"), std::string::npos);
}

// A vCPU out of range is reported against vm.vcpus, however large the number (not the range of the
// integer type it is read into).
TEST(ScenarioLoaderText, VcpuOutOfRangeQuotesTheVmsVcpus) {
    const std::string dev = "name: t\nvm: {vcpus: 2}\ndevices: [{name: nic, vectors: 1}]\n";
    const std::string run = "steps: [{run: all}]\n";
    EXPECT_EQ(error_of(dev + "routes: [{source: nic.0, vcpu: 4294967296}]\n" + run),
              "t.yaml:4:32: routes[0].vcpu: vCPU 4294967296 is out of range (vm.vcpus is 2, so 0..1)");
    EXPECT_EQ(error_of(dev + "routes: [{source: nic.0, vcpu: 99999999999999999999999}]\n" + run),
              "t.yaml:4:32: routes[0].vcpu: vCPU 99999999999999999999999 is out of range (vm.vcpus is 2, so 0..1)");
    EXPECT_EQ(error_of(dev + "routes: [{source: nic.0, vcpu: 0x10}]\n" + run),
              "t.yaml:4:32: routes[0].vcpu: vCPU 16 is out of range (vm.vcpus is 2, so 0..1)");
    EXPECT_EQ(error_of(dev + "routes: [{source: nic.0, vcpu: -1}]\n" + run),
              "t.yaml:4:32: routes[0].vcpu: expected an integer from 0 to 1, got '-1'");
}

// Migration step names are checked at load against the neutral steps and every registered backend's
// sub-steps (Catalogue::steps), located and with their path; irqdiff.load() and the CLI share it.
TEST(ScenarioLoaderSteps, UnknownStepNamesAreRejectedAtLoad) {
    const std::string e1 = error_of(kHeader + "steps:\n  - migrate: {order: [restore_irqchip, restore_gic]}\n");
    EXPECT_EQ(e1.rfind("t.yaml:9:40: steps[0].migrate.order[1]: 'restore_gic' is not a restore step of any backend "
                       "(expected one of: restore_irqchip, restore_translation, ",
                       0),
              0u)
        << e1;
    EXPECT_NE(e1.find("restore_gicr_pendbaser"), std::string::npos) << e1;  // a backend's sub-steps are listed
    const std::string e2 = error_of(kHeader + "steps:\n  - migrate: {fire: [{source: nic.0, before: start_vcpu}]}\n");
    EXPECT_EQ(e2.rfind("t.yaml:9:46: steps[0].migrate.fire[0].before: 'start_vcpu' is not a migration step of any "
                       "backend (expected one of: stop_vcpus, ",
                       0),
              0u)
        << e2;
    EXPECT_NE(e2.find(", or any; irqdiff list steps)"), std::string::npos) << e2;
    const std::string e3 = error_of(kHeader + "steps:\n  - migrate: {cancel_after: save_gic}\n");
    EXPECT_EQ(e3.rfind("t.yaml:9:29: steps[0].migrate.cancel_after: 'save_gic' is not a save step of any backend", 0),
              0u)
        << e3;
    EXPECT_EQ(error_of(kHeader + "steps:\n  - migrate: {cancel_after: start_vcpus}\n")
                  .rfind("t.yaml:9:29: steps[0].migrate.cancel_after: 'start_vcpus' is a restore step, not a save "
                         "step (expected one of: stop_vcpus, ",
                         0),
              0u);
    EXPECT_EQ(error_of(kHeader + "steps:\n  - migrate: {order: [stop_vcpus]}\n")
                  .rfind("t.yaml:9:23: steps[0].migrate.order[0]: 'stop_vcpus' is a save step, not a restore step", 0),
              0u);
}

// A step of one backend loads (another backend's run still rejects it, with that backend named); a
// catalogue without step names (a stack's policies alone) leaves every name to the run.
TEST(ScenarioLoaderSteps, AnyBackendsStepLoadsAndTheRunStillChecksItsOwn) {
    const std::string text =
        kHeader + "steps:\n  - migrate: {fire: [{source: nic.0, before: set_lapic}], cancel_after: get_lapic}\n";
    Scenario s = parse_scenario(text, builtin_backends().catalogue(), "t.yaml");
    EXPECT_EQ(s.steps[0].fires[0].before, "set_lapic");
    EXPECT_NE(run_error_of(text, "arm").find("t.yaml:9:73: 'get_lapic' is not a save step of backend arm"),
              std::string::npos);
    EXPECT_NO_THROW(parse_scenario(kHeader + "steps:\n  - migrate: {order: [nonsense]}\n",
                                   Catalogue{builtin_backends().policies()}));
    EXPECT_FALSE(builtin_backends().step_names().empty());
}

// YAML tags were silently dropped: `!!binary`, `!!str` or a local `!foo` are errors at the node; the
// non-specific tags yaml-cpp gives plain ("?") and quoted ("!") scalars pass.
TEST(ScenarioLoaderText, TaggedNodesAreRejected) {
    const std::string rest = "vm: {vcpus: 1}\ndevices: []\nsteps: [{run: all}]\n";
    EXPECT_EQ(error_of("name: !foo t\n" + rest), "t.yaml:1:7: tag '!foo' is not allowed: scenario values are plain YAML");
    EXPECT_EQ(error_of("name: t\ndescription: !!binary aGVsbG8=\n" + rest),
              "t.yaml:2:14: tag '!!binary' is not allowed: scenario values are plain YAML");
    EXPECT_EQ(error_of("name: t\nvm: !!map {vcpus: 1}\ndevices: []\nsteps: [{run: all}]\n"),
              "t.yaml:2:5: tag '!!map' is not allowed: scenario values are plain YAML");
    EXPECT_EQ(error_of("name: t\nvm: {vcpus: !!int 1}\ndevices: []\nsteps: [{run: all}]\n"),
              "t.yaml:2:13: tag '!!int' is not allowed: scenario values are plain YAML");
    EXPECT_EQ(error_of("name: t\nvm: {\"vcpus\":!!int 1}\ndevices: []\nsteps: [{run: all}]\n"),
              "t.yaml:2:14: tag '!!int' is not allowed: scenario values are plain YAML");
    EXPECT_EQ(error_of("name: t\nvm: [!x 1]\ndevices: []\nsteps: [{run: all}]\n"),
              "t.yaml:2:6: tag '!x' is not allowed: scenario values are plain YAML");
    Scenario s = parse_scenario("name: \"quoted!\"  # wow!\ndescription: ! plain\n" + rest, builtin_backends().catalogue());
    EXPECT_EQ(s.name, "quoted!");
    EXPECT_EQ(s.description, "plain");
}

}  // namespace
}  // namespace irqdiff
