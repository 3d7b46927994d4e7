// The virtual (GICv4) ITS commands, one rule per test: VMAPP, VMAPTI, VMAPI, VMOVI, VMOVP, VSYNC,
// VINVALL (and INV on a vLPI), and the GICv4.1-only INVDB and VSGI, on GICv4.1 and, where the
// command exists, GICv4.0. Each command goes through the command queue (GicHarness::cmd); its
// effect is read back from host memory (VPTE, ITE, VPT), the redistributors and the CPU interface.
#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/arm_gic/gic_harness.h"

namespace irqdiff::arm::testing {
namespace {

constexpr uint32_t kDoorbell2 = 8301;             // a second physical LPI used as a doorbell
constexpr uint64_t kBigItt = 0x0180'0000;         // ITT of a device with 2^14 events (256 KiB)
constexpr uint64_t kVconf2 = kVconf + 0x1'0000;   // a second vLPI configuration table

GicConfig config(GicVersion version, unsigned its_count = 1, bool vmovp_direct = true) {
    GicConfig c = test_config(version);
    c.its_count = its_count;
    c.vmovp_direct = vmovp_direct;
    return c;
}

Vpte vpte_of(const GicHarness& h, uint32_t vpe) {
    MemRead<Vpte> r = read_vpte(h.mem.host, kVpeTable + uint64_t{vpe} * Vpte::kBytes);
    EXPECT_TRUE(r.ok());
    return r.value;
}

Ite ite_at(const GicHarness& h, uint64_t itt_base, uint32_t event) {
    MemRead<Ite> r = read_ite(h.mem.host, itt_base + uint64_t{event} * Ite::kBytes);
    EXPECT_TRUE(r.ok());
    return r.value;
}
Ite ite_of(const GicHarness& h, uint32_t device, uint32_t event) { return ite_at(h, itt(device), event); }

size_t count(const GicHarness& h, const Points& points) { return count_events(h.log.events(), points); }

void set_vpt_bit(GicHarness& h, uint32_t vpe, uint32_t vintid) {
    uint64_t addr = vpt(vpe) + vintid / 8;
    h.mem.host.write8(addr, static_cast<uint8_t>(h.mem.host.read8(addr).value | (1u << (vintid % 8))));
}

build::Vmapp vmapp_of(uint32_t vpe, uint16_t rd, bool alloc, bool ptz = true, uint32_t doorbell = kDoorbell) {
    build::Vmapp m;
    m.vpeid = vpe;
    m.rdbase = rd;
    m.vpt_addr = vpt(vpe);
    m.vpt_size = 15;
    m.alloc = alloc;
    m.ptz = ptz;
    m.vconf_addr = kVconf;
    m.default_doorbell = doorbell;
    return m;
}

/// VMAPP V=0 of `vpe` on ITS `its`.
void unmap_vpe(GicHarness& h, uint32_t vpe, bool alloc, unsigned its = 0) {
    build::Vmapp m;
    m.vpeid = vpe;
    m.valid = false;
    m.alloc = alloc;
    h.cmd(build::vmapp(m), its);
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

uint64_t vsgipendr(GicHarness& h, unsigned rd, uint32_t vpe) {
    h.gic.rd(rd).write(kGicrVlpiFrame + GICR_VSGIR, GicrVsgir::vPEID.make(vpe), 4);
    return GicrVsgipendr::Pending.get(h.gic.rd(rd).read(kGicrVlpiFrame + GICR_VSGIPENDR, 4));
}

void sgir(GicHarness& h, uint32_t vpe, unsigned sgi, unsigned its = 0) {
    h.gic.its(its).write64(GITS_SGIR, GitsSgir::vPEID.make(vpe) | GitsSgir::vINTID.make(sgi));
}

std::string version_name(const ::testing::TestParamInfo<GicVersion>& info) {
    return info.param == GicVersion::V4_1 ? "V41" : "V40";
}

/// A fixture for rules that hold on GICv4.0 and GICv4.1 alike.
class EitherVersion : public ::testing::TestWithParam<GicVersion> {
   protected:
    bool v41() const { return GetParam() == GicVersion::V4_1; }
};

// ---- VMAPP ------------------------------------------------------------------------------------

class ItsVmapp : public EitherVersion {
   protected:
    GicHarness h{config(GetParam())};
};

// reference/arm §1.2: VMAPP V=1 maps vPEID to RDbase with its VPT (VPT_addr, VPT_size); 4.1 adds
// VCONF_addr and Default_Doorbell. The VPTE layout is the model's (tables.h).
TEST_P(ItsVmapp, V1WritesTheVpteAndMapsTheVpeOnItsRedistributor) {
    h.map_vpe(3, 1);
    Vpte e = vpte_of(h, 3);
    EXPECT_TRUE(e.valid);
    EXPECT_EQ(e.vpt_size, 15);
    EXPECT_EQ(e.vpt_addr, vpt(3));
    EXPECT_EQ(e.rdbase, 1);
    EXPECT_EQ(e.vconf_addr, v41() ? kVconf : 0u);
    EXPECT_EQ(e.default_doorbell, v41() ? kDoorbell : kNoDoorbell);
    EXPECT_TRUE(h.gic.its().maps_vpe(3));
    EXPECT_EQ(h.gic.rd_of_vpe(3), &h.gic.rd(1));
    ASSERT_NE(h.gic.rd(1).vpe(3), nullptr);
    EXPECT_EQ(h.gic.rd(1).vpe(3)->maps, 1u);
    EXPECT_EQ(h.gic.rd(1).vpe(3)->props.vpt_addr, vpt(3));
    EXPECT_EQ(h.gic.rd(1).vpe(3)->props.id_bits, 16u);
    EXPECT_FALSE(h.gic.rd(0).has_vpe(3));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// IHI 0069 VMAPP (UNPREDICTABLE, reported as a command error): a vPE is mapped once per ITS.
TEST_P(ItsVmapp, V1OfAVpeThisItsAlreadyMapsIsACommandError) {
    h.map_vpe(0, 0);
    h.map_vpe(0, 1);
    EXPECT_EQ(count(h, tp::kItsVmappError), 1u) << h.text();
    EXPECT_EQ(vpte_of(h, 0).rdbase, 0);
    EXPECT_EQ(h.gic.rd(0).vpe(0)->maps, 1u);
    EXPECT_FALSE(h.gic.rd(1).has_vpe(0));
}

// reference/arm §1.4: a VPT covers the LPI range, so it needs at least 14 vINTID bits.
TEST_P(ItsVmapp, VptSizeBelowFourteenBitsIsACommandError) {
    build::Vmapp m = vmapp_of(0, 0, true);
    m.vpt_size = 12;  // 13 bits
    h.cmd(build::vmapp(m));
    EXPECT_EQ(count(h, tp::kItsVmappError), 1u) << h.text();
    EXPECT_FALSE(h.gic.its().maps_vpe(0));
    EXPECT_EQ(h.gic.rd_of_vpe(0), nullptr);
    EXPECT_FALSE(vpte_of(h, 0).valid);
}

// reference/arm §1.4: 14 vINTID bits (vINTIDs 8192..16383) is the smallest VPT that covers LPIs.
TEST_P(ItsVmapp, VptSizeOfFourteenBitsIsAccepted) {
    build::Vmapp m = vmapp_of(0, 0, true);
    m.vpt_size = 13;
    h.cmd(build::vmapp(m));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(vpte_of(h, 0).vpt_size, 13);
    ASSERT_NE(h.gic.rd(0).vpe(0), nullptr);
    EXPECT_EQ(h.gic.rd(0).vpe(0)->limit(), 16384u);
}

// IHI 0069 VMAPP: VPT_size beyond the implemented vINTID width (GicConfig::lpi_id_bits = 16).
TEST_P(ItsVmapp, VptSizeBeyondTheImplementedIdBitsIsACommandError) {
    build::Vmapp m = vmapp_of(0, 0, true);
    m.vpt_size = 16;  // 17 bits
    h.cmd(build::vmapp(m));
    EXPECT_EQ(count(h, tp::kItsVmappError), 1u) << h.text();
    EXPECT_FALSE(h.gic.its().maps_vpe(0));
    EXPECT_FALSE(vpte_of(h, 0).valid);
}

// IHI 0069 VMAPP: RDbase must name a redistributor.
TEST_P(ItsVmapp, RdbaseOfNoRedistributorIsACommandError) {
    h.map_vpe(0, 2);  // two redistributors: 0 and 1
    EXPECT_EQ(count(h, tp::kItsVmappError), 1u) << h.text();
    EXPECT_FALSE(h.gic.its().maps_vpe(0));
}

// reference/arm §1.5 (vPE unmapping happens with every vCPU stopped, §3.4): VMAPP V=0 of a resident
// vPE is UNPREDICTABLE; the model refuses it and nothing changes.
TEST_P(ItsVmapp, V0OfAResidentVpeIsRefused) {
    h.map_vpe(0, 0);
    h.schedule(0, 0);
    unmap_vpe(h, 0, /*alloc=*/true);
    EXPECT_EQ(count(h, tp::kItsVmappError), 1u) << h.text();
    EXPECT_TRUE(h.gic.its().maps_vpe(0));
    EXPECT_EQ(h.gic.rd(0).resident_vpe(), std::optional<uint32_t>{0});
    EXPECT_TRUE(vpte_of(h, 0).valid);
    EXPECT_EQ(h.gic.rd(0).vpe(0)->maps, 1u);
}

// IHI 0069 VMAPP: V=0 of a vPE this ITS does not map is a command error.
TEST_P(ItsVmapp, V0OfAVpeThisItsDoesNotMapIsACommandError) {
    unmap_vpe(h, 4, /*alloc=*/true);
    EXPECT_EQ(count(h, tp::kItsVmappError), 1u) << h.text();
}

// reference/arm §1.1, §2 (its_vpe_irq_domain_deactivate: VMAPP V=0 on every ITS): a vPE stays on
// its redistributor, and keeps delivering, while another ITS still maps it.
TEST_P(ItsVmapp, VpeStaysOnItsRedistributorWhileAnotherItsStillMapsIt) {
    GicHarness g(config(GetParam(), /*its_count=*/2));
    g.map_vpe(0, 0);                                 // ITS 0, Alloc=1: the first map
    g.cmd(build::vmapp(vmapp_of(0, 0, false)), 1);  // ITS 1, Alloc=0
    g.map_device(1, 1);
    g.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell), 1);
    unmap_vpe(g, 0, /*alloc=*/false, 0);  // not the last unmap
    EXPECT_EQ(g.count(EventKind::GuestError), 0u) << g.text();
    EXPECT_FALSE(g.gic.its(0).maps_vpe(0));
    EXPECT_TRUE(g.gic.its(1).maps_vpe(0));
    ASSERT_EQ(g.gic.rd_of_vpe(0), &g.gic.rd(0));
    EXPECT_EQ(g.gic.rd(0).vpe(0)->maps, 1u);
    EXPECT_TRUE(vpte_of(g, 0).valid);
    g.msi(1, 0, 1);
    EXPECT_TRUE(g.gic.rd(0).vlpi_pending(0, kVlpi));
}

// IHI 0069 VMAPP: every ITS maps a vPE to the same redistributor.
TEST_P(ItsVmapp, SecondItsMappingTheVpeToAnotherRedistributorIsACommandError) {
    GicHarness g(config(GetParam(), /*its_count=*/2));
    g.map_vpe(0, 0);
    g.cmd(build::vmapp(vmapp_of(0, 1, false)), 1);
    EXPECT_EQ(count(g, tp::kItsVmappError), 1u) << g.text();
    EXPECT_FALSE(g.gic.its(1).maps_vpe(0));
    EXPECT_FALSE(g.gic.rd(1).has_vpe(0));
    EXPECT_EQ(vpte_of(g, 0).rdbase, 0);
}

// reference/arm §1.7 (its_map_vm / its_unmap_vm: on 4.0 vPEs are VMAPP'd on demand) and §1.2
// (VMAPP maps vPEID to RDbase): a vPE unmapped and mapped again to another redistributor lives
// there, and its vLPIs go there.
TEST_P(ItsVmapp, RemapAfterUnmapTargetsTheNewRedistributor) {
    h.map_device(1);
    h.map_vpe(0, 0);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
    unmap_vpe(h, 0, /*alloc=*/true);
    h.map_vpe(0, 1);
    EXPECT_EQ(h.gic.rd_of_vpe(0), &h.gic.rd(1))
        << "the vPE's state stayed on redistributor 0 after VMAPP V=0, and VMAPP V=1 to redistributor 1 did not "
           "take it over";
    h.msi(1, 0);
    EXPECT_TRUE(h.gic.rd(1).vlpi_pending(0, kVlpi)) << h.text();
}

INSTANTIATE_TEST_SUITE_P(BothVersions, ItsVmapp, ::testing::Values(GicVersion::V4_0, GicVersion::V4_1),
                         version_name);

// IHI 0069 via reference/arm §1.2: Alloc=1 with PTZ=1 says the VPT is zero, so it is never read:
// bits already set in VPT memory are not pending.
TEST(ItsVmappV41, AllocWithPtzDoesNotReadTheVpt) {
    GicHarness h;
    set_vpt_bit(h, 0, kVlpi);
    h.vlpi_config(kVlpi, 0x80, true);
    h.map_vpe(0, 0, /*ptz=*/true);
    EXPECT_FALSE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    EXPECT_TRUE(where(h, 0, kVlpi).empty());
    h.schedule(0, 0);
    h.open_cpu(0);
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kSpuriousIntid);
    EXPECT_EQ(h.count({tp::kGicrParseVptError, tp::kGicrParseVpt}), 0u);
}

// reference/arm §1.5 (c21bc068cdbe: Linux maps with PTZ=0 because the VPT may hold bits): with
// Alloc=1 and PTZ=0 the VPT is parsed on first use, and bits already set become pending.
TEST(ItsVmappV41, AllocWithoutPtzParsesTheVptOnFirstUse) {
    GicHarness h;
    set_vpt_bit(h, 0, kVlpi);
    h.vlpi_config(kVlpi, 0x80, true);
    h.map_vpe(0, 0, /*ptz=*/false);
    EXPECT_EQ(h.count({tp::kGicrParseVptError, tp::kGicrParseVpt}), 0u) << "parsed at map time, not at first use";
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    h.schedule(0, 0);
    EXPECT_EQ(h.count({tp::kGicrParseVptError, tp::kGicrParseVpt}), 1u);
    h.open_cpu(0);
    EXPECT_EQ(h.gic.cpu(0).read_iar1(), kVlpi);
}

// IHI 0069 via reference/arm §1.5: VMAPP {V,Alloc}={0,1} cleans and invalidates cached VPT state;
// the vPE leaves the redistributor and its vPE table entry becomes invalid.
TEST(ItsVmappV41, V0WithAllocCleansTheVptAndForgetsTheVpe) {
    GicHarness h;
    h.map_device(1);
    h.map_vpe(0, 0);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
    h.msi(1, 0);
    EXPECT_FALSE(h.vpt_bit(0, kVlpi)) << "the bit is cached, not yet in memory";
    unmap_vpe(h, 0, /*alloc=*/true);
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_TRUE(h.vpt_bit(0, kVlpi));
    EXPECT_FALSE(h.gic.rd(0).has_vpe(0));
    EXPECT_FALSE(vpte_of(h, 0).valid);
    EXPECT_FALSE(h.gic.its().maps_vpe(0));
}

// reference/arm §1.2 ("Alloc = first map / last unmap") and §1.5: a last unmap with Alloc=0 is a
// guest error and leaves the cache uncleaned: VPT memory stays stale.
TEST(ItsVmappV41, LastUnmapWithoutAllocIsAGuestErrorAndDoesNotClean) {
    GicHarness h;
    h.map_device(1);
    h.map_vpe(0, 0);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
    h.msi(1, 0);
    unmap_vpe(h, 0, /*alloc=*/false);
    EXPECT_EQ(count(h, tp::kGicrUnmapVpeError), 1u) << h.text();
    EXPECT_FALSE(h.vpt_bit(0, kVlpi));
    EXPECT_EQ(h.count(tp::kGicrVptClean), 0u);
    EXPECT_FALSE(h.gic.its().maps_vpe(0));
}

// reference/arm §1.2 ("Alloc = first map / last unmap"): with two ITSs the last VMAPP V=0, Alloc=1
// is the one that cleans.
TEST(ItsVmappV41, LastUnmapAcrossTwoItssCleansTheVpt) {
    GicHarness h(config(GicVersion::V4_1, /*its_count=*/2));
    h.map_vpe(0, 0);
    h.cmd(build::vmapp(vmapp_of(0, 0, false)), 1);
    h.map_device(1, 1);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell), 1);
    h.msi(1, 0, 1);
    unmap_vpe(h, 0, /*alloc=*/false, 0);
    EXPECT_FALSE(h.vpt_bit(0, kVlpi));
    EXPECT_TRUE(vpte_of(h, 0).valid);
    unmap_vpe(h, 0, /*alloc=*/true, 1);
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_TRUE(h.vpt_bit(0, kVlpi));
    EXPECT_FALSE(vpte_of(h, 0).valid);
    EXPECT_EQ(h.gic.rd_of_vpe(0), nullptr);
}

