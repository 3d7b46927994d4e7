// One pCPU with VMX APIC virtualization, one rule per test: posted-interrupt processing (SDM §29.6),
// virtual-interrupt evaluation and delivery (§29.2), EOI, PPR and TPR virtualization (§29.1.2-
// §29.1.4), APIC-write handling, the VM exits the guest causes, the VM-entry checks, and the
// physical local APIC a notification arrives at. Rules cite
// reference/x86_posted_interrupts_kvm_migration.md ("reference §N") and the SDM section it names.
#include "x86_pi/hw/cpu.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tests/event_match.h"
#include "x86_pi/hw/pi_desc.h"
#include "x86_pi/trace_points.h"

namespace irqdiff::x86 {
namespace {

constexpr uint32_t kApicId = 1;
constexpr uint64_t kVapic = 0x3000'0000;  // virtual-APIC page, 4 KiB aligned
constexpr uint64_t kPid = 0x2000'0040;    // 64-byte aligned
constexpr uint8_t kPinv = 0xF2;           // POSTED_INTR_VECTOR (reference §1.3)

BitArray<256> vectors(std::initializer_list<unsigned> vs) {
    BitArray<256> b;
    for (unsigned v : vs) b.set(v);
    return b;
}

/// Host memory, an event log and one CPU whose VMCS is set up the way KVM sets it with APICv
/// (init_vmcs, reference §1.4): external-interrupt exiting, ack-on-exit, posted-interrupt processing,
/// virtual-interrupt delivery and APIC-register virtualization; PINV 0xF2; a PID with NV=PINV, SN=0.
struct Rig {
    AddressSpace mem{"host", Memory::kHostSize};
    EventLog log;
    Cpu cpu{kApicId, mem, log};

    Rig() {
        Vmcs& c = cpu.vmcs();
        c.external_interrupt_exiting = true;
        c.ack_interrupt_on_exit = true;
        c.process_posted_interrupts = true;
        c.virtual_interrupt_delivery = true;
        c.apic_register_virtualization = true;
        c.pinv = kPinv;
        c.pid_addr = kPid;
        c.virtual_apic_addr = kVapic;
        PiDesc d;
        d.nv = kPinv;
        d.ndst = ndst_for_apic_id(kApicId, false);
        put_pid(d);
    }
    Rig(const Rig&) = delete;

    ApicPage page() { return ApicPage(mem, kVapic); }
    BitArray<256> virr() { return page().bits(apic::IRR); }
    BitArray<256> visr() { return page().bits(apic::ISR); }
    uint32_t vppr() { return page().read(apic::PPR); }

    void put_pid(const PiDesc& d) { ASSERT_TRUE(write_pi_desc(mem, kPid, d).ok()); }
    PiDesc pid() const {
        PiDescRead r = read_pi_desc(mem, kPid);
        EXPECT_TRUE(r.ok());
        EXPECT_TRUE(r.reserved_clear);
        return r.value;
    }
    /// What a post leaves in the PID (VT-d §5.2.3 step 3): the PIR bits and ON.
    void post(std::initializer_list<unsigned> vs) {
        PiDesc d = pid();
        for (unsigned v : vs) d.pir.set(v);
        d.on = true;
        put_pid(d);
    }
    /// A vector already pending in VIRR, with RVI kept at the highest one as KVM keeps it
    /// (reference §3.3: hardware never loads RVI from VIRR; §4.2 vmx_sync_pir_to_irr).
    void pend(uint8_t v) {
        page().set(apic::IRR, v);
        if (v > cpu.vmcs().rvi) cpu.vmcs().rvi = v;
    }
    void enter() {
        ASSERT_EQ(cpu.vm_entry(), VmEntryFailure::None);
        ASSERT_TRUE(cpu.in_guest());
    }
    /// The notification arrives at this CPU's physical APIC.
    void notify() { cpu.interrupt(kPinv); }

