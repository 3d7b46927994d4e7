// QEMU's side of the in-kernel local APIC across a migration (qemu/qemu hw/i386/kvm/apic.c,
// hw/intc/apic_common.c; reference/x86_posted_interrupts_kvm_migration.md §5.2, §5.4): the
// register image KVM_GET_LAPIC returns is copied field by field into QEMU's APICCommonState, which
// the `apic` vmstate migrates, and on the destination kvm_put_apic_state builds a fresh
// kvm_lapic_state from it for KVM_SET_LAPIC (kvm_apic_post_load -> kvm_apic_put, after
// MSR_IA32_APICBASE).
//
// What crosses (kvm_get_apic_state / kvm_put_apic_state, register offsets of the xAPIC page):
//   0x020 ID[31:24] -> id                0x080 TPR -> tpr           0x090 ARBPRI -> arb_id (read only)
//   0x0D0 LDR[31:24] -> log_dest         0x0E0 DFR[31:28] -> dest_mode (put back | 0x0FFFFFFF)
//   0x0F0 SVR -> spurious_vec            0x100/0x180/0x200 ISR, TMR, IRR -> isr[8], tmr[8], irr[8]
//   0x280 ESR    0x300/0x310 ICR -> icr[2]    0x320..0x370 the six LVTs -> lvt[6]
//   0x380 TMICT -> initial_count         0x3E0 TDCR -> divide_conf
// Nothing else: kvm_put_apic_state zeroes the whole kvm_lapic_state first, so VERSION, PPR and,
// above all, TMCCT (0x390, the timer's current count) reach KVM_SET_LAPIC as 0. KVM recomputes PPR
// and the version; for the timer, set_target_expiration then gives an armed one-shot deadline 0
// (8e6ed96cdd50): it fires inside KVM_SET_LAPIC whatever its deadline was (kvm/lapic.cc).
// QEMU's own timer fields (initial_count_load_time, next_time, computed by apic_next_timer at get)
// never reach KVM and are not modelled.
#pragma once

#include <array>
#include <cstdint>

#include "core/bits.h"
#include "x86_pi/kvm/kvm.h"

namespace irqdiff::x86::vmm {

/// APICCommonState, the fields vmstate_apic_common carries that the KVM APIC path reads or writes.
struct ApicState {
    uint64_t apicbase = 0;  // from MSR_IA32_APICBASE (kvm_get_sregs), written first at restore
    uint8_t id = 0;
    uint8_t arb_id = 0;
    uint8_t tpr = 0;
    uint32_t spurious_vec = 0;
    uint8_t log_dest = 0;
    uint8_t dest_mode = 0;
    std::array<uint32_t, 8> isr{};
    std::array<uint32_t, 8> tmr{};
    std::array<uint32_t, 8> irr{};
    std::array<uint32_t, 6> lvt{};  // APIC_LVT_NB: LVTT, LVTTHMR, LVTPC, LINT0, LINT1, LVTERR
    uint32_t esr = 0;
    std::array<uint32_t, 2> icr{};
    uint32_t divide_conf = 0;
    uint32_t initial_count = 0;
    BitArray<256> soft{};  // model provenance (kvm::Vcpu::soft), carried beside the state

    bool irr_test(uint8_t vector) const { return (irr.at(vector / 32) >> (vector % 32)) & 1; }
    bool operator==(const ApicState&) const = default;
};

/// kvm_get_apic_state: the fields above from KVM_GET_LAPIC's image (TMCCT is not among them).
ApicState kvm_get_apic_state(const kvm::LapicImage& image);
/// kvm_put_apic_state: a zeroed kvm_lapic_state with the fields above; MSR_IA32_APICBASE beside it.
kvm::LapicImage kvm_put_apic_state(const ApicState& s);

}  // namespace irqdiff::x86::vmm
