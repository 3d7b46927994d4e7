// The redistributor, one rule per test: physical LPIs (GICR_CTLR.EnableLPIs, PROPBASER, PENDBASER,
// INVLPIR, INVALLR, SYNCR, the host's acknowledge), vPE residency through GICR_VPENDBASER in the
// GICv4.1 and GICv4.0 layouts (Dirty, PendingLast, doorbells, IDAI, transient residency), the VPT
// cache under each arm.vpt_writeback policy, snapshots, software writes into a VPT, and where a
// vLPI's pending state lives.
#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/arm_gic/gic_harness.h"

namespace irqdiff::arm::testing {
namespace {

constexpr uint32_t kLpiA = 8300, kLpiB = 8301, kLpiC = 8302, kLpiD = 8303;
constexpr uint64_t kVconf2 = kVconf + 0x1'0000;  // a second vLPI configuration table

GicConfig config(GicVersion version = GicVersion::V4_1) { return test_config(version); }

size_t count(const GicHarness& h, const Points& points) { return count_events(h.log.events(), points); }

void set_vpt_bit(GicHarness& h, uint32_t vpe, uint32_t vintid) {
    uint64_t addr = vpt(vpe) + vintid / 8;
    h.mem.host.write8(addr, static_cast<uint8_t>(h.mem.host.read8(addr).value | (1u << (vintid % 8))));
}

void set_pending_table_bit(GicHarness& h, unsigned rd, uint32_t intid) {
    uint64_t addr = kPendBase + uint64_t{rd} * 0x1'0000 + intid / 8;
    h.mem.host.write8(addr, static_cast<uint8_t>(h.mem.host.read8(addr).value | (1u << (intid % 8))));
}

void unmap_vpe(GicHarness& h, uint32_t vpe, bool alloc) {
    build::Vmapp m;
    m.vpeid = vpe;
    m.valid = false;
    m.alloc = alloc;
    h.cmd(build::vmapp(m));
}

std::vector<Location> where(const GicHarness& h, uint32_t vpe, uint32_t vintid) {
    std::vector<Location> out;
    h.gic.where_vlpi(vpe, vintid, out);
    return out;
}

using HostIrqs = std::vector<std::pair<unsigned, uint32_t>>;

void record_host_irqs(GicHarness& h, HostIrqs& irqs) {
    h.gic.set_host_irq_handler([&irqs](unsigned rd, uint32_t intid) { irqs.emplace_back(rd, intid); });
}

uint64_t vpendbaser(GicHarness& h, unsigned rd) { return h.gic.rd(rd).read64(kGicrVlpiFrame + GICR_VPENDBASER); }
Vpendbaser41 vpendbaser41(GicHarness& h, unsigned rd) { return Vpendbaser41::decode(vpendbaser(h, rd)); }
Vpendbaser40 vpendbaser40(GicHarness& h, unsigned rd) { return Vpendbaser40::decode(vpendbaser(h, rd)); }

void write_vpendbaser41(GicHarness& h, unsigned rd, uint32_t vpe) {
    Vpendbaser41 v;
    v.valid = true;
    v.vgrp1en = true;
    v.vpeid = static_cast<uint16_t>(vpe);
    h.gic.rd(rd).write64(kGicrVlpiFrame + GICR_VPENDBASER, v.encode());
}

/// GICv4.0 residency: VPROPBASER (configuration table `vconf`, 16 bits) then VPENDBASER (VPT).
void schedule40(GicHarness& h, unsigned rd, uint64_t vpt_addr, uint64_t vconf, bool idai = false) {
    h.gic.rd(rd).write64(kGicrVlpiFrame + GICR_VPROPBASER, vconf | Vpropbaser40::IDbits.make(15));
    Vpendbaser40 v;
    v.valid = true;
    v.idai = idai;
    v.vpt_addr = vpt_addr;
    h.gic.rd(rd).write64(kGicrVlpiFrame + GICR_VPENDBASER, v.encode());
}

/// Device 1, events 0 and 1 forwarded as vINTIDs 8192 and 8193 of vPE 0 on redistributor 0.
struct Forwarded {
    GicHarness h;
    explicit Forwarded(GicConfig c = config(), bool ptz = true) : h(c) {
        h.enable_lpis(0);
        h.lpi_config(kDoorbell, 0xA0, true);
        h.vlpi_config(kVlpi, 0x80, true);
        h.vlpi_config(kVlpi + 1, 0x80, true);
        h.map_device(1);
        h.map_vpe(0, 0, ptz);
        h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
        h.cmd(build::vmapti(1, 1, 0, kVlpi + 1, kNoDoorbell));
        h.open_cpu(0);
    }
    void msi(uint32_t event) { h.msi(1, event); }
};


// ---- physical LPIs ------------------------------------------------------------------------------

struct RedistributorLpis : ::testing::Test {
    GicHarness h;
    HostIrqs irqs;
    void SetUp() override {
        record_host_irqs(h, irqs);
        h.lpi_config(kLpiA, 0xA0, true);
        h.lpi_config(kLpiB, 0xA0, false);
    }
    void program(bool ptz) {
        h.gic.rd(0).write64(GICR_PROPBASER, kPropTable | GicrPropbaser::IDbits.make(15));
        h.gic.rd(0).write64(GICR_PENDBASER, kPendBase | GicrPendbaser::PTZ.make(ptz));
    }
    void enable() { h.gic.rd(0).write(GICR_CTLR, GicrCtlr::EnableLPIs.make(1), 4); }
};

// reference/arm §3.3 (EnableLPIs 0->1 reads the pending table unless PENDBASER.PTZ is set): pending
// LPIs found there become pending, and the enabled ones are signalled to the host.
TEST_F(RedistributorLpis, EnableLpisParsesThePendingTableWhenPtzIsClear) {
    set_pending_table_bit(h, 0, kLpiA);
    set_pending_table_bit(h, 0, kLpiB);
    program(/*ptz=*/false);
    enable();
    EXPECT_EQ(GicrCtlr::EnableLPIs.get(h.gic.rd(0).read(GICR_CTLR, 4)), 1u);
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpiA));
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpiB));
    EXPECT_EQ(irqs, (HostIrqs{{0, kLpiA}})) << "only the enabled LPI is signalled";
}

