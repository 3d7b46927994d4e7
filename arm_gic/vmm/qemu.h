// The VMM side of the ARM stack (QEMU with VFIO, reference/arm §4): the core VFIO logic
// (core/vfio.h: device states, MSI-X enable, irqfds, held MSIs, the bypass) over one ARM machine.
// This port says how a passthrough MSI enters the host (GITS_TRANSLATER of the host ITS, with the
// host DeviceID), how KVM injects an MSI (vgic_its_trigger_msi by DeviceID/EventID: ARM needs no
// GSI routes) and that the irq bypass forwards a vector as a vLPI (kvm_vgic_v4_set_forwarding).
#pragma once

#include <cstdint>
#include <vector>

#include "core/device.h"
#include "core/vfio.h"

namespace irqdiff::arm {

struct Machine;

namespace vmm {

using irqdiff::VectorEnable;

struct QemuState {
    std::vector<PciDevice> devices;  // guest_id: the PCI requester ID the guest's ITS sees (DeviceID)
};

class QemuPort {
   public:
    explicit QemuPort(Machine& machine) : m_(machine) {}
    /// The physical MSI reaches the host ITS: EventID = the vector, DeviceID = the host's.
    void send_to_host(PciDevice& d, uint32_t vector);
    /// vgic_its_trigger_msi, from the irqfd (kvm_set_msi) or KVM_SIGNAL_MSI: the same call.
    void inject(PciDevice& d, uint32_t vector, bool irqfd);
    /// The guest's ITS translates by DeviceID/EventID: no GSI route to set (KVM_IRQFD only).
    void route(PciDevice&, uint32_t) {}
    void update_route(PciDevice&, uint32_t) {}
    /// VFIO_DEVICE_SET_IRQS: the host ITS driver maps a new LPI for the vector (MAPTI).
    int request_host_irq(PciDevice& d, uint32_t vector);
    /// kvm_arch_irq_bypass_add_producer -> kvm_vgic_v4_set_forwarding.
    void add_producer(PciDevice& d, uint32_t vector);
    /// kvm_arch_irq_bypass_del_producer -> kvm_vgic_v4_unset_forwarding.
    void del_producer(PciDevice& d, uint32_t vector);
    /// KVM_IRQFD deassign: a forwarded vector is unforwarded first.
    void deassign(PciDevice& d, uint32_t vector);

   private:
    Machine& m_;
};

/// QEMU's device logic over one Machine (a view; the state lives in Machine::qemu).
using Qemu = Vfio<QemuPort>;

}  // namespace vmm
}  // namespace irqdiff::arm
