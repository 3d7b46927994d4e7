// The posted-interrupt descriptor over a vCPU's life in KVM (x86_pi/kvm/posted_intr.cc, vmx.cc):
// vmx_vcpu_pi_load, vmx_vcpu_pi_put, pi_wakeup_handler, vmx_sync_pir_to_irr before every entry,
// posting to a running vCPU, coalescing, and the software path when posting is off
// [reference/x86_posted_interrupts_kvm_migration.md §2.1, §3.1, §4.2, §4.3, §8 invariants 4, 5, 9].
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/x86_pi/x86_harness.h"

namespace irqdiff::x86 {
namespace {

using kvm::kPostedIntrVector;
using kvm::kPostedIntrWakeupVector;
using kvm::KvmConfig;
using kvm::VcpuRun;
using testing::arg;
using testing::Machine;
using testing::physical_msi;
using testing::Taken;

constexpr uint8_t kVec = 0x41;

/// Every vCPU started and booted, and a passthrough device whose only vector posts `vector` to
/// vCPU `target` (physical destination = its xAPIC ID).
size_t boot_with_device(Machine& m, uint32_t target, uint8_t vector = kVec) {
    m.start_all();
    size_t d = m.plug({physical_msi(target, vector)});
    EXPECT_TRUE(is_posted(m.irte(d, 0).low)) << "the device's IRTE should post to vCPU " << target;
    return d;
}

/// The wakeup list of pCPU `cpu`.
const std::vector<uint32_t>& wakeup_list(const Machine& m, unsigned cpu) { return m.state().wakeup_lists.at(cpu); }

// ---- vmx_vcpu_pi_load --------------------------------------------------------------------------

// vmx_vcpu_pi_load, slow path on the first load (vcpu->cpu is not this pCPU) [reference §4.3]:
// NDST = this pCPU's APIC ID, SN = 0, NV = POSTED_INTR_VECTOR; nothing posted, so ON stays 0.
TEST(PiLoad, FirstLoadTargetsThisPcpuAndClearsSn) {
    Machine m(2);
    ASSERT_TRUE(m.pid(1).sn);  // __vmx_vcpu_reset
    ASSERT_EQ(m.vcpu(1).cpu, -1);
    size_t from = m.mark();
    m.kvm().vcpu_load(1);
    PiDesc d = m.pid(1);
    EXPECT_FALSE(d.sn);
    EXPECT_EQ(d.nv, kPostedIntrVector);
    EXPECT_EQ(d.ndst, 0x100u);  // xAPIC host: APIC ID 1 in NDST[15:8]
    EXPECT_FALSE(d.on);
    EXPECT_FALSE(d.pir.any());
    EXPECT_TRUE(m.vcpu(1).loaded);
    EXPECT_EQ(m.vcpu(1).cpu, 1);
    EXPECT_EQ(m.find(tp::kKvmPiLoad, {arg("vcpu", 1), arg("on_from_pir", false)}, from).size(), 1u);
}

class PiLoadNdst : public ::testing::TestWithParam<bool> {};

// vmx_vcpu_pi_load [reference §1.1 NDST encoding, VT-d §9.11]: xAPIC keeps the APIC ID in
// NDST[15:8] ((apicid << 8) & 0xFF00), x2APIC stores the full ID. The model takes the host's mode
// from IRTA.EIME (the kernel from x2apic_mode; one host has one mode). Either way the IOMMU's
// notification reaches the vCPU's pCPU.
TEST_P(PiLoadNdst, EncodesThePcpuApicIdInTheHostsFormat) {
    const bool x2apic = GetParam();
    Machine m(3);
    if (x2apic) {
        Iommu& iommu = m.h.hw.iommu();
        iommu.write_irta(iommu.read_irta() | IrtaReg::EIME.kMask);
        iommu.set_irtp();
    }
    size_t d = boot_with_device(m, 2);
    EXPECT_EQ(m.pid(2).ndst, x2apic ? 2u : 0x200u);
    size_t from = m.mark();
    m.fire(d, 0);
    EXPECT_EQ(m.find(tp::kBusInterrupt, {arg("apic_id", 2), arg("vector", Hex{kPostedIntrVector})}, from).size(), 1u);
    std::optional<Taken> t = m.take(2);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->vector, kVec);
}

INSTANTIATE_TEST_SUITE_P(HostApicModes, PiLoadNdst, ::testing::Bool(), [](const ::testing::TestParamInfo<bool>& info) {
    return info.param ? std::string("X2apic") : std::string("Xapic");
});

// vmx_vcpu_pi_load tail [reference §4.3, §8 invariant 5]: after SN is cleared, a non-empty PIR
// re-sets ON, so bits posted while SN=1 (which left ON clear) are seen by the next sync.
TEST(PiLoad, ResetsOnWhenPirIsNotEmpty) {
    Machine m(2);
    size_t d = boot_with_device(m, 1);
    m.kvm().leave_guest(1, /*preempted=*/true);
    m.fire(d, 0);
    ASSERT_TRUE(m.pir(1, kVec));
    ASSERT_FALSE(m.pid(1).on);
    size_t from = m.mark();
    m.kvm().vcpu_load(1);
    PiDesc after = m.pid(1);
    EXPECT_TRUE(after.on);
    EXPECT_FALSE(after.sn);
    EXPECT_TRUE(after.pir.test(kVec));
    EXPECT_EQ(m.find(tp::kKvmPiLoad, {arg("vcpu", 1), arg("on_from_pir", true)}, from).size(), 1u);
}

// vmx_vcpu_pi_load fast path (same pCPU, NV not the wakeup vector): it returns right after
// test-and-clear SN when SN was already clear, without looking at PIR (only an SN=1 period can
// leave PIR bits behind a clear ON).
TEST(PiLoad, FastPathWithSnAlreadyClearDoesNotLookAtPir) {
    Machine m(1);
    m.kvm().vcpu_load(0);
    m.kvm().vcpu_put(0, false);  // no bypass IRQ: vmx_vcpu_pi_put leaves the PID alone
    PiDesc crafted = m.pid(0);
    ASSERT_FALSE(crafted.sn);
    crafted.pir.set(kVec);
    m.set_pid(0, crafted);
    m.kvm().vcpu_load(0);
    EXPECT_FALSE(m.pid(0).on);
    EXPECT_TRUE(m.pid(0).pir.test(kVec));
}

// vmx_vcpu_pi_load slow path for a vCPU that blocked with the wakeup vector [reference §4.3, §7
// item 5]: it leaves its previous pCPU's wakeup list, and NV returns to POSTED_INTR_VECTOR.
TEST(PiLoad, RemovesABlockedVcpuFromTheWakeupListAndRestoresTheActiveVector) {
    Machine m(2);
    boot_with_device(m, 1);
    m.hlt(1);
    ASSERT_EQ(wakeup_list(m, 1), std::vector<uint32_t>{1});
    ASSERT_EQ(m.pid(1).nv, kPostedIntrWakeupVector);
    m.start(1);
    EXPECT_TRUE(wakeup_list(m, 1).empty());
    EXPECT_FALSE(m.vcpu(1).on_wakeup_list);
    PiDesc d = m.pid(1);
    EXPECT_EQ(d.nv, kPostedIntrVector);
    EXPECT_FALSE(d.sn);
    EXPECT_EQ(d.ndst, 0x100u);
    EXPECT_TRUE(m.cpu(1).in_guest());
}

// vmx_vcpu_pi_load is a no-op without enable_apicv [reference §4.3]: the PID keeps its reset
// values (SN=1, NDST 0) through load, entry and put.
TEST(PiLoad, DoesNothingToThePidWithApicvOff) {
    Machine m(1, KvmConfig{.apicv = false});
    const PiDesc reset = m.pid(0);
    m.start_all();
    EXPECT_EQ(m.pid(0), reset);
    EXPECT_TRUE(m.pid(0).sn);
    m.kvm().leave_guest(0, true);
    EXPECT_EQ(m.pid(0), reset);
}

// ---- vmx_vcpu_pi_put -----------------------------------------------------------------------------

// vmx_vcpu_pi_put for a preempted vCPU [reference §4.3, §2.3]: SN=1, NV and NDST unchanged, not on
// any wakeup list.
TEST(PiPut, PreemptedVcpuGetsSn) {
    Machine m(2);
    boot_with_device(m, 1);
    const PiDesc before = m.pid(1);
    m.kvm().leave_guest(1, /*preempted=*/true);
    PiDesc d = m.pid(1);
    EXPECT_TRUE(d.sn);
    EXPECT_EQ(d.nv, kPostedIntrVector);
    EXPECT_EQ(d.ndst, before.ndst);
    EXPECT_FALSE(m.vcpu(1).loaded);
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Runnable);
    EXPECT_FALSE(m.vcpu(1).on_wakeup_list);
    EXPECT_TRUE(wakeup_list(m, 1).empty());
}

