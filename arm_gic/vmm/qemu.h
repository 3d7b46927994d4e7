// The VMM side of the ARM stack (QEMU with VFIO, reference/arm §4): devices (core/device.h) with
// their MSI-X vectors, the KVM MSI routes and irqfds QEMU sets up for them, VFIO's host IRQs and
// the irq bypass that forwards them as vLPIs, and the VFIO device states migration moves through.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arm_gic/kvm/vgic.h"
#include "core/device.h"
#include "core/policy.h"

namespace irqdiff::arm {

/// One machine: host memory (and this machine's copy of guest RAM), the GIC, the host's ITS
/// driver, KVM's vgic for the VM, and QEMU's device state. Copying a Host is a snapshot.
struct Host;

namespace vmm {

/// Whether QEMU enables MSI-X vectors in one go (QEMU >= 6.0: ecebe53fe993, then "vfio: defer
/// to commit kvm irq routing when enable msi/msix") or one by one, each VFIO_DEVICE_SET_IRQS
/// tearing down and re-registering every vector (QEMU < 6.0; reference/arm §4.2).
enum class VectorEnable : uint8_t { AllAtOnce, OneByOne };
extern const Policy<VectorEnable> kVectorEnablePolicy;  // arm.vfio_vector_enable (qemu.cc)

struct QemuState {
    std::vector<PciDevice> devices;  // guest_id: the PCI requester ID the guest's ITS sees (DeviceID)
};

/// QEMU's device logic over one Host (a view; the state lives in Host::qemu).
class Qemu {
   public:
    Qemu(Host& host, EventLog& log) : h_(host), log_(log) {}

    /// The device raises MSI `vector`: a passthrough device writes the host ITS
    /// (GITS_TRANSLATER with its host DeviceID); an emulated one is injected by QEMU
    /// (KVM_SIGNAL_MSI). A device that cannot send keeps it pending.
    void fire(size_t device, uint32_t vector);
    /// vfio_msix_enable, the part before the bypass: KVM MSI routes and irqfds for every vector,
    /// and VFIO_DEVICE_SET_IRQS (host IRQs) for a passthrough device. Held MSIs of a running
    /// device are sent.
    void msix_enable(size_t device);
    /// The irq bypass producers meet the irqfd consumers: kvm_vgic_v4_set_forwarding per vector.
    /// With VectorEnable::OneByOne every step re-registers the vectors already connected, so each
    /// of them goes through unset_forwarding and set_forwarding again.
    void connect_bypass(size_t device, VectorEnable how);
    /// KVM_IRQFD deassign of one vector: the bypass disconnects (kvm_vgic_v4_unset_forwarding);
    /// later MSIs reach KVM through QEMU (KVM_SIGNAL_MSI).
    void irqfd_deassign(size_t device, uint32_t vector);
    /// A VFIO host IRQ fired (the vector is not forwarded): vfio_msihandler signals the eventfd,
    /// and the irqfd (or QEMU) injects the MSI with kvm_set_msi.
    void host_irq(int irq);
    /// vfio_vmstate_change: RUNNING, STOP, RESUMING. Entering RUNNING sends held MSIs.
    void set_state(size_t device, DeviceRunState state);

   private:
    void send(size_t device, uint32_t vector);

    Host& h_;
    EventLog& log_;
};

}  // namespace vmm
}  // namespace irqdiff::arm
