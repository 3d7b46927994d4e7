// Runs a scenario on a backend: lowers the steps into a schedule of actions (resolving each
// migration's restore order and the points where interrupts fire during it), applies them to the
// backend and to the oracle side by side, samples where every source's pending state lives after
// each action, and classifies each source's outcome.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <set>
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
    /// The order set (core/migration.h kOrderSetNames) that `order: all` and `{set: ...}` explore
    /// and every fixed order must belong to (--order-set, order_set=...).
    std::optional<std::string> order_set;
    std::string order_set_place = "--order-set";
    bool record_events = true;
    /// Overrides the scenario's `guest` (--guest, run(guest=...)).
    std::optional<GuestKind> guest;
    /// --trace-guest: every handler instruction in the GUEST.irq_return events (Unicorn guest).
    bool trace_guest = false;
    /// --guest both: run every virtualizing backend with the abstract and the Unicorn guest and
    /// compare what the two guests observed (ScenarioResult::guest_differences).
    bool compare_guests = false;
};

/// The guest a run uses: the override, else the scenario's `guest`, else the abstract guest.
GuestOptions guest_options(const Scenario& scenario, const RunOptions& options);

/// Refuses an explicit Unicorn guest (`--guest unicorn`, run(guest="unicorn")) on a backend that has
/// no guest program: the ideal reference (BackendInfo::virtualizing false) would run the abstract
/// guest in silence. InputError at `place`; `arch_place` names the option that chose the backends.
void check_guest_override(const Registry& registry, std::span<const std::string> arches,
                          std::optional<GuestKind> guest, const std::string& place, const std::string& arch_place);

/// The actions of one run, with the restore order each migrate step resolved to.
struct Schedule {
    std::vector<Action> actions;
    std::vector<std::string> order_names;  // per migrate step
    std::vector<RestoreOrder> orders;      // per migrate step
};

/// The --order override (RunOptions::order) as an OrderSpec located at the option: `all`, a name,
/// or a comma-separated list of steps.
OrderSpec order_override(const RunOptions& options);

/// The order set a migrate step's orders come from: the option's, else the step's `{set: ...}`,
/// else `data`. InputError (at the option or the step) when the backend has no such set.
const OrderSet& order_set_of(const MigrationPlan& plan, const OrderSpec& spec, const RunOptions& options,
                             std::string_view backend);

/// The arrival points of interrupts fired during a migration, numbered as the explorer numbers
/// them: 0 .. save-1 is "before save step i", save .. save+restore-1 "before restore step j" (the
/// plan's index, wherever the order puts it).
size_t arrival_points(const MigrationPlan& plan);
const std::string& arrival_point_name(const MigrationPlan& plan, size_t point);

/// What makes a schedule of a scenario with `order: all` or `before: any` concrete (the explorer's
/// axes). Entries left empty keep what the scenario (or RunOptions) says.
struct ScheduleChoice {
    std::vector<std::optional<uint64_t>> order;                 // per migrate step: linear-extension index
    std::vector<std::vector<std::optional<uint16_t>>> arrival;  // per migrate step, per fire: arrival point
};

/// Lowers the scenario's steps for a backend's migration plan. Throws InputError (located at the
/// scenario text or at the override) for an unknown order or step, and for `order: all` or
/// `before: any` that `choice` does not make concrete.
Schedule lower(const Scenario& scenario, const MigrationPlan& plan, std::string_view backend,
               const RunOptions& options, const ScheduleChoice* choice = nullptr);

/// Where sources' pending state moved after one action: only the sources that changed.
struct LocationChange {
    uint32_t action = 0;
    std::vector<std::pair<SourceId, std::vector<Location>>> sources;
    bool operator==(const LocationChange&) const = default;
};

struct ExpectationResult {
    std::string key;                    // a source name, "all", or "violations"
    std::string expected;               // an outcome; for "violations" the rule names, comma-separated, or "none"
    std::optional<std::string> actual;  // for `all`: the first source that differs, else the common one
    std::string actual_source;          // for `all`: which source `actual` belongs to
    bool met = false;
    SourceLoc loc;
};

