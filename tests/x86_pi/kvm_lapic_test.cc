// KVM's in-kernel local APIC (x86_pi/kvm/lapic.cc): reset values, register writes and their
// effects, the APIC map and MSI destination matching, KVM_GET_LAPIC and KVM_SET_LAPIC
// [reference/x86_posted_interrupts_kvm_migration.md §4.5, §4.6, §5.2, §5.3, §7 item 2].
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/x86_pi/x86_harness.h"
#include "x86_pi/guest/guest.h"
#include "x86_pi/vmm/apic.h"

namespace irqdiff::x86 {
namespace {

using kvm::kEinval;
using kvm::kOk;
using kvm::LapicImage;
using kvm::SetLapicClear;
using testing::arg;
using testing::logical_msi;
using testing::Machine;
using testing::physical_msi;
using testing::VcpuRun;

constexpr uint64_t kApicBaseEnable = uint64_t{1} << 11;
constexpr uint64_t kApicBaseExtd = uint64_t{1} << 10;
constexpr uint64_t kApicBaseBsp = uint64_t{1} << 8;

void set_reg(LapicImage& image, uint32_t offset, uint32_t value) {
    for (unsigned i = 0; i < 4; ++i) image.regs[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}
void set_bit(LapicImage& image, uint32_t reg, uint8_t vector) {
    uint32_t at = apic::bit_offset(reg, vector);
    set_reg(image, at, image.reg(at) | (1u << (vector & 31)));
}

// ---- reset ---------------------------------------------------------------------------------------

// kvm_lapic_reset at KVM_CREATE_VCPU: xAPIC ID = vCPU id, DFR flat, SVR 0xFF (software-disabled),
// LVTT masked, nothing pending; MSR_IA32_APICBASE = 0xFEE00000 | enable, BSP only for vCPU 0.
TEST(LapicReset, RegistersAndApicBaseHaveTheirPowerUpValues) {
    Machine m(3);
    for (uint32_t v = 0; v < 3; ++v) {
        SCOPED_TRACE(v);
        ApicPage p = m.page(v);
        EXPECT_EQ(p.read(apic::ID), v << 24);
        EXPECT_EQ(p.read(apic::DFR), apic::kDfrFlat);
        EXPECT_EQ(p.read(apic::LDR), 0u);
        EXPECT_EQ(p.read(apic::SVR), 0xFFu);
        EXPECT_EQ(p.read(apic::LVT_TIMER), apic::kLvtMasked);
        EXPECT_EQ(p.read(apic::TPR), 0u);
        EXPECT_EQ(p.read(apic::TMICT), 0u);
        EXPECT_EQ(p.highest(apic::IRR), -1);
        EXPECT_EQ(p.highest(apic::ISR), -1);
        EXPECT_EQ(p.read(apic::VERSION) & 0xFF, 0x14u);  // an integrated APIC
        const uint64_t base = m.vcpu(v).apic_base;
        EXPECT_EQ(base & ~uint64_t{0xFFF}, 0xFEE0'0000u);
        EXPECT_TRUE(base & kApicBaseEnable);
        EXPECT_FALSE(base & kApicBaseExtd);
        EXPECT_EQ((base & kApicBaseBsp) != 0, v == 0);
        EXPECT_FALSE(m.vcpu(v).timer_armed);
    }
}

// __vmx_vcpu_reset [reference §4.3]: the PID starts with NV = POSTED_INTR_VECTOR and SN = 1; init_vmcs
// points the VMCS at the PID and the register page, with PINV = 0xF2.
TEST(LapicReset, PidAndVmcsPointAtTheVcpusOwnPages) {
    Machine m(2);
    for (uint32_t v = 0; v < 2; ++v) {
        SCOPED_TRACE(v);
        PiDesc d = m.pid(v);
        EXPECT_EQ(d.nv, kvm::kPostedIntrVector);
        EXPECT_TRUE(d.sn);
        EXPECT_FALSE(d.on);
        EXPECT_FALSE(d.pir.any());
        EXPECT_EQ(m.vmcs(v).pid_addr, kvm::HostLayout::pid(v));
        EXPECT_EQ(m.vmcs(v).virtual_apic_addr, kvm::HostLayout::apic_page(v));
        EXPECT_EQ(m.vmcs(v).pinv, kvm::kPostedIntrVector);
        EXPECT_TRUE(m.vmcs(v).process_posted_interrupts);
    }
}

// __apic_accept_irq: a software-disabled APIC (SVR[8] = 0, as at reset) accepts no fixed interrupt.
TEST(LapicReset, SoftwareDisabledApicAcceptsNothing) {
    Machine m(1);
    size_t from = m.mark();
    m.kvm().set_msi(physical_msi(0, 0x41), "test");
    EXPECT_EQ(m.find(tp::kKvmAcceptIrqIgnored, {arg("vector", Hex{0x41})}, from).size(), 1u);
    EXPECT_FALSE(m.pir(0, 0x41));
    EXPECT_FALSE(m.virr(0, 0x41));
}

// ---- kvm_lapic_reg_write ------------------------------------------------------------------------------

// kvm_lapic_reg_write(APIC_ID): only ID[31:24] is kept in xAPIC mode, and the APIC map is
// recomputed (kvm_recalculate_apic_map): the old ID names nobody, the new one the vCPU.
TEST(LapicWrite, IdKeepsBits31To24AndMovesThePhysicalMapEntry) {
    Machine m(2);
    m.kvm().lapic_write(1, apic::ID, 0x05AB'CDEF);
    EXPECT_EQ(m.page(1).read(apic::ID), 0x0500'0000u);
    EXPECT_EQ(m.state().map.phys[5], 1);
    EXPECT_EQ(m.state().map.phys[1], -1);
    EXPECT_EQ(m.kvm().msi_destinations(physical_msi(5, 0x41)), std::vector<uint32_t>{1});
    EXPECT_TRUE(m.kvm().msi_destinations(physical_msi(1, 0x41)).empty());
}

// kvm_lapic_reg_write(APIC_LDR, APIC_DFR): LDR keeps [31:24]; DFR's low 28 bits read as ones; only
// a flat-model (DFR[31:28] = 0xF), software-enabled APIC joins the flat logical map.
TEST(LapicWrite, LdrAndDfrDecideFlatLogicalMembership) {
    Machine m(2);
    m.kvm().lapic_write(0, apic::SVR, 0x1FF);
    m.kvm().lapic_write(0, apic::LDR, 0x01FF'FFFF);
    EXPECT_EQ(m.page(0).read(apic::LDR), 0x0100'0000u);
    EXPECT_EQ(m.state().map.logical[0], 0);
    EXPECT_EQ(m.kvm().msi_destinations(logical_msi(0x01, 0x41)), std::vector<uint32_t>{0});

    m.kvm().lapic_write(0, apic::DFR, 0);  // cluster model
    EXPECT_EQ(m.page(0).read(apic::DFR), 0x0FFF'FFFFu);
    EXPECT_EQ(m.state().map.logical[0], -1);
    EXPECT_TRUE(m.kvm().msi_destinations(logical_msi(0x01, 0x41)).empty());
    EXPECT_EQ(m.kvm().single_vcpu(logical_msi(0x01, 0x41)), -1);
}

// kvm_lapic_reg_write(APIC_SPIV): SVR keeps [9:0]; software-disabling the APIC masks every LVT
// entry (the timer's here).
TEST(LapicWrite, SvrSoftwareDisableMasksTheTimerLvt) {
    Machine m(1);
    m.kvm().lapic_write(0, apic::SVR, 0xFFFF'F1FF);
    EXPECT_EQ(m.page(0).read(apic::SVR), 0x1FFu);
    m.kvm().lapic_write(0, apic::LVT_TIMER, 0xEC);
    EXPECT_FALSE(apic::LvtTimer::Mask.get(m.page(0).read(apic::LVT_TIMER)));
    m.kvm().lapic_write(0, apic::SVR, 0x0FF);
    EXPECT_TRUE(apic::LvtTimer::Mask.get(m.page(0).read(apic::LVT_TIMER)));
    EXPECT_EQ(apic::LvtTimer::Vector.get(m.page(0).read(apic::LVT_TIMER)), 0xECu);
}

// kvm_lapic_reg_write(APIC_TASKPRI) -> apic_update_ppr [reference §4.6]: TPR keeps [7:0]; PPR =
// TPR if TPR[7:4] >= ISRV[7:4], else ISRV & 0xF0; KVM_REQ_EVENT.
TEST(LapicWrite, TprRecomputesPprAndRequestsAnEvent) {
    Machine m(1);
    m.page(0).set(apic::ISR, 0x51);
    m.vcpu(0).req_event = false;
    m.kvm().lapic_write(0, apic::TPR, 0x1234);
    EXPECT_EQ(m.page(0).read(apic::TPR), 0x34u);
    EXPECT_EQ(m.page(0).read(apic::PPR), 0x50u);  // ISR's class wins over TPR 0x34
    EXPECT_TRUE(m.vcpu(0).req_event);
    m.kvm().lapic_write(0, apic::TPR, 0x72);
    EXPECT_EQ(m.page(0).read(apic::PPR), 0x72u);  // TPR's class 7 >= ISR's 5
}

// apic_set_eoi [reference §4.6]: the highest in-service vector is cleared, SVI follows to the next
// highest (APICv), PPR is recomputed; an EOI with nothing in service is ignored.
TEST(LapicWrite, EoiClearsTheHighestIsrAndSviFollows) {
    Machine m(1);
    m.page(0).set(apic::ISR, 0x51);
    m.page(0).set(apic::ISR, 0x62);
    m.kvm().lapic_write(0, apic::EOI, 0);
    EXPECT_FALSE(m.visr(0, 0x62));
    EXPECT_TRUE(m.visr(0, 0x51));
    EXPECT_EQ(m.vmcs(0).svi, 0x51);
    EXPECT_EQ(m.page(0).read(apic::PPR), 0x50u);
    m.kvm().lapic_write(0, apic::EOI, 0);
    EXPECT_EQ(m.page(0).highest(apic::ISR), -1);
    EXPECT_EQ(m.vmcs(0).svi, 0);
    EXPECT_EQ(m.page(0).read(apic::PPR), 0u);
    size_t from = m.mark();
    m.kvm().lapic_write(0, apic::EOI, 0);
    EXPECT_EQ(m.count(tp::kKvmEoiIgnored, from), 1u);
}

class LapicReadOnly : public ::testing::TestWithParam<uint32_t> {};

// kvm_lapic_reg_write: VERSION, PPR, ISR, TMR, IRR and TMCCT are read-only; the write changes nothing
// and is logged as ignored.
TEST_P(LapicReadOnly, WriteIsIgnored) {
    const uint32_t reg = GetParam();
    Machine m(1);
    const uint32_t before = m.page(0).read(reg);
    size_t from = m.mark();
    m.kvm().lapic_write(0, reg, 0xA5A5'A5A5);
    EXPECT_EQ(m.page(0).read(reg), before);
    EXPECT_EQ(m.find(tp::kKvmLapicWriteIgnored, {arg("reg", Hex{reg})}, from).size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(ReadOnlyRegisters, LapicReadOnly,
                         ::testing::Values(apic::VERSION, apic::PPR, apic::ISR, apic::TMR + 0x10, apic::IRR + 0x70,
                                           apic::TMCCT),
                         [](const ::testing::TestParamInfo<uint32_t>& info) {
                             return "Offset" + std::to_string(info.param);
                         });

// kvm_apic_send_ipi (issue 15 §2.1; reference/x86 §4.1): a trapped ICR low write sends the IPI in
// software to the ICR_HI destination (physical APIC ID 1 here): __apic_accept_irq posts it into
// vCPU 1's PIR. A shorthand is not modelled: a guest error that sends nothing.
TEST(LapicWrite, IcrWriteSendsTheIpiThroughKvmApicSendIpi) {
    Machine m(2);
    m.start_all();
    size_t from = m.mark();
    m.kvm().lapic_write(0, apic::ICR_HI, 0x01FF'FFFF);
    EXPECT_EQ(m.page(0).read(apic::ICR_HI), 0x0100'0000u);
    m.kvm().lapic_write(0, apic::ICR_LO, 0x41);  // fixed, physical, vector 0x41, to the ICR_HI destination
    EXPECT_EQ(m.count(tp::kKvmSendIpi, from), 1u);
    EXPECT_TRUE(m.pir(1, 0x41) || m.virr(1, 0x41));
    size_t again = m.mark();
    m.kvm().lapic_write(0, apic::ICR_LO, 0x42 | (3u << 18));  // all-excluding-self shorthand
    EXPECT_EQ(m.count(tp::kKvmLapicWriteIpiError, again), 1u);
    EXPECT_FALSE(m.pir(1, 0x42) || m.virr(1, 0x42));
}

// The one-shot and TSC-deadline timer modes are modelled: a periodic LVTT is a guest error.
TEST(LapicWrite, PeriodicTimerModeIsAGuestError) {
    Machine m(1);
    size_t from = m.mark();
    m.kvm().lapic_write(0, apic::LVT_TIMER, 0xEC);
    EXPECT_EQ(m.count({tp::kKvmLapicWriteIpiError, tp::kKvmLapicWriteTimerModeError}, from), 0u);
    m.kvm().lapic_write(0, apic::LVT_TIMER, static_cast<uint32_t>(apic::LvtTimer::Mode.make(1)) | 0xEC);
    EXPECT_EQ(m.count({tp::kKvmLapicWriteIpiError, tp::kKvmLapicWriteTimerModeError}, from), 1u);
}

// start_apic_timer: writing TMICT arms the one-shot timer, 0 disarms it. At its deadline the
// hrtimer (apic_timer_fn -> apic_timer_expired) counts the tick in lapic_timer.pending and kicks the
// vCPU out of the guest (kvm_use_posted_timer_interrupt is off by default); vcpu_run injects it
// before the next entry (kvm_inject_pending_timer_irqs), posted into PIR and synced into vIRR.
TEST(LapicWrite, TmictArmsTheOneShotTimerAndZeroDisarmsIt) {
    Machine m(1);
    m.start_all();
    m.apic_write(0, apic::LVT_TIMER, kTimerVector);
    m.apic_write(0, apic::TMICT, 0x1000);
    EXPECT_TRUE(m.vcpu(0).timer_armed);
    m.apic_write(0, apic::TMICT, 0);
    EXPECT_FALSE(m.vcpu(0).timer_armed);
    m.apic_write(0, apic::TMICT, 0x1000);
    m.cpu(0).guest_set_if(false);
    size_t from = m.mark();
    m.kvm().timer_expired(0);
    EXPECT_FALSE(m.vcpu(0).timer_armed);
    EXPECT_TRUE(m.vcpu(0).timer_pending);
    EXPECT_FALSE(m.virr(0, kTimerVector));
    m.service();  // the kick's reschedule IPI: an exit, then vcpu_run re-enters
    EXPECT_FALSE(m.vcpu(0).timer_pending);
    EXPECT_TRUE(m.virr(0, kTimerVector));
    EXPECT_EQ(m.count(tp::kKvmTimerPending, from), 1u);
    EXPECT_EQ(m.count(tp::kKvmInjectPendingTimer, from), 1u);
    EXPECT_TRUE(m.cpu(0).in_guest());
}

// kvm_lapic_reg_write (APIC_TMICT): cancel_apic_timer zeroes lapic_timer.pending before the timer
// restarts, so a tick still pending when the guest re-arms is dropped.
TEST(LapicWrite, TmictWriteDropsAPendingTick_cancel_apic_timer) {
    Machine m(1);
    m.start_all();
    m.apic_write(0, apic::LVT_TIMER, kTimerVector);
    m.apic_write(0, apic::TMICT, 0x1000);
    m.kvm().leave_guest(0, true);  // preempted: out of the guest, the tick waits
    m.kvm().timer_expired(0);
    ASSERT_TRUE(m.vcpu(0).timer_pending);
    m.kvm().lapic_write(0, apic::TMICT, 0x2000);
    EXPECT_FALSE(m.vcpu(0).timer_pending);
    EXPECT_TRUE(m.vcpu(0).timer_armed);
}

// kvm_vcpu_check_block wakes a halted vCPU for a pending timer tick (kvm_cpu_has_pending_timer);
// vcpu_run injects it and vcpu_block finds the vCPU runnable (mp_state RUNNABLE again).
TEST(LapicTimer, PendingTickWakesAHaltedVcpu_kvm_vcpu_check_block) {
    Machine m(1);
    m.start_all();
    m.apic_write(0, apic::LVT_TIMER, kTimerVector);
    m.apic_write(0, apic::TMICT, 0x1000);
    m.hlt(0);
    ASSERT_EQ(m.vcpu(0).run, VcpuRun::Blocked);
    ASSERT_EQ(m.vcpu(0).mp_state, kvm::MpState::Halted);
    m.kvm().timer_expired(0);
    m.service();
    EXPECT_EQ(m.vcpu(0).run, VcpuRun::Runnable);
    EXPECT_EQ(m.vcpu(0).mp_state, kvm::MpState::Runnable);
    EXPECT_FALSE(m.vcpu(0).timer_pending);
    EXPECT_TRUE(m.pir(0, kTimerVector) || m.virr(0, kTimerVector));
    m.start(0);
    EXPECT_EQ(m.take_all(0), std::vector<uint8_t>{kTimerVector});
}

// APIC-write emulation (SDM §29.4.3): with APICv the CPU stores the guest's LDR write and exits
// trap-like; KVM then applies kvm_lapic_reg_write to the stored value (masking it, updating the map).
TEST(LapicWrite, ApicWriteExitAppliesTheStoredValue) {
    Machine m(2);
    m.start(0);
    m.start(1);
    m.apic_write(1, apic::SVR, 0x1FF);  // software-enabled: only then in the logical map
    size_t from = m.mark();
    m.apic_write(1, apic::LDR, 0x04FF'FFFF);
    EXPECT_EQ(m.find({tp::kCpuVmExitApicRead, tp::kCpuVmExit}, {arg("reason", "apic-write")}, from).size(), 1u);
    EXPECT_EQ(m.page(1).read(apic::LDR), 0x0400'0000u);
    EXPECT_EQ(m.state().map.logical[2], 1);
    EXPECT_TRUE(m.cpu(1).in_guest());  // resumed
}

// ---- the APIC map (kvm_recalculate_apic_map) ---------------------------------------------------------

// After the guest's LAPIC set-up every vCPU is named by its xAPIC ID and its flat logical bit.
TEST(ApicMap, PhysicalAndLogicalIdsNameTheirVcpu) {
    Machine m(3);
    m.start_all();
    const kvm::ApicMap& map = m.state().map;
    for (int v = 0; v < 3; ++v) {
        EXPECT_EQ(map.phys[static_cast<size_t>(v)], v);
        EXPECT_EQ(map.logical[static_cast<size_t>(v)], v);
    }
    EXPECT_EQ(map.phys[3], -1);
    EXPECT_EQ(map.logical[3], -1);
}

// Two APICs with one ID: the map marks the slot aliased (-2), so neither is a single destination
// (kvm_intr_is_single_vcpu_fast fails), while delivery still reaches both.
TEST(ApicMap, SharedIdsAreAliasedAndNeverASingleDestination) {
    Machine m(2);
    m.start_all();
    m.kvm().lapic_write(1, apic::ID, 0);
    EXPECT_EQ(m.state().map.phys[0], -2);
    EXPECT_EQ(m.kvm().single_vcpu(physical_msi(0, 0x41)), -1);
    EXPECT_EQ(m.kvm().msi_destinations(physical_msi(0, 0x41)), (std::vector<uint32_t>{0, 1}));

    m.kvm().lapic_write(1, apic::LDR, static_cast<uint32_t>(apic::Ldr::LogicalId.make(1)));
    EXPECT_EQ(m.state().map.logical[0], -2);
    EXPECT_EQ(m.kvm().single_vcpu(logical_msi(0x01, 0x41)), -1);
}

// kvm_recalculate_logical_map returns early for an APIC that is not software-enabled (`if
// (!kvm_apic_sw_enabled(apic)) return;`, torvalds/linux arch/x86/kvm/lapic.c; apic_set_spiv marks
// the map dirty when SVR[8] changes): its LDR names nobody in the logical map, so it neither is a
// single logical destination (kvm_intr_is_single_vcpu: such a route is not posted) nor aliases an
// enabled APIC with the same logical bit. The physical map keeps every hardware-enabled APIC
// (kvm_recalculate_phys_map has no such check).
TEST(ApicMap, LogicalMapSkipsSoftwareDisabledApics_kvm_recalculate_logical_map) {
    Machine m(2);
    m.start_all();
    m.kvm().lapic_write(1, apic::SVR, 0x0FF);  // vCPU 1 software-disables its APIC
    EXPECT_EQ(m.state().map.logical[1], -1);
    EXPECT_EQ(m.state().map.phys[1], 1);
    EXPECT_EQ(m.kvm().single_vcpu(logical_msi(0x02, 0x41)), -1);
    EXPECT_EQ(m.kvm().single_vcpu(physical_msi(1, 0x41)), 1);

    // Disabled, it takes vCPU 0's logical bit without aliasing it; enabled again, it does.
    m.kvm().lapic_write(1, apic::LDR, static_cast<uint32_t>(apic::Ldr::LogicalId.make(0x01)));
    EXPECT_EQ(m.state().map.logical[0], 0);
    EXPECT_EQ(m.kvm().single_vcpu(logical_msi(0x01, 0x41)), 0);
    m.kvm().lapic_write(1, apic::SVR, 0x1FF);
    EXPECT_EQ(m.state().map.logical[0], -2);
    EXPECT_EQ(m.kvm().single_vcpu(logical_msi(0x01, 0x41)), -1);
}

// ---- msi_destinations / single_vcpu ------------------------------------------------------------------

struct DestCase {
    const char* name;
    kvm::MsiMessage msi;
    std::vector<uint32_t> destinations;
    int single;
};

class MsiDestination : public ::testing::TestWithParam<DestCase> {};

// kvm_irq_delivery_to_apic's match and kvm_intr_is_single_vcpu over three vCPUs with xAPIC IDs 0..2
// and flat LDRs 1, 2, 4: physical matches the ID (0xFF is a broadcast, never single); flat logical
// matches LDR & dest (single only when one vCPU is named); lowest priority delivers to one of the
// matches but is postable only with one candidate; an address outside 0xFEExxxxx names no APIC.
TEST_P(MsiDestination, MatchesAndSingleVcpu) {
    const DestCase& c = GetParam();
    Machine m(3);
    m.start_all();
    EXPECT_EQ(m.kvm().msi_destinations(c.msi), c.destinations);
    EXPECT_EQ(m.kvm().single_vcpu(c.msi), c.single);
}

kvm::MsiMessage outside_fee() {
    kvm::MsiMessage msg = physical_msi(1, 0x41);
    msg.address = (msg.address & ~kvm::MsiAddress::Fee.kMask) | kvm::MsiAddress::Fee.make(0xFED);
    return msg;
}

INSTANTIATE_TEST_SUITE_P(Destinations, MsiDestination,
                         ::testing::Values(DestCase{"PhysicalOne", physical_msi(1, 0x41), {1}, 1},
                                           DestCase{"PhysicalNobody", physical_msi(7, 0x41), {}, -1},
                                           DestCase{"PhysicalBroadcast", physical_msi(0xFF, 0x41), {0, 1, 2}, -1},
                                           DestCase{"FlatLogicalOne", logical_msi(0x02, 0x41), {1}, 1},
                                           DestCase{"FlatLogicalTwo", logical_msi(0x05, 0x41), {0, 2}, -1},
                                           DestCase{"FlatLogicalUnusedBit", logical_msi(0x08, 0x41), {}, -1},
                                           DestCase{"FlatLogicalOneAndUnusedBit", logical_msi(0x0C, 0x41), {2}, 2},
                                           DestCase{"LowestPriorityTwoCandidates", logical_msi(0x06, 0x41, 1), {1}, -1},
                                           DestCase{"LowestPriorityOneCandidate", logical_msi(0x04, 0x41, 1), {2}, 2},
                                           DestCase{"NotFeeAddress", outside_fee(), {}, -1}),
                         [](const ::testing::TestParamInfo<DestCase>& info) { return std::string(info.param.name); });

// ---- KVM_GET_LAPIC ---------------------------------------------------------------------------------------

// kvm_vcpu_ioctl_get_lapic [reference §5.2, §8 invariant 1]: vcpu_load clears SN and re-sets ON for
// a PIR posted under SN=1, vmx_sync_pir_to_irr folds it into IRR, and the returned image has it.
TEST(GetLapic, PirPostedUnderSnAppearsInTheReturnedIrr) {
    Machine m(1);
    m.start_all();
    size_t d = m.plug({physical_msi(0, 0x41)});
    m.kvm().leave_guest(0, /*preempted=*/true);
    ASSERT_TRUE(m.pid(0).sn);
    size_t from = m.mark();
    m.fire(d, 0);
    ASSERT_EQ(m.find(tp::kIommuPost, {arg("notify", false)}, from).size(), 1u);
    ASSERT_TRUE(m.pir(0, 0x41));
    ASSERT_FALSE(m.pid(0).on);
    ASSERT_FALSE(m.virr(0, 0x41));

    LapicImage image = m.kvm().get_lapic(0);
    EXPECT_TRUE(image.test(apic::IRR, 0x41));
    EXPECT_TRUE(m.virr(0, 0x41));
    PiDesc after = m.pid(0);
    EXPECT_FALSE(after.pir.any());
    EXPECT_FALSE(after.on);
    EXPECT_TRUE(after.sn);  // put again
    EXPECT_FALSE(m.vcpu(0).loaded);
}

// kvm_apic_get_state: the image is the register page with TMCCT computed from the timer
// (apic_get_tmcct): the remaining count (the model: TMICT, time is not modelled) while armed, 0 once
// it expired. A deadline that passes while the vCPU is paused (out of KVM_RUN) only counts the tick
// in lapic_timer.pending (apic_timer_expired): it is not in the IRR KVM_GET_LAPIC returns, and
// nothing in the image says it is due (TMICT is unchanged).
TEST(GetLapic, DeadlineWhilePausedIsOnlyPendingNotInTheImage_apic_timer_expired) {
    Machine m(1);
    m.start_all();
    m.apic_write(0, apic::LVT_TIMER, kTimerVector);
    m.apic_write(0, apic::TMICT, 0x4321);
    m.kvm().leave_guest(0, false);
    LapicImage armed = m.kvm().get_lapic(0);
    EXPECT_EQ(armed.reg(apic::TMCCT), 0x4321u);
    EXPECT_EQ(armed.reg(apic::TMICT), 0x4321u);
    EXPECT_EQ(armed.reg(apic::LDR), 0x0100'0000u);
    EXPECT_EQ(armed.apic_base, m.vcpu(0).apic_base);

    size_t from = m.mark();
    m.kvm().timer_expired(0);
    m.service();
    EXPECT_TRUE(m.vcpu(0).timer_pending);
    EXPECT_EQ(m.find(tp::kKvmTimerPending, {arg("run", "stopped")}, from).size(), 1u);
    LapicImage fired = m.kvm().get_lapic(0);
    EXPECT_EQ(fired.reg(apic::TMICT), 0x4321u);
    EXPECT_EQ(fired.reg(apic::TMCCT), 0u);
    EXPECT_FALSE(fired.test(apic::IRR, kTimerVector));
    EXPECT_FALSE(m.pir(0, kTimerVector));
    EXPECT_TRUE(m.vcpu(0).timer_pending);  // GET_LAPIC's vcpu_load does not inject it

    // The next KVM_RUN on this machine injects it (vcpu_run -> kvm_inject_pending_timer_irqs).
    m.start(0);
    EXPECT_FALSE(m.vcpu(0).timer_pending);
    EXPECT_EQ(m.take_all(0), std::vector<uint8_t>{kTimerVector});
}

// ---- KVM_SET_LAPIC ---------------------------------------------------------------------------------------

/// A source vCPU 0 with its LAPIC set up, stopped, and its KVM_GET_LAPIC image.
LapicImage source_image(bool timer = false) {
    Machine src(1);
    src.start_all();
    if (timer) {
        src.apic_write(0, apic::LVT_TIMER, kTimerVector);
        src.apic_write(0, apic::TMICT, kTimerInitialCount);
    }
    src.kvm().leave_guest(0, false);
    return src.kvm().get_lapic(0);
}

std::string clear_name(const ::testing::TestParamInfo<SetLapicClear>& info) {
    return info.param == SetLapicClear::BeforeLoad ? "BeforeLoad" : "AfterLoad";
}

class SetLapicPolicy : public ::testing::TestWithParam<SetLapicClear> {};

// kvm_apic_set_state [reference §5.3 step 1 / step 5, §8 invariant 2]: under either policy stale
// PIR bits and ON on the destination are zeroed, and the image's IRR is what is pending.
TEST_P(SetLapicPolicy, StalePirAndOnAreDropped) {
    Machine dst(1, {.clear = GetParam()});
    PiDesc stale = dst.pid(0);
    stale.pir.set(0x41);
    stale.on = true;
    dst.set_pid(0, stale);
    LapicImage image = source_image();
    set_bit(image, apic::IRR, 0x52);
    size_t from = dst.mark();
    ASSERT_EQ(dst.kvm().set_lapic(0, image), kOk);
    PiDesc after = dst.pid(0);
    EXPECT_FALSE(after.pir.any());
    EXPECT_FALSE(after.on);
    EXPECT_TRUE(dst.virr(0, 0x52));
    EXPECT_FALSE(dst.virr(0, 0x41));
    const auto& clear =
        GetParam() == SetLapicClear::BeforeLoad ? tp::kKvmApicvPreStateRestore : tp::kKvmApicvPostStateRestore;
    EXPECT_EQ(dst.find(clear, {arg("dropped", 1)}, from).size(), 1u);
}

/// vCPU 0's armed one-shot as QEMU restores it: KVM_GET_LAPIC's image through kvm_get_apic_state and
/// kvm_put_apic_state, which zeroes TMCCT (qemu/qemu hw/i386/kvm/apic.c).
LapicImage qemu_put_image(bool masked = false) {
    LapicImage image = vmm::kvm_put_apic_state(vmm::kvm_get_apic_state(source_image(/*timer=*/true)));
    if (masked) set_reg(image, apic::LVT_TIMER, kTimerVector | apic::kLvtMasked);
    return image;
}

// 8e6ed96cdd50 ("KVM: x86: fire timer when it is migrated and expired, and in oneshot mode"):
// kvm_apic_set_state restarts the timer with __start_apic_timer(apic, APIC_TMCCT), and
// set_target_expiration gives a one-shot whose TMCCT is 0 deadline 0. QEMU never writes TMCCT, so
// every armed one-shot (TMICT != 0) expires inside KVM_SET_LAPIC whether or not its deadline had
// passed; under vcpu_load with APICv the tick is posted into PIR at once (apic_timer_expired,
// !from_timer_fn). 9cfec6d097c6 ("KVM: x86: Fix lapic timer interrupt lost after loading a snapshot")
// moved the PIR clear before the load (before_load): the tick survives to the first entry; with the
// older clear after the load (967235d32032, after_load) apicv_post_state_restore drops it.
TEST_P(SetLapicPolicy, SetLapicFiresAnArmedOneShotTimerWithTmcctZero_8e6ed96cdd50) {
    const bool survives = GetParam() == SetLapicClear::BeforeLoad;
    LapicImage image = qemu_put_image();
    ASSERT_EQ(image.reg(apic::TMCCT), 0u);
    ASSERT_EQ(image.reg(apic::TMICT), kTimerInitialCount);
    ASSERT_EQ(kvm::Kvm::timer_restart(image), kvm::TimerRestart::Expired);
    Machine dst(1, {.clear = GetParam()});
    size_t from = dst.mark();
    ASSERT_EQ(dst.kvm().set_lapic(0, image), kOk);
    EXPECT_EQ(dst.find(tp::kKvmTimerRestart, {arg("restart", "expired"), arg("tmcct", 0)}, from).size(), 1u);
    EXPECT_EQ(dst.count(tp::kKvmTimerExpired, from), 1u);
    EXPECT_EQ(dst.count(tp::kKvmTimerPending, from), 0u);
    EXPECT_EQ(
        dst.find({tp::kKvmDeliverPostedCoalesced, tp::kKvmDeliverPosted}, {arg("vector", Hex{kTimerVector})}, from)
            .size(),
        1u);
    EXPECT_EQ(dst.pir(0, kTimerVector), survives);
    EXPECT_FALSE(dst.vcpu(0).timer_armed);
    EXPECT_EQ(dst.page(0).read(apic::TMCCT), 0u);

    dst.start(0);
    dst.cpu(0).guest_set_if(true);
    std::vector<uint8_t> taken = dst.take_all(0);
    EXPECT_EQ(taken, survives ? std::vector<uint8_t>{kTimerVector} : std::vector<uint8_t>{});
}

// set_target_expiration (count_reg APIC_TMCCT): a VMM that does pass the current count (KVM's own
// KVM_GET_LAPIC image has it) gets the timer restarted with the remaining count, armed, not fired.
TEST_P(SetLapicPolicy, SetLapicRestartsAOneShotFromANonZeroTmcct_set_target_expiration) {
    LapicImage image = source_image(/*timer=*/true);
    ASSERT_NE(image.reg(apic::TMCCT), 0u);
    ASSERT_EQ(kvm::Kvm::timer_restart(image), kvm::TimerRestart::Armed);
    Machine dst(1, {.clear = GetParam()});
    size_t from = dst.mark();
    ASSERT_EQ(dst.kvm().set_lapic(0, image), kOk);
    EXPECT_TRUE(dst.vcpu(0).timer_armed);
    EXPECT_EQ(dst.count({tp::kKvmTimerExpired, tp::kKvmTimerExpiredMaskedIgnored}, from), 0u);
    EXPECT_FALSE(dst.pid(0).pir.any());
}

INSTANTIATE_TEST_SUITE_P(BothClearPoints, SetLapicPolicy,
                         ::testing::Values(SetLapicClear::BeforeLoad, SetLapicClear::AfterLoad), clear_name);

// kvm_apic_set_state: a timer that was never armed (TMICT 0: period 0 in set_target_expiration) is
// not restarted.
TEST(SetLapic, TimerNotArmedInTheImageDoesNotFire) {
    LapicImage image = vmm::kvm_put_apic_state(vmm::kvm_get_apic_state(source_image(/*timer=*/false)));
    ASSERT_EQ(image.reg(apic::TMICT), 0u);
    ASSERT_EQ(kvm::Kvm::timer_restart(image), kvm::TimerRestart::Stopped);
    Machine dst(1);
    size_t from = dst.mark();
    ASSERT_EQ(dst.kvm().set_lapic(0, image), kOk);
    EXPECT_FALSE(dst.vcpu(0).timer_armed);
    EXPECT_EQ(dst.count({tp::kKvmTimerRestart, tp::kKvmTimerExpired, tp::kKvmTimerExpiredMaskedIgnored}, from), 0u);
}

// kvm_apic_set_state -> apic_timer_expired -> kvm_apic_local_deliver: a masked LVTT expires too
// (the restart does not look at the mask) but sends no interrupt.
TEST(SetLapic, MaskedOneShotExpiresWithoutAnInterrupt_kvm_apic_local_deliver) {
    Machine dst(1);
    size_t from = dst.mark();
    ASSERT_EQ(dst.kvm().set_lapic(0, qemu_put_image(/*masked=*/true)), kOk);
    EXPECT_EQ(dst.count(tp::kKvmTimerExpired, from), 1u);
    EXPECT_EQ(dst.count(tp::kKvmTimerExpiredMaskedIgnored, from), 1u);
    EXPECT_FALSE(dst.pir(0, kTimerVector));
}

// apic_timer_expired without APICv (x86.posting=off): the expiry inside KVM_SET_LAPIC is counted in
// lapic_timer.pending, and the first KVM_RUN injects it (kvm_inject_pending_timer_irqs).
TEST(SetLapic, ExpiryWithoutApicvIsPendingUntilTheFirstKvmRun_kvm_inject_pending_timer_irqs) {
    Machine dst(1, {.apicv = false});
    ASSERT_EQ(dst.kvm().set_lapic(0, qemu_put_image()), kOk);
    EXPECT_TRUE(dst.vcpu(0).timer_pending);
    EXPECT_FALSE(dst.virr(0, kTimerVector));
    dst.start(0);
    dst.cpu(0).guest_set_if(true);
    EXPECT_FALSE(dst.vcpu(0).timer_pending);
    EXPECT_EQ(dst.take_all(0), std::vector<uint8_t>{kTimerVector});
}

// kvm_apic_set_state -> kvm_apic_set_version: QEMU's image has no version register (it is zeroed by
// kvm_put_apic_state); KVM sets its own.
TEST(SetLapic, VersionIsKvmsOwnNotTheImages_kvm_apic_set_version) {
    LapicImage image = vmm::kvm_put_apic_state(vmm::kvm_get_apic_state(source_image()));
    ASSERT_EQ(image.reg(apic::VERSION), 0u);
    Machine dst(1);
    const uint32_t reset_version = dst.page(0).read(apic::VERSION);
    ASSERT_EQ(dst.kvm().set_lapic(0, image), kOk);
    EXPECT_EQ(dst.page(0).read(apic::VERSION), reset_version);
}

// kvm_apic_set_state step 4 [reference §5.3, §5.1]: QEMU does not carry PPR; KVM recomputes it from
// the loaded TPR and ISR.
TEST(SetLapic, PprIsRecomputedFromTheLoadedTprAndIsr) {
    LapicImage image = source_image();
    set_reg(image, apic::TPR, 0x20);
    set_bit(image, apic::ISR, 0x61);
    set_reg(image, apic::PPR, 0xF0);  // whatever the stream says
    Machine dst(1);
    ASSERT_EQ(dst.kvm().set_lapic(0, image), kOk);
    EXPECT_EQ(dst.page(0).read(apic::PPR), 0x60u);
}

// kvm_apic_set_state step 5 [reference §5.3, §8 invariant 6]: with APICv, SVI = the highest loaded
// ISR vector, so the guest's virtualized EOI retires that one first.
TEST(SetLapic, SviIsTheHighestLoadedIsrVector) {
    LapicImage image = source_image();
    set_bit(image, apic::ISR, 0x31);
    set_bit(image, apic::ISR, 0x61);
    Machine dst(1);
    ASSERT_EQ(dst.kvm().set_lapic(0, image), kOk);
    EXPECT_EQ(dst.vmcs(0).svi, 0x61);
    dst.start(0);
    dst.apic_write(0, apic::EOI, 0);
    EXPECT_FALSE(dst.visr(0, 0x61));
    EXPECT_TRUE(dst.visr(0, 0x31));
    EXPECT_EQ(dst.vmcs(0).svi, 0x31);
}

// kvm_apic_set_state step 3: the APIC map follows the loaded ID/LDR/DFR, so routes resolved after
// KVM_SET_LAPIC see the guest's logical destinations [reference §5.4, §8 invariant 8].
TEST(SetLapic, TheApicMapFollowsTheLoadedImage) {
    LapicImage image = source_image();
    Machine dst(1);
    ASSERT_EQ(dst.kvm().single_vcpu(logical_msi(0x01, 0x41)), -1);  // reset LDR is 0
    ASSERT_EQ(dst.kvm().set_lapic(0, image), kOk);
    EXPECT_EQ(dst.state().map.logical[0], 0);
    EXPECT_EQ(dst.kvm().single_vcpu(logical_msi(0x01, 0x41)), 0);
}

class SetLapicRejects : public ::testing::TestWithParam<uint64_t> {};

// kvm_apic_put writes MSR_IA32_APICBASE first [reference §8 invariant 7]; the model restores only
// xAPIC-mode, enabled APICs: an x2APIC or disabled base is rejected with -EINVAL and a guest error,
// and nothing is loaded.
TEST_P(SetLapicRejects, X2apicOrDisabledApicBase) {
    LapicImage image = source_image();
    set_bit(image, apic::IRR, 0x52);
    image.apic_base = GetParam();
    Machine dst(1);
    PiDesc stale = dst.pid(0);
    stale.pir.set(0x41);
    dst.set_pid(0, stale);
    size_t from = dst.mark();
    EXPECT_EQ(dst.kvm().set_lapic(0, image), kEinval);
    EXPECT_EQ(dst.count(tp::kKvmSetLapicError, from), 1u);
    EXPECT_EQ(dst.count(tp::kKvmSetLapic, from), 0u);
    EXPECT_FALSE(dst.virr(0, 0x52));
    EXPECT_EQ(dst.page(0).read(apic::SVR), 0xFFu);
    EXPECT_EQ(dst.pid(0), stale);
    EXPECT_FALSE(dst.vcpu(0).loaded);
}

INSTANTIATE_TEST_SUITE_P(Bases, SetLapicRejects,
                         ::testing::Values(0xFEE0'0000u | kApicBaseEnable | kApicBaseExtd | kApicBaseBsp,
                                           0xFEE0'0000u | kApicBaseBsp),
                         [](const ::testing::TestParamInfo<uint64_t>& info) {
                             return (info.param & kApicBaseExtd) ? std::string("X2apic") : std::string("Disabled");
                         });

}  // namespace
}  // namespace irqdiff::x86

namespace irqdiff::x86 {
namespace {

// ---- TSC-deadline mode (LVTT mode 2, IA32_TSC_DEADLINE) ---------------------------------------------

constexpr uint64_t kDeadline = 0x1234'5678;
const uint32_t kLvttDeadline = static_cast<uint32_t>(apic::LvtTimer::Mode.make(kvm::kLvttTscDeadline)) | kTimerVector;

/// A source vCPU 0 whose guest armed a TSC-deadline timer (LVTT mode 2, then WRMSR IA32_TSC_DEADLINE),
/// stopped, with what QEMU reads: KVM_GET_LAPIC's image as kvm_put_apic_state rebuilds it, and the MSRs.
std::pair<LapicImage, kvm::MsrImage> deadline_source() {
    Machine src(1);
    src.start_all();
    src.apic_write(0, apic::LVT_TIMER, kLvttDeadline);
    EXPECT_TRUE(src.kvm().set_tsc_deadline_msr(0, kDeadline, "WRMSR"));
    EXPECT_TRUE(src.vcpu(0).timer_armed);
    src.kvm().leave_guest(0, false);
    LapicImage image = vmm::kvm_put_apic_state(vmm::kvm_get_apic_state(src.kvm().get_lapic(0)));
    return {image, src.kvm().get_msrs(0)};
}

// kvm_set_lapic_tscdeadline_msr returns early unless LVTT is in TSC-deadline mode, and
// kvm_get_lapic_tscdeadline_msr reads 0 then: a WRMSR to a one-shot LAPIC arms nothing.
TEST(TscDeadline, WriteOutsideTscDeadlineModeIsNotTaken_kvm_set_lapic_tscdeadline_msr) {
    Machine m(1);
    m.start_all();
    m.apic_write(0, apic::LVT_TIMER, kTimerVector);  // one-shot
    size_t from = m.mark();
    EXPECT_FALSE(m.kvm().set_tsc_deadline_msr(0, kDeadline, "WRMSR"));
    EXPECT_FALSE(m.vcpu(0).timer_armed);
    EXPECT_EQ(m.kvm().tsc_deadline_msr(0), 0u);
    EXPECT_EQ(m.find(tp::kKvmTscDeadlineMsr, {arg("taken", false), arg("lvtt_mode", 0)}, from).size(), 1u);
    m.apic_write(0, apic::LVT_TIMER, kLvttDeadline);
    EXPECT_TRUE(m.kvm().set_tsc_deadline_msr(0, kDeadline, "WRMSR"));
    EXPECT_EQ(m.kvm().tsc_deadline_msr(0), kDeadline);
    EXPECT_TRUE(m.vcpu(0).timer_armed);
}

// In TSC-deadline mode the deadline's expiry delivers the LVTT vector once and disarms it; TMICT
// writes are ignored (kvm_lapic_reg_write, APIC_TMICT).
TEST(TscDeadline, DeadlineExpiryDeliversOnceAndTmictIsIgnored_kvm_lapic_reg_write) {
    Machine m(1);
    m.start_all();
    m.apic_write(0, apic::LVT_TIMER, kLvttDeadline);
    m.kvm().lapic_write(0, apic::TMICT, 0x1000);
    EXPECT_EQ(m.page(0).read(apic::TMICT), 0u);
    EXPECT_FALSE(m.vcpu(0).timer_armed);
    ASSERT_TRUE(m.kvm().set_tsc_deadline_msr(0, kDeadline, "WRMSR"));
    m.kvm().timer_expired(0);
    m.service();
    EXPECT_FALSE(m.vcpu(0).timer_armed);
    EXPECT_EQ(m.kvm().tsc_deadline_msr(0), 0u);
    EXPECT_EQ(m.take_all(0), std::vector<uint8_t>{kTimerVector});
}

// 4427593258 "KVM: x86: thoroughly disarm LAPIC timer around TSC deadline switch" (apic_update_lvtt):
// leaving TSC-deadline mode cancels the timer and zeroes the deadline.
TEST(TscDeadline, LeavingTscDeadlineModeDisarmsTheTimer_4427593258) {
    Machine m(1);
    m.start_all();
    m.apic_write(0, apic::LVT_TIMER, kLvttDeadline);
    ASSERT_TRUE(m.kvm().set_tsc_deadline_msr(0, kDeadline, "WRMSR"));
    m.apic_write(0, apic::LVT_TIMER, kTimerVector);
    EXPECT_FALSE(m.vcpu(0).timer_armed);
    EXPECT_EQ(m.vcpu(0).tsc_deadline, 0u);
    m.apic_write(0, apic::LVT_TIMER, kLvttDeadline);
    EXPECT_FALSE(m.vcpu(0).timer_armed);  // no deadline until the next WRMSR
}

// Kata #13798 "Restore vCPU MSRs after the LAPIC" (reference/kernel_history U4): on the destination,
// KVM_SET_MSRS(MSR_IA32_TSCDEADLINE) before KVM_SET_LAPIC finds the fresh LAPIC's LVTT in one-shot
// mode, so kvm_set_lapic_tscdeadline_msr drops the deadline, and KVM_SET_MSRS "reports success
// rather than an error" (1 MSR processed). KVM_SET_LAPIC then puts LVTT in TSC-deadline mode with no
// deadline: the timer never fires again.
TEST(TscDeadline, SetMsrsBeforeSetLapicSilentlyDiscardsTheDeadline_Kata13798) {
    auto [image, msrs] = deadline_source();
    ASSERT_EQ(msrs.tsc_deadline, kDeadline);
    Machine dst(1);
    size_t from = dst.mark();
    EXPECT_EQ(dst.kvm().set_msrs(0, msrs), 1);
    EXPECT_EQ(dst.find(tp::kKvmTscDeadlineMsr, {arg("taken", false), arg("via", "KVM_SET_MSRS")}, from).size(), 1u);
    ASSERT_EQ(dst.kvm().set_lapic(0, image), kOk);
    EXPECT_FALSE(dst.vcpu(0).timer_armed);
    EXPECT_EQ(dst.kvm().tsc_deadline_msr(0), 0u);
    EXPECT_EQ(dst.count(tp::kKvmTimerRestart, from), 0u);
}

// The documented order sregs -> LAPIC -> MSRs (Kata #13798, as Firecracker documents it; QEMU's
// kvm_arch_put_registers runs kvm_put_tscdeadline_msr after the LAPIC is loaded): KVM_SET_LAPIC first puts LVTT
// in TSC-deadline mode, and KVM_SET_MSRS's deadline is taken and arms the timer.
TEST(TscDeadline, SetMsrsAfterSetLapicRestoresTheDeadline_Kata13798) {
    auto [image, msrs] = deadline_source();
    Machine dst(1);
    ASSERT_EQ(dst.kvm().set_lapic(0, image), kOk);
    EXPECT_FALSE(dst.vcpu(0).timer_armed);
    size_t from = dst.mark();
    EXPECT_EQ(dst.kvm().set_msrs(0, msrs), 1);
    EXPECT_EQ(dst.find(tp::kKvmTscDeadlineMsr, {arg("taken", true)}, from).size(), 1u);
    EXPECT_TRUE(dst.vcpu(0).timer_armed);
    EXPECT_EQ(dst.kvm().tsc_deadline_msr(0), kDeadline);
}


// kvm_apic_inject_pending_timer_irqs zeroes tscdeadline when it injects the tick, not when the
// hrtimer fires: a deadline that expired while the vCPU was paused (the tick in lapic_timer.pending)
// is still what KVM_GET_MSRS reads, so the stream carries it.
TEST(TscDeadline, APendingTickKeepsTheDeadlineForKvmGetMsrs_kvm_apic_inject_pending_timer_irqs) {
    Machine m(1);
    m.start_all();
    m.apic_write(0, apic::LVT_TIMER, kLvttDeadline);
    ASSERT_TRUE(m.kvm().set_tsc_deadline_msr(0, kDeadline, "WRMSR"));
    m.kvm().leave_guest(0, false);  // paused by the VMM
    m.kvm().timer_expired(0);
    EXPECT_TRUE(m.vcpu(0).timer_pending);
    EXPECT_EQ(m.kvm().get_msrs(0).tsc_deadline, kDeadline);
}

// start_sw_tscdeadline: a taken deadline the guest's TSC is already past expires inside
// KVM_SET_MSRS (apic_timer_expired(apic, false)); with APICv the tick is posted at once and the
// deadline consumed.
TEST(TscDeadline, SetMsrsOfAPassedDeadlineFiresAtOnce_start_sw_tscdeadline) {
    auto [image, msrs] = deadline_source();
    Machine dst(1);
    ASSERT_EQ(dst.kvm().set_lapic(0, image), kOk);
    size_t from = dst.mark();
    EXPECT_EQ(dst.kvm().set_msrs(0, msrs, /*deadline_passed=*/true), 1);
    EXPECT_EQ(dst.count(tp::kKvmTimerExpired, from), 1u);
    EXPECT_FALSE(dst.vcpu(0).timer_armed);
    EXPECT_EQ(dst.kvm().tsc_deadline_msr(0), 0u);
    // Dropped (LVTT not yet in TSC-deadline mode), a passed deadline fires nothing either.
    auto [image2, msrs2] = deadline_source();
    Machine early(1);
    from = early.mark();
    EXPECT_EQ(early.kvm().set_msrs(0, msrs2, true), 1);
    EXPECT_EQ(early.count(tp::kKvmTimerExpired, from), 0u);
    (void)image2;
}

}  // namespace
}  // namespace irqdiff::x86
