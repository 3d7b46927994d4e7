// KVM's virtual ITS (arm_gic/kvm/vgic_its.cc): the guest's commands, with what each does to a
// forwarded LPI in hardware, MSI translation failures, and the ITS table save/restore in the ABI
// rev0 format (reference/arm §3.2, §3.3, §3.8).
#include <gtest/gtest.h>

#include "tests/arm_gic/kvm_harness.h"

namespace irqdiff::arm::testing {
namespace {

using kvm::AbiCte;
using kvm::AbiDte;
using kvm::AbiIte;

/// Two emulated devices: a (DeviceID 0x10, 4 vectors: a.0 -> vCPU 0 LPI 8192, a.2 -> vCPU 1 LPI
/// 8193) and b (DeviceID 0x18, 2 vectors: b.1 -> vCPU 0 LPI 8194).
const std::string kTwoDevices =
    "vm: {vcpus: 2}\n"
    "devices: [{name: a, vectors: 4}, {name: b, vectors: 2}]\n"
    "routes: [{source: a.0, vcpu: 0}, {source: a.2, vcpu: 1}, {source: b.1, vcpu: 0}]\n";

uint64_t dte_addr(uint32_t devid) { return GuestLayout::kDeviceTable + uint64_t{devid} * AbiDte::kBytes; }
uint64_t itt(uint32_t device) { return GuestLayout::kItts + uint64_t{device} * GuestLayout::kTableBytes; }

// ---- MAPD, MAPC, MAPTI / MAPI ----------------------------------------------------------------

// vgic_its_cmd_handle_mapd: remapping a mapped device frees every ITE (and LPIs nothing else
// references) first; V=0 unmaps it.
TEST(KvmItsMapd, RemapFreesTheDevicesItes) {
    KvmHarness t(kEmu);
    t.boot_guest();
    ASSERT_EQ(t.vgic().its.devices.at(kDev0).ites.size(), 3u);
    t.cmd(build::mapd(kDev0, 1, 0x1380'0000, true));
    const kvm::VitsDevice& dev = t.vgic().its.devices.at(kDev0);
    EXPECT_TRUE(dev.ites.empty());
    EXPECT_EQ(dev.itt_addr, 0x1380'0000u);
    EXPECT_EQ(t.lpi(kLpi0), nullptr);
    EXPECT_EQ(t.lpi(kLpi2), nullptr);
    EXPECT_EQ(t.count(tp::kKvmFreeLpi), 3u);
    EXPECT_EQ(t.kvm().trigger_msi(kDev0, 0), kvm::kEinval);

    t.cmd(build::mapd(kDev0, 1, 0, false));
    EXPECT_EQ(t.vgic().its.devices.count(kDev0), 0u);
}

// its_free_ite via MAPD: a forwarded ITE is unmapped in hardware (its_unmap_vlpi).
TEST(KvmItsMapd, RemapUnmapsForwardedItesInHardware) {
    KvmHarness t(kNic);
    t.boot();
    ASSERT_TRUE(t.host_ite(0, 0).is_virtual);
    t.cmd(build::mapd(kDev0, 0, itt(0), true));
    EXPECT_FALSE(t.h.its.irq(t.host_irq(0, 0)).forwarded);
    EXPECT_FALSE(t.host_ite(0, 0).is_virtual);
    EXPECT_EQ(t.host_ite(0, 0).intid, t.h.its.irq(t.host_irq(0, 0)).lpi);
}

// vgic_its_cmd_handle_mapc -> update_affinity_collection: remapping a collection retargets its LPIs.
TEST(KvmItsMapc, RemapRetargetsTheCollectionsLpis) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.cmd(build::mapc(0, 1, true));
    EXPECT_EQ(t.vgic().its.collections.at(0), 1u);
    EXPECT_EQ(t.lpi(kLpi0)->target_vcpu, 1u);
    EXPECT_EQ(t.lpi(kLpi1)->target_vcpu, 1u);
    EXPECT_EQ(t.kvm().translate(kDev0, 0)->target_vcpu, 1u);
}

// update_affinity: a forwarded LPI of a remapped collection follows in hardware (VMOVI), with its
// pending state.
TEST(KvmItsMapc, RemapMovesAForwardedLpiToTheOtherVpe) {
    KvmHarness t(kNic);
    t.boot();
    t.mask(0);
    t.fire(0, 0);
    ASSERT_TRUE(t.vlpi_pending(0, kLpi0));
    t.cmd(build::mapc(0, 1, true));
    EXPECT_EQ(t.h.its.irq(t.host_irq(0, 0)).vpeid, 1u);
    EXPECT_EQ(t.host_ite(0, 0).id, 1u);
    EXPECT_FALSE(t.vlpi_pending(0, kLpi0));
    EXPECT_TRUE(t.vlpi_pending(1, kLpi0));
}

// vgic_its_cmd_handle_mapi: mapping an existing DeviceID/EventID pair is UNPREDICTABLE and KVM
// ignores it.
TEST(KvmItsMapti, ExistingMappingIsIgnored) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.cmd(build::mapti(kDev0, 0, 8300, 1));
    EXPECT_EQ(t.vgic().its.devices.at(kDev0).ites.at(0).intid, kLpi0);
    EXPECT_EQ(t.vgic().its.devices.at(kDev0).ites.at(0).icid, 0u);
    EXPECT_EQ(t.lpi(8300), nullptr);
    EXPECT_EQ(t.count(EventKind::GuestError), 0u) << t.text();
}

// vgic_its_cmd_handle_mapi: an INTID outside the LPI range, an EventID beyond the ITT and an
// unmapped device are refused.
TEST(KvmItsMapti, NonLpiAndOutOfRangeMappingsAreRefused) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.cmd(build::mapti(kDev0, 3, 100, 0));
    t.cmd(build::mapti(kDev0, 4, 8300, 0));  // 2 EventID bits
    t.cmd(build::mapti(0x99, 0, 8301, 0));
    EXPECT_EQ(t.vgic().its.devices.at(kDev0).ites.count(3), 0u);
    EXPECT_EQ(t.vgic().its.devices.at(kDev0).ites.count(4), 0u);
    EXPECT_EQ(t.lpi(100), nullptr);
    EXPECT_EQ(t.lpi(8300), nullptr);
    EXPECT_EQ(t.lpi(8301), nullptr);
    EXPECT_EQ(t.count({tp::kKvmItsCommandQueueError, tp::kKvmItsCommandError}), 3u) << t.text();
}

// vgic_its_cmd_handle_mapi: MAPI maps EventID to the LPI of the same number.
TEST(KvmItsMapti, MapiUsesTheEventIdAsTheLpi) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.cmd(build::mapd(0x80, 13, 0x1390'0000, true));  // 14 EventID bits
    t.cmd(build::mapi(0x80, 8200, 1));
    ASSERT_NE(t.lpi(8200), nullptr) << t.text();
    EXPECT_EQ(t.lpi(8200)->target_vcpu, 1u);
    EXPECT_EQ(t.kvm().translate(0x80, 8200)->intid, 8200u);
}

// vgic_add_lpi: an LPI that already exists is reused without reading the pending table.
TEST(KvmItsMapti, SecondMappingOfAnLpiReusesItWithoutASync) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.set_guest_pending(0, kLpi0, true);
    t.cmd(build::mapti(kDev0, 3, kLpi0, 0));
    EXPECT_EQ(t.kvm().translate(kDev0, 3), t.lpi(kLpi0));
    EXPECT_FALSE(t.lpi(kLpi0)->pending_latch);
    EXPECT_TRUE(t.guest_pending(0, kLpi0));
}

// ---- MOVI, DISCARD, INV, INVALL, INT, CLEAR, MOVALL ------------------------------------------

// vgic_its_cmd_handle_movi: the ITE's collection, and so the LPI's target, changes.
TEST(KvmItsMovi, TargetFollowsTheNewCollection) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.cmd(build::movi(kDev0, 0, 1));
    EXPECT_EQ(t.vgic().its.devices.at(kDev0).ites.at(0).icid, 1u);
    EXPECT_EQ(t.lpi(kLpi0)->target_vcpu, 1u);
    t.cmd(build::movi(kDev0, 0, 9));  // collection 9 is not mapped
    EXPECT_EQ(t.lpi(kLpi0)->target_vcpu, 1u);
    EXPECT_EQ(t.count({tp::kKvmItsCommandQueueError, tp::kKvmItsCommandError}), 1u);
}

// vgic_its_cmd_handle_movi -> update_affinity -> its_map_vlpi (VMOVI): a forwarded vLPI's pending
// bit moves from vPE 0 to vPE 1 in hardware and is delivered there.
TEST(KvmItsMovi, ForwardedLpiFollowsWithVmovi) {
    KvmHarness t(kNic);
    t.boot();
    t.mask(0);
    t.fire(0, 0);
    ASSERT_TRUE(t.vlpi_pending(0, kLpi0));
    size_t from = t.mark();
    t.cmd(build::movi(kDev0, 0, 1));
    EXPECT_EQ(t.find(tp::kItsVmovi, {arg("vpe", 1)}, from).size(), 1u) << t.text();
    Ite ite = t.host_ite(0, 0);
    EXPECT_TRUE(ite.is_virtual);
    EXPECT_EQ(ite.id, 1u);
    EXPECT_EQ(ite.intid, kLpi0);
    EXPECT_FALSE(t.vlpi_pending(0, kLpi0));
    EXPECT_TRUE(t.vlpi_pending(1, kLpi0));
    EXPECT_EQ(t.run(1), 1u);
    EXPECT_EQ(t.glog.deliveries().back().vcpu, 1u);
    EXPECT_EQ(t.glog.deliveries().back().path, DeliveryPath::Direct);
}

// vgic_its_cmd_handle_discard / its_free_ite: a forwarded LPI is unmapped in hardware (DISCARD)
// and its VPT pending state is gone; the LPI is freed.
TEST(KvmItsDiscard, ForwardedLpiIsUnmappedAndItsPendingStateIsGone) {
    KvmHarness t(kNic);
    t.boot();
    t.mask(0);
    t.fire(0, 0);
    ASSERT_TRUE(t.vlpi_pending(0, kLpi0));
    t.cmd(build::discard(kDev0, 0));
    EXPECT_EQ(t.lpi(kLpi0), nullptr);
    EXPECT_EQ(t.kvm().translate(kDev0, 0), nullptr);
    EXPECT_FALSE(t.h.its.irq(t.host_irq(0, 0)).forwarded);
    EXPECT_FALSE(t.host_ite(0, 0).is_virtual) << "its_vlpi_unmap maps the physical LPI back";
    EXPECT_FALSE(t.vlpi_pending(0, kLpi0));
    EXPECT_TRUE(t.where_vlpi(0, kLpi0).empty());
    t.mask(0, false);
    EXPECT_EQ(t.run(0), 0u);
}

// vgic_its_cmd_handle_inv -> update_lpi_config: the property byte is read again.
TEST(KvmItsInv, ConfigurationIsReadAgain) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.set_guest_prop(kLpi0, 0x40, false);
    EXPECT_TRUE(t.lpi(kLpi0)->enabled) << "nothing is read before the INV";
    t.cmd(build::inv(kDev0, 0));
    EXPECT_FALSE(t.lpi(kLpi0)->enabled);
    EXPECT_EQ(t.lpi(kLpi0)->priority, 0x40);
}