// reference/arm §3.3: with PENDBASER.PTZ=1 the pending table is known to be zero and is not read.
TEST_F(RedistributorLpis, EnableLpisWithPtzDoesNotReadThePendingTable) {
    set_pending_table_bit(h, 0, kLpiA);
    program(/*ptz=*/true);
    enable();
    EXPECT_TRUE(h.gic.rd(0).pending_lpis().empty());
    EXPECT_TRUE(irqs.empty());
}

// reference/arm §3.3 ("writes are ignored while EnableLPIs=1"; UNPREDICTABLE in IHI 0069): both
// registers keep their value, and each write is a guest error.
TEST_F(RedistributorLpis, PropbaserAndPendbaserWritesAreIgnoredWhileEnableLpisIsSet) {
    program(/*ptz=*/true);
    enable();
    h.gic.rd(0).write64(GICR_PROPBASER, (kPropTable + 0x1'0000) | GicrPropbaser::IDbits.make(13));
    h.gic.rd(0).write64(GICR_PENDBASER, kPendBase + 0x1'0000);
    EXPECT_EQ(count(h, tp::kGicrWritePropbaserError), 1u) << h.text();
    EXPECT_EQ(count(h, tp::kGicrWritePendbaserError), 1u) << h.text();
    EXPECT_EQ(h.gic.rd(0).read64(GICR_PROPBASER), kPropTable | GicrPropbaser::IDbits.make(15));
    EXPECT_EQ(h.gic.rd(0).read64(GICR_PENDBASER), kPendBase);
}

// reference/arm §1.4, §3.3 (IHI 0069E 9.11.30 via Zenghui Yu: "PTZ field is WO, and reads as 0").
TEST_F(RedistributorLpis, PendbaserPtzReadsAsZero) {
    program(/*ptz=*/true);
    EXPECT_EQ(h.gic.rd(0).read64(GICR_PENDBASER), kPendBase);
    EXPECT_EQ(h.gic.rd(0).read(GICR_PENDBASER + 4, 4), 0u);
    EXPECT_EQ(h.gic.rd(0).read(GICR_PENDBASER, 4), kPendBase);
}

// reference/arm §1.3 (GICR_INVLPIR, V=0): the redistributor re-reads one physical LPI's
// configuration; a pending LPI it now finds enabled is signalled. GICR_SYNCR then reads 0.
TEST_F(RedistributorLpis, InvlpirWithV0ReReadsOnePhysicalLpiConfiguration) {
    h.enable_lpis(0);
    h.gic.rd(0).set_lpi_pending(kLpiB, true);  // configuration cached: disabled
    h.gic.rd(0).set_lpi_pending(kLpiC, true);  // configuration cached: 0 (disabled)
    h.lpi_config(kLpiB, 0xA0, true);
    h.lpi_config(kLpiC, 0xA0, true);
    EXPECT_TRUE(irqs.empty());
    h.gic.rd(0).write64(GICR_INVLPIR, GicrInvlpir::INTID.make(kLpiB));
    EXPECT_EQ(irqs, (HostIrqs{{0, kLpiB}}));
    EXPECT_EQ(GicrSyncr::Busy.get(h.gic.rd(0).read(GICR_SYNCR, 4)), 0u);
}

// reference/arm §1.3 (GICR_INVALLR, V=0): every physical LPI's configuration is re-read.
TEST_F(RedistributorLpis, InvallrWithV0ReReadsEveryPhysicalLpiConfiguration) {
    h.enable_lpis(0);
    h.gic.rd(0).set_lpi_pending(kLpiB, true);
    h.gic.rd(0).set_lpi_pending(kLpiC, true);
    h.lpi_config(kLpiB, 0xA0, true);
    h.lpi_config(kLpiC, 0xA0, true);
    h.gic.rd(0).write64(GICR_INVALLR, 0);
    std::sort(irqs.begin(), irqs.end());
    EXPECT_EQ(irqs, (HostIrqs{{0, kLpiB}, {0, kLpiC}}));
    EXPECT_EQ(h.gic.rd(0).read64(GICR_SYNCR), 0u);
}

// Gic::HostIrqHandler ("called when a physical LPI becomes pending, enabled"): an invalidation
// that changes nothing for an LPI already pending and signalled does not signal it again.
TEST_F(RedistributorLpis, InvallrDoesNotSignalAnAlreadySignalledLpiAgain) {
    h.enable_lpis(0);
    h.gic.rd(0).set_lpi_pending(kLpiA, true);
    ASSERT_EQ(irqs, (HostIrqs{{0, kLpiA}}));
    h.gic.rd(0).write64(GICR_INVALLR, 0);
    EXPECT_EQ(irqs, (HostIrqs{{0, kLpiA}})) << "GICR_INVALLR signalled a pending, already signalled LPI a second time";
}

// reference/arm §1.3: GICR_SYNCR is read-only; a write is ignored (logged).
TEST_F(RedistributorLpis, SyncrWriteIsIgnored) {
    h.gic.rd(0).write(GICR_SYNCR, 1, 4);
    EXPECT_EQ(count(h, {tp::kGicrWriteReadOnlyIgnored, tp::kGicrWriteIgnored}), 1u) << h.text();
    EXPECT_EQ(h.gic.rd(0).read(GICR_SYNCR, 4), 0u);
}

// IHI 0069 (priority: lower value first; equal priorities: the model's choice, the lowest INTID,
// docs/arm_gic_model.md): the host acknowledges its highest-priority pending enabled LPI; disabled
// ones stay pending; 1023 when nothing is left.
TEST_F(RedistributorLpis, AcknowledgeTakesEnabledLpisInPriorityOrder) {
    h.enable_lpis(0);
    h.lpi_config(kLpiB, 0x40, true);
    h.lpi_config(kLpiC, 0x40, true);
    h.lpi_config(kLpiD, 0x00, false);
    for (uint32_t intid : {kLpiA, kLpiC, kLpiB, kLpiD}) h.gic.rd(0).set_lpi_pending(intid, true);
    EXPECT_EQ(h.gic.rd(0).acknowledge_lpi(), kLpiB);
    EXPECT_EQ(h.gic.rd(0).acknowledge_lpi(), kLpiC);
    EXPECT_EQ(h.gic.rd(0).acknowledge_lpi(), kLpiA);
    EXPECT_EQ(h.gic.rd(0).acknowledge_lpi(), kSpuriousIntid);
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpiD));
    EXPECT_FALSE(h.gic.rd(0).lpi_pending(kLpiA));
}

// IHI 0069 (GICR_CTLR.EnableLPIs=0: LPIs are not delivered): nothing to acknowledge, the LPI stays
// pending.
TEST_F(RedistributorLpis, AcknowledgeWithLpisDisabledReturns1023) {
    h.gic.rd(0).set_lpi_pending(kLpiA, true);
    EXPECT_TRUE(irqs.empty());
    EXPECT_EQ(h.gic.rd(0).acknowledge_lpi(), kSpuriousIntid);
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpiA));
}