/// What one side of a migration cost (DESIGN.md "Asymmetry metrics"): the differences of the
/// event log's and the backend's counters across that side's actions.
struct SideMetrics {
    uint64_t actions = 0;
    uint64_t events = 0;
    uint64_t hypervisor_ops = 0;  // events of the hypervisor layer (KVM, the host drivers)
    uint64_t vmm_ops = 0;         // events of the VMM layer (QEMU)
    uint64_t hw_ops = 0;          // events of the hardware layer
    uint64_t hw_commands = 0;     // BackendCounters::hw_commands: ITS commands (arm), IEC invalidations (x86)
    AccessStats host;             // interrupt state read and written in host memory
    AccessStats guest;            // ... and in guest RAM
};

/// One place set on a source's path: where its pending state was after `action`. A path ends with
/// an empty place set: the guest took it (`delivered`), or it vanished (held nowhere: lost).
struct Hop {
    uint32_t action = 0;
    std::vector<Location> places;
    bool delivered = false;  // for the final, empty entry
    bool operator==(const Hop&) const = default;
};

/// One source's journey (DESIGN.md "Asymmetry metrics"): the place sets its pending state passed
/// through from the first migration step (or from its fire, if later) to its delivery, and the
/// actions after which it was held only in places no path delivers from (its window).
struct SourceMetrics {
    std::vector<Hop> path;
    /// On its path: started, and neither delivered nor vanished yet.
    bool tracking() const { return !path.empty() && !path.back().places.empty(); }
    uint32_t window_save = 0, window_restore = 0, window_outside = 0;
    uint32_t window() const { return window_save + window_restore + window_outside; }
    /// Place sets passed through, not counting the start and the delivery.
    uint32_t hops() const;
};

struct RunMetrics {
    uint32_t actions = 0;
    uint64_t events = 0;
    uint64_t deliveries = 0;
    std::array<uint64_t, kLayerCount> events_by_layer{};
    SideMetrics save, restore;        // the source-side and destination-side migration steps
    std::vector<SourceMetrics> sources;  // by SourceId
};

struct RunResult {
    std::string arch;
    PolicyValues policy;
    GuestKind guest = GuestKind::Abstract;
    std::vector<std::string> source_names;                 // by SourceId
    std::vector<std::string> identities;                   // by SourceId
    std::vector<std::string> device_names;                 // by device index: names a Location's device
    std::vector<std::string> order_names;                  // per migrate step
    std::vector<std::vector<std::string>> restore_orders;  // per migrate step, step names
    std::vector<std::string> schedule;                     // describe() of every action
    /// Per action, the point of the scenario it belongs to, comparable across backends: "steps[N]"
    /// for a plain step, "steps[N].NEUTRAL" for a migration step (or a fire before it).
    std::vector<std::string> phases;
    std::vector<SourceOutcome> outcomes;                   // sources with an outcome, in scenario order
    std::vector<ExpectationResult> expectations;
    bool expectations_met = true;  // every expectation holds and there was no violation
    std::vector<Event> violations;
    std::vector<Delivery> deliveries;
    std::vector<GuestRecord> guest_records;  // a Unicorn guest's own log (empty for the abstract guest)
    std::vector<LocationChange> locations;
    std::vector<Event> events;
    RunMetrics metrics;

    const SourceOutcome* outcome(std::string_view source) const;
    const SourceOutcome* outcome(SourceId source) const;  // O(log n)
};

/// Differential report: a source whose outcome differs between two backends, and the first scenario
/// point (a step, or a neutral migration step) after which its pending state was held in a live
/// place on one side and only in non-live places (or nowhere) on the other.
struct Difference {
    std::string source;
    std::string arch_a, arch_b;
    std::string outcome_a, outcome_b;  // with ",forwarded=false" when that differs
    std::string phase;                 // empty: the non-live status never differs
    /// Where each side held it after that point (both runs' device_names name its devices).
    std::vector<Location> places_a, places_b;
};

/// The differential self-check of the models (issue 7): the same backend run with the abstract
/// guest and with the Unicorn guest must give every vCPU the same deliveries (source and path) in
/// the same order. The first delivery where a vCPU's two sequences part.
struct GuestDifference {
    std::string arch;
    uint32_t vcpu = 0;
    size_t index = 0;      // position in that vCPU's deliveries
    std::string abstract;  // "nic.0 (direct) during 'run all' (action 7)", or "nothing"
    std::string unicorn;
};
/// Compares the per-vCPU deliveries of two runs of one backend (the first with the abstract
/// guest, the second with the Unicorn guest); one entry per vCPU whose sequences differ.
std::vector<GuestDifference> compare_guests(const RunResult& abstract, const RunResult& unicorn);

