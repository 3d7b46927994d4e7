// KVM's SGIs and GICv4.1 direct vSGIs (arm_gic/kvm/vgic_sgi.cc): nASSGIreq and
// vgic_v4_configure_vsgis, the trapped ICC_SGI1R_EL1 (vgic_v3_dispatch_sgi), the userspace
// GICR_ISPENDR0/ICPENDR0 accessors before and after 7b95382f9651, and the vSGI state across the
// pending-table save (reference/kernel_history A1, A6).
#include <gtest/gtest.h>

#include "tests/arm_gic/kvm_harness.h"

namespace irqdiff::arm::testing {
namespace {

/// Two vCPUs; vCPU 0 sends ipi.0 (SGI 0) and ipi.1 (SGI 1) to vCPU 1.
const std::string kIpi =
    "vm: {vcpus: 2}\n"
    "devices: [{name: ipi, kind: ipi, vectors: 2, from: 0}]\n"
    "routes: [{source: ipi.0, vcpu: 1}, {source: ipi.1, vcpu: 1}]\n";

constexpr uint64_t kIspendr0 = kGicrSgiFrame + GICR_ISPENDR0;
constexpr uint64_t kIcpendr0 = kGicrSgiFrame + GICR_ICPENDR0;

const VsgiState& vsgi(const KvmHarness& t, uint32_t vpe, unsigned sgi) {
    const Redistributor* rd = t.h.gic.rd_of_vpe(vpe);
    EXPECT_NE(rd, nullptr) << "vPE " << vpe << " is not mapped";
    return rd->vpe(vpe)->sgis.at(sgi);
}

/// A booted VM that ran (its first KVM_RUN mapped the vgic's resources), vCPU 1 masked.
void boot_and_run(KvmHarness& t, kvm::VsgiIspendr ispendr = kvm::VsgiIspendr::Fixed) {
    t.h.vgic.vsgi_ispendr = ispendr;
    t.boot();
    t.mask(1);
}

// irq-gic-v3.c gic_dist_init sets GICD_CTLR.nASSGIreq when GICD_TYPER2.nASSGIcap says so;
// vgic_mmio_write_v3_misc then runs vgic_v4_configure_vsgis -> vgic_v4_enable_vsgis: every SGI of
// every vCPU is handed to its vPE with its configuration (VSGI: enabled, Group 1).
TEST(ArmVsgi, TheGuestsNassgireqHandsEverySgiToItsVpe_vgic_v4_enable_vsgis) {
    KvmHarness t(kIpi);
    t.boot();
    EXPECT_TRUE(t.vgic().nassgireq);
    for (uint32_t v = 0; v < 2; ++v)
        for (unsigned sgi = 0; sgi < 16; ++sgi) {
            EXPECT_TRUE(t.vgic().cpus[v].sgis[sgi].hw) << "vCPU " << v << " SGI " << sgi;
            EXPECT_TRUE(vsgi(t, v, sgi).enabled);
            EXPECT_TRUE(vsgi(t, v, sgi).group1);
        }
}

// vgic_v3_dispatch_sgi: "HW SGI? Ask the GIC to inject it" (GITS_SGIR); the target takes it from
// its resident vPE, directly.
TEST(ArmVsgi, ATrappedSgi1rWriteMakesTheVsgiPendingThroughGitsSgir_vgic_v3_dispatch_sgi) {
    KvmHarness t(kIpi);
    t.boot();
    t.kvm().dispatch_sgi(0, 1, 0);
    EXPECT_TRUE(vsgi(t, 1, 0).pending);
    EXPECT_FALSE(t.vgic().cpus[1].sgis[0].pending_latch);
    EXPECT_EQ(t.run(1), 1u);
    ASSERT_EQ(t.glog.deliveries().size(), 1u);
    EXPECT_EQ(t.glog.deliveries()[0].path, DeliveryPath::Direct);
    EXPECT_FALSE(vsgi(t, 1, 0).pending);
}

// IHI 0069 / its_vpe_4_1_deschedule: a vPE de-scheduled with DB=1 rings its default doorbell
// for an enabled vSGI; vgic_v4_doorbell_handler wakes the blocked vCPU.
TEST(ArmVsgi, AVsgiForABlockedVcpuRingsItsVpesDoorbell_its_vpe_4_1_deschedule) {
    KvmHarness t(kIpi);
    t.boot();
    t.kvm().vcpu_block(1);
    ASSERT_EQ(t.vgic().cpus[1].run, kvm::VcpuRun::Blocked);
    t.kvm().dispatch_sgi(0, 1, 0);
    t.drain();
    EXPECT_EQ(t.doorbells, (std::vector<uint32_t>{1}));
    EXPECT_EQ(t.vgic().cpus[1].run, kvm::VcpuRun::Runnable);
    EXPECT_EQ(t.run(1), 1u);
}

// Without nASSGIreq (a guest that keeps SGIs with an active state) KVM emulates the SGI:
// vgic_v3_dispatch_sgi sets pending_latch and queues it; it reaches the guest through a list
// register.
TEST(ArmVsgi, WithoutNassgireqKvmEmulatesTheSgiInAListRegister_vgic_v3_dispatch_sgi) {
    KvmHarness t(kIpi);
    t.gs.want_nassgireq = false;
    t.boot();
    EXPECT_FALSE(t.vgic().nassgireq);
    t.kvm().dispatch_sgi(0, 1, 1);
    EXPECT_FALSE(t.vgic().cpus[1].sgis[1].hw);
    EXPECT_TRUE(t.vgic().cpus[1].sgis[1].pending_latch);
    EXPECT_FALSE(vsgi(t, 1, 1).pending);
    EXPECT_EQ(t.run(1), 1u);
    ASSERT_EQ(t.glog.deliveries().size(), 1u);
    EXPECT_EQ(t.glog.deliveries()[0].path, DeliveryPath::Software);
    EXPECT_FALSE(t.vgic().cpus[1].sgis[1].pending_latch);
}

// vgic_mmio_read_v3_misc / write: GICD_TYPER2.nASSGIcap only on GICv4.1, and "Not a GICv4.1? No
// HW SGIs": on GICv4.0 every SGI is emulated.
TEST(ArmVsgi, OnGicv40NassgireqIsRazAndSgisAreEmulated_vgic_mmio_write_v3_misc) {
    KvmConfig c;
    c.version = GicVersion::V4_0;
    KvmHarness t(kIpi, c);
    EXPECT_EQ(t.kvm().gicd_read(GICD_TYPER2), 0u);
    t.boot();
    t.kvm().gicd_write(GICD_CTLR, static_cast<uint32_t>(GicdCtlr::nASSGIreq.make(1)));
    EXPECT_FALSE(t.vgic().nassgireq);
    t.kvm().dispatch_sgi(0, 1, 0);
    EXPECT_TRUE(t.vgic().cpus[1].sgis[0].pending_latch);
    EXPECT_EQ(t.run(1), 1u);
}

// vgic_mmio_write_v3_misc: "Dist stays enabled? nASSGIreq is RO"; disabling the distributor with
// nASSGIreq clear runs vgic_v4_disable_vsgis, which reads the pending state back from the vPE
// (irq_get_irqchip_state -> GICR_VSGIPENDR) into pending_latch.
TEST(ArmVsgi, ClearingNassgireqReadsTheVsgiBackIntoPendingLatch_vgic_v4_disable_vsgis) {
    KvmHarness t(kIpi);
    boot_and_run(t);
    t.kvm().dispatch_sgi(0, 1, 2);
    t.kvm().gicd_write(GICD_CTLR, static_cast<uint32_t>(GicdCtlr::EnableGrp1.make(1)));  // stays enabled: RO
    EXPECT_TRUE(t.vgic().nassgireq);
    t.kvm().gicd_write(GICD_CTLR, 0);
    EXPECT_FALSE(t.vgic().nassgireq);
    EXPECT_FALSE(t.vgic().cpus[1].sgis[2].hw);
    EXPECT_TRUE(t.vgic().cpus[1].sgis[2].pending_latch);
    EXPECT_FALSE(vsgi(t, 1, 2).pending);
    EXPECT_FALSE(vsgi(t, 1, 2).enabled);  // its_sgi_irq_domain_deactivate: disable, then clear
}

// vgic_v3_uaccess_read_pending asks the hardware for a vSGI (irq_get_irqchip_state ->
// its_sgi_get_irqchip_state: GICR_VSGIR, GICR_VSGIPENDR).
TEST(ArmVsgi, UserspaceIspendr0ReadsAVsgiFromGicrVsgipendr_vgic_v3_uaccess_read_pending) {
    KvmHarness t(kIpi);
    boot_and_run(t);
    t.kvm().dispatch_sgi(0, 1, 1);
    EXPECT_EQ(t.kvm().sgi_uaccess_read(1, kIspendr0), 0x2u);
    EXPECT_EQ(t.count(tp::kGicrWriteVsgir), 16u);  // one query per SGI
}

// f66b7b151e00 unmaps every vPE (VMAPP V=0 Alloc=1) in SAVE_PENDING_TABLES and maps it again;
// the vSGI state stays with the vPE (Shenming Lu, <b837b832-7085-c74d-3f9b-08335081f702@huawei.com>:
// "the unmapping of the vPE would not affect the (already) stored vSGI states"), so QEMU's later
// GICR_ISPENDR0 read still sees it.
TEST(ArmVsgi, APendingVsgiSurvivesTheSavePendingTablesUnmap_f66b7b151e00) {
    KvmHarness t(kIpi);
    boot_and_run(t);
    t.kvm().dispatch_sgi(0, 1, 0);
    t.stop_vcpus();
    ASSERT_EQ(t.kvm().save_pending_tables(), kvm::kOk);
    EXPECT_TRUE(vsgi(t, 1, 0).pending);
    EXPECT_TRUE(vsgi(t, 1, 0).enabled);
    EXPECT_EQ(t.kvm().sgi_uaccess_read(1, kIspendr0), 0x1u);
}

// 7b95382f9651: "When the VMM writes to ISPENDR0 to set the state pending state of an SGI, we fail
// to convey this to the HW if this SGI is already backed by a GICv4.1 vSGI" — fixed by "always
// writing out the pending_latch value to the HW, and reseting it to false".
TEST(ArmVsgi, AUserspaceIspendr0WriteOnAHwVsgiReachesTheVpe_7b95382f9651) {
    KvmHarness t(kIpi);
    boot_and_run(t, kvm::VsgiIspendr::Fixed);
    t.kvm().sgi_uaccess_write(1, kIspendr0, 0x1);
    EXPECT_TRUE(vsgi(t, 1, 0).pending);
    EXPECT_FALSE(t.vgic().cpus[1].sgis[0].pending_latch);
}

// Before 7b95382f9651, vgic_v3_uaccess_write_pending only set pending_latch on an SGI the vPE
// owned: the vSGI is not pending, and the latch (irq->hw) can only reach a list register with
// HW=1 naming pINTID 0.
TEST(ArmVsgi, BeforeTheFixAUserspaceIspendr0WriteSetsOnlyPendingLatch_7b95382f9651) {
    KvmHarness t(kIpi);
    boot_and_run(t, kvm::VsgiIspendr::LatchOnly);
    t.kvm().sgi_uaccess_write(1, kIspendr0, 0x1);
    EXPECT_FALSE(vsgi(t, 1, 0).pending);
    EXPECT_TRUE(t.vgic().cpus[1].sgis[0].pending_latch);
    EXPECT_EQ(t.count(tp::kKvmUaccessLatchOnHwVsgi), 1u);
    // The latch is queued; at entry vgic_v3_populate_lr writes it with HW=1 and pINTID 0.
    t.mask(1, false);
    t.run(1);
    EXPECT_EQ(t.count(tp::kVcpuWriteLrHwViolation), 1u) << t.text();
}

// Kunkun Jiang's report behind 7b95382f9651 ("GICv4.1: vSGI remains pending across the guest
// reset"): before 561851424d93 a userspace ICPENDR0 write is ignored (vgic_mmio_uaccess_write_wi),
// so a reset by the VMM leaves the vSGI pending; since, it clears it in the ITS.
TEST(ArmVsgi, AUserspaceIcpendr0WriteClearsAHwVsgiOnlySince561851424d93) {
    for (kvm::VsgiIspendr p : {kvm::VsgiIspendr::Fixed, kvm::VsgiIspendr::LatchOnly}) {
        KvmHarness t(kIpi);
        boot_and_run(t, p);
        t.kvm().dispatch_sgi(0, 1, 3);
        t.kvm().sgi_uaccess_write(1, kIcpendr0, ~0u);
        EXPECT_EQ(vsgi(t, 1, 3).pending, p == kvm::VsgiIspendr::LatchOnly);
    }
}

// vgic_mmio_uaccess_write_v3_misc records GICD_CTLR.nASSGIreq and does nothing else; the vSGIs
// are enabled at the first KVM_RUN (kvm_vgic_map_resources -> vgic_v3_map_resources ->
// vgic_v4_configure_vsgis), which moves the ISPENDR0 userspace restored into pending_latch into
// the vPE. So on a migration's fresh destination either arm.vsgi_ispendr delivers it.
TEST(ArmVsgi, OnAFreshDestinationTheFirstKvmRunMovesRestoredPendingLatchIntoTheVpe_vgic_v3_map_resources) {
    for (kvm::VsgiIspendr p : {kvm::VsgiIspendr::Fixed, kvm::VsgiIspendr::LatchOnly}) {
        KvmHarness t(kIpi);
        t.h.vgic.vsgi_ispendr = p;
        kvm::Kvm k = t.kvm();
        k.gicd_uaccess_write(GICD_CTLR, static_cast<uint32_t>(GicdCtlr::EnableGrp1.make(1) | GicdCtlr::nASSGIreq.make(1)));
        EXPECT_TRUE(t.vgic().nassgireq);
        EXPECT_FALSE(t.vgic().cpus[1].sgis[0].hw) << "the userspace GICD_CTLR write reconfigured the SGIs";
        k.sgi_uaccess_write(1, kIspendr0, 0x1);
        EXPECT_TRUE(t.vgic().cpus[1].sgis[0].pending_latch);
        k.vcpu_load(0);  // the first KVM_RUN
        EXPECT_TRUE(t.vgic().ready);
        EXPECT_TRUE(t.vgic().cpus[1].sgis[0].hw);
        EXPECT_FALSE(t.vgic().cpus[1].sgis[0].pending_latch);
        EXPECT_TRUE(vsgi(t, 1, 0).pending);
    }
}

}  // namespace
}  // namespace irqdiff::arm::testing