// ---- virtual invalidation through the redistributor -------------------------------------------

struct RedistributorVirtualInvalidation : ::testing::Test, Forwarded {
    void SetUp() override {
        h.vlpi_config(kVlpi, 0x80, false);
        h.vlpi_config(kVlpi + 1, 0x80, false);
        h.schedule(0, 0);
        msi(0);
        msi(1);
        ASSERT_EQ(h.gic.cpu(0).read_hppir1(), kSpuriousIntid);  // both cached as disabled
        h.vlpi_config(kVlpi, 0x80, true);
        h.vlpi_config(kVlpi + 1, 0x60, true);
    }
};

// reference/arm §1.3 (GICR_INVLPIR V=1: "invalidate one (v)LPI's cached config"; Linux uses it for
// vLPIs on 4.1): only that vLPI's configuration is re-read.
TEST_F(RedistributorVirtualInvalidation, InvlpirWithV1ReReadsOneVlpi) {
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kSpuriousIntid);
    h.gic.rd(0).write64(GICR_INVLPIR, GicrInvlpir::V.make(1) | GicrInvlpir::vPEID.make(0) |
                                          GicrInvlpir::INTID.make(kVlpi));
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kVlpi);
    EXPECT_EQ(h.gic.rd(0).read64(GICR_SYNCR), 0u);
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// reference/arm §1.3 (GICR_INVALLR V=1): every vLPI of the vPE is re-read.
TEST_F(RedistributorVirtualInvalidation, InvallrWithV1ReReadsEveryVlpiOfTheVpe) {
    h.gic.rd(0).write64(GICR_INVALLR, GicrInvallr::V.make(1) | GicrInvallr::vPEID.make(0));
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kVlpi + 1);  // priority 0x60 beats 0x80
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// reference/arm §1.3: a virtual invalidation names a vPE; one no ITS maps is a guest error.
TEST_F(RedistributorVirtualInvalidation, InvalidationOfAnUnmappedVpeIsAGuestError) {
    h.gic.rd(0).write64(GICR_INVLPIR, GicrInvlpir::V.make(1) | GicrInvlpir::vPEID.make(9) |
                                          GicrInvlpir::INTID.make(kVlpi));
    h.gic.rd(0).write64(GICR_INVALLR, GicrInvallr::V.make(1) | GicrInvallr::vPEID.make(9));
    EXPECT_EQ(count(h, tp::kGicrInvalidateError), 2u) << h.text();
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kSpuriousIntid);
}

// ---- GICR_VPENDBASER, GICv4.1 layout -------------------------------------------------------------

struct RedistributorVpendbaser41 : ::testing::Test, Forwarded {
    HostIrqs irqs;
    void SetUp() override { record_host_irqs(h, irqs); }
};