// reference/arm §1.2 ("Alloc = first map"): a first VMAPP with Alloc=0, or a second one with
// Alloc=1, contradicts the mapping count and is a guest error.
TEST(ItsVmappV41, AllocThatContradictsTheMappingCountIsAGuestError) {
    GicHarness h(config(GicVersion::V4_1, /*its_count=*/2));
    h.cmd(build::vmapp(vmapp_of(0, 0, /*alloc=*/false)), 0);
    EXPECT_EQ(count(h, tp::kGicrMapVpeError), 1u) << h.text();
    h.cmd(build::vmapp(vmapp_of(0, 0, /*alloc=*/true)), 1);
    EXPECT_EQ(count(h, tp::kGicrMapVpeError), 2u) << h.text();
    EXPECT_EQ(h.gic.rd(0).vpe(0)->maps, 2u);
}

// reference/arm §3.4 (save_pending_tables: unmap all vPEs, read the VPT, map again with PTZ=0): bits
// written back by the clean come back as pending after the re-map, on the new redistributor too.
TEST(ItsVmappV41, RemapWithoutPtzAfterACleanRestoresThePendingBits) {
    GicHarness h;
    h.map_device(1);
    h.vlpi_config(kVlpi, 0x80, true);
    h.map_vpe(0, 0);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
    h.msi(1, 0);
    unmap_vpe(h, 0, /*alloc=*/true);
    h.map_vpe(0, 1, /*ptz=*/false);
    EXPECT_TRUE(h.gic.rd(1).vlpi_pending(0, kVlpi));
    h.schedule(1, 0);
    h.open_cpu(1);
    EXPECT_EQ(h.gic.cpu(1).read_iar1(), kVlpi);
}

