// Runs a scenario on a backend: lowers the steps into a schedule of actions (resolving each
// migration's restore order and the points where interrupts fire during it), applies them to the
// backend and to the oracle side by side, samples where every source's pending state lives after
// each action, and classifies each source's outcome.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/oracle.h"
#include "core/policy.h"

namespace irqdiff {

struct RunOptions {
    std::vector<PolicySetting> policy;  // overrides of the scenario's policy (--policy, Python)
    /// Overrides every migrate step's order: a named order, or a comma-separated list of steps.
    std::optional<std::string> order;
    std::string order_place = "--order";  // names the override in error messages
    bool record_events = true;
};

/// The actions of one run, with the restore order each migrate step resolved to.
struct Schedule {
    std::vector<Action> actions;
    std::vector<std::string> order_names;  // per migrate step
    std::vector<RestoreOrder> orders;      // per migrate step
};

/// Lowers the scenario's steps for a backend's migration plan. Throws InputError (located at the
/// scenario text or at the override) for an unknown order or step, `order: all` or `before: any`.
Schedule lower(const Scenario& scenario, const MigrationPlan& plan, std::string_view backend,
               const RunOptions& options);

/// Where sources' pending state moved after one action: only the sources that changed.
struct LocationChange {
    uint32_t action = 0;
    std::vector<std::pair<SourceId, std::vector<Location>>> sources;
};

struct ExpectationResult {
    std::string key;                    // a source name, "all", or "violations"
    std::string expected;               // an outcome; for "violations" the rule names, comma-separated, or "none"
    std::optional<std::string> actual;  // for `all`: the first source that differs, else the common one
    std::string actual_source;          // for `all`: which source `actual` belongs to
    bool met = false;
    SourceLoc loc;
};

struct RunMetrics {
    uint32_t actions = 0;
    uint64_t events = 0;
    uint64_t deliveries = 0;
    std::array<uint64_t, kLayerCount> events_by_layer{};
    uint64_t save_actions = 0, save_events = 0;        // during the source-side migration steps
    uint64_t restore_actions = 0, restore_events = 0;  // during the destination-side steps
};

struct RunResult {
    std::string arch;
    PolicyValues policy;
    std::vector<std::string> source_names;                 // by SourceId
    std::vector<std::string> identities;                   // by SourceId
    std::vector<std::string> order_names;                  // per migrate step
    std::vector<std::vector<std::string>> restore_orders;  // per migrate step, step names
    std::vector<std::string> schedule;                     // describe() of every action
    std::vector<SourceOutcome> outcomes;                   // sources with an outcome, in scenario order
    std::vector<ExpectationResult> expectations;
    bool expectations_met = true;  // every expectation holds and there was no violation
    std::vector<Event> violations;
    std::vector<Delivery> deliveries;
    std::vector<LocationChange> locations;
    std::vector<Event> events;
    RunMetrics metrics;

    const SourceOutcome* outcome(std::string_view source) const;
};

struct ScenarioResult {
    std::string scenario;
    std::string file;
    std::vector<RunResult> runs;
    bool expectations_met() const;
};

RunResult run_scenario(const Scenario& scenario, const BackendInfo& backend, const RunOptions& options);
/// Runs on each backend named in `arches` (already expanded, see Registry::expand_arch).
ScenarioResult run_scenario(const Scenario& scenario, const Registry& registry, std::span<const std::string> arches,
                            const RunOptions& options);

}  // namespace irqdiff