// reference/arm §1.3 ("4.1 schedule is a single VPENDBASER write (Valid, vGrp0En, vGrp1En, vPEID)";
// PendingLast "is written as 1 on schedule").
TEST_F(RedistributorVpendbaser41, ScheduleByVpeidMakesTheVpeResident) {
    write_vpendbaser41(h, 0, 0);
    EXPECT_EQ(h.gic.rd(0).resident_vpe(), std::optional<uint32_t>{0});
    Vpendbaser41 v = vpendbaser41(h, 0);
    EXPECT_TRUE(v.valid);
    EXPECT_EQ(v.vpeid, 0);
    EXPECT_TRUE(v.vgrp1en);
    EXPECT_FALSE(v.vgrp0en);
    EXPECT_TRUE(v.pending_last);
    EXPECT_FALSE(v.dirty);
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// reference/arm §1.3 (the vPE comes from the vPE table entry VMAPP wrote): a vPEID no ITS maps to
// this redistributor is a guest error, and nothing becomes resident.
TEST_F(RedistributorVpendbaser41, ScheduleOfAnUnknownVpeidIsAGuestErrorAndMakesNothingResident) {
    write_vpendbaser41(h, 0, 7);
    EXPECT_EQ(count(h, {tp::kGicrWriteVpendbaserResidentError, tp::kGicrWriteVpendbaserUnmappedError}), 1u) << h.text();
    EXPECT_FALSE(h.gic.rd(0).resident_vpe().has_value());
    EXPECT_FALSE(vpendbaser41(h, 0).valid);
}

// reference/arm §1.3: a vPE mapped to another redistributor cannot be made resident here.
TEST_F(RedistributorVpendbaser41, ScheduleOfAVpeMappedElsewhereIsAGuestError) {
    h.map_vpe(1, 1);
    write_vpendbaser41(h, 0, 1);
    EXPECT_EQ(count(h, {tp::kGicrWriteVpendbaserResidentError, tp::kGicrWriteVpendbaserUnmappedError}), 1u) << h.text();
    EXPECT_FALSE(h.gic.rd(0).resident_vpe().has_value());
    EXPECT_FALSE(h.gic.rd(1).resident_vpe().has_value());
}

// IHI 0069 (Valid written 1 while resident is UNPREDICTABLE): the model ignores the write.
TEST_F(RedistributorVpendbaser41, ValidWrittenWhileResidentIsIgnored) {
    h.map_vpe(1, 0);
    h.schedule(0, 0);
    write_vpendbaser41(h, 0, 1);
    EXPECT_EQ(count(h, {tp::kGicrWriteVpendbaserResidentError, tp::kGicrWriteVpendbaserUnmappedError}), 1u) << h.text();
    EXPECT_EQ(h.gic.rd(0).resident_vpe(), std::optional<uint32_t>{0});
    EXPECT_EQ(vpendbaser41(h, 0).vpeid, 0);
}

// reference/arm §1.3 ("after Valid 0->1 the RD parses the VPT asynchronously; Dirty reads 1 until
// done"; Linux polls Dirty==0 before entering the guest): Dirty reads 1 for GicConfig::dirty_reads
// reads, and the CPU interface sees none of the vPE's vLPIs until the parse is done.
TEST(RedistributorDirty, DirtyReadsOneForDirtyReadsReadsAndHidesVlpisUntilThen) {
    GicConfig c = config();
    c.dirty_reads = 3;
    Forwarded f(c);
    f.msi(0);
    f.h.schedule(0, 0);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(f.h.gic.cpu(0).read_hppir1(), kSpuriousIntid) << "a vLPI was visible while Dirty read 1";
        EXPECT_TRUE(vpendbaser41(f.h, 0).dirty) << "read " << i;
    }
    Vpendbaser41 v = vpendbaser41(f.h, 0);
    EXPECT_FALSE(v.dirty);
    EXPECT_TRUE(v.valid);
    EXPECT_EQ(f.h.gic.cpu(0).read_hppir1(), kVlpi);
}

class RedistributorDescheduleDirty : public ::testing::TestWithParam<GicVersion> {};

// IHI 0069 GICR_VPENDBASER (Dirty; PendingLast is set by the implementation when Valid has been
// written from 1 to 0, UNKNOWN otherwise) and Linux its_clear_vpend_valid, which polls Dirty
// before it reads PendingLast: a de-schedule keeps Dirty at 1 for GicConfig::dirty_reads reads, and
// PendingLast reads 0 (the model's UNKNOWN) until then, 1 afterwards when an enabled vLPI is pending.
TEST_P(RedistributorDescheduleDirty, PendingLastIsValidOnlyOnceTheDescheduleIsDone) {
    const bool v41 = GetParam() == GicVersion::V4_1;
    GicConfig c = config(GetParam());
    c.dirty_reads = 2;
    Forwarded f(c);
    f.h.schedule(0, 0);
    while (Vpendbaser41::Dirty.get(vpendbaser(f.h, 0))) {
    }
    f.msi(0);
    f.h.gic.rd(0).write64(kGicrVlpiFrame + GICR_VPENDBASER, 0);
    for (int i = 0; i < 2; ++i) {
        uint64_t v = vpendbaser(f.h, 0);
        EXPECT_TRUE(Vpendbaser41::Dirty.get(v)) << "read " << i;
        EXPECT_FALSE(Vpendbaser41::PendingLast.get(v)) << "read " << i;
        EXPECT_FALSE(Vpendbaser41::Valid.get(v));
    }
    EXPECT_EQ(count(f.h, tp::kGicrDescheduleDone), 1u) << f.h.text();
    uint64_t v = vpendbaser(f.h, 0);
    EXPECT_FALSE(Vpendbaser41::Dirty.get(v));
    EXPECT_TRUE(Vpendbaser41::PendingLast.get(v));
    EXPECT_EQ(v41 ? Vpendbaser41::decode(v).pending_last : Vpendbaser40::decode(v).pending_last, true);
}