// VT-d §5.2.3 with SN=1 and URG=0 (KVM never sets URG) [reference §2.1, §9]: the post sets the PIR
// bit only; ON stays 0 and no notification is sent. Nothing harvests it while ON is clear: the
// sync (e.g. from kvm_cpu_has_interrupt) skips a PIR behind ON=0.
TEST(PiPut, PostToAPreemptedVcpuSetsPirOnlyAndSendsNothing) {
    Machine m(2);
    size_t d = boot_with_device(m, 1);
    m.kvm().leave_guest(1, /*preempted=*/true);
    size_t from = m.mark();
    m.fire(d, 0);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("sn", true), arg("notify", false)}, from).size(), 1u);
    EXPECT_EQ(m.count(tp::kBusInterrupt, from), 0u);
    EXPECT_TRUE(m.pir(1, kVec));
    EXPECT_FALSE(m.pid(1).on);
    EXPECT_EQ(m.kvm().sync_pir_to_irr(1), -1);
    EXPECT_TRUE(m.pir(1, kVec));
    EXPECT_FALSE(m.virr(1, kVec));
}

// The PIR bit posted under SN=1 is live only because the next vmx_vcpu_pi_load re-sets ON
// [reference §4.3, §9]: load + entry sync move it to vIRR, and the guest takes it exactly once,
// as a posted (Direct) interrupt.
TEST(PiPut, PirPostedWhilePreemptedIsDeliveredOnceAfterTheNextLoad) {
    Machine m(2);
    size_t d = boot_with_device(m, 1);
    m.kvm().leave_guest(1, /*preempted=*/true);
    m.fire(d, 0);
    size_t from = m.mark();
    m.start(1);
    EXPECT_EQ(m.find(tp::kKvmPiLoad, {arg("vcpu", 1), arg("on_from_pir", true)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kKvmSyncPirToIrr, {arg("vcpu", 1), arg("harvested", 1)}, from).size(), 1u);
    EXPECT_FALSE(m.pid(1).pir.any());
    EXPECT_FALSE(m.pid(1).on);
    std::optional<Taken> t = m.take(1);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->vector, kVec);
    EXPECT_EQ(t->path, DeliveryPath::Direct);
    EXPECT_TRUE(m.take_all(1).empty());
    EXPECT_FALSE(m.virr(1, kVec));
}