// reference/arm §1.2, §1.7: GICv4.0's VMAPP has no Alloc, PTZ, VCONF_addr or Default_Doorbell;
// those bits are ignored, with an Ignored event.
TEST(ItsVmappV40, IgnoresAllocPtzVconfAndDefaultDoorbell) {
    GicHarness h(config(GicVersion::V4_0));
    h.map_vpe(0, 0, /*ptz=*/true, kDoorbell);
    EXPECT_EQ(count(h, tp::kItsVmappV40Ignored), 1u) << h.text();
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    Vpte e = vpte_of(h, 0);
    EXPECT_TRUE(e.valid);
    EXPECT_EQ(e.vconf_addr, 0u);
    EXPECT_EQ(e.default_doorbell, kNoDoorbell);
    EXPECT_EQ(h.gic.rd(0).vpe(0)->props.default_doorbell, kNoDoorbell);
}

// reference/arm §1.2: with none of the 4.1 fields set, a GICv4.0 VMAPP logs nothing ignored.
TEST(ItsVmappV40, PlainVmappLogsNothingIgnored) {
    GicHarness h(config(GicVersion::V4_0));
    build::Vmapp m;
    m.vpeid = 0;
    m.rdbase = 0;
    m.vpt_addr = vpt(0);
    m.alloc = false;
    m.default_doorbell = 0;
    h.cmd(build::vmapp(m));
    EXPECT_EQ(h.count(EventKind::Ignored), 0u) << h.text();
    EXPECT_TRUE(h.gic.its().maps_vpe(0));
}

// reference/arm §1.2 ("bits[7:6] RES0 in 4.0"): VPT_size[7:6] are ignored on GICv4.0.
TEST(ItsVmappV40, VptSizeBits7To6AreIgnored) {
    GicHarness h(config(GicVersion::V4_0));
    build::Vmapp m = vmapp_of(0, 0, false);
    m.default_doorbell = 0;
    m.vconf_addr = 0;
    m.vpt_size = 0x40 | 15;
    h.cmd(build::vmapp(m));
    EXPECT_EQ(count(h, tp::kItsVmappV40Ignored), 1u) << h.text();
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(vpte_of(h, 0).vpt_size, 15);
}

