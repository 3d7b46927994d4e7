// The VMM side of the x86 stack (QEMU with VFIO, reference/x86_posted_interrupts_kvm_migration.md
// §5.4, "reference §5.4"): the core VFIO logic (core/vfio.h: device states, MSI-X enable, irqfds,
// held MSIs, the bypass) over one x86 machine. This port says how a passthrough MSI enters the
// host (a remappable-format message to the IOMMU, with the device's requester ID), that each
// vector has a KVM GSI route from its guest-programmed MSI-X entry (kvm_irqchip_add_msi_route,
// KVM_SET_GSI_ROUTING) with an irqfd, and that the irq bypass lets KVM post it (kvm_pi_update_irte).
#pragma once

#include <cstdint>
#include <vector>

#include "core/device.h"
#include "core/vfio.h"

namespace irqdiff::x86 {

struct Machine;

namespace vmm {

struct QemuState {
    std::vector<PciDevice> devices;  // guest_id: the requester ID the guest sees; host_id: the host's
    uint32_t next_gsi = 0;           // kvm_irqchip_add_msi_route allocates GSIs in order
};

class QemuPort {
   public:
    explicit QemuPort(Machine& machine) : m_(machine) {}
    /// The physical MSI reaches the IOMMU; a vector without a host IRQ sends nothing (logged).
    void send_to_host(PciDevice& d, uint32_t vector);
    /// irqfd_wakeup -> kvm_set_msi from the vector's irqfd, else QEMU's KVM_SIGNAL_MSI with the
    /// guest-programmed message.
    void inject(PciDevice& d, uint32_t vector, bool irqfd);
    /// A new GSI with the vector's MSI route (KVM_SET_GSI_ROUTING) and its irqfd (KVM_IRQFD).
    void route(PciDevice& d, uint32_t vector);
    void update_route(PciDevice& d, uint32_t vector);
    /// VFIO_DEVICE_SET_IRQS: a host IRQ with a remapped IRTE and a host vector, or -1.
    int request_host_irq(PciDevice& d, uint32_t vector);
    /// kvm_arch_irq_bypass_add_producer -> kvm_pi_update_irte.
    void add_producer(PciDevice& d, uint32_t vector);
    /// Only QEMU < 6.0's one-by-one vector enable disconnects a producer; the x86 backend has no
    /// such policy.
    void del_producer(PciDevice& d, uint32_t vector);
    /// KVM_IRQFD deassign (the bypass disconnects with it).
    void deassign(PciDevice& d, uint32_t vector);

   private:
    Machine& m_;
};

/// QEMU's device logic over one Machine (a view; the state lives in Machine::qemu).
using Qemu = Vfio<QemuPort>;

}  // namespace vmm
}  // namespace irqdiff::x86
