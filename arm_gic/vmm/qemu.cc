#include "arm_gic/vmm/qemu.h"

#include "arm_gic/host.h"

namespace irqdiff::arm::vmm {

const char* to_string(VfioState s) {
    switch (s) {
        case VfioState::Running: return "RUNNING";
        case VfioState::Stopped: return "STOP";
        case VfioState::Resuming: return "RESUMING";
    }
    return "?";
}

void Qemu::fire(size_t device, uint32_t vector) {
    DeviceState& d = h_.qemu.devices.at(device);
    if (!can_send(d)) {
        d.held[vector] = true;
        log_.op(Layer::Vmm, "DEVICE.hold",
                {{"device", d.name}, {"vector", vector}, {"state", to_string(d.state)}, {"msix", d.msix_enabled}});
        return;
    }
    send(device, vector);
}

void Qemu::send(size_t device, uint32_t vector) {
    DeviceState& d = h_.qemu.devices.at(device);
    log_.op(Layer::Vmm, "DEVICE.msi", {{"device", d.name}, {"vector", vector}, {"passthrough", d.passthrough}});
    if (d.passthrough)
        h_.gic.its(0).translate(d.host_devid, vector);  // the physical MSI reaches the host ITS
    else
        h_.kvm().trigger_msi(d.guest_devid, vector);  // an emulated device: KVM_SIGNAL_MSI
}

void Qemu::msix_enable(size_t device) {
    DeviceState& d = h_.qemu.devices.at(device);
    if (!d.msix_programmed || d.msix_enabled) return;
    for (uint32_t v = 0; v < d.vectors.size(); ++v) {
        VectorState& vec = d.vectors[v];
        vec.irqfd = true;  // KVM_SET_GSI_ROUTING + KVM_IRQFD
        if (d.passthrough && vec.host_irq < 0) vec.host_irq = h_.its.request_irq(h_.gic, d.host_devid, v);  // SET_IRQS
    }
    d.msix_enabled = true;
    log_.op(Layer::Vmm, "QEMU.vfio_msix_enable", {{"device", d.name}, {"vectors", d.vectors.size()}});
    if (d.state == VfioState::Running)
        for (uint32_t v = 0; v < d.held.size(); ++v)
            if (d.held[v]) {
                d.held[v] = false;
                send(device, v);
            }
}

void Qemu::connect_bypass(size_t device, VectorEnable how) {
    DeviceState& d = h_.qemu.devices.at(device);
    if (!d.passthrough || !d.msix_enabled) return;
    kvm::Kvm kvm = h_.kvm();
    auto connect = [&](uint32_t v) {
        d.vectors[v].bypass = true;
        kvm.set_forwarding(d.vectors[v].host_irq, d.guest_devid, v);  // kvm_arch_irq_bypass_add_producer
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
    DeviceState& d = h_.qemu.devices.at(device);
    VectorState& vec = d.vectors.at(vector);
    log_.op(Layer::Vmm, "QEMU.irqfd_deassign", {{"device", d.name}, {"vector", vector}, {"bypass", vec.bypass}});
    vec.irqfd = false;
    if (vec.bypass) {
        vec.bypass = false;
        h_.kvm().unset_forwarding(vec.host_irq);
    }
}

void Qemu::host_irq(int irq) {
    for (DeviceState& d : h_.qemu.devices)
        for (uint32_t v = 0; v < d.vectors.size(); ++v)
            if (d.vectors[v].host_irq == irq) {
                // vfio_msihandler -> eventfd -> irqfd_wakeup -> kvm_set_msi; without an irqfd QEMU
                // reads the eventfd and injects with KVM_SIGNAL_MSI.
                log_.op(Layer::Vmm, "VFIO.msihandler",
                        {{"device", d.name}, {"vector", v}, {"irqfd", d.vectors[v].irqfd}});
                h_.kvm().trigger_msi(d.guest_devid, v);
                return;
            }
    log_.guest_error(Layer::Hypervisor, "HOST.spurious_irq", "a host LPI that no driver requested", {{"irq", irq}});
}

void Qemu::set_state(size_t device, VfioState state) {
    DeviceState& d = h_.qemu.devices.at(device);
    d.state = state;
    log_.op(Layer::Vmm, "VFIO.set_state", {{"device", d.name}, {"state", to_string(state)}});
    if (!can_send(d)) return;
    for (uint32_t v = 0; v < d.held.size(); ++v)
        if (d.held[v]) {
            d.held[v] = false;
            send(device, v);
        }
}

}  // namespace irqdiff::arm::vmm