INSTANTIATE_TEST_SUITE_P(BothVersions, RedistributorDescheduleDirty,
                         ::testing::Values(GicVersion::V4_1, GicVersion::V4_0),
                         [](const ::testing::TestParamInfo<GicVersion>& info) {
                             return info.param == GicVersion::V4_1 ? std::string("V4_1") : std::string("V4_0");
                         });

// IHI 0069 GICR_VPENDBASER (GICv4.1), as Marc Zyngier cites it ("Clear Valid before writing any bits
// else in VPENDBASER", 2020-02-24): on Valid 1 -> 0 a PendingLast written as 1 leaves PendingLast
// UNKNOWN and the Doorbell is treated as 0. No doorbell is armed, however DB was written; the
// model does not determine PendingLast and reads it as 1 (GICR.deschedule determined=false).
TEST_F(RedistributorVpendbaser41, PendingLastWrittenOneTreatsTheDoorbellAsZero) {
    h.schedule(0, 0);
    Vpendbaser41 w;
    w.db = true;
    w.pending_last = true;
    h.gic.rd(0).write64(kGicrVlpiFrame + GICR_VPENDBASER, w.encode());
    EXPECT_EQ(count_events(h.log.events(), tp::kGicrDeschedule), 1u);
    EXPECT_EQ(find_events(h.log.events(), tp::kGicrDeschedule,
                          {EventArg{"determined", ArgValue(false)}, EventArg{"doorbell_armed", ArgValue(false)}})
                  .size(),
              1u)
        << h.text();
    EXPECT_TRUE(vpendbaser41(h, 0).pending_last);
    msi(0);
    EXPECT_TRUE(irqs.empty()) << "a doorbell rang although PendingLast was written 1";
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
}

// reference/arm §1.3 (PendingLast: "1 = the vPE still had pending (enabled) vLPIs when made
// non-resident").
TEST_F(RedistributorVpendbaser41, PendingLastIsSetWhenAnEnabledVlpiIsPendingAtDeschedule) {
    h.schedule(0, 0);
    msi(0);
    h.deschedule(0, false);
    Vpendbaser41 v = vpendbaser41(h, 0);
    EXPECT_FALSE(v.valid);
    EXPECT_TRUE(v.pending_last);
}

// reference/arm §1.3: nothing pending, PendingLast reads 0.
TEST_F(RedistributorVpendbaser41, PendingLastIsClearWhenNothingIsPending) {
    h.schedule(0, 0);
    h.deschedule(0, false);
    EXPECT_FALSE(vpendbaser41(h, 0).pending_last);
}

// reference/arm §1.3 ("pending (enabled) vLPIs"): a pending but disabled vLPI does not count.
TEST_F(RedistributorVpendbaser41, PendingLastIgnoresAPendingButDisabledVlpi) {
    h.vlpi_config(kVlpi, 0x80, false);
    h.schedule(0, 0);
    msi(0);
    h.deschedule(0, false);
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    EXPECT_FALSE(vpendbaser41(h, 0).pending_last);
}

// reference/arm §1.3, §1.7 (4.1 vSGIs are interrupts of the vPE): an enabled pending vSGI sets
// PendingLast; a disabled one does not.
TEST_F(RedistributorVpendbaser41, PendingLastCountsEnabledVsgis) {
    h.cmd(build::vsgi(0, 2, 0x40, true, false, /*enable=*/false));
    h.schedule(0, 0);
    h.gic.its().write64(GITS_SGIR, GitsSgir::vPEID.make(0) | GitsSgir::vINTID.make(2));
    h.deschedule(0, false);
    EXPECT_FALSE(vpendbaser41(h, 0).pending_last) << "a disabled vSGI counted";
    h.cmd(build::vsgi(0, 2, 0x40, true, false, /*enable=*/true));
    h.schedule(0, 0);
    h.deschedule(0, false);
    EXPECT_TRUE(vpendbaser41(h, 0).pending_last);
}

// reference/arm §1.3 (its_vpe_4_1_deschedule: "if we read-back PendingLast clear, then a doorbell
// will be delivered when an interrupt comes"): DB requested with PendingLast clear arms exactly
// one doorbell.
TEST_F(RedistributorVpendbaser41, DoorbellRequestedWithPendingLastClearRingsExactlyOnce) {
    h.schedule(0, 0);
    h.deschedule(0, /*doorbell=*/true);
    Vpendbaser41 v = vpendbaser41(h, 0);
    EXPECT_TRUE(v.db);
    EXPECT_FALSE(v.pending_last);
    msi(0);
    msi(1);
    EXPECT_EQ(irqs, (HostIrqs{{0, kDoorbell}}));
}

// reference/arm §1.3: with PendingLast set the vPE has work already; no doorbell is armed.
TEST_F(RedistributorVpendbaser41, DoorbellRequestedWithPendingLastSetRingsNothing) {
    h.schedule(0, 0);
    msi(0);
    h.deschedule(0, /*doorbell=*/true);
    EXPECT_TRUE(vpendbaser41(h, 0).pending_last);
    msi(1);
    EXPECT_TRUE(irqs.empty());
}

// reference/arm §1.3 ("When not blocking it de-schedules with PendingLast=1 and DB=0 (no
// doorbell)").
TEST_F(RedistributorVpendbaser41, NoDoorbellWithoutDb) {
    h.schedule(0, 0);
    h.deschedule(0, /*doorbell=*/false);
    msi(0);
    EXPECT_TRUE(irqs.empty());
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
}

