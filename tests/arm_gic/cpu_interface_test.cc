// The virtual CPU interface, one rule per test: ICV_IAR1 / HPPIR1 / EOIR1 / PMR / RPR / IGRPEN1 over
// the three sources a vCPU takes interrupts from (vLPIs and vSGIs of the resident vPE, list
// registers), the list registers themselves (ICH_LR<n>_EL2), the violations the model records, and
// where a list register holds a vLPI's pending state.
#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "tests/arm_gic/gic_harness.h"

namespace irqdiff::arm::testing {
namespace {

using Status = ListRegister::Status;

constexpr uint32_t kSpi = 40;           // a software-injected (list register) vINTID
constexpr uint32_t kSoftVlpi = 8196;    // a vLPI no ITE forwards: injected through a list register

uint64_t lr_value(uint32_t vintid, uint8_t priority, Status status = Status::Pending, bool group1 = true,
                  bool hw = false, uint16_t pintid = 0) {
    ListRegister l;
    l.status = status;
    l.hw = hw;
    l.group1 = group1;
    l.priority = priority;
    l.pintid = pintid;
    l.vintid = vintid;
    return l.encode();
}

size_t count(const GicHarness& h, const Points& points) { return count_events(h.log.events(), points); }

std::vector<Location> where(const GicHarness& h, uint32_t vpe, uint32_t vintid) {
    std::vector<Location> out;
    h.gic.where_vlpi(vpe, vintid, out);
    return out;
}

/// vPE 0 resident on CPU 0 with Group 1 open; device 1's events 0..3 forwarded as vINTIDs
/// 8192..8195 of vPE 0. Each helper sets a source's priority and makes it pending.
class Vcpu : public ::testing::Test {
   protected:
    void SetUp() override {
        h.map_device(1);
        h.map_vpe(0, 0);
        for (uint32_t e = 0; e < 4; ++e) h.cmd(build::vmapti(1, e, 0, kVlpi + e, kNoDoorbell));
        h.schedule(0, 0);
        h.open_cpu(0);
        ASSERT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    }
    CpuInterface& cpu() { return h.gic.cpu(0); }
    /// vINTID 8192 + event, enabled at `priority`, made pending by an MSI.
    void vlpi(uint32_t event, uint8_t priority) {
        h.vlpi_config(kVlpi + event, priority, true);
        h.msi(1, event);
    }
    /// vSGI `sgi`, configured by VSGI and made pending through GITS_SGIR.
    void vsgi(unsigned sgi, uint8_t priority, bool group1 = true) {
        h.cmd(build::vsgi(0, static_cast<uint8_t>(sgi), priority, group1, false, true));
        h.gic.its().write64(GITS_SGIR, GitsSgir::vPEID.make(0) | GitsSgir::vINTID.make(sgi));
    }
    void lr(unsigned n, uint64_t value) { cpu().write_lr(n, value); }
    /// IAR1 then EOIR1; returns the INTID taken.
    uint32_t take() {
        uint32_t intid = cpu().read_iar1();
        if (intid != kSpuriousIntid) cpu().write_eoir1(intid);
        return intid;
    }

