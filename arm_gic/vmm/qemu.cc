#include "arm_gic/vmm/qemu.h"

#include "arm_gic/host.h"

namespace irqdiff::arm::vmm {

const Policy<VectorEnable> kVectorEnablePolicy{
    "arm.vfio_vector_enable",
    "arm",
    {{"all_at_once", VectorEnable::AllAtOnce}, {"one_by_one", VectorEnable::OneByOne}},
    VectorEnable::AllAtOnce,
    "how QEMU enables MSI-X vectors on restore: together, or one by one with each SET_IRQS re-registering every "
    "vector",
    "QEMU < 6.0 vfio_msix_enable (unset/set_forwarding per step: reference/arm §4.2, §9 lost.2); ecebe53fe993, then "
    "\"vfio: defer to commit kvm irq routing when enable msi/msix\""};

void Qemu::fire(size_t device, uint32_t vector) {
    if (h_.qemu.devices.at(device).raise(vector, log_)) send(device, vector);
}

void Qemu::send(size_t device, uint32_t vector) {
    PciDevice& d = h_.qemu.devices.at(device);
    log_.op(Layer::Vmm, "DEVICE.msi", {{"device", d.name}, {"vector", vector}, {"passthrough", d.passthrough}});
    if (d.passthrough)
        h_.gic.its(0).translate(d.host_id, vector);  // the physical MSI reaches the host ITS
    else
        h_.kvm().trigger_msi(d.guest_id, vector);  // an emulated device: KVM_SIGNAL_MSI
}

void Qemu::msix_enable(size_t device) {
    PciDevice& d = h_.qemu.devices.at(device);
    if (!d.msix_programmed || d.msix_enabled) return;
    for (uint32_t v = 0; v < d.vectors.size(); ++v) {
        VfioVector& vec = d.vectors[v];
        vec.irqfd = true;  // KVM_SET_GSI_ROUTING + KVM_IRQFD
        if (d.passthrough && vec.host_irq < 0) vec.host_irq = h_.its.request_irq(h_.gic, d.host_id, v);  // SET_IRQS
    }
    d.msix_enabled = true;
    log_.op(Layer::Vmm, "QEMU.vfio_msix_enable", {{"device", d.name}, {"vectors", d.vectors.size()}});
    for (uint32_t v : d.release()) send(device, v);
}

void Qemu::connect_bypass(size_t device, VectorEnable how) {
    PciDevice& d = h_.qemu.devices.at(device);
    if (!d.passthrough || !d.msix_enabled) return;
    kvm::Kvm kvm = h_.kvm();
    auto connect = [&](uint32_t v) {
        d.vectors[v].bypass = true;
        kvm.set_forwarding(d.vectors[v].host_irq, d.guest_id, v);  // kvm_arch_irq_bypass_add_producer
    };
    if (how == VectorEnable::AllAtOnce) {
        for (uint32_t v = 0; v < d.vectors.size(); ++v) connect(v);
        return;
    }
    // QEMU < 6.0: vector 0, then each further vector with a SET_IRQS that tears down and
    // re-registers every eventfd: the connected vectors go through del_producer/add_producer.
    for (uint32_t k = 0; k < d.vectors.size(); ++k) {
        log_.op(Layer::Vmm, "QEMU.vfio_set_irqs", {{"device", d.name}, {"vectors", k + 1}});
        for (uint32_t v = 0; v < k; ++v) {
            d.vectors[v].bypass = false;
            kvm.unset_forwarding(d.vectors[v].host_irq);  // kvm_arch_irq_bypass_del_producer
        }
        for (uint32_t v = 0; v <= k; ++v) connect(v);
    }
}

void Qemu::irqfd_deassign(size_t device, uint32_t vector) {
    PciDevice& d = h_.qemu.devices.at(device);
    VfioVector& vec = d.vectors.at(vector);
    log_.op(Layer::Vmm, "QEMU.irqfd_deassign", {{"device", d.name}, {"vector", vector}, {"bypass", vec.bypass}});
    vec.irqfd = false;
    if (vec.bypass) {
        vec.bypass = false;
        h_.kvm().unset_forwarding(vec.host_irq);
    }
}

void Qemu::host_irq(int irq) {
    for (PciDevice& d : h_.qemu.devices)
        for (uint32_t v = 0; v < d.vectors.size(); ++v)
            if (d.vectors[v].host_irq == irq) {
                // vfio_msihandler -> eventfd -> irqfd_wakeup -> kvm_set_msi; without an irqfd QEMU
                // reads the eventfd and injects with KVM_SIGNAL_MSI.
                log_.op(Layer::Vmm, "VFIO.msihandler",
                        {{"device", d.name}, {"vector", v}, {"irqfd", d.vectors[v].irqfd}});
                h_.kvm().trigger_msi(d.guest_id, v);
                return;
            }
    log_.guest_error(Layer::Hypervisor, "HOST.spurious_irq", "a host LPI that no driver requested", {{"irq", irq}});
}

void Qemu::set_state(size_t device, DeviceRunState state) {
    PciDevice& d = h_.qemu.devices.at(device);
    d.state = state;
    log_.op(Layer::Vmm, "VFIO.set_state", {{"device", d.name}, {"state", to_string(state)}});
    for (uint32_t v : d.release()) send(device, v);
}

}  // namespace irqdiff::arm::vmm
