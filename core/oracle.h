// The oracle: an ideal interrupt controller with no virtualization and no migration. A fired
// source becomes pending for its vCPU; it is delivered once when that vCPU runs unmasked; two
// fires before one delivery coalesce (DESIGN.md "Oracle"). It reads the same schedule as the
// backend, ignoring migration steps, and each source's outcome compares the backend's deliveries
// with the oracle's.
#pragma once

#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/scenario.h"

namespace irqdiff {

class Oracle {
   public:
    struct Tally {
        uint32_t fired = 0;
        uint32_t coalesced = 0;            // fires that found the source already pending
        std::vector<uint32_t> deliveries;  // schedule index of the `run` that delivered it
        bool pending = false;              // pending now (at the end: never delivered)
    };

    explicit Oracle(const Scenario& scenario);

    /// Applies action `index` of the schedule. Delivery order within one `run`: vCPUs in
    /// ascending order, and on each vCPU sources in ascending scenario order.
    void apply(const Action& action, uint32_t index);
    const Tally& tally(SourceId source) const { return tallies_[source]; }
    uint32_t route(SourceId source) const { return route_[source]; }

   private:
    std::vector<Tally> tallies_;
    std::vector<uint32_t> route_;
    std::vector<bool> masked_;
    std::vector<bool> nmi_;                     // per source: an NMI, which a masked vCPU takes too (SDM Vol. 3A §6.7)
    std::vector<std::optional<bool>> step_nmi_;  // per scenario step: a retarget's `nmi`
};

/// One source's outcome with the evidence behind it.
struct SourceOutcome {
    SourceId source = 0;
    Outcome outcome = Outcome::DeliveredOnce;
    uint32_t fired = 0;
    uint32_t coalesced = 0;
    uint32_t expected = 0;          // oracle deliveries
    uint32_t delivered = 0;         // backend deliveries
    bool late = false;              // some delivery came at a later `run` than the oracle's
    std::optional<bool> forwarded;  // passthrough sources on virtualizing backends: all deliveries direct?
    std::vector<Location> held;     // where the backend still holds it at the end
    /// lost: the action after which it was held nowhere — where its last place vanished without
    /// a delivery, or the fire that left it nowhere (the runner's location samples; issue 17 §2).
    std::optional<uint32_t> vanished_at;
    bool operator==(const SourceOutcome&) const = default;
};

/// What a run's non-Op events say about its sources beyond their deliveries (EventKind
/// Impossible and Refusal, core/trace_point.h).
struct Verdicts {
    std::vector<SourceId> impossible;    // sources an Impossible event touched
    std::optional<uint32_t> refused_at;  // the action of the first Refusal event
    /// Per source touched by a Stale event (an MSI posted / forwarded through a deassigned
    /// irqfd's mapping, X3): the action of the first one.
    std::vector<std::pair<SourceId, uint32_t>> stale;
    /// Per source touched by an Unquiesced event (its passthrough device still generated
    /// interrupts when the VM's pending state was saved, kernel_history A2): the action of the first.
    std::vector<std::pair<SourceId, uint32_t>> unquiesced;
    /// From a run's recorded events (non-Op events are always recorded).
    static Verdicts from(const std::vector<Event>& events, const Scenario& scenario);
};

/// Classifies one source, or nullopt when it was neither fired nor delivered nor held.
///  - an Impossible event touched it: impossible (the run says nothing about it);
///  - fewer deliveries than the oracle: lost; more: duplicated;
///  - as many: if the oracle still holds it pending, `pending` when the backend holds it in exactly
///    one live place, lost in none, duplicated in more; otherwise delivered-once, or duplicated
///    when the backend still holds a live copy that would be delivered again;
///  - a Stale event touched it at action a and the backend delivered it at a or later:
///    delivered-after-deassign (the guest took an MSI through a path KVM should have torn down,
///    whatever the count says; X3);
///  - lost in a run with a Refusal at action r, with every oracle delivery before r made by the
///    backend before r: save-refused (the loss came with the kernel's refusal, not silently);
///  - lost after an Unquiesced event touched it at action u, with every oracle delivery before u
///    made before u: undefined (the kernel's contract wants the generator quiesced before the
///    pending-state save: Oliver Upton 2025-07-02, kernel_history A2);
///  - duplicated on a source whose device is `delivery: at-least-once`: spurious (issue 15 §2.6:
///    an extra interrupt is accepted, Firecracker #5568, Oliver Upton 2025-07-02); a loss stays lost.
std::optional<SourceOutcome> classify(SourceId source, const Oracle::Tally& oracle,
                                      const std::vector<Delivery>& deliveries, const std::vector<Location>& held,
                                      bool passthrough, bool virtualizing, const Verdicts& verdicts = {},
                                      DeliveryMode mode = DeliveryMode::ExactlyOnce);

}  // namespace irqdiff