// update_lpi_config -> its_prop_update_vlpi: for a forwarded LPI the byte is written into the vLPI
// configuration table in host memory and the hardware invalidates its cached copy, so the
// redistributor stops (and later resumes) signalling the pending vLPI.
TEST(KvmItsInv, ForwardedLpiConfigurationReachesTheRedistributor) {
    KvmHarness t(kNic);
    t.boot();
    t.mask(0);
    t.fire(0, 0);
    ASSERT_EQ(t.h.gic.cpu(0).read_hppir1(), kLpi0);
    t.set_guest_prop(kLpi0, 0x40, false);
    EXPECT_EQ(t.h.gic.cpu(0).read_hppir1(), kLpi0) << "without INV the redistributor keeps its copy";
    t.cmd(build::inv(kDev0, 0));
    EXPECT_EQ(t.vprop(kLpi0), 0x40 | 2);
    EXPECT_EQ(t.h.gic.cpu(0).read_hppir1(), kSpuriousIntid);
    EXPECT_TRUE(t.vlpi_pending(0, kLpi0));

    t.set_guest_prop(kLpi0, 0x40, true);
    t.cmd(build::inv(kDev0, 0));
    EXPECT_EQ(t.vprop(kLpi0), 0x40 | 2 | 1);
    EXPECT_EQ(t.h.gic.cpu(0).read_hppir1(), kLpi0);
}

