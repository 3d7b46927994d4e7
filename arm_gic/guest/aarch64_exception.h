// Taking an IRQ exception on a Unicorn AArch64 vCPU, shared by the Unicorn ARM guest
// (unicorn_guest.cc) and the machine-mode board (arm_gic/machine/board.cc). Unicorn never enters
// the guest's vectors itself (reference/unicorn_2_0_1.md, AArch64 item 5): ELR_EL1 = PC,
// SPSR_EL1 = PSTATE, PSTATE = EL1h with DAIF masked, PC = VBAR_EL1 + 0x280 (IRQ, current EL with
// SP_ELx).
#pragma once

#include <cstdint>

#include "core/unicorn_cpu.h"

namespace irqdiff::arm {

/// PSTATE.I of the vCPU (UC_ARM64_REG_PSTATE, SPSR layout bit 7).
bool irq_masked(const UnicornCpu& u);

/// Enters the IRQ vector after checking the mode (only AArch64 EL1h: writing PSTATE swaps no
/// banked SP) and VBAR_EL1 (2-KiB aligned, the table inside guest RAM); a GuestFault otherwise.
void enter_irq_exception(UnicornCpu& u);

}  // namespace irqdiff::arm
