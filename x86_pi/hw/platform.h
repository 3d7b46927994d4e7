// The x86 host platform: physical CPUs (pCPU n has APIC ID n) and the VT-d interrupt-remapping
// unit. A device's MSI reaches the platform as a write on the modelled bus (core/bus.h) and goes
// to the IOMMU; the interrupt bus carries physical interrupt messages (a remapped device
// interrupt, a posted-interrupt notification, an IPI) to the local APIC they name. Host memory
// (the IRT, PIDs, virtual-APIC pages) belongs to the machine that owns the Platform; copying a
// machine copies the Platform, and attach() points the copy at the copy's memory and log.
#pragma once

#include <cstdint>
#include <vector>

#include "core/bus.h"
#include "core/event_log.h"
#include "core/memory.h"
#include "x86_pi/hw/cpu.h"
#include "x86_pi/hw/iommu.h"

namespace irqdiff::x86 {

class Platform {
   public:
    Platform(unsigned cpus, AddressSpace& host_memory, EventLog& log);
    void attach(AddressSpace& host_memory, EventLog& log);

    Iommu& iommu() { return iommu_; }
    const Iommu& iommu() const { return iommu_; }
    unsigned cpu_count() const { return static_cast<unsigned>(cpus_.size()); }
    Cpu& cpu(unsigned n) { return cpus_.at(n); }
    const Cpu& cpu(unsigned n) const { return cpus_.at(n); }

    /// A device's MSI write on the bus is an interrupt request to the IOMMU (its source-id the
    /// write's requester id: a PCI requester ID, 16 bits); what it remaps to or notifies is sent.
    /// Every address goes to the IOMMU, which blocks one outside its remappable window.
    IrResult msi(const MsiWrite& write);
    /// A fixed, edge, physical-destination interrupt message on the bus.
    void send(const InterruptMessage& message);
    /// The lowest-numbered pCPU with work for the host (an interrupt to take or a VM exit), or -1.
    int next_host_work() const;

   private:
    EventLog* log_;
    Iommu iommu_;
    std::vector<Cpu> cpus_;
};

}  // namespace irqdiff::x86