// 6737557442e5 "KVM: VMX: Suppress PI notifications whenever the vCPU is put" (reference/
// kernel_history X1 19/62; x86.sn_on_put=always): a vCPU QEMU pauses (not preempted) gets SN=1,
// so a post sets PIR with ON clear and notifies nothing. The sync alone skips it (ON is its only
// cue, vmx_sync_pir_to_irr); only vmx_vcpu_pi_load's PIR scan re-arms ON, which is why
// KVM_GET_LAPIC folds it only because the ioctl runs under vcpu_load.
TEST(PiPut, After6737557442e5APausedVcpuGetsSnAndOnlyTheLoadScanFindsItsPost_6737557442e5) {
    Machine m(2);
    size_t d = boot_with_device(m, 1);
    m.kvm().leave_guest(1, /*preempted=*/false);
    ASSERT_TRUE(m.pid(1).sn);
    size_t from = m.mark();
    m.fire(d, 0);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("sn", true), arg("notify", false)}, from).size(), 1u);
    EXPECT_EQ(m.count(tp::kBusInterrupt, from), 0u);
    EXPECT_FALSE(m.pid(1).on);
    EXPECT_EQ(m.kvm().sync_pir_to_irr(1), -1);  // no vcpu_load: the PIR bit stays behind ON=0
    EXPECT_TRUE(m.pir(1, kVec));
    from = m.mark();
    kvm::LapicImage image = m.kvm().get_lapic(1);
    EXPECT_EQ(m.find(tp::kKvmPiLoad, {arg("vcpu", 1), arg("on_from_pir", true)}, from).size(), 1u);
    EXPECT_TRUE(image.test(apic::IRR, kVec));
    EXPECT_TRUE(m.pid(1).sn);  // the ioctl's own vcpu_put suppresses again
}

// Before 6737557442e5 (x86.sn_on_put=preempted_only) vmx_vcpu_pi_put set SN only for a preempted
// vCPU: a paused one keeps SN=0 and NV=POSTED_INTR_VECTOR, so a post sets ON and notifies its
// pCPU, whose host handler (sysvec_kvm_posted_intr_ipi) does nothing; ON waits for the sync, and
// KVM_GET_LAPIC folds the bit without needing the load's PIR scan.
TEST(PiPut, Before6737557442e5APausedVcpuKeepsSnClearAndAPostSetsOnAndNotifiesTheHost_6737557442e5) {
    Machine m(2, KvmConfig{.sn_on_put = kvm::SnOnPut::PreemptedOnly});
    size_t d = boot_with_device(m, 1);
    m.kvm().leave_guest(1, /*preempted=*/false);
    ASSERT_FALSE(m.pid(1).sn);
    ASSERT_EQ(m.pid(1).nv, kPostedIntrVector);
    size_t from = m.mark();
    m.fire(d, 0);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("sn", false), arg("notify", true)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kBusInterrupt, {arg("apic_id", 1), arg("vector", Hex{kPostedIntrVector})}, from).size(), 1u);
    EXPECT_EQ(m.dispatched_count(kPostedIntrVector), 1u);  // sysvec_kvm_posted_intr_ipi: EOI only
    EXPECT_TRUE(m.pid(1).on);
    from = m.mark();
    kvm::LapicImage image = m.kvm().get_lapic(1);
    EXPECT_EQ(m.find(tp::kKvmPiLoad, {arg("vcpu", 1), arg("on_from_pir", false)}, from).size(), 1u);
    EXPECT_TRUE(image.test(apic::IRR, kVec));
    EXPECT_FALSE(m.pid(1).sn);
}

