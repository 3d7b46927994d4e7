// KVM's GICv4 parts (arm_gic/kvm/vgic_its.cc, vgic.cc): forwarding an LPI as a vLPI and undoing
// it, the transfer points of restored pending state, the pending-table save on GICv4.1 and
// GICv4.0, residency and doorbells (reference/arm §3.4–§3.7, §6, appendix B).
#include <gtest/gtest.h>

#include "tests/arm_gic/kvm_harness.h"

namespace irqdiff::arm::testing {
namespace {

using kvm::TransferPoint;
using kvm::VcpuRun;

std::string version_name(const ::testing::TestParamInfo<GicVersion>& info) {
    return info.param == GicVersion::V4_1 ? "V4_1" : "V4_0";
}

std::string transfer_name(const ::testing::TestParamInfo<TransferPoint>& info) {
    switch (info.param) {
        case TransferPoint::None: return "None";
        case TransferPoint::ItsRestore: return "ItsRestore";
        case TransferPoint::EnableLpis: return "EnableLpis";
        case TransferPoint::SetForwarding: return "SetForwarding";
        case TransferPoint::VmStart: return "VmStart";
    }
    return "?";
}

const auto kAllTransferPoints =
    ::testing::Values(TransferPoint::None, TransferPoint::ItsRestore, TransferPoint::EnableLpis,
                      TransferPoint::SetForwarding, TransferPoint::VmStart);
const auto kBothVersions = ::testing::Values(GicVersion::V4_1, GicVersion::V4_0);

/// A machine whose LPI 8192 (nic.0, vCPU 0) got pending_latch through the software path (the MSI
/// came before the bypass: host LPI -> vfio_msihandler -> kvm_set_msi) and is then forwarded.
void forward_with_pending_latch(KvmHarness& t) {
    t.boot_guest();
    t.enable_msix(0);
    t.fire(0, 0);
    ASSERT_EQ(t.vfio_irqs, (std::vector<int>{t.host_irq(0, 0)})) << t.text();
    ASSERT_TRUE(t.lpi(kLpi0)->pending_latch);
    t.connect(0);
    ASSERT_TRUE(t.lpi(kLpi0)->hw);
}

// ---- kvm_vgic_v4_set_forwarding -----------------------------------------------------------------

enum class Unresolved { ItsDisabled, NoIte, CollectionUnmapped, LpisDisabled };

void PrintTo(Unresolved u, std::ostream* os) { *os << static_cast<int>(u); }

class KvmSetForwardingUnresolved : public ::testing::TestWithParam<Unresolved> {};

// kvm_vgic_v4_set_forwarding -> vgic_its_resolve_lpi (reference/arm §3.2, §9 lost.6): unless the
// vITS is enabled, the ITE exists, its collection is mapped and the target vCPU has EnableLPIs,
// nothing is forwarded and the hardware is not touched (mainline returns 0).
TEST_P(KvmSetForwardingUnresolved, NothingIsForwardedAndTheHardwareIsUntouched) {
    KvmHarness t(kNic);
    t.boot_guest();
    t.enable_msix(0);
    switch (GetParam()) {
        case Unresolved::ItsDisabled: t.kvm().its_write(GITS_CTLR, 0); break;
        case Unresolved::NoIte: t.cmd(build::discard(kDev0, 0)); break;
        case Unresolved::CollectionUnmapped: t.cmd(build::mapc(0, 0, false)); break;
        case Unresolved::LpisDisabled: t.kvm().gicr_write(0, GICR_CTLR, 0); break;
    }
    Ite before = t.host_ite(0, 0);
    size_t from = t.mark();
    t.kvm().set_forwarding(t.host_irq(0, 0), kDev0, 0);
    EXPECT_EQ(t.find(tp::kKvmSetForwardingUnresolved, {arg("resolved", false)}, from).size(), 1u) << t.text();
    EXPECT_TRUE(t.find({tp::kItsDiscardError, tp::kItsDiscardFault, tp::kItsDiscard}, {}, from).empty());
    EXPECT_TRUE(t.find({tp::kItsVmaptiError, tp::kItsVmaptiFault, tp::kItsVmapti}, {}, from).empty());
    EXPECT_FALSE(t.h.its.irq(t.host_irq(0, 0)).forwarded);
    EXPECT_EQ(t.host_ite(0, 0), before);
    EXPECT_FALSE(before.is_virtual);
    if (const kvm::VgicIrq* irq = t.lpi(kLpi0)) {
        EXPECT_FALSE(irq->hw);
    }
}

INSTANTIATE_TEST_SUITE_P(EachResolveCheck, KvmSetForwardingUnresolved,
                         ::testing::Values(Unresolved::ItsDisabled, Unresolved::NoIte, Unresolved::CollectionUnmapped,
                                           Unresolved::LpisDisabled),
                         [](const auto& info) {
                             switch (info.param) {
                                 case Unresolved::ItsDisabled: return "ItsDisabled";
                                 case Unresolved::NoIte: return "NoIte";
                                 case Unresolved::CollectionUnmapped: return "CollectionUnmapped";
                                 case Unresolved::LpisDisabled: return "LpisDisabled";
                             }
                             return "?";
                         });

class KvmSetForwarding : public ::testing::TestWithParam<GicVersion> {};

// kvm_vgic_v4_set_forwarding -> its_map_vlpi (its_vlpi_map, reference/arm §2): DISCARD of the
// physical ITE, then VMAPTI; the host ITE in host memory is virtual with the target vCPU's vPE and
// the vINTID (GICv4.0: and the vPE's doorbell; GICv4.1: 1023). A second call changes nothing.
TEST_P(KvmSetForwarding, MapsTheVlpiInHardware) {
    KvmHarness t(kNic, {.version = GetParam()});
    t.boot_guest();
    t.enable_msix(0);
    const int irq = t.host_irq(0, 1);
    size_t from = t.mark();
    t.kvm().set_forwarding(irq, kDev0, 1);

    ASSERT_TRUE(t.lpi(kLpi1)->hw);
    EXPECT_EQ(t.lpi(kLpi1)->host_irq, irq);
    EXPECT_TRUE(t.h.its.irq(irq).forwarded);
    EXPECT_EQ(t.h.its.irq(irq).vpeid, 1u);
    auto discard = t.find(tp::kItsDiscard, {arg("device", t.host_id(0)), arg("event", 1)}, from);
    auto vmapti = t.find({tp::kItsVmaptiError, tp::kItsVmaptiFault, tp::kItsVmapti}, {}, from);
    ASSERT_EQ(discard.size(), 1u) << t.text();
    ASSERT_EQ(vmapti.size(), 1u) << t.text();
    EXPECT_LT(discard[0]->seq, vmapti[0]->seq);

    Ite ite = t.host_ite(0, 1);
    EXPECT_TRUE(ite.valid);
    EXPECT_TRUE(ite.is_virtual);
    EXPECT_EQ(ite.id, 1u);
    EXPECT_EQ(ite.intid, kLpi1);
    EXPECT_EQ(ite.doorbell, GetParam() == GicVersion::V4_1 ? kNoDoorbell : t.h.its.vpe(1).doorbell);
    EXPECT_EQ(t.vprop(kLpi1), GuestLayout::kPriority | 2 | 1);
    EXPECT_EQ(t.count(EventKind::GuestError), 0u) << t.text();

    from = t.mark();
    t.kvm().set_forwarding(irq, kDev0, 1);
    EXPECT_TRUE(t.find({tp::kItsVmaptiError, tp::kItsVmaptiFault, tp::kItsVmapti}, {}, from).empty());
}

INSTANTIATE_TEST_SUITE_P(BothVersions, KvmSetForwarding, kBothVersions, version_name);

// ---- transfer points --------------------------------------------------------------------------

class KvmTransferAtSetForwarding : public ::testing::TestWithParam<TransferPoint> {};

// kvm_vgic_v4_set_forwarding (12df7429213a): a pending_latch set at forwarding time moves into the
// VPT (INT + VSYNC) and is cleared; only arm.transfer=set_forwarding does it there. Elsewhere it
// stays and reaches the guest through a list register with HW=1.
TEST_P(KvmTransferAtSetForwarding, OnlySetForwardingMovesPendingLatchThere) {
    const bool moves = GetParam() == TransferPoint::SetForwarding;
    KvmHarness t(kNic, {.transfer = GetParam()});
    forward_with_pending_latch(t);
    EXPECT_EQ(t.lpi(kLpi0)->pending_latch, !moves);
    EXPECT_EQ(t.vlpi_pending(0, kLpi0), moves);
    EXPECT_EQ(t.find(tp::kKvmTransferPending, {arg("at", "set_forwarding")}).size(), moves ? 1u : 0u);

    t.load_all();
    EXPECT_EQ(t.run(0), 1u);
    ASSERT_EQ(t.glog.size(), 1u);
    EXPECT_EQ(t.glog.deliveries()[0].path, moves ? DeliveryPath::Direct : DeliveryPath::Software);
    EXPECT_EQ(t.count({tp::kVcpuWriteLrHwViolation, tp::kVcpuWriteLrTwiceViolation, tp::kVcpuWriteLrAndVptViolation}),
              moves ? 0u : 1u)
        << t.text();
}

INSTANTIATE_TEST_SUITE_P(AllTransferPoints, KvmTransferAtSetForwarding, kAllTransferPoints, transfer_name);

class KvmTransferAtVmStart : public ::testing::TestWithParam<TransferPoint> {};

// arm.transfer=vm_start (the userspace call at VM start, rejected as a new ABI): vm_start_transfer
// acts only under that policy, and then moves a forwarded LPI's pending_latch into the VPT.
TEST_P(KvmTransferAtVmStart, OnlyVmStartActsAtVmStart) {
    const TransferPoint p = GetParam();
    KvmHarness t(kNic, {.transfer = p});
    forward_with_pending_latch(t);
    bool latch = t.lpi(kLpi0)->pending_latch;
    t.kvm().vm_start_transfer();
    EXPECT_EQ(t.count(tp::kKvmVmStartTransfer), p == TransferPoint::VmStart ? 1u : 0u);
    EXPECT_EQ(t.find(tp::kKvmTransferPending, {arg("at", "vm_start")}).size(), p == TransferPoint::VmStart ? 1u : 0u);
    if (p == TransferPoint::VmStart) {
        EXPECT_FALSE(t.lpi(kLpi0)->pending_latch);
        EXPECT_TRUE(t.vlpi_pending(0, kLpi0));
    } else {
        EXPECT_EQ(t.lpi(kLpi0)->pending_latch, latch);
        EXPECT_EQ(t.vlpi_pending(0, kLpi0), p == TransferPoint::SetForwarding);
    }
}

INSTANTIATE_TEST_SUITE_P(AllTransferPoints, KvmTransferAtVmStart, kAllTransferPoints, transfer_name);

// arm.transfer=enable_lpis (Shenming Lu, 2020-12-08): vgic_enable_lpis pushes the pending_latch
// its_sync_lpi_pending_table just read for a forwarded LPI into the VPT.
TEST(KvmTransferAtEnableLpis, SyncedPendingLatchOfAForwardedLpiMovesIntoTheVpt) {
    KvmHarness t(kNic, {.transfer = TransferPoint::EnableLpis});
    t.boot();
    t.kvm().gicr_write(0, GICR_CTLR, 0);
    t.set_guest_pending(0, kLpi0, true);
    t.kvm().gicr_write(0, GICR_CTLR, GicrCtlr::EnableLPIs.make(1));
    EXPECT_FALSE(t.lpi(kLpi0)->pending_latch);
    EXPECT_TRUE(t.vlpi_pending(0, kLpi0));
    EXPECT_EQ(t.find(tp::kKvmTransferPending, {arg("at", "vgic_enable_lpis")}).size(), 1u);
}

// ---- kvm_vgic_v4_unset_forwarding ---------------------------------------------------------------

// kvm_vgic_v4_unset_forwarding (Oliver Upton 2025-07-02, reference/arm §3.6, §9 lost.1): the HW
// DISCARD drops a vLPI pending in the VPT and nothing is carried back into pending_latch; host_irq
// is left stale; later MSIs take the software path.
TEST(KvmUnsetForwarding, PendingVlpiIsLost) {
    KvmHarness t(kNic);
    t.boot();
    t.mask(0);
    t.fire(0, 0);
    ASSERT_TRUE(t.vlpi_pending(0, kLpi0));
    const int irq = t.host_irq(0, 0);
    t.kvm().unset_forwarding(irq);

    EXPECT_FALSE(t.lpi(kLpi0)->hw);
    EXPECT_FALSE(t.lpi(kLpi0)->pending_latch);
    EXPECT_EQ(t.lpi(kLpi0)->host_irq, irq);
    EXPECT_FALSE(t.vlpi_pending(0, kLpi0));
    EXPECT_TRUE(t.where_vlpi(0, kLpi0).empty());
    EXPECT_FALSE(t.h.its.irq(irq).forwarded);
    Ite ite = t.host_ite(0, 0);
    EXPECT_FALSE(ite.is_virtual);
    EXPECT_EQ(ite.intid, t.h.its.irq(irq).lpi);
    t.mask(0, false);
    EXPECT_EQ(t.run(0), 0u);

    t.fire(0, 0);
    EXPECT_EQ(t.vfio_irqs, (std::vector<int>{irq}));
    EXPECT_EQ(t.run(0), 1u);
    EXPECT_EQ(t.glog.deliveries().back().path, DeliveryPath::Software);
}

// 05b9405f2fa1: the vLPI is found by its host IRQ; a host IRQ nothing forwards is a no-op.
TEST(KvmUnsetForwarding, UnknownHostIrqChangesNothing) {
    KvmHarness t(kNic);
    t.boot();
    size_t from = t.mark();
    t.kvm().unset_forwarding(99);
    EXPECT_EQ(t.mark(), from);
    EXPECT_TRUE(t.lpi(kLpi0)->hw);
}

// ---- KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES (vgic_v3_save_pending_tables) -------------------------

// vgic_v3_set_attr: -EBUSY while a vCPU runs; nothing is written or unmapped.
TEST(KvmSavePendingTables, LoadedVcpuGivesEbusy) {
    KvmHarness t(kNic);
    t.boot();
    t.h.mem.guest.reset_stats();
    size_t from = t.mark();
    EXPECT_EQ(t.kvm().save_pending_tables(), kvm::kEbusy);
    EXPECT_EQ(t.h.mem.guest.stats().writes, 0u);
    EXPECT_TRUE(
        t.find({tp::kItsVmappError, tp::kItsVmappFault, tp::kItsVmapp, tp::kItsVmappV40Ignored}, {}, from).empty());
    EXPECT_EQ(t.count(tp::kKvmSavePendingTablesError), 1u);
}

// vgic_v3_set_attr: -ENXIO before the vgic is initialised.
TEST(KvmSavePendingTables, UninitialisedVgicGivesEnxio) {
    KvmHarness t(kNic);
    kvm::VgicState fresh;
    kvm::Kvm k(fresh, t.h.gic, t.h.its, t.h.cpus, t.h.mem.guest, t.log, TransferPoint::SetForwarding);
    EXPECT_EQ(k.save_pending_tables(), kvm::kEnxio);
}

// vgic_v3_save_pending_tables on GICv4.1 (f66b7b151e00, reference/arm §3.4): unmap_all_vpes
// (VMAPP V=0 Alloc=1 cleans the redistributor's cache into the VPT), the forwarded LPI's bit comes
// from the VPT, then map_all_vpes (V=1 Alloc=1 PTZ=0) maps every vPE again, on the first online CPU
// (its_vpe_irq_domain_activate sets col_idx). The save is non-destructive: the VPT and
// pending_latch are unchanged and the source can resume.
TEST(KvmSavePendingTables, Gicv41ReadsForwardedStateFromTheVptWithTheVpesUnmapped) {
    KvmHarness t(kNic);
    t.boot();
    t.mask(0);
    t.fire(0, 0);
    t.stop_vcpus();
    ASSERT_FALSE(t.h.its.read_vpt_bit(t.h.gic, 0, kLpi0)) << "still in the redistributor's cache";
    size_t from = t.mark();
    ASSERT_EQ(t.kvm().save_pending_tables(), kvm::kOk);

    EXPECT_TRUE(t.guest_pending(0, kLpi0));
    EXPECT_FALSE(t.guest_pending(1, kLpi1));
    auto unmap = t.find(tp::kItsVmapp, {arg("vpe", 0), arg("valid", false), arg("alloc", true)}, from);
    auto bit = t.find(tp::kKvmSavePendingBit, {arg("intid", kLpi0), arg("hw", true)}, from);
    auto map = t.find(tp::kItsVmapp, {arg("vpe", 0), arg("valid", true), arg("alloc", true), arg("ptz", false)}, from);
    ASSERT_EQ(unmap.size(), 1u) << t.text();
    ASSERT_EQ(bit.size(), 1u) << t.text();
    ASSERT_EQ(map.size(), 1u) << t.text();
    EXPECT_LT(unmap[0]->seq, bit[0]->seq);
    EXPECT_LT(bit[0]->seq, map[0]->seq);
    EXPECT_EQ(t.find(tp::kItsVmapp, {arg("vpe", 1), arg("valid", false), arg("alloc", true)}, from).size(), 1u);

    for (uint32_t v = 0; v < 2; ++v) {
        EXPECT_TRUE(t.h.gic.its(0).maps_vpe(v));
        EXPECT_EQ(t.h.its.vpe(v).vmapp_count, 1u);
        EXPECT_EQ(t.h.its.vpe(v).rd, host::kFirstOnlineCpu);
        ASSERT_NE(t.h.gic.rd(host::kFirstOnlineCpu).vpe(v), nullptr);
        EXPECT_EQ(t.h.gic.rd(host::kFirstOnlineCpu).vpe(v)->maps, 1u);
    }
    EXPECT_TRUE(t.h.its.read_vpt_bit(t.h.gic, 0, kLpi0));
    EXPECT_TRUE(t.vlpi_pending(0, kLpi0));
    EXPECT_FALSE(t.lpi(kLpi0)->pending_latch);

    t.h.vgic.cpus[0].run = VcpuRun::Runnable;  // the source resumes
    t.mask(0, false);
    EXPECT_EQ(t.run(0), 1u);
    EXPECT_EQ(t.glog.deliveries().back().path, DeliveryPath::Direct);
    EXPECT_EQ(t.count(EventKind::Violation), 0u) << t.text();
}

// vgic_v3_save_pending_tables: a software LPI's bit comes from pending_latch; a byte is written
// only where the stored bit differs (1 -> 0 as well as 0 -> 1), so a second save writes nothing;
// pending_latch is not changed.
TEST(KvmSavePendingTables, WritesOnlyBitsThatDifferAndKeepsPendingLatch) {
    KvmHarness t(kEmu);
    t.boot_guest();
    ASSERT_EQ(t.kvm().trigger_msi(kDev0, 0), kvm::kOk);
    t.set_guest_pending(0, kLpi1, true);  // stale: LPI 8193 is not pending
    t.h.mem.guest.reset_stats();
    ASSERT_EQ(t.kvm().save_pending_tables(), kvm::kOk);
    EXPECT_EQ(t.h.mem.guest.stats().writes, 2u);
    EXPECT_TRUE(t.guest_pending(0, kLpi0));
    EXPECT_FALSE(t.guest_pending(0, kLpi1));
    EXPECT_FALSE(t.guest_pending(1, kLpi2));
    EXPECT_TRUE(t.lpi(kLpi0)->pending_latch);
    EXPECT_EQ(t.find(tp::kKvmSavePendingTables, {arg("bytes_written", 2)}).size(), 1u);

    t.h.mem.guest.reset_stats();
    ASSERT_EQ(t.kvm().save_pending_tables(), kvm::kOk);
    EXPECT_EQ(t.h.mem.guest.stats().writes, 0u);
    EXPECT_TRUE(t.lpi(kLpi0)->pending_latch);
}

// vgic_v3_save_pending_tables: LPIs without a target vCPU are skipped.
TEST(KvmSavePendingTables, LpiWithoutATargetIsSkipped) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.cmd(build::mapti(kDev0, 3, 8200, 7));  // collection 7 is not mapped
    ASSERT_EQ(t.kvm().trigger_msi(kDev0, 0), kvm::kOk);
    ASSERT_EQ(t.kvm().save_pending_tables(), kvm::kOk);
    EXPECT_TRUE(t.find(tp::kKvmSavePendingBit, {arg("intid", 8200)}).empty());
    EXPECT_EQ(t.find(tp::kKvmSavePendingBit).size(), 1u);
}

class KvmSavePendingTablesHwLatch : public ::testing::TestWithParam<GicVersion> {};

// vgic_v3_save_pending_tables: for a forwarded LPI GICv4.1 takes the VPT bit and ignores
// pending_latch; GICv4.0 takes pending_latch (reference/arm §3.4, §6).
TEST_P(KvmSavePendingTablesHwLatch, ForwardedLpiBitComesFromVptOn41AndPendingLatchOn40) {
    KvmHarness t(kNic, {.version = GetParam(), .transfer = TransferPoint::None});
    forward_with_pending_latch(t);
    ASSERT_FALSE(t.vlpi_pending(0, kLpi0));
    ASSERT_EQ(t.kvm().save_pending_tables(), kvm::kOk);
    EXPECT_EQ(t.guest_pending(0, kLpi0), GetParam() == GicVersion::V4_0);
    EXPECT_TRUE(t.lpi(kLpi0)->pending_latch);
}

INSTANTIATE_TEST_SUITE_P(BothVersions, KvmSavePendingTablesHwLatch, kBothVersions, version_name);

// vgic_v3_save_pending_tables on GICv4.0 (reference/arm §3.4, §9 lost.3): no vPE is unmapped and a
// forwarded vLPI pending in the VPT is saved from pending_latch (0): its pending state is not
// captured.
TEST(KvmSavePendingTables, Gicv40DoesNotCaptureAForwardedVlpi) {
    KvmHarness t(kNic, {.version = GicVersion::V4_0});
    t.boot();
    t.mask(0);
    t.fire(0, 0);
    ASSERT_TRUE(t.vlpi_pending(0, kLpi0));
    t.stop_vcpus();
    size_t from = t.mark();
    ASSERT_EQ(t.kvm().save_pending_tables(), kvm::kOk);
    EXPECT_FALSE(t.guest_pending(0, kLpi0));
    EXPECT_TRUE(
        t.find({tp::kItsVmappError, tp::kItsVmappFault, tp::kItsVmapp, tp::kItsVmappV40Ignored}, {}, from).empty())
        << t.text();
    EXPECT_TRUE(t.find(tp::kKvmSavePendingBit, {}, from).empty());
    EXPECT_TRUE(t.vlpi_pending(0, kLpi0));
}

// ---- residency and doorbells (reference/arm §3.7, §1.6) ------------------------------------------

class KvmResidency : public ::testing::TestWithParam<GicVersion> {};

// vgic_v4_load / vgic_v4_put (its_make_vpe_resident / its_make_vpe_non_resident): vCPU v's vPE is
// resident on redistributor v while the vCPU is loaded, and only then.
TEST_P(KvmResidency, LoadAndPutMakeTheVpeResidentOnItsRedistributor) {
    KvmHarness t(kNic, {.version = GetParam()});
    t.boot_guest();
    t.enable_msix(0);
    t.connect(0);
    t.kvm().vcpu_load(1);
    EXPECT_EQ(t.h.gic.rd(1).resident_vpe(), std::optional<uint32_t>(1));
    EXPECT_EQ(t.h.gic.rd(0).resident_vpe(), std::nullopt);
    EXPECT_TRUE(t.h.its.vpe(1).resident);
    EXPECT_EQ(t.vgic().cpus[1].run, VcpuRun::Loaded);

    t.kvm().vcpu_load(0);
    EXPECT_EQ(t.h.gic.rd(0).resident_vpe(), std::optional<uint32_t>(0));

    t.kvm().vcpu_put(1, false);
    EXPECT_EQ(t.h.gic.rd(1).resident_vpe(), std::nullopt);
    EXPECT_FALSE(t.h.its.vpe(1).resident);
    EXPECT_EQ(t.vgic().cpus[1].run, VcpuRun::Runnable);
    EXPECT_EQ(t.h.gic.rd(0).resident_vpe(), std::optional<uint32_t>(0));
    EXPECT_EQ(t.count(EventKind::GuestError), 0u) << t.text();
}

INSTANTIATE_TEST_SUITE_P(BothVersions, KvmResidency, kBothVersions, version_name);

// vgic_v4_commit (57e3cebd022f): at guest entry KVM waits for GICR_VPENDBASER.Dirty to clear, so
// the vCPU enters with its VPT parsed.
TEST(KvmCommit, EntryWaitsForTheVptParse) {
    KvmHarness t(kNic, {.dirty_reads = 3});
    t.boot();
    EXPECT_EQ(t.h.gic.rd(0).ready_vpe(), nullptr);
    EXPECT_FALSE(t.h.its.vpe(0).ready);
    t.kvm().vcpu_enter(0);
    EXPECT_NE(t.h.gic.rd(0).ready_vpe(), nullptr);
    EXPECT_TRUE(t.h.its.vpe(0).ready);
}

class KvmDoorbell : public ::testing::TestWithParam<GicVersion> {};

// vgic_v4_put(need_db) and vgic_v4_doorbell_handler: a blocked vCPU whose forwarded vLPI fires
// gets its vPE's doorbell as a host IRQ; the handler sets pending_last and kicks the vCPU
// (GICv4.0: and disables the doorbell again), which then takes the vLPI directly.
TEST_P(KvmDoorbell, ForwardedVlpiWakesABlockedVcpu) {
    const bool v41 = GetParam() == GicVersion::V4_1;
    KvmHarness t(kNic, {.version = GetParam()});
    t.boot();
    t.kvm().vcpu_block(0);
    ASSERT_EQ(t.vgic().cpus[0].run, VcpuRun::Blocked);
    ASSERT_FALSE(t.h.its.vpe(0).pending_last);
    EXPECT_TRUE(t.h.its.vpe(0).doorbell_enabled);

    t.fire(0, 0);
    EXPECT_EQ(t.doorbells, (std::vector<uint32_t>{0}));
    EXPECT_EQ(t.find(tp::kGicrHostIrq, {arg("rd", 0), arg("intid", t.h.its.vpe(0).doorbell)}).size(), 1u);
    EXPECT_TRUE(t.h.its.vpe(0).pending_last);
    EXPECT_EQ(t.vgic().cpus[0].run, VcpuRun::Runnable);
    EXPECT_EQ(t.h.its.vpe(0).doorbell_enabled, v41) << "GICv4.0: the handler disables its doorbell";
    EXPECT_TRUE(t.vlpi_pending(0, kLpi0));

    EXPECT_EQ(t.run(0), 1u);
    EXPECT_EQ(t.glog.deliveries().back().path, DeliveryPath::Direct);
    EXPECT_EQ(t.count(EventKind::Violation), 0u) << t.text();
}

// vgic_v4_put without need_db (preemption): the vLPI waits in the VPT and no doorbell rings.
TEST_P(KvmDoorbell, PreemptedVcpuGetsNoDoorbell) {
    KvmHarness t(kNic, {.version = GetParam()});
    t.boot();
    t.kvm().vcpu_put(0, false);
    t.fire(0, 0);
    EXPECT_TRUE(t.doorbells.empty()) << t.text();
    EXPECT_TRUE(t.vlpi_pending(0, kLpi0));
    EXPECT_EQ(t.run(0), 1u);
}

INSTANTIATE_TEST_SUITE_P(BothVersions, KvmDoorbell, kBothVersions, version_name);

}  // namespace
}  // namespace irqdiff::arm::testing
