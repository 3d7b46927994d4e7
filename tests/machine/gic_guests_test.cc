// The benchmark guest's operations, the doorbell guest and the session's log notes (issue 16
// items 4, 7, 8 and "Performance"; docs/machine.md "The GIC guests and their driver", "Results,
// trace and Python"). The benchmark's figures come from bench/machine_qemu.py; these tests check
// that every operation it times does what it says on irqdiff's board.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "arm_gic/machine/session.h"
#include "arm_gic/machine/test_report.h"
#include "core/policy.h"
#include "tests/machine/machine_test_util.h"

namespace irqdiff::arm::machine {
namespace {

using namespace testing;

SessionConfig config(uint32_t smp, const std::string& append) {
    SessionConfig c;
    c.board.smp = smp;
    c.board.append = append;
    c.board.max_insns = 40'000'000;
    return c;
}

size_t count_of(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

struct BenchCase {
    const char* op;
    const char* wait;
};

class MachineBenchGuest : public ::testing::TestWithParam<BenchCase> {};

// Each operation bench/machine_qemu.py times runs its 64 iterations to the end and counts what
// it must: one interrupt per round trip (lpi, msi, sgi, ipi), nothing acknowledged (eoi, gicd).
TEST_P(MachineBenchGuest, EveryOperationRunsItsIterationsAndCountsThem) {
    IRQDIFF_NEED_GUESTS();
    const BenchCase p = GetParam();
    SessionConfig c = config(2, fmt::format("op={} iters=64 wait={}", p.op, p.wait));
    if (std::string(p.op) == "msi") c.board.assign = {Assignment{0x10, 1, false}};
    Session s(c, guest("bench"));
    const MachineResult r = s.run();
    ASSERT_EQ(r.exit, ExitReason::SystemOff) << (r.fault ? r.fault->reason : "") << "\n" << r.uart;
    EXPECT_NE(r.uart.find(fmt::format("BENCH: op={} iters=64 ", p.op)), std::string::npos) << r.uart;
    const TestReport t = parse_test_report(r.uart);
    EXPECT_TRUE(t.passed()) << r.uart;
    EXPECT_EQ(t.count("PASS"), std::string(p.op) == "msi" ? 2u : 1u) << r.uart;
    if (std::string(p.op) == "msi") {
        // The assigned device's MSIs are forwarded vLPIs: 64 taken on cpu 0 as LPI 8256.
        const auto taken = s.taken();
        ASSERT_FALSE(taken.empty());
        EXPECT_EQ(taken[0].count(8256) ? taken[0].at(8256) : 0u, 64u);
    }
}
INSTANTIATE_TEST_SUITE_P(Ops, MachineBenchGuest,
                         ::testing::Values(BenchCase{"lpi", "wfi"}, BenchCase{"lpi", "spin"}, BenchCase{"msi", "wfi"},
                                           BenchCase{"msi", "spin"}, BenchCase{"sgi", "wfi"}, BenchCase{"sgi", "spin"},
                                           BenchCase{"ipi", "wfi"}, BenchCase{"eoi", "wfi"}, BenchCase{"gicd", "wfi"}),
                         [](const auto& info) { return std::string(info.param.op) + "_" + info.param.wait; });

// Board policy (docs/machine.md "vCPU scheduling"): a vCPU whose GIC write wakes another from WFI
// or signals it an IRQ ends its turn kick_grace instructions later, so the answer comes in the
// same round. Without it every SGI round trip cost the sender's whole quantum (10,000
// instructions of polling); measured now: ~730 (spin) and ~280 (wfi) per round trip.
TEST(MachineScheduling, AVcpuThatSignalsAnotherEndsItsTurnSoonAfter) {
    IRQDIFF_NEED_GUESTS();
    auto insns = [](const char* op, const char* wait, unsigned iters) {
        Session s(config(2, fmt::format("op={} iters={} wait={}", op, iters, wait)), guest("bench"));
        const MachineResult r = s.run();
        EXPECT_EQ(r.exit, ExitReason::SystemOff) << r.uart;
        EXPECT_TRUE(parse_test_report(r.uart).passed()) << r.uart;
        return r.insns;
    };
    for (const auto& [op, wait] : {std::pair{"sgi", "spin"}, {"sgi", "wfi"}, {"ipi", "wfi"}}) {
        const uint64_t per_round_trip = (insns(op, wait, 256) - insns(op, wait, 0)) / 256;
        EXPECT_LT(per_round_trip, 2000u) << op << " wait=" << wait;
    }
}

// op=msi on irqdiff's board without an assigned device says what is missing.
TEST(MachineBenchGuestErrors, MsiWithoutAnAssignedDeviceFailsNamingTheOption) {
    IRQDIFF_NEED_GUESTS();
    Session s(config(2, "op=msi iters=8"), guest("bench"));
    const MachineResult r = s.run();
    EXPECT_EQ(r.exit, ExitReason::SystemOff);
    EXPECT_NE(r.uart.find("FAIL: op=msi on irqdiff's board needs an assigned device: --assign 0x10:1"),
              std::string::npos)
        << r.uart;
}

struct DoorbellCase {
    uint32_t smp;
    const char* gic;
};

class MachineDoorbell : public ::testing::TestWithParam<DoorbellCase> {};

// doorbell.c: a forwarded vLPI raised while its vCPU waits in WFI. KVM blocked the vCPU with the
// vPE's doorbell enabled (kvm_vcpu_block -> vgic_v4_put(need_db)); the device's MSI sets the VPT
// bit of a non-resident vPE, the redistributor rings the doorbell, vgic_v4_doorbell_handler kicks
// the vCPU (KVM.doorbell in the log), and the guest takes the vLPI once per round. On GICv4.0 the
// doorbell is the per-vPE doorbell LPI KVM disables again in its handler; on 4.1 the default
// doorbell (reference/arm_gicv41_kvm_migration.md §1.2).
TEST_P(MachineDoorbell, AnMsiForAVcpuInWfiRingsTheDoorbellAndIsTakenOnce) {
    IRQDIFF_NEED_GUESTS();
    SessionConfig c = config(GetParam().smp, "rounds=8");
    c.board.assign = {Assignment{0x10, 1, false}};
    c.board.record_log = true;
    c.migrate.policy = {PolicySetting{"arm.gic", GetParam().gic, {}, {}}};
    Session s(c, guest("doorbell"));
    const MachineResult r = s.run();
    ASSERT_EQ(r.exit, ExitReason::SystemOff) << (r.fault ? r.fault->reason : "") << "\n" << r.uart;
    for (int round = 0; round < 8; ++round)
        EXPECT_NE(r.uart.find(fmt::format("doorbell: round {} taken 1\n", round)), std::string::npos) << r.uart;
    const TestReport t = parse_test_report(r.uart);
    EXPECT_TRUE(t.passed()) << r.uart;
    EXPECT_EQ(t.count("SKIP"), 0u) << r.uart;
    const std::string log = s.log_text();
    EXPECT_GE(count_of(log, "KVM.doorbell"), 8u) << "every round's wake-up is a doorbell";
}
INSTANTIATE_TEST_SUITE_P(Hosts, MachineDoorbell,
                         ::testing::Values(DoorbellCase{2, "v4.1"}, DoorbellCase{4, "v4.1"}, DoorbellCase{2, "v4.0"}),
                         [](const auto& info) {
                             std::string g = info.param.gic;
                             g.erase(std::remove(g.begin(), g.end(), '.'), g.end());
                             return fmt::format("smp{}_{}", info.param.smp, g);
                         });

// A guest access the model ignores (a byte read of GICD_CTLR: RAZ, vgic-mmio.c check_region) is
// never silent: without --log the operations are only counted, but the note is kept and reported.
TEST(MachineSessionLog, AnIgnoredGuestAccessIsANoteEvenWithoutTheFullLog) {
    const uint32_t kLdrbW0X1 = 0x39400020;  // LDRB W0, [X1]
    std::vector<uint32_t> words = {movz(1, 0x0800, 16), kLdrbW0X1};
    for (uint32_t w : psci_call(0x84000008)) words.push_back(w);  // SYSTEM_OFF
    std::vector<uint8_t> image;
    for (uint32_t w : words)
        for (int i = 0; i < 4; ++i) image.push_back(static_cast<uint8_t>(w >> (8 * i)));
    SessionConfig c;
    Session s(c, image);
    const MachineResult r = s.run();
    ASSERT_EQ(r.exit, ExitReason::SystemOff) << (r.fault ? r.fault->reason : "");
    const std::vector<std::string> notes = s.notes();
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("KVM.machine_gic_access"), std::string::npos) << notes[0];
    const Json j = s.to_json();
    EXPECT_EQ(j["log"]["notes_total"], 1);
    EXPECT_GT(j["log"]["entries"].get<uint64_t>(), 1u);  // the GIC's setup operations, counted
    EXPECT_EQ(s.log_text(), notes[0] + "\n");             // only the note: operations were not recorded
}

// A guest can make millions of notes (here: an EOI of the special INTID 1023, which the
// architecture ignores, 3000 times): the board keeps BoardConfig::kept_notes of them and counts
// the rest, so memory stays bounded and the count stays exact.
TEST(MachineSessionLog, NotesPastTheLimitAreCountedNotKept) {
    IRQDIFF_NEED_GUESTS();
    SessionConfig c = config(1, "op=eoi iters=3000");
    c.board.kept_notes = 100;
    Session s(c, guest("bench"));
    const MachineResult r = s.run();
    ASSERT_EQ(r.exit, ExitReason::SystemOff) << r.uart;
    EXPECT_TRUE(parse_test_report(r.uart).passed()) << r.uart;
    EXPECT_EQ(s.notes_total(), 3000u);
    const std::vector<std::string> notes = s.notes();
    ASSERT_EQ(notes.size(), 100u);
    EXPECT_NE(notes[0].find("VCPU.write_EOIR1"), std::string::npos) << notes[0];
    EXPECT_NE(notes[0].find("intid=1023"), std::string::npos) << notes[0];
    EXPECT_EQ(s.to_json()["log"]["notes_total"], 3000);
}

}  // namespace
}  // namespace irqdiff::arm::machine
