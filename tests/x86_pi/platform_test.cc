// The interrupt bus between the VT-d unit and the pCPUs, one rule per test: a message reaches the
// local APIC it names (or is dropped and logged), a posting's notification goes to the pCPU NDST
// names in xAPIC or x2APIC encoding, and end to end: posted IRTE -> PID -> notification -> posted-
// interrupt processing -> virtual-interrupt delivery in a running guest, or a host interrupt when the
// pCPU is in root mode, or nothing with SN=1. Rules cite
// reference/x86_posted_interrupts_kvm_migration.md ("reference §N") and the VT-d/SDM section it names.
#include "x86_pi/hw/platform.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "tests/event_match.h"
#include "x86_pi/trace_points.h"

namespace irqdiff::x86 {
namespace {

constexpr unsigned kCpus = 3;
constexpr uint64_t kIrt = 0x1000'0000;     // 4 KiB aligned (IRTA[63:12])
constexpr uint64_t kPids = 0x2000'0000;    // PID of vCPU n at kPids + 64 n
constexpr uint64_t kVapics = 0x3000'0000;  // virtual-APIC page of vCPU n at kVapics + 4 KiB n
constexpr uint8_t kNv = 0xF2;              // POSTED_INTR_VECTOR (reference §1.3)
constexpr uint8_t kWakeup = 0xF1;          // POSTED_INTR_WAKEUP_VECTOR (reference §1.3)

constexpr uint64_t pid_at(unsigned vcpu) { return kPids + kPiDescBytes * vcpu; }

BitArray<256> vectors(std::initializer_list<unsigned> vs) {
    BitArray<256> b;
    for (unsigned v : vs) b.set(v);
    return b;
}

/// Host memory, an event log and a platform of kCpus pCPUs (APIC ID n) with the IOMMU programmed
/// (table at kIrt, remapping on) and vCPU n pinned to pCPU n: each VMCS set up as KVM's init_vmcs
/// with APICv (reference §1.4) and each PID as a running vCPU's (NV = 0xF2, NDST = its pCPU, SN = 0;
/// reference §4.3 vmx_vcpu_pi_load).
struct Rig {
    AddressSpace mem{"host", Memory::kHostSize};
    EventLog log;
    Platform hw{kCpus, mem, log};
    bool x2apic;

    explicit Rig(bool x2apic_mode = false) : x2apic(x2apic_mode) {
        hw.iommu().write_irta(IrtaReg::IRTA.get_in_place(kIrt) | IrtaReg::EIME.make(x2apic) | IrtaReg::S.make(7));
        hw.iommu().set_irtp();
        hw.iommu().enable(true);
        for (unsigned n = 0; n < kCpus; ++n) {
            Vmcs& c = hw.cpu(n).vmcs();
            c.external_interrupt_exiting = true;
            c.ack_interrupt_on_exit = true;
            c.process_posted_interrupts = true;
            c.virtual_interrupt_delivery = true;
            c.apic_register_virtualization = true;
            c.pinv = kNv;
            c.pid_addr = pid_at(n);
            c.virtual_apic_addr = kVapics + AddressSpace::kPageSize * n;
            PiDesc d;
            d.nv = kNv;
            d.ndst = ndst_for_apic_id(n, x2apic);
            put_pid(n, d);
        }
    }
    Rig(const Rig&) = delete;

    void put(uint32_t index, IrteWords w) {
        EXPECT_EQ(mem.write64(hw.iommu().entry_address(index), w.low), MemFault::None);
        EXPECT_EQ(mem.write64(hw.iommu().entry_address(index) + 8, w.high), MemFault::None);
    }
    /// IRTE `index` posts `vv` into vCPU `vcpu`'s PID (reference §1.2, §4.5).
    void post_to(uint32_t index, unsigned vcpu, uint8_t vv) {
        put(index, PostedIrte{.present = true, .vv = vv, .pda = pid_at(vcpu)}.encode());
    }
    void put_pid(unsigned vcpu, const PiDesc& d) { ASSERT_TRUE(write_pi_desc(mem, pid_at(vcpu), d).ok()); }
    PiDesc pid(unsigned vcpu) const {
        PiDescRead r = read_pi_desc(mem, pid_at(vcpu));
        EXPECT_TRUE(r.ok());
        return r.value;
    }
    ApicPage page(unsigned vcpu) { return ApicPage(mem, hw.cpu(vcpu).vmcs().virtual_apic_addr); }
    BitArray<256> virr(unsigned vcpu) { return page(vcpu).bits(apic::IRR); }

