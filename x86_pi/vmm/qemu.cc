#include "x86_pi/vmm/qemu.h"

#include <stdexcept>

#include "x86_pi/machine.h"

namespace irqdiff::x86::vmm {

namespace {

kvm::MsiMessage message(const MsixEntry& e) { return kvm::MsiMessage{e.address, e.data}; }

}  // namespace

void QemuPort::send_to_host(PciDevice& d, uint32_t vector) {
    int irq = d.vectors.at(vector).host_irq;
    if (irq < 0) {
        m_.log->guest_error(Layer::Vmm, "DEVICE.msi", "the vector has no host IRQ (VFIO_DEVICE_SET_IRQS failed): lost",
                            {{"device", d.name}, {"vector", vector}});
        return;
    }
    m_.hw.msi(m_.iommu().physical_msi(irq));
}

void QemuPort::inject(PciDevice& d, uint32_t vector, bool irqfd) {
    if (irqfd)
        m_.kvm().irqfd_signal(static_cast<uint32_t>(d.vectors[vector].gsi));
    else
        m_.kvm().set_msi(message(d.msix.at(vector)), "KVM_SIGNAL_MSI");
}

void QemuPort::route(PciDevice& d, uint32_t vector) {
    VfioVector& vec = d.vectors[vector];
    vec.gsi = static_cast<int>(m_.qemu.next_gsi++);
    kvm::Kvm kvm = m_.kvm();
    kvm.set_route(static_cast<uint32_t>(vec.gsi), message(d.msix[vector]));
    kvm.irqfd_assign(static_cast<uint32_t>(vec.gsi));
}

void QemuPort::update_route(PciDevice& d, uint32_t vector) {
    m_.kvm().set_route(static_cast<uint32_t>(d.vectors[vector].gsi), message(d.msix[vector]));
}

int QemuPort::request_host_irq(PciDevice& d, uint32_t) {
    return m_.iommu().request_irq(static_cast<uint16_t>(d.host_id));
}

void QemuPort::add_producer(PciDevice& d, uint32_t vector) {
    m_.kvm().irq_bypass_add_producer(static_cast<uint32_t>(d.vectors[vector].gsi), d.vectors[vector].host_irq);
}

void QemuPort::del_producer(PciDevice&, uint32_t) {
    throw std::logic_error("x86 QEMU: one-by-one MSI-X vector enable (QEMU < 6.0) is not modelled on x86");
}

void QemuPort::deassign(PciDevice& d, uint32_t vector) {
    if (d.vectors.at(vector).irqfd) m_.kvm().irqfd_deassign(static_cast<uint32_t>(d.vectors[vector].gsi));
}

}  // namespace irqdiff::x86::vmm