struct ScenarioResult {
    std::string scenario;
    std::string file;
    std::vector<RunResult> runs;
    std::vector<Difference> differences;  // between each pair of virtualizing runs with the same guest
    std::vector<GuestDifference> guest_differences;  // RunOptions::compare_guests
    /// Every expectation holds in every run, and the two guests agree wherever they were compared.
    bool expectations_met() const;
};

std::vector<Difference> differences(const RunResult& a, const RunResult& b);

/// The rules a run broke: the declarations of the Violation events among `events`, each once.
std::vector<const TracePointInfo*> broken_rules(const std::vector<Event>& events);
/// Their names (the ops), sorted and unique.
std::set<std::string> broken_names(const std::vector<const TracePointInfo*>& broken);
/// The scenario's expectations against a run's outcomes and the rules it broke, matched by
/// declaration against what `expect.violations` resolved to.
std::vector<ExpectationResult> evaluate_expectations(const Scenario& scenario,
                                                     const std::vector<SourceOutcome>& outcomes,
                                                     const std::vector<const TracePointInfo*>& broken);
/// Whether every expectation holds and no rule was broken that `expect.violations` does not list.
bool expectations_hold(const Scenario& scenario, const std::vector<SourceOutcome>& outcomes,
                       const std::vector<const TracePointInfo*>& broken);

/// One run in progress: the backend, the oracle and everything sampled after each action. The
/// runner steps it through a schedule; the explorer also takes checkpoints and rewinds to them, to
/// share a prefix between schedules.
class Execution {
   public:
    Execution(const Scenario& scenario, const BackendInfo& backend, PolicyValues policy, bool record_events,
              bool keep_locations, GuestOptions guest = {});
    Execution(const Execution&) = delete;
    Execution& operator=(const Execution&) = delete;

    /// Applies action `index` of a schedule to the backend and the oracle, then samples locations.
    void step(const Action& action, uint32_t index);

   private:
    struct Progress {
        std::vector<std::vector<Location>> last;  // per source: where it is now
        /// Per source: the action after which it was held nowhere without being delivered (its
        /// last place vanished, or its fire left it nowhere); reset when it is held again, unless
        /// it was fired again in between (new pending state: the old stays lost).
        std::vector<std::optional<uint32_t>> vanished;
        std::vector<bool> refired;  // per source: fired again since `vanished` (which then stays)
        std::vector<LocationChange> locations;
        RunMetrics metrics;
    };

   public:
    /// Everything needed to come back to this point of the run.
    struct Checkpoint {
        std::unique_ptr<BackendSnapshot> backend;
        Oracle oracle;
        Progress progress;
        EventLog::Mark log;
        GuestLog::Mark guest;
    };
    std::unique_ptr<Checkpoint> checkpoint() const;
    void rewind(const Checkpoint& checkpoint);

    /// Classifies every source with an outcome, in scenario order (after the last action).
    std::vector<SourceOutcome> outcomes() const;
    const EventLog& log() const { return log_; }
    const RunMetrics& metrics() const { return progress_.metrics; }
    /// The whole result; `schedule` is the one the steps came from.
    RunResult result(const Schedule& schedule) const;

   private:
    const Scenario& scenario_;
    const BackendInfo& info_;
    PolicyValues policy_;
    bool keep_locations_;
    GuestOptions guest_options_;
    EventLog log_;
    GuestLog guest_;
    std::unique_ptr<Backend> backend_;
    Oracle oracle_;
    Progress progress_;
    std::vector<Location> now_;  // scratch
};

RunResult run_scenario(const Scenario& scenario, const BackendInfo& backend, const RunOptions& options,
                       const ScheduleChoice* choice = nullptr);
/// Runs on each backend named in `arches` (already expanded, see Registry::expand_arch).
ScenarioResult run_scenario(const Scenario& scenario, const Registry& registry, std::span<const std::string> arches,
                            const RunOptions& options);

}  // namespace irqdiff
