#include "arm_gic/machine/kvm_gic.h"

#include <fmt/format.h>

#include "arm_gic/machine/memory_map.h"

namespace irqdiff::arm::machine {

KvmGic::KvmGic(const GicV3Config& config, uint8_t* ram, uint64_t base, uint64_t size, EventLog& log)
    : gic_(std::make_unique<GicV3>(config, ram, base, size, log)),
      taken_(config.vcpus),
      ppi_(config.vcpus, 0) {}

KvmGic::KvmGic(const GicV3Config& config, std::unique_ptr<Machine> machine, EventLog& log)
    : gic_(std::make_unique<GicV3>(config, std::move(machine), log)), taken_(config.vcpus), ppi_(config.vcpus, 0) {}

std::string KvmGic::name() const {
    return fmt::format("GICv3 + ITS (KVM vgic model on a GICv{} host, arm.transfer={})",
                       gic_->config().host == GicVersion::V4_1 ? "4.1" : "4.0",
                       kvm::to_string(gic_->config().transfer));
}

std::vector<MmioRegion> KvmGic::mmio_regions() const {
    // The whole GICR window of QEMU virt (123 frames): accesses past the last vCPU's frame are
    // RAZ/WI and logged by GicV3, as a guest walking the frames stops at GICR_TYPER.Last.
    return {{MemoryMap::kGicd, MemoryMap::kGicdSize, "GICD"},
            {MemoryMap::kGits, MemoryMap::kGitsSize, "GITS"},
            {MemoryMap::kGicr, MemoryMap::kGicrSize, "GICR"}};
}

AccessFault KvmGic::mmio_read(uint32_t vcpu, uint64_t address, unsigned size, uint64_t& value) {
    value = gic_->mmio_read(address, size, vcpu);
    return std::nullopt;
}

AccessFault KvmGic::mmio_write(uint32_t vcpu, uint64_t address, unsigned size, uint64_t value) {
    gic_->mmio_write(address, value, size, vcpu);
    return std::nullopt;
}

static AccessFault undefined(const SysRegId& r, bool read) {
    // An unallocated encoding in the ICC_* space: UNDEFINED (KVM injects an undefined exception
    // for a system register it does not emulate, kvm_handle_sys_reg -> emulate_sys_reg).
    return fmt::format("{} S{}_{}_C{}_C{}_{}: no such GIC CPU-interface register (UNDEFINED)", read ? "MRS of" : "MSR to",
                       r.op0, r.op1, r.crn, r.crm, r.op2);
}

AccessFault KvmGic::sysreg_read(uint32_t vcpu, const SysRegId& r, uint64_t& value) {
    const IccReg reg = icc_reg(r.op0, r.op1, r.crn, r.crm, r.op2);
    if (reg == IccReg::Unknown) return undefined(r, true);
    value = gic_->sysreg_read(vcpu, reg);
    if (reg == IccReg::IAR1 && (value < 1020 || value >= 8192)) ++taken_.at(vcpu)[static_cast<uint32_t>(value)];
    return std::nullopt;
}

AccessFault KvmGic::sysreg_write(uint32_t vcpu, const SysRegId& r, uint64_t value) {
    const IccReg reg = icc_reg(r.op0, r.op1, r.crn, r.crm, r.op2);
    if (reg == IccReg::Unknown) return undefined(r, false);
    gic_->sysreg_write(vcpu, reg, value);
    return std::nullopt;
}

void KvmGic::set_line(uint32_t vcpu, uint32_t intid, bool level) {
    if (intid >= 16 && intid < 32) {
        uint32_t& l = ppi_.at(vcpu);
        const uint32_t bit = uint32_t{1} << (intid - 16);
        if (((l & bit) != 0) == level) return;
        l = level ? (l | bit) : (l & ~bit);
        gic_->set_ppi(vcpu, intid, level);
        return;
    }
    auto it = spi_.find(intid);
    if (it != spi_.end() && it->second == level) return;
    spi_[intid] = level;
    gic_->set_spi(intid, level);
}

}  // namespace irqdiff::arm::machine
