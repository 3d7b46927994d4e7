// The ITS as a register block and a command queue (arm_gic/hw/its.h): GITS_CTLR, GITS_TYPER,
// GITS_IIDR, GITS_CBASER/CWRITER/CREADR, GITS_BASER<n>, 32-bit accesses, queue wrap-around, the
// stall and retry protocol, table faults under both policies, flat and two-level device tables,
// and MSI translation with every way it can fail.
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/arm_gic/gic_harness.h"

namespace irqdiff::arm::testing {
namespace {

constexpr uint32_t kLpi = 8200;
constexpr uint64_t kTop = Memory::kHostSize;  // the first address beyond host memory
constexpr uint64_t k4K = 4096, k64K = 65536;
constexpr uint64_t kOtherQueue = 0x0700'0000;  // a second command queue, for CBASER rewrites
constexpr uint64_t kLevel1 = 0x0800'0000;      // level-1 device table
constexpr uint64_t kLevel2 = 0x0900'0000;      // level-2 device table pages

using HostIrq = std::pair<unsigned, uint32_t>;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// The last event of `kind` in the log.
const Event& last_of(const GicHarness& h, EventKind kind) {
    for (auto it = h.log.events().rbegin(); it != h.log.events().rend(); ++it)
        if (it->kind == kind) return *it;
    throw std::logic_error("no such event in the log");
}

size_t count_ops(const GicHarness& h, const Points& points) { return count_events(h.log.events(), points); }

GicConfig with_policies(ErrorResponse command_error, ErrorResponse table_fault = ErrorResponse::Stall) {
    GicConfig c = test_config();
    c.command_error = command_error;
    c.table_fault = table_fault;
    return c;
}

void set_enabled(Its& its, bool enabled) { its.write(GITS_CTLR, GitsCtlr::Enabled.make(enabled), 4); }

/// Rewrites GITS_BASER<n> the way software must: with the ITS disabled.
void rewrite_baser(GicHarness& h, unsigned n, const GitsBaser& b) {
    set_enabled(h.gic.its(), false);
    h.gic.its().write64(gits_baser(n), b.encode());
    set_enabled(h.gic.its(), true);
}

Dte dte_at(const GicHarness& h, uint64_t addr) { return read_dte(h.mem.host, addr).value; }
Ite ite_of(const GicHarness& h, uint32_t device, uint32_t event) {
    return read_ite(h.mem.host, itt(device) + uint64_t{event} * Ite::kBytes).value;
}

// ---------------------------------------------------------------------------------------------
// GITS_CTLR, GITS_IIDR, GITS_TYPER

// reference/arm §1.1: GITS_CTLR Enabled[0], Quiescent[31]. IHI 0069: Quiescent reports that the
// ITS has finished after Enabled was cleared, so an enabled ITS is never quiescent.
TEST(ItsCtlr, EnabledAndQuiescentFollowTheEnableBit) {
    Memory mem;
    EventLog log;
    Gic gic(test_config(), mem.host, log);
    EXPECT_EQ(gic.its().read(GITS_CTLR, 4), GitsCtlr::Quiescent.make(1));
    EXPECT_FALSE(gic.its().enabled());
    set_enabled(gic.its(), true);
    EXPECT_EQ(gic.its().read(GITS_CTLR, 4), GitsCtlr::Enabled.make(1));
    EXPECT_TRUE(gic.its().enabled());
    set_enabled(gic.its(), false);
    EXPECT_EQ(gic.its().read64(GITS_CTLR), GitsCtlr::Quiescent.make(1));
    gic.its().write64(GITS_CTLR, GitsCtlr::Quiescent.make(1));  // Quiescent is read-only
    EXPECT_EQ(gic.its().read64(GITS_CTLR), GitsCtlr::Quiescent.make(1));
}

// reference/arm §1.1 (the ITS consumes commands from CREADR to CWRITER): a disabled ITS leaves the
// queue alone; enabling it processes what CWRITER already covers.
TEST(ItsCtlr, CommandsWaitUntilTheItsIsEnabled) {
    GicHarness h;
    set_enabled(h.gic.its(), false);
    h.map_device(1);
    EXPECT_EQ(h.gic.its().creadr(), 0u);
    EXPECT_EQ(h.gic.its().cwriter(), 32u);
    EXPECT_FALSE(dte_at(h, kDeviceTable + 8).valid);
    set_enabled(h.gic.its(), true);
    EXPECT_EQ(h.gic.its().creadr(), 32u);
    EXPECT_TRUE(dte_at(h, kDeviceTable + 8).valid);
}

// its.h: GITS_IIDR reads 0 (no implementer code) and is read-only.
TEST(ItsIidr, ReadsZeroAndIgnoresWrites) {
    GicHarness h;
    EXPECT_EQ(h.gic.its().read(GITS_IIDR, 4), Its::kIidr);
    EXPECT_EQ(Its::kIidr, 0u);
    h.gic.its().write(GITS_IIDR, 0x1234'5678, 4);
    EXPECT_EQ(h.gic.its().read(GITS_IIDR, 4), 0u);
    EXPECT_EQ(last_of(h, EventKind::Ignored).point, &tp::kItsWriteReadOnlyIgnored);
    EXPECT_EQ(h.count(EventKind::GuestError), 0u);
}

class ItsTyper : public ::testing::TestWithParam<std::tuple<GicVersion, bool>> {};

// reference/arm §1.1: GITS_TYPER.Virtual (VLPIS, bit 1) = GICv4, VMAPP (bit 40) = GICv4.1, VMOVP
// (bit 37) = GicConfig::vmovp_direct; ITT_entry_size = 15 (16-byte ITEs), IDbits and Devbits =
// the configured widths - 1, PTA = 0 (IHI 0069 positions, registers.h).
TEST_P(ItsTyper, FieldsFollowTheConfiguration) {
    auto [version, direct] = GetParam();
    GicConfig config = test_config(version);
    config.vmovp_direct = direct;
    config.event_id_bits = 12;
    config.device_id_bits = 20;
    GicHarness h(config);
    const uint64_t typer = h.gic.its().read64(GITS_TYPER);
    const bool v41 = version == GicVersion::V4_1;
    EXPECT_EQ(GitsTyper::Physical.get(typer), 1u);
    EXPECT_EQ(GitsTyper::Virtual.get(typer), 1u);
    EXPECT_EQ(GitsTyper::VMAPP.get(typer), v41 ? 1u : 0u);
    EXPECT_EQ(GitsTyper::VMOVP.get(typer), direct ? 1u : 0u);
    EXPECT_EQ(GitsTyper::IttEntrySize.get(typer), 15u);
    EXPECT_EQ(GitsTyper::IDbits.get(typer), 11u);
    EXPECT_EQ(GitsTyper::Devbits.get(typer), 19u);
    EXPECT_EQ(GitsTyper::PTA.get(typer), 0u);
    EXPECT_EQ(GitsTyper::HCC.get(typer), 0u);
    EXPECT_EQ(GitsTyper::SVPET.get(typer) != 0, v41);
    EXPECT_EQ(typer, h.gic.its().typer());
    h.gic.its().write64(GITS_TYPER, 0);  // read-only
    EXPECT_EQ(h.gic.its().read64(GITS_TYPER), typer);
    EXPECT_EQ(last_of(h, EventKind::Ignored).point, &tp::kItsWriteReadOnlyIgnored);
}

INSTANTIATE_TEST_SUITE_P(VersionsAndVmovp, ItsTyper,
                         ::testing::Combine(::testing::Values(GicVersion::V4_0, GicVersion::V4_1), ::testing::Bool()),
                         [](const auto& info) {
                             return std::string(std::get<0>(info.param) == GicVersion::V4_1 ? "v41" : "v40") +
                                    (std::get<1>(info.param) ? "_vmovp" : "_itslist");
                         });

// its.h: "Registers take 32- and 64-bit accesses": a 32-bit access at +0 is the low half of a
// 64-bit register, at +4 the high half; a 32-bit write leaves the other half as it was.
TEST(ItsRegisters, ThirtyTwoBitAccessesReachEachHalf) {
    GicHarness h;
    Its& its = h.gic.its();
    const uint64_t typer = its.read64(GITS_TYPER);
    EXPECT_EQ(its.read(GITS_TYPER, 4), typer & 0xFFFF'FFFF);
    EXPECT_EQ(its.read(GITS_TYPER + 4, 4), typer >> 32);
    EXPECT_EQ(GitsTyper::VMAPP.get(its.read(GITS_TYPER + 4, 4) << 32), 1u);

    set_enabled(its, false);
    const uint64_t cbaser = GitsCbaser::Valid.make(1) | 0x000F'1234'5678'9000 | GitsCbaser::Size.make(3);
    its.write(GITS_CBASER, cbaser & 0xFFFF'FFFF, 4);
    its.write(GITS_CBASER + 4, cbaser >> 32, 4);
    EXPECT_EQ(its.read64(GITS_CBASER), cbaser);
    EXPECT_EQ(its.read(GITS_CBASER + 4, 4), cbaser >> 32);
    its.write(GITS_CBASER + 4, 0, 4);  // clears Valid and the address's high bits only
    EXPECT_EQ(its.read64(GITS_CBASER), cbaser & 0xFFFF'FFFF);

    GitsBaser b = GitsBaser::decode(its.read64(gits_baser(1)));
    b.valid = true;
    b.phys_addr = 0x0000'ABCD'1234'5000;
    b.size = 2;
    const uint64_t raw = b.encode();
    its.write(gits_baser(1), raw & 0xFFFF'FFFF, 4);
    its.write(gits_baser(1) + 4, raw >> 32, 4);
    EXPECT_EQ(its.read64(gits_baser(1)), raw);
    EXPECT_EQ(its.read(gits_baser(1) + 4, 4), raw >> 32);

    its.write(GITS_CWRITER, 0x40, 4);
    EXPECT_EQ(its.read(GITS_CWRITER, 4), 0x40u);
    EXPECT_EQ(its.read(GITS_CWRITER + 4, 4), 0u);
    EXPECT_EQ(its.read(GITS_CREADR, 4), 0u);
}

// its.h: an offset that is no ITS register is RAZ/WI, and logged.
TEST(ItsRegisters, UnimplementedOffsetsAreRazWiAndLogged) {
    GicHarness h;
    const size_t ignored = h.count(EventKind::Ignored);
    EXPECT_EQ(h.gic.its().read64(0x0040), 0u);
    h.gic.its().write64(0x0040, ~uint64_t{0});
    EXPECT_EQ(h.gic.its().read64(0x0040), 0u);
    EXPECT_EQ(h.count(EventKind::Ignored), ignored + 3);
    EXPECT_EQ(h.count(EventKind::GuestError), 0u);
}

// ---------------------------------------------------------------------------------------------
// GITS_CBASER, GITS_CWRITER, GITS_CREADR

// IHI 0069 GITS_CBASER (its.h): writing GITS_CBASER resets GITS_CREADR to 0 (and clears a stall).
TEST(ItsCbaser, WriteResetsCreadr) {
    GicHarness h;
    Its& its = h.gic.its();
    h.map_device(1);
    h.cmd(build::mapc(0, 0, true));
    ASSERT_EQ(its.read64(GITS_CREADR), 64u);
    set_enabled(its, false);
    its.write64(GITS_CBASER, GitsCbaser::Valid.make(1) | kOtherQueue | GitsCbaser::Size.make(15));
    EXPECT_EQ(its.read64(GITS_CREADR), 0u);
    EXPECT_EQ(its.read64(GITS_CBASER), GitsCbaser::Valid.make(1) | kOtherQueue | GitsCbaser::Size.make(15));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// its.cc (IHI 0069: UNPREDICTABLE): GITS_CBASER written while the ITS is enabled is ignored with a
// GuestError; CREADR is not reset.
TEST(ItsCbaser, WriteWhileEnabledIsIgnored) {
    GicHarness h;
    Its& its = h.gic.its();
    h.map_device(1);
    const uint64_t before = its.read64(GITS_CBASER);
    its.write64(GITS_CBASER, GitsCbaser::Valid.make(1) | kOtherQueue);
    EXPECT_EQ(its.read64(GITS_CBASER), before);
    EXPECT_EQ(its.read64(GITS_CREADR), 32u);
    ASSERT_EQ(h.count(EventKind::GuestError), 1u);
    EXPECT_EQ(last_of(h, EventKind::GuestError).point, &tp::kItsWriteCbaserError);
    its.write(GITS_CBASER + 4, 0, 4);  // a 32-bit half is refused too
    EXPECT_EQ(its.read64(GITS_CBASER), before);
    EXPECT_EQ(h.count(EventKind::GuestError), 2u);
}

// reference/arm §1.1 (the ITS consumes each command once, advancing CREADR towards CWRITER):
// after GITS_CBASER shrinks the queue below the old GITS_CWRITER, the ITS must not go round the
// ring replaying commands. (KVM's vITS, vgic_mmio_write_its_cbaser, sets CWRITER to CREADR on a
// CBASER write; not in reference/. A CWRITER write beyond the queue is refused, its.cc.) With
// policy ignore the replay would never end, so this test runs under stall, where it ends when a
// replayed command fails.
TEST(ItsCbaser, ShrinkingTheQueueNeverReplaysCommands) {
    GicHarness h(with_policies(ErrorResponse::Stall));
    Its& its = h.gic.its();
    h.map_device(1);
    h.cmd(build::mapc(0, 0, true));
    for (int i = 0; i < 130; ++i) h.cmd(build::sync(0));
    ASSERT_EQ(its.cwriter(), 132u * 32);  // beyond a 4 KiB queue
    set_enabled(its, false);
    // A 4 KiB queue: slot 0 maps an LPI (an error the second time), slots 1..127 are SYNCs.
    for (uint64_t slot = 0; slot < k4K; slot += 32) {
        ItsCommand c = slot == 0 ? build::mapti(1, 0, kLpi, 0) : build::sync(0);
        uint8_t raw[ItsCommand::kBytes];
        c.encode(raw);
        ASSERT_EQ(h.mem.host.write_bytes(kOtherQueue + slot, raw), MemFault::None);
    }
    its.write64(GITS_CBASER, GitsCbaser::Valid.make(1) | kOtherQueue | GitsCbaser::Size.make(0));
    ASSERT_EQ(its.creadr(), 0u);
    set_enabled(its, true);
    EXPECT_LE(count_ops(h, tp::kItsMapti), 1u)
        << "GITS_CWRITER " << its.cwriter() << " lies beyond the 4 KiB queue: the ITS went round the ring and "
        << "replayed slot 0";
    for (const Event& e : h.log.events())
        EXPECT_FALSE(e.kind == EventKind::GuestError && contains(e.rule, "already mapped")) << to_string(e);
}

// its.cc (IHI 0069: UNPREDICTABLE): a GITS_CWRITER beyond the command queue is ignored with a
// GuestError. (Under policy stall, so that a regression stops at the first empty
// slot instead of circling the ring.)
TEST(ItsCwriter, BeyondTheQueueIsIgnored) {
    GicHarness h(with_policies(ErrorResponse::Stall));
    Its& its = h.gic.its();
    h.map_device(1);
    its.write64(GITS_CWRITER, 0x1'0000);  // the harness queue is 64 KiB
    EXPECT_EQ(its.cwriter(), 32u);
    EXPECT_EQ(its.creadr(), 32u);
    ASSERT_EQ(h.count(EventKind::GuestError), 1u);
    EXPECT_EQ(last_of(h, EventKind::GuestError).point, &tp::kItsWriteCwriterError);

    set_enabled(its, false);
    its.write64(GITS_CBASER, GitsCbaser::Valid.make(1) | kOtherQueue | GitsCbaser::Size.make(0));  // 4 KiB
    its.write64(GITS_CWRITER, 0);
    set_enabled(its, true);
    its.write64(GITS_CWRITER, 0x1000);
    EXPECT_EQ(its.cwriter(), 0u);
    EXPECT_EQ(h.count(EventKind::GuestError), 2u);
    set_enabled(its, false);
    its.write64(GITS_CWRITER, 0xFE0);  // the last slot of the 4 KiB queue is within it
    EXPECT_EQ(its.cwriter(), 0xFE0u);
    EXPECT_EQ(h.count(EventKind::GuestError), 2u);
}

// reference/arm §1.1 (the queue is a ring): filling the 64 KiB queue past its end wraps CREADR to
// 0, and commands after the wrap still execute.
TEST(ItsQueue, WrapsAroundAtItsEnd) {
    GicHarness h;
    Its& its = h.gic.its();
    const uint64_t slots = 0x1'0000 / ItsCommand::kBytes;
    for (uint64_t i = 0; i + 1 < slots; ++i) h.cmd(build::sync(0));
    ASSERT_EQ(its.creadr(), 0x1'0000u - 32);
    h.map_device(1);  // the last slot
    EXPECT_EQ(its.creadr(), 0u);
    EXPECT_EQ(its.cwriter(), 0u);
    EXPECT_TRUE(dte_at(h, kDeviceTable + 8).valid);
    h.cmd(build::mapc(0, 0, true));
    h.cmd(build::mapti(1, 0, kLpi, 0));
    EXPECT_EQ(its.creadr(), 64u);
    EXPECT_TRUE(ite_of(h, 1, 0).valid);
    EXPECT_EQ(h.count(EventKind::GuestError), 0u);
    h.msi(1, 0);
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
}

// ---------------------------------------------------------------------------------------------
// Stall and retry (policy arm.its_command_error = stall)

/// Device 1 and collection 0 mapped; then MAPTI for unmapped device 2 (the bad command) and MAPTI
/// for device 1.
struct StalledQueue : ::testing::Test {
    GicHarness h{with_policies(ErrorResponse::Stall)};
    uint64_t bad = 0;
    void SetUp() override {
        h.map_device(1);
        h.cmd(build::mapc(0, 0, true));
        bad = h.gic.its().cwriter();
        h.cmd(build::mapti(2, 0, kLpi, 0));
        h.cmd(build::mapti(1, 0, kLpi + 1, 0));
    }
    Its& its() { return h.gic.its(); }
};

// config.h ErrorResponse::Stall (IHI 0069 GITS_CREADR.Stalled): the queue stops at the bad
// command: CREADR points at it with Stalled = 1 and later commands do not run.
TEST_F(StalledQueue, CreadrStopsAtTheBadCommandWithStalledSet) {
    EXPECT_TRUE(its().stalled());
    EXPECT_EQ(its().read64(GITS_CREADR), bad | GitsCreadr::Stalled.make(1));
    EXPECT_EQ(its().cwriter(), bad + 64);
    EXPECT_FALSE(ite_of(h, 1, 0).valid);
    ASSERT_EQ(h.count(EventKind::GuestError), 1u) << h.text();
    EXPECT_TRUE(contains(last_of(h, EventKind::GuestError).rule, "policy arm.its_command_error=stall"));
    EXPECT_EQ(its().read(GITS_CTLR, 4) & GitsCtlr::Enabled.make(1), GitsCtlr::Enabled.make(1));
}

// IHI 0069 GITS_CWRITER.Retry: without Retry a CWRITER write does not restart a stalled queue.
TEST_F(StalledQueue, CwriterWriteWithoutRetryDoesNotRestart) {
    h.cmd(build::sync(0));
    EXPECT_TRUE(its().stalled());
    EXPECT_EQ(its().creadr(), bad);
    EXPECT_EQ(h.count(EventKind::GuestError), 1u);
    EXPECT_EQ(count_ops(h, tp::kItsSync), 0u);
}

// IHI 0069 GITS_CWRITER.Retry: a CWRITER write with Retry = 1 re-executes the stalled command;
// once it succeeds the queue runs on to CWRITER.
TEST_F(StalledQueue, RetryReExecutesTheStalledCommand) {
    ASSERT_EQ(write_dte(h.mem.host, kDeviceTable + 2 * 8, Dte{true, itt(2), 7}), MemFault::None);  // fix the cause
    its().write64(GITS_CWRITER, its().cwriter() | GitsCwriter::Retry.make(1));
    EXPECT_FALSE(its().stalled());
    EXPECT_EQ(its().read64(GITS_CREADR), its().cwriter());
    EXPECT_EQ(ite_of(h, 2, 0), (Ite{true, false, 0, kLpi, kNoDoorbell}));
    EXPECT_EQ(ite_of(h, 1, 0), (Ite{true, false, 0, kLpi + 1, kNoDoorbell}));
    EXPECT_EQ(h.count(EventKind::GuestError), 1u);
    EXPECT_EQ(count_ops(h, tp::kItsMapti), 3u);  // the failed try, the retry, the next command
}

// IHI 0069 GITS_CWRITER.Retry: a retried command that fails again stalls again, logged again.
TEST_F(StalledQueue, RetryOfAStillFailingCommandStallsAgain) {
    its().write64(GITS_CWRITER, its().cwriter() | GitsCwriter::Retry.make(1));
    EXPECT_TRUE(its().stalled());
    EXPECT_EQ(its().creadr(), bad);
    EXPECT_EQ(h.count(EventKind::GuestError), 2u);
    EXPECT_FALSE(ite_of(h, 1, 0).valid);
}

// config.h ErrorResponse::Ignore: the bad command is dropped and the queue goes on.
TEST(ItsQueue, IgnoredCommandErrorLetsTheQueueGoOn) {
    GicHarness h(with_policies(ErrorResponse::Ignore));
    h.map_device(1);
    h.cmd(build::mapc(0, 0, true));
    h.cmd(build::mapti(2, 0, kLpi, 0));
    h.cmd(build::mapti(1, 0, kLpi + 1, 0));
    EXPECT_FALSE(h.gic.its().stalled());
    EXPECT_EQ(h.gic.its().read64(GITS_CREADR), h.gic.its().cwriter());
    EXPECT_TRUE(ite_of(h, 1, 0).valid);
    EXPECT_FALSE(ite_of(h, 2, 0).valid);
    ASSERT_EQ(h.count(EventKind::GuestError), 1u);
    EXPECT_TRUE(contains(last_of(h, EventKind::GuestError).rule, "policy arm.its_command_error=ignore"));
}

// ---------------------------------------------------------------------------------------------
// Table faults (policy arm.its_table_fault)

class TableFault : public ::testing::TestWithParam<ErrorResponse> {
   protected:
    GicHarness h{with_policies(ErrorResponse::Ignore, GetParam())};
    Its& its() { return h.gic.its(); }
    bool stall() const { return GetParam() == ErrorResponse::Stall; }

    /// One GuestError from `op` naming the table-fault policy; the queue stalled at `slot` or
    /// went on, as the policy says.
    void expect_fault(const TracePointInfo& fault, uint64_t slot) {
        ASSERT_EQ(h.count(EventKind::GuestError), 1u) << h.text();
        const Event& e = last_of(h, EventKind::GuestError);
        EXPECT_EQ(e.point, &fault) << e.op;
        EXPECT_TRUE(contains(e.rule, std::string("policy arm.its_table_fault=") + to_string(GetParam()))) << e.rule;
        EXPECT_EQ(its().stalled(), stall());
        EXPECT_EQ(its().creadr(), stall() ? slot : its().cwriter());
    }
};

// config.h table_fault: a DTE beyond host memory (a device table that runs past the top of the
// 52-bit space) is a table fault; entries inside memory work.
TEST_P(TableFault, DeviceTableEntryBeyondHostMemory) {
    GitsBaser b;
    b.valid = true;
    b.page_size = GitsBaser::kPage64K;
    b.size = 1;  // two pages: the second lies beyond host memory
    b.phys_addr = kTop - k64K;
    rewrite_baser(h, 0, b);
    ASSERT_EQ(its().table(0).base, kTop - k64K);
    h.cmd(build::mapd(5, 7, itt(5), true));
    EXPECT_TRUE(dte_at(h, kTop - k64K + 5 * 8).valid);
    const uint64_t slot = its().cwriter();
    h.cmd(build::mapd(8192 + 5, 7, itt(6), true));  // entry at kTop + 40
    h.cmd(build::mapd(6, 7, itt(6), true));
    expect_fault(tp::kItsMapdFault, slot);
    EXPECT_EQ(dte_at(h, kTop - k64K + 6 * 8).valid, !stall());
    // An MSI whose DTE cannot be read is dropped.
    const size_t ignored = h.count(EventKind::Ignored);
    h.msi(8192 + 5, 0);
    EXPECT_EQ(h.count(EventKind::Ignored), ignored + 1);
}

// config.h table_fault: an ITE beyond host memory (an ITT near the top of the space) is a table
// fault; ITEs inside memory work.
TEST_P(TableFault, IttBeyondHostMemory) {
    h.cmd(build::mapc(0, 0, true));
    h.cmd(build::mapd(1, 15, kTop - k4K, true));  // 65536 events; only the first 256 in memory
    h.cmd(build::mapti(1, 255, kLpi, 0));
    EXPECT_TRUE(read_ite(h.mem.host, kTop - 16).value.valid);
    const uint64_t slot = its().cwriter();
    h.cmd(build::mapti(1, 256, kLpi + 1, 0));
    h.cmd(build::mapti(1, 254, kLpi + 2, 0));
    expect_fault(tp::kItsMaptiFault, slot);
    EXPECT_EQ(read_ite(h.mem.host, kTop - 32).value.valid, !stall());
    h.msi(1, 255);
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
    h.msi(1, 256);  // the ITE cannot be read: dropped
    EXPECT_FALSE(h.gic.rd(0).lpi_pending(kLpi + 1));
}

// config.h table_fault ("a table, ITT or queue access outside host memory"): a command queue
// that runs past the top of host memory faults at the first slot outside.
TEST_P(TableFault, CommandQueueBeyondHostMemory) {
    set_enabled(its(), false);
    its().write64(GITS_CBASER, GitsCbaser::Valid.make(1) | (kTop - k4K) | GitsCbaser::Size.make(1));  // 8 KiB
    for (uint64_t slot = 0; slot < k4K; slot += 32) {
        uint8_t raw[ItsCommand::kBytes];
        build::sync(0).encode(raw);
        ASSERT_EQ(h.mem.host.write_bytes(kTop - k4K + slot, raw), MemFault::None);
    }
    its().write64(GITS_CWRITER, k4K + 64);
    set_enabled(its(), true);
    EXPECT_EQ(count_ops(h, tp::kItsSync), k4K / 32);
    ASSERT_GE(h.count(EventKind::GuestError), 1u);
    EXPECT_TRUE(contains(last_of(h, EventKind::GuestError).rule, "reading the command queue"));
    EXPECT_EQ(h.count(EventKind::GuestError), stall() ? 1u : 2u);
    EXPECT_EQ(its().stalled(), stall());
    EXPECT_EQ(its().creadr(), stall() ? k4K : k4K + 64);
}

INSTANTIATE_TEST_SUITE_P(BothPolicies, TableFault, ::testing::Values(ErrorResponse::Stall, ErrorResponse::Ignore),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// ---------------------------------------------------------------------------------------------
// GITS_BASER<n>

// its.h: GITS_BASER0/1/2 are the device (Type 1, 8-byte entries), collection (Type 4, 8-byte) and
// vPE (Type 2, 32-byte) tables; Type and Entry_Size are read-only, the rest as written.
TEST(ItsBaser, TypeAndEntrySizeAreReadOnly) {
    Memory mem;
    EventLog log;
    Gic gic(test_config(), mem.host, log);
    Its& its = gic.its();
    const std::vector<std::pair<BaserType, uint8_t>> fixed = {
        {BaserType::Device, 7}, {BaserType::Collection, 7}, {BaserType::Vpe, 31}};
    for (unsigned n = 0; n < 3; ++n) {
        SCOPED_TRACE(n);
        GitsBaser reset = GitsBaser::decode(its.read64(gits_baser(n)));
        EXPECT_EQ(reset.type, fixed[n].first);
        EXPECT_EQ(reset.entry_size, fixed[n].second);
        EXPECT_FALSE(reset.valid);

        GitsBaser b;
        b.valid = true;
        b.indirect = true;
        b.inner_cache = 7;
        b.type = static_cast<BaserType>(7);
        b.outer_cache = 1;
        b.entry_size = 3;
        b.phys_addr = 0x0000'1234'5678'0000;
        b.shareability = 2;
        b.page_size = GitsBaser::kPage16K;
        b.size = 9;
        its.write64(gits_baser(n), b.encode());
        GitsBaser got = GitsBaser::decode(its.read64(gits_baser(n)));
        GitsBaser want = b;
        want.type = fixed[n].first;
        want.entry_size = fixed[n].second;
        EXPECT_EQ(got, want);
    }
}

// its.h: GITS_BASER3..7 are not implemented: RAZ/WI, each write logged as ignored.
TEST(ItsBaser, Baser3To7AreRazWi) {
    Memory mem;
    EventLog log;
    Gic gic(test_config(), mem.host, log);
    for (unsigned n = 3; n < kGitsBaserCount; ++n) {
        SCOPED_TRACE(n);
        EXPECT_EQ(gic.its().read64(gits_baser(n)), 0u);
        gic.its().write64(gits_baser(n), ~uint64_t{0});
        gic.its().write(gits_baser(n) + 4, 0xFFFF'FFFF, 4);
        EXPECT_EQ(gic.its().read64(gits_baser(n)), 0u);
    }
    EXPECT_EQ(log.count(EventKind::Ignored), 2 * (kGitsBaserCount - 3) + 0u);
    EXPECT_EQ(log.count(EventKind::GuestError), 0u);
}

// its.cc (IHI 0069: UNPREDICTABLE): GITS_BASER<n> written while the ITS is enabled is ignored with
// a GuestError.
TEST(ItsBaser, WriteWhileEnabledIsIgnored) {
    GicHarness h;
    for (unsigned n = 0; n < 3; ++n) {
        SCOPED_TRACE(n);
        const uint64_t before = h.gic.its().read64(gits_baser(n));
        h.gic.its().write64(gits_baser(n), 0);
        h.gic.its().write(gits_baser(n) + 4, 0, 4);
        EXPECT_EQ(h.gic.its().read64(gits_baser(n)), before);
        EXPECT_EQ(last_of(h, EventKind::GuestError).point, &tp::kItsWriteBaserError);
    }
    EXPECT_EQ(h.count(EventKind::GuestError), 6u);
}

// ---------------------------------------------------------------------------------------------
// Flat and two-level device tables, every page size

class DeviceTablePages : public ::testing::TestWithParam<uint8_t> {
   protected:
    static GicConfig wide() {
        GicConfig c = test_config();
        c.device_id_bits = 28;  // so that every table's capacity is within GITS_TYPER.Devbits
        return c;
    }
    GicHarness h{wide()};
    uint64_t page() const { return GitsBaser{.page_size = GetParam()}.page_bytes(); }
    uint64_t per_page() const { return page() / Dte::kBytes; }

    void use_table(bool indirect) {
        GitsBaser b;
        b.valid = true;
        b.indirect = indirect;
        b.page_size = GetParam();
        b.size = 0;
        b.phys_addr = kLevel1;
        rewrite_baser(h, 0, b);
    }
    void set_l1(uint64_t index, uint64_t l2, bool valid = true) {
        ASSERT_EQ(h.mem.host.write64(kLevel1 + index * 8, L1Entry::Valid.make(valid) | l2), MemFault::None);
    }
    void expect_error(const std::string& problem) {
        const Event& e = last_of(h, EventKind::GuestError);
        EXPECT_EQ(e.point, &tp::kItsMapdError) << e.op;
        EXPECT_TRUE(contains(e.rule, problem)) << e.rule;
    }
};

// IHI 0069 GITS_BASER (flat): one page of Page_Size bytes holds page / 8 DTEs; DeviceID n is at
// base + 8n, and the first DeviceID beyond the page is a command error.
TEST_P(DeviceTablePages, FlatTableCapacityIsPageOverEntrySize) {
    use_table(false);
    EXPECT_EQ(h.gic.its().table(0).capacity(), per_page());
    const uint32_t last = static_cast<uint32_t>(per_page() - 1);
    h.cmd(build::mapd(last, 7, itt(1), true));
    EXPECT_EQ(dte_at(h, kLevel1 + uint64_t{last} * 8), (Dte{true, itt(1), 7}));
    ASSERT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    h.cmd(build::mapd(last + 1, 7, itt(1), true));
    ASSERT_EQ(h.count(EventKind::GuestError), 1u);
    expect_error("ID beyond the table");
}

// reference/arm §1.1 (architected level-1 entry: Valid[63], PhysAddr[51:12]): a two-level table
// maps DeviceID n through level-1 entry n / (page / 8) to its level-2 page; MSIs translate
// through it.
TEST_P(DeviceTablePages, TwoLevelTableWritesThroughAValidLevel1Entry) {
    use_table(true);
    const uint64_t l2 = kLevel2 + page();
    set_l1(3, l2);
    const uint32_t device = static_cast<uint32_t>(3 * per_page() + 17);
    h.cmd(build::mapd(device, 7, itt(1), true));
    ASSERT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_EQ(dte_at(h, l2 + 17 * 8), (Dte{true, itt(1), 7}));
    h.cmd(build::mapc(0, 0, true));
    h.cmd(build::mapti(device, 4, kLpi, 0));
    EXPECT_EQ(ite_of(h, 1, 4), (Ite{true, false, 0, kLpi, kNoDoorbell}));
    h.msi(device, 4);
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
}

// IHI 0069 (two-level tables): a DeviceID whose level-1 entry is not valid has no DTE: MAPD is a
// command error that writes nothing, and an MSI from it is dropped.
TEST_P(DeviceTablePages, TwoLevelTableWithAnInvalidLevel1EntryRefusesTheDevice) {
    use_table(true);
    set_l1(2, kLevel2, /*valid=*/false);  // an address, but Valid = 0
    const uint32_t device = static_cast<uint32_t>(2 * per_page() + 1);
    const uint64_t writes = h.mem.host.stats().writes;
    h.cmd(build::mapd(device, 7, itt(1), true));
    ASSERT_EQ(h.count(EventKind::GuestError), 1u) << h.text();
    expect_error("level-1 entry not valid");
    EXPECT_EQ(h.mem.host.stats().writes, writes + 1);  // the command only
    EXPECT_FALSE(dte_at(h, kLevel2 + 8).valid);
    const size_t ignored = h.count(EventKind::Ignored);
    h.msi(device, 0);
    EXPECT_EQ(h.count(EventKind::Ignored), ignored + 1);
}

// IHI 0069 (two-level tables): one page of level-1 entries covers (page / 8) level-2 pages of
// page / 8 DTEs each; the last DeviceID works, the next is beyond the table.
TEST_P(DeviceTablePages, TwoLevelTableCapacityIsLevel1EntriesTimesPageEntries) {
    use_table(true);
    EXPECT_EQ(h.gic.its().table(0).capacity(), per_page() * per_page());
    set_l1(per_page() - 1, kLevel2);
    const uint32_t last = static_cast<uint32_t>(per_page() * per_page() - 1);
    h.cmd(build::mapd(last, 7, itt(1), true));
    ASSERT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    EXPECT_TRUE(dte_at(h, kLevel2 + (per_page() - 1) * 8).valid);
    h.cmd(build::mapd(last + 1, 7, itt(1), true));
    ASSERT_EQ(h.count(EventKind::GuestError), 1u);
    expect_error("ID beyond the table");
}

INSTANTIATE_TEST_SUITE_P(
    AllPageSizes, DeviceTablePages, ::testing::Values(GitsBaser::kPage4K, GitsBaser::kPage16K, GitsBaser::kPage64K),
    [](const auto& info) {
        return std::string(info.param == GitsBaser::kPage4K ? "4K" : info.param == GitsBaser::kPage16K ? "16K" : "64K");
    });

// ---------------------------------------------------------------------------------------------
// Translation

/// Device 1: event 0 = LPI 8200 in collection 1 (redistributor 1), event 1 = LPI 8201 in
/// collection 5 (not mapped), event 2 = vLPI 8192 of vPE 0, event 3 = a virtual ITE for vPE 7
/// (no ITS maps it), event 4 no ITE. LPIs enabled everywhere; host interrupts recorded.
struct Translation : ::testing::Test {
    GicHarness h;
    std::vector<HostIrq> host_irqs;

    void SetUp() override {
        h.gic.set_host_irq_handler([this](unsigned rd, uint32_t intid) { host_irqs.emplace_back(rd, intid); });
        h.enable_lpis(0);
        h.enable_lpis(1);
        h.lpi_config(kLpi, 0xA0, true);
        h.lpi_config(kLpi + 1, 0xA0, true);
        h.vlpi_config(kVlpi, 0x80, true);
        h.map_device(1);
        h.cmd(build::mapc(0, 0, true));
        h.cmd(build::mapc(1, 1, true));
        h.cmd(build::mapti(1, 0, kLpi, 1));
        h.cmd(build::mapti(1, 1, kLpi + 1, 5));
        h.map_vpe(0, 0);
        h.cmd(build::vmapti(1, 2, 0, kVlpi, kNoDoorbell));
        ASSERT_EQ(write_ite(h.mem.host, itt(1) + 3 * 16, Ite{true, true, 7, kVlpi, kNoDoorbell}), MemFault::None);
        ASSERT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    }

    /// An MSI (device, event) is dropped: one Ignored event from ITS.translate whose rule says
    /// `why`, no GuestError, and no pending state, host interrupt or memory write.
    void expect_dropped(uint32_t device, uint32_t event, const std::string& why) {
        SCOPED_TRACE(why);
        const size_t ignored = h.count(EventKind::Ignored), errors = h.count(EventKind::GuestError);
        const uint64_t writes = h.mem.host.stats().writes;
        const std::set<uint32_t> p0 = h.gic.rd(0).pending_lpis(), p1 = h.gic.rd(1).pending_lpis();
        const bool vlpi = h.gic.rd(0).vlpi_pending(0, kVlpi);
        const size_t irqs = host_irqs.size();
        h.msi(device, event);
        ASSERT_EQ(h.count(EventKind::Ignored), ignored + 1) << h.text();
        const Event& e = last_of(h, EventKind::Ignored);
        EXPECT_TRUE(
            Points({tp::kItsTranslateIgnored, tp::kItsTranslateNoCollectionIgnored, tp::kItsTranslateNoVpeIgnored})
                .matches(e))
            << e.op;
        EXPECT_TRUE(contains(e.rule, why)) << e.rule;
        EXPECT_EQ(h.count(EventKind::GuestError), errors);
        EXPECT_EQ(h.mem.host.stats().writes, writes);
        EXPECT_EQ(h.gic.rd(0).pending_lpis(), p0);
        EXPECT_EQ(h.gic.rd(1).pending_lpis(), p1);
        EXPECT_EQ(h.gic.rd(0).vlpi_pending(0, kVlpi), vlpi);
        EXPECT_EQ(host_irqs.size(), irqs);
    }
};

// reference/arm §1.1: an MSI is translated DeviceID -> DTE -> ITE -> collection -> redistributor;
// the physical LPI becomes pending there and, enabled, is signalled to that CPU.
TEST_F(Translation, MsiToAPhysicalLpiBecomesPendingOnTheCollectionsRedistributor) {
    h.msi(1, 0);
    EXPECT_TRUE(h.gic.rd(1).lpi_pending(kLpi));
    EXPECT_FALSE(h.gic.rd(0).lpi_pending(kLpi));
    EXPECT_EQ(host_irqs, (std::vector<HostIrq>{{1, kLpi}}));
    EXPECT_EQ(h.count({tp::kItsTranslateIgnored, tp::kItsTranslateNoCollectionIgnored, tp::kItsTranslateNoVpeIgnored,
                       tp::kItsTranslate, tp::kItsTranslateVirtual}),
              1u);
    EXPECT_EQ(h.gic.rd(1).acknowledge_lpi(), kLpi);
    EXPECT_FALSE(h.gic.rd(1).lpi_pending(kLpi));
}

// reference/arm §1.1: an MSI for a vLPI becomes pending for the vPE on its redistributor.
TEST_F(Translation, MsiToAVlpiBecomesPendingForTheVpe) {
    h.msi(1, 2);
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    EXPECT_TRUE(h.gic.rd(0).pending_lpis().empty());
    EXPECT_EQ(h.count(EventKind::Ignored), 0u) << h.text();
}

// its.h Its::translate ("a write that does not translate is discarded and logged (the
// architecture drops it)"): every translation failure drops the MSI with an Ignored event and
// changes nothing.
TEST_F(Translation, EveryTranslationFailureDropsTheMsiAndChangesNothing) {
    expect_dropped(1u << 16, 0, "DeviceID out of range");
    expect_dropped(40000, 0, "no device table entry");  // beyond the 32768-entry device table
    expect_dropped(2, 0, "device not mapped");
    expect_dropped(1, 256, "EventID beyond the ITT");
    expect_dropped(1, 4, "no ITE");
    expect_dropped(1, 1, "collection not mapped");
    expect_dropped(1, 3, "vPE not mapped");
    set_enabled(h.gic.its(), false);
    expect_dropped(1, 0, "the ITS is disabled");
    set_enabled(h.gic.its(), true);
    h.msi(1, 0);  // and the ITS still translates afterwards
    EXPECT_TRUE(h.gic.rd(1).lpi_pending(kLpi));
}

// reference/arm §1.1: a vLPI whose vPE this ITS no longer maps (VMAPP V=0) is dropped.
TEST_F(Translation, MsiAfterTheVpeIsUnmappedIsDropped) {
    build::Vmapp unmap;
    unmap.vpeid = 0;
    unmap.valid = false;
    h.cmd(build::vmapp(unmap));
    ASSERT_FALSE(h.gic.its().maps_vpe(0));
    expect_dropped(1, 2, "vPE not mapped");
}

// reference/arm §1.1, §1.7 (each ITS maps the vPEs it translates for): a vLPI whose vPE only
// another ITS maps is dropped by this one, and delivered through the one that maps it.
TEST(TranslationTwoIts, MsiForAVpeMappedOnlyByAnotherItsIsDropped) {
    GicConfig config = test_config();
    config.its_count = 2;
    GicHarness h(config);
    h.map_vpe(0, 0, /*ptz=*/true, kDoorbell, /*its=*/1);
    h.map_device(1, 0);
    ASSERT_EQ(write_ite(h.mem.host, itt(1), Ite{true, true, 0, kVlpi, kNoDoorbell}), MemFault::None);
    h.map_device(2, 1);
    h.cmd(build::vmapti(2, 0, 0, kVlpi + 1, kNoDoorbell), 1);
    ASSERT_EQ(h.count(EventKind::GuestError), 0u) << h.text();

    h.msi(1, 0);
    EXPECT_FALSE(h.gic.rd(0).vlpi_pending(0, kVlpi));
    EXPECT_TRUE(contains(last_of(h, EventKind::Ignored).rule, "vPE not mapped"));
    h.msi(2, 0, 1);
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi + 1));
}

// its.h: a GITS_TRANSLATER write through Its::write carries no DeviceID: it is ignored and logged
// (devices write it on the bus, Gic::msi, which supplies the DeviceID).
TEST_F(Translation, TranslaterWriteThroughItsWriteIsIgnored) {
    const size_t ignored = h.count(EventKind::Ignored);
    h.gic.its().write(GITS_TRANSLATER, 0, 4);
    ASSERT_EQ(h.count(EventKind::Ignored), ignored + 1);
    EXPECT_EQ(last_of(h, EventKind::Ignored).point, &tp::kItsWriteTranslaterIgnored);
    EXPECT_TRUE(h.gic.rd(0).pending_lpis().empty());
    EXPECT_TRUE(h.gic.rd(1).pending_lpis().empty());
    EXPECT_TRUE(host_irqs.empty());
}

/// One way an MSI fails to translate, as today's event log records it.
struct DropCase {
    uint32_t device, event;
    std::string rule;             // the Ignored event's rule, exactly
    std::vector<EventArg> extra;  // after its, device, event
};

// its.cc translation_error (the texts are unchanged by the shared lookup pipeline): each failure
// logs exactly one Ignored ITS.translate with its rule and its, device, event and (for the
// collection and vPE stages) the ICID or vPEID.
TEST_F(Translation, EachTranslationErrorKeepsItsEventExactly) {
    ASSERT_EQ(write_ite(h.mem.host, itt(1) + 5 * 16, Ite{true, true, 0, 1u << 16, kNoDoorbell}), MemFault::None);
    const std::vector<DropCase> cases = {
        {1u << 16, 0, "translation error: DeviceID out of range, MSI dropped", {}},
        {40000, 0, "translation error: no device table entry, MSI dropped", {}},
        {2, 0, "translation error: device not mapped, MSI dropped", {}},
        {1, 256, "translation error: EventID beyond the ITT, MSI dropped", {}},
        {1, 4, "translation error: no ITE for the EventID, MSI dropped", {}},
        {1, 1, "translation error: collection not mapped, MSI dropped", {{"icid", int64_t{5}}}},
        {1, 3, "translation error: vPE not mapped, MSI dropped", {{"vpe", int64_t{7}}}},
        {1, 5, "translation error: vINTID beyond the vPE's VPT, MSI dropped", {{"vpe", int64_t{0}}}},
    };
    for (const DropCase& c : cases) {
        SCOPED_TRACE(c.rule);
        const size_t events = h.log.events().size();
        h.msi(c.device, c.event);
        ASSERT_EQ(h.log.events().size(), events + 1) << h.text();
        const Event& e = h.log.events().back();
        EXPECT_TRUE(
            Points({tp::kItsTranslateIgnored, tp::kItsTranslateNoCollectionIgnored, tp::kItsTranslateNoVpeIgnored})
                .matches(e))
            << to_string(e);
        EXPECT_EQ(e.kind, EventKind::Ignored);
        EXPECT_EQ(e.layer, Layer::Hardware);
        EXPECT_EQ(e.rule, c.rule);
        std::vector<EventArg> args = {{"its", int64_t{0}}, {"device", int64_t{c.device}}, {"event", int64_t{c.event}}};
        args.insert(args.end(), c.extra.begin(), c.extra.end());
        EXPECT_EQ(e.args, args);
    }
}

/// A (DeviceID, EventID) of the Translation fixture that fails at `stage`, and what an INT
/// command naming it reports.
struct StageCase {
    const char* name;
    uint32_t device, event;
    LookupStage stage;
    std::string command_problem;  // part of the INT's GuestError rule
};

class SameLookupStage : public Translation, public ::testing::WithParamInterface<StageCase> {};

// its.h LookupStage (reference/arm §1.1: INT, TRANSLATER, CLEAR and DISCARD share one path): an
// INT and an MSI of the same bad DeviceID/EventID stop at the same stage of the one lookup; the
// command reports a command error (or a table fault), the MSI is dropped with that stage's
// translation error.
TEST_P(SameLookupStage, CommandAndMsiFailAtTheSameStage) {
    const StageCase& c = GetParam();
    // ITT of device 9 at the top of host memory: its ITE for EventID 256 cannot be read.
    h.cmd(build::mapd(9, 15, Memory::kHostSize - 0x1000, true));
    ASSERT_EQ(h.count(EventKind::GuestError), 0u) << h.text();

    const ItsCommand int_cmd = build::int_(c.device, c.event);
    const LookupContext command(int_cmd);
    const LookupContext msi = LookupContext::msi(c.device, c.event);
    EventRoute route;
    EXPECT_NE(h.gic.its().lookup_event(command, c.device, c.event, route), CmdResult::Ok);
    EXPECT_NE(h.gic.its().lookup_event(msi, c.device, c.event, route), CmdResult::Ok);
    EXPECT_EQ(command.failed(), c.stage);
    EXPECT_EQ(msi.failed(), c.stage);

    // End to end: the MSI over the bus, then the command through the queue (a table fault may
    // stall it, so it goes last).
    h.msi(c.device, c.event);
    const Event& dropped = last_of(h, EventKind::Ignored);
    EXPECT_TRUE(Points({tp::kItsTranslateIgnored, tp::kItsTranslateNoCollectionIgnored, tp::kItsTranslateNoVpeIgnored})
                    .matches(dropped))
        << to_string(dropped);
    EXPECT_EQ(dropped.rule, translation_error(c.stage));
    h.cmd(int_cmd);
    const Event& error = last_of(h, EventKind::GuestError);
    EXPECT_TRUE(Points({tp::kItsIntError, tp::kItsIntFault}).matches(error)) << to_string(error);
    EXPECT_TRUE(contains(error.rule, c.command_problem)) << error.rule;
    EXPECT_FALSE(h.gic.rd(1).lpi_pending(kLpi + 1));
}

INSTANTIATE_TEST_SUITE_P(
    EveryStage, SameLookupStage,
    ::testing::Values(StageCase{"DeviceId", 1u << 16, 0, LookupStage::DeviceId, "beyond GITS_TYPER.Devbits"},
                      StageCase{"DeviceTable", 40000, 0, LookupStage::DeviceTable, "device table entry of DeviceID"},
                      StageCase{"Device", 2, 0, LookupStage::Device, "DeviceID 0x2 is not mapped (MAPD)"},
                      StageCase{"EventId", 1, 256, LookupStage::EventId, "EventID 0x100 beyond the ITT"},
                      StageCase{"IteInvalid", 1, 4, LookupStage::Ite, "no mapping for DeviceID 0x1 EventID 0x4"},
                      StageCase{"IteUnreadable", 9, 256, LookupStage::Ite, "memory fault reading an ITE"},
                      StageCase{"Collection", 1, 1, LookupStage::Collection, "collection 5 is not mapped (MAPC)"},
                      StageCase{"Vpe", 1, 3, LookupStage::Vpe, "vPE 7 is not mapped on this ITS (VMAPP)"}),
    [](const ::testing::TestParamInfo<StageCase>& info) { return std::string(info.param.name); });

// its.h LookupContext: a lookup that succeeds records no failed stage, under either context.
TEST_F(Translation, ALookupThatSucceedsRecordsNoStage) {
    const ItsCommand int_cmd = build::int_(1, 0);
    const LookupContext command(int_cmd);
    const LookupContext msi = LookupContext::msi(1, 2);
    EventRoute route;
    ASSERT_EQ(h.gic.its().lookup_event(command, 1, 0, route), CmdResult::Ok);
    EXPECT_EQ(route.rd, &h.gic.rd(1));
    EXPECT_FALSE(command.failed().has_value());
    ASSERT_EQ(h.gic.its().lookup_event(msi, 1, 2, route), CmdResult::Ok);
    EXPECT_EQ(route.rd, &h.gic.rd(0));
    EXPECT_TRUE(route.ref.ite.is_virtual);
    EXPECT_FALSE(msi.failed().has_value());
}

// ---------------------------------------------------------------------------------------------
// GITS_SGIR (GICv4.1)

/// The vSGI pending bits of vPE `v` as GICR_VSGIR / GICR_VSGIPENDR report them (reference/arm §1.3).
uint64_t vsgi_pending(GicHarness& h, uint32_t v) {
    h.gic.rd(0).write64(kGicrVlpiFrame + GICR_VSGIR, GicrVsgir::vPEID.make(v));
    return GicrVsgipendr::Pending.get(h.gic.rd(0).read64(kGicrVlpiFrame + GICR_VSGIPENDR));
}

uint64_t sgir(uint32_t vpe, unsigned sgi) { return GitsSgir::vPEID.make(vpe) | GitsSgir::vINTID.make(sgi); }

// reference/arm §1.3: GITS_SGIR (4.1) vPEID[47:32] vINTID[3:0] makes a vSGI pending directly.
TEST(ItsSgir, MakesAVsgiPendingOnGicV41) {
    GicHarness h;
    h.map_vpe(4, 1);
    h.gic.its().write64(GITS_SGIR, sgir(4, 3));
    h.gic.its().write64(GITS_SGIR, sgir(4, 15));
    EXPECT_TRUE(h.gic.rd(1).vpe(4)->sgis[3].pending);
    EXPECT_EQ(vsgi_pending(h, 4), (1u << 3) | (1u << 15));
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// its.h: a vSGI for a vPE this ITS does not map, or sent while the ITS is disabled, is dropped.
TEST(ItsSgir, ToAnUnmappedVpeOrADisabledItsIsDropped) {
    GicHarness h;
    h.map_vpe(4, 1);
    h.gic.its().write64(GITS_SGIR, sgir(5, 3));
    EXPECT_EQ(last_of(h, EventKind::Ignored).point, &tp::kItsWriteSgirIgnored);
    set_enabled(h.gic.its(), false);
    const size_t ignored = h.count(EventKind::Ignored);
    h.gic.its().write64(GITS_SGIR, sgir(4, 3));
    EXPECT_EQ(h.count(EventKind::Ignored), ignored + 1);
    EXPECT_EQ(vsgi_pending(h, 4), 0u);
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// reference/arm §1.7: vSGIs are GICv4.1 only; on GICv4.0 GITS_SGIR is an unimplemented offset (WI).
TEST(ItsSgir, IsNotImplementedOnGicV40) {
    GicHarness h(test_config(GicVersion::V4_0));
    h.map_vpe(4, 1);
    const size_t ignored = h.count(EventKind::Ignored);
    h.gic.its().write64(GITS_SGIR, sgir(4, 3));
    ASSERT_EQ(h.count(EventKind::Ignored), ignored + 1);
    EXPECT_EQ(last_of(h, EventKind::Ignored).point, &tp::kItsWriteIgnored);
    EXPECT_EQ(count_ops(h, tp::kItsWriteSgir), 0u);
    EXPECT_FALSE(h.gic.rd(1).vpe(4)->sgis[3].pending);
}

}  // namespace
}  // namespace irqdiff::arm::testing
