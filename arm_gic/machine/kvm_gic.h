// The interrupt controller a machine-mode board gets by default (issue 16 item 4; docs/machine.md
// "The GIC"): the guest-visible GICv3 + ITS of gicv3_gic.h — KVM's vgic and vITS model over the
// GICv4.1 (or 4.0) hardware model — behind the board's InterruptController interface. Its guest
// memory is a view of the board's RAM (AddressSpace::back_with), so the ITS tables, the LPI
// configuration and pending tables the guest programs are read where the guest wrote them, and
// what KVM writes (SAVE_PENDING_TABLES, SAVE_TABLES) lands in the guest's RAM.
//
// It also counts the interrupts the guest takes, by vCPU and INTID (each ICC_IAR1_EL1 read that
// returns an INTID), and forwards the board's lines only when their level changes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "arm_gic/machine/gicv3_gic.h"
#include "arm_gic/machine/irq_controller.h"
#include "core/event_log.h"

namespace irqdiff::arm::machine {

class KvmGic final : public InterruptController {
   public:
    /// A fresh GIC for `config.vcpus` vCPUs whose guest memory is `ram` (`size` bytes at `base`).
    KvmGic(const GicV3Config& config, uint8_t* ram, uint64_t base, uint64_t size, EventLog& log);
    /// A migrated VM's GIC: the destination machine the restore built (its mem.guest the view).
    KvmGic(const GicV3Config& config, std::unique_ptr<Machine> machine, EventLog& log);

    std::string name() const override;
    std::vector<MmioRegion> mmio_regions() const override;
    AccessFault mmio_read(uint32_t vcpu, uint64_t address, unsigned size, uint64_t& value) override;
    AccessFault mmio_write(uint32_t vcpu, uint64_t address, unsigned size, uint64_t value) override;
    AccessFault sysreg_read(uint32_t vcpu, const SysRegId& reg, uint64_t& value) override;
    AccessFault sysreg_write(uint32_t vcpu, const SysRegId& reg, uint64_t value) override;
    void set_line(uint32_t vcpu, uint32_t intid, bool level) override;
    bool irq_pending(uint32_t vcpu) override { return gic_->irq_pending(vcpu); }
    void vcpu_waits(uint32_t vcpu) override { gic_->vcpu_waits(vcpu); }
    bool wake_pending(uint32_t vcpu) override { return gic_->wake_pending(vcpu); }
    void vcpu_runs(uint32_t vcpu) override { gic_->vcpu_runs(vcpu); }

    GicV3& gic() { return *gic_; }
    const GicV3& gic() const { return *gic_; }
    /// Interrupts taken (acknowledged through ICC_IAR1_EL1): per vCPU, INTID -> count.
    const std::vector<std::map<uint32_t, uint64_t>>& taken() const { return taken_; }
    /// The line levels the board last drove (PPIs per vCPU, SPIs), for the migration stream.
    const std::vector<uint32_t>& ppi_levels() const { return ppi_; }

   private:
    std::unique_ptr<GicV3> gic_;
    std::vector<std::map<uint32_t, uint64_t>> taken_;
    std::vector<uint32_t> ppi_;  // per vCPU: bit (intid - 16)
    std::map<uint32_t, bool> spi_;
};

}  // namespace irqdiff::arm::machine
