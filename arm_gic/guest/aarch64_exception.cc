#include "arm_gic/guest/aarch64_exception.h"

#include <fmt/format.h>

#include "core/bits.h"

namespace irqdiff::arm {

namespace {

// PSTATE as UC_ARM64_REG_PSTATE reads it (SPSR layout, Arm ARM C5.2.18 SPSR_EL1 for AArch64):
struct Pstate {
    static constexpr Field<9> D{};
    static constexpr Field<8> A{};
    static constexpr Field<7> I{};
    static constexpr Field<6> F{};
    static constexpr Field<4> nRW{};   // 0: AArch64
    static constexpr Field<3, 0> M{};  // EL and SP: 0b0101 = EL1h (EL1 with SP_EL1)
    static constexpr uint64_t kEl1h = 0b0101;
};
// What the CPU sets on taking an IRQ to EL1h: DAIF all masked, EL1h (reference/unicorn_2_0_1.md,
// AArch64 item 5).
constexpr uint64_t kIrqEntryPstate =
    Pstate::D.make(1) | Pstate::A.make(1) | Pstate::I.make(1) | Pstate::F.make(1) | Pstate::M.make(Pstate::kEl1h);
static_assert(kIrqEntryPstate == 0x3c5);

constexpr uint64_t kVectorTableBytes = 0x800;  // VBAR_EL1[10:0] are RES0: 2-KiB aligned
constexpr uint64_t kIrqFromEl1h = 0x280;       // "current EL with SP_ELx", IRQ

}  // namespace

bool irq_masked(const UnicornCpu& u) { return Pstate::I.get(u.reg(UC_ARM64_REG_PSTATE)) != 0; }

void enter_irq_exception(UnicornCpu& u) {
    const uint64_t pc = u.pc();
    const uint64_t pstate = u.reg(UC_ARM64_REG_PSTATE);
    if (Pstate::nRW.get(pstate) || Pstate::M.get(pstate) != Pstate::kEl1h)
        u.fault(pc, fmt::format("an IRQ can be taken here only from AArch64 EL1h, but PSTATE is {:#x}", pstate));
    const uint64_t vbar = u.sysreg(3, 0, 12, 0, 0);  // VBAR_EL1
    GuestRam& ram = u.ram();
    if (vbar % kVectorTableBytes || !ram.contains(vbar, kVectorTableBytes))
        u.fault(pc, fmt::format("cannot take an IRQ: VBAR_EL1 = {:#x} is not a 2-KiB-aligned vector table inside "
                                "guest RAM ({:#x}..{:#x})",
                                vbar, ram.base(), ram.base() + ram.size() - 1));
    u.set_sysreg(3, 0, 4, 0, 1, pc);      // ELR_EL1
    u.set_sysreg(3, 0, 4, 0, 0, pstate);  // SPSR_EL1
    u.set_reg(UC_ARM64_REG_PSTATE, kIrqEntryPstate);
    u.set_pc(vbar + kIrqFromEl1h);
}

}  // namespace irqdiff::arm