    GicHarness h;
};

// ---- priority ---------------------------------------------------------------------------------

class CpuInterfacePriority : public Vcpu {};

// IHI 0069 (the highest-priority pending interrupt, lower value first; reference/arm §1.6: the
// resident vPE's vLPIs and the list registers both reach the vCPU): IAR1 takes vLPIs, vSGIs and
// list registers in one priority order.
TEST_F(CpuInterfacePriority, AcknowledgesInPriorityOrderAcrossVlpisVsgisAndListRegisters) {
    vlpi(1, 0x60);
    vsgi(2, 0x40);
    lr(0, lr_value(kSpi, 0x50));
    vlpi(0, 0xA0);
    std::vector<uint32_t> taken;
    for (uint32_t hppi = cpu().read_hppir1(); hppi != kSpuriousIntid; hppi = cpu().read_hppir1()) {
        uint32_t intid = take();
        EXPECT_EQ(intid, hppi) << "IAR1 returned another INTID than HPPIR1";
        taken.push_back(intid);
        if (taken.size() > 8) break;
    }
    EXPECT_EQ(taken, (std::vector<uint32_t>{2, kSpi, kVlpi + 1, kVlpi}));
    EXPECT_EQ(cpu().read_iar1(), kSpuriousIntid);
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
}

// The model's choice for equal priorities (cpu_interface.h, docs/arm_gic_model.md: "the lowest
// INTID first"): among vLPIs.
TEST_F(CpuInterfacePriority, EqualPrioritiesAmongVlpisGoToTheLowestIntid) {
    vlpi(2, 0x80);
    vlpi(1, 0x80);
    EXPECT_EQ(cpu().read_iar1(), kVlpi + 1);
}

// The model's choice for equal priorities ("the lowest INTID first"): a vSGI (INTID 0..15) goes
// before a vLPI of the same priority.
TEST_F(CpuInterfacePriority, EqualPrioritiesVsgiGoesBeforeVlpi) {
    vlpi(0, 0x80);
    vsgi(5, 0x80);
    EXPECT_EQ(cpu().read_hppir1(), 5u) << "equal priorities did not go to the lowest INTID (vSGI 5 vs vLPI 8192)";
}

// The model's choice for equal priorities ("the lowest INTID first"): among list registers, the
// lowest vINTID, whatever list register holds it.
TEST_F(CpuInterfacePriority, EqualPrioritiesAmongListRegistersGoToTheLowestIntid) {
    lr(0, lr_value(kSpi + 10, 0x80));
    lr(1, lr_value(kSpi, 0x80));
    EXPECT_EQ(cpu().read_hppir1(), kSpi) << "equal priorities went to the lower list register, not the lowest INTID";
}

// The model's choice for equal priorities ("the lowest INTID first"): a list register's vINTID
// below a direct vLPI's goes first.
TEST_F(CpuInterfacePriority, EqualPrioritiesListRegisterBelowAVlpiGoesFirst) {
    vlpi(0, 0x80);
    lr(0, lr_value(kSpi, 0x80));
    EXPECT_EQ(cpu().read_hppir1(), kSpi) << "equal priorities did not go to the lowest INTID (LR 40 vs vLPI 8192)";
}

// IHI 0069 (ICV_PMR_EL1: an interrupt is signalled only if its priority is higher, i.e. numerically
// lower, than the mask): priority 0x80 is masked by PMR 0x80 and passes PMR 0x81.
TEST_F(CpuInterfacePriority, PmrMasksPrioritiesNotStrictlyBelowIt) {
    vlpi(0, 0x80);
    cpu().write_pmr(0x80);
    EXPECT_EQ(cpu().read_pmr(), 0x80);
    EXPECT_EQ(cpu().read_hppir1(), kSpuriousIntid);
    EXPECT_EQ(cpu().read_iar1(), kSpuriousIntid);
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi)) << "a masked IAR1 consumed the vLPI";
    cpu().write_pmr(0x81);
    EXPECT_EQ(cpu().read_iar1(), kVlpi);
}

// IHI 0069 (ICV_PMR_EL1 resets to 0): until the guest writes it, even priority 0 is masked.
TEST_F(CpuInterfacePriority, PmrOfZeroMasksEvenPriorityZero) {
    GicHarness fresh;
    EXPECT_EQ(fresh.gic.cpu(0).read_pmr(), 0);
    vlpi(0, 0x00);
    lr(0, lr_value(kSpi, 0x00));
    cpu().write_pmr(0);
    EXPECT_EQ(cpu().read_hppir1(), kSpuriousIntid);
    EXPECT_FALSE(cpu().interrupt_signalled());
}