// reference/arm §1.3 (the doorbell is for "an interrupt", i.e. one the vCPU could take): a disabled
// vLPI does not use up the armed doorbell; the next enabled one rings it.
TEST_F(RedistributorVpendbaser41, ArmedDoorbellIgnoresDisabledVlpis) {
    h.vlpi_config(kVlpi + 1, 0x80, false);
    h.schedule(0, 0);
    h.deschedule(0, /*doorbell=*/true);
    msi(1);
    EXPECT_TRUE(irqs.empty());
    msi(0);
    EXPECT_EQ(irqs, (HostIrqs{{0, kDoorbell}}));
}

// reference/arm §1.3: becoming resident again disarms the doorbell; a later de-schedule without DB
// rings nothing.
TEST_F(RedistributorVpendbaser41, RescheduleDisarmsTheDoorbell) {
    h.schedule(0, 0);
    h.deschedule(0, /*doorbell=*/true);
    h.schedule(0, 0);
    h.deschedule(0, /*doorbell=*/false);
    msi(0);
    EXPECT_TRUE(irqs.empty());
}

// ---- GICR_VPENDBASER, GICv4.0 layout -------------------------------------------------------------

// reference/arm §1.3 ("4.0 schedule writes VPROPBASER then VPENDBASER(PA, ..., Valid)"; 4.0
// VPROPBASER gives the VM's vLPI configuration table): the VPT address names the vPE and
// VPROPBASER's table gives its vLPIs' configuration.
TEST(RedistributorVpendbaser40, ScheduleByVptAddressUsesTheVpropbaserConfigurationTable) {
    Forwarded f(config(GicVersion::V4_0));
    GicHarness& h = f.h;
    h.vlpi_config(kVlpi, 0x80, false);          // disabled in kVconf
    h.vlpi_config(kVlpi, 0x80, true, kVconf2);  // enabled in kVconf2
    f.msi(0);
    schedule40(h, 0, vpt(0), kVconf2);
    EXPECT_EQ(h.gic.rd(0).resident_vpe(), std::optional<uint32_t>{0});
    Vpendbaser40 v = vpendbaser40(h, 0);
    EXPECT_TRUE(v.valid);
    EXPECT_EQ(v.vpt_addr, vpt(0));
    EXPECT_TRUE(v.pending_last);
    EXPECT_EQ(h.gic.rd(0).read64(kGicrVlpiFrame + GICR_VPROPBASER), kVconf2 | Vpropbaser40::IDbits.make(15));
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kVlpi);
    h.deschedule(0, false);
    schedule40(h, 0, vpt(0), kVconf);
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kSpuriousIntid) << "the previous table's configuration was used";
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// IHI 0069 GICR_VPENDBASER (GICv4.0): PendingLast is set by the implementation when Valid is written
// from 1 to 0, so what software writes there is ignored — Linux's its_vpe_deschedule writes back the
// 1 it read while the vPE was resident: nothing pending still reads 0, something pending 1.
TEST(RedistributorVpendbaser40, WrittenPendingLastIsIgnoredAtDeschedule) {
    Forwarded f(config(GicVersion::V4_0));
    schedule40(f.h, 0, vpt(0), kVconf);
    Vpendbaser40 w = vpendbaser40(f.h, 0);
    ASSERT_TRUE(w.pending_last);
    w.valid = false;
    f.h.gic.rd(0).write64(kGicrVlpiFrame + GICR_VPENDBASER, w.encode());
    EXPECT_FALSE(vpendbaser40(f.h, 0).pending_last) << "the written 1 was kept";
    schedule40(f.h, 0, vpt(0), kVconf);
    f.msi(0);
    w.pending_last = false;
    f.h.gic.rd(0).write64(kGicrVlpiFrame + GICR_VPENDBASER, w.encode());
    EXPECT_TRUE(vpendbaser40(f.h, 0).pending_last) << "the written 0 was kept";
    EXPECT_EQ(f.h.count(EventKind::GuestError), 0u) << f.h.text();
}

// reference/arm §1.3, §1.4 (IDAI[62]: whether the IMPLEMENTATION DEFINED area is valid): IDAI reads
// back as written.
TEST(RedistributorVpendbaser40, IdaiReadsBack) {
    Forwarded f(config(GicVersion::V4_0));
    schedule40(f.h, 0, vpt(0), kVconf, /*idai=*/true);
    EXPECT_TRUE(vpendbaser40(f.h, 0).idai);
    f.h.deschedule(0, false);
    schedule40(f.h, 0, vpt(0), kVconf, /*idai=*/false);
    EXPECT_FALSE(vpendbaser40(f.h, 0).idai);
}

// reference/arm §1.3 (4.0 residency names a VPT, not a vPEID): a VPT no ITS maps is made resident
// transiently; its bits are delivered, and the cache is written back when it is de-scheduled.
TEST(RedistributorVpendbaser40, VptNobodyMapsIsResidentTransientlyAndWrittenBackOnDeschedule) {
    GicHarness h(config(GicVersion::V4_0));
    set_vpt_bit(h, 5, 8200);
    set_vpt_bit(h, 5, 8201);
    h.vlpi_config(8200, 0x80, true);
    h.vlpi_config(8201, 0x90, true);
    h.open_cpu(0);
    schedule40(h, 0, vpt(5), kVconf);
    EXPECT_TRUE(h.gic.rd(0).resident_vpe().has_value());
    EXPECT_EQ(h.gic.cpu(0).read_iar1(), 8200u);
    h.gic.cpu(0).write_eoir1(8200);
    h.deschedule(0, false);
    EXPECT_FALSE(h.vpt_bit(5, 8200)) << "the acknowledged bit was not written back";
    EXPECT_TRUE(h.vpt_bit(5, 8201));
    EXPECT_TRUE(h.gic.rd(0).vpes().empty());
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
}