    const Event* last(const Points& points) const { return last_event(log.events(), points); }
};

const ArgValue* arg(const Event& e, std::string_view key) {
    for (const EventArg& a : e.args)
        if (a.key == key) return &a.value;
    return nullptr;
}

/// The CPU left the guest with exactly this exit.
void expect_exit(Rig& rig, ExitReason reason, uint8_t vector = 0, uint32_t offset = 0) {
    EXPECT_FALSE(rig.cpu.in_guest());
    std::optional<VmExit> e = rig.cpu.take_exit();
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->reason, reason) << to_string(e->reason);
    EXPECT_EQ(e->vector, vector);
    EXPECT_EQ(e->offset, offset);
    EXPECT_FALSE(rig.cpu.take_exit().has_value());  // reported once
}

// ---------------------------------------------------------------------------------------------
// Posted-interrupt processing (SDM §29.6, reference §3.1)

// SDM §29.6 step 3 [reference §3.1]: ON is cleared and the rest of the descriptor (SN, NV, NDST,
// the reserved words) is left as it was. The model is sequential, so the order "ON before PIR"
// is seen through its consequence: after processing ON=0 with PIR empty, so the next post finds
// ON=0 and notifies again (platform_test.cc, PostAfterTheDrainNotifiesAgain).
TEST(PiProcessing, ClearsOnAndLeavesTheRestOfTheDescriptor) {
    Rig rig;
    PiDesc d = rig.pid();
    d.ndst = 0x0000'0100;
    rig.put_pid(d);
    rig.post({0x41});
    rig.enter();
    rig.notify();
    PiDesc after = rig.pid();  // also checks the reserved bits stayed 0
    EXPECT_FALSE(after.on);
    EXPECT_FALSE(after.pir.any());
    EXPECT_FALSE(after.sn);
    EXPECT_EQ(after.nv, kPinv);
    EXPECT_EQ(after.ndst, 0x0000'0100u);
    EXPECT_TRUE(rig.cpu.in_guest());
}

// SDM §29.6 steps 1 and 4 [reference §3.1]: the CPU acknowledges the notification and then writes
// the physical EOI, so PINV is neither pending nor in service afterwards and the host has no work.
TEST(PiProcessing, EoisTheNotificationInThePhysicalApic) {
    Rig rig;
    rig.post({0x41});
    rig.enter();
    rig.notify();
    EXPECT_FALSE(rig.cpu.irr(kPinv));
    EXPECT_FALSE(rig.cpu.isr(kPinv));
    EXPECT_TRUE(rig.cpu.in_guest());
    EXPECT_FALSE(rig.cpu.host_work());
    EXPECT_FALSE(rig.cpu.take_exit().has_value());
}

// SDM §29.6 steps 5-6 [reference §3.1]: PIR is ORed into VIRR (bits already in VIRR stay), PIR is
// cleared, RVI = max(RVI, highest PIR vector). The CPU.pi_process record counts the moved bits.
TEST(PiProcessing, OrsPirIntoVirrClearsPirAndRaisesRvi) {
    Rig rig;
    rig.pend(0x33);
    rig.post({0x41, 0x45});
    rig.enter();
    rig.notify();
    EXPECT_EQ(rig.virr(), vectors({0x33, 0x41, 0x45}));
    EXPECT_FALSE(rig.pid().pir.any());
    EXPECT_EQ(rig.cpu.vmcs().rvi, 0x45);
    const Event* e = rig.last(tp::kCpuPiProcess);
    ASSERT_NE(e, nullptr);
    ASSERT_NE(arg(*e, "moved"), nullptr);
    EXPECT_EQ(*arg(*e, "moved"), ArgValue(int64_t{2}));
    EXPECT_EQ(*arg(*e, "highest"), ArgValue(Hex{0x45}));
}

// SDM §29.6 step 5 with the VIRR layout of SDM §29.1.1 [reference §1.1, §1.5]: PIR vector v (word
// v/64) lands in the VIRR dword at 200H | ((v & E0H) >> 1), bit v & 1FH, for vectors in every
// 32-bit chunk and both halves of every PIR word, including 32 and 255; RVI becomes 255.
TEST(PiProcessing, DrainsEveryPirWordIntoItsVirrDword) {
    const std::initializer_list<unsigned> vs = {32, 63, 64, 95, 96, 127, 128, 159, 160, 191, 192, 223, 224, 255};
    Rig rig;
    rig.post(vs);
    rig.enter();
    rig.notify();
    for (unsigned chunk = 0; chunk < 8; ++chunk) {
        uint32_t expect = 0;
        for (unsigned v : vs)
            if (v / 32 == chunk) expect |= 1u << (v % 32);
        EXPECT_EQ(rig.page().read(apic::IRR + 0x10 * chunk), expect) << "VIRR dword " << chunk;
    }
    for (unsigned w = 0; w < kPirWords; ++w) EXPECT_EQ(rig.mem.read64(kPid + 8 * w).value, 0u) << "PIR word " << w;
    EXPECT_EQ(rig.cpu.vmcs().rvi, 255);
}

// SDM §29.6 step 6 [reference §3.1]: RVI is the maximum of the old RVI and the highest PIR vector;
// a PIR below the old RVI leaves RVI unchanged.
TEST(PiProcessing, RviKeepsAHigherOldValue) {
    Rig rig;
    rig.pend(0xE1);
    rig.post({0x41});
    rig.enter();
    rig.notify();
    EXPECT_EQ(rig.cpu.vmcs().rvi, 0xE1);
    EXPECT_EQ(rig.virr(), vectors({0x41, 0xE1}));
}

// SDM §29.6 steps 3-6 [reference §3.1 "if PIR was empty, RVI unchanged"]: a notification with ON
// set and PIR empty clears ON and EOIs the notification; VIRR and RVI stay as they were.
TEST(PiProcessing, EmptyPirWithOnSetOnlyClearsOnAndEois) {
    Rig rig;
    rig.pend(0x50);
    rig.post({});
    ASSERT_TRUE(rig.pid().on);
    rig.enter();
    rig.notify();
    EXPECT_FALSE(rig.pid().on);
    EXPECT_EQ(rig.virr(), vectors({0x50}));
    EXPECT_EQ(rig.cpu.vmcs().rvi, 0x50);
    EXPECT_FALSE(rig.cpu.isr(kPinv));
    EXPECT_EQ(*arg(*rig.last(tp::kCpuPiProcess), "moved"), ArgValue(int64_t{0}));
}

// SDM §29.6 step 7 and §29.2.1 [reference §3.1, §3.3]: processing ends with the evaluation of
// pending virtual interrupts: recognized iff RVI[7:4] > VPPR[7:4].
TEST(PiProcessing, EvaluatesPendingVirtualInterruptsAfterwards) {
    Rig rig;
    rig.enter();
    EXPECT_FALSE(rig.cpu.recognized());
    rig.post({0x61});
    rig.notify();
    EXPECT_TRUE(rig.cpu.recognized());

    Rig masked;  // VPPR 0x60 (VTPR 0x60, nothing in service): class 6 is not above class 6
    masked.page().write(apic::TPR, 0x60);
    masked.page().write(apic::PPR, 0x60);
    masked.enter();
    masked.post({0x61});
    masked.notify();
    EXPECT_EQ(masked.virr(), vectors({0x61}));
    EXPECT_FALSE(masked.cpu.recognized());
}

// SDM §29.6 [reference §3.1]: with external-interrupt exiting the notification is recognized whatever
// the guest's RFLAGS.IF, so PIR reaches VIRR while the guest runs with IF=0; delivery waits for IF=1
// (SDM §29.2.2).
TEST(PiProcessing, HappensWithGuestInterruptsDisabledAndDeliveryWaitsForSti) {
    Rig rig;
    rig.cpu.guest_set_if(false);
    rig.enter();
    rig.post({0x61});
    rig.notify();
    EXPECT_EQ(rig.virr(), vectors({0x61}));
    EXPECT_EQ(rig.cpu.guest_interrupt(), std::nullopt);
    EXPECT_TRUE(rig.cpu.in_guest());
    rig.cpu.guest_set_if(true);
    EXPECT_EQ(rig.cpu.guest_interrupt(), std::optional<uint8_t>(0x61));
}

// SDM §29.6 step 2 [reference §3.1]: in non-root operation a vector other than PINV is an
// external-interrupt VM exit; with ack-on-exit the vector is acknowledged (moved to ISR) and
// reported. The PID is not touched.
TEST(PiProcessing, OtherVectorInNonRootIsAnExternalInterruptExit) {
    Rig rig;
    rig.post({0x41});
    rig.enter();
    rig.cpu.interrupt(0x31);
    expect_exit(rig, ExitReason::ExternalInterrupt, 0x31);
    EXPECT_TRUE(rig.cpu.isr(0x31));
    EXPECT_FALSE(rig.cpu.irr(0x31));
    PiDesc d = rig.pid();
    EXPECT_TRUE(d.on);
    EXPECT_EQ(d.pir, vectors({0x41}));
    EXPECT_FALSE(rig.virr().any());
    rig.cpu.eoi();
    EXPECT_FALSE(rig.cpu.isr(0x31));
}

// SDM §29.6 (processing needs "process posted interrupts" = 1) [reference §3.1, §4.4: with APICv
// inhibited the notification causes a plain external-interrupt exit]: PINV itself then exits.
TEST(PiProcessing, NotificationVectorWithoutPostedProcessingExits) {
    Rig rig;
    rig.cpu.vmcs().process_posted_interrupts = false;
    rig.post({0x41});
    rig.enter();
    rig.notify();
    expect_exit(rig, ExitReason::ExternalInterrupt, kPinv);
    EXPECT_TRUE(rig.pid().on);
    EXPECT_EQ(rig.pid().pir, vectors({0x41}));
    EXPECT_FALSE(rig.virr().any());
}

// Reference §3.2: in root mode the notification is an ordinary host interrupt: it waits in the
// physical IRR, the host takes and EOIs it (sysvec_kvm_posted_intr_ipi), and PIR/ON stay for
// software to drain. A notification already taken by the host is not processed at the next entry.
TEST(PiProcessing, NotificationInRootModeIsAHostInterrupt) {
    Rig rig;
    rig.post({0x41});
    rig.notify();
    EXPECT_TRUE(rig.cpu.irr(kPinv));
    EXPECT_TRUE(rig.cpu.host_work());
    EXPECT_EQ(rig.cpu.acknowledge(), std::optional<uint8_t>(kPinv));
    EXPECT_TRUE(rig.cpu.isr(kPinv));
    rig.cpu.eoi();
    EXPECT_FALSE(rig.cpu.isr(kPinv));
    EXPECT_FALSE(rig.cpu.host_work());
    rig.enter();
    EXPECT_TRUE(rig.pid().on);
    EXPECT_EQ(rig.pid().pir, vectors({0x41}));
    EXPECT_FALSE(rig.virr().any());
    EXPECT_EQ(rig.last(tp::kCpuPiProcess), nullptr);
}

// Reference §3.2 [SDM §29.6]: a notification still pending in the physical APIC at VM entry is
// recognized right after entry and processed as a posted interrupt (why KVM may IPI a vCPU that is
// about to enter).
TEST(PiProcessing, NotificationPendingAtVmEntryIsProcessedAfterEntry) {
    Rig rig;
    rig.post({0x41});
    rig.notify();
    rig.enter();
    EXPECT_FALSE(rig.cpu.irr(kPinv));
    EXPECT_FALSE(rig.cpu.isr(kPinv));
    EXPECT_FALSE(rig.pid().on);
    EXPECT_EQ(rig.virr(), vectors({0x41}));
    EXPECT_EQ(rig.cpu.vmcs().rvi, 0x41);
    EXPECT_TRUE(rig.cpu.recognized());
}

// SDM §29.6 [reference §3.1 "Triggered when ... recognized", §4.2]: processing is started only by
// the notification; a PID with ON and PIR set but no notification pending is left alone at VM
// entry (software has to sync it, vmx_sync_pir_to_irr).
TEST(PiProcessing, OnWithoutANotificationIsNotDrainedAtEntry) {
    Rig rig;
    rig.post({0x41});
    rig.enter();
    EXPECT_TRUE(rig.pid().on);
    EXPECT_EQ(rig.pid().pir, vectors({0x41}));
    EXPECT_FALSE(rig.virr().any());
    EXPECT_EQ(rig.cpu.vmcs().rvi, 0);
}

// ---------------------------------------------------------------------------------------------
// Virtual-interrupt evaluation and delivery (SDM §29.2.1, §29.2.2; reference §3.3)

// SDM §29.2.2 [reference §3.3]: V = RVI; VISR[V] = 1; SVI = V; VPPR = V & F0H; VIRR[V] = 0;
// RVI = highest remaining VIRR vector; the CPU stops recognizing. The lower vector, now below VPPR's
// class, is not delivered.
TEST(VirtualInterruptDelivery, MovesRviFromVirrToVisrAndUpdatesSviRviVppr) {
    Rig rig;
    rig.pend(0x41);
    rig.pend(0x6A);
    rig.cpu.guest_set_if(true);
    rig.enter();
    ASSERT_TRUE(rig.cpu.recognized());
    EXPECT_EQ(rig.cpu.guest_interrupt(), std::optional<uint8_t>(0x6A));
    EXPECT_EQ(rig.visr(), vectors({0x6A}));
    EXPECT_EQ(rig.virr(), vectors({0x41}));
    EXPECT_EQ(rig.cpu.vmcs().svi, 0x6A);
    EXPECT_EQ(rig.cpu.vmcs().rvi, 0x41);
    EXPECT_EQ(rig.vppr(), 0x60u);
    EXPECT_FALSE(rig.cpu.recognized());
    EXPECT_EQ(rig.cpu.guest_interrupt(), std::nullopt);
    EXPECT_TRUE(rig.cpu.in_guest());
}

// SDM §29.2.2 [reference §3.3]: delivery of the last pending vector leaves RVI = 0.
TEST(VirtualInterruptDelivery, RviBecomesZeroWhenVirrEmpties) {
    Rig rig;
    rig.pend(0x61);
    rig.cpu.guest_set_if(true);
    rig.enter();
    EXPECT_EQ(rig.cpu.guest_interrupt(), std::optional<uint8_t>(0x61));
    EXPECT_FALSE(rig.virr().any());
    EXPECT_EQ(rig.cpu.vmcs().rvi, 0);
}

// SDM §29.2.1 [reference §3.3]: a pending virtual interrupt is recognized iff RVI[7:4] > VPPR[7:4]
// (strictly: the same priority class as VPPR is not enough).
TEST(VirtualInterruptDelivery, RecognizedOnlyWhenRviClassIsAboveVpprClass) {
    for (uint8_t rvi : {0x5F, 0x60, 0x6F, 0x70, 0x71}) {
        Rig rig;
        rig.page().write(apic::TPR, 0x65);
        rig.page().write(apic::PPR, 0x65);
        rig.pend(rvi);
        rig.cpu.guest_set_if(true);
        rig.enter();
        const bool above = (rvi >> 4) > 6;
        EXPECT_EQ(rig.cpu.recognized(), above) << "RVI " << int{rvi};
        EXPECT_EQ(rig.cpu.guest_interrupt(), above ? std::optional<uint8_t>(rvi) : std::nullopt) << "RVI " << int{rvi};
    }
}

// SDM §29.2.2 [reference §3.3]: delivery needs RFLAGS.IF = 1; with IF = 0 the interrupt stays
// recognized and pending in VIRR.
TEST(VirtualInterruptDelivery, NotDeliveredWhileIfIsClear) {
    Rig rig;
    rig.pend(0x61);
    rig.cpu.guest_set_if(false);
    rig.enter();
    EXPECT_TRUE(rig.cpu.recognized());
    EXPECT_EQ(rig.cpu.guest_interrupt(), std::nullopt);
    EXPECT_EQ(rig.virr(), vectors({0x61}));
    EXPECT_FALSE(rig.visr().any());
    EXPECT_EQ(rig.cpu.vmcs().svi, 0);
}

// SDM §29.6 step 7, §29.2.1-§29.2.2 [reference §3.3]: a higher-class vector posted while another is
// in service is recognized against VPPR = the serviced class and nests; its EOI returns SVI and
// VPPR to the outer vector.
TEST(VirtualInterruptDelivery, HigherClassPostNestsOverTheServicedVector) {
    Rig rig;
    rig.pend(0x51);
    rig.cpu.guest_set_if(true);
    rig.enter();
    ASSERT_EQ(rig.cpu.guest_interrupt(), std::optional<uint8_t>(0x51));
    rig.post({0x55});  // same class as in service: not recognized
    rig.notify();
    EXPECT_FALSE(rig.cpu.recognized());
    rig.post({0x71});
    rig.notify();
    EXPECT_TRUE(rig.cpu.recognized());
    EXPECT_EQ(rig.cpu.guest_interrupt(), std::optional<uint8_t>(0x71));
    EXPECT_EQ(rig.visr(), vectors({0x51, 0x71}));
    EXPECT_EQ(rig.cpu.vmcs().svi, 0x71);
    EXPECT_EQ(rig.cpu.vmcs().rvi, 0x55);
    rig.cpu.guest_apic_write(apic::EOI, 0);
    EXPECT_EQ(rig.visr(), vectors({0x51}));
    EXPECT_EQ(rig.cpu.vmcs().svi, 0x51);
    EXPECT_EQ(rig.vppr(), 0x50u);
    EXPECT_FALSE(rig.cpu.recognized());  // 0x55 is class 5, as is VPPR
}

// SDM §29.2.1 [reference §3.3]: with interrupt-window exiting nothing is recognized; once IF = 1 the
// CPU exits for the window instead of delivering, and VIRR is untouched.
TEST(VirtualInterruptDelivery, InterruptWindowExitingExitsInsteadOfDelivering) {
    Rig rig;
    rig.cpu.vmcs().interrupt_window_exiting = true;
    rig.pend(0x61);
    rig.cpu.guest_set_if(false);
    rig.enter();
    EXPECT_FALSE(rig.cpu.recognized());
    EXPECT_EQ(rig.cpu.guest_interrupt(), std::nullopt);
    EXPECT_TRUE(rig.cpu.in_guest());
    rig.cpu.guest_set_if(true);
    EXPECT_EQ(rig.cpu.guest_interrupt(), std::nullopt);
    expect_exit(rig, ExitReason::InterruptWindow);
    EXPECT_EQ(rig.virr(), vectors({0x61}));
    EXPECT_FALSE(rig.visr().any());
}

// VM-entry event injection (cpu.h): the injected event is delivered first, whatever RFLAGS.IF, and
// does not touch VIRR/VISR; a VM exit before it was delivered moves it to IDT-vectoring information
// so the hypervisor can re-inject it.
TEST(VirtualInterruptDelivery, InjectedEventGoesFirstAndAnExitSavesItAsIdtVectoring) {
    Rig rig;
    rig.pend(0x61);
    rig.cpu.vmcs().entry_interruption = 0x2F;
    rig.cpu.guest_set_if(false);
    rig.enter();
    EXPECT_EQ(rig.cpu.guest_interrupt(), std::optional<uint8_t>(0x2F));
    EXPECT_FALSE(rig.cpu.vmcs().entry_interruption.has_value());
    EXPECT_EQ(rig.virr(), vectors({0x61}));

    Rig interrupted;
    interrupted.cpu.vmcs().entry_interruption = 0x2F;
    interrupted.cpu.interrupt(0x31);  // a host interrupt pending at entry: exit right after entry
    EXPECT_EQ(interrupted.cpu.vm_entry(), VmEntryFailure::None);
    expect_exit(interrupted, ExitReason::ExternalInterrupt, 0x31);
    EXPECT_FALSE(interrupted.cpu.vmcs().entry_interruption.has_value());
    EXPECT_EQ(interrupted.cpu.vmcs().idt_vectoring, std::optional<uint8_t>(0x2F));
}

// ---------------------------------------------------------------------------------------------
// EOI virtualization (SDM §29.1.4 [§29.1.2-§29.1.5 in reference §3.4])

// SDM §29.1.4 [reference §3.4]: V = SVI; VISR[V] = 0; SVI = highest VISR or 0; PPR virtualization
// (VPPR = VTPR); then evaluation, which recognizes the next pending vector so it is delivered.
TEST(EoiVirtualization, ClearsServicedVectorAndDeliversTheNextPending) {
    Rig rig;
    rig.pend(0x41);
    rig.pend(0x61);
    rig.cpu.guest_set_if(true);
    rig.page().write(apic::TPR, 0x20);
    rig.page().write(apic::PPR, 0x20);
    rig.enter();
    ASSERT_EQ(rig.cpu.guest_interrupt(), std::optional<uint8_t>(0x61));
    ASSERT_EQ(rig.cpu.guest_interrupt(), std::nullopt);
    rig.cpu.guest_apic_write(apic::EOI, 0);
    EXPECT_TRUE(rig.cpu.in_guest());
    EXPECT_FALSE(rig.visr().any());
    EXPECT_EQ(rig.cpu.vmcs().svi, 0);
    EXPECT_EQ(rig.vppr(), 0x20u);
    EXPECT_TRUE(rig.cpu.recognized());
    EXPECT_EQ(rig.cpu.guest_interrupt(), std::optional<uint8_t>(0x41));
    EXPECT_EQ(rig.cpu.vmcs().svi, 0x41);
}

// SDM §29.1.4 [reference §3.4, §4.6]: a vector set in the EOI-exit bitmap causes a trap-like
// EOI-induced VM exit with the vector: VISR, SVI and VPPR are already updated when the exit happens.
TEST(EoiVirtualization, EoiExitBitmapVectorCausesATrapLikeExit) {
    Rig rig;
    rig.cpu.vmcs().eoi_exit_bitmap.set(0x61);
    rig.pend(0x51);
    rig.pend(0x61);
    rig.cpu.guest_set_if(true);
    rig.enter();
    ASSERT_EQ(rig.cpu.guest_interrupt(), std::optional<uint8_t>(0x61));
    rig.cpu.guest_apic_write(apic::EOI, 0);
    expect_exit(rig, ExitReason::EoiInduced, 0x61);
    EXPECT_FALSE(rig.visr().any());
    EXPECT_EQ(rig.cpu.vmcs().svi, 0);
    EXPECT_EQ(rig.vppr(), 0u);
    EXPECT_EQ(rig.virr(), vectors({0x51}));

    Rig plain;  // the same EOI without the bitmap bit stays in the guest
    plain.pend(0x61);
    plain.cpu.guest_set_if(true);
    plain.enter();
    ASSERT_EQ(plain.cpu.guest_interrupt(), std::optional<uint8_t>(0x61));
    plain.cpu.guest_apic_write(apic::EOI, 0);
    EXPECT_TRUE(plain.cpu.in_guest());
    EXPECT_FALSE(plain.cpu.take_exit().has_value());
}

// SDM §29.1.4 [reference §3.4]: a guest EOI with nothing in service (SVI = 0) is harmless: VISR
// stays empty, VPPR = VTPR, no exit, and the emulator goes on (a guest can never crash it).
TEST(EoiVirtualization, EoiWithNothingInServiceOnlyRecomputesVppr) {
    Rig rig;
    rig.page().write(apic::TPR, 0x30);
    rig.enter();
    rig.cpu.guest_apic_write(apic::EOI, 0xFFFF'FFFF);
    EXPECT_TRUE(rig.cpu.in_guest());
    EXPECT_FALSE(rig.visr().any());
    EXPECT_EQ(rig.cpu.vmcs().svi, 0);
    EXPECT_EQ(rig.vppr(), 0x30u);
}

// ---------------------------------------------------------------------------------------------
// TPR and PPR virtualization (SDM §29.1.2, §29.1.3; reference §3.4)

// SDM §29.1.3 [reference §3.4]: VPPR = VTPR when VTPR[7:4] >= SVI[7:4], else SVI & F0H.
TEST(TprVirtualization, VpprIsVtprUnlessTheServicedClassIsHigher) {
    Rig rig;
    rig.pend(0x52);
    rig.cpu.guest_set_if(true);
    rig.enter();
    ASSERT_EQ(rig.cpu.guest_interrupt(), std::optional<uint8_t>(0x52));
    rig.cpu.guest_apic_write(apic::TPR, 0x57);  // same class as SVI: VTPR
    EXPECT_EQ(rig.vppr(), 0x57u);
    rig.cpu.guest_apic_write(apic::TPR, 0x61);  // above: VTPR
    EXPECT_EQ(rig.vppr(), 0x61u);
    rig.cpu.guest_apic_write(apic::TPR, 0x1F);  // below: SVI & F0H
    EXPECT_EQ(rig.vppr(), 0x50u);
    EXPECT_TRUE(rig.cpu.in_guest());
}

// SDM §29.1.2 [reference §3.4]: a TPR write is virtualized: VTPR keeps bits 7:0 only, then PPR
// virtualization; no VM exit.
TEST(TprVirtualization, WriteKeepsTheLowByteOnly) {
    Rig rig;
    rig.enter();
    rig.cpu.guest_apic_write(apic::TPR, 0xABCD'EF30);
    EXPECT_EQ(rig.page().read(apic::TPR), 0x30u);
    EXPECT_EQ(rig.vppr(), 0x30u);
    EXPECT_TRUE(rig.cpu.in_guest());
}

// SDM §29.1.2, §29.2.1 [reference §3.4]: TPR virtualization ends with an evaluation, so lowering
// VTPR below a blocked vector's class lets it be delivered; raising it again blocks the next one.
TEST(TprVirtualization, LoweringTprDeliversABlockedInterrupt) {
    Rig rig;
    rig.page().write(apic::TPR, 0x80);
    rig.page().write(apic::PPR, 0x80);
    rig.cpu.guest_set_if(true);
    rig.enter();
    rig.post({0x61});
    rig.notify();
    EXPECT_FALSE(rig.cpu.recognized());
    EXPECT_EQ(rig.cpu.guest_interrupt(), std::nullopt);
    rig.cpu.guest_apic_write(apic::TPR, 0x20);
    EXPECT_EQ(rig.vppr(), 0x20u);
    EXPECT_TRUE(rig.cpu.recognized());
    EXPECT_EQ(rig.cpu.guest_interrupt(), std::optional<uint8_t>(0x61));
}

// ---------------------------------------------------------------------------------------------
// Other APIC writes and guest exits (cpu.h; SDM §29.4, not in reference/)

// cpu.h: without APIC-register virtualization and virtual-interrupt delivery every write to the
// APIC page is an APIC-access exit with offset and value; the virtual-APIC page is not written.
TEST(GuestExits, WithoutApicVirtualizationEveryWriteIsAnApicAccessExit) {
    for (uint32_t offset : {apic::TPR, apic::EOI, apic::LDR}) {
        Rig rig;
        rig.cpu.vmcs().process_posted_interrupts = false;
        rig.cpu.vmcs().virtual_interrupt_delivery = false;
        rig.cpu.vmcs().apic_register_virtualization = false;
        rig.enter();
        rig.cpu.guest_apic_write(offset, 0x0100'0020);
        EXPECT_FALSE(rig.cpu.in_guest());
        std::optional<VmExit> e = rig.cpu.take_exit();
        ASSERT_TRUE(e.has_value());
        EXPECT_EQ(e->reason, ExitReason::ApicAccess);
        EXPECT_EQ(e->offset, offset);
        EXPECT_EQ(e->value, 0x0100'0020u);
        EXPECT_EQ(rig.page().read(offset), 0u);
    }
}

// SDM §29.4.3 APIC-write emulation (cpu.h): a virtualized write to a register other than TPR/EOI is
// stored in the virtual-APIC page, then a trap-like APIC-write exit reports the offset.
TEST(GuestExits, OtherRegisterWriteIsStoredThenAnApicWriteExit) {
    Rig rig;
    rig.enter();
    rig.cpu.guest_apic_write(apic::LDR, 0x0400'0000);
    expect_exit(rig, ExitReason::ApicWrite, 0, apic::LDR);
    EXPECT_EQ(rig.page().read(apic::LDR), 0x0400'0000u);
}

// SDM Vol. 3C §29.4.3.1 (the offsets whose writes are virtualized with APIC-register virtualization;
// not in reference/): PPR, ISR, TMR and IRR are not among them, so a guest write to them is an APIC-access exit
// and the virtual-APIC page is not written (a guest write to 200H must not set VIRR bits nobody
// sent, nor one to 0A0H rewrite VPPR). The same holds for an unaligned write inside a register.
TEST(GuestExits, WriteToAReadOnlyRegisterIsAnApicAccessExitAndNotStored) {
    for (uint32_t offset : {apic::PPR, apic::ISR + 0x30, apic::TMR, apic::IRR + 0x20, apic::TMCCT, apic::TPR + 4}) {
        Rig rig;
        rig.enter();
        rig.cpu.guest_apic_write(offset, 0x0000'0002);
        EXPECT_EQ(rig.page().read(offset), 0u) << "offset " << offset;
        std::optional<VmExit> e = rig.cpu.take_exit();
        ASSERT_TRUE(e.has_value());
        EXPECT_EQ(e->reason, ExitReason::ApicAccess) << "offset " << offset << ": " << to_string(e->reason);
        EXPECT_FALSE(rig.virr().any());
    }
}

// cpu.h: HLT in the guest exits to the host; host_work() then reports the exit.
TEST(GuestExits, HltExitsToTheHost) {
    Rig rig;
    rig.enter();
    EXPECT_FALSE(rig.cpu.host_work());
    rig.cpu.guest_hlt();
    EXPECT_TRUE(rig.cpu.host_work());
    expect_exit(rig, ExitReason::Hlt);
    EXPECT_FALSE(rig.cpu.host_work());
}

// SDM Vol. 3C §25.1.3: WRMSR of an MSR the bitmap intercepts exits with the index (ECX) and the
// value (EDX:EAX); KVM intercepts IA32_TSC_DEADLINE (not in vmx_possible_passthrough_msrs).
TEST(GuestExits, WrmsrOfTheTscDeadlineExitsWithIndexAndValue) {
    Rig rig;
    rig.enter();
    rig.cpu.guest_wrmsr(0x6E0, 0x1'2345'6789);  // IA32_TSC_DEADLINE
    EXPECT_TRUE(rig.cpu.host_work());
    std::optional<VmExit> e = rig.cpu.take_exit();
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->reason, ExitReason::MsrWrite);
    EXPECT_EQ(e->offset, 0x6E0u);
    EXPECT_EQ(e->msr_value, 0x1'2345'6789u);
}

// SDM Vol. 3C §24.7.1, VM-exit control bit 15 ("acknowledge interrupt on exit" = 0: the interrupt is
// not acknowledged and the VM-exit interruption information is invalid; not in reference/, whose
// §3.1 describes ack-on-exit = 1 only): without ack-on-exit the vector stays pending in the physical IRR for the
// host to take; the exit says it was not acknowledged.
TEST(GuestExits, WithoutAckOnExitTheInterruptStaysPendingInTheApic) {
    Rig rig;
    rig.cpu.vmcs().process_posted_interrupts = false;  // posted interrupts require ack-on-exit
    rig.cpu.vmcs().ack_interrupt_on_exit = false;
    rig.enter();
    rig.cpu.interrupt(0x31);
    EXPECT_FALSE(rig.cpu.in_guest());
    EXPECT_TRUE(rig.cpu.irr(0x31));
    EXPECT_FALSE(rig.cpu.isr(0x31));
    std::optional<VmExit> e = rig.cpu.take_exit();
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->reason, ExitReason::ExternalInterrupt);
    EXPECT_FALSE(e->acknowledged);
    EXPECT_EQ(rig.cpu.acknowledge(), std::optional<uint8_t>(0x31));
}

// ---------------------------------------------------------------------------------------------
// VM-entry checks (SDM §26.2.1.1; reference §1.4)

struct EntryCase {
    const char* name;
    VmEntryFailure failure;
    void (*misconfigure)(Vmcs&);
};
void PrintTo(const EntryCase& c, std::ostream* os) { *os << c.name; }

class VmEntryChecks : public ::testing::TestWithParam<EntryCase> {};

// SDM §26.2.1.1 [reference §1.4]: posted-interrupt processing requires virtual-interrupt delivery
// and ack-on-exit; virtual-interrupt delivery requires external-interrupt exiting; PINV bits 15:8
// must be 0; the PID address must be 64-byte aligned. A failed check returns the failure, leaves
// the CPU in root mode with the VMCS unchanged and logs a guest error naming the check.
TEST_P(VmEntryChecks, FailedCheckStaysInRootModeAndIsLogged) {
    const EntryCase c = GetParam();
    Rig rig;
    rig.post({0x41});
    rig.notify();  // a pending notification must not be processed by a failed entry
    c.misconfigure(rig.cpu.vmcs());
    const Vmcs before = rig.cpu.vmcs();
    EXPECT_EQ(rig.cpu.vm_entry(), c.failure);
    EXPECT_FALSE(rig.cpu.in_guest());
    EXPECT_EQ(rig.cpu.vmcs(), before);
    EXPECT_TRUE(rig.cpu.irr(kPinv));
    EXPECT_TRUE(rig.pid().on);
    ASSERT_FALSE(rig.log.events().empty());
    const Event& e = rig.log.events().back();
    EXPECT_EQ(e.point, &tp::kCpuVmEntryFailedError) << to_string(e);
    ASSERT_NE(arg(e, "check"), nullptr);
    EXPECT_EQ(*arg(e, "check"), ArgValue(std::string(to_string(c.failure))));
}

INSTANTIATE_TEST_SUITE_P(
    EachCheck, VmEntryChecks,
    ::testing::Values(EntryCase{"PostedWithoutVid", VmEntryFailure::PostedNeedsVid,
                                [](Vmcs& v) { v.virtual_interrupt_delivery = false; }},
                      EntryCase{"PostedWithoutAckOnExit", VmEntryFailure::PostedNeedsAckOnExit,
                                [](Vmcs& v) { v.ack_interrupt_on_exit = false; }},
                      EntryCase{"VidWithoutExternalInterruptExiting", VmEntryFailure::VidNeedsExtIntExiting,
                                [](Vmcs& v) { v.external_interrupt_exiting = false; }},
                      EntryCase{"PinvBits15To8", VmEntryFailure::PinvHighBits, [](Vmcs& v) { v.pinv = 0x01F2; }},
                      EntryCase{"PidMisaligned", VmEntryFailure::PidMisaligned,
                                [](Vmcs& v) { v.pid_addr = kPid + 0x20; }}),
    [](const auto& info) { return std::string(info.param.name); });

// SDM §26.2.1.1 [reference §1.4]: the posted-interrupt checks apply only with posted-interrupt
// processing on: the same PINV and PID address values pass without it.
TEST(VmEntry, PostedInterruptFieldsAreNotCheckedWithoutPostedProcessing) {
    Rig rig;
    rig.cpu.vmcs().process_posted_interrupts = false;
    rig.cpu.vmcs().ack_interrupt_on_exit = false;
    rig.cpu.vmcs().pinv = 0xFFFF;
    rig.cpu.vmcs().pid_addr = 0x3;
    EXPECT_EQ(rig.cpu.vm_entry(), VmEntryFailure::None);
    EXPECT_TRUE(rig.cpu.in_guest());
    const Event* e = rig.last(tp::kCpuVmEntry);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->kind, EventKind::Op);
}

// STYLE.md error kinds (cpu.cc): the VMCS belongs to the model's hypervisor, so a VMCS the model
// cannot run (no external-interrupt exiting), VMLAUNCH in non-root, and guest actions in root mode
// are emulator bugs (std::logic_error), not guest-visible outcomes.
TEST(VmEntry, ImpossibleTransitionsAreModelBugs) {
    Rig rig;
    rig.cpu.vmcs().process_posted_interrupts = false;
    rig.cpu.vmcs().virtual_interrupt_delivery = false;
    rig.cpu.vmcs().external_interrupt_exiting = false;
    EXPECT_THROW(rig.cpu.vm_entry(), std::logic_error);
    EXPECT_FALSE(rig.cpu.in_guest());
    EXPECT_THROW(rig.cpu.guest_interrupt(), std::logic_error);
    EXPECT_THROW(rig.cpu.guest_apic_write(apic::EOI, 0), std::logic_error);
    EXPECT_THROW(rig.cpu.guest_hlt(), std::logic_error);

    Rig running;
    running.enter();
    EXPECT_THROW(running.cpu.vm_entry(), std::logic_error);
    EXPECT_TRUE(running.cpu.in_guest());
    EXPECT_THROW(running.cpu.guest_apic_write(0x1000, 0), std::logic_error);  // not an APIC-page offset
}

// ---------------------------------------------------------------------------------------------
// The physical local APIC (SDM Vol. 3A "Interrupt, Task, and Processor Priority"; not in
// reference/)

// The local APIC dispatches the highest pending vector only if its priority class is above the
// highest in-service vector's class; EOI retires the highest in-service vector, which unblocks the
// next.
TEST(PhysicalApic, AcknowledgeNeedsAClassAboveTheInServiceVector) {
    Rig rig;
    rig.cpu.interrupt(0x85);
    ASSERT_EQ(rig.cpu.acknowledge(), std::optional<uint8_t>(0x85));
    rig.cpu.interrupt(0x81);  // same class as in service
    EXPECT_EQ(rig.cpu.acknowledge(), std::nullopt);
    EXPECT_FALSE(rig.cpu.host_work());
    rig.cpu.interrupt(0x91);
    EXPECT_TRUE(rig.cpu.host_work());
    EXPECT_EQ(rig.cpu.acknowledge(), std::optional<uint8_t>(0x91));
    rig.cpu.eoi();  // retires 0x91
    EXPECT_TRUE(rig.cpu.isr(0x85));
    EXPECT_FALSE(rig.cpu.isr(0x91));
    rig.cpu.eoi();  // retires 0x85: 0x81 can go
    EXPECT_EQ(rig.cpu.acknowledge(), std::optional<uint8_t>(0x81));
}

// SDM §29.6 step 1 with the priority rule above: a notification of a class not above a host vector
// still in service is not recognized in non-root operation; it waits in IRR and PIR stays put.
TEST(PhysicalApic, NotificationBelowAnInServiceHostVectorWaits) {
    Rig rig;
    rig.cpu.interrupt(0xF5);
    ASSERT_EQ(rig.cpu.acknowledge(), std::optional<uint8_t>(0xF5));
    rig.post({0x41});
    rig.enter();
    rig.notify();
    EXPECT_TRUE(rig.cpu.in_guest());
    EXPECT_TRUE(rig.cpu.irr(kPinv));
    EXPECT_EQ(rig.pid().pir, vectors({0x41}));
    EXPECT_FALSE(rig.virr().any());
}

// ---- IPI virtualization (SDM §30.1.6; reference/kernel_history X4) ----------------------------------

constexpr uint64_t kPidTable = 0x2800'0000;

/// The rig's CPU as the sender, with IPIv pointing APIC ID 0's entry at the rig's PID.
void enable_ipiv(Rig& r, bool valid = true) {
    Vmcs& c = r.cpu.vmcs();
    c.ipi_virtualization = true;
    c.pid_pointer_table = kPidTable;
    c.last_pid_pointer_index = 0;
    r.mem.write64(kPidTable, kPid | (valid ? 1 : 0));
}

// X4: "the processor sets the bit corresponding to the vector in target vCPU's PIR and may send a
// notification ... specified by NDST and NV": a fixed, physical, unicast ICR write is posted, no exit.
TEST(CpuIpiv, AFixedPhysicalIcrWriteIsPostedThroughThePidPointerTable_Ipiv5_19) {
    Rig r;
    enable_ipiv(r);
    r.enter();
    r.cpu.guest_apic_write(apic::ICR_HI, 0);
    ASSERT_FALSE(r.cpu.in_guest());  // ICR_HI alone is an APIC-write exit
    (void)r.cpu.take_exit();
    r.enter();
    r.cpu.guest_apic_write(apic::ICR_LO, 0x40);
    EXPECT_TRUE(r.cpu.in_guest()) << "a virtualized IPI causes no VM exit";
    PiDesc d = r.pid();
    EXPECT_TRUE(d.pir.test(0x40));
    EXPECT_TRUE(d.on);
    auto sent = r.cpu.take_sent();
    ASSERT_TRUE(sent.has_value());
    EXPECT_EQ(sent->second, kPinv);
}

// reference/x86 §4.1: "only the IOMMU (and IPIv hardware) honors SN": with SN=1 the bit is recorded,
// ON stays clear and nothing is sent.
TEST(CpuIpiv, SuppressedNotificationSetsPirOnly_Ipiv5_19) {
    Rig r;
    enable_ipiv(r);
    PiDesc d = r.pid();
    d.sn = true;
    r.put_pid(d);
    r.enter();
    r.cpu.guest_apic_write(apic::ICR_LO, 0x41);
    PiDesc after = r.pid();
    EXPECT_TRUE(after.pir.test(0x41));
    EXPECT_FALSE(after.on);
    EXPECT_FALSE(r.cpu.take_sent().has_value());
}

// X4: "IPI virtualization can only virtualize physical-addressing ... unicast IPIs": a logical
// destination, or an entry without its valid bit, is left to the APIC-write exit.
TEST(CpuIpiv, LogicalOrInvalidEntryTrapsAsAnApicWrite_Ipiv5_19) {
    for (bool logical : {true, false}) {
        Rig r;
        enable_ipiv(r, /*valid=*/logical);
        r.enter();
        r.cpu.guest_apic_write(apic::ICR_LO, 0x42 | (logical ? 1u << 11 : 0u));
        EXPECT_FALSE(r.cpu.in_guest());
        std::optional<VmExit> e = r.cpu.take_exit();
        ASSERT_TRUE(e.has_value());
        EXPECT_EQ(e->reason, ExitReason::ApicWrite);
        EXPECT_FALSE(r.pid().pir.test(0x42));
    }
}


// ---- NMI injection and virtual-NMI blocking (SDM Vol. 3C §24.8.3, §25.3, §26.6; Vol. 3A §6.7.1) ----

// An NMI injected at VM entry is delivered whatever RFLAGS.IF says, before any virtual interrupt,
// and blocks NMIs until the guest's IRET.
TEST(NmiInjection, IsDeliveredWithIfClearAndBlocksNmisUntilIret) {
    Rig r;
    r.cpu.vmcs().guest_if = false;
    r.cpu.vmcs().entry_nmi = 0x41;
    r.enter();
    EXPECT_EQ(r.cpu.guest_nmi(), std::optional<uint8_t>(0x41));
    EXPECT_TRUE(r.cpu.vmcs().blocking_by_nmi);
    EXPECT_FALSE(r.cpu.guest_nmi().has_value());  // one injection, delivered once
    r.cpu.guest_iret();
    EXPECT_FALSE(r.cpu.vmcs().blocking_by_nmi);
    EXPECT_TRUE(r.cpu.in_guest());  // no NMI-window exiting: no exit
}

// NMI-window exiting: the VM exit comes once virtual-NMI blocking ends (the IRET), not before.
TEST(NmiInjection, NmiWindowExitingExitsAtTheIret) {
    Rig r;
    r.cpu.vmcs().entry_nmi = 0x41;
    r.cpu.vmcs().nmi_window_exiting = true;
    r.enter();
    ASSERT_TRUE(r.cpu.guest_nmi().has_value());
    EXPECT_TRUE(r.cpu.in_guest());
    r.cpu.guest_iret();
    EXPECT_FALSE(r.cpu.in_guest());
    std::optional<VmExit> e = r.cpu.take_exit();
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->reason, ExitReason::NmiWindow);
}

// A VM exit before the guest took the injected NMI saves it in the IDT-vectoring information
// (§27.2.4), for the hypervisor to inject again.
TEST(NmiInjection, AnExitBeforeDeliveryKeepsTheNmiInIdtVectoring) {
    Rig r;
    r.cpu.vmcs().entry_nmi = 0x41;
    r.enter();
    r.cpu.interrupt(0x30);  // a host interrupt: external-interrupt exit
    EXPECT_FALSE(r.cpu.in_guest());
    EXPECT_FALSE(r.cpu.vmcs().entry_nmi.has_value());
    EXPECT_EQ(r.cpu.vmcs().idt_vectoring_nmi, std::optional<uint8_t>(0x41));
}

}  // namespace
}  // namespace irqdiff::x86
