#include "arm_gic/vmm/qemu.h"

#include "arm_gic/machine.h"

namespace irqdiff::arm::vmm {

void QemuPort::send_to_host(PciDevice& d, uint32_t vector) { m_.gic.its(0).translate(d.host_id, vector); }

void QemuPort::inject(PciDevice& d, uint32_t vector, bool) { m_.kvm().trigger_msi(d.guest_id, vector); }

int QemuPort::request_host_irq(PciDevice& d, uint32_t vector) { return m_.its.request_irq(m_.gic, d.host_id, vector); }

void QemuPort::add_producer(PciDevice& d, uint32_t vector) {
    m_.kvm().set_forwarding(d.vectors[vector].host_irq, d.guest_id, vector);
}

void QemuPort::del_producer(PciDevice& d, uint32_t vector) { m_.kvm().unset_forwarding(d.vectors[vector].host_irq); }

void QemuPort::deassign(PciDevice& d, uint32_t vector) {
    if (d.vectors.at(vector).bypass) del_producer(d, vector);
}

}  // namespace irqdiff::arm::vmm