// Both before and after 6737557442e5 a preempted vCPU gets SN (vmx_vcpu_pi_put `if (vcpu->preempted)`).
TEST(PiPut, Before6737557442e5APreemptedVcpuStillGetsSn_6737557442e5) {
    Machine m(2, KvmConfig{.sn_on_put = kvm::SnOnPut::PreemptedOnly});
    boot_with_device(m, 1);
    m.kvm().leave_guest(1, /*preempted=*/true);
    EXPECT_TRUE(m.pid(1).sn);
}

// vmx_vcpu_pi_put is skipped unless posting can target the vCPU (vmx_needs_pi_wakeup: a possible
// bypass IRQ) [reference §4.3]: without one, a preempted vCPU's SN stays clear.
TEST(PiPut, WithoutBypassIrqsLeavesThePidAlone) {
    Machine m(2);
    m.start_all();
    ASSERT_EQ(m.state().bypass_irqs, 0u);
    const PiDesc before = m.pid(1);
    m.kvm().leave_guest(1, /*preempted=*/true);
    EXPECT_EQ(m.pid(1), before);
    EXPECT_FALSE(m.pid(1).sn);
}

// vmx_vcpu_pi_put -> pi_enable_wakeup_handler for a vCPU blocking in HLT with RFLAGS.IF=1
// [reference §4.3, §2.3, §8 invariant 9]: NV = POSTED_INTR_WAKEUP_VECTOR, on this pCPU's wakeup
// list, NDST unchanged (this pCPU), SN stays 0 so posts notify.
TEST(PiPut, BlockingWithInterruptsEnabledArmsTheWakeupVector) {
    Machine m(2);
    boot_with_device(m, 1);
    const uint32_t ndst = m.pid(1).ndst;
    m.hlt(1);
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Blocked);
    EXPECT_FALSE(m.vcpu(1).loaded);
    PiDesc d = m.pid(1);
    EXPECT_EQ(d.nv, kPostedIntrWakeupVector);
    EXPECT_FALSE(d.sn);
    EXPECT_EQ(d.ndst, ndst);
    EXPECT_TRUE(m.vcpu(1).on_wakeup_list);
    EXPECT_EQ(wakeup_list(m, 1), std::vector<uint32_t>{1});
    EXPECT_TRUE(wakeup_list(m, 0).empty());
}

// A post to a blocked vCPU [reference §2.1, §2.3, §4.3]: the IOMMU sets PIR and ON and notifies
// NDST with the wakeup vector; the host's handler (sysvec_kvm_posted_intr_wakeup_ipi ->
// pi_wakeup_handler) wakes the vCPU, whose kvm_vcpu_check_block harvests PIR into vIRR (reference
// §4.2) and finds it deliverable; the next load and entry deliver the interrupt once.
TEST(PiPut, PostToABlockedVcpuWakesItThroughTheWakeupVector) {
    Machine m(2);
    size_t d = boot_with_device(m, 1);
    m.hlt(1);
    size_t from = m.mark();
    m.fire(d, 0);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("notify", true)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kBusInterrupt, {arg("apic_id", 1), arg("vector", Hex{kPostedIntrWakeupVector})}, from).size(),
              1u);
    EXPECT_EQ(m.dispatched_count(kPostedIntrWakeupVector), 1u);
    EXPECT_EQ(m.find(tp::kKvmPiWakeupHandler, {arg("cpu", 1)}, from).size(), 1u);
    EXPECT_EQ(m.find({tp::kKvmWakeUpStillBlocked, tp::kKvmWakeUp}, {arg("vcpu", 1)}, from).size(), 1u);
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Runnable);
    EXPECT_FALSE(m.pid(1).on);
    EXPECT_FALSE(m.pir(1, kVec));
    EXPECT_TRUE(m.virr(1, kVec));

    m.start(1);
    std::optional<Taken> t = m.take(1);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->vector, kVec);
    EXPECT_EQ(t->path, DeliveryPath::Direct);
    EXPECT_TRUE(m.take_all(1).empty());
}

// pi_enable_wakeup_handler [reference §4.3]: if ON is already set when NV switches to the wakeup
// vector (a post raced ahead and went to the active vector), KVM sends itself the wakeup vector,
// so the handler wakes the vCPU at once.
TEST(PiPut, WakeupSwitchWithOnAlreadySetSendsAWakeupSelfIpi) {
    Machine m(2);
    boot_with_device(m, 1);
    m.kvm().leave_guest(1, /*preempted=*/true);
    m.kvm().vcpu_load(1);
    PiDesc raced = m.pid(1);
    raced.pir.set(kVec);
    raced.on = true;
    m.set_pid(1, raced);
    m.vcpu(1).run = VcpuRun::Blocked;  // kvm_vcpu_block, interrupts enabled
    ASSERT_TRUE(m.vmcs(1).guest_if);
    size_t from = m.mark();
    m.kvm().vcpu_put(1, /*preempted=*/false);
    EXPECT_EQ(m.find(tp::kBusInterrupt, {arg("apic_id", 1), arg("vector", Hex{kPostedIntrWakeupVector})}, from).size(),
              1u);
    m.service();
    EXPECT_EQ(m.dispatched_count(kPostedIntrWakeupVector), 1u);
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Runnable);
}