// reference/arm §1.2, §1.7: GICv4.0 has no PTZ, so bits already in the VPT become pending.
TEST(ItsVmappV40, PtzIsIgnoredSoVptBitsBecomePending) {
    GicHarness h(config(GicVersion::V4_0));
    set_vpt_bit(h, 0, kVlpi);
    h.vlpi_config(kVlpi, 0x80, true);
    h.map_vpe(0, 0, /*ptz=*/true);
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    h.schedule(0, 0);
    h.open_cpu(0);
    EXPECT_EQ(h.gic.cpu(0).read_iar1(), kVlpi);
}

// ---- VMAPTI / VMAPI ---------------------------------------------------------------------------

class ItsVmapti : public EitherVersion {
   protected:
    void SetUp() override {
        h.map_device(1);
        h.map_vpe(0, 0);
    }
    GicHarness h{config(GetParam())};
};

// reference/arm §1.2: VMAPTI maps DeviceID/EventID to vINTID of vPEID.
TEST_P(ItsVmapti, WritesAVirtualIte) {
    h.cmd(build::vmapti(1, 5, 0, 8200, kNoDoorbell));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    Ite e = ite_of(h, 1, 5);
    EXPECT_TRUE(e.valid);
    EXPECT_TRUE(e.is_virtual);
    EXPECT_EQ(e.id, 0);
    EXPECT_EQ(e.intid, 8200u);
    EXPECT_EQ(e.doorbell, kNoDoorbell);
    h.msi(1, 5);
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, 8200));
}

// reference/arm §1.4: vINTIDs below 8192 are not LPIs.
TEST_P(ItsVmapti, VintidBelowTheLpiRangeIsACommandError) {
    h.cmd(build::vmapti(1, 0, 0, kVlpi - 1, kNoDoorbell));
    EXPECT_EQ(count(h, tp::kItsVmaptiError), 1u) << h.text();
    EXPECT_FALSE(ite_of(h, 1, 0).valid);
}

// IHI 0069 VMAPTI: the vINTID must lie within the vPE's VPT (VMAPP VPT_size).
TEST_P(ItsVmapti, VintidBeyondTheVptIsACommandError) {
    build::Vmapp m = vmapp_of(1, 0, true);
    m.vpt_size = 13;  // vINTIDs below 16384
    h.cmd(build::vmapp(m));
    h.cmd(build::vmapti(1, 0, 1, 16384, kNoDoorbell));
    EXPECT_EQ(count(h, tp::kItsVmaptiError), 1u) << h.text();
    EXPECT_FALSE(ite_of(h, 1, 0).valid);
    h.cmd(build::vmapti(1, 1, 1, 16383, kNoDoorbell));
    EXPECT_EQ(count(h, tp::kItsVmaptiError), 1u) << h.text();
    EXPECT_TRUE(ite_of(h, 1, 1).valid);
}

// reference/arm §2 (its_vlpi_map: "ensure VM mapped on this ITS" before VMAPTI): the vPE must be
// mapped on the ITS that executes the VMAPTI.
TEST_P(ItsVmapti, VpeNotMappedOnThisItsIsACommandError) {
    GicHarness g(config(GetParam(), /*its_count=*/2));
    g.map_vpe(0, 0, true, kDoorbell, /*its=*/1);
    g.map_device(1, 0);
    g.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell), 0);
    EXPECT_EQ(count(g, tp::kItsVmaptiError), 1u) << g.text();
    MemRead<Ite> e = read_ite(g.mem.host, itt(1));
    EXPECT_FALSE(e.value.valid);
}

// reference/arm §1.2 ("Mapping an existing DevID/EventID pair is UNPREDICTABLE ... Linux avoids it
// by using VMOVI"): a second VMAPTI of a mapped EventID is refused and the ITE is kept.
TEST_P(ItsVmapti, AlreadyMappedEventIdIsACommandError) {
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
    h.cmd(build::vmapti(1, 0, 0, kVlpi + 1, kNoDoorbell));
    EXPECT_EQ(count(h, tp::kItsVmaptiError), 1u) << h.text();
    EXPECT_EQ(ite_of(h, 1, 0).intid, kVlpi);
}

// reference/arm §1.2: a physical ITE is a mapped EventID too.
TEST_P(ItsVmapti, EventIdMappedToAPhysicalLpiIsACommandError) {
    h.cmd(build::mapc(0, 0, true));
    h.cmd(build::mapti(1, 0, 8400, 0));
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
    EXPECT_EQ(count(h, tp::kItsVmaptiError), 1u) << h.text();
    EXPECT_FALSE(ite_of(h, 1, 0).is_virtual);
}

// reference/arm §1.2: VMAPI is VMAPTI with vINTID = EventID.
TEST_P(ItsVmapti, VmapiUsesTheEventIdAsTheVintid) {
    h.cmd(build::mapd(2, 13, kBigItt, true));  // 2^14 events
    h.cmd(build::vmapi(2, 8200, 0, kNoDoorbell));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    Ite e = ite_at(h, kBigItt, 8200);
    EXPECT_TRUE(e.valid);
    EXPECT_TRUE(e.is_virtual);
    EXPECT_EQ(e.intid, 8200u);
}

// reference/arm §1.2, §1.4: VMAPI of an EventID below 8192 would map a vINTID that is not an LPI.
TEST_P(ItsVmapti, VmapiOfAnEventIdBelowTheLpiRangeIsACommandError) {
    h.cmd(build::vmapi(1, 5, 0, kNoDoorbell));
    EXPECT_EQ(count(h, tp::kItsVmapiError), 1u) << h.text();
    EXPECT_FALSE(ite_of(h, 1, 5).valid);
}

INSTANTIATE_TEST_SUITE_P(BothVersions, ItsVmapti, ::testing::Values(GicVersion::V4_0, GicVersion::V4_1),
                         version_name);

// reference/arm §1.6: GICv4.0's doorbell is per vLPI, stored in the ITE by VMAPTI, and fires when
// the vLPI becomes pending while its vPE is not resident.
TEST(ItsVmaptiV40, PerVlpiDoorbellIsStoredInTheIteAndRungWhenTheVpeIsNotResident) {
    GicHarness h(config(GicVersion::V4_0));
    HostIrqs irqs;
    record_host_irqs(h, irqs);
    h.enable_lpis(0);
    h.lpi_config(kDoorbell, 0xA0, true);
    h.map_device(1);
    h.map_vpe(0, 0);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kDoorbell));
    EXPECT_EQ(ite_of(h, 1, 0).doorbell, kDoorbell);
    h.msi(1, 0);
    EXPECT_EQ(irqs, (HostIrqs{{0, kDoorbell}}));
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kDoorbell));
}