// vgic_its_cmd_handle_invall -> vgic_its_invall: every LPI of the collection's vCPU is read again
// and, for vLPIs, the vPE gets a VINVALL (its_invall_vpe).
TEST(KvmItsInvall, EveryLpiOfTheCollectionIsReadAgain) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.set_guest_prop(kLpi0, 0x20, true);
    t.set_guest_prop(kLpi1, 0x30, false);
    t.set_guest_prop(kLpi2, 0x50, false);  // vCPU 1: another collection
    size_t from = t.mark();
    t.cmd(build::invall(0));
    EXPECT_EQ(t.lpi(kLpi0)->priority, 0x20);
    EXPECT_FALSE(t.lpi(kLpi1)->enabled);
    EXPECT_TRUE(t.lpi(kLpi2)->enabled);
    EXPECT_EQ(t.find(tp::kItsVinvall, {arg("vpe", 0)}, from).size(), 1u) << t.text();
}

// vgic_its_cmd_handle_invall: a forwarded LPI's new configuration is written to the vprop table.
TEST(KvmItsInvall, ForwardedLpisGetTheirVpropBytes) {
    KvmHarness t(kNic);
    t.boot();
    t.set_guest_prop(kLpi0, 0x60, true);
    t.cmd(build::invall(0));
    EXPECT_EQ(t.vprop(kLpi0), 0x60 | 2 | 1);
    EXPECT_EQ(t.vprop(kLpi1), GuestLayout::kPriority | 2 | 1) << "collection 1 is not invalidated";
}

