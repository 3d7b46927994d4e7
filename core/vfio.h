// The VMM's VFIO device logic, shared by every backend: a device (core/device.h) is RUNNING, STOP
// or RESUMING (include/uapi/linux/vfio.h migration FSM, QEMU hw/vfio/migration.c); an MSI it
// cannot send is held; vfio_msix_enable gives each vector a KVM MSI route and irqfd and, for a
// passthrough device, a host IRQ (VFIO_DEVICE_SET_IRQS); the irq bypass connects the host IRQ
// to the irqfd consumer (kvm_arch_irq_bypass_add_producer), which lets KVM forward (ARM) or post
// (x86) it. What an architecture adds is one `Port`: how a device's MSI enters the host, and the
// KVM calls behind routes, irqfds and the bypass.
//
// A Port provides (each takes the device and the vector):
//   send_to_host(d, v)       the passthrough device's MSI write enters the host (a bus write)
//   inject(d, v, irqfd)      KVM injects the guest's MSI: from the irqfd, or KVM_SIGNAL_MSI
//   route(d, v)              KVM_SET_GSI_ROUTING + KVM_IRQFD for a vector at vfio_msix_enable
//   update_route(d, v)       the guest rewrote an enabled vector's MSI-X entry
//   request_host_irq(d, v)   VFIO_DEVICE_SET_IRQS: the host IRQ number, or -1 (none left)
//   add_producer(d, v)       the irq bypass connects (kvm_arch_irq_bypass_add_producer)
//   del_producer(d, v)       the irq bypass disconnects (kvm_arch_irq_bypass_del_producer)
//   deassign(d, v)           KVM_IRQFD deassign, with the vector's flags as they were
//   assign(d, v)             KVM_IRQFD assign again (after a deassign)
//   set_route(d, v, present) KVM_SET_GSI_ROUTING with (true) or without (false) the vector's route
//   bypassed(d, v)           how the host takes the vector's MSI past KVM's irqfd now ("posted
//                            IRTE", "forwarded vLPI"), or nullptr when it raises the host IRQ
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "core/device.h"
#include "core/event_log.h"
#include "core/trace_points.h"

namespace irqdiff {

/// Whether QEMU enables MSI-X vectors in one go (QEMU >= 6.0: ecebe53fe993, then "vfio: defer
/// to commit kvm irq routing when enable msi/msix") or one by one, each VFIO_DEVICE_SET_IRQS
/// tearing down and re-registering every vector (QEMU < 6.0; reference/arm §4.2).
enum class VectorEnable : uint8_t { AllAtOnce, OneByOne };

/// What KVM_IRQFD deassign does to the irqfd's routing entry (virt/kvm/eventfd.c, common to both
/// KVMs; the policies arm.irqfd_deassign and x86.irqfd_deassign are declared where each KVM model
/// reads it). X3 in reference/kernel_history_2021_2026.md.
enum class IrqfdDeassign : uint8_t {
    /// kvm_irqfd_deassign set irqfd->irq_entry.type = 0, so kvm_arch_irq_bypass_del_producer,
    /// which tests for KVM_IRQ_ROUTING_MSI (arm64 since a0d7e2fc61ab, x86 since cb210737675e),
    /// skipped the teardown: "the device keeps posting IRQs to the vCPU even after it's been
    /// deassigned".
    Clobber,
    /// "KVM: Don't clobber irqfd routing type when deassigning irqfd" (Sean Christopherson,
    /// 13 Jan 2026, Cc stable): the type is kept and the bypass is torn down.
    Fixed,
};

/// Live update (`migrate: {kind: cpr}`): when the VMM detaches the preserved VFIO devices'
/// interrupts from the VM it is about to destroy (arm.cpr_detach / x86.cpr_detach, declared where
/// each VMM model reads them).
enum class CprDetach : uint8_t {
    /// KVM_IRQFD deassign of every vector, then the irqchip save (SAVE_PENDING_TABLES, KVM_GET_LAPIC):
    /// the sequence Steve Sistare settled on after Oliver Upton's review (2025-07-14,
    /// <6f7b0581-e44b-4f07-bc7c-9d0a7c12140d@oracle.com>: "I have added it to the QEMU live update
    /// sequence, after calling kvm_irqfd_deassign").
    BeforeSave,
    /// Nothing detaches them until the old QEMU exits and KVM destroys its VM (kvm_irqfd_release),
    /// after the irqchip save: the sequence the rejected A2 patch was written for ("destroys and
    /// recreates the KVM instance, without quiescing VFIO interrupts").
    AtDestroy,
};

/// What the migration stream carries of one device (vfio_save_state / vfio_pci_load_config).
struct DeviceImage {
    bool msix_programmed = false;
    std::vector<bool> held;
    std::vector<MsixEntry> msix;
};

template <class Port>
class Vfio {
   public:
    Vfio(std::vector<PciDevice>& devices, Port port, EventLog& log)
        : devices_(devices), port_(std::move(port)), log_(log) {}

