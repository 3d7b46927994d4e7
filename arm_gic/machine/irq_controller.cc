#include "arm_gic/machine/irq_controller.h"

#include <fmt/format.h>

#include "arm_gic/machine/memory_map.h"

namespace irqdiff::arm::machine {

namespace {
std::string region_of(uint64_t a) {
    if (a >= MemoryMap::kGicd && a < MemoryMap::kGicd + MemoryMap::kGicdSize) return "GICD (distributor)";
    if (a >= MemoryMap::kGits && a < MemoryMap::kGits + MemoryMap::kGitsSize) return "GITS (ITS)";
    return "GICR (redistributors)";
}
constexpr const char* kPhase1 = "no GIC model is attached to this board (phase 1; docs/machine.md \"Phase 1\")";
}  // namespace

std::vector<MmioRegion> NoGic::mmio_regions() const {
    return {{MemoryMap::kGicd, MemoryMap::kGicdSize, "GICD"},
            {MemoryMap::kGits, MemoryMap::kGitsSize, "GITS"},
            {MemoryMap::kGicr, MemoryMap::kGicrSize, "GICR"}};
}

AccessFault NoGic::mmio_read(uint32_t, uint64_t address, unsigned size, uint64_t&) {
    return fmt::format("{}-byte read of {} at {:#x}: {}", size, region_of(address), address, kPhase1);
}
AccessFault NoGic::mmio_write(uint32_t, uint64_t address, unsigned size, uint64_t value) {
    return fmt::format("{}-byte write of {:#x} to {} at {:#x}: {}", size, value, region_of(address), address, kPhase1);
}
AccessFault NoGic::sysreg_read(uint32_t, const SysRegId& r, uint64_t&) {
    return fmt::format("MRS of the GIC CPU-interface register S{}_{}_C{}_C{}_{}: {}", r.op0, r.op1, r.crn, r.crm, r.op2,
                       kPhase1);
}
AccessFault NoGic::sysreg_write(uint32_t, const SysRegId& r, uint64_t) {
    return fmt::format("MSR of the GIC CPU-interface register S{}_{}_C{}_C{}_{}: {}", r.op0, r.op1, r.crn, r.crm, r.op2,
                       kPhase1);
}
void NoGic::set_line(uint32_t vcpu, uint32_t intid, bool level) {
    if (intid < 16 || intid >= 32) return;  // SPIs go nowhere without a distributor
    uint32_t& l = ppi_lines_.at(vcpu);
    const uint32_t bit = uint32_t{1} << (intid - 16);
    l = level ? (l | bit) : (l & ~bit);
}

}  // namespace irqdiff::arm::machine