// vgic_its_cmd_handle_int -> vgic_its_trigger_msi: a software LPI becomes pending_latch.
TEST(KvmItsInt, SoftwareLpiGetsPendingLatch) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.cmd(build::int_(kDev0, 0));
    EXPECT_TRUE(t.lpi(kLpi0)->pending_latch);
    EXPECT_TRUE(t.lpi(kLpi0)->queued);
}

// vgic_its_trigger_msi for a forwarded LPI: irq_set_irqchip_state(PENDING) is a host INT, so the
// VPT bit is set and pending_latch stays clear.
TEST(KvmItsInt, ForwardedLpiIsMadePendingInTheVpt) {
    KvmHarness t(kNic);
    t.boot();
    size_t from = t.mark();
    t.cmd(build::int_(kDev0, 0));
    EXPECT_EQ(t.find(tp::kItsInt, {arg("device", t.host_id(0)), arg("event", 0)}, from).size(), 1u);
    EXPECT_TRUE(t.vlpi_pending(0, kLpi0));
    EXPECT_FALSE(t.lpi(kLpi0)->pending_latch);
}

// vgic_its_cmd_handle_clear: pending_latch is cleared; a forwarded LPI is cleared in hardware.
TEST(KvmItsClear, SoftwareAndForwardedPendingStatesAreCleared) {
    KvmHarness s(kEmu);
    s.boot_guest();
    s.cmd(build::int_(kDev0, 0));
    s.cmd(build::clear(kDev0, 0));
    EXPECT_FALSE(s.lpi(kLpi0)->pending_latch);

    KvmHarness f(kNic);
    f.boot();
    f.mask(0);
    f.fire(0, 0);
    ASSERT_TRUE(f.vlpi_pending(0, kLpi0));
    f.cmd(build::clear(kDev0, 0));
    EXPECT_FALSE(f.vlpi_pending(0, kLpi0));
    f.mask(0, false);
    EXPECT_EQ(f.run(0), 0u);
}

// vgic_its_cmd_handle_movall: every LPI of one vCPU is retargeted to the other (forwarded ones
// with VMOVI).
TEST(KvmItsMovall, EveryLpiOfTheVcpuIsRetargeted) {
    KvmHarness t(kEmu);
    t.boot_guest();
    t.cmd(build::movall(0, 1));
    EXPECT_EQ(t.lpi(kLpi0)->target_vcpu, 1u);
    EXPECT_EQ(t.lpi(kLpi1)->target_vcpu, 1u);
    EXPECT_EQ(t.lpi(kLpi2)->target_vcpu, 1u);

    KvmHarness f(kNic);
    f.boot();
    f.cmd(build::movall(0, 1));
    EXPECT_EQ(f.h.its.irq(f.host_irq(0, 0)).vpeid, 1u);
    EXPECT_EQ(f.host_ite(0, 0).id, 1u);
}