// IHI 0069 (running priority, EOImode 0): after an acknowledge only a strictly higher priority
// preempts; EOI drops the running priority back to the previous active one, then to idle (0xFF).
TEST_F(CpuInterfacePriority, RunningPriorityBlocksEqualAndLowerPrioritiesUntilEoi) {
    EXPECT_EQ(cpu().read_rpr(), 0xFF);
    vlpi(0, 0x80);
    EXPECT_EQ(cpu().read_iar1(), kVlpi);
    EXPECT_EQ(cpu().read_rpr(), 0x80);
    vlpi(1, 0x80);
    vlpi(2, 0xA0);
    EXPECT_EQ(cpu().read_hppir1(), kSpuriousIntid);
    vlpi(3, 0x40);
    EXPECT_EQ(cpu().read_iar1(), kVlpi + 3);
    EXPECT_EQ(cpu().read_rpr(), 0x40);
    cpu().write_eoir1(kVlpi + 3);
    EXPECT_EQ(cpu().read_rpr(), 0x80);
    EXPECT_EQ(cpu().read_hppir1(), kSpuriousIntid);
    cpu().write_eoir1(kVlpi);
    EXPECT_EQ(cpu().read_rpr(), 0xFF);
    EXPECT_EQ(cpu().read_hppir1(), kVlpi + 1);
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
}

// IHI 0069 (ICV_IGRPEN1_EL1 = 0: Group 1 interrupts are not signalled): direct vLPIs and list
// registers alike are hidden.
TEST_F(CpuInterfacePriority, Igrpen1ZeroHidesEveryGroup1Interrupt) {
    vlpi(0, 0x80);
    lr(0, lr_value(kSpi, 0x60));
    cpu().write_igrpen1(false);
    EXPECT_FALSE(cpu().read_igrpen1());
    EXPECT_EQ(cpu().read_hppir1(), kSpuriousIntid);
    EXPECT_EQ(cpu().read_iar1(), kSpuriousIntid);
    cpu().write_igrpen1(true);
    EXPECT_EQ(cpu().read_hppir1(), kSpi);
}

// reference/arm §1.3 (GICR_VPENDBASER.vGrp1En, "vGrp1En = distributor enabled"): with vGrp1En=0
// the resident vPE's direct interrupts are not delivered; list registers still are.
TEST_F(CpuInterfacePriority, VGrp1EnZeroHidesDirectInterruptsButNotListRegisters) {
    h.deschedule(0, false);
    h.schedule(0, 0, /*grp1=*/false);
    vlpi(0, 0x40);
    vsgi(1, 0x40);
    lr(0, lr_value(kSpi, 0x60));
    EXPECT_EQ(take(), kSpi);
    EXPECT_EQ(cpu().read_hppir1(), kSpuriousIntid);
    EXPECT_TRUE(h.gic.rd(0).vlpi_pending(0, kVlpi));
}

// cpu_interface.h ("Group 1 only is acknowledged"; IHI 0069: ICV_IAR1 acknowledges Group 1): a
// Group 0 list register is not taken by IAR1 and stays pending.
TEST_F(CpuInterfacePriority, Group0ListRegisterIsNotAcknowledgedByIar1) {
    lr(0, lr_value(kSpi, 0x60, Status::Pending, /*group1=*/false));
    EXPECT_EQ(cpu().read_hppir1(), kSpuriousIntid);
    EXPECT_EQ(cpu().read_iar1(), kSpuriousIntid);
    EXPECT_EQ(cpu().lr(0).status, Status::Pending);
}

// IHI 0069 (VSGI Group, reference/arm §1.2): a Group 0 vSGI is not taken by IAR1.
TEST_F(CpuInterfacePriority, Group0VsgiIsNotAcknowledgedByIar1) {
    vsgi(4, 0x40, /*group1=*/false);
    EXPECT_EQ(cpu().read_iar1(), kSpuriousIntid);
    EXPECT_TRUE(h.gic.rd(0).vpe(0)->sgis[4].pending);
}