    IrResult msi(uint16_t handle) { return hw.msi(MsiWrite{RemappableMsi::address(handle), 0, 0}); }
    void enter(unsigned n) {
        hw.cpu(n).guest_set_if(true);
        ASSERT_EQ(hw.cpu(n).vm_entry(), VmEntryFailure::None);
        ASSERT_TRUE(hw.cpu(n).in_guest());
    }
    /// The pCPUs whose physical IRR holds `vector`.
    std::vector<unsigned> pending(uint8_t vector) const {
        std::vector<unsigned> out;
        for (unsigned n = 0; n < kCpus; ++n)
            if (hw.cpu(n).irr(vector)) out.push_back(n);
        return out;
    }
    const Event* last(const Points& points) const { return last_event(log.events(), points); }
};

const ArgValue* arg(const Event& e, std::string_view key) {
    for (const EventArg& a : e.args)
        if (a.key == key) return &a.value;
    return nullptr;
}

// ---------------------------------------------------------------------------------------------
// The bus

// platform.h [VT-d §5.2.3 step 4: fixed, physical destination, edge]: a message raises its vector
// in the named local APIC only; a pCPU in root mode then has host work.
TEST(PlatformBus, MessageRaisesTheVectorOnlyInTheNamedApic) {
    Rig rig;
    rig.hw.send(InterruptMessage{2, 0x31});
    EXPECT_EQ(rig.pending(0x31), std::vector<unsigned>{2});
    EXPECT_EQ(rig.hw.next_host_work(), 2);
    const Event* e = rig.last(tp::kBusInterrupt);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(*arg(*e, "apic_id"), ArgValue(int64_t{2}));
    EXPECT_EQ(*arg(*e, "vector"), ArgValue(Hex{0x31}));
}

// platform.cc (a message no local APIC accepts is lost on the bus): an APIC ID no pCPU has is
// dropped and logged as a guest error naming it; no pCPU changes and nothing throws.
TEST(PlatformBus, MessageForAnUnknownApicIdIsDroppedAndLogged) {
    for (uint32_t apic_id : {kCpus, 0x100u, 0xFFFF'FFFFu}) {
        Rig rig;
        rig.hw.send(InterruptMessage{apic_id, 0x31});
        EXPECT_TRUE(rig.pending(0x31).empty());
        EXPECT_EQ(rig.hw.next_host_work(), -1);
        ASSERT_FALSE(rig.log.events().empty());
        const Event& e = rig.log.events().back();
        EXPECT_EQ(e.point, &tp::kBusNoDestinationError) << to_string(e);
        EXPECT_EQ(*arg(e, "apic_id"), ArgValue(int64_t{apic_id}));
    }
}

// platform.h: next_host_work names the lowest-numbered pCPU in root mode with an interrupt to take
// or a VM exit to handle; a pCPU in non-root operation is never host work.
TEST(PlatformBus, NextHostWorkIsTheLowestNumberedCpuWithWork) {
    Rig rig;
    rig.enter(1);
    rig.hw.send(InterruptMessage{2, 0x31});
    EXPECT_EQ(rig.hw.next_host_work(), 2);
    rig.hw.cpu(1).guest_hlt();
    EXPECT_EQ(rig.hw.next_host_work(), 1);
    ASSERT_TRUE(rig.hw.cpu(1).take_exit().has_value());
    EXPECT_EQ(rig.hw.next_host_work(), 2);
    EXPECT_EQ(rig.hw.cpu(2).acknowledge(), std::optional<uint8_t>(0x31));
    EXPECT_EQ(rig.hw.next_host_work(), -1);
}

// ---------------------------------------------------------------------------------------------
// Where the notification goes (VT-d §5.2.3 step 4, §9.11; reference §1.1, §2.1)

struct NdstCase {
    const char* name;
    bool x2apic;
    uint32_t ndst;
    int cpu;  // the pCPU that gets the notification, -1 for none
};

class PlatformNotifyDestination : public ::testing::TestWithParam<NdstCase> {};

// VT-d §9.11 [reference §1.1]: the notification is vector NV to the APIC ID in NDST: NDST[15:8]
// with IRTA.EIME=0 (xAPIC), all 32 bits with EIME=1 (x2APIC). A destination no pCPU has is dropped
// on the bus (logged); the post itself has happened, so PIR and ON stay set.
TEST_P(PlatformNotifyDestination, NotificationReachesThePcpuNdstNames) {
    const NdstCase c = GetParam();
    Rig rig(c.x2apic);
    PiDesc d = rig.pid(1);
    d.ndst = c.ndst;
    rig.put_pid(1, d);
    rig.post_to(7, 1, 0x61);
    IrResult r = rig.msi(7);
    EXPECT_EQ(r.kind, IrResult::Kind::Posted);
    ASSERT_TRUE(r.message.has_value());
    EXPECT_EQ(r.message->vector, kNv);
    EXPECT_EQ(rig.pending(kNv), c.cpu < 0 ? std::vector<unsigned>{} : std::vector<unsigned>{unsigned(c.cpu)});
    PiDesc after = rig.pid(1);
    EXPECT_TRUE(after.on);
    EXPECT_EQ(after.pir, vectors({0x61}));
    if (c.cpu < 0) {
        const Event* e = rig.last(tp::kBusNoDestinationError);
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(e->kind, EventKind::GuestError);
    } else {
        EXPECT_EQ(rig.last(tp::kBusNoDestinationError), nullptr);
    }
}

INSTANTIATE_TEST_SUITE_P(XapicAndX2apic, PlatformNotifyDestination,
                         ::testing::Values(NdstCase{"xapic_id2", false, 0x0000'0200, 2},
                                           NdstCase{"xapic_id1", false, 0x0000'0100, 1},
                                           NdstCase{"xapic_low_byte_ignored", false, 0x0000'0002, 0},
                                           NdstCase{"xapic_unknown_id", false, 0x0000'0900, -1},
                                           NdstCase{"x2apic_id2", true, 2, 2},
                                           NdstCase{"x2apic_xapic_encoding_is_id_0x200", true, 0x0000'0200, -1},
                                           NdstCase{"x2apic_high_bits_count", true, 0x0001'0001, -1}),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// End to end: device MSI -> IOMMU -> bus -> CPU

// VT-d §5.2.3 then SDM §29.6 and §29.2.2 [reference §2.1, §3.1, §3.3]: with the target vCPU running,
// the IOMMU sets PIR and ON and notifies; the pCPU processes the notification at once (ON and PIR
// cleared, VIRR and RVI set) and the guest takes the vector without any VM exit. The log shows the
// order: post, bus message, processing, delivery.
TEST(PlatformEndToEnd, PostToARunningVcpuIsDeliveredWithoutAVmExit) {
    Rig rig;
    rig.enter(1);
    rig.post_to(5, 1, 0x61);
    IrResult r = rig.msi(5);
    EXPECT_EQ(r.kind, IrResult::Kind::Posted);
    ASSERT_TRUE(r.message.has_value());
    EXPECT_EQ(r.message->apic_id, 1u);
    Cpu& cpu = rig.hw.cpu(1);
    EXPECT_TRUE(cpu.in_guest());
    EXPECT_FALSE(cpu.irr(kNv));
    EXPECT_FALSE(cpu.isr(kNv));
    PiDesc d = rig.pid(1);
    EXPECT_FALSE(d.on);
    EXPECT_FALSE(d.pir.any());
    EXPECT_EQ(rig.virr(1), vectors({0x61}));
    EXPECT_EQ(cpu.vmcs().rvi, 0x61);
    EXPECT_TRUE(cpu.recognized());
    EXPECT_EQ(cpu.guest_interrupt(), std::optional<uint8_t>(0x61));
    EXPECT_EQ(cpu.vmcs().svi, 0x61);
    EXPECT_EQ(rig.hw.next_host_work(), -1);
    EXPECT_FALSE(rig.virr(0).any());
    EXPECT_FALSE(rig.virr(2).any());

    const Event* post = rig.last(tp::kIommuPost);
    const Event* bus = rig.last(tp::kBusInterrupt);
    const Event* process = rig.last(tp::kCpuPiProcess);
    const Event* deliver = rig.last(tp::kCpuVidDeliver);
    ASSERT_TRUE(post && bus && process && deliver);
    EXPECT_LT(post->seq, bus->seq);
    EXPECT_LT(bus->seq, process->seq);
    EXPECT_LT(process->seq, deliver->seq);
}

// Reference §3.2 [SDM §29.6]: with the target pCPU in root mode the notification is an ordinary host
// interrupt: it waits in the physical IRR (host work), PIR and ON stay for software, VIRR is
// untouched. Taken and EOIed by the host, it leaves the PID as it was.
TEST(PlatformEndToEnd, NotificationToAPcpuInRootModeIsAHostInterrupt) {
    Rig rig;
    rig.post_to(5, 1, 0x61);
    IrResult r = rig.msi(5);
    ASSERT_TRUE(r.message.has_value());
    Cpu& cpu = rig.hw.cpu(1);
    EXPECT_TRUE(cpu.irr(kNv));
    EXPECT_EQ(rig.hw.next_host_work(), 1);
    EXPECT_TRUE(rig.pid(1).on);
    EXPECT_EQ(rig.pid(1).pir, vectors({0x61}));
    EXPECT_FALSE(rig.virr(1).any());
    EXPECT_EQ(rig.last(tp::kCpuPiProcess), nullptr);
    EXPECT_EQ(cpu.acknowledge(), std::optional<uint8_t>(kNv));
    cpu.eoi();
    EXPECT_EQ(rig.hw.next_host_work(), -1);
    EXPECT_TRUE(rig.pid(1).on);
    EXPECT_EQ(rig.pid(1).pir, vectors({0x61}));
}

// VT-d §5.2.3, §9.11 SN [reference §2.1]: with SN=1 (a preempted vCPU, reference §2.3) a non-urgent
// post sets PIR only: ON stays 0, nothing goes on the bus, the running guest is not disturbed.
TEST(PlatformEndToEnd, SuppressedPostSendsNoNotification) {
    Rig rig;
    PiDesc d = rig.pid(1);
    d.sn = true;
    rig.put_pid(1, d);
    rig.enter(1);
    rig.post_to(5, 1, 0x61);
    IrResult r = rig.msi(5);
    EXPECT_EQ(r.kind, IrResult::Kind::Posted);
    EXPECT_FALSE(r.message.has_value());
    EXPECT_FALSE(rig.pid(1).on);
    EXPECT_EQ(rig.pid(1).pir, vectors({0x61}));
    EXPECT_TRUE(rig.pending(kNv).empty());
    EXPECT_EQ(rig.last(tp::kBusInterrupt), nullptr);
    EXPECT_TRUE(rig.hw.cpu(1).in_guest());
    EXPECT_FALSE(rig.virr(1).any());
    EXPECT_EQ(rig.hw.cpu(1).guest_interrupt(), std::nullopt);
}

// SDM §29.6 step 3 then 5 [reference §3.1: ON is cleared before PIR is drained, so a post after the
// drain sees ON=0 and notifies again]: a second post to a running vCPU notifies and is processed
// too. In root mode ON stays 1 after the first post, so the second coalesces (VT-d §9.11 ON).
TEST(PlatformEndToEnd, PostAfterTheDrainNotifiesAgain) {
    Rig rig;
    rig.enter(1);
    rig.post_to(5, 1, 0x61);
    rig.post_to(6, 1, 0x62);
    ASSERT_TRUE(rig.msi(5).message.has_value());
    IrResult second = rig.msi(6);
    EXPECT_TRUE(second.message.has_value());
    EXPECT_EQ(rig.virr(1), vectors({0x61, 0x62}));
    EXPECT_FALSE(rig.pid(1).on);
    EXPECT_FALSE(rig.pid(1).pir.any());
    EXPECT_EQ(rig.hw.cpu(1).vmcs().rvi, 0x62);

    Rig root;  // the same two posts to a vCPU that is not running
    root.post_to(5, 1, 0x61);
    root.post_to(6, 1, 0x62);
    ASSERT_TRUE(root.msi(5).message.has_value());
    EXPECT_FALSE(root.msi(6).message.has_value());
    EXPECT_EQ(root.pid(1).pir, vectors({0x61, 0x62}));
    EXPECT_TRUE(root.pid(1).on);
}

// Reference §2.3, §4.3 (a blocked vCPU's PID has NV = wakeup vector) and SDM §29.6 step 2: a
// notification whose vector is not the CPU's PINV is an external-interrupt exit for the host; the
// PID keeps PIR and ON.
TEST(PlatformEndToEnd, WakeupVectorNotificationExitsToTheHost) {
    Rig rig;
    PiDesc d = rig.pid(1);
    d.nv = kWakeup;
    rig.put_pid(1, d);
    rig.enter(1);
    rig.post_to(5, 1, 0x61);
    ASSERT_TRUE(rig.msi(5).message.has_value());
    Cpu& cpu = rig.hw.cpu(1);
    EXPECT_FALSE(cpu.in_guest());
    std::optional<VmExit> e = cpu.take_exit();
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->reason, ExitReason::ExternalInterrupt);
    EXPECT_EQ(e->vector, kWakeup);
    EXPECT_TRUE(rig.pid(1).on);
    EXPECT_EQ(rig.pid(1).pir, vectors({0x61}));
    EXPECT_FALSE(rig.virr(1).any());
}

// Reference §2.3 (on pCPU migration the VMM must update NDST) with SDM §29.6: a notification sent to
// the NDST of another pCPU that runs a different vCPU is processed against *that* pCPU's PID, so the
// target vCPU's PIR stays undrained with ON=1, and its next post coalesces without a notification.
TEST(PlatformEndToEnd, StaleNdstNotifiesTheWrongPcpu) {
    Rig rig;
    PiDesc d = rig.pid(1);
    d.ndst = ndst_for_apic_id(0, false);  // vCPU 1 moved to pCPU 1, NDST still names pCPU 0
    rig.put_pid(1, d);
    rig.enter(0);
    rig.enter(1);
    rig.post_to(5, 1, 0x61);
    rig.post_to(6, 1, 0x62);
    IrResult r = rig.msi(5);
    ASSERT_TRUE(r.message.has_value());
    EXPECT_EQ(r.message->apic_id, 0u);
    EXPECT_TRUE(rig.hw.cpu(0).in_guest());  // PINV on pCPU 0: posted-interrupt processing of vCPU 0's PID
    EXPECT_FALSE(rig.virr(0).any());
    EXPECT_FALSE(rig.virr(1).any());
    EXPECT_TRUE(rig.pid(1).on);
    EXPECT_FALSE(rig.msi(6).message.has_value());
    EXPECT_EQ(rig.pid(1).pir, vectors({0x61, 0x62}));
    EXPECT_FALSE(rig.hw.cpu(1).recognized());
}

// VT-d §9.9 [reference §1.2 remapped format]: a remapped (IM=0) entry sends its own vector to DST's
// pCPU; in non-root operation that is an external-interrupt exit (SDM §29.6 step 2), not a posting.
TEST(PlatformEndToEnd, RemappedInterruptToARunningGuestExits) {
    Rig rig;
    rig.enter(2);
    rig.put(3, RemappedIrte{.present = true, .vector = 0x31, .dst = ndst_for_apic_id(2, false)}.encode());
    IrResult r = rig.msi(3);
    EXPECT_EQ(r.kind, IrResult::Kind::Remapped);
    Cpu& cpu = rig.hw.cpu(2);
    EXPECT_FALSE(cpu.in_guest());
    EXPECT_EQ(rig.hw.next_host_work(), 2);
    std::optional<VmExit> e = cpu.take_exit();
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->reason, ExitReason::ExternalInterrupt);
    EXPECT_EQ(e->vector, 0x31);
    EXPECT_TRUE(cpu.isr(0x31));
    EXPECT_FALSE(rig.virr(2).any());
}

// VT-d §5.1 [reference §2.1 step 1]: a blocked request (here P=0) puts nothing on the bus and
// changes no pCPU.
TEST(PlatformEndToEnd, BlockedRequestReachesNoCpu) {
    Rig rig;
    rig.enter(1);
    rig.put(5, PostedIrte{.present = false, .vv = 0x61, .pda = pid_at(1)}.encode());
    IrResult r = rig.msi(5);
    EXPECT_EQ(r.kind, IrResult::Kind::Blocked);
    EXPECT_EQ(r.fault, IrFault::NotPresent);
    EXPECT_FALSE(r.message.has_value());
    EXPECT_EQ(rig.last(tp::kBusInterrupt), nullptr);
    EXPECT_FALSE(rig.pid(1).pir.any());
    EXPECT_TRUE(rig.hw.cpu(1).in_guest());
    EXPECT_EQ(rig.hw.next_host_work(), -1);
}

// platform.h: copying a machine copies the Platform; attach() points the copy at the copy's memory
// and log, so a post through the copy changes only the copy's PID, VIRR and log.
TEST(PlatformCopy, AttachedCopyRunsOnItsOwnMemoryAndLog) {
    Rig rig;
    rig.enter(1);
    rig.post_to(5, 1, 0x61);
    const size_t logged = rig.log.events().size();

    AddressSpace mem = rig.mem;
    EventLog log = rig.log;
    Platform hw = rig.hw;
    hw.attach(mem, log);
    IrResult r = hw.msi(MsiWrite{RemappableMsi::address(5), 0, 0});
    ASSERT_TRUE(r.message.has_value());
    EXPECT_EQ(ApicPage(mem, hw.cpu(1).vmcs().virtual_apic_addr).bits(apic::IRR), vectors({0x61}));
    EXPECT_EQ(hw.cpu(1).vmcs().rvi, 0x61);
    EXPECT_GT(log.events().size(), logged);

    EXPECT_FALSE(rig.virr(1).any());
    EXPECT_FALSE(rig.pid(1).pir.any());
    EXPECT_FALSE(rig.pid(1).on);
    EXPECT_EQ(rig.hw.cpu(1).vmcs().rvi, 0);
    EXPECT_EQ(rig.log.events().size(), logged);
}

// core/bus.h, VT-d §5.1 source validation (not in reference/): a device's MSI write on the bus
// reaches the IOMMU with the write's requester id as the request's source-id, which an IRTE with
// SVT=1 and SQ=0 compares with its SID exactly.
TEST(PlatformMsiBus, TheWritesRequesterIdIsTheRequestsSourceId) {
    Rig rig;
    rig.put(5, PostedIrte{.present = true, .vv = 0x61, .pda = pid_at(1), .sid = 0x0100, .sq = 0, .svt = 1}.encode());
    IrResult other = rig.hw.msi(MsiWrite{RemappableMsi::address(5), 0, 0x0200});
    EXPECT_EQ(other.kind, IrResult::Kind::Blocked);
    EXPECT_EQ(other.fault, IrFault::SidMismatch);
    IrResult same = rig.hw.msi(MsiWrite{RemappableMsi::address(5), 0, 0x0100});
    EXPECT_EQ(same.kind, IrResult::Kind::Posted);
    EXPECT_EQ(rig.pid(1).pir, vectors({0x61}));
}

}  // namespace
}  // namespace irqdiff::x86
