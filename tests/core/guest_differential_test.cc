// The differential self-check of the models (issue 7): every scenario of the library, on each of
// its virtualizing backends, runs once with the abstract guest and once with real guest code in
// Unicorn Engine (docs/guests.md); every vCPU must see the same deliveries (source, path, run step)
// in the same order, and the outcomes must be the same. On a difference the test writes both
// event logs beside each other under the build directory and prints their paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "core/explorer.h"
#include "core/guest_program.h"
#include "core/runner.h"
#include "registry/builtin_backends.h"
#include "tests/run_harness.h"

namespace irqdiff {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = IRQDIFF_SOURCE_DIR;

struct Case {
    std::string arch;
    fs::path scenario;                  // relative to scenarios/
    std::vector<PolicySetting> policy;  // overrides
    std::string label;
};

PolicySetting setting(const std::string& key, const std::string& value) {
    return PolicySetting{key, value, SourceLoc{"test", 0, 0}, SourceLoc{"test", 0, 0}};
}

std::vector<Case> cases() {
    std::vector<Case> out;
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(kSource / "scenarios"))
        if (e.is_regular_file() && e.path().extension() == ".yaml")
            files.push_back(fs::relative(e.path(), kSource / "scenarios"));
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
        Scenario s = load_scenario((kSource / "scenarios" / f).string(), builtin_backends().catalogue());
        if (run_harness::needs_abstract_guest(s)) continue;
        for (const std::string& arch : {std::string("arm"), std::string("x86")}) {
            if (!s.arches.empty() && std::find(s.arches.begin(), s.arches.end(), arch) == s.arches.end()) continue;
            out.push_back({arch, f, {}, ""});
        }
    }
    // The seed under every ARM transfer point and the x86 policies that change delivery.
    for (const char* t : {"none", "its_restore", "enable_lpis", "set_forwarding", "vm_start"})
        out.push_back({"arm", "seed/pending_across_migration.yaml", {setting("arm.transfer", t)}, t});
    out.push_back({"arm", "seed/pending_across_migration.yaml", {setting("arm.gic", "v4.0")}, "v4.0"});
    out.push_back({"x86", "seed/pending_across_migration.yaml", {setting("x86.posting", "off")}, "posting_off"});
    out.push_back(
        {"x86", "seed/pending_across_migration.yaml", {setting("x86.guest_apic_dest", "physical")}, "physical"});
    return out;
}

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.arch << " " << c.scenario.string() << (c.label.empty() ? "" : " " + c.label);
}

void write_events(const fs::path& p, const RunResult& r) {
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    for (const Event& e : r.events) out << to_string(e) << "\n";
}

class GuestDifferential : public ::testing::TestWithParam<Case> {};

TEST_P(GuestDifferential, UnicornGuestObservesWhatTheAbstractGuestObserves) {
    const Case& c = GetParam();
    Scenario s = load_scenario((kSource / "scenarios" / c.scenario).string(), builtin_backends().catalogue());
    RunOptions options;
    options.policy = c.policy;
    options.compare_guests = true;
    std::vector<std::string> arches{c.arch};
    ScenarioResult result = run_scenario(s, builtin_backends(), arches, options);
    ASSERT_EQ(result.runs.size(), 2u);
    const RunResult& abstract = result.runs[0];
    const RunResult& unicorn = result.runs[1];
    ASSERT_EQ(abstract.guest, GuestKind::Abstract);
    ASSERT_EQ(unicorn.guest, GuestKind::Unicorn);
    // The Unicorn guest's own log holds one entry per interrupt it took.
    EXPECT_EQ(unicorn.guest_records.size(), unicorn.deliveries.size());
    std::vector<std::string> outcomes_a, outcomes_u;
    for (const SourceOutcome& o : abstract.outcomes) outcomes_a.push_back(to_string(o.outcome));
    for (const SourceOutcome& o : unicorn.outcomes) outcomes_u.push_back(to_string(o.outcome));
    EXPECT_EQ(outcomes_a, outcomes_u);
    if (result.guest_differences.empty() && outcomes_a == outcomes_u) return;
    std::string name = c.scenario.stem().string() + (c.label.empty() ? "" : "." + c.label) + "." + c.arch;
    fs::path dir = fs::current_path() / "guest_differences";
    write_events(dir / (name + ".abstract.events"), abstract);
    write_events(dir / (name + ".unicorn.events"), unicorn);
    std::string report;
    for (const GuestDifference& d : result.guest_differences)
        report += "  vCPU " + std::to_string(d.vcpu) + " delivery #" + std::to_string(d.index) + ": abstract " +
                  d.abstract + ", unicorn " + d.unicorn + "\n";
    ADD_FAILURE() << "the guests disagree\n"
                  << report << "  traces: " << (dir / (name + ".abstract.events")).string() << "\n          "
                  << (dir / (name + ".unicorn.events")).string();
}