// reference/arm §1.6: a vLPI for a resident vPE is delivered directly; no doorbell.
TEST(ItsVmaptiV40, PerVlpiDoorbellIsNotRungWhileTheVpeIsResident) {
    GicHarness h(config(GicVersion::V4_0));
    HostIrqs irqs;
    record_host_irqs(h, irqs);
    h.enable_lpis(0);
    h.lpi_config(kDoorbell, 0xA0, true);
    h.map_device(1);
    h.map_vpe(0, 0);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kDoorbell));
    h.schedule(0, 0);
    h.msi(1, 0);
    EXPECT_TRUE(irqs.empty());
    EXPECT_FALSE(h.gic.rd(0).lpi_pending(kDoorbell));
}

// reference/arm §1.2 (Linux writes the vPE's doorbell LPI or 1023): anything else is a command error.
TEST(ItsVmaptiV40, DoorbellThatIsNeitherAnLpiNor1023IsACommandError) {
    GicHarness h(config(GicVersion::V4_0));
    h.map_device(1);
    h.map_vpe(0, 0);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, 5000));
    EXPECT_EQ(count(h, tp::kItsVmaptiError), 1u) << h.text();
    EXPECT_FALSE(ite_of(h, 1, 0).valid);
}

// reference/arm §1.2, §1.6 ("on 4.1 Linux always writes 1023 because the per-vPE default doorbell is
// used"): a per-vLPI doorbell other than 1023 is ignored on GICv4.1, with an Ignored event.
TEST(ItsVmaptiV41, PerVlpiDoorbellIsIgnored) {
    GicHarness h;
    HostIrqs irqs;
    record_host_irqs(h, irqs);
    h.enable_lpis(0);
    h.lpi_config(kDoorbell2, 0xA0, true);
    h.map_device(1);
    h.map_vpe(0, 0);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kDoorbell2));
    EXPECT_EQ(count(h, tp::kItsDoorbellFieldIgnored), 1u) << h.text();
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(ite_of(h, 1, 0).doorbell, kNoDoorbell);
    h.msi(1, 0);
    EXPECT_FALSE(h.gic.rd(0).lpi_pending(kDoorbell2));
    EXPECT_TRUE(irqs.empty());
}

// ---- VMOVI ------------------------------------------------------------------------------------

class ItsVmovi : public EitherVersion {
   protected:
    void SetUp() override {
        h.map_device(1);
        h.vlpi_config(kVlpi, 0x80, true);
        h.map_vpe(0, 0);
        h.map_vpe(1, 1);
        h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
        ASSERT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    }
    GicHarness h{config(GetParam())};
};

// reference/arm §1.2: VMOVI moves a vLPI to another vPE; its pending state leaves the source VPT
// and enters the destination's.
TEST_P(ItsVmovi, MovesTheVlpiAndItsPendingStateToTheNewVpe) {
    h.msi(1, 0);
    h.cmd(build::vmovi(1, 0, 1, false, kNoDoorbell));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(ite_of(h, 1, 0).id, 1);
    EXPECT_FALSE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    EXPECT_TRUE(h.gic.rd(1).vlpi_pending(1, kVlpi));
    h.schedule(1, 1);
    h.open_cpu(1);
    EXPECT_EQ(h.gic.cpu(1).read_iar1(), kVlpi);
    h.msi(1, 0);  // later MSIs follow the ITE
    EXPECT_TRUE(h.gic.rd(1).vlpi_pending(1, kVlpi));
    EXPECT_FALSE(h.gic.rd(0).vlpi_pending(0, kVlpi));
}

// reference/arm §1.2: a vLPI that is not pending moves without becoming pending.
TEST_P(ItsVmovi, NotPendingVlpiMovesWithoutBecomingPending) {
    h.cmd(build::vmovi(1, 0, 1, false, kNoDoorbell));
    EXPECT_EQ(ite_of(h, 1, 0).id, 1);
    EXPECT_FALSE(h.gic.rd(1).vlpi_pending(1, kVlpi));
}

// IHI 0069 VMOVI (UNPREDICTABLE on a physical ITE; MOVI moves LPIs): a command error, ITE kept.
TEST_P(ItsVmovi, VmoviOfAPhysicalIteIsACommandError) {
    h.cmd(build::mapc(0, 0, true));
    h.cmd(build::mapti(1, 1, 8400, 0));
    h.cmd(build::vmovi(1, 1, 1, false, kNoDoorbell));
    EXPECT_EQ(count(h, tp::kItsVmoviError), 1u) << h.text();
    Ite e = ite_of(h, 1, 1);
    EXPECT_FALSE(e.is_virtual);
    EXPECT_EQ(e.id, 0);
    EXPECT_EQ(e.intid, 8400u);
}

// IHI 0069 VMOVI: the destination vPE must be mapped on this ITS.
TEST_P(ItsVmovi, VmoviToAnUnmappedVpeIsACommandError) {
    h.msi(1, 0);
    h.cmd(build::vmovi(1, 0, 7, false, kNoDoorbell));
    EXPECT_EQ(count(h, tp::kItsVmoviError), 1u) << h.text();
    EXPECT_EQ(ite_of(h, 1, 0).id, 0);
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
}

// IHI 0069 VMOVI: an unmapped EventID has nothing to move.
TEST_P(ItsVmovi, VmoviOfAnUnmappedEventIsACommandError) {
    h.cmd(build::vmovi(1, 9, 1, false, kNoDoorbell));
    EXPECT_EQ(count(h, tp::kItsVmoviError), 1u) << h.text();
    EXPECT_FALSE(ite_of(h, 1, 9).valid);
}

INSTANTIATE_TEST_SUITE_P(BothVersions, ItsVmovi, ::testing::Values(GicVersion::V4_0, GicVersion::V4_1),
                         version_name);

// reference/arm §1.2 (its_vlpi_set_doorbell: VMOVI with D=1 changes a 4.0 per-vLPI doorbell) and
// §1.2 VMOVI ("doorbell rung if the destination vPE is not resident").
TEST(ItsVmoviV40, D1ReplacesTheIteDoorbellAndRingsItAtTheNonResidentDestination) {
    GicHarness h(config(GicVersion::V4_0));
    h.map_device(1);
    h.map_vpe(0, 0);
    h.map_vpe(1, 1);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kDoorbell));
    h.msi(1, 0);
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kDoorbell));
    h.cmd(build::vmovi(1, 0, 1, /*d=*/true, kDoorbell2));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(ite_of(h, 1, 0).doorbell, kDoorbell2);
    EXPECT_TRUE(h.gic.rd(1).vlpi_pending(1, kVlpi));
    EXPECT_TRUE(h.gic.rd(1).lpi_pending(kDoorbell2));
}

// reference/arm §1.2: D=0 says the doorbell field is not valid: the ITE keeps its doorbell.
TEST(ItsVmoviV40, D0KeepsTheIteDoorbell) {
    GicHarness h(config(GicVersion::V4_0));
    h.map_device(1);
    h.map_vpe(0, 0);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kDoorbell));
    h.cmd(build::vmovi(1, 0, 0, /*d=*/false, kDoorbell2));
    EXPECT_EQ(ite_of(h, 1, 0).doorbell, kDoorbell);
}

