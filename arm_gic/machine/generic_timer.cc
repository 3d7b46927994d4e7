#include "arm_gic/machine/generic_timer.h"

#include <fmt/format.h>

#include "arm_gic/machine/memory_map.h"

namespace irqdiff::arm::machine {

namespace {
// op0 = 3, op1 = 3, CRn = 14 (Arm ARM D17.8, generic timer registers):
//   CRm 0: op2 0 CNTFRQ_EL0, 1 CNTPCT_EL0, 2 CNTVCT_EL0
//   CRm 2: op2 0 CNTP_TVAL_EL0, 1 CNTP_CTL_EL0, 2 CNTP_CVAL_EL0
//   CRm 3: op2 0 CNTV_TVAL_EL0, 1 CNTV_CTL_EL0, 2 CNTV_CVAL_EL0
const char* name_of(const SysRegId& r) {
    static const char* const kNames[4][3] = {{"CNTFRQ_EL0", "CNTPCT_EL0", "CNTVCT_EL0"},
                                             {nullptr, nullptr, nullptr},
                                             {"CNTP_TVAL_EL0", "CNTP_CTL_EL0", "CNTP_CVAL_EL0"},
                                             {"CNTV_TVAL_EL0", "CNTV_CTL_EL0", "CNTV_CVAL_EL0"}};
    return r.crm < 4 && r.op2 < 3 ? kNames[r.crm][r.op2] : nullptr;
}
}  // namespace

bool GenericTimer::is_timer_reg(const SysRegId& r) {
    return r.op0 == 3 && r.op1 == 3 && r.crn == 14 && (r.crm == 0 || r.crm == 2 || r.crm == 3);
}

AccessFault GenericTimer::read(const SysRegId& r, uint64_t now, uint64_t& value) const {
    const char* name = name_of(r);
    if (!name) return fmt::format("MRS of S3_3_C14_C{}_{}, a timer register this board does not model", r.crm, r.op2);
    if (r.crm == 0) {
        value = r.op2 == 0 ? kCntfrq : now;  // CNTVOFF_EL2 = 0: CNTVCT = CNTPCT
        return std::nullopt;
    }
    const Channel& c = r.crm == 3 ? virt_ : phys_;
    switch (r.op2) {
        case 0: value = static_cast<uint32_t>(c.cval - now); break;  // TVAL: (CVAL - count)[31:0]
        case 1: value = c.ctl | (c.fired(now) ? kIstatus : 0); break;
        case 2: value = c.cval; break;
    }
    return std::nullopt;
}

AccessFault GenericTimer::write(const SysRegId& r, uint64_t now, uint64_t value) {
    const char* name = name_of(r);
    if (!name) return fmt::format("MSR to S3_3_C14_C{}_{}, a timer register this board does not model", r.crm, r.op2);
    if (r.crm == 0)  // CNTFRQ_EL0 is writable only at the highest EL; the counters are read-only
        return fmt::format("MSR to {}, which EL1 cannot write (UNDEFINED)", name);
    Channel& c = r.crm == 3 ? virt_ : phys_;
    switch (r.op2) {
        case 0:  // TVAL: CVAL = count + SignExtend(value[31:0])
            c.cval = now + static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(value)));
            break;
        case 1: c.ctl = value & (kEnable | kImask); break;  // ISTATUS is read-only
        case 2: c.cval = value; break;
    }
    return std::nullopt;
}

std::optional<uint64_t> GenericTimer::next_deadline(uint64_t now) const {
    std::optional<uint64_t> best;
    for (const Channel* c : {&virt_, &phys_}) {
        if (!(c->ctl & kEnable) || (c->ctl & kImask) || c->cval <= now) continue;
        if (!best || c->cval < *best) best = c->cval;
    }
    return best;
}

}  // namespace irqdiff::arm::machine