// ---- MSI translation failures (vgic_its_resolve_lpi) ---------------------------------------------

enum class Broken { ItsDisabled, NoDevice, NoIte, CollectionUnmapped, LpisDisabled };

struct TranslationFailure {
    Broken broken;
    uint32_t devid;
    uint32_t event;
    const char* why;
};

void PrintTo(const TranslationFailure& f, std::ostream* os) { *os << f.why; }

class KvmTriggerMsi : public ::testing::TestWithParam<TranslationFailure> {};

// vgic_its_trigger_msi -> vgic_its_resolve_lpi: an MSI that does not translate gives -EINVAL and
// is lost.
TEST_P(KvmTriggerMsi, TranslationFailureGivesEinval) {
    const TranslationFailure& p = GetParam();
    KvmHarness t(kEmu);
    t.boot_guest();
    switch (p.broken) {
        case Broken::ItsDisabled: t.kvm().its_write(GITS_CTLR, 0); break;
        case Broken::CollectionUnmapped: t.cmd(build::mapc(0, 0, false)); break;
        case Broken::LpisDisabled: t.kvm().gicr_write(0, GICR_CTLR, 0); break;
        case Broken::NoDevice:
        case Broken::NoIte: break;
    }
    EXPECT_EQ(t.kvm().trigger_msi(p.devid, p.event), kvm::kEinval);
    auto errors = t.find({tp::kKvmVgicItsTriggerMsiError, tp::kKvmVgicItsTriggerMsi},
                         {arg("device", p.devid), arg("event", p.event)});
    ASSERT_EQ(errors.size(), 1u) << t.text();
    EXPECT_EQ(errors[0]->kind, EventKind::GuestError);
    EXPECT_NE(errors[0]->rule.find(p.why), std::string::npos) << errors[0]->rule;
    EXPECT_FALSE(t.lpi(kLpi0)->pending_latch);
}

INSTANTIATE_TEST_SUITE_P(EachResolveCheck, KvmTriggerMsi,
                         ::testing::Values(TranslationFailure{Broken::ItsDisabled, kDev0, 0, "vITS is disabled"},
                                           TranslationFailure{Broken::NoDevice, 0x99, 0, "no such device"},
                                           TranslationFailure{Broken::NoIte, kDev0, 3, "no ITE"},
                                           TranslationFailure{Broken::CollectionUnmapped, kDev0, 0,
                                                              "collection is not mapped"},
                                           TranslationFailure{Broken::LpisDisabled, kDev0, 0, "EnableLPIs clear"}),
                         [](const auto& info) {
                             switch (info.param.broken) {
                                 case Broken::ItsDisabled: return "ItsDisabled";
                                 case Broken::NoDevice: return "NoDevice";
                                 case Broken::NoIte: return "NoIte";
                                 case Broken::CollectionUnmapped: return "CollectionUnmapped";
                                 case Broken::LpisDisabled: return "LpisDisabled";
                             }
                             return "?";
                         });

// ---- ITS table save (vgic_its_save_tables_v0, ABI rev0) -------------------------------------------