    /// The device raises MSI `vector`; a device that cannot send it holds it (DEVICE.hold); one
    /// that can raise nothing reports the schedule's request as impossible (DEVICE.impossible_msi).
    void fire(size_t device, uint32_t vector) {
        PciDevice& d = devices_.at(device);
        switch (d.raise(vector, log_)) {
            case PciDevice::Raise::Send: send(device, vector); break;
            case PciDevice::Raise::Held: break;
            case PciDevice::Raise::Impossible:
                log_.emit(tp::kDeviceImpossibleMsi.touching(fmt::format("{}.{}", d.name, vector)),
                          d.state == DeviceRunState::Resuming
                              ? "a RESUMING device generates no interrupts (VFIO migration FSM)"
                              : "the device's migration data was read in stop-and-copy: what it raises now "
                                "reaches no machine (VFIO migration FSM, vfio_save_complete_precopy)",
                          d.name, vector, to_string(d.state));
                break;
        }
    }

    /// The guest writes MSI-X table entry `vector` (QEMU's MSI-X emulation); with MSI-X enabled
    /// the route follows (vfio_update_kvm_msi_virq -> KVM_SET_GSI_ROUTING).
    void write_msix(size_t device, uint32_t vector, const MsixEntry& entry) {
        PciDevice& d = devices_.at(device);
        d.msix.at(vector) = entry;
        log_.emit(tp::kQemuMsixWrite, d.name, vector, Hex{entry.address}, Hex{entry.data});
        if (d.msix_enabled && d.vectors[vector].gsi >= 0) port_.update_route(d, vector);
    }

    /// vfio_msix_enable, the part before the bypass: a KVM MSI route and an irqfd per vector and,
    /// for a passthrough device, VFIO_DEVICE_SET_IRQS (host IRQs). Held MSIs of a running device
    /// are sent.
    void msix_enable(size_t device) {
        PciDevice& d = devices_.at(device);
        if (!d.msix_programmed || d.msix_enabled) return;
        for (uint32_t v = 0; v < d.vectors.size(); ++v) {
            VfioVector& vec = d.vectors[v];
            port_.route(d, v);
            vec.irqfd = true;
            if (d.passthrough && vec.host_irq < 0) {
                vec.host_irq = port_.request_host_irq(d, v);
                if (vec.host_irq < 0)
                    log_.emit(tp::kQemuVfioSetIrqsError, "the host has no interrupt vector left (-ENOSPC)", d.name, v);
            }
        }
        d.msix_enabled = true;
        log_.emit(tp::kQemuVfioMsixEnable, d.name, d.vectors.size());
        for (uint32_t v : d.release()) send(device, v);
    }

    /// The irq bypass producers meet the irqfd consumers, one per vector with a host IRQ and an
    /// irqfd. With VectorEnable::OneByOne every step re-registers the vectors already connected,
    /// so each of them is disconnected and connected again.
    void connect_bypass(size_t device, VectorEnable how = VectorEnable::AllAtOnce) {
        PciDevice& d = devices_.at(device);
        if (!d.passthrough || !d.msix_enabled) return;
        auto connect = [&](uint32_t v) {
            VfioVector& vec = d.vectors[v];
            if (vec.host_irq < 0 || !vec.irqfd || vec.bypass) return;
            vec.bypass = true;
            port_.add_producer(d, v);
        };
        const auto n = static_cast<uint32_t>(d.vectors.size());
        if (how == VectorEnable::AllAtOnce) {
            for (uint32_t v = 0; v < n; ++v) connect(v);
            return;
        }
        // QEMU < 6.0: vector 0, then each further vector with a SET_IRQS that tears down and
        // re-registers every eventfd: the connected vectors go through del_producer/add_producer.
        for (uint32_t k = 0; k < n; ++k) {
            log_.emit(tp::kQemuVfioSetIrqs, d.name, k + 1);
            for (uint32_t v = 0; v < k; ++v) {
                if (!d.vectors[v].bypass) continue;
                d.vectors[v].bypass = false;
                port_.del_producer(d, v);
            }
            for (uint32_t v = 0; v <= k; ++v) connect(v);
        }
    }

