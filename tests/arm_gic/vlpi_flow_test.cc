// End-to-end vLPI flows through the whole model: an MSI through GITS_TRANSLATER, the device table,
// the ITT and the vPE table to the redistributor's VPT cache, and on to the virtual CPU interface
// or a doorbell.
#include <gtest/gtest.h>

#include "tests/arm_gic/gic_harness.h"

namespace irqdiff::arm::testing {
namespace {

/// Device 1, event 0 forwarded as vINTID 8192 of vPE 0 on redistributor 0; doorbell LPI 8300.
struct Forwarded : ::testing::Test {
    GicHarness h;
    void SetUp() override {
        h.enable_lpis(0);
        h.lpi_config(kDoorbell, 0xA0, true);
        h.vlpi_config(kVlpi, 0x80, true);
        h.map_device(1);
        h.map_vpe(0, 0);
        h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
        h.open_cpu(0);
        ASSERT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    }
};

// reference/arm §1.1: an MSI to a resident vPE becomes a pending vLPI the vCPU acknowledges.
TEST_F(Forwarded, MsiToResidentVpeIsDeliveredThroughTheCpuInterface) {
    h.schedule(0, 0);
    h.msi(1, 0);
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kVlpi);
    EXPECT_EQ(h.gic.cpu(0).read_iar1(), kVlpi);
    EXPECT_EQ(h.gic.cpu(0).read_iar1(), kSpuriousIntid);  // acknowledged: no longer pending
    h.gic.cpu(0).write_eoir1(kVlpi);
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
}

// reference/arm §1.3 (its_vpe_4_1_deschedule): de-scheduled with DB=1 and nothing pending, the
// next vLPI rings the vPE's default doorbell, once.
TEST_F(Forwarded, MsiToNonResidentVpeRingsTheDoorbellOnlyWhenRequested) {
    std::vector<uint32_t> host_irqs;
    h.gic.set_host_irq_handler([&](unsigned, uint32_t intid) { host_irqs.push_back(intid); });
    h.schedule(0, 0);
    h.deschedule(0, /*doorbell=*/false);
    h.msi(1, 0);
    EXPECT_TRUE(host_irqs.empty());
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));

    h.schedule(0, 0);
    EXPECT_EQ(h.gic.cpu(0).read_iar1(), kVlpi);
    h.gic.cpu(0).write_eoir1(kVlpi);
    h.deschedule(0, /*doorbell=*/true);
    EXPECT_FALSE(Vpendbaser41::decode(h.gic.rd(0).read64(kGicrVlpiFrame + GICR_VPENDBASER)).pending_last);
    h.msi(1, 0);
    h.msi(1, 0);
    EXPECT_EQ(host_irqs, (std::vector<uint32_t>{kDoorbell}));
}

// IHI 0069 via reference/arm §1.5: VMAPP {V,Alloc}={0,1} writes the cached pending bits back; the
// VPT read before it is stale.
TEST_F(Forwarded, UnmapWithAllocWritesBackCachedBitsAndAnEarlierReadIsStale) {
    h.schedule(0, 0);
    h.msi(1, 0);
    h.deschedule(0, false);
    EXPECT_FALSE(h.vpt_bit(0, kVlpi)) << "de-scheduling does not clean the VPT";
    build::Vmapp unmap;
    unmap.vpeid = 0;
    unmap.valid = false;
    unmap.alloc = true;
    h.cmd(build::vmapp(unmap));
    EXPECT_TRUE(h.vpt_bit(0, kVlpi));
    EXPECT_EQ(h.count(tp::kGicrVptClean), 1u);
    std::vector<Location> where;
    h.gic.where_vlpi(0, kVlpi, where);
    ASSERT_EQ(where.size(), 1u);
    EXPECT_EQ(where[0], (Location{&places::kVpt, 0, false}));  // unmapped: nothing reads it
}

// reference/arm §1.2: DISCARD removes the interrupt's pending state.
TEST_F(Forwarded, DiscardDropsThePendingState) {
    h.msi(1, 0);
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    h.cmd(build::discard(1, 0));
    EXPECT_FALSE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    std::vector<Location> where;
    h.gic.where_vlpi(0, kVlpi, where);
    EXPECT_TRUE(where.empty());
}

// reference/arm §1.2: VMOVI clears the pending bit in the source VPT and sets it in the destination.
TEST_F(Forwarded, VmoviMovesThePendingState) {
    h.map_vpe(1, 1);
    h.msi(1, 0);
    h.cmd(build::vmovi(1, 0, 1, false, kNoDoorbell));
    EXPECT_FALSE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    EXPECT_TRUE(h.gic.rd(1).vlpi_pending(1, kVlpi));
}

// reference/arm §1.2: VMOVP moves a vPE to another redistributor, with its pending state.
TEST_F(Forwarded, VmovpRetargetsTheVpe) {
    h.msi(1, 0);
    h.cmd(build::vmovp(0, 1, 0, 1, true, kDoorbell));
    EXPECT_EQ(h.gic.rd_of_vpe(0), &h.gic.rd(1));
    EXPECT_TRUE(h.gic.rd(1).vlpi_pending(0, kVlpi));
    h.open_cpu(1);
    h.schedule(1, 0);
    EXPECT_EQ(h.gic.cpu(1).read_iar1(), kVlpi);
}

}  // namespace
}  // namespace irqdiff::arm::testing