// IHI 0069 (VPROPBASER written while a vPE is resident is UNPREDICTABLE): the write is ignored.
TEST(RedistributorVpendbaser40, VpropbaserWriteWhileResidentIsIgnored) {
    Forwarded f(config(GicVersion::V4_0));
    schedule40(f.h, 0, vpt(0), kVconf);
    f.h.gic.rd(0).write64(kGicrVlpiFrame + GICR_VPROPBASER, kVconf2 | Vpropbaser40::IDbits.make(15));
    EXPECT_EQ(count(f.h, tp::kGicrWriteVpropbaserError), 1u) << f.h.text();
    EXPECT_EQ(f.h.gic.rd(0).read64(kGicrVlpiFrame + GICR_VPROPBASER), kVconf | Vpropbaser40::IDbits.make(15));
}

// ---- the VPT cache under each arm.vpt_writeback policy -----------------------------------------

struct WritebackCase {
    VptWriteback policy;
    bool current_while_resident;
    bool current_after_deschedule;
};

class RedistributorVptCache : public ::testing::TestWithParam<WritebackCase> {
   protected:
    GicConfig cfg() const {
        GicConfig c = config();
        c.vpt_writeback = GetParam().policy;
        return c;
    }
};

// IHI 0069 via reference/arm §1.5: only VMAPP {V,Alloc}={0,1} guarantees the VPT in memory is
// current; arm.vpt_writeback says whether de-schedule (on_deschedule) or every change (eager)
// writes it back too.
TEST_P(RedistributorVptCache, PendingBitReachesMemoryWhenThePolicySays) {
    Forwarded f(cfg());
    f.h.schedule(0, 0);
    f.msi(0);
    EXPECT_EQ(f.h.vpt_bit(0, kVlpi), GetParam().current_while_resident);
    f.h.deschedule(0, false);
    EXPECT_EQ(f.h.vpt_bit(0, kVlpi), GetParam().current_after_deschedule);
    unmap_vpe(f.h, 0, /*alloc=*/true);
    EXPECT_TRUE(f.h.vpt_bit(0, kVlpi));
}

// IHI 0069 via reference/arm §1.5: the acknowledge clears the cached bit, and that clear reaches
// memory at the same points as a set.
TEST_P(RedistributorVptCache, AcknowledgedBitsClearIsWrittenBackToo) {
    Forwarded f(cfg(), /*ptz=*/false);
    set_vpt_bit(f.h, 0, kVlpi);
    f.h.schedule(0, 0);
    EXPECT_EQ(f.h.gic.cpu(0).read_iar1(), kVlpi);
    f.h.gic.cpu(0).write_eoir1(kVlpi);
    EXPECT_EQ(f.h.vpt_bit(0, kVlpi), !GetParam().current_while_resident);
    f.h.deschedule(0, false);
    EXPECT_EQ(f.h.vpt_bit(0, kVlpi), !GetParam().current_after_deschedule);
    unmap_vpe(f.h, 0, /*alloc=*/true);
    EXPECT_FALSE(f.h.vpt_bit(0, kVlpi));
}

INSTANTIATE_TEST_SUITE_P(AllPolicies, RedistributorVptCache,
                         ::testing::Values(WritebackCase{VptWriteback::OnUnmap, false, false},
                                           WritebackCase{VptWriteback::OnDeschedule, false, true},
                                           WritebackCase{VptWriteback::Eager, true, true}),
                         [](const ::testing::TestParamInfo<WritebackCase>& i) {
                             switch (i.param.policy) {
                                 case VptWriteback::OnUnmap: return std::string("OnUnmap");
                                 case VptWriteback::OnDeschedule: return std::string("OnDeschedule");
                                 case VptWriteback::Eager: return std::string("Eager");
                             }
                             return std::string("Unknown");
                         });

// ---- snapshots --------------------------------------------------------------------------------