// vgic_its_save_device_tables / vgic_its_save_itt / vgic_its_save_collection_table: 8-byte DTEs
// indexed by DeviceID with the offset to the next valid one, ITEs indexed by EventID with pINTID
// and ICID, and a list of CTEs ended by an invalid entry (Documentation/.../arm-vgic-its.rst).
TEST(KvmItsSave, TablesAreWrittenInAbiRev0) {
    KvmHarness t(kTwoDevices);
    t.boot_guest();
    ASSERT_EQ(t.kvm().its_save_tables(), kvm::kOk) << t.text();

    EXPECT_EQ(AbiDte::decode(t.guest_word(dte_addr(kDev0))), (AbiDte{true, kDev1 - kDev0, itt(0), 1}));
    EXPECT_EQ(AbiDte::decode(t.guest_word(dte_addr(kDev1))), (AbiDte{true, 0, itt(1), 0}));
    EXPECT_EQ(t.guest_word(dte_addr(kDev0 + 1)), 0u);

    EXPECT_EQ(AbiIte::decode(t.guest_word(itt(0) + 0 * AbiIte::kBytes)), (AbiIte{2, kLpi0, 0}));
    EXPECT_FALSE(AbiIte::decode(t.guest_word(itt(0) + 1 * AbiIte::kBytes)).valid());
    EXPECT_EQ(AbiIte::decode(t.guest_word(itt(0) + 2 * AbiIte::kBytes)), (AbiIte{0, kLpi1, 1}));
    EXPECT_FALSE(AbiIte::decode(t.guest_word(itt(1) + 0 * AbiIte::kBytes)).valid());
    EXPECT_EQ(AbiIte::decode(t.guest_word(itt(1) + 1 * AbiIte::kBytes)), (AbiIte{0, kLpi2, 0}));

    EXPECT_EQ(AbiCte::decode(t.guest_word(GuestLayout::kCollectionTable)), (AbiCte{true, 0, 0}));
    EXPECT_EQ(AbiCte::decode(t.guest_word(GuestLayout::kCollectionTable + 8)), (AbiCte{true, 1, 1}));
    EXPECT_FALSE(AbiCte::decode(t.guest_word(GuestLayout::kCollectionTable + 16)).valid);
}

/// An emulated device, a passthrough one whose vectors are forwarded, and another emulated one.
const std::string kForwardedInTheMiddle =
    "vm: {vcpus: 2}\n"
    "devices: [{name: emu, vectors: 1}, {name: nic, vectors: 2, passthrough: true}, {name: late, vectors: 1}]\n"
    "routes: [{source: emu.0, vcpu: 0}, {source: nic.0, vcpu: 0}, {source: nic.1, vcpu: 1},\n"
    "         {source: late.0, vcpu: 1}]\n";

// vgic_its_save_itt (bd94e7aea403, 8082d50f4817): without GICv4.1 a forwarded ITE makes the save
// fail with -EACCES, and the save stops there: that device's DTE, later devices and the
// collection table are not written (reference/arm §3.8).
TEST(KvmItsSave, ForwardedIteOnGicv40StopsTheSaveWithEacces) {
    KvmHarness t(kForwardedInTheMiddle, {.version = GicVersion::V4_0});
    t.boot();
    ASSERT_TRUE(t.lpi(kLpi1)->hw);
    EXPECT_EQ(t.kvm().its_save_tables(), kvm::kEacces);
    EXPECT_EQ(t.count(tp::kKvmItsSaveTablesError), 1u);
    EXPECT_TRUE(AbiDte::decode(t.guest_word(dte_addr(GuestLayout::device_id(0)))).valid);
    EXPECT_EQ(t.guest_word(dte_addr(GuestLayout::device_id(1))), 0u);
    EXPECT_EQ(t.guest_word(itt(1)), 0u);
    EXPECT_EQ(t.guest_word(dte_addr(GuestLayout::device_id(2))), 0u);
    EXPECT_EQ(t.guest_word(itt(2)), 0u);
    EXPECT_EQ(t.guest_word(GuestLayout::kCollectionTable), 0u);
}

// 8082d50f4817 "Give a chance to save VLPI state": on GICv4.1 forwarded ITEs are saved normally.
TEST(KvmItsSave, ForwardedIteOnGicv41IsSaved) {
    KvmHarness t(kForwardedInTheMiddle);
    t.boot();
    ASSERT_EQ(t.kvm().its_save_tables(), kvm::kOk);
    EXPECT_EQ(AbiIte::decode(t.guest_word(itt(1))), (AbiIte{1, kLpi1, 0}));
    EXPECT_TRUE(AbiDte::decode(t.guest_word(dte_addr(GuestLayout::device_id(2)))).valid);
    EXPECT_TRUE(AbiCte::decode(t.guest_word(GuestLayout::kCollectionTable)).valid);
}

