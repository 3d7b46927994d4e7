// The VMM side of the ARM stack (QEMU with VFIO, reference/arm §4): devices with their MSI-X
// vectors, the KVM MSI routes and irqfds QEMU sets up for them, VFIO's host IRQs and the irq
// bypass that forwards them as vLPIs, and the VFIO device states migration moves through
// (RUNNING, STOP, RESUMING). A device that cannot send an MSI (stopped, resuming, or its host
// vectors not yet set up) keeps it pending, as the MSI-X Pending Bit Array does, and sends it when
// it can.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arm_gic/kvm/vgic.h"

namespace irqdiff::arm {

/// One machine: host memory (and this machine's copy of guest RAM), the GIC, the host's ITS
/// driver, KVM's vgic for the VM, and QEMU's device state. Copying a Host is a snapshot.
struct Host;

namespace vmm {

enum class VfioState : uint8_t { Running, Stopped, Resuming };
const char* to_string(VfioState s);

/// Whether QEMU enables MSI-X vectors in one go (QEMU >= 6.0: ecebe53fe993, then "vfio: defer
/// to commit kvm irq routing when enable msi/msix") or one by one, each VFIO_DEVICE_SET_IRQS
/// tearing down and re-registering every vector (QEMU < 6.0; reference/arm §4.2).
enum class VectorEnable : uint8_t { AllAtOnce, OneByOne };

struct VectorState {
    int host_irq = -1;    // VFIO's host IRQ (passthrough devices)
    bool irqfd = false;   // a KVM MSI route and irqfd (KVM_IRQFD)
    bool bypass = false;  // the irq bypass producer is connected (kvm_arch_irq_bypass_add_producer)
};

struct DeviceState {
    std::string name;
    bool passthrough = false;
    uint32_t guest_devid = 0;  // the PCI requester ID the guest's ITS sees
    uint32_t host_devid = 0;   // the host DeviceID (passthrough)
    VfioState state = VfioState::Running;
    bool msix_programmed = false;  // the guest enabled MSI-X (device config, migrated)
    bool msix_enabled = false;     // QEMU set up routes, irqfds and (passthrough) host IRQs
    std::vector<VectorState> vectors;
    std::vector<bool> held;  // MSIs the device could not send yet
};

struct QemuState {
    std::vector<DeviceState> devices;
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
    void set_state(size_t device, VfioState state);

   private:
    void send(size_t device, uint32_t vector);
    bool can_send(const DeviceState& d) const { return d.state == VfioState::Running && d.msix_enabled; }

    Host& h_;
    EventLog& log_;
};

}  // namespace vmm
}  // namespace irqdiff::arm
