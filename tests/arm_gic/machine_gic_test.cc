// The guest-visible GICv3/ITS of machine mode (arm_gic/machine/gicv3_gic.h, docs/machine_gic.md
// "Guest-visible GICv3"), driven with the register sequences a GICv3 driver issues (Linux
// drivers/irqchip/irq-gic-v3.c gic_dist_init / gic_cpu_init / gic_cpu_sys_reg_init,
// irq-gic-v3-its.c its_probe_one / its_cpu_init_lpis), each test named after its source.
#include <gtest/gtest.h>

#include "arm_gic/hw/its_command.h"
#include "arm_gic/machine/gicv3_gic.h"
#include "arm_gic/trace_points.h"
#include "tests/event_match.h"

namespace irqdiff::arm::machine {
namespace {

constexpr uint64_t D = GicV3::kGicdBase, R = GicV3::kGicrBase, S = GicV3::kGicrBase + 0x10000,
                   T = GicV3::kGitsBase;
constexpr uint64_t kStride = GicV3::kGicrStride;
// Guest memory layout of the tests (RAM at 0x4000_0000 as on QEMU virt).
constexpr uint64_t kCmdQ = 0x4010'0000, kDevT = 0x4020'0000, kColT = 0x4030'0000, kItt = 0x4040'0000,
                   kProp = 0x4050'0000, kPend = 0x4060'0000;
constexpr uint32_t kLpi = 8192;

struct Rig {
    EventLog log;
    AddressSpace ram{"guest", uint64_t{1} << 32};
    GicV3 gic;
    uint64_t cwriter = 0;

    explicit Rig(uint32_t vcpus = 2, GicVersion host = GicVersion::V4_1)
        : gic(GicV3Config{vcpus, 64, host, kvm::TransferPoint::SetForwarding, 4}, ram, log) {
        for (uint32_t v = 0; v < vcpus; ++v) gic.vcpu_runs(v);
    }
    uint64_t rd(uint64_t a, unsigned size = 4, uint32_t vcpu = 0) { return gic.mmio_read(a, size, vcpu); }
    void wr(uint64_t a, uint64_t v, unsigned size = 4, uint32_t vcpu = 0) { gic.mmio_write(a, v, size, vcpu); }