// vmx_vcpu_pi_put for a vCPU blocking with RFLAGS.IF=0 (vmx_interrupt_blocked) [reference §4.3]:
// no wakeup handler; SN=1, so a post only sets PIR and the vCPU stays blocked.
TEST(PiPut, BlockingWithInterruptsDisabledSuppressesNotificationsInstead) {
    Machine m(2);
    size_t d = boot_with_device(m, 1);
    m.cpu(1).guest_set_if(false);
    m.hlt(1);
    ASSERT_EQ(m.vcpu(1).run, VcpuRun::Blocked);
    PiDesc pd = m.pid(1);
    EXPECT_TRUE(pd.sn);
    EXPECT_EQ(pd.nv, kPostedIntrVector);
    EXPECT_FALSE(m.vcpu(1).on_wakeup_list);
    EXPECT_TRUE(wakeup_list(m, 1).empty());
    size_t from = m.mark();
    m.fire(d, 0);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("notify", false)}, from).size(), 1u);
    EXPECT_EQ(m.count(tp::kBusInterrupt, from), 0u);
    EXPECT_TRUE(m.pir(1, kVec));
    EXPECT_FALSE(m.pid(1).on);
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Blocked);
}

// ---- mp_state across a pause and a migration ----------------------------------------------------------

// kvm_emulate_halt -> kvm_vcpu_halt sets mp_state HALTED. Pausing the VM wakes the vCPU thread out
// of kvm_vcpu_halt (it is loaded, then put as it leaves KVM_RUN), but vcpu_block finds it still not
// runnable, so mp_state stays HALTED, and KVM_GET_MP_STATE (QEMU's kvm_get_mp_state, migrated as
// vmstate_x86_cpu env.mp_state) reports it.
TEST(MpState, VcpuHaltedWhenPausedStaysHalted_kvm_get_mp_state) {
    Machine m(2);
    boot_with_device(m, 1);
    EXPECT_EQ(m.kvm().get_regs(1).mp_state, kvm::MpState::Runnable);
    m.hlt(1);
    EXPECT_EQ(m.vcpu(1).mp_state, kvm::MpState::Halted);
    m.kvm().leave_guest(1, false);
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Stopped);
    EXPECT_FALSE(m.vcpu(1).loaded);
    EXPECT_EQ(m.kvm().get_regs(1).mp_state, kvm::MpState::Halted);
    m.kvm().leave_guest(0, false);
    EXPECT_EQ(m.kvm().get_regs(0).mp_state, kvm::MpState::Runnable);
}

// QEMU's kvm_put_mp_state (KVM_SET_MP_STATE, in kvm_arch_put_registers at KVM_PUT_FULL_STATE) then
// KVM_RUN: vcpu_run's kvm_vcpu_running is false for a HALTED vCPU, so vcpu_block runs; with nothing
// deliverable it blocks in kvm_vcpu_halt and is scheduled out blocking (vmx_vcpu_pi_put: the wakeup
// vector, the wakeup list). A post then wakes it through the wakeup vector and vcpu_block makes it
// RUNNABLE.
TEST(MpState, KvmRunOfAHaltedVcpuBlocksUntilAnEvent_kvm_put_mp_state) {
    Machine m(2);
    size_t d = boot_with_device(m, 1);
    m.kvm().leave_guest(1, false);
    kvm::VcpuRegs regs = m.kvm().get_regs(1);
    regs.rflags_if = true;
    regs.mp_state = kvm::MpState::Halted;
    size_t from = m.mark();
    m.kvm().set_regs(1, regs);
    EXPECT_EQ(m.find(tp::kKvmSetMpState, {arg("vcpu", 1), arg("mp_state", "halted")}, from).size(), 1u);
    m.kvm().run(1);
    m.service();
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Blocked);
    EXPECT_FALSE(m.cpu(1).in_guest());
    EXPECT_EQ(m.pid(1).nv, kPostedIntrWakeupVector);
    EXPECT_EQ(wakeup_list(m, 1), std::vector<uint32_t>{1});

    m.fire(d, 0);
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Runnable);
    EXPECT_EQ(m.vcpu(1).mp_state, kvm::MpState::Runnable);
    m.start(1);
    EXPECT_EQ(m.take_all(1), std::vector<uint8_t>{kVec});
}

