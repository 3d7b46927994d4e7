// Machine mode's migration (issue 16 items 6 and 8; docs/machine.md "Migration"): the project's
// GIC guests migrated for real — save through the ARM backend's plan table, the versioned stream,
// a fresh destination — at smp 1, 4 and 8; the assigned-device migration under every arm.transfer;
// the stream's errors; determinism.
#include <gtest/gtest.h>

#include <map>

#include "arm_gic/machine/migration.h"
#include "arm_gic/machine/session.h"
#include "arm_gic/machine/test_report.h"
#include "core/errors.h"
#include "tests/machine/machine_test_util.h"

namespace irqdiff::arm::machine {
namespace {

using namespace testing;

SessionConfig config(uint32_t smp, const std::string& append = "") {
    SessionConfig c;
    c.board.smp = smp;
    c.board.append = append;
    c.board.max_insns = 60'000'000;
    c.board.migrate_on = "Now migrate the VM, then press a key to continue...";
    return c;
}

void expect_passed(const MachineResult& r, size_t at_least) {
    EXPECT_EQ(r.exit, ExitReason::SystemOff) << (r.fault ? r.fault->reason : "") << "\n" << r.uart;
    TestReport t = parse_test_report(r.uart);
    EXPECT_TRUE(t.passed()) << r.uart;
    EXPECT_GE(t.count("PASS"), at_least) << r.uart;
    EXPECT_EQ(t.count("SKIP"), 0u) << r.uart;  // the key came: the migration happened
}

/// The places of LPI `intid` after migration step `step` ("" when nowhere or not reported).
std::string where(const MigrationReport& m, uint32_t vcpu, uint32_t intid, const std::string& step) {
    for (size_t s = 0; s < m.steps.size(); ++s)
        if (m.steps[s] == step)
            for (const LpiTrace& t : m.lpis)
                if (t.vcpu == vcpu && t.intid == intid) return t.where.at(s);
    return "";
}

class MachineLpiMigration : public ::testing::TestWithParam<uint32_t> {};

// lpi_migrate (tests/machine/guests/lpi_migrate.c): 8 LPIs over all CPUs, the first 5 masked in
// their configuration and made pending with INT. KVM's SAVE_PENDING_TABLES writes them into the
// guest pending tables (vgic_v3_save_pending_tables), the destination's RESTORE_TABLES reads them
// back into pending_latch (vgic_its_restore_ite -> vgic_add_lpi), and each is taken once when the
// guest unmasks it.
TEST_P(MachineLpiMigration, MaskedPendingLpisTravelInTheGuestPendingTableAndAreTakenOnce_vgic_v3_save_pending_tables) {
    IRQDIFF_NEED_GUESTS();
    Session s(config(GetParam(), "lpis=8 pending=5"), guest("lpi_migrate"));
    MachineResult r = s.run();
    expect_passed(r, 12);
    ASSERT_EQ(s.migrations().size(), 1u);
    const MigrationReport& m = s.migrations()[0];
    // LPI 8256 (the guest's LPI0) targets CPU 0.
    EXPECT_NE(where(m, 0, 8256, "save:save_pending_tables").find("arm.guest_pending_table[vcpu0]"), std::string::npos);
    EXPECT_EQ(where(m, 0, 8256, "restore:restore_gicr_ctlr"), "arm.guest_pending_table[vcpu0]");
    EXPECT_EQ(where(m, 0, 8256, "restore:restore_its_tables"), "arm.pending_latch[vcpu0]");
    EXPECT_GT(m.stream_bytes, 0u);
    EXPECT_EQ(m.order.substr(0, 22), "restore_gicr_pendbaser");
    // Every LPI was taken exactly once in all (the guest counts per CPU too).
    std::map<uint32_t, uint64_t> lpis;
    for (const auto& per : s.taken())
        for (const auto& [intid, n] : per)
            if (intid >= 8256 && intid < 8264) lpis[intid] += n;
    EXPECT_EQ(lpis.size(), 8u);
    for (const auto& [intid, n] : lpis) EXPECT_EQ(n, 1u) << "LPI " << intid;
}
INSTANTIATE_TEST_SUITE_P(Smp, MachineLpiMigration, ::testing::Values(1u, 4u, 8u),
                         [](const auto& info) { return "smp" + std::to_string(info.param); });

class MachineSgiMigration : public ::testing::TestWithParam<uint32_t> {};

// gic_sgi migrated in the middle (after 300 000 instructions): SGIs between every pair of CPUs,
// counted exactly, before and after. The SGI state (vSGIs on GICv4.1) travels as GICR_ISPENDR0 /
// ISENABLER0 / IPRIORITYR (kvm_arm_gicv3_get), the PPIs' (the timer's) and the SPIs' with them.
TEST_P(MachineSgiMigration, SgisBetweenEveryPairAreCountedExactlyAcrossAMigration) {
    IRQDIFF_NEED_GUESTS();
    SessionConfig c = config(GetParam());
    c.board.migrate_at_insns = 300'000;
    Session s(c, guest("gic_sgi"));
    MachineResult r = s.run();
    EXPECT_EQ(r.exit, ExitReason::SystemOff) << r.uart;
    TestReport t = parse_test_report(r.uart);
    EXPECT_TRUE(t.passed()) << r.uart;
    EXPECT_EQ(s.migrations().size(), 1u);
}
INSTANTIATE_TEST_SUITE_P(Smp, MachineSgiMigration, ::testing::Values(1u, 4u, 8u),
                         [](const auto& info) { return "smp" + std::to_string(info.param); });

class MachineItsCommands : public ::testing::TestWithParam<uint32_t> {};

// its_cmds: every physical ITS command with its observable effect, through the vITS model
// (vgic-its.c semantics: LPI configuration cached until INV/INVALL, ...).
TEST_P(MachineItsCommands, EveryPhysicalItsCommandHasItsEffect) {
    IRQDIFF_NEED_GUESTS();
    SessionConfig c = config(GetParam());
    Session s(c, guest("its_cmds"));
    MachineResult r = s.run();
    EXPECT_EQ(r.exit, ExitReason::SystemOff) << r.uart;
    TestReport t = parse_test_report(r.uart);
    EXPECT_TRUE(t.passed()) << r.uart;
    EXPECT_GE(t.count("PASS"), 20u) << r.uart;
}
INSTANTIATE_TEST_SUITE_P(Smp, MachineItsCommands, ::testing::Values(1u, 4u, 8u),
                         [](const auto& info) { return "smp" + std::to_string(info.param); });

struct TransferCase {
    const char* transfer;
    uint64_t taken;           // how often each masked, pending event is taken after the migration
    const char* at_start;     // where event 0's pending state is once the vCPUs start (the vPE resident)
};

class MachineAssignedMigration : public ::testing::TestWithParam<TransferCase> {};

// msi_migrate with DeviceID 0x10 assigned: its MSIs are forwarded vLPIs. Two events are masked in
// the LPI configuration and raised by the device: pending in the VPT. SAVE_PENDING_TABLES reads the
// VPT into the guest pending table (GICv4.1, vgic_v4_get_vlpi_state), RESTORE_TABLES makes it
// pending_latch, and only a transfer point pushes it into the new VPT: kvm_vgic_v4_set_forwarding
// (12df7429213a, arm.transfer=set_forwarding) or a VM-start call (vm_start). Without one (none;
// its_restore and enable_lpis run before the LPI is forwarded) the latch stays on a forwarded LPI
// and the guest's enable + INV reaches the hardware only (update_lpi_config: its_prop_update_vlpi
// for a forwarded LPI, nothing queued), so the interrupt is lost.
TEST_P(MachineAssignedMigration, MaskedPendingDeviceMsisAcrossMigrationPerTransferPoint_12df7429213a) {
    IRQDIFF_NEED_GUESTS();
    for (uint32_t smp : {1u, 4u}) {
        SessionConfig c = config(smp, "events=4 pending=2");
        c.board.assign = {Assignment{0x10, 4, false}};
        c.migrate.policy = {PolicySetting{"arm.transfer", GetParam().transfer, {}, {}}};
        Session s(c, guest("msi_migrate"));
        MachineResult r = s.run();
        EXPECT_EQ(r.exit, ExitReason::SystemOff) << r.uart;
        for (uint32_t lpi : {8320u, 8321u})
            EXPECT_NE(r.uart.find("msi_migrate: LPI " + std::to_string(lpi) + " taken " +
                                  std::to_string(GetParam().taken)),
                      std::string::npos)
                << GetParam().transfer << " smp " << smp << "\n" << r.uart;
        ASSERT_EQ(s.migrations().size(), 1u);
        EXPECT_NE(where(s.migrations()[0], 0, 8320, "restore:start_vcpus").find(GetParam().at_start),
                  std::string::npos)
            << where(s.migrations()[0], 0, 8320, "restore:start_vcpus");
        // The events raised after the migration are forwarded and taken on every transfer point.
        TestReport t = parse_test_report(r.uart);
        EXPECT_EQ(t.count("FAIL"), GetParam().taken == 1 ? 0u : 2u) << r.uart;
    }
}
INSTANTIATE_TEST_SUITE_P(Transfer, MachineAssignedMigration,
                         ::testing::Values(TransferCase{"set_forwarding", 1, "arm.rd_cache[vpe0]"},
                                           TransferCase{"vm_start", 1, "arm.rd_cache[vpe0]"},
                                           TransferCase{"none", 0, "arm.pending_latch[vcpu0]"},
                                           TransferCase{"its_restore", 0, "arm.pending_latch[vcpu0]"},
                                           TransferCase{"enable_lpis", 0, "arm.pending_latch[vcpu0]"}),
                         [](const auto& info) { return std::string(info.param.transfer); });

// A GICv4.0 source cannot read the VPT back: the ITS save refuses at the first forwarded ITE
// (vgic_its_save_itt -EACCES without GICv4.1, 8082d50f4817) and QEMU only reports it
// (arm.its_save_error=report): the destination has no translation for the device, so neither the
// pending events nor any later MSI arrive. With arm.its_save_error=abort QEMU exits instead.
TEST(MachineAssignedMigrationGicv40, TheItsSaveRefusesForwardedEntriesAndTheDeviceIsUnmappedAfter_8082d50f4817) {
    IRQDIFF_NEED_GUESTS();
    SessionConfig c = config(2, "events=4 pending=2");
    c.board.assign = {Assignment{0x10, 4, false}};
    c.migrate.policy = {PolicySetting{"arm.gic", "v4.0", {}, {}}};
    Session s(c, guest("msi_migrate"));
    MachineResult r = s.run();
    EXPECT_EQ(r.exit, ExitReason::SystemOff);
    EXPECT_NE(r.uart.find("msi_migrate: LPI 8320 taken 0"), std::string::npos) << r.uart;
    EXPECT_EQ(parse_test_report(r.uart).count("FAIL"), 4u) << r.uart;

    c.migrate.policy.push_back(PolicySetting{"arm.its_save_error", "abort", {}, {}});
    Session gone(c, guest("msi_migrate"));
    r = gone.run();
    EXPECT_EQ(r.exit, ExitReason::VmGone);
    ASSERT_EQ(gone.migrations().size(), 1u);
    EXPECT_TRUE(gone.migrations()[0].vm_gone);
    EXPECT_EQ(gone.migrations()[0].steps.back(), "save:save_its_tables");
}

// A GICv4.1 source and a GICv4.0 destination (--dest-policy arm.gic=v4.0): the save reads the VPT,
// and the destination forwards as 4.0 does; the pending events are delivered once.
TEST(MachineAssignedMigrationGicv40, AGicv41SourceMigratesToAGicv40Destination) {
    IRQDIFF_NEED_GUESTS();
    SessionConfig c = config(2, "events=4 pending=2");
    c.board.assign = {Assignment{0x10, 4, false}};
    c.migrate.dest_policy = {PolicySetting{"arm.gic", "v4.0", {}, {}}};
    Session s(c, guest("msi_migrate"));
    MachineResult r = s.run();
    expect_passed(r, 10);
    EXPECT_NE(s.migrations()[0].dest_policy.find("arm.gic=v4.0"), std::string::npos);
}

// The virtual timer across a migration in the middle of timer.c (before its WFI): CNTV_CVAL and
// CTL travel with the vCPU, virtual time goes on, WFI wakes at the deadline on the destination.
TEST(MachineTimerMigration, TheVirtualTimerKeepsItsDeadlineAcrossAMigration) {
    IRQDIFF_NEED_GUESTS();
    SessionConfig c = config(1);
    c.board.migrate_at_insns = 10'000;
    Session s(c, guest("timer"));
    MachineResult r = s.run();
    expect_passed(r, 8);
    EXPECT_EQ(s.migrations().size(), 1u);
}

// The stream leaves the process: save_machine's bytes restored by restore_machine give the same
// run as the in-process migration; two runs give byte-identical streams, UART text and JSON.
TEST(MachineStream, ARestoredStreamResumesTheVmAndEverythingIsDeterministic) {
    IRQDIFF_NEED_GUESTS();
    auto run_to_prompt = [] {
        SessionConfig c = config(2, "lpis=8 pending=5");
        auto b = std::make_unique<Board>(c.board, guest("lpi_migrate"));
        MachineResult r = b->run();
        EXPECT_EQ(r.exit, ExitReason::Migrate);
        MigrationReport rep;
        std::vector<uint8_t> stream = save_machine(*b, c.migrate, rep);
        return std::make_pair(stream, rep);
    };
    auto [a, rep_a] = run_to_prompt();
    auto [b, rep_b] = run_to_prompt();
    EXPECT_EQ(a, b);
    EXPECT_EQ(rep_a.steps, rep_b.steps);
    ASSERT_GE(a.size(), 12u);
    EXPECT_EQ(std::string(a.begin(), a.begin() + 8), "IRQDMACH");

    SessionConfig c = config(2, "lpis=8 pending=5");
    Session restored(c, std::span<const uint8_t>(a));
    MachineResult r = restored.run();
    expect_passed(r, 12);

    Session one(config(2, "lpis=8 pending=5"), guest("lpi_migrate"));
    Session two(config(2, "lpis=8 pending=5"), guest("lpi_migrate"));
    one.run();
    two.run();
    EXPECT_EQ(one.to_json().dump(), two.to_json().dump());
    EXPECT_EQ(one.chrome_trace().dump(), two.chrome_trace().dump());
    EXPECT_EQ(one.last().uart, r.uart);  // the restored VM printed what the migrated one did
}

// Snapshot identity (issue 17 §2): save -> restore -> save gives the same stream, once a vCPU that
// waited in WFI at the first save has left it (the destination runs it: pause_all_vcpus kicked it
// out of kvm_vcpu_halt, and WFI may complete spuriously, Arm ARM D1.16.2). Restoring and saving
// again without running the guest (no key sent) is then a fixpoint, byte for byte.
TEST(MachineStream, SaveRestoreSaveIsByteIdentical) {
    IRQDIFF_NEED_GUESTS();
    SessionConfig c = config(2, "lpis=8 pending=5");
    auto b = std::make_unique<Board>(c.board, guest("lpi_migrate"));
    ASSERT_EQ(b->run().exit, ExitReason::Migrate);
    MigrationReport rep;
    const std::vector<uint8_t> first = save_machine(*b, c.migrate, rep);
    auto hop = [&](const std::vector<uint8_t>& in) {
        SessionConfig h = config(2, "lpis=8 pending=5");
        h.migrate.key = "";  // nothing reaches the guest between the restore and the next save
        MigrationReport restored_rep, saved_rep;
        std::unique_ptr<Board> dst = restore_machine(h.board, in, h.migrate, restored_rep);
        return save_machine(*dst, h.migrate, saved_rep);
    };
    const std::vector<uint8_t> second = hop(first), third = hop(second);
    EXPECT_EQ(second, third) << "save -> restore -> save is not a fixpoint";
    ASSERT_EQ(first.size(), second.size());
    size_t differing = 0;
    for (size_t i = 0; i < first.size(); ++i) differing += first[i] != second[i];
    EXPECT_LE(differing, 2u) << "only the vCPU power bytes of vCPUs that were in WFI (2 -> running, 1) may differ";
}

// A corrupt, truncated or foreign stream is refused with the offset and the field, never trusted
// and never a crash: every prefix, a wrong magic, a wrong version, an out-of-range enum.
TEST(MachineStream, CorruptStreamsAreRefusedWithOffsetAndField) {
    IRQDIFF_NEED_GUESTS();
    SessionConfig c = config(1, "lpis=4 pending=2");
    auto board = std::make_unique<Board>(c.board, guest("lpi_migrate"));
    ASSERT_EQ(board->run().exit, ExitReason::Migrate);
    MigrationReport rep;
    const std::vector<uint8_t> good = save_machine(*board, c.migrate, rep);
    board.reset();
    auto refused = [&](std::vector<uint8_t> bytes, const std::string& want) {
        MigrationReport r;
        try {
            restore_machine(c.board, bytes, c.migrate, r);
            ADD_FAILURE() << "accepted; wanted " << want;
        } catch (const InputError& e) {
            EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("offset"), std::string::npos) << e.what();
        }
    };
    std::vector<uint8_t> bad = good;
    bad[0] = 'X';
    refused(bad, "field magic");
    bad = good;
    bad[8] = 9;
    refused(bad, "format version 9");
    bad = good;
    const size_t vcpu = std::string(good.begin(), good.end()).find("VCPU");
    ASSERT_NE(vcpu, std::string::npos);
    bad[vcpu + 12] = 7;  // the first vCPU's power state: after the tag and the u64 length
    refused(bad, "offset " + std::to_string(vcpu + 12) + " (");
    refused(bad, "field vCPU power");
    bad = good;
    bad.push_back(0);
    refused(bad, "left over");
    for (size_t n = 0; n < good.size(); n += 997) refused(std::vector<uint8_t>(good.begin(), good.begin() + n), "offset");
}

// The trace names the guest's UART lines, the interrupts by INTID and the migration steps.
TEST(MachineTrace, TheChromeTraceHasUartLinesInterruptsAndMigrationSteps) {
    IRQDIFF_NEED_GUESTS();
    SessionConfig c = config(2, "lpis=4 pending=2");
    c.board.trace = true;
    Session s(c, guest("lpi_migrate"));
    s.run();
    const std::string t = s.chrome_trace().dump();
    EXPECT_NE(t.find("\"IRQ 8256\""), std::string::npos);
    EXPECT_NE(t.find("Now migrate the VM"), std::string::npos);
    EXPECT_NE(t.find("\"save:save_pending_tables\""), std::string::npos);
    EXPECT_NE(t.find("\"restore:start_vcpus\""), std::string::npos);
    EXPECT_NE(t.find("\"vCPU 1\""), std::string::npos);
}

// Python and the CLI can stop the VM at any instruction count and migrate it there.
TEST(MachineSession, PauseAnywhereThenMigrateGoesOn) {
    IRQDIFF_NEED_GUESTS();
    SessionConfig c = config(1);
    c.board.migrate_on.clear();
    Session s(c, guest("hello"));
    MachineResult r = s.run(2000);
    EXPECT_EQ(r.exit, ExitReason::Paused);
    EXPECT_EQ(r.insns, 2000u);
    s.migrate();
    r = s.run();
    EXPECT_EQ(r.exit, ExitReason::SystemOff) << r.uart;
    EXPECT_NE(r.uart.find("PASS"), std::string::npos) << r.uart;
}

}  // namespace
}  // namespace irqdiff::arm::machine