// reference/arm §1.2 (VMOVI-to-same-vPE changes a 4.0 doorbell): the vLPI stays pending and nothing
// moves.
TEST(ItsVmoviV40, VmoviToTheSameVpeOnlyChangesTheDoorbell) {
    GicHarness h(config(GicVersion::V4_0));
    h.map_device(1);
    h.map_vpe(0, 0);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kDoorbell));
    h.msi(1, 0);
    h.cmd(build::vmovi(1, 0, 0, /*d=*/true, kNoDoorbell));
    EXPECT_EQ(ite_of(h, 1, 0).doorbell, kNoDoorbell);
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
}

// IHI 0069 VMOVI on GICv4.1: doorbells are per vPE, and D and Dbell_pINTID are RES0 (Linux's
// its_vlpi_set_doorbell sends no VMOVI on 4.1; its_build_vmovi_cmd still sets D). The ITS does not
// act on them: no per-vLPI doorbell is checked or kept, one Ignored event says so; on GICv4.0 the
// same D=1 with an invalid doorbell is a command error.
TEST(ItsVmoviV41, DAndDoorbellFieldsAreRes0AndNotActedOn) {
    for (GicVersion version : {GicVersion::V4_1, GicVersion::V4_0}) {
        SCOPED_TRACE(to_string(version));
        const bool v41 = version == GicVersion::V4_1;
        GicHarness h(config(version));
        h.map_device(1);
        h.map_vpe(0, 0);
        h.map_vpe(1, 1);
        h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
        h.cmd(build::vmovi(1, 0, 1, /*d=*/true, kDoorbell2));  // a valid LPI doorbell
        EXPECT_EQ(count(h, tp::kItsVmoviV41Ignored), v41 ? 1u : 0u) << h.text();
        EXPECT_EQ(count(h, tp::kItsDoorbellFieldIgnored), 0u) << h.text();
        EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
        Ite e = ite_of(h, 1, 0);
        EXPECT_EQ(e.id, 1);
        EXPECT_EQ(e.doorbell, v41 ? kNoDoorbell : kDoorbell2);

        // Dbell_pINTID 5 is neither an LPI nor 1023: a command error only where the field exists.
        h.cmd(build::vmovi(1, 0, 0, /*d=*/true, 5));
        EXPECT_EQ(count(h, tp::kItsVmoviError), v41 ? 0u : 1u) << h.text();
        EXPECT_EQ(ite_of(h, 1, 0).id, v41 ? 0 : 1);
    }
}

// ---- VMOVP ------------------------------------------------------------------------------------

class ItsVmovp : public EitherVersion {
   protected:
    void SetUp() override {
        h.map_device(1);
        h.vlpi_config(kVlpi, 0x80, true);
        h.map_vpe(0, 0);
        h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
        ASSERT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    }
    GicHarness h{config(GetParam())};
};

// reference/arm §1.2: VMOVP moves a vPE to another redistributor; GITS_TYPER.VMOVP=1 needs one
// command. The pending state goes with it, and the vPE table entry names the new redistributor.
TEST_P(ItsVmovp, DirectVmovpMovesTheVpeWithItsPendingStateAndUpdatesTheVpte) {
    h.msi(1, 0);
    h.cmd(build::vmovp(0, 1, 0, 0, false, 0));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(h.gic.rd_of_vpe(0), &h.gic.rd(1));
    EXPECT_FALSE(h.gic.rd(0).has_vpe(0));
    EXPECT_EQ(vpte_of(h, 0).rdbase, 1);
    EXPECT_TRUE(h.gic.rd(1).vlpi_pending(0, kVlpi));
    h.schedule(1, 0);
    h.open_cpu(1);
    EXPECT_EQ(h.gic.cpu(1).read_iar1(), kVlpi);
}

// IHI 0069 VMOVP (UNPREDICTABLE for a resident vPE; Linux moves a vPE only while it is not
// resident, reference/arm §3.7): refused, nothing moves.
TEST_P(ItsVmovp, VmovpOfAResidentVpeIsRefused) {
    h.schedule(0, 0);
    h.cmd(build::vmovp(0, 1, 0, 0, false, 0));
    EXPECT_EQ(count(h, tp::kItsVmovpError), 1u) << h.text();
    EXPECT_EQ(h.gic.rd_of_vpe(0), &h.gic.rd(0));
    EXPECT_EQ(vpte_of(h, 0).rdbase, 0);
}

// IHI 0069 VMOVP: RDbase must name a redistributor.
TEST_P(ItsVmovp, VmovpToNoRedistributorIsACommandError) {
    h.cmd(build::vmovp(0, 2, 0, 0, false, 0));
    EXPECT_EQ(count(h, tp::kItsVmovpError), 1u) << h.text();
    EXPECT_EQ(h.gic.rd_of_vpe(0), &h.gic.rd(0));
    EXPECT_EQ(vpte_of(h, 0).rdbase, 0);
}

// IHI 0069 VMOVP: the vPE must be mapped on this ITS.
TEST_P(ItsVmovp, VmovpOfAnUnmappedVpeIsACommandError) {
    h.cmd(build::vmovp(5, 1, 0, 0, false, 0));
    EXPECT_EQ(count(h, tp::kItsVmovpError), 1u) << h.text();
    EXPECT_EQ(h.gic.rd_of_vpe(5), nullptr);
}

// reference/arm §1.2 ("without GITS_TYPER.VMOVP all ITSs in the ITSList must see VMOVPs"): with
// GicConfig::vmovp_direct=false the move completes when every ITS in ITSList has seen the VMOVP
// with the same SEQ_NUM.
TEST_P(ItsVmovp, SequencedVmovpCompletesWhenEveryListedItsHasSeenTheSameSeqNum) {
    GicHarness g(config(GetParam(), /*its_count=*/2, /*vmovp_direct=*/false));
    g.map_vpe(0, 0, true, kDoorbell, 0);
    g.cmd(build::vmapp(vmapp_of(0, 0, false)), 1);
    g.cmd(build::vmovp(0, 1, /*seq=*/7, /*its_list=*/0b11, false, 0), 0);
    EXPECT_EQ(g.gic.rd_of_vpe(0), &g.gic.rd(0)) << "moved before ITS 1 saw the VMOVP";
    g.cmd(build::vmovp(0, 1, /*seq=*/8, /*its_list=*/0b11, false, 0), 1);
    EXPECT_EQ(g.gic.rd_of_vpe(0), &g.gic.rd(0)) << "moved on a VMOVP with another SEQ_NUM";
    g.cmd(build::vmovp(0, 1, /*seq=*/7, /*its_list=*/0b11, false, 0), 1);
    EXPECT_EQ(g.gic.rd_of_vpe(0), &g.gic.rd(1));
    EXPECT_EQ(g.count(EventKind::GuestError), 0u) << g.text();
}

