// The host kernel's interrupt-remapping driver (drivers/iommu/intel/irq_remapping.c) as VFIO and
// KVM use it [reference/x86_posted_interrupts_kvm_migration.md §1.2, §4.5 ("reference §1.2")]:
// the interrupt remapping table in host memory, a remapped IRTE and a host vector for each host
// IRQ VFIO requests (VFIO_DEVICE_SET_IRQS), the physical MSI the device is programmed with, and
// intel_ir_set_vcpu_affinity, which turns an entry into a posted one for a vCPU or back.
//
// Host memory: the IRT at 0x4000'0000 (2^16 entries of 16 bytes; IRTA.S = 15). Host IRQ k gets
// IRTE k and host vector 0x30 + k % 176 on pCPU (k / 176) mod pCPUs (affinity: the driver spreads
// them; the model's spread is fixed so runs are deterministic).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/event_log.h"
#include "core/memory.h"
#include "x86_pi/hw/iommu.h"
#include "x86_pi/hw/irte.h"
#include "x86_pi/hw/platform.h"

namespace irqdiff::x86::host {

struct HostIrq {
    uint32_t index = 0;     // its IRTE
    uint8_t vector = 0;     // its host vector
    uint32_t cpu = 0;       // the pCPU it is affine to
    uint16_t sid = 0;       // the device's requester ID
    RemappedIrte remapped;  // the cached host-mode entry (struct irq_2_iommu's irte)
    bool posted = false;    // the IRTE currently posts to a vCPU
};

struct IrqRemappingState {
    std::vector<HostIrq> irqs;  // by host IRQ number
};

/// What intel_ir_set_vcpu_affinity is given for posting: the vCPU's PID and the guest vector.
struct PostedTarget {
    uint64_t pid = 0;
    uint8_t vector = 0;
};

class IrqRemapping {
   public:
    static constexpr uint64_t kIrt = 0x4000'0000;
    static constexpr unsigned kIrtaS = 15;  // 2^(15+1) entries
    static constexpr uint8_t kFirstVector = 0x30;
    static constexpr unsigned kVectorsPerCpu = 176;  // 0x30..0xDF

    IrqRemapping(IrqRemappingState& state, Platform& platform, AddressSpace& host_memory, EventLog& log)
        : s_(&state), hw_(&platform), mem_(&host_memory), log_(&log) {}

    /// intel_setup_irq_remapping: table address and size, SIRTP, IRE.
    void init();
    /// A host IRQ for one MSI-X vector of device `sid` (VFIO_DEVICE_SET_IRQS -> request_irq):
    /// a remapped entry to the IRQ's host vector and pCPU. Returns the IRQ, or -1 when the host
    /// has no vector left.
    int request_irq(uint16_t sid);
    /// The physical MSI the device's MSI-X entry holds for `irq` (remappable format, handle =
    /// the IRTE index).
    MsiRequest physical_msi(int irq) const;
    /// intel_ir_set_vcpu_affinity: post to `target`, or (nullopt) back to host (remapped) mode.
    void set_vcpu_affinity(int irq, std::optional<PostedTarget> target);
    const HostIrq& irq(int n) const { return s_->irqs.at(static_cast<size_t>(n)); }
    /// The IRTE as it is in host memory now (tests, locations).
    IrteWords read_irte(uint32_t index) const;

   private:
    /// modify_irte: replace the 128-bit entry with one compare-exchange, then invalidate the
    /// interrupt entry cache for it (qi_flush_iec) [reference §1.2].
    void modify_irte(uint32_t index, const IrteWords& entry);

    IrqRemappingState* s_;
    Platform* hw_;
    AddressSpace* mem_;
    EventLog* log_;
};

}  // namespace irqdiff::x86::host
