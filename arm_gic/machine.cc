#include "arm_gic/machine.h"

#include <stdexcept>

#include "arm_gic/vmm/qemu.h"

namespace irqdiff::arm {

void Machine::service() {
    for (unsigned guard = 0;; ++guard) {
        if (guard > 100000) throw std::logic_error("arm machine: host interrupts never settle");
        std::optional<host::IrqAction> a = cpus.take(gic, *log);
        if (!a) return;
        switch (a->handler) {
            case host::Handler::VpeDoorbell: kvm().doorbell(a->arg); break;
            case host::Handler::VfioMsi: vmm().host_irq(static_cast<int>(a->arg)); break;
        }
    }
}

}  // namespace irqdiff::arm
