// The Backend interface: one architecture's stack (hardware model, hypervisor, VMM) driven by the
// actions of a schedule. The runner lowers a scenario into actions; the backend applies them one
// at a time, tells the abstract guest what it delivered, and answers at any point where each
// source's pending state lives and whether that place is live (DESIGN.md "Where is it?").
// Backends depend on core only; the registry that lists them is registry/builtin_backends.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_log.h"
#include "core/location.h"
#include "core/memory.h"
#include "core/migration.h"
#include "core/policy.h"
#include "core/scenario.h"

namespace irqdiff {

class GuestMachine;  // core/guest_program.h

/// One thing that happens to the VM. Scenario steps become actions one to one, except `migrate`,
/// which becomes its save steps, its restore steps in the chosen order, and the interrupts fired
/// in between.
struct Action {
    StepKind kind = StepKind::Run;  // Migrate: one migration step (`side`, `step`)
    int32_t vcpu = -1;              // Run: -1 = all
    SourceId source = 0;
    Side side = Side::Save;
    uint16_t step = 0;           // index into the plan's save_steps() or restore_steps()
    uint32_t scenario_step = 0;  // index of the scenario step it came from
    bool migrating = false;      // part of a migration (its steps and the fires between them; `side` says which)
    bool operator==(const Action&) const = default;
};

/// "run all", "fire nic.0", "restore:set_lapic", ...
std::string describe(const Action& action, const Scenario& scenario, const MigrationPlan& plan);

enum class DeliveryPath : uint8_t {
    Ideal,     // the ideal controller (no virtualization)
    Direct,    // hardware direct injection: a vLPI from the VPT, a posted interrupt
    Software,  // the hypervisor injected it (list register, kvm_set_msi)
};
const char* to_string(DeliveryPath path);

struct Delivery {
    uint32_t action = 0;  // schedule index of the `run` during which the guest took it
    uint32_t vcpu = 0;
    SourceId source = 0;
    DeliveryPath path = DeliveryPath::Ideal;
    bool operator==(const Delivery&) const = default;
};

struct GuestOptions {
    GuestKind kind = GuestKind::Abstract;
    /// --trace-guest: record every instruction of each interrupt handler (Capstone) in the
    /// GUEST.irq_entry events.
    bool trace_instructions = false;
    /// Instructions a vCPU may execute in one run before it counts as a runaway (GuestFault).
    uint64_t budget = 100'000;
};

/// One entry of a Unicorn guest's own log in guest memory, as the emulator read it back
/// (docs/guests.md): what the guest's handler saw.
struct GuestRecord {
    uint32_t action = 0;  // schedule index of the `run` during which it was written
    uint32_t vcpu = 0;
    uint32_t id = 0;         // the INTID (arm) or vector (x86) the handler logged
    uint64_t timestamp = 0;  // the guest's clock when it logged it (the event-log position)
    uint64_t pc = 0;         // the PC the interrupt interrupted
    bool operator==(const GuestRecord&) const = default;
};

/// What the guest observed: each interrupt it took, in order, and, for a Unicorn guest, its own
/// log entries.
class GuestLog {
   public:
    void set_action(uint32_t action) { action_ = action; }
    void take(uint32_t vcpu, SourceId source, DeliveryPath path) {
        deliveries_.push_back(Delivery{action_, vcpu, source, path});
    }
    void record(GuestRecord r) {
        r.action = action_;
        records_.push_back(r);
    }
    const std::vector<Delivery>& deliveries() const { return deliveries_; }
    const std::vector<GuestRecord>& records() const { return records_; }
    size_t size() const { return deliveries_.size(); }

    struct Mark {
        size_t deliveries = 0, records = 0;
    };
    Mark mark() const { return Mark{deliveries_.size(), records_.size()}; }
    void rewind(const Mark& m) {
        deliveries_.resize(m.deliveries);
        records_.resize(m.records);
    }

   private:
    uint32_t action_ = 0;
    std::vector<Delivery> deliveries_;
    std::vector<GuestRecord> records_;
};

/// What one guest `run` of one vCPU may still do (issue 17 §5; scenarios/README.md "run"): a run
/// delivers until nothing is deliverable, however many interrupts that is, and each interrupt
/// the guest takes and each exit the host handles on the way spends one step. A run that spends
/// the whole budget stops there with a GUEST.run_budget event (the rest stays pending for the
/// next run) instead of looping forever on a model that never runs dry.
class RunBudget {
   public:
    static constexpr uint64_t kSteps = 1'000'000;
    /// Takes one step; false when none is left.
    bool spend() {
        if (left_ == 0) return false;
        --left_;
        return true;
    }
    bool exhausted() const { return left_ == 0; }
    uint64_t used() const { return kSteps - left_; }

