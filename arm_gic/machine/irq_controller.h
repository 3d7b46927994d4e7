// The interrupt-controller interface the machine-mode board calls (issue 16 item 1): the MMIO
// ranges it dispatches to the controller, the ICC_* system-register traps, "is an IRQ pending for
// vCPU n", "vCPU n waits in WFI", and the interrupt lines the board's devices drive (the generic
// timer's PPIs, the PL011's SPI). The guest-visible GICv3 over the KVM vgic model (the `mgic`
// component, arm_gic/machine/gicv3_*) implements it in phase 2; until then NoGic stands in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace irqdiff::arm::machine {

/// What an access did: nullopt = done; a string = the guest faults with that reason.
using AccessFault = std::optional<std::string>;

struct MmioRegion {
    uint64_t base;
    uint64_t size;
    std::string name;  // "GICD", "GITS", "GICR"
};

/// An AArch64 system-register encoding (op0, op1, CRn, CRm, op2).
struct SysRegId {
    uint32_t op0, op1, crn, crm, op2;
};

class InterruptController {
   public:
    virtual ~InterruptController() = default;
    /// A short name for reports ("none (phase 1)", "GICv3 (KVM vgic model)").
    virtual std::string name() const = 0;
    /// The guest-physical MMIO regions the board maps to this controller (each 4-KiB aligned).
    virtual std::vector<MmioRegion> mmio_regions() const = 0;
    /// An MMIO access by vCPU `vcpu` at guest-physical `address` (inside one of mmio_regions()),
    /// `size` bytes (1, 2, 4 or 8).
    virtual AccessFault mmio_read(uint32_t vcpu, uint64_t address, unsigned size, uint64_t& value) = 0;
    virtual AccessFault mmio_write(uint32_t vcpu, uint64_t address, unsigned size, uint64_t value) = 0;
    /// An ICC_* system-register access (op0 = 3, op1 = 0, CRn = 12 with CRm >= 8, or ICC_PMR_EL1;
    /// reference/unicorn_2_0_1.md AArch64 item 2).
    virtual AccessFault sysreg_read(uint32_t vcpu, const SysRegId& reg, uint64_t& value) = 0;
    virtual AccessFault sysreg_write(uint32_t vcpu, const SysRegId& reg, uint64_t value) = 0;
    /// A level-sensitive line into the controller: a PPI of vCPU `vcpu` (INTID 16..31; the timer's
    /// 27, 30, ...) or an SPI (INTID 32.., `vcpu` ignored). Called when the level may have changed.
    virtual void set_line(uint32_t vcpu, uint32_t intid, bool level) = 0;
    /// The CPU interface signals an IRQ to vCPU `vcpu`: the board takes it (VBAR_EL1 + 0x280)
    /// when PSTATE.I is clear.
    virtual bool irq_pending(uint32_t vcpu) = 0;
    /// vCPU `vcpu` executed WFI (KVM: kvm_vcpu_wfi -> vgic_v4_put with a doorbell on GICv4.1).
    virtual void vcpu_waits(uint32_t vcpu) = 0;
    /// A WFI wake-up event is pending for a waiting vCPU `vcpu` (the board then resumes it after
    /// its WFI and calls vcpu_runs).
    virtual bool wake_pending(uint32_t vcpu) = 0;
    virtual void vcpu_runs(uint32_t vcpu) = 0;
};

/// Phase 1's placeholder: no GIC model is attached. Every GICD/GITS/GICR access and every ICC_*
/// access is a guest fault saying so; no IRQ is ever pending. A WFI wake-up event is, by this
/// placeholder's policy, any high PPI line of the vCPU (its timer output), so that time-jumping
/// WFI is testable before the GIC exists (docs/machine.md "Phase 1").
class NoGic final : public InterruptController {
   public:
    explicit NoGic(uint32_t vcpus) : ppi_lines_(vcpus, 0) {}
    std::string name() const override { return "none (phase 1: no GIC model attached)"; }
    std::vector<MmioRegion> mmio_regions() const override;
    AccessFault mmio_read(uint32_t vcpu, uint64_t address, unsigned size, uint64_t& value) override;
    AccessFault mmio_write(uint32_t vcpu, uint64_t address, unsigned size, uint64_t value) override;
    AccessFault sysreg_read(uint32_t vcpu, const SysRegId& reg, uint64_t& value) override;
    AccessFault sysreg_write(uint32_t vcpu, const SysRegId& reg, uint64_t value) override;
    void set_line(uint32_t vcpu, uint32_t intid, bool level) override;
    bool irq_pending(uint32_t) override { return false; }
    void vcpu_waits(uint32_t) override {}
    bool wake_pending(uint32_t vcpu) override { return ppi_lines_.at(vcpu) != 0; }
    void vcpu_runs(uint32_t) override {}

   private:
    std::vector<uint32_t> ppi_lines_;  // per vCPU: bit (intid - 16) set while that PPI line is high
};

}  // namespace irqdiff::arm::machine