    /// gic_dist_init + gic_cpu_init + gic_cpu_sys_reg_init for every vCPU.
    void linux_init() {
        wr(D + GICD_CTLR, 0);                             // disable, wait for RWP
        EXPECT_EQ(rd(D + GICD_CTLR) & (1u << 31), 0u);    // RWP
        wr(D + GICD_CTLR, (1u << 4) | (1u << 1));         // ARE_NS | EnableGrp1A
        for (uint32_t v = 0; v < gic.vgic().cpus.size(); ++v) {
            const uint64_t sgi = S + v * kStride;
            wr(R + v * kStride + 0x14, 0, 4, v);           // GICR_WAKER.ProcessorSleep = 0
            EXPECT_EQ(rd(R + v * kStride + 0x14, 4, v) & 4, 0u);  // ChildrenAsleep
            wr(sgi + 0x80, 0xFFFF'FFFF, 4, v);             // IGROUPR0: Group 1
            wr(sgi + 0x180, 0xFFFF'0000, 4, v);            // ICENABLER0: PPIs off
            wr(sgi + 0x100, 0x0000'FFFF, 4, v);            // ISENABLER0: SGIs on
            for (unsigned i = 0; i < 8; ++i) wr(sgi + 0x400 + 4 * i, 0xA0A0'A0A0, 4, v);
            gic.sysreg_write(v, IccReg::PMR, 0xF0);
            gic.sysreg_write(v, IccReg::BPR1, 0);
            gic.sysreg_write(v, IccReg::CTLR, 0);  // EOImode 0
            gic.sysreg_write(v, IccReg::IGRPEN1, 1);
        }
    }
    void cmd(const ItsCommand& c) {
        for (unsigned w = 0; w < 4; ++w) ram.write64(kCmdQ + cwriter + 8 * w, c.dw[w]);
        cwriter += 32;
        wr(T + GITS_CWRITER, cwriter, 8);
    }
    /// its_probe_one + its_cpu_init_lpis: BASERs, CBASER, PROPBASER/PENDBASER, EnableLPIs, GITS_CTLR.
    void its_init(bool enable_lpis = true) {
        wr(T + gits_baser(0), (uint64_t{1} << 63) | kDevT | 0, 8);  // 1 page of 64 KiB
        wr(T + gits_baser(1), (uint64_t{1} << 63) | kColT | 0, 8);
        wr(T + GITS_CBASER, (uint64_t{1} << 63) | kCmdQ | 0, 8);     // one 4 KiB page
        wr(T + GITS_CWRITER, 0, 8);
        for (uint32_t v = 0; v < gic.vgic().cpus.size(); ++v) {
            wr(R + v * kStride + GICR_PROPBASER, kProp | 13, 8, v);  // IDbits 14
            wr(R + v * kStride + GICR_PENDBASER, kPend + v * 0x10000, 8, v);
            if (enable_lpis) wr(R + v * kStride + GICR_CTLR, 1, 4, v);
        }
        wr(T + GITS_CTLR, 1);
    }
};

TEST(MachineGicd, TyperIidrPidr2AndCtlrHoldKvmsValues_vgic_mmio_read_v3_misc) {
    Rig r;
    // 96 interrupts -> ITLinesNumber 2; IDbits 15 (INTERRUPT_ID_BITS_ITS); LPIS.
    EXPECT_EQ(r.rd(D + 0x4), 2u | (15u << 19) | (1u << 17));
    EXPECT_EQ(r.rd(D + 0x8), 0x4B00'343Bu);
    EXPECT_EQ(r.rd(D + 0xFFE8), 0x3Bu);
    EXPECT_EQ(r.rd(D + GICD_TYPER2), 1u << 8);  // nASSGIcap on a GICv4.1 host
    r.wr(D + GICD_CTLR, 0x12);
    EXPECT_EQ(r.rd(D + GICD_CTLR), 0x52u);  // EnableGrp1A | ARE (RAO) | DS (RAO)
    Rig v40(1, GicVersion::V4_0);
    EXPECT_EQ(v40.rd(D + GICD_TYPER2), 0u);
}

TEST(MachineGicr, TyperNamesAffinityProcessorNumberAndLast_vgic_mmio_read_v3r_typer) {
    Rig r(3);
    for (uint64_t v = 0; v < 3; ++v) {
        uint64_t t = r.rd(R + v * kStride + 8, 8);
        EXPECT_EQ(t >> 32, GicV3::mpidr(static_cast<uint32_t>(v)));
        EXPECT_EQ((t >> 8) & 0xFFFF, v);
        EXPECT_EQ((t >> 4) & 1, v == 2 ? 1u : 0u) << "Last";
        EXPECT_EQ(t & 1, 1u) << "PLPIS";
        EXPECT_EQ(r.rd(R + v * kStride + 0xC, 4), t >> 32);  // the upper half alone
    }
    EXPECT_EQ(r.rd(R + 0x4), 0x4B00'343Bu);
}

TEST(MachineIcc, SgiToATargetListIsAcknowledgedAndEoid_vgic_v3_dispatch_sgi) {
    Rig r;
    r.linux_init();
    // gic_send_sgi: vCPU 0 sends SGI 5 to vCPU 1 (Aff1.Aff2.Aff3 = 0, TargetList bit 1).
    r.gic.sysreg_write(0, IccReg::SGI1R, (uint64_t{5} << 24) | 0x2);
    EXPECT_EQ(r.gic.highest_pending(0), GicV3::kNone);
    EXPECT_EQ(r.gic.highest_pending(1), 5u);
    EXPECT_EQ(r.gic.sysreg_read(1, IccReg::HPPIR1), 5u);
    EXPECT_EQ(r.gic.acknowledge(1), 5u);
    EXPECT_EQ(r.gic.sysreg_read(1, IccReg::RPR), 0xA0u);
    EXPECT_EQ(r.gic.sysreg_read(1, IccReg::AP1R0), uint64_t{1} << (0xA0 >> 3));
    EXPECT_EQ(r.rd(S + kStride + 0x300, 4, 1), 1u << 5) << "GICR_ISACTIVER0";
    EXPECT_EQ(r.gic.highest_pending(1), GicV3::kNone);
    r.gic.eoi(1, 5);
    EXPECT_EQ(r.gic.sysreg_read(1, IccReg::RPR), 0xFFu);
    EXPECT_EQ(r.rd(S + kStride + 0x300, 4, 1), 0u);
    EXPECT_EQ(count_events(r.log.events(), {tp::kVcpuWriteEoir1Violation, tp::kVcpuWriteEoir1LrError}), 0u);
}

TEST(MachineIcc, IrmBroadcastsToEveryVcpuButTheSender_vgic_v3_dispatch_sgi) {
    Rig r(3);
    r.linux_init();
    r.gic.sysreg_write(1, IccReg::SGI1R, (uint64_t{1} << 40) | (uint64_t{3} << 24));
    EXPECT_EQ(r.gic.highest_pending(0), 3u);
    EXPECT_EQ(r.gic.highest_pending(1), GicV3::kNone);
    EXPECT_EQ(r.gic.highest_pending(2), 3u);
}

TEST(MachineIcc, PriorityMaskAndGroupEnableHideAnSgi_IHI0069_4_8_ICC_PMR_IGRPEN1) {
    Rig r;
    r.linux_init();
    r.gic.sysreg_write(0, IccReg::PMR, 0x80);  // masks priority 0xA0
    r.gic.sysreg_write(1, IccReg::SGI1R, (uint64_t{2} << 24) | 0x1);
    EXPECT_EQ(r.gic.highest_pending(0), GicV3::kNone);
    r.gic.sysreg_write(0, IccReg::PMR, 0xF0);
    EXPECT_EQ(r.gic.highest_pending(0), 2u);
    r.gic.sysreg_write(0, IccReg::IGRPEN1, 0);
    EXPECT_EQ(r.gic.highest_pending(0), GicV3::kNone);
    r.gic.sysreg_write(0, IccReg::IGRPEN1, 1);
    EXPECT_EQ(r.gic.acknowledge(0), 2u);
}

TEST(MachineIcc, AHigherPrioritySgiPreemptsAndEoisNest_IHI0069_4_8_running_priority) {
    Rig r(1);
    r.linux_init();
    r.wr(S + 0x400, 0x8000'00A0);  // SGI 0 at 0xA0, SGI 3 at 0x80
    r.gic.sysreg_write(0, IccReg::SGI1R, (uint64_t{0} << 24) | 1);
    EXPECT_EQ(r.gic.acknowledge(0), 0u);
    r.gic.sysreg_write(0, IccReg::SGI1R, (uint64_t{3} << 24) | 1);
    EXPECT_EQ(r.gic.highest_pending(0), 3u) << "0x80 beats the running priority 0xA0";
    EXPECT_EQ(r.gic.acknowledge(0), 3u);
    r.gic.eoi(0, 3);
    EXPECT_EQ(r.gic.sysreg_read(0, IccReg::RPR), 0xA0u);
    r.gic.eoi(0, 0);
    EXPECT_EQ(r.gic.sysreg_read(0, IccReg::RPR), 0xFFu);
    EXPECT_EQ(count_events(r.log.events(), {tp::kVcpuWriteEoir1Violation, tp::kVcpuWriteEoir1LrError}), 0u);
}

TEST(MachineLines, TheTimerPpiFollowsItsLevel_kvm_vgic_inject_irq) {
    Rig r(1);
    r.linux_init();
    r.wr(S + 0x100, 1u << 27);  // enable PPI 27 (the virtual timer)
    r.gic.set_ppi(0, 27, true);
    EXPECT_EQ(r.gic.highest_pending(0), 27u);
    EXPECT_EQ(r.gic.acknowledge(0), 27u);
    r.gic.eoi(0, 27);
    EXPECT_EQ(r.gic.highest_pending(0), 27u) << "level: still high after the EOI";
    EXPECT_EQ(r.gic.acknowledge(0), 27u);
    r.gic.set_ppi(0, 27, false);  // the guest masked the timer (CNTV_CTL.IMASK)
    r.gic.eoi(0, 27);
    EXPECT_EQ(r.gic.highest_pending(0), GicV3::kNone);
    EXPECT_EQ(r.rd(S + 0xC04) >> 22 & 3, 0u) << "GICR_ICFGR1: PPI 27 level";
}

TEST(MachineLines, AnSpiGoesWhereGicdIrouterSends_vgic_mmio_write_irouter) {
    Rig r;
    r.linux_init();
    r.wr(D + 0x6000 + 8 * 33, GicV3::mpidr(1), 8);
    EXPECT_EQ(r.rd(D + 0x6000 + 8 * 33, 8), GicV3::mpidr(1));
    r.wr(D + 0x400 + 33, 0x90, 1);      // IPRIORITYR byte
    EXPECT_EQ(r.rd(D + 0x400 + 32) >> 8 & 0xFF, 0x90u);
    r.wr(D + 0x100 + 4, 1u << 1);        // ISENABLER1: INTID 33
    EXPECT_EQ(r.rd(D + 0x100 + 4) & 2, 2u);
    r.gic.set_spi(33, true);             // the PL011's line
    EXPECT_EQ(r.gic.highest_pending(0), GicV3::kNone);
    EXPECT_EQ(r.gic.highest_pending(1), 33u);
    EXPECT_EQ(r.rd(D + 0x200 + 4) & 2, 2u) << "GICD_ISPENDR1";
    EXPECT_EQ(r.gic.acknowledge(1), 33u);
    r.gic.set_spi(33, false);
    r.gic.eoi(1, 33);
    EXPECT_EQ(r.gic.highest_pending(1), GicV3::kNone);
}

TEST(MachineLines, ADisabledDistributorHoldsInterruptsBack_vgic_target_oracle) {
    Rig r(1);
    r.linux_init();
    r.wr(D + GICD_CTLR, 0x10);  // EnableGrp1A off
    r.gic.sysreg_write(0, IccReg::SGI1R, (uint64_t{1} << 24) | 1);
    EXPECT_EQ(r.gic.highest_pending(0), GicV3::kNone);
    r.wr(D + GICD_CTLR, 0x12);  // vgic_kick_vcpus
    EXPECT_EQ(r.gic.highest_pending(0), 1u);
}

TEST(MachineIts, BasersReport64KPagesAndKvmsEntrySizes_vgic_sanitise_its_baser) {
    Rig r;
    uint64_t b0 = r.rd(T + gits_baser(0), 8), b1 = r.rd(T + gits_baser(1), 8);
    EXPECT_EQ(GitsBaser::Type.get(b0), uint64_t(BaserType::Device));
    EXPECT_EQ(GitsBaser::Type.get(b1), uint64_t(BaserType::Collection));
    EXPECT_EQ(GitsBaser::EntrySize.get(b0), 7u);  // 8-byte DTEs and CTEs (ABI rev0)
    EXPECT_EQ(GitsBaser::PageSize.get(b0), 2u);   // 64 KiB
    r.wr(T + gits_baser(0), (uint64_t{1} << 63) | kDevT, 8);  // the guest asks for 4 KiB pages
    b0 = r.rd(T + gits_baser(0), 8);
    EXPECT_EQ(GitsBaser::PageSize.get(b0), 2u);
    EXPECT_EQ(GitsBaser::Type.get(b0), uint64_t(BaserType::Device));
    EXPECT_EQ(r.rd(T + gits_baser(2), 8), 0u);
    EXPECT_EQ(r.rd(T + GITS_IIDR), VitsMmio::kIidr);
    const uint64_t typer = r.rd(T + GITS_TYPER, 8);
    EXPECT_EQ(typer & 1, 1u);
    r.wr(T + GITS_TYPER, 0, 8);  // read-only
    EXPECT_EQ(r.rd(T + GITS_TYPER, 8), typer);
    EXPECT_EQ(r.rd(T + GITS_TYPER + 4), typer >> 32);
    EXPECT_EQ(r.rd(T + GITS_CTLR) >> 31, 1u) << "Quiescent";
}

TEST(MachineIts, MapdMapcMaptiThenADeviceMsiIsTaken_vgic_its_process_commands) {
    Rig r;
    r.linux_init();
    r.ram.write8(kProp + (kLpi - 8192), 0xA0 | 1);  // priority 0xA0, enabled
    r.its_init();
    r.cmd(build::mapd(0x10, 4, kItt, true));  // 5 EventID bits
    r.cmd(build::mapc(0, 1, true));           // collection 0 -> vCPU 1 (PTA = 0)
    r.cmd(build::mapti(0x10, 3, kLpi, 0));
    r.cmd(build::inv(0x10, 3));
    r.cmd(build::sync(1));
    EXPECT_EQ(r.rd(T + GITS_CREADR, 8), r.cwriter);
    EXPECT_EQ(r.gic.device_msi(0x10, 3), 0);
    EXPECT_EQ(r.gic.highest_pending(0), GicV3::kNone);
    EXPECT_EQ(r.gic.highest_pending(1), kLpi);
    EXPECT_EQ(r.gic.acknowledge(1), kLpi);
    r.gic.eoi(1, kLpi);
    EXPECT_EQ(r.gic.highest_pending(1), GicV3::kNone);
    // The guest's own INT command makes it pending again (vgic_its_cmd_handle_int).
    r.cmd(build::int_(0x10, 3));
    EXPECT_EQ(r.gic.highest_pending(1), kLpi);
}

TEST(MachineIts, LpiConfigurationIsCachedUntilInv_update_lpi_config) {
    Rig r(1);
    r.linux_init();
    r.ram.write8(kProp, 0xA0 | 1);
    r.its_init();
    r.cmd(build::mapd(0x10, 4, kItt, true));
    r.cmd(build::mapc(0, 0, true));
    r.cmd(build::mapti(0x10, 0, kLpi, 0));
    r.ram.write8(kProp, 0xA0);  // the guest disables the LPI in its table but sends no INV
    r.gic.device_msi(0x10, 0);
    EXPECT_EQ(r.gic.acknowledge(0), kLpi) << "the cached configuration still has it enabled";
    r.gic.eoi(0, kLpi);
    r.cmd(build::inv(0x10, 0));
    r.gic.device_msi(0x10, 0);
    EXPECT_EQ(r.gic.highest_pending(0), GicV3::kNone);
    r.ram.write8(kProp, 0xA0 | 1);
    r.cmd(build::invall(0));
    EXPECT_EQ(r.gic.highest_pending(0), kLpi) << "pending all along, delivered once INVALL enables it";
}

TEST(MachineIts, MaptiToAnUnmappedCollectionIsAccepted_vgic_its_alloc_collection) {
    Rig r;
    r.linux_init();
    r.ram.write8(kProp, 0xA0 | 1);
    r.its_init();
    r.cmd(build::mapd(0x10, 4, kItt, true));
    r.cmd(build::mapti(0x10, 1, kLpi, 7));  // collection 7 is not mapped
    EXPECT_EQ(count_events(r.log.events(), tp::kKvmItsCommandError), 0u);
    EXPECT_NE(r.gic.device_msi(0x10, 1), 0) << "not delivered while the collection is unmapped";
    r.cmd(build::mapc(7, 1, true));
    EXPECT_EQ(r.gic.device_msi(0x10, 1), 0);
    EXPECT_EQ(r.gic.highest_pending(1), kLpi);
}

TEST(MachineIts, EnableLpisReadsAPrefilledPendingTable_its_sync_lpi_pending_table) {
    Rig r(1);
    r.linux_init();
    r.ram.write8(kProp, 0xA0 | 1);
    r.its_init(/*enable_lpis=*/false);
    r.cmd(build::mapd(0x10, 4, kItt, true));
    r.cmd(build::mapc(0, 0, true));
    r.cmd(build::mapti(0x10, 0, kLpi, 0));
    r.ram.write8(kPend + kLpi / 8, 1u << (kLpi % 8));  // e.g. a restored guest's pending table
    EXPECT_EQ(r.gic.highest_pending(0), GicV3::kNone);
    r.wr(R + GICR_CTLR, 1);  // EnableLPIs 0 -> 1
    EXPECT_EQ(r.rd(R + GICR_CTLR) & 1, 1u);
    EXPECT_EQ(r.gic.highest_pending(0), kLpi);
    EXPECT_EQ(r.gic.acknowledge(0), kLpi);
}

TEST(MachineIts, AGuestTranslaterWriteIsAnMsiFromRequesterZero_kvm_its_send_msi) {
    Rig r(1);
    r.linux_init();
    r.ram.write8(kProp, 0xA0 | 1);
    r.its_init();
    r.cmd(build::mapd(0, 4, kItt, true));
    r.cmd(build::mapc(0, 0, true));
    r.cmd(build::mapti(0, 2, kLpi, 0));
    r.wr(T + GITS_TRANSLATER, 2);
    EXPECT_EQ(r.gic.highest_pending(0), kLpi);
}

TEST(MachineKvm, AWfiIsWokenByAnSgi_kvm_vcpu_block_kvm_vcpu_kick) {
    Rig r;
    r.linux_init();
    r.gic.vcpu_waits(1);
    EXPECT_FALSE(r.gic.wake_pending(1));
    EXPECT_EQ(r.gic.vgic().cpus[1].run, kvm::VcpuRun::Blocked);
    r.gic.sysreg_write(0, IccReg::SGI1R, (uint64_t{4} << 24) | 2);
    EXPECT_TRUE(r.gic.wake_pending(1));
    r.gic.vcpu_runs(1);
    EXPECT_EQ(r.gic.acknowledge(1), 4u);
}

/// One vCPU, the ITS set up, device 0x20 assigned with 2 events, event 0 mapped to LPI 8192.
struct AssignedRig : Rig {
    AssignedRig() : Rig(1) {
        linux_init();
        ram.write8(kProp, 0xA0 | 1);
        its_init();
        EXPECT_TRUE(gic.assign_device(0x20, 2));
        EXPECT_FALSE(gic.assign_device(0x20, 2));
        cmd(build::mapd(0x20, 1, kItt, true));
        cmd(build::mapc(0, 0, true));
        cmd(build::mapti(0x20, 0, kLpi, 0));
    }
};

TEST(MachineAssigned, AMappedEventIsForwardedAndItsMsiTakenFromTheVpt_kvm_vgic_v4_set_forwarding) {
    AssignedRig r;
    EXPECT_TRUE(r.gic.forwarded(0x20, 0));
    EXPECT_FALSE(r.gic.forwarded(0x20, 1)) << "event 1 is not mapped yet";
    r.gic.assigned_msi(0x20, 0);
    EXPECT_EQ(r.gic.highest_pending(0), kLpi);
    EXPECT_EQ(r.gic.acknowledge(0), kLpi);
    EXPECT_EQ(r.gic.machine().gic.cpu(0).last_ack(), CpuInterface::Source::Vlpi);
    r.gic.eoi(0, kLpi);
    // An event the guest maps later is forwarded too.
    r.cmd(build::mapti(0x20, 1, kLpi + 1, 0));
    EXPECT_TRUE(r.gic.forwarded(0x20, 1));
}

TEST(MachineAssigned, AGuestIntOnAForwardedLpiGoesToTheHostIts_vgic_its_trigger_msi) {
    AssignedRig r;
    r.cmd(build::int_(0x20, 0));
    EXPECT_EQ(count_events(r.log.events(), tp::kKvmVgicItsTriggerMsi), 1u);
    EXPECT_EQ(r.gic.acknowledge(0), kLpi);
    EXPECT_EQ(r.gic.machine().gic.cpu(0).last_ack(), CpuInterface::Source::Vlpi);
}

TEST(MachineAssigned, AWfiIsWokenByTheVpesDoorbell_vgic_v4_put_vgic_v4_doorbell_handler) {
    AssignedRig r;
    r.gic.vcpu_waits(0);
    EXPECT_FALSE(r.gic.wake_pending(0));
    r.gic.assigned_msi(0x20, 0);  // into the VPT of a non-resident vPE: the doorbell rings
    EXPECT_EQ(count_events(r.log.events(), tp::kKvmDoorbell), 1u);
    EXPECT_TRUE(r.gic.wake_pending(0));
    r.gic.vcpu_runs(0);
    EXPECT_EQ(r.gic.acknowledge(0), kLpi);
}

TEST(MachineBadInput, MisalignedWrongSizeReadOnlyAndOutOfRangeAccessesAreRazWi_vgic_mmio_check_region) {
    Rig r;
    r.linux_init();
    const size_t before = count_events(r.log.events(), tp::kMachineGicAccessIgnored);
    EXPECT_EQ(r.rd(D + 0x101), 0u);               // misaligned
    EXPECT_EQ(r.rd(D + 0x100, 2), 0u);            // 16-bit
    EXPECT_EQ(r.rd(D + 0x100, 8), 0u);            // 64-bit on a 32-bit register
    r.wr(R + 8, 0, 8);                            // GICR_TYPER is read-only
    EXPECT_EQ(r.rd(R + 8, 8) & 1, 1u);
    r.wr(T + 0x10041, 1, 1);                      // a byte into TRANSLATER
    r.wr(T + GITS_IIDR, 0);
    EXPECT_EQ(r.rd(T + GITS_IIDR), VitsMmio::kIidr);
    EXPECT_EQ(r.gic.sysreg_read(0, IccReg::Unknown), 0u);
    r.gic.sysreg_write(0, IccReg::IAR1, 5);       // write to a read-only ICC register
    EXPECT_GT(count_events(r.log.events(), tp::kMachineGicAccessIgnored), before + 6);
    r.gic.set_spi(5000, true);                    // no such SPI
    r.gic.set_ppi(0, 40, true);                   // not a PPI
    EXPECT_EQ(count_events(r.log.events(), tp::kKvmInjectIrqError), 1u);
    EXPECT_EQ(r.rd(D + 0x6000, 8), 0u);           // IROUTER of a private INTID: RAZ
    EXPECT_EQ(r.rd(S + 0xC00), 0xAAAA'AAAAu) << "GICR_ICFGR0: SGIs are edge";
    r.wr(S + 0xC00, 0);                           // read-only for SGIs
    EXPECT_EQ(r.rd(S + 0xC00), 0xAAAA'AAAAu);
    EXPECT_EQ(r.rd(D + 0x100), 0u) << "GICD_ISENABLER0 is RAZ/WI with ARE";
    EXPECT_EQ(r.gic.mmio_read(D, 4, 99), 0u);     // no such vCPU
    r.gic.sysreg_write(99, IccReg::SGI1R, 1);
    // A bad ITS command is logged and skipped; the queue goes on (vgic_its_handle_command).
    r.its_init();
    ItsCommand junk;
    junk.dw = {0xFF, 0, 0, 0};
    r.cmd(junk);
    r.cmd(build::mapti(0x99, 0, kLpi, 0));  // device not mapped
    EXPECT_EQ(r.rd(T + GITS_CREADR, 8), r.cwriter);
    EXPECT_EQ(count_events(r.log.events(), tp::kKvmItsCommandError), 2u);
    r.wr(T + GITS_CWRITER, 0x2000, 8);  // beyond the one-page queue: ignored (vgic_mmio_write_its_cwriter)
    EXPECT_EQ(r.rd(T + GITS_CWRITER, 8), r.cwriter);
}

}  // namespace
}  // namespace irqdiff::arm::machine