// bd94e7aea403: only forwarded ITEs block the save on GICv4.0; a VM without vLPIs saves.
TEST(KvmItsSave, Gicv40WithoutForwardedItesSaves) {
    KvmHarness t(kTwoDevices, {.version = GicVersion::V4_0});
    t.boot_guest();
    EXPECT_EQ(t.kvm().its_save_tables(), kvm::kOk);
    EXPECT_TRUE(AbiCte::decode(t.guest_word(GuestLayout::kCollectionTable)).valid);
}

// ---- ITS table restore (vgic_its_restore_tables_v0) -------------------------------------------------

// vgic_its_restore_tables_v0 -> vgic_its_restore_ite -> vgic_add_lpi: devices, ITEs and
// collections come back from the saved bytes, each LPI takes pending_latch from the guest
// pending table, and the consumed bits are cleared (reference/arm §3.3 path A).
TEST(KvmItsRestore, TablesAreRebuiltAndPendingBitsConsumed) {
    KvmHarness src(kTwoDevices);
    src.boot_guest();
    ASSERT_EQ(src.kvm().trigger_msi(kDev0, 0), kvm::kOk);  // LPI 8192 on vCPU 0
    ASSERT_EQ(src.kvm().trigger_msi(kDev0, 2), kvm::kOk);  // LPI 8193 on vCPU 1
    ASSERT_EQ(src.kvm().save_pending_tables(), kvm::kOk);
    ASSERT_EQ(src.kvm().its_save_tables(), kvm::kOk);
    ASSERT_TRUE(src.guest_pending(0, kLpi0));
    ASSERT_TRUE(src.guest_pending(1, kLpi1));

    KvmHarness dst(kTwoDevices);
    ASSERT_EQ(restore_vgic(src, dst), kvm::kOk) << dst.text();
    const kvm::VirtualIts& a = src.vgic().its;
    const kvm::VirtualIts& b = dst.vgic().its;
    EXPECT_EQ(b.collections, a.collections);
    ASSERT_EQ(b.devices.size(), a.devices.size());
    for (const auto& [devid, dev] : a.devices) {
        const kvm::VitsDevice& got = b.devices.at(devid);
        EXPECT_EQ(got.itt_addr, dev.itt_addr);
        EXPECT_EQ(got.eventid_bits, dev.eventid_bits);
        ASSERT_EQ(got.ites.size(), dev.ites.size());
        for (const auto& [event, ite] : dev.ites) {
            EXPECT_EQ(got.ites.at(event).intid, ite.intid);
            EXPECT_EQ(got.ites.at(event).icid, ite.icid);
        }
    }
    EXPECT_TRUE(dst.lpi(kLpi0)->pending_latch);
    EXPECT_TRUE(dst.lpi(kLpi1)->pending_latch);
    EXPECT_FALSE(dst.lpi(kLpi2)->pending_latch);
    EXPECT_EQ(dst.lpi(kLpi1)->target_vcpu, 1u);
    EXPECT_FALSE(dst.guest_pending(0, kLpi0));
    EXPECT_FALSE(dst.guest_pending(1, kLpi1));
    EXPECT_EQ(dst.find(tp::kKvmItsRestoreTables, {arg("devices", 2), arg("lpis", 3)}).size(), 1u) << dst.text();
}

// KVM_DEV_ARM_ITS_SAVE_TABLES then RESTORE_TABLES on a fresh VM: every DeviceID/EventID translates
// to the same LPI, vCPU, priority and enable as on the source.
TEST(KvmItsRestore, RoundTripGivesTheSameTranslation) {
    KvmHarness src(kTwoDevices);
    src.boot_guest();
    src.set_guest_prop(kLpi2, 0x40, false);
    src.cmd(build::inv(kDev1, 1));
    src.cmd(build::movi(kDev0, 0, 1));
    ASSERT_EQ(src.kvm().its_save_tables(), kvm::kOk);

    KvmHarness dst(kTwoDevices);
    ASSERT_EQ(restore_vgic(src, dst), kvm::kOk);
    for (uint32_t devid : {kDev0, kDev1, kDev1 + 8})
        for (uint32_t event = 0; event < 4; ++event) {
            SCOPED_TRACE(::testing::Message() << "DeviceID " << devid << " EventID " << event);
            const kvm::VgicIrq* want = src.kvm().translate(devid, event);
            const kvm::VgicIrq* got = dst.kvm().translate(devid, event);
            ASSERT_EQ(got == nullptr, want == nullptr);
            if (!want) continue;
            EXPECT_EQ(got->intid, want->intid);
            EXPECT_EQ(got->target_vcpu, want->target_vcpu);
            EXPECT_EQ(got->priority, want->priority);
            EXPECT_EQ(got->enabled, want->enabled);
        }
    EXPECT_EQ(dst.kvm().trigger_msi(kDev0, 0), kvm::kOk);
    EXPECT_TRUE(dst.lpi(kLpi0)->pending_latch);
}