// gic.h ("a copy is a snapshot"; STYLE.md "state snapshots are plain copies"): restoring a copy of
// the Gic and of host memory gives the old state back, cache and memory alike.
TEST(GicSnapshot, RestoringACopyOfGicAndMemoryGivesTheOldStateBack) {
    Forwarded f;
    GicHarness& h = f.h;
    f.msi(0);
    Gic saved_gic = h.gic;
    AddressSpace saved_mem = h.mem.host;
    unmap_vpe(h, 0, /*alloc=*/true);
    h.map_device(2);
    ASSERT_EQ(h.gic.rd_of_vpe(0), nullptr);
    ASSERT_TRUE(h.vpt_bit(0, kVlpi));

    h.gic = saved_gic;
    h.mem.host = saved_mem;
    EXPECT_EQ(h.gic.rd_of_vpe(0), &h.gic.rd(0));
    EXPECT_TRUE(h.gic.its().maps_vpe(0));
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    EXPECT_FALSE(h.vpt_bit(0, kVlpi)) << "memory was not restored: the bit written back by the unmap is still there";
    EXPECT_TRUE(read_vpte(h.mem.host, kVpeTable).value.valid);
    h.schedule(0, 0);
    EXPECT_EQ(h.gic.cpu(0).read_iar1(), kVlpi);
    h.cmd(build::vsync(0));  // the restored ITS still runs its restored queue
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// gic.h: a copy is independent: what happens to the original does not reach the copy, and the
// copy's parts act on the copy.
TEST(GicSnapshot, ACopyIsIndependentOfTheOriginal) {
    Forwarded f;
    GicHarness& h = f.h;
    f.msi(0);
    Gic copy = h.gic;
    h.cmd(build::clear(1, 0));
    EXPECT_FALSE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    EXPECT_TRUE(copy.rd(0).vlpi_pending(0, kVlpi));

    Vpendbaser41 v;
    v.valid = true;
    v.vgrp1en = true;
    copy.rd(0).write64(kGicrVlpiFrame + GICR_VPENDBASER, v.encode());
    EXPECT_EQ(copy.rd(0).resident_vpe(), std::optional<uint32_t>{0});
    EXPECT_FALSE(h.gic.rd(0).resident_vpe().has_value());
    EXPECT_EQ(copy.cpu(0).read_iar1(), kVlpi);
    EXPECT_EQ(h.gic.cpu(0).read_rpr(), 0xFF);
    EXPECT_EQ(copy.cpu(0).read_rpr(), 0x80);

    AddressSpace mem_copy = h.mem.host;
    h.mem.host.write8(vpt(0) + 1100, 0xFF);
    EXPECT_EQ(mem_copy.read8(vpt(0) + 1100).value, 0);
}

// ---- software writes into a VPT ---------------------------------------------------------------

// reference/arm §1.5 ("Software must not write VPT bits while mapped; pending state is injected only
// via the ITS"): a write overlapping a mapped vPE's VPT is a violation.
TEST(GicSoftwareWrite, WriteIntoAMappedVptIsAViolation) {
    Forwarded f;
    f.h.gic.check_software_write(vpt(0) + 1024, 8);
    EXPECT_EQ(count(f.h, tp::kVptSoftwareWriteViolation), 1u) << f.h.text();
    f.h.gic.check_software_write(vpt(0) + 8191, 1);  // the VPT's last byte (16 ID bits: 8 KiB)
    EXPECT_EQ(count(f.h, tp::kVptSoftwareWriteViolation), 2u) << f.h.text();
}

// reference/arm §1.5 (the VPT is readable, and writable, once the vPE is unmapped from every ITS):
// no violation before mapping, outside the VPT, or after the last unmap.
TEST(GicSoftwareWrite, WriteIntoAnUnmappedVptOrBesideAMappedOneIsNot) {
    GicHarness h;
    h.gic.check_software_write(vpt(0), 8192);
    h.map_vpe(0, 0);
    h.gic.check_software_write(vpt(0) + 8192, 8);
    h.gic.check_software_write(vpt(0) - 8, 8);
    unmap_vpe(h, 0, /*alloc=*/true);
    h.gic.check_software_write(vpt(0), 8192);
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
}

// reference/arm §1.5: a GICv4.0 VPT made resident without any VMAPP is in use too.
TEST(GicSoftwareWrite, WriteIntoATransientlyResidentVptIsAViolation) {
    GicHarness h(config(GicVersion::V4_0));
    schedule40(h, 0, vpt(5), kVconf);
    h.gic.check_software_write(vpt(5) + 1100, 1);
    EXPECT_EQ(count(h, tp::kVptSoftwareWriteViolation), 1u) << h.text();
}

// ---- where a vLPI is pending ------------------------------------------------------------------

// gic.h where_vlpi (reference/arm §1.5: memory is authoritative until the VPT is parsed): a bit in
// a mapped vPE's unparsed VPT is in `arm.vpt`, live; once parsed it is in `arm.rd_cache`, live;
// once acknowledged it is nowhere.
TEST(GicWhereVlpi, UnparsedVptThenRedistributorCacheThenNothingAfterDelivery) {
    Forwarded f(config(), /*ptz=*/false);
    set_vpt_bit(f.h, 0, kVlpi);
    EXPECT_EQ(where(f.h, 0, kVlpi), (std::vector<Location>{{&places::kVpt, 0, true}}));
    f.h.schedule(0, 0);
    EXPECT_EQ(where(f.h, 0, kVlpi), (std::vector<Location>{{&places::kRdCache, 0, true}}));
    EXPECT_EQ(f.h.gic.cpu(0).read_iar1(), kVlpi);
    EXPECT_TRUE(where(f.h, 0, kVlpi).empty());
    EXPECT_TRUE(where(f.h, 0, kVlpi + 1).empty());
}

// gic.h where_vlpi, reference/arm §1.5 (4.0 has no way to clean the cache): a GICv4.0 vPE unmapped
// from every ITS keeps its bit in the redistributor's cache, where no path delivers it: not live.
TEST(GicWhereVlpi, CacheOfAVpeNoItsMapsIsNotLive) {
    Forwarded f(config(GicVersion::V4_0));
    f.msi(0);
    unmap_vpe(f.h, 0, /*alloc=*/false);
    EXPECT_EQ(where(f.h, 0, kVlpi), (std::vector<Location>{{&places::kRdCache, 0, false}}));
    EXPECT_FALSE(f.h.vpt_bit(0, kVlpi));
}

}  // namespace
}  // namespace irqdiff::arm::testing
