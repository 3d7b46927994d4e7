// The VMM side of the x86 stack (QEMU with VFIO, reference/x86_posted_interrupts_kvm_migration.md
// §5.4, "reference §5.4"): devices (core/device.h) with their guest-programmed MSI-X tables, the
// KVM MSI routes and irqfds QEMU sets up for them (vfio_msix_enable), VFIO's host IRQs, the irq
// bypass that lets KVM post them, and the VFIO device states migration moves through.
#pragma once

#include <cstdint>
#include <vector>

#include "core/device.h"
#include "core/event_log.h"

namespace irqdiff::x86 {

/// One x86 machine (host memory, the platform, the host's IOMMU driver, KVM, QEMU's devices).
struct Host;

namespace vmm {

struct QemuState {
    std::vector<PciDevice> devices;  // guest_id: the requester ID the guest sees; host_id: the host's
    uint32_t next_gsi = 0;           // kvm_irqchip_add_msi_route allocates GSIs in order
};

/// QEMU's device logic over one Host (a view; the state lives in Host::qemu).
class Qemu {
   public:
    Qemu(Host& host, EventLog& log) : h_(host), log_(log) {}

    /// The device raises MSI `vector`: a passthrough device's MSI goes to the IOMMU (its
    /// remappable-format message, with its requester ID); an emulated one is injected by QEMU
    /// (KVM_SIGNAL_MSI). A device that cannot send holds it.
    void fire(size_t device, uint32_t vector);
    /// The guest writes MSI-X table entry `vector` (QEMU's MSI-X emulation); with MSI-X enabled
    /// the route follows (vfio_update_kvm_msi_virq -> KVM_SET_GSI_ROUTING).
    void write_msix(size_t device, uint32_t vector, const MsixEntry& entry);
    /// vfio_msix_enable, the part before the bypass: a KVM MSI route and an irqfd per vector and
    /// (passthrough) VFIO_DEVICE_SET_IRQS, which gives each vector a host IRQ. Held MSIs of a
    /// running device are sent.
    void msix_enable(size_t device);
    /// The irq bypass producers meet the irqfd consumers (kvm_arch_irq_bypass_add_producer).
    void connect_bypass(size_t device);
    /// KVM_IRQFD deassign of one vector (the bypass disconnects); later MSIs reach KVM through
    /// QEMU (KVM_SIGNAL_MSI).
    void irqfd_deassign(size_t device, uint32_t vector);
    /// A VFIO host IRQ fired (vfio_msihandler): the eventfd is signalled, and the irqfd (or QEMU
    /// reading the eventfd) injects the MSI with kvm_set_msi.
    void host_irq(int irq);
    /// vfio_vmstate_change: RUNNING, STOP, RESUMING. Entering RUNNING sends held MSIs.
    void set_state(size_t device, DeviceRunState state);

   private:
    void send(size_t device, uint32_t vector);

    Host& h_;
    EventLog& log_;
};

}  // namespace vmm
}  // namespace irqdiff::x86
