// Running scenarios end to end on the ideal backend: schedules, outcomes, expectations, locations.
#include "core/runner.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/ideal_backend.h"
#include "core/results.h"
#include "core/trace_points.h"
#include "registry/builtin_backends.h"

namespace irqdiff {
namespace {

const std::string kSeed = std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/seed/pending_across_migration.yaml";

const BackendInfo& ideal() { return *builtin_backends().find("ideal"); }

const std::string kHeader =
    "name: t\n"
    "vm: {vcpus: 2}\n"
    "devices: [{name: nic, vectors: 2, passthrough: true}]\n"
    "routes: [{source: nic.0, vcpu: 0}, {source: nic.1, vcpu: 1}]\n";

std::string run_error(const std::string& text, const RunOptions& options = {}) {
    try {
        run_scenario(parse_scenario(text, builtin_backends().catalogue(), "t.yaml"), ideal(), options);
    } catch (const InputError& e) {
        return e.what();
    }
    return "no error";
}

TEST(Runner, SeedScenarioIsDeliveredOnceOnTheIdealBackend) {
    RunResult r = run_scenario(load_scenario(kSeed, builtin_backends().catalogue()), ideal(), {});
    EXPECT_EQ(r.arch, "ideal");
    ASSERT_EQ(r.outcomes.size(), 2u);
    EXPECT_EQ(r.outcome("nic.0")->outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(r.outcome("nic.1")->outcome, Outcome::DeliveredOnce);
    EXPECT_TRUE(r.expectations_met);
    EXPECT_TRUE(r.violations.empty());
    EXPECT_EQ(r.order_names, (std::vector<std::string>{"qemu"}));
    // run, mask, fire, 4 save steps, 3 restore steps, the fire before start_vcpus, 2 more, unmask, run.
    EXPECT_EQ(r.schedule,
              (std::vector<std::string>{"run all", "mask vcpu0", "fire nic.0", "save:stop_vcpus", "save:stop_devices",
                                        "save:save_irqchip", "save:copy_memory", "restore:restore_irqchip",
                                        "restore:restore_translation", "restore:restore_devices", "fire nic.1",
                                        "restore:start_vcpus", "restore:start_devices", "unmask vcpu0", "run all"}));
    EXPECT_EQ(r.metrics.save.actions, 4u);
    EXPECT_EQ(r.metrics.restore.actions, 5u);
    EXPECT_EQ(r.deliveries.size(), 2u);
}

// "Where is it?": nic.0 travels pending -> migration stream -> pending; nic.1 waits in the
// stopped device until start_devices.
TEST(Runner, LocationsFollowThePendingStateThroughTheMigration) {
    RunResult r = run_scenario(load_scenario(kSeed, builtin_backends().catalogue()), ideal(), {});
    std::vector<std::string> nic0, nic1;
    for (const LocationChange& c : r.locations) {
        for (const auto& [s, places] : c.sources) {
            std::string where =
                r.schedule[c.action] + " -> " + (places.empty() ? "nowhere" : to_string(places[0], r.device_names));
            (s == 0 ? nic0 : nic1).push_back(where);
        }
    }
    EXPECT_EQ(nic0, (std::vector<std::string>{
                        "fire nic.0 -> ideal.pending[vcpu0]", "save:save_irqchip -> ideal.stream[vcpu0]",
                        "restore:restore_irqchip -> ideal.pending[vcpu0]", "run all -> nowhere"}));
    EXPECT_EQ(nic1, (std::vector<std::string>{"fire nic.1 -> ideal.device[nic]",
                                              "restore:start_devices -> ideal.pending[vcpu1]", "run all -> nowhere"}));
}

TEST(Runner, ExpectationsThatDoNotHoldAreReported) {
    RunResult r = run_scenario(parse_scenario(kHeader + "steps: [{mask: {vcpu: 0}}, {fire: nic.0}, {fire: nic.1}, "
                                                        "{run: all}]\nexpect: {nic.0: delivered-once, all: lost}\n",
                                              builtin_backends().catalogue()),
                               ideal(), {});
    EXPECT_FALSE(r.expectations_met);
    ASSERT_EQ(r.expectations.size(), 2u);
    EXPECT_EQ(r.expectations[0].actual, "pending");  // masked until the end
    EXPECT_FALSE(r.expectations[0].met);
    EXPECT_EQ(r.expectations[1].key, "all");
    EXPECT_EQ(r.expectations[1].actual, "delivered-once");
    EXPECT_EQ(r.expectations[1].actual_source, "nic.1");
    EXPECT_FALSE(r.expectations[1].met);
}

// expect.violations pins the set of rules a run breaks; the ideal backend breaks none.
TEST(Runner, ExpectedViolationsMustMatchExactly) {
    RunResult none = run_scenario(
        parse_scenario(
            kHeader + "steps: [{fire: nic.0}, {run: all}]\nexpect: {nic.0: delivered-once, violations: none}\n",
            builtin_backends().catalogue()),
        ideal(), {});
    EXPECT_TRUE(none.expectations_met);
    ASSERT_EQ(none.expectations.back().key, "violations");
    EXPECT_EQ(none.expectations.back().actual, "none");
    RunResult wanted = run_scenario(parse_scenario(kHeader + "steps: [{fire: nic.0}, {run: all}]\n"
                                                             "expect: {violations: [VCPU.write_LR]}\n",
                                                   builtin_backends().catalogue()),
                                    ideal(), {});
    EXPECT_FALSE(wanted.expectations_met);
    EXPECT_EQ(wanted.expectations.back().expected, "VCPU.write_LR");
    EXPECT_EQ(wanted.expectations.back().actual, "none");
}

// The ideal backend is the oracle as a backend: on every arrival point of an interrupt fired
// during migration, and every admissible restore order, both agree.
TEST(Runner, IdealBackendAgreesWithTheOracleAtEveryArrivalPointAndOrder) {
    const MigrationPlan& plan = *ideal().plan;
    for (const std::string& point : plan.schedule_names(plan.qemu_order())) {
        for (uint64_t i = 0; i < plan.count_orders(); ++i) {
            std::string order;
            for (uint16_t s : plan.order_at(i)) order += (order.empty() ? "" : ",") + plan.restore_steps()[s].name;
            Scenario s = parse_scenario(kHeader +
                                            "steps:\n  - mask: {vcpu: 0}\n  - fire: nic.0\n  - fire: nic.0\n"
                                            "  - migrate: {fire: [{source: nic.1, before: " +
                                            point + "}, {source: nic.0, before: " + point +
                                            "}]}\n  - unmask: {vcpu: 0}\n  - run: all\nexpect: {all: delivered-once}\n",
                                        builtin_backends().catalogue());
            RunOptions options;
            options.order = order;
            RunResult r = run_scenario(s, ideal(), options);
            EXPECT_TRUE(r.expectations_met) << point << " / " << order;
            EXPECT_EQ(r.outcome("nic.0")->coalesced, 2u) << point;  // three fires, one delivery
        }
    }
}

TEST(Runner, OrderOverrideAppliesToEveryMigrateStep) {
    RunOptions options;
    options.order = "restore_irqchip,start_vcpus,restore_translation,restore_devices,start_devices";
    RunResult r = run_scenario(load_scenario(kSeed, builtin_backends().catalogue()), ideal(), options);
    EXPECT_EQ(r.order_names, (std::vector<std::string>{"explicit"}));
    EXPECT_EQ(r.restore_orders[0][1], "start_vcpus");
    EXPECT_TRUE(r.expectations_met);
    options.order = "restore_translation,restore_irqchip,restore_devices,start_vcpus,start_devices";
    EXPECT_EQ(run_error(kHeader + "steps: [{migrate: }]\n", options),
              "--order: restore_translation must come after restore_irqchip on backend ideal (translations target "
              "the restored controller)");
}

TEST(Runner, ScheduleErrorsAreLocatedInTheScenario) {
    EXPECT_EQ(run_error(kHeader + "steps:\n  - migrate: {fire: [{source: nic.0, before: any}]}\n"),
              "t.yaml:6:46: 'any' stands for every one of the 9 arrival points; explore them with 'irqdiff "
              "explore', or name one step");
    EXPECT_EQ(run_error(kHeader + "steps:\n  - migrate: {fire: [{source: nic.0, before: set_lapic}]}\n"),
              "t.yaml:6:46: 'set_lapic' is not a migration step of backend ideal (expected one of: stop_vcpus, "
              "stop_devices, save_irqchip, copy_memory, restore_irqchip, restore_translation, restore_devices, "
              "start_vcpus, start_devices, or any)");
    EXPECT_EQ(run_error(kHeader + "steps:\n  - migrate: {order: all}\n"),
              "t.yaml:6:22: order 'all' stands for 4 restore orders of backend ideal; run one with --order NAME, or "
              "explore them with 'irqdiff explore'");
}

TEST(Runner, PolicyOverridesAreValidatedEvenForOtherBackends) {
    RunOptions options;
    options.policy.push_back(PolicySetting{"x86.posting", "maybe", {"--policy"}, {"--policy"}});
    EXPECT_EQ(run_error(kHeader + "steps: [{run: all}]\n", options),
              "--policy: 'maybe' is not a value of policy x86.posting (expected one of: on, off)");
    options.policy[0].value = "off";
    RunResult r = run_scenario(parse_scenario(kHeader + "steps: [{run: all}]\n", builtin_backends().catalogue()),
                               ideal(), options);
    EXPECT_TRUE(r.policy.entries().empty());  // the ideal backend has no policies of its own
}

TEST(Runner, BlockedVcpuWakesForAPendingInterrupt) {
    RunResult r = run_scenario(parse_scenario(kHeader + "steps: [{block: {vcpu: 0}}, {run: all}, {fire: nic.0}, "
                                                        "{preempt: {vcpu: 1}}, {fire: nic.1}, {run: all}]\n"
                                                        "expect: {all: delivered-once}\n",
                                              builtin_backends().catalogue()),
                               ideal(), {});
    EXPECT_TRUE(r.expectations_met);
    bool woke =
        std::any_of(r.events.begin(), r.events.end(), [](const Event& e) { return e.point == &tp::kIdealWake; });
    EXPECT_TRUE(woke);
}

TEST(IdealBackend, SnapshotRestoresTheExactState) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    PolicyValues policy = resolve_policy(ideal().policies, {}, {});
    EventLog log;
    GuestLog guest;
    auto backend = ideal().make(BackendContext{s, policy, log, guest});
    backend->apply(Action{StepKind::Fire, -1, 0});
    auto snap = backend->snapshot();
    backend->apply(Action{StepKind::Run, -1});
    std::vector<Location> where;
    backend->where(0, where);
    EXPECT_TRUE(where.empty());
    backend->restore(*snap);
    backend->where(0, where);
    ASSERT_EQ(where.size(), 1u);
    EXPECT_EQ(where[0], (Location{&ideal_places::kPending, 0, true}));
}

TEST(Results, JsonDocumentHasTheDesignedKeys) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    ScenarioResult result = run_scenario(s, builtin_backends(), std::vector<std::string>{"ideal"}, {});
    Json j = to_json(result);
    EXPECT_EQ(j["scenario"], "pending-interrupt-across-migration");
    ASSERT_EQ(j["runs"].size(), 1u);
    const Json& run = j["runs"][0];
    for (const char* key :
         {"arch", "policy", "order", "outcomes", "expectations_met", "violations", "metrics", "locations", "events"})
        EXPECT_TRUE(run.contains(key)) << key;
    EXPECT_EQ(run["outcomes"]["nic.0"], "delivered-once");
    EXPECT_EQ(run["expectations_met"], true);
    EXPECT_EQ(run["order"], "qemu");
    EXPECT_EQ(run["events"][0]["op"], "STEP");
}

}  // namespace
}  // namespace irqdiff
