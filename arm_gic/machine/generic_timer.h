// The AArch64 generic timer of one vCPU, on the board's deterministic virtual time
// (docs/machine.md "Virtual time"): CNTFRQ_EL0, CNTVCT_EL0/CNTPCT_EL0 (CNTVOFF = 0), and the EL1
// virtual and physical timers CNTV_*/CNTP_* (CTL ENABLE/IMASK/ISTATUS, CVAL, TVAL; Arm ARM D11.2,
// reference/arm_virt_machine.md §6). Unicorn 2.0.1 reads CNTVCT_EL0 from host time
// (reference/unicorn_2_0_1.md AArch64 item 8), so the board traps every access here.
#pragma once

#include <cstdint>
#include <optional>

#include "arm_gic/machine/irq_controller.h"

namespace irqdiff::arm::machine {

class GenericTimer {
   public:
    // CNT*_CTL_EL0 bits.
    static constexpr uint64_t kEnable = 1, kImask = 2, kIstatus = 4;
    // The PPIs (reference/arm_virt_machine.md §3, QEMU virt's timer node): INTIDs.
    static constexpr uint32_t kVirtIntid = 27, kPhysIntid = 30;

    struct Channel {
        uint64_t ctl = 0;  // ENABLE, IMASK (ISTATUS computed)
        uint64_t cval = 0;
        bool fired(uint64_t now) const { return (ctl & kEnable) && now >= cval; }
        bool line(uint64_t now) const { return fired(now) && !(ctl & kImask); }
    };

    /// Is `reg` a generic-timer register this model serves (op0 = 3, op1 = 3, CRn = 14, CRm 0/2/3)?
    static bool is_timer_reg(const SysRegId& reg);
    /// An MRS/MSR at virtual time `now`.
    AccessFault read(const SysRegId& reg, uint64_t now, uint64_t& value) const;
    AccessFault write(const SysRegId& reg, uint64_t now, uint64_t value);

    void restore(const Channel& virt, const Channel& phys) { virt_ = virt, phys_ = phys; }
    const Channel& virt() const { return virt_; }
    const Channel& phys() const { return phys_; }
    /// The earliest time after `now` at which an output line rises (enabled, unmasked, not yet
    /// fired), for the all-vCPUs-in-WFI time jump.
    std::optional<uint64_t> next_deadline(uint64_t now) const;

   private:
    Channel virt_, phys_;
};

}  // namespace irqdiff::arm::machine
