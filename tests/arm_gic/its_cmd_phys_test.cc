// The physical (GICv3) ITS commands, through the command queue (arm_gic/hw/its_cmd_phys.cc):
// what each one writes to the ITS tables and does to the redistributors, and every command error,
// which logs exactly one GuestError naming policy arm.its_command_error and changes nothing.
// INT, CLEAR, DISCARD and INV also act on virtual ITEs (reference/arm §1.2 "VINT"/"VCLEAR").
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tests/arm_gic/gic_harness.h"

namespace irqdiff::arm::testing {
namespace {

constexpr uint32_t kLpi = 8200;            // the physical LPIs of these tests: 8200..8203
constexpr uint64_t kBigItt = 0x0600'0000;  // an ITT of 2^14 events (256 KiB) for MAPI tests

using HostIrq = std::pair<unsigned, uint32_t>;  // (redistributor, INTID)

/// The last GuestError in the log.
const Event& last_error(const GicHarness& h) {
    for (auto it = h.log.events().rbegin(); it != h.log.events().rend(); ++it)
        if (it->kind == EventKind::GuestError) return *it;
    throw std::logic_error("no GuestError in the log");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Ite ite_of(const GicHarness& h, uint32_t device, uint32_t event) {
    return read_ite(h.mem.host, itt(device) + uint64_t{event} * Ite::kBytes).value;
}
Dte dte_of(const GicHarness& h, uint32_t device) {
    return read_dte(h.mem.host, kDeviceTable + uint64_t{device} * Dte::kBytes).value;
}
Cte cte_of(const GicHarness& h, uint16_t icid) {
    return read_cte(h.mem.host, kCollectionTable + uint64_t{icid} * Cte::kBytes).value;
}

/// LPIs on both redistributors, LPIs 8200..8203 enabled, device 1 (256 events) mapped,
/// collection 0 on redistributor 0 and collection 1 on redistributor 1; host interrupts recorded.
struct PhysicalCommands : ::testing::Test {
    GicHarness h;
    std::vector<HostIrq> host_irqs;

    explicit PhysicalCommands(GicConfig config = test_config()) : h(config) {}

    void SetUp() override {
        h.gic.set_host_irq_handler([this](unsigned rd, uint32_t intid) { host_irqs.emplace_back(rd, intid); });
        h.enable_lpis(0);
        h.enable_lpis(1);
        for (uint32_t i = kLpi; i < kLpi + 4; ++i) h.lpi_config(i, 0xA0, true);
        h.map_device(1);
        h.cmd(build::mapc(0, 0, true));
        h.cmd(build::mapc(1, 1, true));
        ASSERT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    }

    Its& its() { return h.gic.its(); }
    bool queue_idle() { return !its().stalled() && its().creadr() == its().cwriter(); }

    /// Runs `c` and checks it was refused as a command error: one `error` whose rule names
    /// `problem` and the policy, the queue went on, and no table was written.
    void expect_command_error(const ItsCommand& c, const TracePointInfo& error, const std::string& problem) {
        const size_t errors = h.count(EventKind::GuestError);
        const uint64_t writes = h.mem.host.stats().writes;
        h.cmd(c);
        ASSERT_EQ(h.count(EventKind::GuestError), errors + 1) << h.text();
        const Event& e = last_error(h);
        EXPECT_EQ(e.point, &error) << e.op;
        EXPECT_TRUE(contains(e.rule, problem)) << e.rule;
        EXPECT_TRUE(contains(e.rule, "policy arm.its_command_error=ignore")) << e.rule;
        EXPECT_EQ(h.mem.host.stats().writes, writes + 1) << "only the command itself was written";
        EXPECT_TRUE(queue_idle());
    }
};

// ---------------------------------------------------------------------------------------------
// MAPD

// reference/arm §1.2 MAPD: DeviceID, Size (EventID bits - 1), ITT_addr, V maps the device to its
// ITT (the DTE format is the model's, tables.h).
TEST_F(PhysicalCommands, MapdWritesAValidDte) {
    h.cmd(build::mapd(5, 9, kBigItt, true));
    EXPECT_TRUE(queue_idle());
    EXPECT_EQ(dte_of(h, 5), (Dte{true, kBigItt, 9}));
    EXPECT_EQ(h.mem.host.read64(kDeviceTable + 5 * 8).value, (uint64_t{1} << 63) | kBigItt | 9u);
    EXPECT_EQ(dte_of(h, 1), (Dte{true, itt(1), 7}));
}

// reference/arm §1.2 MAPD with V=0 unmaps the device: its events no longer translate.
TEST_F(PhysicalCommands, MapdWithV0UnmapsTheDevice) {
    h.cmd(build::mapti(1, 0, kLpi, 0));
    h.cmd(build::mapd(1, 7, itt(1), false));
    EXPECT_FALSE(dte_of(h, 1).valid);
    h.msi(1, 0);
    EXPECT_TRUE(h.gic.rd(0).pending_lpis().empty());
    expect_command_error(build::int_(1, 0), tp::kItsIntError, "is not mapped (MAPD)");
}

// IHI 0069 MAPD (GITS_TYPER.IDbits): Size + 1 may not exceed the EventID bits the ITS supports;
// the widest allowed Size is accepted.
TEST_F(PhysicalCommands, MapdSizeBeyondIdbitsIsACommandError) {
    expect_command_error(build::mapd(5, 16, kBigItt, true), tp::kItsMapdError, "beyond GITS_TYPER.IDbits");
    EXPECT_FALSE(dte_of(h, 5).valid);
    h.cmd(build::mapd(5, 15, kBigItt, true));
    EXPECT_EQ(dte_of(h, 5), (Dte{true, kBigItt, 15}));
}

// IHI 0069 MAPD (GITS_TYPER.Devbits): a DeviceID beyond the supported bits is a command error.
TEST_F(PhysicalCommands, MapdDeviceIdBeyondDevbitsIsACommandError) {
    expect_command_error(build::mapd(1u << 16, 7, kBigItt, true), tp::kItsMapdError, "beyond GITS_TYPER.Devbits");
    expect_command_error(build::mapd(0xFFFF'FFFF, 7, kBigItt, false), tp::kItsMapdError, "beyond GITS_TYPER.Devbits");
}

// IHI 0069 (device table size): a DeviceID within Devbits but beyond the table GITS_BASER0
// describes has no entry (the harness's flat table holds 32768 DTEs).
TEST_F(PhysicalCommands, MapdBeyondTheDeviceTableIsACommandError) {
    expect_command_error(build::mapd(32768, 7, kBigItt, true), tp::kItsMapdError, "ID beyond the table");
    h.cmd(build::mapd(32767, 7, kBigItt, true));
    EXPECT_TRUE(read_dte(h.mem.host, kDeviceTable + 32767 * 8).value.valid);
}

// ---------------------------------------------------------------------------------------------
// MAPC

// reference/arm §1.2 MAPC: ICID, RDbase, V maps a collection to a redistributor (or unmaps it).
TEST_F(PhysicalCommands, MapcWritesAndClearsTheCte) {
    h.cmd(build::mapc(5, 1, true));
    EXPECT_EQ(cte_of(h, 5), (Cte{true, 1}));
    EXPECT_EQ(h.mem.host.read64(kCollectionTable + 5 * 8).value, (uint64_t{1} << 63) | 1u);
    h.cmd(build::mapc(5, 1, false));
    EXPECT_FALSE(cte_of(h, 5).valid);
    EXPECT_TRUE(queue_idle());
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// IHI 0069 MAPC: an RDbase that names no redistributor is a command error (GITS_TYPER.PTA = 0:
// RDbase is a processor number).
TEST_F(PhysicalCommands, MapcRdbaseBeyondTheRedistributorsIsACommandError) {
    expect_command_error(build::mapc(5, 2, true), tp::kItsMapcError, "RDbase 2 names no redistributor");
    EXPECT_FALSE(cte_of(h, 5).valid);
}

// IHI 0069 MAPC: an ICID beyond the collections the ITS supports is a command error.
TEST_F(PhysicalCommands, MapcIcidBeyondTheCollectionsIsACommandError) {
    expect_command_error(build::mapc(64, 0, true), tp::kItsMapcError, "ICID 64 beyond the 64 collections");
    h.cmd(build::mapc(63, 0, true));
    EXPECT_TRUE(cte_of(h, 63).valid);
}

// ---------------------------------------------------------------------------------------------
// MAPTI / MAPI

// reference/arm §1.2 MAPTI: DeviceID, EventID, pINTID, ICID create a physical ITE (the model's
// ITE: w0 Valid[63] Virtual[62]=0 ICID[47:32] pINTID[31:0], w1 doorbell 1023).
TEST_F(PhysicalCommands, MaptiWritesThePhysicalIte) {
    h.cmd(build::mapti(1, 3, kLpi + 1, 1));
    EXPECT_TRUE(queue_idle());
    EXPECT_EQ(ite_of(h, 1, 3), (Ite{true, false, 1, kLpi + 1, kNoDoorbell}));
    EXPECT_EQ(h.mem.host.read64(itt(1) + 3 * 16).value, (uint64_t{1} << 63) | (uint64_t{1} << 32) | (kLpi + 1));
    EXPECT_EQ(h.mem.host.read64(itt(1) + 3 * 16 + 8).value, uint64_t{kNoDoorbell});
    EXPECT_FALSE(ite_of(h, 1, 2).valid);
    EXPECT_FALSE(ite_of(h, 1, 4).valid);
}

// reference/arm §1.2: MAPI = MAPTI with pINTID == EventID.
TEST_F(PhysicalCommands, MapiUsesTheEventIdAsThePintid) {
    h.cmd(build::mapd(7, 13, kBigItt, true));  // 2^14 events, so EventIDs from 8192 exist
    h.cmd(build::mapi(7, kLpi, 0));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(read_ite(h.mem.host, kBigItt + uint64_t{kLpi} * 16).value, (Ite{true, false, 0, kLpi, kNoDoorbell}));
    h.msi(7, kLpi);
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
}

// reference/arm §1.2: mapping an existing DeviceID/EventID pair is UNPREDICTABLE; the model
// refuses it as a command error and keeps the first ITE.
TEST_F(PhysicalCommands, MaptiOfAnAlreadyMappedEventIsACommandError) {
    h.cmd(build::mapti(1, 0, kLpi, 0));
    expect_command_error(build::mapti(1, 0, kLpi + 1, 1), tp::kItsMaptiError, "already mapped");
    EXPECT_EQ(ite_of(h, 1, 0), (Ite{true, false, 0, kLpi, kNoDoorbell}));
}

// IHI 0069 MAPTI: the pINTID must be an LPI (8192 up to the LPI ID bits); MAPI with an EventID
// below 8192 names no LPI.
TEST_F(PhysicalCommands, MaptiOfANonLpiIsACommandError) {
    for (uint32_t intid : {0u, 1023u, 8191u, 1u << 16}) {
        SCOPED_TRACE(intid);
        expect_command_error(build::mapti(1, 0, intid, 0), tp::kItsMaptiError, "is not an LPI");
        EXPECT_FALSE(ite_of(h, 1, 0).valid);
    }
    expect_command_error(build::mapi(1, 5, 0), tp::kItsMapiError, "pINTID 5 is not an LPI");
    h.cmd(build::mapti(1, 0, (1u << 16) - 1, 0));  // the last LPI of 16 ID bits
    EXPECT_TRUE(ite_of(h, 1, 0).valid);
}

// IHI 0069 MAPTI: the device must be mapped, the EventID within its ITT, the ICID within the
// collections (the collection itself need not be mapped yet).
TEST_F(PhysicalCommands, MaptiChecksDeviceEventAndIcid) {
    expect_command_error(build::mapti(9, 0, kLpi, 0), tp::kItsMaptiError, "DeviceID 0x9 is not mapped");
    expect_command_error(build::mapti(1, 256, kLpi, 0), tp::kItsMaptiError, "beyond the ITT");
    expect_command_error(build::mapti(1, 0, kLpi, 64), tp::kItsMaptiError, "ICID 64 beyond");
    h.cmd(build::mapti(1, 255, kLpi, 40));  // collection 40 is not mapped: accepted
    EXPECT_EQ(ite_of(h, 1, 255), (Ite{true, false, 40, kLpi, kNoDoorbell}));
    EXPECT_EQ(h.count(EventKind::GuestError), 3u);
}

// ---------------------------------------------------------------------------------------------
// MOVI

// reference/arm §1.2 MOVI retargets an ITE to another collection; its pending state moves to the
// new collection's redistributor, which signals it there.
TEST_F(PhysicalCommands, MoviMovesThePendingStateBetweenRedistributors) {
    h.cmd(build::mapti(1, 0, kLpi, 0));
    h.cmd(build::int_(1, 0));
    ASSERT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
    h.cmd(build::movi(1, 0, 1));
    EXPECT_TRUE(queue_idle());
    EXPECT_FALSE(h.gic.rd(0).lpi_pending(kLpi));
    EXPECT_TRUE(h.gic.rd(1).lpi_pending(kLpi));
    EXPECT_EQ(ite_of(h, 1, 0), (Ite{true, false, 1, kLpi, kNoDoorbell}));
    EXPECT_EQ(host_irqs, (std::vector<HostIrq>{{0, kLpi}, {1, kLpi}}));
    EXPECT_EQ(h.gic.rd(1).acknowledge_lpi(), kLpi);
}

// reference/arm §1.2 MOVI: a non-pending LPI is only retargeted; the next MSI lands on the new
// redistributor.
TEST_F(PhysicalCommands, MoviRetargetsLaterMsis) {
    h.cmd(build::mapti(1, 0, kLpi, 0));
    h.cmd(build::movi(1, 0, 1));
    EXPECT_TRUE(h.gic.rd(0).pending_lpis().empty());
    EXPECT_TRUE(h.gic.rd(1).pending_lpis().empty());
    h.msi(1, 0);
    EXPECT_FALSE(h.gic.rd(0).lpi_pending(kLpi));
    EXPECT_TRUE(h.gic.rd(1).lpi_pending(kLpi));
}

// its_cmd_phys.cc (its_vlpi_set_doorbell: VMOVI moves vLPIs): MOVI of a virtual ITE is a command
// error that leaves the ITE as it was.
TEST_F(PhysicalCommands, MoviOfAVlpiIsACommandError) {
    h.map_vpe(0, 0);
    h.cmd(build::vmapti(1, 1, 0, kVlpi, kNoDoorbell));
    const Ite before = ite_of(h, 1, 1);
    ASSERT_TRUE(before.valid && before.is_virtual);
    expect_command_error(build::movi(1, 1, 1), tp::kItsMoviError, "MOVI of a vLPI");
    EXPECT_EQ(ite_of(h, 1, 1), before);
}

// IHI 0069 MOVI: the target collection must be mapped; the pending state stays where it was.
TEST_F(PhysicalCommands, MoviToAnUnmappedCollectionIsACommandError) {
    h.cmd(build::mapti(1, 0, kLpi, 0));
    h.cmd(build::int_(1, 0));
    expect_command_error(build::movi(1, 0, 5), tp::kItsMoviError, "collection 5 is not mapped");
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
    EXPECT_EQ(ite_of(h, 1, 0).id, 0u);
    expect_command_error(build::movi(1, 2, 1), tp::kItsMoviError, "no mapping for DeviceID 0x1 EventID 0x2");
}

// ---------------------------------------------------------------------------------------------
// DISCARD

// reference/arm §1.2 DISCARD removes the ITE and the interrupt's pending state.
TEST_F(PhysicalCommands, DiscardRemovesThePendingStateAndTheIte) {
    h.lpi_config(kLpi, 0xA0, false);  // pending but not signalled: only the pending bit matters
    h.cmd(build::mapti(1, 0, kLpi, 0));
    h.cmd(build::int_(1, 0));
    ASSERT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
    h.cmd(build::discard(1, 0));
    EXPECT_TRUE(queue_idle());
    EXPECT_FALSE(h.gic.rd(0).lpi_pending(kLpi));
    EXPECT_FALSE(ite_of(h, 1, 0).valid);
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    // The event no longer translates, and can be mapped afresh.
    h.msi(1, 0);
    EXPECT_FALSE(h.gic.rd(0).lpi_pending(kLpi));
    h.cmd(build::mapti(1, 0, kLpi + 1, 1));
    EXPECT_EQ(ite_of(h, 1, 0), (Ite{true, false, 1, kLpi + 1, kNoDoorbell}));
}

// reference/arm §1.2, DESIGN.md: DISCARD of a vLPI's ITE removes the vLPI's pending state too.
TEST_F(PhysicalCommands, DiscardOfAVlpiRemovesItsPendingState) {
    h.map_vpe(0, 0);
    h.cmd(build::vmapti(1, 1, 0, kVlpi, kNoDoorbell));
    h.msi(1, 1);
    ASSERT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    h.cmd(build::discard(1, 1));
    EXPECT_FALSE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    EXPECT_FALSE(ite_of(h, 1, 1).valid);
    std::vector<Location> where;
    h.gic.where_vlpi(0, kVlpi, where);
    EXPECT_TRUE(where.empty());
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// IHI 0069 DISCARD: an event with no ITE is a command error.
TEST_F(PhysicalCommands, DiscardOfAnUnmappedEventIsACommandError) {
    expect_command_error(build::discard(1, 0), tp::kItsDiscardError, "no mapping for DeviceID 0x1 EventID 0x0");
    expect_command_error(build::discard(9, 0), tp::kItsDiscardError, "DeviceID 0x9 is not mapped");
}

// ---------------------------------------------------------------------------------------------
// INV / INVALL

// IHI 0069 INV: the redistributor may cache LPI configuration; a changed configuration byte takes
// effect only after INV. A pending LPI disabled in the table is signalled once it is enabled AND
// invalidated.
TEST_F(PhysicalCommands, InvMakesTheRedistributorRereadTheConfiguration) {
    h.lpi_config(kLpi, 0xA0, false);
    h.cmd(build::mapti(1, 0, kLpi, 0));
    h.msi(1, 0);
    ASSERT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
    EXPECT_TRUE(host_irqs.empty());

    h.lpi_config(kLpi, 0xA0, true);  // enabled in memory only
    h.msi(1, 0);
    h.cmd(build::sync(0));
    EXPECT_TRUE(host_irqs.empty()) << "the cached configuration still says disabled";

    h.cmd(build::inv(1, 0));
    EXPECT_EQ(host_irqs, (std::vector<HostIrq>{{0, kLpi}}));
    EXPECT_EQ(h.gic.rd(0).acknowledge_lpi(), kLpi);
}

// IHI 0069 INVALL: the same for every LPI of the collection's redistributor.
TEST_F(PhysicalCommands, InvallMakesTheRedistributorRereadEveryConfiguration) {
    h.lpi_config(kLpi, 0xA0, false);
    h.lpi_config(kLpi + 1, 0x80, false);
    h.cmd(build::mapti(1, 0, kLpi, 0));
    h.cmd(build::mapti(1, 1, kLpi + 1, 0));
    h.msi(1, 0);
    h.msi(1, 1);
    h.lpi_config(kLpi, 0xA0, true);
    h.lpi_config(kLpi + 1, 0x80, true);
    EXPECT_TRUE(host_irqs.empty());
    h.cmd(build::invall(1));  // collection 1 is redistributor 1: not where these LPIs are
    EXPECT_TRUE(host_irqs.empty());
    h.cmd(build::invall(0));
    std::set<HostIrq> got(host_irqs.begin(), host_irqs.end());
    EXPECT_EQ(got, (std::set<HostIrq>{{0, kLpi}, {0, kLpi + 1}}));
    EXPECT_EQ(host_irqs.size(), 2u);
}

// IHI 0069 INV: invalidating without a configuration change leaves a disabled LPI disabled.
TEST_F(PhysicalCommands, InvOfAnUnchangedDisabledLpiSignalsNothing) {
    h.lpi_config(kLpi, 0xA0, false);
    h.cmd(build::mapti(1, 0, kLpi, 0));
    h.cmd(build::int_(1, 0));
    h.cmd(build::inv(1, 0));
    h.cmd(build::invall(0));
    EXPECT_TRUE(host_irqs.empty());
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
    EXPECT_EQ(h.gic.rd(0).acknowledge_lpi(), kSpuriousIntid);
}

// IHI 0069 INV: the cache works both ways: an LPI disabled in memory stays enabled (and is
// signalled) until INV.
TEST_F(PhysicalCommands, StaleEnabledConfigurationHoldsUntilInv) {
    h.cmd(build::mapti(1, 0, kLpi, 0));
    h.msi(1, 0);
    ASSERT_EQ(host_irqs.size(), 1u);
    ASSERT_EQ(h.gic.rd(0).acknowledge_lpi(), kLpi);
    h.lpi_config(kLpi, 0xA0, false);
    h.msi(1, 0);
    EXPECT_EQ(host_irqs.size(), 2u) << "the cached configuration still says enabled";
    ASSERT_EQ(h.gic.rd(0).acknowledge_lpi(), kLpi);
    h.cmd(build::inv(1, 0));
    h.msi(1, 0);
    EXPECT_EQ(host_irqs.size(), 2u);
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
}

// gic.h HostIrqHandler: "called when a physical LPI becomes pending, enabled"; an INV or INVALL
// that changes nothing does not make an already signalled, still pending LPI become pending again.
TEST_F(PhysicalCommands, InvOfAnAlreadySignalledLpiDoesNotSignalItAgain) {
    h.cmd(build::mapti(1, 0, kLpi, 0));
    h.cmd(build::int_(1, 0));
    ASSERT_EQ(host_irqs, (std::vector<HostIrq>{{0, kLpi}}));
    h.cmd(build::inv(1, 0));
    EXPECT_EQ(host_irqs.size(), 1u) << "INV signalled a pending LPI a second time";
    h.cmd(build::invall(0));
    EXPECT_EQ(host_irqs.size(), 1u) << "INVALL signalled a pending LPI a second time";
}

// IHI 0069 INV/INVALL: INV needs an ITE and INVALL a mapped collection.
TEST_F(PhysicalCommands, InvAndInvallErrors) {
    expect_command_error(build::inv(1, 0), tp::kItsInvError, "no mapping for DeviceID 0x1 EventID 0x0");
    expect_command_error(build::invall(5), tp::kItsInvallError, "collection 5 is not mapped");
    expect_command_error(build::invall(64), tp::kItsInvallError, "ICID 64 beyond");
    h.cmd(build::mapti(1, 0, kLpi, 7));  // collection 7 not mapped
    expect_command_error(build::inv(1, 0), tp::kItsInvError, "collection 7 is not mapped");
}

// ---------------------------------------------------------------------------------------------
// INT / CLEAR

// reference/arm §1.2 INT / CLEAR set and clear the pending state of the translated LPI.
TEST_F(PhysicalCommands, IntAndClearSetAndClearAPhysicalLpi) {
    h.cmd(build::mapti(1, 0, kLpi, 1));
    h.cmd(build::int_(1, 0));
    EXPECT_TRUE(h.gic.rd(1).lpi_pending(kLpi));
    EXPECT_FALSE(h.gic.rd(0).lpi_pending(kLpi));
    EXPECT_EQ(host_irqs, (std::vector<HostIrq>{{1, kLpi}}));
    h.cmd(build::int_(1, 0));  // already pending: not signalled again
    EXPECT_EQ(host_irqs.size(), 1u);
    h.cmd(build::clear(1, 0));
    EXPECT_FALSE(h.gic.rd(1).lpi_pending(kLpi));
    h.cmd(build::clear(1, 0));  // clearing a non-pending LPI is no error
    EXPECT_FALSE(h.gic.rd(1).lpi_pending(kLpi));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// reference/arm §1.2: INT / CLEAR on a vLPI's DeviceID/EventID act on the vLPI (Linux's
// "VINT"/"VCLEAR", its_send_vint / its_send_vclear).
TEST_F(PhysicalCommands, IntAndClearSetAndClearAVlpi) {
    h.map_vpe(0, 1);
    h.cmd(build::vmapti(1, 1, 0, kVlpi + 5, kNoDoorbell));
    h.cmd(build::int_(1, 1));
    EXPECT_TRUE(h.gic.rd(1).vlpi_pending(0, kVlpi + 5));
    EXPECT_TRUE(h.gic.rd(1).pending_lpis().empty());
    h.cmd(build::clear(1, 1));
    EXPECT_FALSE(h.gic.rd(1).vlpi_pending(0, kVlpi + 5));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// IHI 0069 INT/CLEAR: the event must translate (device mapped, EventID in range, ITE valid,
// collection mapped) or the command is an error that changes nothing.
TEST_F(PhysicalCommands, IntAndClearOfAnEventThatDoesNotTranslateAreCommandErrors) {
    expect_command_error(build::int_(9, 0), tp::kItsIntError, "DeviceID 0x9 is not mapped");
    expect_command_error(build::int_(1, 256), tp::kItsIntError, "beyond the ITT");
    expect_command_error(build::int_(1, 0), tp::kItsIntError, "no mapping");
    expect_command_error(build::clear(1, 0), tp::kItsClearError, "no mapping");
    h.cmd(build::mapti(1, 0, kLpi, 9));
    expect_command_error(build::int_(1, 0), tp::kItsIntError, "collection 9 is not mapped");
    EXPECT_TRUE(h.gic.rd(0).pending_lpis().empty());
    EXPECT_TRUE(h.gic.rd(1).pending_lpis().empty());
    h.map_vpe(3, 0);
    h.cmd(build::vmapti(1, 1, 3, kVlpi, kNoDoorbell));
    build::Vmapp unmap;
    unmap.vpeid = 3;
    unmap.valid = false;
    h.cmd(build::vmapp(unmap));
    expect_command_error(build::int_(1, 1), tp::kItsIntError, "vPE 3 is not mapped on this ITS");
}

// ---------------------------------------------------------------------------------------------
// SYNC, MOVALL

// IHI 0069 SYNC: RDbase must name a redistributor.
TEST_F(PhysicalCommands, SyncChecksRdbase) {
    h.cmd(build::sync(0));
    h.cmd(build::sync(1));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(h.count({tp::kItsSyncError, tp::kItsSync}), 2u);
    expect_command_error(build::sync(2), tp::kItsSyncError, "RDbase 2 names no redistributor");
}

// reference/arm §1.2 MOVALL: every pending LPI of RDbase1 moves to RDbase2.
TEST_F(PhysicalCommands, MovallMovesEveryPendingLpi) {
    h.cmd(build::mapti(1, 0, kLpi, 0));
    h.cmd(build::mapti(1, 1, kLpi + 1, 0));
    h.cmd(build::mapti(1, 2, kLpi + 2, 1));
    h.cmd(build::int_(1, 0));
    h.cmd(build::int_(1, 1));
    h.cmd(build::int_(1, 2));
    host_irqs.clear();
    h.cmd(build::movall(0, 1));
    EXPECT_TRUE(queue_idle());
    EXPECT_TRUE(h.gic.rd(0).pending_lpis().empty());
    EXPECT_EQ(h.gic.rd(1).pending_lpis(), (std::set<uint32_t>{kLpi, kLpi + 1, kLpi + 2}));
    EXPECT_EQ(std::set<HostIrq>(host_irqs.begin(), host_irqs.end()), (std::set<HostIrq>{{1, kLpi}, {1, kLpi + 1}}));
}

// reference/arm §1.2 MOVALL: to itself it changes nothing; a redistributor that does not exist is
// a command error.
TEST_F(PhysicalCommands, MovallToItselfOrNowhere) {
    h.cmd(build::mapti(1, 0, kLpi, 0));
    h.cmd(build::int_(1, 0));
    h.cmd(build::movall(0, 0));
    EXPECT_EQ(h.gic.rd(0).pending_lpis(), (std::set<uint32_t>{kLpi}));
    expect_command_error(build::movall(0, 2), tp::kItsMovallError, "names no redistributor");
    expect_command_error(build::movall(2, 0), tp::kItsMovallError, "names no redistributor");
    EXPECT_EQ(h.gic.rd(0).pending_lpis(), (std::set<uint32_t>{kLpi}));
}

// ---------------------------------------------------------------------------------------------
// Every command error, under both policies

struct ErrorCase {
    const char* name;
    ItsCommand command;
    const TracePointInfo* error;
    const char* problem;
};

/// Device 1: event 0 = LPI 8200 in collection 0 (pending), event 1 = vLPI 8192 of vPE 0.
std::vector<ErrorCase> error_cases() {
    return {
        {"MapdDevbits", build::mapd(1u << 16, 7, kBigItt, true), &tp::kItsMapdError, "Devbits"},
        {"MapdIdbits", build::mapd(5, 16, kBigItt, true), &tp::kItsMapdError, "IDbits"},
        {"MapcIcid", build::mapc(64, 0, true), &tp::kItsMapcError, "ICID 64"},
        {"MapcRdbase", build::mapc(5, 2, true), &tp::kItsMapcError, "RDbase 2"},
        {"MaptiMapped", build::mapti(1, 0, kLpi + 1, 0), &tp::kItsMaptiError, "already mapped"},
        {"MaptiNotLpi", build::mapti(1, 2, 8191, 0), &tp::kItsMaptiError, "not an LPI"},
        {"MaptiIcid", build::mapti(1, 2, kLpi, 64), &tp::kItsMaptiError, "ICID 64"},
        {"MaptiNoDevice", build::mapti(9, 0, kLpi, 0), &tp::kItsMaptiError, "not mapped"},
        {"MaptiEventId", build::mapti(1, 256, kLpi, 0), &tp::kItsMaptiError, "beyond the ITT"},
        {"MapiNotLpi", build::mapi(1, 5, 0), &tp::kItsMapiError, "not an LPI"},
        {"MoviVlpi", build::movi(1, 1, 1), &tp::kItsMoviError, "vLPI"},
        {"MoviCollection", build::movi(1, 0, 5), &tp::kItsMoviError, "collection 5"},
        {"MoviNoIte", build::movi(1, 2, 1), &tp::kItsMoviError, "no mapping"},
        {"DiscardNoIte", build::discard(1, 2), &tp::kItsDiscardError, "no mapping"},
        {"InvNoIte", build::inv(1, 2), &tp::kItsInvError, "no mapping"},
        {"InvallCollection", build::invall(5), &tp::kItsInvallError, "collection 5"},
        {"IntNoIte", build::int_(1, 2), &tp::kItsIntError, "no mapping"},
        {"IntNoDevice", build::int_(9, 0), &tp::kItsIntError, "not mapped"},
        {"ClearNoIte", build::clear(1, 2), &tp::kItsClearError, "no mapping"},
        {"SyncRdbase", build::sync(2), &tp::kItsSyncError, "RDbase 2"},
        {"MovallRdbase", build::movall(0, 2), &tp::kItsMovallError, "no redistributor"},
    };
}

class PhysicalCommandErrors : public ::testing::TestWithParam<ErrorResponse> {};

// config.h ErrorResponse (IHI 0069: the response to a command error is CONSTRAINED
// UNPREDICTABLE): each error logs exactly one GuestError naming arm.its_command_error and its
// value, writes no table and changes no pending state; with `ignore` the queue goes on, with
// `stall` GITS_CREADR stops at the command with Stalled = 1.
TEST_P(PhysicalCommandErrors, LogOneGuestErrorNamingThePolicyAndChangeNothing) {
    const ErrorResponse policy = GetParam();
    for (const ErrorCase& e : error_cases()) {
        SCOPED_TRACE(e.name);
        GicConfig config = test_config();
        config.command_error = policy;
        GicHarness h(config);
        h.enable_lpis(0);
        h.enable_lpis(1);
        h.map_device(1);
        h.cmd(build::mapc(0, 0, true));
        h.cmd(build::mapc(1, 1, true));
        h.cmd(build::mapti(1, 0, kLpi, 0));
        h.map_vpe(0, 0);
        h.cmd(build::vmapti(1, 1, 0, kVlpi, kNoDoorbell));
        h.cmd(build::int_(1, 0));
        h.cmd(build::int_(1, 1));
        ASSERT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
        const std::set<uint32_t> pending0 = h.gic.rd(0).pending_lpis(), pending1 = h.gic.rd(1).pending_lpis();
        const uint64_t writes = h.mem.host.stats().writes;
        const uint64_t slot = h.gic.its().cwriter();

        h.cmd(e.command);

        ASSERT_EQ(h.count(EventKind::GuestError), 1u) << h.text();
        const Event& err = last_error(h);
        EXPECT_EQ(err.point, e.error) << err.op;
        EXPECT_TRUE(contains(err.rule, e.problem)) << err.rule;
        EXPECT_TRUE(contains(err.rule, std::string("policy arm.its_command_error=") + to_string(policy))) << err.rule;
        EXPECT_EQ(h.mem.host.stats().writes, writes + 1) << "only the command itself was written";
        EXPECT_EQ(h.gic.rd(0).pending_lpis(), pending0);
        EXPECT_EQ(h.gic.rd(1).pending_lpis(), pending1);
        EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
        const uint64_t creadr = h.gic.its().read64(GITS_CREADR);
        if (policy == ErrorResponse::Stall) {
            EXPECT_EQ(creadr, slot | GitsCreadr::Stalled.make(1));
        } else {
            EXPECT_EQ(creadr, h.gic.its().cwriter());
        }
    }
}

INSTANTIATE_TEST_SUITE_P(BothPolicies, PhysicalCommandErrors,
                         ::testing::Values(ErrorResponse::Ignore, ErrorResponse::Stall),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace irqdiff::arm::testing
