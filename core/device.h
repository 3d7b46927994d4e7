// A PCI device with MSI/MSI-X vectors, as the VMM drives it through a VM's life and a live
// migration (VFIO device states RUNNING, STOP, RESUMING: include/uapi/linux/vfio.h migration FSM,
// QEMU hw/vfio/migration.c). A device in STOP "must not generate interrupts"; an MSI it cannot
// send — stopped, or its vectors not set up yet — stays pending in the device, as the MSI-X
// Pending Bit Array holds it, and is sent when the device can send again. A stopped device's
// pending state is part of its own migration data, read in stop-and-copy (vfio_save_complete_
// precopy, the `copy_memory` step): from then until the destination's device runs (its RESUMING
// state included) the device can raise nothing, so a schedule that fires it there asks for the
// impossible (DEVICE.impossible_msi, outcome `impossible`; issue 15 §1.5). Both backends use this;
// how an MSI travels once sent is theirs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/event_log.h"
#include "core/trace_points.h"

namespace irqdiff {

enum class DeviceRunState : uint8_t { Running, Stopped, Resuming };
const char* to_string(DeviceRunState s);

/// One vector's host-side plumbing (passthrough devices).
struct VfioVector {
    int host_irq = -1;    // VFIO's host IRQ (VFIO_DEVICE_SET_IRQS)
    bool irqfd = false;   // a KVM MSI route and irqfd (KVM_IRQFD)
    bool bypass = false;  // the irq bypass producer is connected to the irqfd consumer
    int gsi = -1;         // the KVM GSI of its MSI route (x86; ARM addresses MSIs by DeviceID/EventID)
    bool deassigned = false;  // its irqfd was deassigned and not assigned again (the VMM took it back)
    bool detached = false;    // live update: detached from the old VM, not yet attached to the new one;
                              // its host IRQ only signals the eventfd
    uint32_t eventfd = 0;     // live update: the eventfd's count, signalled while detached
};

/// One entry of the device's MSI-X table as the guest programmed it: the MSI message address and
/// data (x86: LAPIC destination and vector). ARM's guest translates MSIs through the ITS by
/// DeviceID/EventID and leaves the table at zero.
struct MsixEntry {
    uint64_t address = 0;
    uint32_t data = 0;
    bool operator==(const MsixEntry&) const = default;
};

struct PciDevice {
    std::string name;
    bool passthrough = false;
    uint32_t guest_id = 0;  // the requester ID the guest's interrupt translation sees
    uint32_t host_id = 0;   // the host's requester ID / DeviceID (passthrough)
    DeviceRunState state = DeviceRunState::Running;
    bool msix_programmed = false;  // the guest enabled MSI-X (device config, migrated)
    bool msix_enabled = false;     // the VMM set up routes, irqfds and (passthrough) host IRQs
    std::vector<VfioVector> vectors;
    std::vector<MsixEntry> msix;  // the guest-programmed MSI-X table (migrated with the config)
    std::vector<bool> held;       // MSIs waiting in the device
    bool data_read = false;       // STOP, and its migration data was read (stop-and-copy)

    PciDevice(std::string device_name, bool is_passthrough, uint32_t vector_count)
        : name(std::move(device_name)),
          passthrough(is_passthrough),
          vectors(vector_count),
          msix(vector_count),
          held(vector_count, false) {}

    bool can_send() const { return state == DeviceRunState::Running && msix_enabled; }
    /// Whether the device can raise anything at all: not after its migration data was read, and
    /// not while RESUMING (the VFIO migration FSM: only a RUNNING device generates interrupts;
    /// one in STOP may still hold what it latched before it stopped, until its data is read).
    bool can_raise() const { return state == DeviceRunState::Running || (state == DeviceRunState::Stopped && !data_read); }

    enum class Raise : uint8_t { Send, Held, Impossible };
    /// The device raises `vector`: Send when it can send it now; Held when it holds it
    /// (DEVICE.hold); Impossible when it can raise nothing (the caller reports it).
    Raise raise(uint32_t vector, EventLog& log) {
        if (!can_raise()) return Raise::Impossible;
        if (can_send()) return Raise::Send;
        held.at(vector) = true;
        log.emit(tp::kDeviceHold, name, vector, to_string(state), msix_enabled);
        return Raise::Held;
    }
    /// Loading the migrated device state (vfio_load_config): the MSIs pending in the stream (a
    /// RESUMING device raised none of its own).
    void load_held(const std::vector<bool>& saved) {
        for (uint32_t v = 0; v < held.size() && v < saved.size(); ++v) held[v] = saved[v];
    }
    /// Whether `vector` is held here or, before the state is loaded, in `saved`.
    bool holds(uint32_t vector, const std::vector<bool>* saved) const {
        return held.at(vector) || (saved && saved->at(vector));
    }
    /// The vectors to send now that the device may be able to (held ones, in order), cleared.
    std::vector<uint32_t> release() {
        std::vector<uint32_t> out;
        if (!can_send()) return out;
        for (uint32_t v = 0; v < held.size(); ++v)
            if (held[v]) {
                held[v] = false;
                out.push_back(v);
            }
        return out;
    }
};

}  // namespace irqdiff