    /// KVM_IRQFD deassign of one vector: the bypass disconnects; later MSIs reach KVM through
    /// QEMU (KVM_SIGNAL_MSI).
    void irqfd_deassign(size_t device, uint32_t vector) {
        PciDevice& d = devices_.at(device);
        VfioVector& vec = d.vectors.at(vector);
        log_.emit(tp::kQemuIrqfdDeassign, d.name, vector, vec.bypass);
        port_.deassign(d, vector);
        vec.deassigned = vec.deassigned || vec.irqfd;
        vec.irqfd = false;
        vec.bypass = false;
    }

    /// KVM_IRQFD assign of a vector whose irqfd was deassigned: the irqfd consumer registers again
    /// and meets the VFIO producer (kvm_irqfd_assign -> irq_bypass_register_consumer).
    void irqfd_assign(size_t device, uint32_t vector) {
        PciDevice& d = devices_.at(device);
        VfioVector& vec = d.vectors.at(vector);
        log_.emit(tp::kQemuIrqfdAssign, d.name, vector, vec.irqfd);
        if (vec.irqfd || !d.msix_enabled) return;
        port_.assign(d, vector);
        vec.irqfd = true;
        vec.deassigned = false;
        if (d.passthrough && vec.host_irq >= 0) {
            vec.bypass = true;
            port_.add_producer(d, vector);
        }
    }

    /// Live update: the old QEMU detaches every vector of a passthrough device from the VM it is
    /// about to destroy (KVM_IRQFD deassign: the bypass disconnects as for any deassign). From now
    /// on the device's host IRQs only signal the eventfds (host_irq), which the new QEMU inherits.
    void cpr_detach(size_t device) {
        PciDevice& d = devices_.at(device);
        if (!d.passthrough || !d.msix_enabled) return;
        bool any = false;
        for (uint32_t v = 0; v < d.vectors.size(); ++v) {
            VfioVector& vec = d.vectors[v];
            if (vec.detached) continue;
            if (!any) log_.emit(tp::kQemuCprDetach, d.name);
            any = true;
            if (vec.irqfd) irqfd_deassign(device, v);
            vec.detached = true;
        }
    }

    /// Live update, on the new machine: the new QEMU takes over `old`, the running device with its
    /// MSI-X set-up and eventfds (vfio-pci CPR). The host's interrupt for each vector is the same
    /// one; the model's new machine has its own host hardware, so the host IRQ is set up again on
    /// it (docs/design.md "Live update"). The vectors stay detached until cpr_attach.
    void cpr_adopt(size_t device, const PciDevice& old) {
        PciDevice& d = devices_.at(device);
        d.state = old.state;
        d.msix_programmed = old.msix_programmed;
        d.msix_enabled = old.msix_enabled;
        d.msix = old.msix;
        d.held = old.held;
        for (uint32_t v = 0; v < d.vectors.size() && v < old.vectors.size(); ++v) {
            VfioVector& vec = d.vectors[v];
            vec.detached = old.vectors[v].detached;
            vec.eventfd = old.vectors[v].eventfd;
            if (d.passthrough && old.vectors[v].host_irq >= 0) vec.host_irq = port_.request_host_irq(d, v);
        }
        log_.emit(tp::kVfioCprAdopt, d.name, d.vectors.size());
    }

    /// Live update: the new QEMU attaches the preserved eventfds to the new VM: a KVM MSI route and
    /// KVM_IRQFD assign per vector, no VFIO_DEVICE_SET_IRQS. kvm_irqfd_assign polls the eventfd; one
    /// signalled meanwhile is injected once through the new irqfd. A device whose MSI-X was never
    /// enabled takes vfio_msix_enable as usual.
    void cpr_attach(size_t device) {
        PciDevice& d = devices_.at(device);
        if (!d.msix_enabled) {
            msix_enable(device);
            return;
        }
        log_.emit(tp::kQemuCprAttach, d.name, d.vectors.size());
        for (uint32_t v = 0; v < d.vectors.size(); ++v) {
            VfioVector& vec = d.vectors[v];
            if (!vec.detached) continue;
            port_.route(d, v);
            vec.irqfd = true;
            vec.detached = false;
            vec.deassigned = false;
            if (vec.eventfd == 0) continue;
            log_.emit(tp::kVfioEventfdPending, d.name, v, vec.eventfd);
            vec.eventfd = 0;
            port_.inject(d, v, true);
        }
        for (uint32_t v : d.release()) send(device, v);
    }