// vcpu_block for a restored HALTED vCPU with an interrupt already pending in its IRR (the saved
// image's): kvm_arch_vcpu_runnable is true, so it becomes RUNNABLE and is entered at once.
TEST(MpState, KvmRunOfAHaltedVcpuWithAPendingInterruptEntersTheGuest_vcpu_block) {
    Machine m(1);
    m.start_all();
    m.kvm().leave_guest(0, false);
    m.page(0).set(apic::IRR, kVec);
    kvm::VcpuRegs regs = m.kvm().get_regs(0);
    regs.mp_state = kvm::MpState::Halted;
    m.kvm().set_regs(0, regs);
    m.kvm().run(0);
    m.service();
    EXPECT_EQ(m.vcpu(0).run, VcpuRun::InGuest);
    EXPECT_EQ(m.vcpu(0).mp_state, kvm::MpState::Runnable);
    EXPECT_EQ(m.take_all(0), std::vector<uint8_t>{kVec});
}

// ---- pi_wakeup_handler -------------------------------------------------------------------------------

// pi_wakeup_handler [reference §4.3, §9 "wakeup IPI with ON=0 does nothing"]: it walks only its
// own pCPU's list and wakes only vCPUs whose ON is set.
TEST(PiWakeupHandler, WakesOnlyVcpusOnItsListWhoseOnIsSet) {
    Machine m(2);
    size_t d = boot_with_device(m, 1);
    m.hlt(0);
    m.hlt(1);
    ASSERT_EQ(wakeup_list(m, 0), std::vector<uint32_t>{0});
    ASSERT_EQ(wakeup_list(m, 1), std::vector<uint32_t>{1});

    m.kvm().pi_wakeup_handler(1);  // spurious: ON is clear
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Blocked);

    m.fire(d, 0);  // posts to vCPU 1 only
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Runnable);
    EXPECT_EQ(m.vcpu(0).run, VcpuRun::Blocked);
    m.kvm().pi_wakeup_handler(0);
    EXPECT_EQ(m.vcpu(0).run, VcpuRun::Blocked);
}

// kvm_vcpu_block (virt/kvm/kvm_main.c) loops on kvm_vcpu_check_block, so a
// wake-up returns from HLT only when kvm_arch_vcpu_runnable -> kvm_vcpu_has_events finds an
// interrupt deliverable over PPR (apic_has_interrupt_for_ppr, which syncs PIR first) [reference
// §4.2 call sites "blocking/halting decisions"]. A post of a vector the guest's TPR masks sets ON,
// the wakeup vector's handler wakes the thread, it finds nothing deliverable and blocks again
// (sched_in/sched_out re-arm the wakeup vector): the guest does not resume after HLT without an
// interrupt to take.
TEST(PiWakeupHandler, WakeupForAnInterruptTheTprMasksLeavesTheVcpuHalted) {
    Machine m(2);
    size_t d = boot_with_device(m, 1);
    m.apic_write(1, apic::TPR, 0x50);  // vector 0x41 (class 4) is masked
    m.hlt(1);
    ASSERT_EQ(m.vcpu(1).run, VcpuRun::Blocked);
    m.fire(d, 0);
    ASSERT_EQ(m.dispatched_count(kPostedIntrWakeupVector), 1u);
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Blocked);
    EXPECT_FALSE(m.kvm().has_events(1));
}

// ---- vmx_sync_pir_to_irr -----------------------------------------------------------------------------

// vmx_sync_pir_to_irr [reference §4.2 "Important"]: PIR is harvested only when ON=1; a PIR bit
// behind ON=0 stays in PIR and RVI does not see it.
TEST(SyncPirToIrr, LeavesPirAloneWhenOnIsClear) {
    Machine m(1);
    PiDesc d = m.pid(0);
    d.pir.set(kVec);
    d.on = false;
    m.set_pid(0, d);
    EXPECT_EQ(m.kvm().sync_pir_to_irr(0), -1);
    EXPECT_EQ(m.pid(0), d);
    EXPECT_FALSE(m.virr(0, kVec));
    EXPECT_EQ(m.vmcs(0).rvi, 0);
}

// vmx_sync_pir_to_irr with ON=1 [reference §4.2, §8 invariants 4 and 6]: ON cleared, every PIR
// word ORed into vIRR (bits already there kept) and PIR zeroed; RVI = the highest vIRR vector;
// SN, NV and NDST untouched.
TEST(SyncPirToIrr, ClearsOnAndFoldsPirIntoVirr) {
    Machine m(1);
    m.kvm().vcpu_load(0);
    m.page(0).set(apic::IRR, 0x52);
    PiDesc d = m.pid(0);
    for (uint8_t v : {0x21, 0x41, 0x93, 0xE1}) d.pir.set(v);
    d.on = true;
    m.set_pid(0, d);
    size_t from = m.mark();
    EXPECT_EQ(m.kvm().sync_pir_to_irr(0), 0xE1);
    for (uint8_t v : {0x21, 0x41, 0x52, 0x93, 0xE1}) EXPECT_TRUE(m.virr(0, v)) << int{v};
    PiDesc after = m.pid(0);
    EXPECT_FALSE(after.pir.any());
    EXPECT_FALSE(after.on);
    EXPECT_EQ(after.sn, d.sn);
    EXPECT_EQ(after.nv, d.nv);
    EXPECT_EQ(after.ndst, d.ndst);
    EXPECT_EQ(m.vmcs(0).rvi, 0xE1);
    EXPECT_EQ(m.find(tp::kKvmSyncPirToIrr, {arg("harvested", 4), arg("highest", Hex{0xE1})}, from).size(), 1u);
}

