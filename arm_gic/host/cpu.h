// The host CPUs' interrupt entry on ARM: the physical LPIs the redistributors signalled and not yet
// taken, and the handler each LPI's host IRQ was requested with (the kernel's request_irq; its
// handler function is data here, so a copied machine keeps its handlers). Two drivers request
// them: KVM for each vPE's doorbell (vgic_v4_init -> vgic_v4_doorbell_handler, reference/arm §3)
// and VFIO for each MSI vector (vfio_msi_set_vector_signal -> vfio_msihandler, reference/arm §4).
// Which code a handler runs is the machine's (arm_gic/machine.cc); the backend only steps the
// host CPUs (Machine::service).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "arm_gic/hw/gic.h"
#include "core/event_log.h"

namespace irqdiff::arm::host {

/// The handler a host IRQ was requested with.
enum class Handler : uint8_t {
    VpeDoorbell,  // vgic_v4_doorbell_handler; the argument is the vPE
    VfioMsi,      // vfio_msihandler; the argument is the host IRQ (an index into ItsDriver::irqs())
};

struct IrqAction {
    Handler handler = Handler::VfioMsi;
    uint32_t arg = 0;
    bool operator==(const IrqAction&) const = default;
};

class Cpus {
   public:
    /// A redistributor signalled `intid` to its CPU; CPUs take their LPIs in signalling order.
    void signal(unsigned rd, uint32_t intid) { signalled_.push_back(Signal{rd, intid}); }
    /// request_irq: when a CPU takes LPI `lpi`, `action`'s handler runs. Requesting an LPI twice
    /// is a model error (the drivers allocate each LPI once).
    void request_irq(uint32_t lpi, IrqAction action);
    /// free_irq: LPI `lpi` has no handler any more.
    void free_irq(uint32_t lpi);
    /// The handler registered for `lpi`, if any.
    std::optional<IrqAction> action(uint32_t lpi) const;

    /// The next signalled LPI a CPU takes: acknowledged at its redistributor (GICR IAR semantics
    /// of the model, Redistributor::acknowledge_lpi) and the action registered for it. A
    /// spurious acknowledgement (the pending bit already cleared) is skipped; an LPI with no
    /// handler is logged as HOST.spurious_lpi (a guest error: the kernel's "unexpected IRQ") and
    /// skipped. nullopt when no CPU has one left.
    std::optional<IrqAction> take(Gic& gic, EventLog& log);
    bool idle() const { return signalled_.empty(); }

   private:
    struct Signal {
        unsigned rd;
        uint32_t intid;
    };
    std::deque<Signal> signalled_;                        // signalled, not yet taken, in order
    std::vector<std::pair<uint32_t, IrqAction>> actions_;  // by LPI, sorted
};

}  // namespace irqdiff::arm::host
