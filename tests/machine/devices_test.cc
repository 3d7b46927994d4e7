// The PL011 (DDI0183), the generic timer (Arm ARM D11.2), NoGic and the test-report parser.
#include <gtest/gtest.h>

#include "arm_gic/machine/generic_timer.h"
#include "arm_gic/machine/irq_controller.h"
#include "arm_gic/machine/pl011.h"
#include "arm_gic/machine/test_report.h"

namespace irqdiff::arm::machine {
namespace {

TEST(MachinePl011, TransmitsAndKeepsTheText_DDI0183) {
    Pl011 u;
    for (char c : std::string("hi\n")) u.write(Pl011::kDr, 4, static_cast<uint8_t>(c));
    EXPECT_EQ(u.tx(), "hi\n");
    EXPECT_EQ(u.read(Pl011::kFr, 4) & (Pl011::kFrTxfe | Pl011::kFrTxff | Pl011::kFrBusy), Pl011::kFrTxfe);
}

TEST(MachinePl011, ReceivesInjectedBytesAndFlagsRxfeWhenEmpty_DDI0183) {
    Pl011 u;
    EXPECT_TRUE(u.read(Pl011::kFr, 4) & Pl011::kFrRxfe);
    u.inject("ab");
    EXPECT_FALSE(u.read(Pl011::kFr, 4) & Pl011::kFrRxfe);
    EXPECT_EQ(u.read(Pl011::kDr, 4), uint64_t{'a'});
    EXPECT_EQ(u.read(Pl011::kDr, 4), uint64_t{'b'});
    EXPECT_TRUE(u.read(Pl011::kFr, 4) & Pl011::kFrRxfe);
}

TEST(MachinePl011, IdentificationRegisters_ArmVirtMachine5) {
    Pl011 u;
    EXPECT_EQ(u.read(0xFE0, 4), 0x11u);
    EXPECT_EQ(u.read(0xFE4, 4), 0x10u);
    EXPECT_EQ(u.read(0xFE8, 4), 0x14u);
    EXPECT_EQ(u.read(0xFF0, 4), 0x0Du);
    EXPECT_EQ(u.read(0xFFC, 4), 0xB1u);
}

TEST(MachinePl011, TheInterruptLineFollowsMisRxMasked) {
    Pl011 u;
    u.write(Pl011::kImsc, 4, Pl011::kIntRx);
    EXPECT_FALSE(u.irq_line());
    u.inject("x");
    EXPECT_TRUE(u.irq_line());
    EXPECT_EQ(u.read(Pl011::kMis, 4), Pl011::kIntRx);
}

constexpr SysRegId kCntvTval{3, 3, 14, 3, 0}, kCntvCtl{3, 3, 14, 3, 1}, kCntvCval{3, 3, 14, 3, 2},
    kCntfrq{3, 3, 14, 0, 0}, kCntvct{3, 3, 14, 0, 2};

TEST(MachineTimer, TvalWritesSetCvalToNowPlusSignExtendedValue_ArmArmD11) {
    GenericTimer t;
    EXPECT_FALSE(t.write(kCntvTval, 1000, 500));
    EXPECT_EQ(t.virt().cval, 1500u);
    EXPECT_FALSE(t.write(kCntvTval, 1000, 0xFFFF'FFFF));  // -1
    EXPECT_EQ(t.virt().cval, 999u);
    uint64_t v = 0;
    EXPECT_FALSE(t.read(kCntvTval, 1009, v));
    EXPECT_EQ(static_cast<int32_t>(v), -10);
}

TEST(MachineTimer, IstatusAndTheOutputLine_ArmArmD11) {
    GenericTimer t;
    t.write(kCntvCval, 0, 100);
    t.write(kCntvCtl, 0, GenericTimer::kEnable);
    uint64_t v = 0;
    t.read(kCntvCtl, 99, v);
    EXPECT_EQ(v, GenericTimer::kEnable);
    t.read(kCntvCtl, 100, v);
    EXPECT_EQ(v, GenericTimer::kEnable | GenericTimer::kIstatus);
    EXPECT_TRUE(t.virt().line(100));
    t.write(kCntvCtl, 100, GenericTimer::kEnable | GenericTimer::kImask | GenericTimer::kIstatus);
    EXPECT_FALSE(t.virt().line(100));  // IMASK; ISTATUS is read-only (written bit dropped)
    EXPECT_EQ(t.virt().ctl, GenericTimer::kEnable | GenericTimer::kImask);
}

TEST(MachineTimer, NextDeadlineIsTheEarliestEnabledUnmaskedChannel) {
    GenericTimer t;
    EXPECT_FALSE(t.next_deadline(0));
    t.write(kCntvCval, 0, 500);
    t.write(kCntvCtl, 0, GenericTimer::kEnable);
    t.write({3, 3, 14, 2, 2}, 0, 300);                                  // CNTP_CVAL
    t.write({3, 3, 14, 2, 1}, 0, GenericTimer::kEnable | GenericTimer::kImask);  // masked
    EXPECT_EQ(t.next_deadline(0), 500u);
    EXPECT_FALSE(t.next_deadline(500));
}

TEST(MachineTimer, CntfrqIs62_5MHzAndReadOnlyAtEl1) {
    GenericTimer t;
    uint64_t v = 0;
    EXPECT_FALSE(t.read(kCntfrq, 0, v));
    EXPECT_EQ(v, 62'500'000u);
    EXPECT_TRUE(t.write(kCntfrq, 0, 1));
    EXPECT_TRUE(t.write(kCntvct, 0, 1));
    EXPECT_FALSE(t.read(kCntvct, 4242, v));
    EXPECT_EQ(v, 4242u);
}

TEST(MachineNoGic, EveryGicAccessIsAFaultAndNoIrqIsPending_Phase1) {
    NoGic g(2);
    uint64_t v = 0;
    EXPECT_TRUE(g.mmio_read(0, 0x0800'0000, 4, v));
    EXPECT_TRUE(g.mmio_write(0, 0x080A'0000, 4, 1));
    EXPECT_TRUE(g.sysreg_read(0, {3, 0, 12, 12, 0}, v));
    EXPECT_FALSE(g.irq_pending(0));
    EXPECT_FALSE(g.wake_pending(1));
    g.set_line(1, 27, true);
    EXPECT_TRUE(g.wake_pending(1));
    EXPECT_FALSE(g.wake_pending(0));
    g.set_line(1, 27, false);
    EXPECT_FALSE(g.wake_pending(1));
}

TEST(MachineTestReport, ParsesPassFailSkipSummaryAndExit_ArmVirtMachine8) {
    TestReport r = parse_test_report(
        "boot\nPASS: one\nFAIL: two (3)\r\nSKIP: three\nSUMMARY: 3 tests, 1 unexpected failures\nEXIT: STATUS=3\n");
    ASSERT_EQ(r.results.size(), 3u);
    EXPECT_EQ(r.results[1].status, "FAIL");
    EXPECT_EQ(r.results[1].text, "two (3)");
    EXPECT_EQ(r.count("PASS"), 1u);
    EXPECT_EQ(*r.summary, "3 tests, 1 unexpected failures");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_FALSE(r.passed());
    EXPECT_TRUE(parse_test_report("PASS: a\nEXIT: STATUS=1\n").passed());
    EXPECT_FALSE(parse_test_report("no results\n").passed());
    EXPECT_FALSE(parse_test_report("EXIT: STATUS=x\n").exit_code);
}

}  // namespace
}  // namespace irqdiff::arm::machine