// vmx_sync_pir_to_irr [reference §4.2, §3.3 "hardware does not load RVI from VIRR"]: with APICv,
// RVI = max IRR (0 if none) on every call, harvest or not.
TEST(SyncPirToIrr, RviIsTheHighestVirrVectorWithoutAHarvest) {
    Machine m(1);
    m.vmcs(0).rvi = 0x99;
    m.page(0).set(apic::IRR, 0x62);
    EXPECT_EQ(m.kvm().sync_pir_to_irr(0), 0x62);
    EXPECT_EQ(m.vmcs(0).rvi, 0x62);
    m.page(0).clear(apic::IRR, 0x62);
    EXPECT_EQ(m.kvm().sync_pir_to_irr(0), -1);
    EXPECT_EQ(m.vmcs(0).rvi, 0);
}

// ON is cleared before PIR is drained [reference §4.2, §8 invariant 4; VT-d §5.2.3]: while ON=1 a
// second post sends no notification (coalesced), and once the sync cleared ON the next post
// notifies again. Three posts of one vector before the entry are one interrupt.
TEST(SyncPirToIrr, PostAfterTheHarvestSeesOnClearAndNotifiesAgain) {
    Machine m(2);
    size_t d = boot_with_device(m, 1);
    m.kvm().leave_guest(1, /*preempted=*/true);
    m.kvm().vcpu_load(1);  // SN=0, the pCPU in root mode
    size_t from = m.mark();
    m.fire(d, 0);
    m.fire(d, 0);
    auto posts = m.find(tp::kIommuPost, {}, from);
    ASSERT_EQ(posts.size(), 2u);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("notify", true)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("coalesced", true), arg("notify", false)}, from).size(), 1u);
    EXPECT_EQ(m.dispatched_count(kPostedIntrVector), 1u);  // sysvec_kvm_posted_intr_ipi in root mode

    m.kvm().sync_pir_to_irr(1);
    ASSERT_FALSE(m.pid(1).on);
    size_t after_sync = m.mark();
    m.fire(d, 0);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("coalesced", false), arg("notify", true)}, after_sync).size(), 1u);
    EXPECT_TRUE(m.pid(1).on);

    m.start(1);
    EXPECT_EQ(m.take_all(1), std::vector<uint8_t>{kVec});
}

// With posting off (enable_apicv=0) vmx_sync_pir_to_irr does not look at the PID, and RVI is not
// used.
TEST(SyncPirToIrr, DoesNotTouchThePidWithApicvOff) {
    Machine m(1, KvmConfig{.apicv = false});
    PiDesc d = m.pid(0);
    d.pir.set(kVec);
    d.on = true;
    m.set_pid(0, d);
    m.vmcs(0).rvi = 0x77;
    EXPECT_EQ(m.kvm().sync_pir_to_irr(0), -1);
    EXPECT_EQ(m.pid(0), d);
    EXPECT_FALSE(m.virr(0, kVec));
    EXPECT_EQ(m.vmcs(0).rvi, 0x77);
}

// ---- posting to a running vCPU ---------------------------------------------------------------------

// A post to a vCPU in non-root operation [reference §2.1, §3.1; SDM §29.6]: the notification
// (POSTED_INTR_VECTOR) is recognized in the guest and processed there — ON cleared, PIR moved to
// vIRR, RVI raised — without a VM exit or host handler; the guest takes it once.
TEST(PostWhileRunning, IsProcessedInTheGuestWithoutAVmExit) {
    Machine m(2);
    size_t d = boot_with_device(m, 1);
    const size_t dispatched = m.dispatched.size();
    size_t from = m.mark();
    m.fire(d, 0);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("notify", true)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kBusInterrupt, {arg("apic_id", 1), arg("vector", Hex{kPostedIntrVector})}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kCpuPiProcess, {arg("cpu", 1), arg("moved", 1)}, from).size(), 1u);
    EXPECT_EQ(m.count({tp::kCpuVmExitApicRead, tp::kCpuVmExit}, from), 0u);
    EXPECT_EQ(m.dispatched.size(), dispatched);
    EXPECT_TRUE(m.cpu(1).in_guest());
    EXPECT_TRUE(m.virr(1, kVec));
    EXPECT_EQ(m.vmcs(1).rvi, kVec);
    EXPECT_FALSE(m.pid(1).on);
    EXPECT_FALSE(m.pid(1).pir.any());

    std::optional<Taken> t = m.take(1);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->vector, kVec);
    EXPECT_EQ(t->path, DeliveryPath::Direct);
    EXPECT_TRUE(m.take_all(1).empty());
    EXPECT_FALSE(m.visr(1, kVec));  // the guest's EOI, virtualized
}

