// The host's ITS driver as KVM uses it (arm_gic/host/its_driver.cc; drivers/irqchip/irq-gic-v3-its.c
// and irq-gic-v4.c): when vPEs are mapped (gic_requires_eager_mapping), what a GICv4.0 command
// carries (its_build_vmapp_cmd, its_build_vmovp_cmd), where a vPE lives and how it moves
// (its_vpe_irq_domain_activate, its_vpe_set_affinity, its_send_vmovp), and how it is made
// non-resident (its_clear_vpend_valid). Each test names the function or commit it follows.
#include <gtest/gtest.h>

#include "arm_gic/places.h"
#include "tests/arm_gic/kvm_harness.h"

namespace irqdiff::arm::testing {
namespace {

using kvm::TransferPoint;

EventArg hex(std::string key, uint64_t v) { return EventArg{std::move(key), ArgValue(Hex{v})}; }

std::string version_name(const ::testing::TestParamInfo<GicVersion>& info) {
    return info.param == GicVersion::V4_1 ? "V4_1" : "V4_0";
}
const auto kBothVersions = ::testing::Values(GicVersion::V4_1, GicVersion::V4_0);

// ---- gic_requires_eager_mapping -------------------------------------------------------------------

struct MappingCase {
    const char* name;
    GicVersion version;
    bool vmovp_direct;  // GITS_TYPER.VMOVP on both ITSs
    bool eager;         // what gic_requires_eager_mapping answers
};
void PrintTo(const MappingCase& c, std::ostream* os) { *os << c.name; }

class HostEagerMapping : public ::testing::TestWithParam<MappingCase> {};

// irq-gic-v3-its.c :: gic_requires_eager_mapping (and its_probe_one, which gives an ITS an ITSList
// number only without GITS_TYPER.VMOVP): vPEs are mapped on every ITS when their doorbell is
// activated unless an ITSList is in use on GICv4.0; then its_map_vm maps the VM on an ITS at its
// first VMAPTI there, and only there. Either way a vPE starts on the first online CPU
// (its_vpe_irq_domain_activate).
TEST_P(HostEagerMapping, VpesAreMappedEagerlyUnlessGicv40NeedsAnItsList) {
    const MappingCase& c = GetParam();
    KvmHarness t(kNic, {.version = c.version, .its_count = 2, .vmovp_direct = c.vmovp_direct});
    EXPECT_EQ(t.h.its.eager_mapping(), c.eager);
    for (uint32_t v = 0; v < 2; ++v) {
        EXPECT_EQ(t.h.its.vpe(v).rd, host::kFirstOnlineCpu);
        for (unsigned i = 0; i < 2; ++i) EXPECT_EQ(t.h.gic.its(i).maps_vpe(v), c.eager) << "vPE " << v << " ITS " << i;
        EXPECT_EQ(t.h.gic.rd_of_vpe(v), c.eager ? &t.h.gic.rd(host::kFirstOnlineCpu) : nullptr);
    }
    t.boot_guest();
    t.enable_msix(0);
    size_t from = t.mark();
    t.connect(0);  // VMAPTI of nic.0 and nic.1 on ITS 0
    EXPECT_EQ(t.find(tp::kHostItsMapVm, {arg("its", 0)}, from).size(), c.eager ? 0u : 1u) << t.text();
    for (uint32_t v = 0; v < 2; ++v) {
        EXPECT_TRUE(t.h.gic.its(0).maps_vpe(v));
        EXPECT_EQ(t.h.gic.its(1).maps_vpe(v), c.eager) << "ITS 1 has no vLPI of the VM";
    }
    EXPECT_EQ(t.count(EventKind::GuestError), 0u) << t.text();
}

INSTANTIATE_TEST_SUITE_P(
    ItsVersionsAndVmovp, HostEagerMapping,
    ::testing::Values(MappingCase{"V4_1_Vmovp", GicVersion::V4_1, true, true},
                      MappingCase{"V4_1_ItsList", GicVersion::V4_1, false, true},
                      MappingCase{"V4_0_Vmovp", GicVersion::V4_0, true, true},
                      MappingCase{"V4_0_ItsList", GicVersion::V4_0, false, false}),
    [](const ::testing::TestParamInfo<MappingCase>& info) { return std::string(info.param.name); });

// irq-gic-v3-its.c :: its_unmap_vm (called by its_vlpi_unmap): with an ITSList the VM leaves an
// ITS when its last vLPI there is unmapped; a VMAPP V=0 per vPE.
TEST(HostLazyMapping, TheVmLeavesAnItsWithItsLastVlpi) {
    KvmHarness t(kNic, {.version = GicVersion::V4_0, .its_count = 2, .vmovp_direct = false});
    t.boot_guest();
    t.enable_msix(0);
    t.connect(0);
    t.kvm().unset_forwarding(t.host_irq(0, 0));
    EXPECT_TRUE(t.h.gic.its(0).maps_vpe(0)) << "nic.1 is still forwarded through ITS 0";
    size_t from = t.mark();
    t.kvm().unset_forwarding(t.host_irq(0, 1));
    EXPECT_EQ(t.find(tp::kHostItsUnmapVm, {arg("its", 0)}, from).size(), 1u) << t.text();
    EXPECT_EQ(t.find(tp::kItsVmapp, {arg("valid", false)}, from).size(), 2u);
    for (uint32_t v = 0; v < 2; ++v) {
        EXPECT_FALSE(t.h.gic.its(0).maps_vpe(v));
        EXPECT_EQ(t.h.its.vpe(v).vmapp_count, 0u);
    }
    EXPECT_EQ(t.count(EventKind::GuestError), 0u) << t.text();
}

// ---- what a GICv4.0 command carries ---------------------------------------------------------------

class HostCommandFields : public ::testing::TestWithParam<GicVersion> {};

// irq-gic-v3-its.c :: its_build_vmapp_cmd and its_build_vmovp_cmd: Alloc, PTZ, VCONF_addr and
// Default_Doorbell (VMAPP) and DB and Default_Doorbell (VMOVP) are encoded on GICv4.1 only (IHI 0069:
// RES0 on 4.0). A GICv4.0 host writes none of them, so the ITS ignores nothing; on 4.1 VMAPP has
// Alloc on the first map and the vPE's doorbell, VMOVP DB=1 and the same doorbell.
TEST_P(HostCommandFields, Gicv40CommandsCarryNoGicv41Fields) {
    const bool v41 = GetParam() == GicVersion::V4_1;
    KvmHarness t(kNic, {.version = GetParam()});
    t.boot();  // the vCPUs' first loads move vPE 1 (VMOVP)
    t.stop_vcpus();
    ASSERT_EQ(t.kvm().save_pending_tables(), kvm::kOk);
    EXPECT_EQ(t.count(tp::kItsVmappV40Ignored), 0u) << t.text();
    EXPECT_EQ(t.count(tp::kItsVmovpV40Ignored), 0u) << t.text();
    const uint32_t db1 = t.h.its.vpe(1).doorbell;
    auto map = t.find(tp::kItsVmapp, {arg("vpe", 1), arg("valid", true)});
    ASSERT_FALSE(map.empty());
    EXPECT_EQ(t.find(tp::kItsVmapp, {arg("vpe", 1), arg("valid", true), arg("alloc", v41),
                                     arg("default_doorbell", v41 ? db1 : kNoDoorbell)})
                  .size(),
              map.size())
        << t.text();
    EXPECT_EQ(t.find(tp::kItsVmovp, {arg("vpe", 1), arg("db", v41), arg("default_doorbell", v41 ? db1 : kNoDoorbell)})
                  .size(),
              1u)
        << t.text();
}

INSTANTIATE_TEST_SUITE_P(BothVersions, HostCommandFields, kBothVersions, version_name);

// ---- where a vPE lives: col_idx, its_vpe_set_affinity, VMOVP ---------------------------------------

class HostVpeAffinity : public ::testing::TestWithParam<GicVersion> {};

// its_vpe_irq_domain_activate maps a vPE to the first online CPU; vgic_v4_load sets its doorbell's
// affinity to the loading CPU (irq_set_affinity -> its_vpe_set_affinity, af9acbfc2c4b), which is a
// VMOVP when the redistributor changes (its_send_vmovp: without an ITSList one VMOVP on the first
// ITS, SEQ_NUM and ITSList 0, then VSYNC). vCPU v runs on pCPU v: vPE 0 stays, vPE 1 moves once,
// and a vLPI made pending before the move travels with the vPE's state and is delivered directly
// on CPU 1.
TEST_P(HostVpeAffinity, VpeStartsOnTheFirstCpuAndMovesOnItsFirstLoadElsewhere) {
    const bool v41 = GetParam() == GicVersion::V4_1;
    KvmHarness t(kNic, {.version = GetParam()});
    t.boot_guest();
    t.enable_msix(0);
    t.connect(0);
    t.fire(0, 1);  // nic.1 -> vPE 1, still on redistributor 0
    ASSERT_EQ(t.h.gic.rd_of_vpe(1), &t.h.gic.rd(0));
    ASSERT_TRUE(t.h.gic.rd(0).vlpi_pending(1, kLpi1));

    size_t from = t.mark();
    t.kvm().vcpu_load(0);
    EXPECT_TRUE(t.find(tp::kItsVmovp, {}, from).empty()) << "vPE 0 is where CPU 0 is";
    t.kvm().vcpu_load(1);
    auto moves = t.find(tp::kItsVmovp, {arg("its", 0), arg("vpe", 1), arg("rd", 1), arg("seq", 0),
                                        hex("its_list", 0), arg("db", v41)},
                        from);
    ASSERT_EQ(moves.size(), 1u) << t.text();
    EXPECT_EQ(t.find(tp::kHostVpeSetAffinity, {arg("vpe", 1), arg("from", 0), arg("to", 1)}, from).size(), 1u);
    EXPECT_FALSE(t.find(tp::kItsVsync, {arg("vpe", 1)}, moves[0]->seq).empty()) << "a VSYNC follows the VMOVP";
    EXPECT_EQ(t.h.its.vpe(1).rd, 1u);
    EXPECT_EQ(t.h.gic.rd_of_vpe(1), &t.h.gic.rd(1));
    EXPECT_EQ(t.h.gic.rd(1).resident_vpe(), std::optional<uint32_t>(1));
    EXPECT_EQ(t.where_vlpi(1, kLpi1), (std::vector<Location>{{&places::kRdCache, 1, true}}));

    t.kvm().vcpu_put(1, false);
    from = t.mark();
    t.kvm().vcpu_load(1);
    EXPECT_TRUE(t.find(tp::kItsVmovp, {}, from).empty()) << "no move when the vPE is already there";

    EXPECT_EQ(t.run(1), 1u);
    ASSERT_EQ(t.glog.deliveries().size(), 1u);
    EXPECT_EQ(t.glog.deliveries().back().path, DeliveryPath::Direct);
    EXPECT_EQ(t.count(EventKind::GuestError), 0u) << t.text();
    EXPECT_EQ(t.count(EventKind::Violation), 0u) << t.text();
}

INSTANTIATE_TEST_SUITE_P(BothVersions, HostVpeAffinity, kBothVersions, version_name);

// vgic_v3_save_pending_tables -> map_all_vpes (GICv4.1): re-requesting each doorbell activates it
// again, which puts the vPE back on the first online CPU (its_vpe_irq_domain_activate); when the
// source resumes, the next load moves vPE 1 back to CPU 1 with a VMOVP, and its saved vLPI is
// delivered there.
TEST(HostVpeMove, AfterThePendingTableSaveTheNextLoadMovesTheVpeAgain) {
    KvmHarness t(kNic);
    t.boot();
    t.mask(1);
    t.fire(0, 1);
    t.stop_vcpus();
    ASSERT_EQ(t.h.gic.rd_of_vpe(1), &t.h.gic.rd(1));
    ASSERT_EQ(t.kvm().save_pending_tables(), kvm::kOk);
    EXPECT_TRUE(t.guest_pending(1, kLpi1));
    EXPECT_EQ(t.h.its.vpe(1).rd, host::kFirstOnlineCpu);
    EXPECT_EQ(t.h.gic.rd_of_vpe(1), &t.h.gic.rd(host::kFirstOnlineCpu));

    t.h.vgic.cpus[1].run = kvm::VcpuRun::Runnable;  // the source resumes
    size_t from = t.mark();
    t.mask(1, false);
    EXPECT_EQ(t.run(1), 1u);
    EXPECT_EQ(t.find(tp::kItsVmovp, {arg("vpe", 1), arg("rd", 1)}, from).size(), 1u) << t.text();
    EXPECT_EQ(t.glog.deliveries().back().path, DeliveryPath::Direct);
    EXPECT_EQ(t.count(EventKind::Violation), 0u) << t.text();
}

// its_send_vmovp with an ITSList (GICv4.0, no GITS_TYPER.VMOVP): every ITS the VM has vLPIs on
// (get_its_list, require_its_list_vmovp) gets the VMOVP with one SEQ_NUM, which vmovp_seq_num
// advances, and the move completes once every listed ITS has seen it (IHI 0069 VMOVP).
TEST(HostVpeMove, WithAnItsListEveryItsOfTheVmGetsTheVmovpWithOneSeqNum) {
    KvmHarness t(kNic, {.version = GicVersion::V4_0, .its_count = 2, .vmovp_direct = false});
    t.boot_guest();
    t.enable_msix(0);
    t.connect(0);
    size_t from = t.mark();
    t.kvm().vcpu_load(1);
    auto first = t.find(tp::kItsVmovp, {arg("vpe", 1), arg("rd", 1)}, from);
    ASSERT_EQ(first.size(), 1u) << t.text();
    EXPECT_EQ(first[0]->args, (std::vector<EventArg>{arg("its", 0), arg("vpe", 1), arg("rd", 1), arg("seq", 0),
                                                     hex("its_list", 1), arg("db", false),
                                                     arg("default_doorbell", kNoDoorbell)}));
    EXPECT_EQ(t.h.gic.rd_of_vpe(1), &t.h.gic.rd(1));
    t.kvm().vcpu_put(1, false);
    from = t.mark();
    ASSERT_EQ(t.h.its.set_affinity(t.h.gic, 1, 0), 0);
    EXPECT_EQ(t.find(tp::kItsVmovp, {arg("vpe", 1), arg("rd", 0), arg("seq", 1)}, from).size(), 1u) << t.text();
    EXPECT_EQ(t.h.gic.rd_of_vpe(1), &t.h.gic.rd(0));
    EXPECT_EQ(t.count(EventKind::GuestError), 0u) << t.text();
}

// 1442ee0011983 "Don't allow a VMOVP on a dying VPE" and e6c24e2d05bb: its_vpe_set_affinity on a
// vPE no ITS maps fails with -EINVAL under eager mapping (vgic_v3_load only WARNs, and the vPE is not
// made resident) and succeeds without touching the hardware when vPEs are mapped lazily.
TEST(HostVpeMove, AnUnmappedVpeIsNotMoved) {
    {
        KvmHarness t(kNic);
        t.h.its.unmap_vpe(t.h.gic, 1);
        size_t from = t.mark();
        EXPECT_EQ(t.h.its.set_affinity(t.h.gic, 1, 1), host::kEinval);
        t.kvm().vcpu_load(1);
        EXPECT_EQ(t.find(tp::kKvmVgicV4LoadError, {arg("vcpu", 1), arg("rc", host::kEinval)}, from).size(), 1u)
            << t.text();
        EXPECT_FALSE(t.h.its.vpe(1).resident);
        EXPECT_TRUE(t.find(tp::kItsVmovp, {}, from).empty());
    }
    {
        KvmHarness t(kNic, {.version = GicVersion::V4_0, .its_count = 2, .vmovp_direct = false});
        size_t from = t.mark();
        EXPECT_EQ(t.h.its.set_affinity(t.h.gic, 1, 1), 0);
        EXPECT_EQ(t.h.its.vpe(1).rd, host::kFirstOnlineCpu);
        EXPECT_TRUE(t.find(tp::kItsVmovp, {}, from).empty());
    }
}

// ---- its_clear_vpend_valid ------------------------------------------------------------------------

class HostDeschedule : public ::testing::TestWithParam<GicVersion> {};

// irq-gic-v3-its.c :: its_clear_vpend_valid: after clearing Valid the driver polls
// GICR_VPENDBASER.Dirty and reads PendingLast only once it is clear (IHI 0069: PendingLast is set
// when the de-schedule is done). A vCPU that blocks with a vLPI pending gets pending_last, so it
// does not sleep, however long the redistributor takes.
TEST_P(HostDeschedule, PendingLastIsReadOnlyAfterDirtyClears) {
    KvmHarness t(kNic, {.version = GetParam(), .dirty_reads = 3});
    t.boot();
    t.mask(0);
    t.fire(0, 0);
    size_t from = t.mark();
    t.kvm().vcpu_block(0);
    auto done = t.find(tp::kGicrDescheduleDone, {arg("rd", 0), arg("vpe", "vpe0"), arg("pending_last", true)}, from);
    auto put = t.find(tp::kKvmVcpuPut, {arg("vcpu", 0), arg("pending_last", true)}, from);
    ASSERT_EQ(done.size(), 1u) << t.text();
    ASSERT_EQ(put.size(), 1u) << t.text();
    EXPECT_LT(done[0]->seq, put[0]->seq);
    EXPECT_EQ(t.vgic().cpus[0].run, kvm::VcpuRun::Runnable);
    EXPECT_EQ(t.count(EventKind::GuestError), 0u) << t.text();
}

// its_clear_vpend_valid: if Dirty never clears (here: longer than the driver's ~1 s of polling) the
// driver reports "ITS virtual pending table not cleaning" and takes PendingLast as 1.
TEST_P(HostDeschedule, DirtyThatNeverClearsIsTakenAsPending) {
    KvmHarness t(kNic, {.version = GetParam(), .dirty_reads = 5000});
    t.boot();
    size_t from = t.mark();
    t.kvm().vcpu_put(0, /*need_db=*/true);
    EXPECT_EQ(t.find(tp::kHostItsDescheduleVpeError, {arg("vpe", 0)}, from).size(), 1u) << t.text();
    EXPECT_TRUE(t.h.its.vpe(0).pending_last);
}

INSTANTIATE_TEST_SUITE_P(BothVersions, HostDeschedule, kBothVersions, version_name);

}  // namespace
}  // namespace irqdiff::arm::testing