// IHI 0069 (EOI of an interrupt other than the highest active one is UNPREDICTABLE): the model logs
// a guest error and drops that interrupt's priority.
TEST_F(CpuInterfacePriority, EoiOfAnOlderActiveInterruptIsAGuestError) {
    vlpi(0, 0x80);
    EXPECT_EQ(cpu().read_iar1(), kVlpi);
    vlpi(1, 0x40);
    EXPECT_EQ(cpu().read_iar1(), kVlpi + 1);
    cpu().write_eoir1(kVlpi);
    EXPECT_EQ(count(h, {tp::kVcpuWriteEoir1Error, tp::kVcpuWriteEoir1LrError}), 1u) << h.text();
    EXPECT_EQ(cpu().read_rpr(), 0x40);
}

// ---- list registers ---------------------------------------------------------------------------

class CpuInterfaceListRegister : public Vcpu {};

// ICH_LR<n>_EL2 layout (cpu_interface.h; per IHI 0069): State[63:62] HW[61] Group[60]
// Priority[55:48] pINTID[44:32] vINTID[31:0]; decode and encode are inverses and reserved bits drop.
TEST(ListRegisterFormat, EncodeDecodeRoundTrip) {
    ListRegister l;
    l.status = Status::PendingActive;
    l.hw = true;
    l.group1 = true;
    l.priority = 0xA8;
    l.pintid = 0x1ABC;
    l.vintid = 0x1234'5678;
    uint64_t raw = (uint64_t{3} << 62) | (uint64_t{1} << 61) | (uint64_t{1} << 60) | (uint64_t{0xA8} << 48) |
                   (uint64_t{0x1ABC} << 32) | 0x1234'5678;
    EXPECT_EQ(l.encode(), raw);
    EXPECT_EQ(ListRegister::decode(raw), l);
    for (uint64_t r : {uint64_t{0}, lr_value(kSpi, 0x50), lr_value(27, 0x10, Status::Active, false, true, 27),
                       lr_value(0xFFFF'FFFF, 0xFF, Status::Pending, true, false, 0x1FFF)})
        EXPECT_EQ(ListRegister::decode(r).encode(), r);
    uint64_t reserved = (uint64_t{1} << 59) | (uint64_t{1} << 45);
    EXPECT_EQ(ListRegister::decode(raw | reserved).encode(), raw);
    EXPECT_TRUE(l.pending());
    EXPECT_TRUE(l.active());
}

// ICH_LR<n>_EL2 is a plain register for the hypervisor: what it writes it reads back.
TEST_F(CpuInterfaceListRegister, WrittenValueReadsBack) {
    uint64_t v = lr_value(kSpi, 0x50, Status::Pending, true, false, 0);
    lr(2, v);
    EXPECT_EQ(cpu().read_lr(2), v);
    EXPECT_EQ(cpu().lr(2).vintid, kSpi);
    EXPECT_EQ(cpu().list_registers(), 4u);
}

// ICH_VTR_EL2.ListRegs (GicConfig::list_registers = 4): a write to a list register that does not
// exist is ignored, with a guest error.
TEST_F(CpuInterfaceListRegister, WriteToANonexistentListRegisterIsIgnored) {
    lr(4, lr_value(kSpi, 0x50));
    EXPECT_EQ(count(h, tp::kVcpuWriteLrError), 1u) << h.text();
    EXPECT_EQ(cpu().read_lr(4), 0u);
    EXPECT_EQ(cpu().read_hppir1(), kSpuriousIntid);
}

// IHI 0069 (acknowledging an edge interrupt: pending -> active; EOI with EOImode 0 deactivates:
// active -> invalid).
TEST_F(CpuInterfaceListRegister, PendingEntryIsAcknowledgedToActiveAndEoiInvalidatesIt) {
    lr(0, lr_value(kSpi, 0x50));
    EXPECT_EQ(cpu().read_iar1(), kSpi);
    EXPECT_EQ(cpu().lr(0).status, Status::Active);
    EXPECT_EQ(cpu().read_rpr(), 0x50);
    cpu().write_eoir1(kSpi);
    EXPECT_EQ(cpu().lr(0).status, Status::Invalid);
    EXPECT_EQ(cpu().read_rpr(), 0xFF);
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
}

// IHI 0069 (deactivating a pending-and-active interrupt leaves it pending): the hypervisor marks
// the acknowledged entry pending again (a new edge); EOI leaves it pending, and it is taken again.
TEST_F(CpuInterfaceListRegister, EoiOfAPendingAndActiveEntryLeavesItPending) {
    lr(0, lr_value(kSpi, 0x50));
    EXPECT_EQ(cpu().read_iar1(), kSpi);
    lr(0, lr_value(kSpi, 0x50, Status::PendingActive));
    EXPECT_EQ(cpu().read_hppir1(), kSpuriousIntid);  // its own priority is running
    cpu().write_eoir1(kSpi);
    EXPECT_EQ(cpu().lr(0).status, Status::Pending);
    EXPECT_EQ(take(), kSpi);
    EXPECT_EQ(cpu().lr(0).status, Status::Invalid);
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
}

// IHI 0069 (an interrupt that is active is not signalled again until it is deactivated; QEMU's
// hppvi_index considers only list registers in the Pending state; not in reference/): an entry
// written as pending-and-active is not acknowledged.
TEST_F(CpuInterfaceListRegister, PendingAndActiveEntryIsNotAcknowledged) {
    lr(0, lr_value(kSpi, 0x50, Status::PendingActive));
    EXPECT_EQ(cpu().read_hppir1(), kSpuriousIntid) << "an active (and pending) list register entry was signalled";
    EXPECT_EQ(cpu().lr(0).status, Status::PendingActive);
}

// IHI 0069 (ICH_LR.HW=1: deactivating the virtual interrupt deactivates pINTID): EOI of a HW=1
// entry deactivates the physical interrupt; a HW=0 entry does not.
TEST_F(CpuInterfaceListRegister, EoiOfAHwEntryDeactivatesThePhysicalInterrupt) {
    lr(0, lr_value(27, 0x50, Status::Pending, true, /*hw=*/true, /*pintid=*/27));
    lr(1, lr_value(kSpi, 0x60));
    EXPECT_EQ(take(), 27u);
    auto it = std::find_if(h.log.events().begin(), h.log.events().end(),
                           [](const Event& e) { return e.point == &tp::kVcpuDeactivatePhysical; });
    ASSERT_NE(it, h.log.events().end()) << h.text();
    EXPECT_NE(std::find(it->args.begin(), it->args.end(), EventArg{"pintid", int64_t{27}}), it->args.end())
        << to_string(*it);
    EXPECT_EQ(take(), kSpi);
    EXPECT_EQ(h.count(tp::kVcpuDeactivatePhysical), 1u);
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
}

// IHI 0069 ICH_LR<n>_EL2 with HW=1: the pending state of the interrupt is the physical one, held at
// the physical distributor, so pending-and-active is not a valid State (vgic_v3_populate_lr never
// writes it: "allow_pending = false" for an active HW interrupt). The model's documented choice: a
// GuestError, and the list register is kept active only — it reads back active, is not
// signalled, and its EOI invalidates it (deactivating pINTID) instead of leaving it pending.
TEST_F(CpuInterfaceListRegister, HwPendingAndActiveIsAGuestErrorAndKeptActive) {
    lr(0, lr_value(27, 0x50, Status::Pending, true, /*hw=*/true, /*pintid=*/27));
    EXPECT_EQ(cpu().read_iar1(), 27u);
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
    lr(0, lr_value(27, 0x50, Status::PendingActive, true, /*hw=*/true, /*pintid=*/27));
    EXPECT_EQ(count(h, tp::kVcpuWriteLrHwPendingActiveError), 1u) << h.text();
    EXPECT_EQ(cpu().lr(0).status, Status::Active);
    EXPECT_TRUE(cpu().lr(0).hw);
    EXPECT_EQ(cpu().read_hppir1(), kSpuriousIntid);
    cpu().write_eoir1(27);
    EXPECT_EQ(cpu().lr(0).status, Status::Invalid) << "the dropped pending state came back";
    EXPECT_EQ(h.count(tp::kVcpuDeactivatePhysical), 1u);
    EXPECT_EQ(cpu().read_hppir1(), kSpuriousIntid);
    // HW=0 keeps pending-and-active, as before.
    lr(1, lr_value(kSpi, 0x50, Status::PendingActive));
    EXPECT_EQ(cpu().lr(1).status, Status::PendingActive);
    EXPECT_EQ(count(h, tp::kVcpuWriteLrHwPendingActiveError), 1u) << h.text();
}

// ---- violations -------------------------------------------------------------------------------

class CpuInterfaceViolation : public Vcpu {};

// reference/arm §3.1 (Marc Zyngier: "the same interrupt via both the LR and the stream interface"):
// writing a list register with a vLPI the resident vPE already has pending is a violation.
TEST_F(CpuInterfaceViolation, PendingVlpiOfTheResidentVpeWrittenIntoAListRegister) {
    vlpi(0, 0x80);
    lr(0, lr_value(kVlpi, 0x80));
    EXPECT_EQ(count(h, {tp::kVcpuWriteLrHwViolation, tp::kVcpuWriteLrTwiceViolation, tp::kVcpuWriteLrAndVptViolation}),
              1u)
        << h.text();
}

// reference/arm §3.1: a vLPI made pending for the resident vPE while a list register holds it.
TEST_F(CpuInterfaceViolation, VlpiMadePendingWhileAListRegisterHoldsIt) {
    lr(0, lr_value(kVlpi, 0x80));
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
    h.msi(1, 0);
    EXPECT_EQ(count(h, tp::kGicrVlpiPendingLrViolation), 1u) << h.text();
}

// reference/arm §3.1: the same state reached by making the vPE resident with the vLPI pending and a
// list register still holding it.
TEST_F(CpuInterfaceViolation, ScheduleWithAListRegisterHoldingAPendingVlpi) {
    lr(0, lr_value(kVlpi, 0x80));
    h.deschedule(0, false);
    h.msi(1, 0);
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
    h.schedule(0, 0);
    EXPECT_EQ(h.count(EventKind::Violation), 1u) << h.text();
}

// reference/arm §3.1 (KVM sets hwintid only for PPIs and SPIs): a list register with HW=1 for a
// vINTID >= 8192 is a violation; below 8192 it is not.
TEST_F(CpuInterfaceViolation, HwListRegisterForAVlpi) {
    lr(0, lr_value(kVlpi - 1, 0x80, Status::Pending, true, /*hw=*/true, 27));
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
    lr(1, lr_value(kSoftVlpi, 0x80, Status::Pending, true, /*hw=*/true, 27));
    EXPECT_EQ(count(h, {tp::kVcpuWriteLrHwViolation, tp::kVcpuWriteLrTwiceViolation, tp::kVcpuWriteLrAndVptViolation}),
              1u)
        << h.text();
}

// IHI 0069 (two list registers with the same vINTID: UNPREDICTABLE): a violation; an invalid entry
// with the same vINTID is not.
TEST_F(CpuInterfaceViolation, TwoListRegistersHoldingOneVintid) {
    lr(0, lr_value(kSpi, 0x80, Status::Invalid));
    lr(1, lr_value(kSpi, 0x80));
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
    lr(2, lr_value(kSpi, 0x80, Status::Active));
    EXPECT_EQ(count(h, {tp::kVcpuWriteLrHwViolation, tp::kVcpuWriteLrTwiceViolation, tp::kVcpuWriteLrAndVptViolation}),
              1u)
        << h.text();
}

// IHI 0069 (EOI of an INTID that is not active): a violation.
TEST_F(CpuInterfaceViolation, EoiOfAnIntidThatIsNotActive) {
    lr(0, lr_value(kSpi, 0x80));
    cpu().write_eoir1(kSpi);
    EXPECT_EQ(count(h, tp::kVcpuWriteEoir1Violation), 1u) << h.text();
    EXPECT_EQ(cpu().lr(0).status, Status::Pending);
}

// A special INTID written to ICC_EOIR1 (the 1023 an IAR read returned with nothing pending) is
// ignored, as the architecture says (QEMU icc_eoir_write): logged, not a violation, nothing changes.
TEST_F(CpuInterfaceViolation, EoiOfASpecialIntidIsIgnoredNotAViolation) {
    lr(0, lr_value(kSpi, 0x80));
    for (uint32_t special : {1020u, 1021u, 1022u, 1023u}) cpu().write_eoir1(special);
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
    EXPECT_EQ(count(h, tp::kVcpuWriteEoir1Special), 4u) << h.text();
    EXPECT_EQ(cpu().lr(0).status, Status::Pending);
}

// None of the rules above fires in legal sequences: direct vLPIs and vSGIs, list registers (a
// software-injected vLPI no ITE forwards, a HW=1 PPI, a re-pended active entry), preemption and
// in-order EOIs, and a vLPI re-entering the VPT after its acknowledge.
TEST_F(CpuInterfaceViolation, NoneInLegalSequences) {
    vlpi(0, 0x80);
    vsgi(3, 0x70);
    lr(0, lr_value(kSoftVlpi, 0x60));
    lr(1, lr_value(27, 0x90, Status::Pending, true, true, 27));
    EXPECT_EQ(cpu().read_iar1(), kSoftVlpi);
    vlpi(1, 0x20);
    EXPECT_EQ(take(), kVlpi + 1);  // preempts
    cpu().write_eoir1(kSoftVlpi);
    lr(0, lr_value(kSpi, 0x60));  // the hypervisor refills the freed entry
    EXPECT_EQ(take(), kSpi);
    EXPECT_EQ(take(), 3u);
    EXPECT_EQ(cpu().read_iar1(), kVlpi);
    h.msi(1, 0);  // pending again while active: fine for a direct vLPI
    cpu().write_eoir1(kVlpi);
    EXPECT_EQ(take(), kVlpi);
    EXPECT_EQ(take(), 27u);
    EXPECT_EQ(take(), kSpuriousIntid);
    EXPECT_EQ(h.count(EventKind::Violation), 0u) << h.text();
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// ---- where a vLPI is pending ------------------------------------------------------------------

class CpuInterfaceWhere : public Vcpu {};

// gic.h where_vlpi: a pending list register written while vPE 0 is resident on CPU 0 holds vPE 0's
// vINTID: `arm.list_register[cpu0]`, live; not another vPE's; gone once acknowledged.
TEST_F(CpuInterfaceWhere, PendingListRegisterOfTheVpeIsReported) {
    lr(0, lr_value(kSoftVlpi, 0x80));
    EXPECT_EQ(where(h, 0, kSoftVlpi), (std::vector<Location>{{&places::kListRegister, 0, true}}));
    EXPECT_TRUE(where(h, 1, kSoftVlpi).empty());
    EXPECT_EQ(cpu().read_iar1(), kSoftVlpi);
    EXPECT_TRUE(where(h, 0, kSoftVlpi).empty());
}

// gic.h where_vlpi: the list register names its CPU.
TEST_F(CpuInterfaceWhere, ListRegisterOnAnotherCpuNamesThatCpu) {
    h.map_vpe(1, 1);
    h.schedule(1, 1);
    h.gic.cpu(1).write_lr(3, lr_value(kSoftVlpi, 0x80));
    EXPECT_EQ(where(h, 1, kSoftVlpi), (std::vector<Location>{{&places::kListRegister, 1, true}}));
    EXPECT_TRUE(where(h, 0, kSoftVlpi).empty());
}

}  // namespace
}  // namespace irqdiff::arm::testing
