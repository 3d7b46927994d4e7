// KVM's vgic core (arm_gic/kvm/vgic.cc): the guest's redistributors, the two paths that read the
// guest's LPI pending table into pending_latch, list-register injection, blocking and kicks
// (reference/arm §3.1, §3.3, appendix B).
#include <gtest/gtest.h>

#include "tests/arm_gic/kvm_harness.h"

namespace irqdiff::arm::testing {
namespace {

using kvm::TransferPoint;
using kvm::VcpuRun;

/// One vCPU, an emulated device with six vectors, all routed to vCPU 0 (LPIs 8192..8197).
const std::string kSix =
    "vm: {vcpus: 1}\n"
    "devices: [{name: emu, vectors: 6}]\n"
    "routes: [{source: emu.0, vcpu: 0}, {source: emu.1, vcpu: 0}, {source: emu.2, vcpu: 0},\n"
    "         {source: emu.3, vcpu: 0}, {source: emu.4, vcpu: 0}, {source: emu.5, vcpu: 0}]\n";

// ---- the guest's redistributors (vgic-mmio-v3.c) ----------------------------------------------

// vgic_mmio_read_pendbase: GICR_PENDBASER.PTZ is write-only and reads as 0; the rest reads back.
TEST(KvmVgicr, PendbaserReadsPtzAsZero) {
    KvmHarness t(kEmu);
    uint64_t value = GuestLayout::pending_table(0) | GicrPendbaser::PTZ.make(1);
    t.kvm().gicr_write(0, GICR_PENDBASER, value);
    EXPECT_EQ(t.kvm().gicr_read(0, GICR_PENDBASER), GuestLayout::pending_table(0));
    EXPECT_EQ(t.vgic().cpus[0].pendbaser, value) << "KVM keeps PTZ for vgic_enable_lpis";
}

// vgic_enable_lpis: with GICR_PENDBASER.PTZ set the pending table is not read.
TEST(KvmVgicr, EnableLpisWithPtzSkipsThePendingTableSync) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.kvm().gicr_write(0, GICR_CTLR, 0);
    t.kvm().gicr_write(0, GICR_PENDBASER, GuestLayout::pending_table(0) | GicrPendbaser::PTZ.make(1));
    t.set_guest_pending(0, kLpi0, true);
    size_t from = t.mark();
    t.kvm().gicr_write(0, GICR_CTLR, GicrCtlr::EnableLPIs.make(1));
    EXPECT_FALSE(t.lpi(kLpi0)->pending_latch);
    EXPECT_TRUE(t.find(tp::kKvmSyncLpiPendingTable, {}, from).empty()) << t.text();
}

// vgic_mmio_write_propbase / vgic_mmio_write_pendbase: ignored while EnableLPIs is set, accepted
// once it is clear.
TEST(KvmVgicr, PropbaserAndPendbaserWritesAreIgnoredWhileLpisAreEnabled) {
    KvmHarness t(kEmu);
    t.boot_guest();
    kvm::Kvm k = t.kvm();
    uint64_t prop = k.gicr_read(0, GICR_PROPBASER), pend = k.gicr_read(0, GICR_PENDBASER);
    k.gicr_write(0, GICR_PROPBASER, 0x2000'0000);
    k.gicr_write(0, GICR_PENDBASER, 0x2100'0000);
    EXPECT_EQ(k.gicr_read(0, GICR_PROPBASER), prop);
    EXPECT_EQ(k.gicr_read(0, GICR_PENDBASER), pend);
    EXPECT_EQ(t.count(tp::kKvmWriteGicrPropbaserIgnored), 1u);
    EXPECT_EQ(t.count(tp::kKvmWriteGicrPendbaserIgnored), 1u);

    k.gicr_write(0, GICR_CTLR, 0);
    k.gicr_write(0, GICR_PENDBASER, 0x2100'0000);
    EXPECT_EQ(k.gicr_read(0, GICR_PENDBASER), 0x2100'0000u);
}

// ---- the two paths from the guest's pending table into pending_latch (reference/arm §3.3) ------

// its_sync_lpi_pending_table (vgic_enable_lpis): EnableLPIs 0->1 reads the bit of every LPI that
// targets the vCPU into pending_latch and leaves the table as it is.
TEST(KvmEnableLpis, PendingTableIsReadIntoPendingLatchWithoutClearingIt) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.kvm().gicr_write(0, GICR_CTLR, 0);
    t.set_guest_pending(0, kLpi0, true);
    t.set_guest_pending(0, kLpi2, true);  // LPI 8194 targets vCPU 1: vCPU 0's table is not its own
    t.kvm().gicr_write(0, GICR_CTLR, GicrCtlr::EnableLPIs.make(1));
    EXPECT_TRUE(t.lpi(kLpi0)->pending_latch);
    EXPECT_TRUE(t.lpi(kLpi0)->queued);
    EXPECT_FALSE(t.lpi(kLpi1)->pending_latch);
    EXPECT_FALSE(t.lpi(kLpi2)->pending_latch);
    EXPECT_TRUE(t.guest_pending(0, kLpi0)) << "its_sync_lpi_pending_table does not clear consumed bits";
}

// its_sync_lpi_pending_table: pending_latch is assigned, so a clear bit clears a pending LPI.
TEST(KvmEnableLpis, SyncAssignsPendingLatchAndCanClearIt) {
    KvmHarness t(kEmu);
    t.boot_guest();
    ASSERT_EQ(t.kvm().trigger_msi(kDev0, 0), kvm::kOk);
    t.kvm().gicr_write(0, GICR_CTLR, 0);
    ASSERT_TRUE(t.lpi(kLpi0)->pending_latch);
    t.kvm().gicr_write(0, GICR_CTLR, GicrCtlr::EnableLPIs.make(1));
    EXPECT_FALSE(t.lpi(kLpi0)->pending_latch);
}

// vgic_flush_pending_lpis: EnableLPIs 1->0 takes the vCPU's LPIs off its ap_list; pending_latch
// stays, and other vCPUs keep theirs.
TEST(KvmEnableLpis, DisablingDropsLpisFromTheApListButKeepsPendingLatch) {
    KvmHarness t(kEmu);
    t.boot_guest();
    ASSERT_EQ(t.kvm().trigger_msi(kDev0, 0), kvm::kOk);
    ASSERT_EQ(t.kvm().trigger_msi(kDev0, 2), kvm::kOk);
    ASSERT_EQ(t.vgic().cpus[0].ap_list, (std::vector<uint32_t>{kLpi0}));
    t.kvm().gicr_write(0, GICR_CTLR, 0);
    EXPECT_TRUE(t.vgic().cpus[0].ap_list.empty());
    EXPECT_FALSE(t.lpi(kLpi0)->queued);
    EXPECT_TRUE(t.lpi(kLpi0)->pending_latch);
    EXPECT_FALSE(t.kvm().vcpu_has_pending(0));
    EXPECT_EQ(t.vgic().cpus[1].ap_list, (std::vector<uint32_t>{kLpi2}));
    EXPECT_EQ(t.count(tp::kKvmVgicFlushPendingLpis), 1u);
}

// vgic_flush_pending_lpis (reference/arm §3.3): vLPIs stay forwarded when EnableLPIs is cleared.
TEST(KvmEnableLpis, DisablingKeepsForwardedLpisForwarded) {
    KvmHarness t(kNic);
    t.boot();
    ASSERT_TRUE(t.lpi(kLpi0)->hw);
    t.kvm().gicr_write(0, GICR_CTLR, 0);
    EXPECT_TRUE(t.lpi(kLpi0)->hw);
    EXPECT_TRUE(t.h.its.irq(t.host_irq(0, 0)).forwarded);
    EXPECT_TRUE(t.host_ite(0, 0).is_virtual);
}

// reference/arm §9 duplicated.2 and .3: SAVE_PENDING_TABLES leaves the forwarded vLPI pending in
// the VPT and its bit set in the guest table (non-destructive); if the source resumes and the
// guest toggles EnableLPIs, its_sync_lpi_pending_table reads the stale bit into pending_latch of
// the hw LPI, and the interrupt is delivered twice: from the VPT and through an LR with HW=1.
TEST(KvmEnableLpis, ToggleAfterASaveReadsTheStaleBitIntoAForwardedLpi) {
    KvmHarness t(kNic);
    t.boot();
    t.mask(0);
    t.fire(0, 0);
    t.stop_vcpus();
    ASSERT_EQ(t.kvm().save_pending_tables(), kvm::kOk);
    ASSERT_TRUE(t.guest_pending(0, kLpi0));
    t.h.vgic.cpus[0].run = VcpuRun::Runnable;  // the migration is cancelled: the source resumes
    t.kvm().vcpu_load(0);
    t.guest().toggle_lpis(0);
    EXPECT_TRUE(t.lpi(kLpi0)->hw);
    EXPECT_TRUE(t.lpi(kLpi0)->pending_latch);
    EXPECT_TRUE(t.vlpi_pending(0, kLpi0));

    t.mask(0, false);
    EXPECT_EQ(t.run(0), 2u);
    ASSERT_EQ(t.glog.size(), 2u);
    EXPECT_EQ(t.glog.deliveries()[0].path, DeliveryPath::Direct);
    EXPECT_EQ(t.glog.deliveries()[1].path, DeliveryPath::Software);
    EXPECT_GE(t.count({tp::kVcpuWriteLrHwViolation, tp::kVcpuWriteLrTwiceViolation, tp::kVcpuWriteLrAndVptViolation}),
              1u)
        << t.text();
}

// vgic_add_lpi -> vgic_v3_lpi_sync_pending_status: a guest MAPTI creating an LPI reads its bit from
// the target vCPU's pending table and clears it ("clear consumed data"); the other bits of the
// byte stay.
TEST(KvmAddLpi, MaptiReadsTheGuestPendingBitAndClearsIt) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.set_guest_prop(8200, 0x80, true);
    t.set_guest_pending(0, 8200, true);
    t.set_guest_pending(0, 8201, true);  // the same byte
    t.cmd(build::mapti(kDev0, 3, 8200, 0));
    const kvm::VgicIrq* irq = t.lpi(8200);
    ASSERT_NE(irq, nullptr) << t.text();
    EXPECT_EQ(irq->target_vcpu, 0u);
    EXPECT_TRUE(irq->pending_latch);
    EXPECT_TRUE(irq->enabled);
    EXPECT_EQ(irq->priority, 0x80);  // update_lpi_config ran first
    EXPECT_TRUE(irq->queued);
    EXPECT_FALSE(t.guest_pending(0, 8200));
    EXPECT_TRUE(t.guest_pending(0, 8201));
}

// vgic_add_lpi: without a target vCPU (collection not mapped) there is no table to read.
TEST(KvmAddLpi, MaptiToAnUnmappedCollectionDoesNotSync) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.set_guest_pending(0, 8200, true);
    t.cmd(build::mapti(kDev0, 3, 8200, 7));
    ASSERT_NE(t.lpi(8200), nullptr);
    EXPECT_EQ(t.lpi(8200)->target_vcpu, kvm::kNoVcpu);
    EXPECT_FALSE(t.lpi(8200)->pending_latch);
    EXPECT_TRUE(t.guest_pending(0, 8200));
}

// ---- list registers (vgic.c, vgic-v3.c) ----------------------------------------------------------

// vgic_flush_lr_state / vgic_v3_populate_lr: an edge LPI's pending state moves into a list
// register; vgic_v3_fold_lr_state: the guest (masked) did not take it, so it comes back into
// pending_latch and stays queued.
TEST(KvmListRegisters, FlushMovesPendingIntoAnLrAndSyncFoldsItBack) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.load_all();
    t.mask(0);
    ASSERT_EQ(t.kvm().trigger_msi(kDev0, 0), kvm::kOk);

    t.kvm().vcpu_enter(0);
    ListRegister lr = t.h.gic.cpu(0).lr(0);
    EXPECT_EQ(lr.status, ListRegister::Status::Pending);
    EXPECT_EQ(lr.vintid, kLpi0);
    EXPECT_FALSE(lr.hw);
    EXPECT_TRUE(lr.group1);
    EXPECT_EQ(lr.priority, GuestLayout::kPriority);
    EXPECT_FALSE(t.lpi(kLpi0)->pending_latch) << "the pending state is in the LR now";
    EXPECT_EQ(t.vgic().cpus[0].lr_intid[0], kLpi0);

    EXPECT_EQ(t.guest().take_interrupts(0, t.scenario, t.glog), 0u);  // masked
    t.kvm().vcpu_exit(0);
    EXPECT_TRUE(t.lpi(kLpi0)->pending_latch);
    EXPECT_EQ(t.h.gic.cpu(0).read_lr(0), 0u);
    EXPECT_EQ(t.vgic().cpus[0].lr_intid[0], kvm::kNoIntid);
    EXPECT_EQ(t.vgic().cpus[0].ap_list, (std::vector<uint32_t>{kLpi0}));

    t.mask(0, false);
    EXPECT_EQ(t.run(0), 1u);
    ASSERT_EQ(t.glog.size(), 1u);
    EXPECT_EQ(t.glog.deliveries()[0].path, DeliveryPath::Software);
    EXPECT_FALSE(t.lpi(kLpi0)->pending_latch);
    EXPECT_TRUE(t.vgic().cpus[0].ap_list.empty()) << "vgic_prune_ap_list drops what was taken";
    EXPECT_EQ(t.count(EventKind::Violation), 0u) << t.text();
}

// vgic_sort_ap_list: list registers are filled in priority order (lower value first), equal
// priorities by INTID, whatever order the LPIs were queued in.
TEST(KvmListRegisters, ApListIsFlushedInPriorityOrder) {
    KvmHarness t(kSix);
    t.boot_guest();
    t.set_guest_prop(kLpi0 + 1, 0x40, true);
    t.set_guest_prop(kLpi0 + 3, 0x60, true);
    t.cmd(build::inv(kDev0, 1));
    t.cmd(build::inv(kDev0, 3));
    ASSERT_EQ(t.lpi(kLpi0 + 1)->priority, 0x40);
    t.load_all();
    t.mask(0);
    for (uint32_t e : {2u, 0u, 3u, 1u}) ASSERT_EQ(t.kvm().trigger_msi(kDev0, e), kvm::kOk);
    t.kvm().vcpu_enter(0);
    std::vector<uint32_t> lrs;
    for (unsigned n = 0; n < 4; ++n) lrs.push_back(t.h.gic.cpu(0).lr(n).vintid);
    EXPECT_EQ(lrs, (std::vector<uint32_t>{kLpi0 + 1, kLpi0 + 3, kLpi0, kLpi0 + 2}));
    t.kvm().vcpu_exit(0);

    t.mask(0, false);
    EXPECT_EQ(t.run(0), 4u);
    std::vector<SourceId> taken;
    for (const Delivery& d : t.glog.deliveries()) taken.push_back(d.source);
    EXPECT_EQ(taken, (std::vector<SourceId>{1, 3, 0, 2}));
}

// vgic_flush_lr_state: more queued LPIs than list registers: the rest waits on the ap_list and is
// injected at a later entry.
TEST(KvmListRegisters, LpisBeyondTheListRegistersWaitForALaterEntry) {
    KvmHarness t(kSix);
    t.boot_guest();
    t.load_all();
    for (uint32_t e = 0; e < 5; ++e) ASSERT_EQ(t.kvm().trigger_msi(kDev0, e), kvm::kOk);
    t.kvm().vcpu_enter(0);
    ASSERT_EQ(t.find(tp::kKvmLrOverflow, {arg("waiting", kLpi0 + 4)}).size(), 1u) << t.text();
    EXPECT_TRUE(t.lpi(kLpi0 + 4)->pending_latch);
    t.kvm().vcpu_exit(0);
    EXPECT_EQ(t.run(0), 5u);
    EXPECT_EQ(t.count(EventKind::Violation), 0u) << t.text();
}

// vgic_v3_populate_lr for a forwarded LPI (reference/arm §3.1, §9 duplicated.1): pending_latch
// left on a hw LPI (arm.transfer=none) lands in a list register with HW=1 naming pINTID 0, and
// the CPU interface reports the violation.
TEST(KvmListRegisters, ForwardedLpiWithPendingLatchLandsInAnLrWithHwSet) {
    KvmHarness t(kNic, {.transfer = TransferPoint::None});
    t.boot_guest();
    t.enable_msix(0);
    t.fire(0, 0);  // not forwarded yet: host LPI -> vfio_msihandler -> kvm_set_msi
    ASSERT_TRUE(t.lpi(kLpi0)->pending_latch) << t.text();
    t.connect(0);
    ASSERT_TRUE(t.lpi(kLpi0)->hw);
    ASSERT_TRUE(t.lpi(kLpi0)->pending_latch) << "arm.transfer=none leaves it";
    t.load_all();
    t.mask(0);
    t.kvm().vcpu_enter(0);
    ListRegister lr = t.h.gic.cpu(0).lr(0);
    EXPECT_EQ(lr.vintid, kLpi0);
    EXPECT_TRUE(lr.hw);
    EXPECT_EQ(lr.pintid, 0u);
    EXPECT_EQ(t.count({tp::kVcpuWriteLrHwViolation, tp::kVcpuWriteLrTwiceViolation, tp::kVcpuWriteLrAndVptViolation}),
              1u)
        << t.text();
}

// vgic_v3_populate_lr ("allow_pending = false" when an HW interrupt is active): KVM never writes an
// HW=1 list register pending and active. A forwarded LPI with pending_latch (arm.transfer=none)
// that the guest acknowledged gets pending_latch again (an EnableLPIs toggle reads the stale
// pending-table bit): the next entry writes the LR active only and keeps pending_latch; after the
// EOI the next entry writes it pending. The CPU interface never sees the invalid state.
TEST(KvmListRegisters, ActiveHwInterruptIsNeverWrittenPendingAndActive) {
    KvmHarness t(kNic, {.transfer = TransferPoint::None});
    t.boot_guest();
    t.enable_msix(0);
    t.fire(0, 0);
    t.connect(0);
    ASSERT_TRUE(t.lpi(kLpi0)->hw);
    ASSERT_TRUE(t.lpi(kLpi0)->pending_latch);
    t.load_all();
    t.kvm().vcpu_enter(0);
    ASSERT_EQ(t.h.gic.cpu(0).read_iar1(), kLpi0);  // acknowledged, not yet EOI'd
    t.kvm().vcpu_exit(0);
    ASSERT_TRUE(t.lpi(kLpi0)->active);
    t.set_guest_pending(0, kLpi0, true);
    t.kvm().gicr_write(0, GICR_CTLR, 0);
    t.kvm().gicr_write(0, GICR_CTLR, GicrCtlr::EnableLPIs.make(1));
    ASSERT_TRUE(t.lpi(kLpi0)->pending_latch) << t.text();

    size_t from = t.mark();
    t.kvm().vcpu_enter(0);
    ListRegister lr = t.h.gic.cpu(0).lr(0);
    EXPECT_EQ(lr.vintid, kLpi0);
    EXPECT_TRUE(lr.hw);
    EXPECT_EQ(lr.status, ListRegister::Status::Active);
    EXPECT_TRUE(t.lpi(kLpi0)->pending_latch) << "the pending state stays in software";
    EXPECT_TRUE(t.find(tp::kVcpuWriteLr, {arg("state", "pending+active")}, from).empty()) << t.text();
    EXPECT_EQ(t.count(tp::kVcpuWriteLrHwPendingActiveError), 0u) << t.text();

    t.h.gic.cpu(0).write_eoir1(kLpi0);
    t.kvm().vcpu_exit(0);
    EXPECT_FALSE(t.lpi(kLpi0)->active);
    t.kvm().vcpu_enter(0);
    EXPECT_EQ(t.h.gic.cpu(0).lr(0).status, ListRegister::Status::Pending);
    EXPECT_FALSE(t.lpi(kLpi0)->pending_latch);
}

// ---- blocking and kicks ---------------------------------------------------------------------------

// kvm_vgic_vcpu_pending_irq: with nothing pending a vCPU that blocks sleeps.
TEST(KvmBlock, VcpuWithNothingPendingSleeps) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.load_all();
    EXPECT_FALSE(t.kvm().vcpu_has_pending(0));
    t.kvm().vcpu_block(0);
    EXPECT_EQ(t.vgic().cpus[0].run, VcpuRun::Blocked);
    EXPECT_EQ(t.find(tp::kKvmVcpuBlock, {arg("vcpu", 0), arg("sleeps", true)}).size(), 1u);
    EXPECT_EQ(t.run(0), 0u);
}