    /// The VMM installs a routing table without (`present` false) or with the vector's MSI route
    /// (vfio_irq_test -e: an empty table, then the old one again; X2).
    void set_route(size_t device, uint32_t vector, bool present) {
        PciDevice& d = devices_.at(device);
        log_.emit(tp::kQemuSetGsiRouting, d.name, vector, present);
        if (d.msix_enabled) port_.set_route(d, vector, present);
    }

    /// A VFIO host IRQ fired (vfio_msihandler): the eventfd is signalled, and the irqfd (or QEMU
    /// reading the eventfd) injects the MSI.
    void host_irq(int irq) {
        for (PciDevice& d : devices_)
            for (uint32_t v = 0; v < d.vectors.size(); ++v)
                if (d.vectors[v].host_irq == irq) {
                    if (d.vectors[v].detached) {  // live update: nobody reads the eventfd until cpr_attach
                        log_.emit(tp::kVfioEventfdSignal, d.name, v, ++d.vectors[v].eventfd);
                        return;
                    }
                    log_.emit(tp::kVfioMsihandler, d.name, v, d.vectors[v].irqfd);
                    port_.inject(d, v, d.vectors[v].irqfd);
                    return;
                }
        log_.emit(tp::kHostSpuriousIrqError, "a host IRQ that no driver requested", irq);
    }

    /// vfio_vmstate_change: RUNNING, STOP, RESUMING. Entering RUNNING sends held MSIs.
    void set_state(size_t device, DeviceRunState state) {
        PciDevice& d = devices_.at(device);
        d.state = state;
        log_.emit(tp::kVfioSetState, d.name, to_string(state));
        for (uint32_t v : d.release()) send(device, v);
    }

    /// The devices' part of the migration stream, read in stop-and-copy
    /// (vfio_save_complete_precopy / vfio_save_state): a stopped device's data is read now, so it
    /// can raise nothing more.
    std::vector<DeviceImage> save() {
        std::vector<DeviceImage> out;
        for (PciDevice& d : devices_) {
            out.push_back({d.msix_programmed, d.held, d.msix});
            if (d.state == DeviceRunState::Stopped) d.data_read = true;
        }
        return out;
    }
    /// vfio_pci_load_config on the destination: config, MSI-X table, and the MSIs the stream holds
    /// joined with those the RESUMING device raised meanwhile.
    /// In a live update (`keep_passthrough`) the preserved passthrough devices keep their own state.
    void load(const std::vector<DeviceImage>& images, bool keep_passthrough = false) {
        for (size_t i = 0; i < devices_.size() && i < images.size(); ++i) {
            PciDevice& d = devices_[i];
            if (keep_passthrough && d.passthrough) continue;
            d.msix_programmed = images[i].msix_programmed;
            d.load_held(images[i].held);
            d.msix = images[i].msix;
        }
    }

   private:
    void send(size_t device, uint32_t vector) {
        PciDevice& d = devices_.at(device);
        log_.emit(tp::kDeviceMsi, d.name, vector, d.passthrough);
        // X3: an irqfd deassigned while KVM kept its bypass: the MSI still reaches the guest
        // directly, past the VMM that took the vector back.
        if (const char* path = d.passthrough && d.vectors[vector].deassigned ? port_.bypassed(d, vector) : nullptr)
            log_.emit(tp::kDeviceMsiAfterDeassign.touching(fmt::format("{}.{}", d.name, vector)),
                      "KVM kept the bypass of a deassigned irqfd: the MSI reaches the guest past the VMM (X3)", d.name,
                      vector, path);
        if (d.passthrough)
            port_.send_to_host(d, vector);
        else
            port_.inject(d, vector, false);  // an emulated device: QEMU injects with KVM_SIGNAL_MSI
    }

    std::vector<PciDevice>& devices_;
    Port port_;
    EventLog& log_;
};

}  // namespace irqdiff