INSTANTIATE_TEST_SUITE_P(Library, GuestDifferential, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                             std::string n = info.param.arch + "_" + info.param.scenario.string() +
                                             (info.param.label.empty() ? "" : "_" + info.param.label);
                             for (char& ch : n)
                                 if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return n;
                         });

// The explorer shares prefixes by snapshotting and restoring the backend, the Unicorn engines and
// their RAM included: every restore order of the seed gives the same outcomes with either guest.
TEST(GuestDifferentialExplore, EveryRestoreOrderOfTheSeedAgrees) {
    Scenario s = load_scenario((kSource / "scenarios/seed/pending_across_migration.yaml").string(),
                               builtin_backends().catalogue());
    ExploreOptions options;
    options.arches = {"arm", "x86"};
    options.order = "all";
    ExploreSpace abstract(s, builtin_backends(), options);
    options.guest = GuestKind::Unicorn;
    ExploreSpace unicorn(s, builtin_backends(), options);
    ASSERT_EQ(abstract.size(), unicorn.size());
    std::vector<ScheduleRow> a = abstract.explore(0, abstract.size());
    std::vector<ScheduleRow> u = unicorn.explore(0, unicorn.size());
    ASSERT_EQ(a.size(), u.size());
    size_t differing = 0;  // event counts differ (the Unicorn guest logs its interrupt entries); outcomes may not
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].sources != u[i].sources || a[i].violations != u[i].violations ||
            a[i].expectations_met != u[i].expectations_met)
            ++differing;
    EXPECT_EQ(differing, 0u) << "of " << a.size() << " schedules";
}

// ---- the glue under corrupted guest memory (tests/fuzz/guest_glue.cc drives the same) -------------

/// A booted backend of `arch` with the seed's devices and the given guest.
struct BootedBackend {
    Scenario scenario;
    PolicyValues policy;
    EventLog log;
    GuestLog guest;
    std::unique_ptr<Backend> backend;
    BootedBackend(const std::string& arch, GuestKind kind)
        : scenario(load_scenario((kSource / "scenarios/seed/pending_across_migration.yaml").string(),
                                 builtin_backends().catalogue())) {
        const BackendInfo& info = *builtin_backends().find(arch);
        policy = resolve_policy(info.policies, scenario.policy, {});
        GuestOptions options;
        options.kind = kind;
        backend = make_backend(info, BackendContext{scenario, policy, log, guest, options});
    }
    void apply(StepKind kind, SourceId source = 0) {
        Action a;
        a.kind = kind;
        a.source = source;
        backend->apply(a);
    }
};

class GuestGlue : public ::testing::TestWithParam<std::string> {};

// The test-only accessor reaches the Unicorn guest's machine, booted: every vCPU waits at `idle`;
// the abstract guest has none.
TEST_P(GuestGlue, TheBackendShowsItsUnicornMachineBootedAndNoneForTheAbstractGuest) {
    BootedBackend unicorn(GetParam(), GuestKind::Unicorn);
    GuestMachine* m = unicorn.backend->unicorn_machine_for_testing();
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(m->vcpus(), unicorn.scenario.vcpus);
    for (uint32_t v = 0; v < m->vcpus(); ++v) EXPECT_EQ(m->cpu(v).pc(), m->idle()) << v;
    BootedBackend abstract(GetParam(), GuestKind::Abstract);
    EXPECT_EQ(abstract.backend->unicorn_machine_for_testing(), nullptr);
}

// docs/guests.md "Faults": a log head more than a whole ring ahead of what the emulator read is a
// corrupted log, a GuestFault naming the vCPU and the head, not a read past the ring.
TEST_P(GuestGlue, ALogHeadMoreThanARingAheadIsAGuestFaultAtTheNextRun) {
    BootedBackend b(GetParam(), GuestKind::Unicorn);
    GuestMachine& m = *b.backend->unicorn_machine_for_testing();
    const uint64_t head = GuestAbi::area(0) + GuestAbi::kLogHead;
    m.ram().store<uint32_t>(head, m.log_head(0) + GuestAbi::kLogEntries + 1);
    b.apply(StepKind::Fire, 0);  // nic.0 -> vCPU 0
    try {
        b.apply(StepKind::Run);
        FAIL() << "no GuestFault";
    } catch (const GuestFault& f) {
        EXPECT_NE(std::string(f.what()).find(GetParam() + " vCPU 0: guest fault"), std::string::npos) << f.what();
        EXPECT_NE(f.reason().find("log head"), std::string::npos) << f.reason();
    }
}

INSTANTIATE_TEST_SUITE_P(BothArches, GuestGlue, ::testing::Values("arm", "x86"));

}  // namespace
}  // namespace irqdiff