// kvm_vgic_vcpu_pending_irq: an enabled, pending software LPI on the ap_list keeps the vCPU
// runnable; a disabled one does not (vgic_target_oracle never queues it).
TEST(KvmBlock, PendingSoftwareLpiKeepsTheVcpuRunnable) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.set_guest_prop(kLpi1, GuestLayout::kPriority, false);
    t.cmd(build::inv(kDev0, 1));
    t.load_all();
    ASSERT_EQ(t.kvm().trigger_msi(kDev0, 1), kvm::kOk);
    EXPECT_FALSE(t.lpi(kLpi1)->queued);
    t.kvm().vcpu_block(0);
    EXPECT_EQ(t.vgic().cpus[0].run, VcpuRun::Blocked) << "a disabled LPI does not wake the vCPU";

    t.kvm().kick(0);
    ASSERT_EQ(t.kvm().trigger_msi(kDev0, 0), kvm::kOk);
    t.kvm().vcpu_load(0);
    t.kvm().vcpu_block(0);
    EXPECT_EQ(t.vgic().cpus[0].run, VcpuRun::Runnable);
    EXPECT_EQ(t.find(tp::kKvmVcpuBlock, {arg("vcpu", 0), arg("sleeps", false)}).size(), 1u);
}

// kvm_vgic_vcpu_pending_irq (c971968071d3 "Use pending_last as a scheduling hint"): a forwarded
// vLPI pending in the VPT makes the de-schedule read back PendingLast = 1, and the vCPU stays
// runnable although no software LPI is pending.
TEST(KvmBlock, PendingLastFromAForwardedVlpiKeepsTheVcpuRunnable) {
    KvmHarness t(kNic);
    t.boot();
    t.mask(0);
    t.fire(0, 0);
    ASSERT_TRUE(t.vlpi_pending(0, kLpi0));
    ASSERT_FALSE(t.lpi(kLpi0)->pending_latch);
    t.kvm().vcpu_block(0);
    EXPECT_TRUE(t.h.its.vpe(0).pending_last);
    EXPECT_TRUE(t.kvm().vcpu_has_pending(0));
    EXPECT_EQ(t.vgic().cpus[0].run, VcpuRun::Runnable);
    EXPECT_TRUE(t.doorbells.empty());
}