// reference/arm §1.2: without GITS_TYPER.VMOVP the ITS executing the VMOVP must be in ITSList. A
// refused command changes nothing, the vPE table entry included.
TEST_P(ItsVmovp, SequencedVmovpWhoseItsListOmitsThisItsIsRefusedAndChangesNothing) {
    GicHarness g(config(GetParam(), /*its_count=*/2, /*vmovp_direct=*/false));
    g.map_vpe(0, 0, true, kDoorbell, 0);
    g.cmd(build::vmapp(vmapp_of(0, 0, false)), 1);
    g.cmd(build::vmovp(0, 1, /*seq=*/1, /*its_list=*/0b10, false, 0), 0);
    EXPECT_EQ(count(g, tp::kItsVmovpError), 1u) << g.text();
    EXPECT_EQ(g.gic.rd_of_vpe(0), &g.gic.rd(0));
    EXPECT_EQ(vpte_of(g, 0).rdbase, 0) << "the refused VMOVP still rewrote the vPE table entry's RDbase";
}

INSTANTIATE_TEST_SUITE_P(BothVersions, ItsVmovp, ::testing::Values(GicVersion::V4_0, GicVersion::V4_1),
                         version_name);

// reference/arm §1.2, §1.6 (4.1: "one default doorbell per vPE set by VMAPP/VMOVP"): VMOVP with
// DB=1 replaces the default doorbell, in the vPE table and at the new redistributor, which rings it.
TEST(ItsVmovpV41, Db1ReplacesTheDefaultDoorbell) {
    GicHarness h;
    HostIrqs irqs;
    record_host_irqs(h, irqs);
    h.enable_lpis(1);
    h.lpi_config(kDoorbell2, 0xA0, true);
    h.vlpi_config(kVlpi, 0x80, true);
    h.map_device(1);
    h.map_vpe(0, 0, true, kDoorbell);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
    h.cmd(build::vmovp(0, 1, 0, 0, /*db=*/true, kDoorbell2));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(vpte_of(h, 0).default_doorbell, kDoorbell2);
    ASSERT_NE(h.gic.rd(1).vpe(0), nullptr);
    EXPECT_EQ(h.gic.rd(1).vpe(0)->props.default_doorbell, kDoorbell2);
    h.schedule(1, 0);
    h.deschedule(1, /*doorbell=*/true);
    h.msi(1, 0);
    EXPECT_EQ(irqs, (HostIrqs{{1, kDoorbell2}}));
}

// reference/arm §1.2: with DB=0 VMOVP's Default_Doorbell field is not valid: the doorbell stays.
TEST(ItsVmovpV41, Db0KeepsTheDefaultDoorbell) {
    GicHarness h;
    h.map_vpe(0, 0, true, kDoorbell);
    h.cmd(build::vmovp(0, 1, 0, 0, /*db=*/false, kDoorbell2));
    EXPECT_EQ(vpte_of(h, 0).default_doorbell, kDoorbell);
    EXPECT_EQ(h.gic.rd(1).vpe(0)->props.default_doorbell, kDoorbell);
}

// IHI 0069 VMOVP: a Default_Doorbell that is neither an LPI nor 1023 is a command error.
TEST(ItsVmovpV41, DefaultDoorbellThatIsNotAnLpiIsACommandError) {
    GicHarness h;
    h.map_vpe(0, 0, true, kDoorbell);
    h.cmd(build::vmovp(0, 1, 0, 0, /*db=*/true, 5000));
    EXPECT_EQ(count(h, tp::kItsVmovpError), 1u) << h.text();
    EXPECT_EQ(h.gic.rd_of_vpe(0), &h.gic.rd(0));
    EXPECT_EQ(vpte_of(h, 0).default_doorbell, kDoorbell);
}

// ---- VSYNC ------------------------------------------------------------------------------------

class ItsVsync : public EitherVersion {
   protected:
    GicHarness h{config(GetParam())};
};

// reference/arm §1.2: VSYNC is the completion barrier for a mapped vPE's virtual commands.
TEST_P(ItsVsync, VsyncOfAMappedVpeCompletes) {
    h.map_vpe(0, 0);
    h.cmd(build::vsync(0));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(count(h, tp::kItsVsync), 1u);
    EXPECT_EQ(h.gic.its().creadr(), h.gic.its().cwriter());
}

// IHI 0069 VSYNC: the vPE must be mapped on this ITS.
TEST_P(ItsVsync, VsyncOfAnUnmappedVpeIsACommandError) {
    h.cmd(build::vsync(3));
    EXPECT_EQ(count(h, tp::kItsVsyncError), 1u) << h.text();
}

INSTANTIATE_TEST_SUITE_P(BothVersions, ItsVsync, ::testing::Values(GicVersion::V4_0, GicVersion::V4_1),
                         version_name);

// ---- VINVALL and INV on a vLPI ------------------------------------------------------------------

class ItsVinvall : public EitherVersion {
   protected:
    void SetUp() override {
        h.map_device(1);
        h.map_vpe(0, 0);
        h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
        h.cmd(build::vmapti(1, 1, 0, kVlpi + 1, kNoDoorbell));
        h.schedule(0, 0);
        h.open_cpu(0);
    }
    GicHarness h{config(GetParam())};
};

// reference/arm §1.2: VINVALL makes the redistributor re-read every vLPI configuration of the vPE;
// until then a changed priority is not seen.
TEST_P(ItsVinvall, ChangedPriorityIsSeenOnlyAfterVinvall) {
    h.vlpi_config(kVlpi, 0x80, true);
    h.gic.cpu(0).write_pmr(0x90);
    h.msi(1, 0);
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kVlpi);  // priority 0x80 < PMR 0x90, now cached
    h.vlpi_config(kVlpi, 0xA0, true);
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kVlpi) << "the new priority was seen without an invalidation";
    h.cmd(build::vinvall(0));
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kSpuriousIntid);
}

// reference/arm §1.2: the same for the enable bit.
TEST_P(ItsVinvall, ChangedEnableIsSeenOnlyAfterVinvall) {
    h.vlpi_config(kVlpi, 0x80, false);
    h.msi(1, 0);
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kSpuriousIntid);
    h.vlpi_config(kVlpi, 0x80, true);
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kSpuriousIntid) << "the enable was seen without an invalidation";
    h.cmd(build::vinvall(0));
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kVlpi);
}

// reference/arm §1.2 (INV: re-read configuration for that interrupt; §3.2 its_prop_update_vlpi): INV
// on a vLPI's DeviceID/EventID re-reads that vLPI only.
TEST_P(ItsVinvall, InvOnTheVlpisDeviceEventReReadsOnlyThatVlpi) {
    h.vlpi_config(kVlpi, 0x80, false);
    h.vlpi_config(kVlpi + 1, 0x80, false);
    h.msi(1, 0);
    h.msi(1, 1);
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kSpuriousIntid);  // both cached as disabled
    h.vlpi_config(kVlpi, 0x80, true);
    h.vlpi_config(kVlpi + 1, 0x60, true);
    h.cmd(build::inv(1, 0));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kVlpi) << "INV on event 0 re-read event 1's vLPI too";
}

// IHI 0069 VINVALL: the vPE must be mapped on this ITS.
TEST_P(ItsVinvall, VinvallOfAnUnmappedVpeIsACommandError) {
    h.cmd(build::vinvall(9));
    EXPECT_EQ(count(h, tp::kItsVinvallError), 1u) << h.text();
}

INSTANTIATE_TEST_SUITE_P(BothVersions, ItsVinvall, ::testing::Values(GicVersion::V4_0, GicVersion::V4_1),
                         version_name);

