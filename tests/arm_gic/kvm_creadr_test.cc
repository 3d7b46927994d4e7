// The vITS command queue across a migration (issue 15 §2.4 item 3): the restore of GITS_CBASER,
// GITS_CREADR and GITS_CWRITER by userspace (arm.vmm_its_regs, arm_gic/vmm/qemu.cc), what
// GITS_CTLR then runs (vgic_mmio_write_its_ctlr -> vgic_its_process_commands), and the reference
// counting that decides what a replayed MAPD frees (its_free_ite -> vgic_put_irq).
#include <gtest/gtest.h>

#include "tests/arm_gic/kvm_harness.h"

namespace irqdiff::arm::testing {
namespace {

using vmm::ItsRegsOrder;

/// A source VM after its boot (MAPC x2, MAPD, MAPTI x2, SYNC x2 in its queue), saved the way
/// QEMU's stop handlers save it (ITS tables, pending tables).
void save(KvmHarness& src) {
    src.stop_vcpus();
    ASSERT_EQ(src.kvm().its_save_tables(), kvm::kOk);
    ASSERT_EQ(src.kvm().save_pending_tables(), kvm::kOk);
}

// ---- register restore (vgic_mmio_write_its_cbaser, vgic_mmio_uaccess_write_its_creadr) -------------

// QEMU kvm_arm_its_post_load (arm.vmm_its_regs=abi): CBASER, then CREADR and CWRITER, so the
// destination holds the source's offsets and GITS_CTLR runs nothing (arm-vgic-its.rst).
TEST(ArmItsRegsOrder, TheAbiOrderKeepsCreadrAndRunsNoCommand_kvm_arm_its_post_load) {
    KvmHarness src(kNic), dst(kNic);
    src.boot_guest();
    const uint64_t creadr = src.kvm().its_read(GITS_CREADR);
    ASSERT_EQ(creadr, 7u * 32);
    ASSERT_EQ(src.kvm().its_read(GITS_CWRITER), creadr);
    save(src);
    const size_t from = dst.mark();
    ASSERT_EQ(restore_vgic(src, dst, ItsRegsOrder::Abi), kvm::kOk);
    EXPECT_EQ(dst.kvm().its_read(GITS_CREADR), creadr);
    EXPECT_EQ(dst.kvm().its_read(GITS_CWRITER), creadr);
    EXPECT_TRUE(dst.find(tp::kKvmCbaserResetsQueue, {}, from).empty());
    EXPECT_TRUE(dst.find(tp::kKvmItsEnableRunsQueue, {}, from).empty());
    EXPECT_TRUE(dst.find(tp::kVitsMapd, {}, from).empty()) << dst.text();
}

// arm-vgic-its.rst: GITS_CREADR "must be restored after GITS_CBASER ... otherwise commands in the
// queue will be re-executed": vgic_mmio_write_its_cbaser sets CREADR = CWRITER = 0, CWRITER is
// restored after it, and vgic_mmio_write_its_ctlr runs the guest's seven boot commands again.
TEST(ArmItsRegsOrder, CreadrBeforeCbaserIsResetAndGitsCtlrReRunsTheQueue_arm_vgic_its_rst) {
    KvmHarness src(kNic), dst(kNic);
    src.boot_guest();
    save(src);
    const size_t from = dst.mark();
    ASSERT_EQ(restore_vgic(src, dst, ItsRegsOrder::CreadrBeforeCbaser), kvm::kOk);
    EXPECT_EQ(dst.find(tp::kKvmCbaserResetsQueue, {}, from).size(), 1u) << dst.text();
    EXPECT_EQ(dst.find(tp::kKvmRestoreItsRegisters, {EventArg{"creadr", ArgValue(Hex{0})}}, from).size(), 1u)
        << dst.text();
    EXPECT_EQ(dst.find(tp::kKvmItsEnableRunsQueue, {arg("commands", 7)}, from).size(), 1u) << dst.text();
    EXPECT_EQ(dst.find(tp::kVitsMapc, {}, from).size(), 2u);
    EXPECT_EQ(dst.find(tp::kVitsMapd, {}, from).size(), 1u);
    EXPECT_EQ(dst.find(tp::kVitsMapti, {}, from).size(), 2u);
    // Afterwards the queue is consumed and the translation is the source's.
    EXPECT_EQ(dst.kvm().its_read(GITS_CREADR), dst.kvm().its_read(GITS_CWRITER));
    for (uint32_t event : {0u, 1u}) {
        const kvm::VgicIrq* want = src.kvm().translate(kDev0, event);
        const kvm::VgicIrq* got = dst.kvm().translate(kDev0, event);
        ASSERT_NE(got, nullptr);
        EXPECT_EQ(got->intid, want->intid);
        EXPECT_EQ(got->target_vcpu, want->target_vcpu);
    }
}

// vgic_mmio_uaccess_write_its_creadr: -EBUSY while the vITS is enabled, -EINVAL beyond the queue
// GITS_CBASER describes (4 KiB on a fresh vITS, whose CBASER is 0), else the offset is taken.
TEST(ArmItsRegsOrder, UaccessCreadrIsRefusedWhileEnabledOrBeyondTheQueue_vgic_mmio_uaccess_write_its_creadr) {
    KvmHarness t(kNic);
    EXPECT_EQ(t.kvm().its_uaccess_write(GITS_CREADR, 0x1000), kvm::kEinval);
    EXPECT_EQ(t.kvm().its_uaccess_write(GITS_CREADR, 0x40), kvm::kOk);
    EXPECT_EQ(t.kvm().its_read(GITS_CREADR), 0x40u);
    t.boot_guest();
    EXPECT_EQ(t.kvm().its_uaccess_write(GITS_CREADR, 0x40), kvm::kEbusy);
    EXPECT_EQ(t.count(tp::kKvmUaccessCreadrError), 2u);
    EXPECT_EQ(t.kvm().its_read(GITS_CREADR), 7u * 32);
}

// ---- its_free_ite drops the ITS's reference only (vgic_put_irq) ------------------------------

// its_free_ite -> vgic_put_irq: an LPI queued on an ap_list (vgic_queue_irq_unlock took a
// reference) outlives its ITE with its pending_latch; the guest still takes it, and the LPI is
// freed when vgic_prune_ap_list drops the ap_list's reference.
TEST(ItsFreeIte, AQueuedLpiOutlivesItsIteUntilTheApListDropsIt_its_free_ite) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.load_all();
    ASSERT_EQ(t.kvm().trigger_msi(kDev0, 0), kvm::kOk);
    ASSERT_TRUE(t.lpi(kLpi0)->queued);
    t.cmd(build::discard(kDev0, 0));
    ASSERT_NE(t.lpi(kLpi0), nullptr) << t.text();
    EXPECT_TRUE(t.lpi(kLpi0)->pending_latch);
    EXPECT_EQ(t.find(tp::kKvmLpiHeldByApList, {arg("intid", kLpi0)}).size(), 1u);
    EXPECT_TRUE(t.find(tp::kKvmFreeLpi, {arg("intid", kLpi0)}).empty());
    EXPECT_EQ(t.kvm().translate(kDev0, 0), nullptr);
    EXPECT_EQ(t.run(0), 1u);
    EXPECT_EQ(t.lpi(kLpi0), nullptr);
    EXPECT_EQ(t.find(tp::kKvmFreeLpi, {arg("intid", kLpi0)}).size(), 1u);
}

// vgic_its_cmd_handle_mapd frees a mapped device's ITEs (vgic_its_free_device); vgic_add_lpi
// reuses a vgic_irq that is still live, so a replayed MAPD + MAPTI gives a pending, queued LPI
// back its ITE with its pending state, where freeing it would have lost it.
TEST(ItsFreeIte, MapdThenMaptiKeepsAQueuedLpisPendingState_vgic_add_lpi) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.load_all();
    ASSERT_EQ(t.kvm().trigger_msi(kDev0, 0), kvm::kOk);
    t.cmd(build::mapd(kDev0, 1, GuestLayout::kItts, true));
    t.cmd(build::mapti(kDev0, 0, kLpi0, 0));
    const kvm::VgicIrq* irq = t.kvm().translate(kDev0, 0);
    ASSERT_NE(irq, nullptr);
    EXPECT_TRUE(irq->pending_latch);
    EXPECT_EQ(t.run(0), 1u);
    EXPECT_EQ(t.glog.deliveries().size(), 1u);
}