// ---- coalescing ----------------------------------------------------------------------------------------

// VT-d §5.2.3 [reference §2.1, §9 "Duplicated"]: the same vector posted twice while the vCPU is
// preempted finds its PIR bit already set; the guest takes it once after the next load.
TEST(Coalescing, SameVectorPostedTwiceUnderSnIsDeliveredOnce) {
    Machine m(2);
    size_t d = boot_with_device(m, 1);
    m.kvm().leave_guest(1, /*preempted=*/true);
    size_t from = m.mark();
    m.fire(d, 0);
    m.fire(d, 0);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("coalesced", false)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("coalesced", true)}, from).size(), 1u);
    m.start(1);
    EXPECT_EQ(m.take_all(1), std::vector<uint8_t>{kVec});
}

// VT-d §9.11 ON [reference §2.1]: with ON already set a post of another vector sets its PIR bit
// with no second notification; both vectors are delivered, higher priority first.
TEST(Coalescing, PostWhileOnIsSetSendsNoSecondNotification) {
    Machine m(2);
    m.start_all();
    size_t d = m.plug({physical_msi(1, kVec), physical_msi(1, 0x61)});
    m.kvm().leave_guest(1, /*preempted=*/true);
    m.kvm().vcpu_load(1);
    size_t from = m.mark();
    m.fire(d, 0);
    m.fire(d, 1);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("vector", Hex{kVec}), arg("notify", true)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("vector", Hex{0x61}), arg("on", true), arg("notify", false)}, from).size(),
              1u);
    EXPECT_EQ(m.count(tp::kBusInterrupt, from), 1u);
    m.start(1);
    EXPECT_EQ(m.take_all(1), (std::vector<uint8_t>{0x61, kVec}));
}

// A vector posted again while an earlier instance waits in vIRR (guest RFLAGS.IF=0) is merged by
// posted-interrupt processing (VIRR |= PIR) [reference §3.1, §9]: one interrupt after STI.
TEST(Coalescing, RepostOfAVectorPendingInVirrIsTakenOnce) {
    Machine m(2);
    size_t d = boot_with_device(m, 1);
    m.cpu(1).guest_set_if(false);
    size_t from = m.mark();
    m.fire(d, 0);
    EXPECT_FALSE(m.take(1).has_value());
    m.fire(d, 0);
    EXPECT_EQ(m.count(tp::kCpuPiProcess, from), 2u);
    EXPECT_TRUE(m.virr(1, kVec));
    EXPECT_FALSE(m.pir(1, kVec));
    m.cpu(1).guest_set_if(true);
    EXPECT_EQ(m.take_all(1), std::vector<uint8_t>{kVec});
}

// ---- posting disabled ----------------------------------------------------------------------------------

// Posting off (policy x86.posting=off: KvmConfig.apicv=false) [reference §4.5, §6 fallback]:
// kvm_pi_update_irte keeps the IRTE remapped, the MSI reaches the host vector, VFIO's handler
// signals the irqfd, kvm_set_msi sets vIRR and kicks, and KVM injects it at the next entry
// (Software path), once.
TEST(PostingDisabled, IrteStaysRemappedAndKvmInjectsTheInterrupt) {
    Machine m(2, KvmConfig{.apicv = false});
    m.start_all();
    size_t from = m.mark();
    size_t d = m.plug({physical_msi(1, kVec)});
    EXPECT_EQ(m.find(tp::kKvmPiUpdateIrte, {arg("posted", false), arg("why", "APICv off")}, from).size(), 1u);
    IrteWords w = m.irte(d, 0);
    EXPECT_FALSE(is_posted(w.low));
    EXPECT_EQ(RemappedIrte::decode(w.low, w.high), m.iommu().irq(m.host_irq(d, 0)).remapped);
    EXPECT_FALSE(m.vmcs(1).process_posted_interrupts);

    from = m.mark();
    m.fire(d, 0);
    EXPECT_EQ(m.count(tp::kIommuPost, from), 0u);
    EXPECT_EQ(m.count(tp::kIommuRemap, from), 1u);
    EXPECT_EQ(m.find(tp::kVfioMsihandler, {arg("irqfd", true)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kKvmSetMsi, {arg("via", "irqfd")}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kKvmInject, {arg("vcpu", 1), arg("vector", Hex{kVec})}, from).size(), 1u);
    EXPECT_FALSE(m.pir(1, kVec));
    std::optional<Taken> t = m.take(1);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->vector, kVec);
    EXPECT_EQ(t->path, DeliveryPath::Software);
    EXPECT_TRUE(m.take_all(1).empty());
}

}  // namespace
}  // namespace irqdiff::x86