// kvm_vcpu_kick: only a blocked vCPU is woken.
TEST(KvmKick, KickWakesOnlyABlockedVcpu) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.load_all();
    t.kvm().kick(1);
    EXPECT_EQ(t.vgic().cpus[1].run, VcpuRun::Loaded);
    EXPECT_EQ(t.count(tp::kKvmVcpuKick), 0u);
    t.kvm().vcpu_block(0);
    ASSERT_EQ(t.vgic().cpus[0].run, VcpuRun::Blocked);
    t.kvm().kick(0);
    EXPECT_EQ(t.vgic().cpus[0].run, VcpuRun::Runnable);
    EXPECT_EQ(t.count(tp::kKvmVcpuKick), 1u);
}

// vgic_queue_irq_unlock: queuing an LPI kicks its target vCPU.
TEST(KvmKick, QueuingAnLpiKicksItsBlockedTarget) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.load_all();
    t.kvm().vcpu_block(0);
    ASSERT_EQ(t.vgic().cpus[0].run, VcpuRun::Blocked);
    ASSERT_EQ(t.kvm().trigger_msi(kDev0, 0), kvm::kOk);
    EXPECT_EQ(t.vgic().cpus[0].run, VcpuRun::Runnable);
    EXPECT_EQ(t.vgic().cpus[1].run, VcpuRun::Loaded);
    EXPECT_EQ(t.run(0), 1u);
}

}  // namespace
}  // namespace irqdiff::arm::testing