// ---- what the replay does to the guest's commands ---------------------------------------------

// vgic_its_cmd_handle_int -> vgic_its_trigger_msi: an INT the guest issued before the migration
// (Linux's its_irq_set_irqchip_state / its_irq_retrigger) lies in the queue in guest RAM; after
// GITS_CREADR was restored before GITS_CBASER, GITS_CTLR re-executes it and the LPI is pending
// again with no new interrupt: the guest takes it a second time.
TEST(ArmItsRegsOrder, AReplayedIntMakesTheLpiPendingAgain_vgic_its_cmd_handle_int) {
    KvmHarness src(kEmu);
    src.boot_guest();
    src.load_all();
    src.cmd(build::int_(kDev0, 0));
    ASSERT_EQ(src.run(0), 1u);
    save(src);
    for (ItsRegsOrder order : {ItsRegsOrder::Abi, ItsRegsOrder::CreadrBeforeCbaser}) {
        SCOPED_TRACE(order == ItsRegsOrder::Abi ? "abi" : "creadr_before_cbaser");
        KvmHarness d(kEmu);
        ASSERT_EQ(restore_vgic(src, d, order), kvm::kOk);
        const bool replayed = order == ItsRegsOrder::CreadrBeforeCbaser;
        EXPECT_EQ(d.lpi(kLpi0)->pending_latch, replayed) << d.text();
        EXPECT_EQ(d.find(tp::kVitsInt).size(), replayed ? 1u : 0u);
        d.h.gic.cpu(0).write_pmr(0xFF);  // kvm_arm_gicv3_put restores the CPU interface
        d.h.gic.cpu(0).write_igrpen1(true);
        EXPECT_EQ(d.run(0), replayed ? 1u : 0u);
    }
}

