// The cross-compiled test guests (tests/machine/guests/) on the board: each reports with the
// PASS:/FAIL:/SUMMARY: convention (reference/arm_virt_machine.md §8) and powers off.
#include <gtest/gtest.h>

#include "arm_gic/machine/board.h"
#include "arm_gic/machine/test_report.h"
#include "tests/machine/machine_test_util.h"

namespace irqdiff::arm::machine {
namespace {

using namespace testing;

MachineResult run_guest(const std::string& name, BoardConfig c = {}) {
    c.max_insns = 50'000'000;
    return run_image(guest(name), std::move(c));
}

void expect_passed(const MachineResult& r, size_t at_least) {
    EXPECT_EQ(r.exit, ExitReason::SystemOff) << (r.fault ? r.fault->reason : "") << "\n" << r.uart;
    TestReport t = parse_test_report(r.uart);
    EXPECT_TRUE(t.passed()) << r.uart;
    EXPECT_GE(t.count("PASS"), at_least) << r.uart;
    EXPECT_EQ(t.exit_code, 0);
}

TEST(MachineGuests, HelloBootsPrintsAndPowersOff) {
    IRQDIFF_NEED_GUESTS();
    BoardConfig c;
    c.append = "hello args";
    MachineResult r = run_guest("hello", c);
    expect_passed(r, 4);
    EXPECT_NE(r.uart.find("bootargs 'hello args'"), std::string::npos) << r.uart;
}

TEST(MachineGuests, TheElfImageRunsLikeTheRawOne) {
    IRQDIFF_NEED_GUESTS();
    Board b(BoardConfig{}, guest("hello.elf"));
    EXPECT_EQ(b.image().format, ImageFormat::Elf);
    EXPECT_EQ(b.image().entry, 0x4008'0000u);
    MachineResult r = b.run();
    expect_passed(r, 4);
    EXPECT_EQ(r.uart, run_guest("hello").uart);
}

class MachineSmp : public ::testing::TestWithParam<uint32_t> {};

TEST_P(MachineSmp, CpuOnBringsUpEveryCpuWhichPrintsAndTurnsOff_DEN0022) {
    IRQDIFF_NEED_GUESTS();
    BoardConfig c;
    c.smp = GetParam();
    MachineResult r = run_guest("smp", c);
    expect_passed(r, 1 + 3 * (GetParam() - 1));
    for (uint32_t v = 1; v < GetParam(); ++v) {
        EXPECT_NE(r.uart.find("PASS: cpu " + std::to_string(v) + " runs with MPIDR"), std::string::npos) << r.uart;
        EXPECT_GT(r.vcpus[v].insns, 0u);
        EXPECT_EQ(r.vcpus[v].power, Power::Off);
    }
}
INSTANTIATE_TEST_SUITE_P(Smp, MachineSmp, ::testing::Values(1u, 4u, 8u));

TEST(MachineGuests, SmpRunsAreByteIdentical) {
    IRQDIFF_NEED_GUESTS();
    BoardConfig c;
    c.smp = 8;
    MachineResult a = run_guest("smp", c), b = run_guest("smp", c);
    EXPECT_EQ(a.uart, b.uart);
    EXPECT_EQ(a.insns, b.insns);
    for (size_t v = 0; v < a.vcpus.size(); ++v) EXPECT_EQ(a.vcpus[v].insns, b.vcpus[v].insns);
}

TEST(MachineGuests, PsciReturnsAndErrorCodes_DEN0022) {
    IRQDIFF_NEED_GUESTS();
    BoardConfig c;
    c.smp = 2;
    expect_passed(run_guest("psci", c), 17);
}

TEST(MachineGuests, TimerCountsVirtualTimeAndWfiJumpsToTheDeadline) {
    IRQDIFF_NEED_GUESTS();
    MachineResult r = run_guest("timer");
    expect_passed(r, 10);
    EXPECT_GT(r.virtual_ticks, 62'500'000u);  // 1 s of virtual time
    EXPECT_LT(r.insns, 2'000'000u);           // without running 62.5 M instructions
}

TEST(MachineGuests, TheUartReceivesInput) {
    IRQDIFF_NEED_GUESTS();
    Board b(BoardConfig{}, guest("hello"));
    b.uart().inject("key");
    EXPECT_EQ(b.uart().rx_queued(), 3u);
}

// A test-only interrupt controller: it signals the virtual timer's PPI 27 while the line is high
// and the interrupt is not active; ICC_IAR1_EL1 acknowledges it, ICC_EOIR1_EL1 ends it. It checks
// the board's side of InterruptController (issue 16 item 1) before the GICv3 model plugs in.
class FakeGic final : public InterruptController {
   public:
    std::string name() const override { return "test"; }
    std::vector<MmioRegion> mmio_regions() const override { return {}; }
    AccessFault mmio_read(uint32_t, uint64_t, unsigned, uint64_t&) override { return "no MMIO"; }
    AccessFault mmio_write(uint32_t, uint64_t, unsigned, uint64_t) override { return "no MMIO"; }
    AccessFault sysreg_read(uint32_t, const SysRegId& r, uint64_t& value) override {
        if (r.crn != 12 || r.crm != 12 || r.op2 != 0) return "only ICC_IAR1_EL1 reads";
        value = line && !active ? 27 : 1023;
        if (value == 27) active = true, ++acks;
        return std::nullopt;
    }
    AccessFault sysreg_write(uint32_t, const SysRegId& r, uint64_t value) override {
        if (r.crn != 12 || r.crm != 12 || r.op2 != 1) return "only ICC_EOIR1_EL1 writes";
        if (value == 27) active = false, ++eois;
        return std::nullopt;
    }
    void set_line(uint32_t, uint32_t intid, bool level) override {
        if (intid == 27) line = level;
    }
    bool irq_pending(uint32_t) override { return line && !active; }
    void vcpu_waits(uint32_t) override { ++waits; }
    bool wake_pending(uint32_t v) override { return irq_pending(v); }
    void vcpu_runs(uint32_t) override { ++wakes; }

    bool line = false, active = false;
    int acks = 0, eois = 0, waits = 0, wakes = 0;
};

TEST(MachineIrq, TheBoardTakesAnIrqTheControllerSignalsAtVbarPlus0x280_Unicorn5) {
    IRQDIFF_NEED_GUESTS();
    auto gic = std::make_unique<FakeGic>();
    FakeGic& g = *gic;
    BoardConfig c;
    c.max_insns = 5'000'000;
    Board b(c, guest("irq"), std::move(gic));
    MachineResult r = b.run();
    expect_passed(r, 4);
    EXPECT_EQ(g.acks, 1);
    EXPECT_EQ(g.eois, 1);
    EXPECT_GE(g.waits, 1);
    EXPECT_GE(g.wakes, 1);
    EXPECT_GT(r.virtual_ticks, 100'000u);
}

TEST(MachineIrq, WithoutAGicTheIrqGuestFaultsAtItsIccAccessOrWaitsOut_NoGic) {
    IRQDIFF_NEED_GUESTS();
    BoardConfig c;
    c.max_insns = 500'000;
    c.gic = GicModel::None;
    MachineResult r = run_image(guest("irq"), c);
    // NoGic never signals an IRQ: the timer's line wakes WFI (placeholder policy) without an entry,
    // so the guest spins in its WFI loop until the budget.
    EXPECT_EQ(r.exit, ExitReason::Budget);
}

struct FaultCase {
    const char* bootargs;
    ExitReason exit;
    const char* reason;
    const char* instruction;
    GicModel gic = GicModel::Kvm;
};

class MachineGuestFaults : public ::testing::TestWithParam<FaultCase> {};

TEST_P(MachineGuestFaults, StopTheRunWithAReportNeverACrash) {
    IRQDIFF_NEED_GUESTS();
    BoardConfig c;
    c.append = GetParam().bootargs;
    c.max_insns = 3'000'000;
    c.gic = GetParam().gic;
    MachineResult r = run_image(guest("fault"), c);
    EXPECT_EQ(r.exit, GetParam().exit);
    ASSERT_TRUE(r.fault);
    EXPECT_EQ(r.fault->vcpu, 0u);
    EXPECT_NE(r.fault->reason.find(GetParam().reason), std::string::npos) << r.fault->reason;
    EXPECT_NE(r.fault->instruction.find(GetParam().instruction), std::string::npos) << r.fault->instruction;
    if (std::string(GetParam().bootargs) == "runaway") {
        EXPECT_TRUE(r.fault->instruction == "nop" || r.fault->instruction.starts_with("b #")) << r.fault->instruction;
    }
    EXPECT_NE(r.uart.find(std::string("fault guest: ") + GetParam().bootargs), std::string::npos);
    EXPECT_EQ(r.uart.find("FAIL"), std::string::npos);
}
INSTANTIATE_TEST_SUITE_P(
    Faults, MachineGuestFaults,
    ::testing::Values(FaultCase{"undef", ExitReason::Fault, "undefined instruction", "0x00000000"},
                      FaultCase{"unmapped", ExitReason::Fault, "read of 4 bytes at 0x20000000", "ldr"},
                      FaultCase{"gic", ExitReason::Fault, "GICD (distributor) at 0x8000004", "ldr", GicModel::None},
                      FaultCase{"smc", ExitReason::Fault, "PSCI conduit is hvc", "smc #0"},
                      // The budget ends the `nop; b` loop at either of its two instructions (which
                      // one depends on how many the boot took): the test below accepts both.
                      FaultCase{"runaway", ExitReason::Budget, "--max-insns 3000000", ""}),
    [](const auto& info) { return std::string(info.param.bootargs); });

}  // namespace
}  // namespace irqdiff::arm::machine