   private:
    uint64_t left_ = kSteps;
};

/// Opaque saved state of a backend (plain copies of small structs, so the explorer can branch).
class BackendSnapshot {
   public:
    virtual ~BackendSnapshot() = default;
};

/// Running totals a backend keeps for the asymmetry metrics (DESIGN.md "Asymmetry metrics"); the
/// runner takes differences around each migration step.
struct BackendCounters {
    /// Commands the interrupt-translation hardware executed on software's behalf. ARM: ITS
    /// commands taken from the queue. x86: interrupt-entry-cache invalidations (the VT-d analogue:
    /// software telling the remapping unit that a table entry changed).
    uint64_t hw_commands = 0;
    AccessStats host;   // accesses to host memory (ITS tables, VPTs, IRTEs, PI descriptors, vAPIC pages)
    AccessStats guest;  // accesses to guest RAM (guest pending tables, the guest's ITS tables)
};

class Backend {
   public:
    virtual ~Backend() = default;
    virtual std::string_view arch() const = 0;
    /// Applies one action. Guest-visible problems become events; bad scenario input that only
    /// this backend can detect throws InputError.
    virtual void apply(const Action& action) = 0;
    /// Appends every place that holds `source`'s pending state now (none: not pending). Called
    /// after every action for every source: append typed Locations, format nothing.
    virtual void where(SourceId source, std::vector<Location>& out) const = 0;
    /// How this backend names the source (ARM: DeviceID/EventID -> vINTID; x86: IRTE -> vector).
    virtual std::string identity(SourceId source) const = 0;
    virtual std::unique_ptr<BackendSnapshot> snapshot() const = 0;
    /// Restores a snapshot taken from this backend. The event log and guest log are the caller's.
    virtual void restore(const BackendSnapshot& snapshot) = 0;
    /// Totals since the backend was made, over every machine of the migration (a machine a later
    /// migration retires keeps its share).
    virtual BackendCounters counters() const { return {}; }
    /// Test-only: the Unicorn guest's machine (guest RAM and the vCPUs' engines), for tests that
    /// corrupt guest code and memory behind the glue's back (the guest_glue fuzz target,
    /// tests/fuzz/guest_glue.cc); nullptr with the abstract guest. Nothing in a run calls it.
    virtual GuestMachine* unicorn_machine_for_testing() { return nullptr; }
};

/// What a backend is given: the scenario, its effective policy, and where to report.
struct BackendContext {
    const Scenario& scenario;
    const PolicyValues& policy;
    EventLog& log;
    GuestLog& guest;
    GuestOptions guest_options{};
};

/// Scenario vocabulary a backend has no mechanism for: a device kind or a step kind, and what to
/// tell the user (make_backend refuses such a scenario at the device's or step's place).
struct Refusal {
    std::optional<DeviceKind> device;
    std::optional<StepKind> step;
    std::string why;
    std::optional<GuestKind> guest{};  // set: refused only with that guest (a guest program that lacks the mechanism)
};

struct BackendInfo {
    std::string name;          // "ideal", "arm", "x86"
    std::string description;   // one line
    bool virtualizing = true;  // false only for the ideal reference backend
    std::shared_ptr<const MigrationPlan> plan;
    std::function<std::unique_ptr<Backend>(const BackendContext&)> make;
    std::vector<Refusal> refuses;  // what of the shared scenario vocabulary this backend cannot run
    /// The policies this backend reads, in catalogue order: the views of the Policy<E>
    /// descriptors declared next to their readers in the backend's stack.
    std::vector<PolicySpec> policies{};
    /// The events this backend's stack declares (its trace_points.h), in catalogue order; core's
    /// own declarations are the registry's, not a backend's.
    TracePointList events{};
    /// The registry's whole catalogue (set by Registry::add): a run checks its overrides against
    /// it, other backends' keys included. Null for a backend no registry holds.
    std::shared_ptr<const std::vector<PolicySpec>> catalog{};
};

/// Makes the backend for a run, after refusing (InputError) a scenario that uses vocabulary the
/// backend declares it has no mechanism for.
std::unique_ptr<Backend> make_backend(const BackendInfo& info, const BackendContext& ctx);

class Registry {
   public:
    void add(BackendInfo info);
    const BackendInfo* find(std::string_view name) const;
    const std::vector<BackendInfo>& backends() const { return backends_; }
    /// The policy catalogue: every registered backend's policies, in registration order (a key
    /// registered twice is a std::logic_error).
    std::span<const PolicySpec> policies() const { return *policies_; }
    /// The event catalogue: core's declarations (core/trace_points.h), then every registered
    /// backend's, in registration order (a declaration listed twice is a std::logic_error).
    TracePointList events() const { return events_; }
    /// The migration step names: the neutral steps, then every registered backend's save and
    /// restore sub-steps, in registration order.
    std::span<const StepName> step_names() const { return steps_; }
    /// What a scenario's names are checked against: the policy, event and step catalogues.
    Catalogue catalogue() const { return Catalogue{policies(), events(), step_names()}; }
    /// What `--arch` means when not given: every virtualizing backend, or `ideal` when this
    /// build has none.
    std::vector<std::string> default_arches() const;
    /// Expands an `--arch` value ("ideal", "arm", "x86", "both" = arm and x86) to backend names;
    /// throws InputError naming `place` when a backend is unknown or not in this build.
    std::vector<std::string> expand_arch(std::string_view arch, const std::string& place) const;
    /// The backends to run `scenario` on: the `requested` ones (already expanded; `place` names
    /// the option in errors), each of which the scenario's `arch` key must allow (the ideal
    /// reference always may run), or, when none were requested, the scenario's `arch` backends
    /// (default_arches() when it has no `arch` key). Throws InputError at the `arch` key.
    std::vector<std::string> arches_for(const Scenario& scenario, const std::vector<std::string>* requested,
                                        const std::string& place) const;

   private:
    std::vector<BackendInfo> backends_;
    std::shared_ptr<const std::vector<PolicySpec>> policies_ = std::make_shared<const std::vector<PolicySpec>>();
    std::vector<const TracePointInfo*> events_ = initial_events();
    static std::vector<const TracePointInfo*> initial_events();
    std::vector<StepName> steps_ = initial_steps();
    static std::vector<StepName> initial_steps();
};

}  // namespace irqdiff
