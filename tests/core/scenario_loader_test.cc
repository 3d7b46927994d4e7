// Scenario format v1 (DESIGN.md "Scenario format", scenarios/README.md): strict validation with
// "FILE:LINE:COL: PATH: what was expected" messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/scenario.h"

namespace irqdiff {
namespace {

const std::string kSource = IRQDIFF_SOURCE_DIR;

/// The message of the InputError that parsing `text` raises ("" and a test failure if none).
std::string error_of(const std::string& text) {
    try {
        parse_scenario(text, "t.yaml");
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
    Scenario s = load_scenario(kSource + "/scenarios/seed/pending_across_migration.yaml");
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
        load_scenario(path);
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
    for (const char* f : {"unknown_key.yaml", "wrong_type.yaml", "source_names_no_device.yaml",
                          "vcpu_out_of_range.yaml", "leading_zero.yaml", "invalid_yaml.yaml"})
        EXPECT_NE(std::find(files.begin(), files.end(), f), files.end()) << f;
}

TEST(ScenarioLoader, MissingFileIsAnInputError) {
    EXPECT_THROW(load_scenario(kSource + "/tests/data/does_not_exist.yaml"), InputError);
    EXPECT_THROW(load_scenario(kSource + "/tests/data"), InputError);  // a directory
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
    Scenario s = parse_scenario("name: t\nvm: {vcpus: 0x2}\ndevices: []\nsteps: [{run: all}]\n");
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
    EXPECT_EQ(error_of(kHeader + "steps: [{migrate: {order: [a, a]}}]\n"),
              "t.yaml:8:31: steps[0].migrate.order[1]: step 'a' is listed twice (first at line 8)");
    EXPECT_EQ(error_of(kHeader + "steps: [{migrate: {fire: [{source: nic.0}]}}]\n"),
              "t.yaml:8:27: steps[0].migrate.fire[0]: missing key 'before'");
    EXPECT_EQ(error_of(kHeader + "steps: [{migrate: {when: now}}]\n"),
              "t.yaml:8:20: steps[0].migrate: unknown key 'when' (expected one of: order, fire)");
}

TEST(ScenarioLoader, RejectsBadExpectations) {
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {nic.0: gone}\n"),
              "t.yaml:9:17: expect.nic.0: 'gone' is not an outcome (expected one of: delivered-once, lost, "
              "duplicated, pending)");
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {nic.1: lost}\n"),
              "t.yaml:9:10: expect: nic.1 is never fired by the steps, so it has no outcome");
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {all: lost, all: lost}\n"),
              "t.yaml:9:21: expect: duplicate key 'all' (first at line 9)");
}

TEST(ScenarioLoader, ExpectedViolationsAreNoneOrAListOfOperations) {
    Scenario none = parse_scenario(kHeader + "steps: [{fire: nic.0}]\nexpect: {violations: none}\n");
    ASSERT_TRUE(none.expect_violations.has_value());
    EXPECT_TRUE(none.expect_violations->ops.empty());
    Scenario some =
        parse_scenario(kHeader + "steps: [{fire: nic.0}]\nexpect: {nic.0: lost, violations: [VCPU.write_LR]}\n");
    ASSERT_TRUE(some.expect_violations.has_value());
    EXPECT_EQ(some.expect_violations->ops, (std::vector<std::string>{"VCPU.write_LR"}));
    EXPECT_EQ(some.expect.size(), 1u);
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {violations: maybe}\n"),
              "t.yaml:9:22: expect.violations: expected 'none' or a list of operations such as [VCPU.write_LR], got "
              "'maybe'");
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {violations: [oops]}\n"),
              "t.yaml:9:23: expect.violations[0]: 'oops' is not an operation name (LAYER.NAME, e.g. VCPU.write_LR)");
    EXPECT_EQ(error_of(kHeader + "steps: [{fire: nic.0}]\nexpect: {violations: [A.b, A.b]}\n"),
              "t.yaml:9:28: expect.violations[1]: 'A.b' is listed twice");
}

TEST(ScenarioLoader, RejectsUnknownPolicies) {
    EXPECT_EQ(error_of(kHeader + "policy: {arm.transfr: none}\nsteps: [{run: all}]\n"),
              "t.yaml:8:10: unknown policy 'arm.transfr' (expected one of: arm.transfer, arm.gic, "
              "arm.its_command_error, arm.its_table_fault, arm.vpt_writeback, arm.vfio_vector_enable, "
              "x86.set_lapic_clears_pir, x86.posting, x86.guest_apic_dest)");
}

TEST(ScenarioLoader, ParsesEveryStepKind) {
    Scenario s =
        parse_scenario(kHeader +
                       "steps:\n"
                       "  - run: {vcpu: 1}\n"
                       "  - block: {vcpu: 0}\n"
                       "  - preempt: {vcpu: 1}\n"
                       "  - retarget: {source: nic.0, vcpu: 1}\n"
                       "  - unassign: {source: nic.1}\n"
                       "  - migrate:\n"
                       "  - migrate: {order: [restore_irqchip, start_vcpus], fire: [{source: nic.0, before: any}]}\n"
                       "  - migrate: {order: all}\n"
                       "expect: {all: pending}\n");
    ASSERT_EQ(s.steps.size(), 8u);
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
    ASSERT_EQ(s.expect.size(), 1u);
    EXPECT_FALSE(s.expect[0].source.has_value());
    EXPECT_EQ(s.expect[0].outcome, Outcome::Pending);
}

}  // namespace
}  // namespace irqdiff