// ---- INVDB (GICv4.1) --------------------------------------------------------------------------

// reference/arm §1.2 (INVDB: invalidate cached configuration of the vPE's default doorbell,
// broadcast to all RDs): after INVDB the redistributor re-reads the doorbell LPI's configuration,
// so a doorbell that was pending but disabled is now signalled.
TEST(ItsInvdb, MakesTheRedistributorReReadTheDefaultDoorbellConfiguration) {
    GicHarness h;
    HostIrqs irqs;
    record_host_irqs(h, irqs);
    h.enable_lpis(0);
    h.lpi_config(kDoorbell, 0xA0, /*enable=*/false);
    h.vlpi_config(kVlpi, 0x80, true);
    h.map_device(1);
    h.map_vpe(0, 0, true, kDoorbell);
    h.cmd(build::vmapti(1, 0, 0, kVlpi, kNoDoorbell));
    h.schedule(0, 0);
    h.deschedule(0, /*doorbell=*/true);
    h.msi(1, 0);
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kDoorbell));
    EXPECT_TRUE(irqs.empty()) << "a disabled doorbell was signalled";
    h.lpi_config(kDoorbell, 0xA0, /*enable=*/true);
    EXPECT_TRUE(irqs.empty());
    h.cmd(build::invdb(0));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(irqs, (HostIrqs{{0, kDoorbell}}));
}

// IHI 0069 INVDB: the vPE must be mapped on this ITS.
TEST(ItsInvdb, InvdbOfAnUnmappedVpeIsACommandError) {
    GicHarness h;
    h.cmd(build::invdb(2));
    EXPECT_EQ(count(h, tp::kItsInvdbError), 1u) << h.text();
}

// reference/arm §1.2, §1.7: INVDB and VSGI exist only on GICv4.1; a GICv4.0 ITS refuses them
// without running them.
TEST(ItsInvdb, InvdbAndVsgiAreRefusedOnGicV40) {
    GicHarness h(config(GicVersion::V4_0));
    h.map_vpe(0, 0);
    h.cmd(build::invdb(0));
    h.cmd(build::vsgi(0, 1, 0x40, true, false, true));
    EXPECT_EQ(count(h, tp::kItsInvdbError), 1u) << h.text();
    EXPECT_EQ(count(h, tp::kItsVsgiError), 1u) << h.text();
    EXPECT_EQ(count(h, tp::kItsInvdb), 0u);
    EXPECT_EQ(count(h, tp::kItsVsgi), 0u);
    EXPECT_FALSE(h.gic.rd(0).vpe(0)->sgis[1].enabled);
}

// ---- VSGI (GICv4.1) ---------------------------------------------------------------------------

struct ItsVsgi : ::testing::Test {
    GicHarness h;
    void SetUp() override {
        h.map_vpe(0, 0);
        h.open_cpu(0);
    }
};

// reference/arm §1.2, §1.3: VSGI configures a vSGI (priority, group, enable); GITS_SGIR makes it
// pending; GICR_VSGIR + GICR_VSGIPENDR read the pending bits; the resident vCPU takes it.
TEST_F(ItsVsgi, ConfiguredVsgiMadePendingBySgirIsTakenByTheVcpu) {
    h.cmd(build::vsgi(0, 3, 0x40, /*group=*/true, /*clear=*/false, /*enable=*/true));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    const VsgiState& s = h.gic.rd(0).vpe(0)->sgis[3];
    EXPECT_TRUE(s.enabled);
    EXPECT_TRUE(s.group1);
    EXPECT_EQ(s.priority, 0x40);
    EXPECT_EQ(vsgipendr(h, 0, 0), 0u);
    sgir(h, 0, 3);
    EXPECT_EQ(vsgipendr(h, 0, 0), 1u << 3);
    h.schedule(0, 0);
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), 3u);
    EXPECT_EQ(h.gic.cpu(0).read_iar1(), 3u);
    EXPECT_EQ(h.gic.cpu(0).read_rpr(), 0x40);
    EXPECT_EQ(vsgipendr(h, 0, 0), 0u);
    h.gic.cpu(0).write_eoir1(3);
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
}

// reference/arm §1.2 (VSGI Clear): Clear=1 removes the vSGI's pending state.
TEST_F(ItsVsgi, ClearRemovesThePendingState) {
    h.cmd(build::vsgi(0, 3, 0x40, true, false, true));
    sgir(h, 0, 3);
    h.cmd(build::vsgi(0, 3, 0, false, /*clear=*/true, false));
    EXPECT_EQ(vsgipendr(h, 0, 0), 0u);
    h.schedule(0, 0);
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kSpuriousIntid);
}

// reference/arm §1.2 ("Configuration change and clearing pending are mutually exclusive in one
// command"): with Clear=1 the configuration fields are not applied (Ignored event).
TEST_F(ItsVsgi, ClearDoesNotApplyTheConfigurationFields) {
    h.cmd(build::vsgi(0, 3, 0x40, true, false, true));
    h.cmd(build::vsgi(0, 3, 0xF0, /*group=*/false, /*clear=*/true, /*enable=*/false));
    EXPECT_EQ(count(h, tp::kItsVsgiClearIgnored), 1u) << h.text();
    const VsgiState& s = h.gic.rd(0).vpe(0)->sgis[3];
    EXPECT_TRUE(s.enabled);
    EXPECT_TRUE(s.group1);
    EXPECT_EQ(s.priority, 0x40);
}

// reference/arm §1.2 (VSGI Enable): a disabled vSGI can be pending (GICR_VSGIPENDR shows it) but is
// not delivered until enabled.
TEST_F(ItsVsgi, DisabledVsgiIsPendingButNotDelivered) {
    h.cmd(build::vsgi(0, 5, 0x40, true, false, /*enable=*/false));
    sgir(h, 0, 5);
    EXPECT_EQ(vsgipendr(h, 0, 0), 1u << 5);
    h.schedule(0, 0);
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), kSpuriousIntid);
    h.cmd(build::vsgi(0, 5, 0x40, true, false, /*enable=*/true));
    EXPECT_EQ(h.gic.cpu(0).read_hppir1(), 5u);
}

// IHI 0069 VSGI: the vPE must be mapped on this ITS.
TEST_F(ItsVsgi, VsgiOfAnUnmappedVpeIsACommandError) {
    h.cmd(build::vsgi(6, 1, 0x40, true, false, true));
    EXPECT_EQ(count(h, tp::kItsVsgiError), 1u) << h.text();
}

// reference/arm §1.3 (GITS_SGIR "directly make a vSGI pending"): a write naming a vPE this ITS does
// not map is dropped, with an Ignored event.
TEST_F(ItsVsgi, SgirForAVpeThisItsDoesNotMapIsDropped) {
    sgir(h, 6, 1);
    EXPECT_EQ(count(h, tp::kItsWriteSgirIgnored), 1u) << h.text();
    EXPECT_EQ(vsgipendr(h, 0, 0), 0u);
}

}  // namespace
}  // namespace irqdiff::arm::testing