// vgic_its_cmd_handle_mapi allocates a collection that is not mapped yet for an unknown ICID
// (vgic_its_alloc_collection, target COLLECTION_NOT_MAPPED); vgic_its_save_collection_table saves
// every collection and vgic_its_restore_cte accepts an unmapped one, so vgic_its_restore_ite finds
// it (reference/arm §3.8: RESTORE_TABLES restores collections, then ITTs). An ITE whose
// collection the guest has not mapped yet survives the round trip, and a later MAPC on the
// destination makes it translate.
TEST(KvmItsRestore, IteOfACollectionNotMappedYetSurvivesTheRoundTrip) {
    KvmHarness src(kEmu);
    src.boot_guest();
    src.cmd(build::mapti(kDev0, 3, 8200, 7));
    ASSERT_EQ(src.kvm().its_save_tables(), kvm::kOk);

    KvmHarness dst(kEmu);
    EXPECT_EQ(restore_vgic(src, dst), kvm::kOk)
        << "the saved collection table has no entry for ICID 7, so RESTORE_TABLES rejects the ITE and "
           "stops: "
        << dst.text();
    EXPECT_EQ(dst.vgic().its.devices.at(kDev0).ites.size(), 4u);
    dst.cmd(build::mapc(7, 1, true));
    const kvm::VgicIrq* irq = dst.kvm().translate(kDev0, 3);
    ASSERT_NE(irq, nullptr);
    EXPECT_EQ(irq->intid, 8200u);
    EXPECT_EQ(irq->target_vcpu, 1u);
}

// 9ce754ed8e7a: vgic_its_restore_dte rejects a DTE asking for more EventID bits than MAPD allows
// (VITS_TYPER_IDBITS = 16) with -EINVAL; before it the ITT walk was 2^32 entries long (fuzz target
// vits_save_restore found the model walking it for ever, tests/fuzz/regressions/vits_save_restore/).
TEST(KvmItsRestore, DteWithMoreThan16EventIdBitsIsRejected) {
    KvmHarness src(kTwoDevices);
    src.boot_guest();
    ASSERT_EQ(src.kvm().its_save_tables(), kvm::kOk);
    AbiDte dte = AbiDte::decode(src.guest_word(dte_addr(kDev0)));
    ASSERT_TRUE(dte.valid);
    dte.size = 31;
    src.h.mem.guest.write64(dte_addr(kDev0), dte.encode());
    KvmHarness dst(kTwoDevices);
    EXPECT_EQ(restore_vgic(src, dst), kvm::kEinval);
    EXPECT_EQ(dst.count(tp::kKvmItsRestoreTablesDteError), 1u) << dst.text();
}

// scan_its_table returns kvm_read_guest_lock's error: a DTE whose ITT lies outside guest RAM stops
// the restore with -EFAULT (the model read zeros there and went on).
TEST(KvmItsRestore, IttOutsideGuestRamIsEfault) {
    KvmHarness src(kTwoDevices);
    src.boot_guest();
    ASSERT_EQ(src.kvm().its_save_tables(), kvm::kOk);
    AbiDte dte = AbiDte::decode(src.guest_word(dte_addr(kDev0)));
    dte.itt_addr = uint64_t{1} << 40;  // beyond the 4 GiB guest space
    src.h.mem.guest.write64(dte_addr(kDev0), dte.encode());
    KvmHarness dst(kTwoDevices);
    EXPECT_EQ(restore_vgic(src, dst), kvm::kEfault);
    EXPECT_EQ(dst.count(tp::kKvmItsRestoreTablesReadError), 1u) << dst.text();
}

}  // namespace
}  // namespace irqdiff::arm::testing
