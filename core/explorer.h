// The explorer (DESIGN.md "Explorer"): every restore order (`order: all`) x every arrival point of
// the interrupts fired during a migration (`before: any`) x every value of the policies swept
// (`--policy KEY=all`), on each backend. Schedules are numbered 0..size()-1 so that a sweep can run
// any integer range in any process and the results merge: within one backend, the policy
// combination is the most significant digit, then per migrate step the arrival point of each of
// its fires, then its restore order (least significant, so neighbours share long prefixes).
// Neighbouring schedules share their prefix through backend snapshots instead of replaying it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/results.h"
#include "core/runner.h"

namespace irqdiff {

struct ExploreOptions {
    std::vector<std::string> arches;    // expanded backend names (Registry::arches_for)
    std::vector<PolicySetting> policy;  // KEY=VALUE overrides; KEY=all sweeps every value of KEY
    std::optional<std::string> order;   // overrides every migrate step's order: all, a name, or a list
    std::string order_place = "--order";
    /// The order set `order: all` / `{set: ...}` steps explore and fixed orders must belong to
    /// (--order-set); empty: each step's own (`all` = data).
    std::optional<std::string> order_set;
    std::string order_set_place = "--order-set";
    bool any_arrival = false;  // every migration fire arrives at every point (`--before any`)
    std::optional<GuestKind> guest;  // overrides the scenario's `guest` (--guest)
};

/// One backend's block of the schedule space.
struct ExploreBlock {
    const BackendInfo* backend = nullptr;
    uint64_t first = 0, count = 0;                  // its schedule indices
    std::vector<PolicyValues> policies;             // the combinations swept (one when nothing is swept)
    std::vector<std::string> swept;                 // keys of this backend that are swept
    RunOptions options;                             // fixed overrides
    std::vector<uint64_t> orders;                   // per migrate step: orders explored (1 when fixed)
    std::vector<bool> order_explored;               // per migrate step: every order of its set?
    std::vector<std::string> order_sets;            // per migrate step: the set its orders come from
    std::vector<std::vector<uint16_t>> arrivals;    // per migrate step, per fire: points explored (1 when fixed)
    std::vector<std::vector<bool>> arrival_explored;  // per migrate step, per fire: every arrival point?
    uint64_t per_policy = 1;                        // schedules per policy combination
};

/// A schedule's coordinates in the space.
struct ScheduleCoord {
    size_t block = 0;
    size_t policy = 0;
    ScheduleChoice choice;  // order and arrival digits that are explored, as indices
};

/// What one explored schedule gave, per source (a row of the outcome matrix).
struct ScheduleSource {
    SourceId source = 0;
    Outcome outcome = Outcome::DeliveredOnce;
    std::optional<bool> forwarded;
    bool late = false;
    uint32_t window = 0, hops = 0;
    bool operator==(const ScheduleSource&) const = default;
};

struct ScheduleRow {
    uint64_t index = 0;
    std::vector<ScheduleSource> sources;  // sources with an outcome, in scenario order
    std::vector<std::string> violations;  // rules broken, by operation, sorted and unique
    bool expectations_met = true;
    uint64_t events = 0;
    uint64_t save_events = 0, restore_events = 0;
    bool failing() const;  // some source lost, duplicated, save-refused or delivered after deassign, or a rule broken
    bool operator==(const ScheduleRow&) const = default;
};

class ExploreSpace {
   public:
    /// Validates the options against the scenario (InputError naming the option or the scenario
    /// place) and lays out the space.
    ExploreSpace(const Scenario& scenario, const Registry& registry, ExploreOptions options);

    const Scenario& scenario() const { return scenario_; }
    const std::vector<ExploreBlock>& blocks() const { return blocks_; }
    uint64_t size() const { return size_; }
    ScheduleCoord decode(uint64_t index) const;
    Schedule lower(const ScheduleCoord& coord) const;

    /// Explores schedules [lo, hi); `progress` (if given) is called after each schedule with the
    /// number done so far. Rows come back in index order.
    std::vector<ScheduleRow> explore(uint64_t lo, uint64_t hi,
                                     const std::function<void(uint64_t)>& progress = {}) const;
    /// Runs one schedule from the start with the whole event log (the trace of a cell).
    RunResult run(uint64_t index) const;

   private:
    const Scenario& scenario_;
    ExploreOptions options_;
    std::vector<ExploreBlock> blocks_;
    uint64_t size_ = 0;
};

/// Cells of the outcome matrix: the schedules of one backend and policy combination that gave the
/// same outcome per source (and broke the same rules), with how many orders and arrival points
/// they cover and, for a failing cell, its shortest schedule (fewest events, then lowest index).
struct ExploreCell {
    size_t block = 0, policy = 0;
    std::vector<ScheduleSource> sources;  // outcome and forwarded flag; window and hops of the example
    std::vector<std::string> violations;
    bool failing = false;
    uint64_t schedules = 0, expectations_met = 0;
    std::vector<std::vector<uint64_t>> orders;  // the distinct order tuples (one index per migrate step)
    std::vector<std::vector<uint16_t>> arrivals;  // the distinct arrival tuples (flattened over fires)
    uint64_t example = 0;                       // schedule index (the shortest failing one if failing)
    uint64_t example_events = 0;
    std::optional<RunResult> trace;             // the example's run with its event log (failing cells)
};

/// Per backend and policy combination: how many admissible orders lose or duplicate (fragility).
struct PolicySummary {
    size_t block = 0, policy = 0;
    uint64_t schedules = 0, failing_schedules = 0;
    uint64_t orders = 0, failing_orders = 0;  // distinct order tuples, and those with a failing schedule
    double fragility() const { return orders ? static_cast<double>(failing_orders) / static_cast<double>(orders) : 0; }
    /// Per source: outcome -> schedules.
    std::vector<std::pair<SourceId, std::map<std::string, uint64_t>>> outcomes;
};

struct Exploration {
    uint64_t lo = 0, hi = 0;
    std::vector<ScheduleRow> rows;
    std::vector<ExploreCell> cells;
    std::vector<PolicySummary> policies;
    bool all_expectations_met() const;
};

/// Groups rows (of any ranges, in any order, duplicates allowed: a resumed sweep may repeat a
/// chunk) into cells and policy summaries; with `traces`, re-runs each failing cell's example with
/// its event log.
Exploration summarize(const ExploreSpace& space, std::vector<ScheduleRow> rows, uint64_t lo, uint64_t hi,
                      bool traces);

/// JSON (docs/results.md "Explore"): the space, the policy summaries, the cells, and the matrix
/// (one entry per schedule and source).
Json to_json(const ExploreSpace& space, const Exploration& exploration);
Json row_to_json(const ExploreSpace& space, const ScheduleRow& row);
/// Reads back what row_to_json wrote (throws InputError naming `place` for anything else).
ScheduleRow row_from_json(const ExploreSpace& space, const Json& j, const std::string& place);

/// "arm.transfer=none,arm.gic=v4.1": the swept keys' values of one policy combination.
std::string swept_policy(const ExploreBlock& block, size_t policy);
/// The restore order names of a schedule (one per migrate step) and its arrival points.
std::vector<std::string> order_names(const ExploreSpace& space, const ScheduleCoord& coord);
std::vector<std::string> arrival_names(const ExploreSpace& space, const ScheduleCoord& coord);

}  // namespace irqdiff
