#include "arm_gic/machine.h"

#include <stdexcept>

#include "arm_gic/trace_points.h"
#include "arm_gic/vmm/qemu.h"

namespace irqdiff::arm {

void Machine::service() {
    for (unsigned guard = 0; !irqs.empty(); ++guard) {
        if (guard > 100000) throw std::logic_error("arm machine: host interrupts never settle");
        HostIrq e = irqs.front();
        irqs.pop_front();
        uint32_t intid = gic.rd(e.rd).acknowledge_lpi();
        if (intid == kSpuriousIntid) continue;
        if (int vpe = its.vpe_of_doorbell(intid); vpe >= 0)
            kvm().doorbell(static_cast<uint32_t>(vpe));
        else if (int irq = its.irq_of_lpi(intid); irq >= 0)
            vmm().host_irq(irq);
        else
            log->emit(tp::kHostSpuriousLpiError, "a host LPI no driver requested", e.rd, intid);
    }
}

}  // namespace irqdiff::arm
