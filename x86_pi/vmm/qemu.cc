#include "x86_pi/vmm/qemu.h"

#include "x86_pi/host.h"

namespace irqdiff::x86::vmm {

namespace {

kvm::MsiMessage message(const MsixEntry& e) { return kvm::MsiMessage{e.address, e.data}; }

}  // namespace

void Qemu::fire(size_t device, uint32_t vector) {
    if (h_.qemu.devices.at(device).raise(vector, log_)) send(device, vector);
}

void Qemu::send(size_t device, uint32_t vector) {
    PciDevice& d = h_.qemu.devices.at(device);
    log_.op(Layer::Vmm, "DEVICE.msi", {{"device", d.name}, {"vector", vector}, {"passthrough", d.passthrough}});
    if (!d.passthrough) {
        h_.kvm().set_msi(message(d.msix.at(vector)), "KVM_SIGNAL_MSI");
        return;
    }
    int irq = d.vectors.at(vector).host_irq;
    if (irq < 0) {
        log_.guest_error(Layer::Vmm, "DEVICE.msi", "the vector has no host IRQ (VFIO_DEVICE_SET_IRQS failed): lost",
                         {{"device", d.name}, {"vector", vector}});
        return;
    }
    h_.hw.msi(h_.iommu().physical_msi(irq));  // the physical MSI reaches the IOMMU
}

void Qemu::write_msix(size_t device, uint32_t vector, const MsixEntry& entry) {
    PciDevice& d = h_.qemu.devices.at(device);
    d.msix.at(vector) = entry;
    log_.op(Layer::Vmm, "QEMU.msix_write",
            {{"device", d.name}, {"vector", vector}, {"address", Hex{entry.address}}, {"data", Hex{entry.data}}});
    if (d.msix_enabled && d.vectors[vector].gsi >= 0)
        h_.kvm().set_route(static_cast<uint32_t>(d.vectors[vector].gsi), message(entry));
}

void Qemu::msix_enable(size_t device) {
    PciDevice& d = h_.qemu.devices.at(device);
    if (!d.msix_programmed || d.msix_enabled) return;
    kvm::Kvm kvm = h_.kvm();
    for (uint32_t v = 0; v < d.vectors.size(); ++v) {
        VfioVector& vec = d.vectors[v];
        vec.gsi = static_cast<int>(h_.qemu.next_gsi++);
        kvm.set_route(static_cast<uint32_t>(vec.gsi), message(d.msix[v]));  // KVM_SET_GSI_ROUTING
        kvm.irqfd_assign(static_cast<uint32_t>(vec.gsi));                   // KVM_IRQFD
        vec.irqfd = true;
        if (d.passthrough && vec.host_irq < 0) {
            vec.host_irq = h_.iommu().request_irq(static_cast<uint16_t>(d.host_id));  // VFIO_DEVICE_SET_IRQS
            if (vec.host_irq < 0)
                log_.guest_error(Layer::Vmm, "QEMU.vfio_set_irqs", "the host has no interrupt vector left (-ENOSPC)",
                                 {{"device", d.name}, {"vector", v}});
        }
    }
    d.msix_enabled = true;
    log_.op(Layer::Vmm, "QEMU.vfio_msix_enable", {{"device", d.name}, {"vectors", d.vectors.size()}});
    for (uint32_t v : d.release()) send(device, v);
}

void Qemu::connect_bypass(size_t device) {
    PciDevice& d = h_.qemu.devices.at(device);
    if (!d.passthrough || !d.msix_enabled) return;
    kvm::Kvm kvm = h_.kvm();
    for (VfioVector& vec : d.vectors) {
        if (vec.host_irq < 0 || !vec.irqfd || vec.bypass) continue;
        vec.bypass = true;
        kvm.irq_bypass_add_producer(static_cast<uint32_t>(vec.gsi), vec.host_irq);
    }
}

void Qemu::irqfd_deassign(size_t device, uint32_t vector) {
    PciDevice& d = h_.qemu.devices.at(device);
    VfioVector& vec = d.vectors.at(vector);
    log_.op(Layer::Vmm, "QEMU.irqfd_deassign", {{"device", d.name}, {"vector", vector}, {"bypass", vec.bypass}});
    if (vec.irqfd) h_.kvm().irqfd_deassign(static_cast<uint32_t>(vec.gsi));
    vec.irqfd = false;
    vec.bypass = false;
}

void Qemu::host_irq(int irq) {
    for (PciDevice& d : h_.qemu.devices)
        for (uint32_t v = 0; v < d.vectors.size(); ++v)
            if (d.vectors[v].host_irq == irq) {
                // vfio_msihandler -> eventfd -> irqfd_wakeup -> kvm_set_msi; without an irqfd QEMU
                // reads the eventfd and injects with KVM_SIGNAL_MSI.
                log_.op(Layer::Vmm, "VFIO.msihandler",
                        {{"device", d.name}, {"vector", v}, {"irqfd", d.vectors[v].irqfd}});
                if (d.vectors[v].irqfd)
                    h_.kvm().irqfd_signal(static_cast<uint32_t>(d.vectors[v].gsi));
                else
                    h_.kvm().set_msi(message(d.msix[v]), "KVM_SIGNAL_MSI");
                return;
            }
    log_.guest_error(Layer::Hypervisor, "HOST.spurious_irq", "a host IRQ that no driver requested", {{"irq", irq}});
}

void Qemu::set_state(size_t device, DeviceRunState state) {
    PciDevice& d = h_.qemu.devices.at(device);
    d.state = state;
    log_.op(Layer::Vmm, "VFIO.set_state", {{"device", d.name}, {"state", to_string(state)}});
    for (uint32_t v : d.release()) send(device, v);
}

}  // namespace irqdiff::x86::vmm