// vgic_its_cmd_handle_clear: a replayed CLEAR removes the pending state RESTORE_TABLES restored
// from the guest pending table (vgic_v3_lpi_sync_pending_status consumed the bit): lost.
TEST(ArmItsRegsOrder, AReplayedClearDropsARestoredPendingLpi_vgic_its_cmd_handle_clear) {
    KvmHarness src(kEmu);
    src.boot_guest();
    src.cmd(build::clear(kDev0, 0));  // nothing pending yet: a no-op on the source
    ASSERT_EQ(src.kvm().trigger_msi(kDev0, 0), kvm::kOk);
    save(src);
    ASSERT_TRUE(src.guest_pending(0, kLpi0));
    KvmHarness dst(kEmu);
    ASSERT_EQ(restore_vgic(src, dst, ItsRegsOrder::CreadrBeforeCbaser), kvm::kOk);
    EXPECT_FALSE(dst.lpi(kLpi0)->pending_latch) << dst.text();
    EXPECT_FALSE(dst.guest_pending(0, kLpi0));
    KvmHarness ctl(kEmu);
    ASSERT_EQ(restore_vgic(src, ctl, ItsRegsOrder::Abi), kvm::kOk);
    EXPECT_TRUE(ctl.lpi(kLpi0)->pending_latch);
}

}  // namespace
}  // namespace irqdiff::arm::testing
