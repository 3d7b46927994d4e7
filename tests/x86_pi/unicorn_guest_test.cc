// The Unicorn x86 guest (x86_pi/guest/unicorn_guest.cc running x86_pi/guest/guest_x86_64.S): IDT
// gates, APIC-register reads (virtualized or emulated by KVM), boot, mask, delivery through the
// program's IDT, the timer's re-arm, faults, and, through the x86 backend, the same deliveries
// as the abstract guest on every x86 scenario, its records, snapshots and determinism (issue 7).
#include "x86_pi/guest/unicorn_guest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/explorer.h"
#include "core/runner.h"
#include "registry/builtin_backends.h"
#include "tests/run_harness.h"
#include "tests/x86_pi/x86_harness.h"

namespace irqdiff::guest_images {
const GuestImage& x86_guest();
}  // namespace irqdiff::guest_images

namespace irqdiff::x86 {
namespace {

namespace fs = std::filesystem;
using testing::Machine;

constexpr uint64_t kIfBit = uint64_t{1} << 9;

// ---- descriptors ---------------------------------------------------------------------------------

// SDM Vol. 3A §6.14.1: offset[15:0] in 15:0, selector 31:16, IST 34:32, type 43:40, DPL 46:45,
// P 47, offset[31:16] 63:48, offset[63:32] in the high quadword's 31:0.
TEST(IdtGate, DecodeEncodeRoundTripsAndPlacesEachField) {
    IdtGate g;
    g.offset = 0x1234'5678'9ABC'DEF0;
    g.selector = 0x08;
    g.ist = 5;
    g.type = IdtGate::kInterruptGate;
    g.dpl = 3;
    g.present = true;
    auto [low, high] = g.encode();
    EXPECT_EQ(low, 0x9ABC'EE05'0008'DEF0u);
    EXPECT_EQ(high, 0x1234'5678u);
    EXPECT_EQ(IdtGate::decode(low, high), g);
}

// ---- guest_apic_read --------------------------------------------------------------------------------

// SDM Vol. 3C §29.4.2: with APIC-register virtualization, a read of ISR comes from the
// virtual-APIC page and causes no VM exit.
TEST(GuestApicRead, VirtualizedRegisterComesFromTheVirtualApicPage) {
    Machine m(1);
    m.start_all();
    m.kvm().page(0).write(apic::ISR + 0x10, 0x8000'0002);
    const size_t events = m.log.events().size();
    EXPECT_EQ(m.cpu(0).guest_apic_read(apic::ISR + 0x10), 0x8000'0002u);
    EXPECT_TRUE(m.cpu(0).in_guest());
    EXPECT_EQ(m.log.events().size(), events);
}

// SDM Vol. 3C §29.4.2: PPR (0xA0) and the current count (0x390) are not in the list: an
// APIC-access VM exit, a read, which KVM emulates (kvm_lapic_reg_read, PPR updated first).
TEST(GuestApicRead, PprIsNotVirtualizedAndKvmEmulatesTheRead) {
    Machine m(1);
    m.start_all();
    m.apic_write(0, apic::TPR, 0x50);
    EXPECT_EQ(m.cpu(0).guest_apic_read(apic::PPR), std::nullopt);
    EXPECT_FALSE(m.cpu(0).in_guest());
    std::optional<VmExit> exit = m.cpu(0).take_exit();
    ASSERT_TRUE(exit);
    EXPECT_EQ(exit->reason, ExitReason::ApicAccess);
    EXPECT_TRUE(exit->read);
    EXPECT_EQ(exit->offset, apic::PPR);
    EXPECT_EQ(m.kvm().handle_apic_read(0, *exit), 0x50u);
    m.kvm().resume(0);
    EXPECT_TRUE(m.cpu(0).in_guest());
}

// Without APIC virtualization every read of the APIC-access page exits (SDM Vol. 3C §29.4.2,
// first condition); KVM returns its register page's value.
TEST(GuestApicRead, WithoutApicvEveryReadExitsToKvm) {
    Machine m(1, kvm::KvmConfig{false});
    m.start_all();
    EXPECT_EQ(m.cpu(0).guest_apic_read(apic::LDR), std::nullopt);
    std::optional<VmExit> exit = m.cpu(0).take_exit();
    ASSERT_TRUE(exit && exit->read);
    EXPECT_EQ(m.kvm().handle_apic_read(0, *exit), apic::Ldr::LogicalId.make(1));
}

// kvm_lapic_reg_read refuses offsets outside kvm_lapic_readable_reg_mask (EOI is write-only, 0x400
// is past the registers): no value.
TEST(GuestApicRead, KvmRefusesRegistersItDoesNotRead) {
    Machine m(1, kvm::KvmConfig{false});
    m.start_all();
    for (uint32_t offset : {apic::EOI, uint32_t{0x400}}) {
        ASSERT_EQ(m.cpu(0).guest_apic_read(offset), std::nullopt);
        std::optional<VmExit> exit = m.cpu(0).take_exit();
        ASSERT_TRUE(exit);
        EXPECT_EQ(m.kvm().handle_apic_read(0, *exit), std::nullopt) << offset;
        m.kvm().resume(0);
    }
}

// ---- the glue on one machine -------------------------------------------------------------------------

/// A Machine (tests/x86_pi/x86_harness.h) with the Unicorn guest booted on it, driven as
/// X86Backend drives it.
struct Rig {
    Scenario scenario;
    Machine m;
    GuestState state;
    GuestLog guest_log;
    UnicornGuest g;

    Rig(const std::string& yaml, kvm::KvmConfig config = {}, GuestOptions options = {GuestKind::Unicorn})
        : scenario(parse_scenario(yaml, builtin_backends().catalogue())),
          m(scenario.vcpus, config),
          g(scenario.vcpus, options, m.log) {
        for (uint32_t v = 0; v < scenario.vcpus; ++v) m.start(v);
        Guest(state, m.kvm(), host::ExitPath(m.h), m.h.hw, m.log).allocate_vectors(scenario, true);
        g.boot(host());
        m.service();
    }
    ActiveMachine host() {
        return ActiveMachine{m.h.hw, m.kvm(), Guest(state, m.kvm(), host::ExitPath(m.h), m.h.hw, m.log), host::ExitPath(m.h),
                             [this] { m.service(); }};
    }
    unsigned run(uint32_t v) {
        unsigned n = g.take_interrupts(host(), v, scenario, guest_log);
        m.service();
        return n;
    }
    uint64_t rflags(uint32_t v) { return g.machine().cpu(v).reg(UC_X86_REG_RFLAGS); }
    uint8_t vector_of(SourceId s) const { return state.sources.at(s).vector; }
};

const char* kTwoNics = R"(
name: t
vm: {vcpus: 2}
devices:
  - {name: nic, vectors: 2, passthrough: true}
routes:
  - {source: nic.0, vcpu: 0}
  - {source: nic.1, vcpu: 1}
steps:
  - run: all
)";

const char* kTimer = R"(
name: t
vm: {vcpus: 1}
devices:
  - {name: timer, kind: timer}
routes:
  - {source: timer.0, vcpu: 0}
steps:
  - run: all
)";

/// The program's own set-up reached the model: every vCPU's LDR = 1 << v, SVR enabled, IF = 1.
// (Guest::boot's per-vCPU part, which the program does itself with xAPIC MMIO writes.)
TEST(UnicornGuestBoot, ProgramSetsUpItsXapicAndEnablesInterrupts) {
    Rig r(kTwoNics);
    for (uint32_t v = 0; v < 2; ++v) {
        ApicPage p = r.m.kvm().page(v);
        EXPECT_EQ(p.read(apic::SVR), 0x1FFu);
        EXPECT_EQ(p.read(apic::LDR), apic::Ldr::LogicalId.make(1u << v));
        EXPECT_EQ(p.read(apic::TPR), 0u);
        EXPECT_TRUE(r.m.vmcs(v).guest_if);
        EXPECT_TRUE(r.rflags(v) & kIfBit);
        EXPECT_EQ(r.g.machine().cpu(v).pc(), r.g.machine().idle());
    }
    // Its IDT: gate 0x21 is a present interrupt gate to the 0x21st 16-byte stub.
    uc_x86_mmr idtr{};
    r.g.machine().cpu(0).reg_struct(UC_X86_REG_IDTR, &idtr);
    EXPECT_EQ(idtr.limit, 0xFFFu);
    GuestRam& ram = r.g.machine().ram();
    IdtGate gate =
        IdtGate::decode(ram.load<uint64_t>(idtr.base + 0x21 * 16), ram.load<uint64_t>(idtr.base + 0x21 * 16 + 8));
    EXPECT_TRUE(gate.present);
    EXPECT_EQ(gate.type, IdtGate::kInterruptGate);
    EXPECT_EQ(gate.selector, 0x08);
    IdtGate gate0 = IdtGate::decode(ram.load<uint64_t>(idtr.base), ram.load<uint64_t>(idtr.base + 8));
    EXPECT_EQ(gate.offset, gate0.offset + 0x21 * 16);
}

// Issue 7: the handler logs {vector, mailbox clock}, reads ISR, EOIs and returns with IRETQ to
// `idle`; the glue records it with the interrupted PC and reports the delivery.
TEST(UnicornGuestDelivery, HandlerLogsTheVectorAndReturnsToIdle) {
    Rig r(kTwoNics);
    const uint8_t vec = r.vector_of(0);
    r.m.kvm().accept_irq(0, vec, false, "test");
    r.m.service();
    EXPECT_EQ(r.run(0), 1u);
    ASSERT_EQ(r.guest_log.records().size(), 1u);
    const GuestRecord& rec = r.guest_log.records()[0];
    EXPECT_EQ(rec.vcpu, 0u);
    EXPECT_EQ(rec.id, vec);
    EXPECT_EQ(rec.pc, r.g.machine().idle());
    ASSERT_EQ(r.guest_log.deliveries().size(), 1u);
    EXPECT_EQ(r.guest_log.deliveries()[0].source, 0u);
    // EOI went through the model: nothing in service, IF back on after IRETQ.
    EXPECT_EQ(r.m.kvm().page(0).highest(apic::ISR), -1);
    EXPECT_TRUE(r.rflags(0) & kIfBit);
    EXPECT_TRUE(r.m.vmcs(0).guest_if);
    EXPECT_EQ(r.run(0), 0u);
}

// Guest::take_interrupts reports an interrupt on a vector no driver requested as a guest error;
// the program's handler still takes and EOIs it.
TEST(UnicornGuestDelivery, UnrequestedVectorIsAGuestError) {
    Rig r(kTwoNics);
    r.m.kvm().accept_irq(0, 0x80, false, "test");
    r.m.service();
    EXPECT_EQ(r.run(0), 1u);
    EXPECT_TRUE(r.guest_log.deliveries().empty());
    ASSERT_EQ(r.guest_log.records().size(), 1u);
    EXPECT_EQ(r.guest_log.records()[0].id, 0x80u);
    EXPECT_EQ(r.m.log.count(EventKind::GuestError), 1u);
}

// Issue 7, mask steps: the program itself executes CLI from its idle loop; nothing is delivered
// while RFLAGS.IF = 0 (SDM §29.2.2: virtual-interrupt delivery needs IF = 1), and STI lets it in.
TEST(UnicornGuestMask, ProgramExecutesCliAndSti) {
    for (bool apicv : {true, false}) {
        SCOPED_TRACE(apicv ? "APICv" : "no APICv");
        Rig r(kTwoNics, kvm::KvmConfig{apicv});
        r.g.set_mask(r.host(), 0, true);
        EXPECT_FALSE(r.rflags(0) & kIfBit);
        EXPECT_FALSE(r.m.vmcs(0).guest_if);
        r.m.kvm().accept_irq(0, r.vector_of(0), false, "test");
        r.m.service();
        EXPECT_EQ(r.run(0), 0u);
        EXPECT_TRUE(r.guest_log.records().empty());
        r.g.set_mask(r.host(), 0, false);
        EXPECT_TRUE(r.rflags(0) & kIfBit);
        EXPECT_TRUE(r.m.vmcs(0).guest_if);
        EXPECT_EQ(r.run(0), 1u);
        EXPECT_EQ(r.guest_log.deliveries().size(), 1u);
    }
}

// The timer handler re-arms the one-shot timer with the mailbox's count (TMICT write after EOI, as
// Linux's sysvec_apic_timer_interrupt; Guest::take_interrupts does the same).
TEST(UnicornGuestTimer, TimerInterruptReArmsTheTimer) {
    for (bool apicv : {true, false}) {
        SCOPED_TRACE(apicv ? "APICv" : "no APICv");
        Rig r(kTimer, kvm::KvmConfig{apicv});
        EXPECT_EQ(r.m.kvm().page(0).read(apic::LVT_TIMER), kTimerVector);
        EXPECT_TRUE(r.m.vcpu(0).timer_armed);
        r.m.kvm().timer_expired(0);
        r.m.service();
        EXPECT_FALSE(r.m.vcpu(0).timer_armed);
        EXPECT_EQ(r.run(0), 1u);
        ASSERT_EQ(r.guest_log.deliveries().size(), 1u);
        EXPECT_EQ(r.guest_log.records().at(0).id, kTimerVector);
        EXPECT_TRUE(r.m.vcpu(0).timer_armed);
        EXPECT_EQ(r.m.kvm().page(0).read(apic::TMICT), kTimerInitialCount);
    }
}

// Issue 7: GUEST.irq_entry (interrupted PC and its instruction) before the handler,
// GUEST.irq_return (entries logged, and with --trace-guest each handler instruction) after.
TEST(UnicornGuestEvents, EntryAndReturnEventsWithHandlerTrace) {
    GuestOptions options{GuestKind::Unicorn};
    options.trace_instructions = true;
    Rig r(kTwoNics, {}, options);
    r.m.kvm().accept_irq(0, r.vector_of(0), false, "test");
    r.m.service();
    ASSERT_EQ(r.run(0), 1u);
    const Event* entry = nullptr;
    const Event* ret = nullptr;
    for (const Event& e : r.m.log.events()) {
        if (e.point == &tp::kGuestIrqEntry) entry = &e;
        if (e.point == &tp::kGuestIrqReturnTraced) ret = &e;
    }
    ASSERT_TRUE(entry && ret);
    EXPECT_EQ(entry->args.at(1).value, ArgValue(Hex{r.g.machine().idle()}));
    EXPECT_EQ(entry->args.at(2).key, "insn");
    EXPECT_EQ(std::get<std::string>(entry->args.at(2).value).rfind("jmp", 0), 0u);
    EXPECT_EQ(ret->args.at(1).value, ArgValue(int64_t{1}));
    const std::string& handler = std::get<std::string>(ret->args.at(2).value);
    EXPECT_NE(handler.find("push 0x21"), std::string::npos) << handler;
    EXPECT_NE(handler.find("iretq"), std::string::npos) << handler;
}

// SDM Vol. 3A §6.14.1: a gate that is not present (#NP) or not an interrupt gate, or a selector
// that is not a 64-bit code segment (#GP), cannot deliver the interrupt: a GuestFault naming the
// vCPU, the PC and its instruction.
TEST(UnicornGuestFaults, CorruptedIdtGateIsAGuestFault) {
    struct Corruption {
        const char* what;
        uint64_t low_mask, low_bits;
    };
    for (const Corruption& c :
         {Corruption{"not present", ~IdtGate::Low::P.kMask, 0},
          Corruption{"type 0xf", ~IdtGate::Low::Type.kMask, IdtGate::Low::Type.make(0xF)},
          Corruption{"selector 0x10", ~IdtGate::Low::Selector.kMask, IdtGate::Low::Selector.make(0x10)},
          Corruption{"IST 1", ~uint64_t{0}, IdtGate::Low::IST.make(1)}}) {
        SCOPED_TRACE(c.what);
        Rig r(kTwoNics);
        const uint8_t vec = r.vector_of(0);
        uc_x86_mmr idtr{};
        r.g.machine().cpu(0).reg_struct(UC_X86_REG_IDTR, &idtr);
        GuestRam& ram = r.g.machine().ram();
        const uint64_t at = idtr.base + uint64_t{vec} * 16;
        ram.store<uint64_t>(at, (ram.load<uint64_t>(at) & c.low_mask) | c.low_bits);
        r.m.kvm().accept_irq(0, vec, false, "test");
        r.m.service();
        try {
            r.run(0);
            ADD_FAILURE() << "no fault";
        } catch (const GuestFault& f) {
            const std::string msg = f.what();
            EXPECT_NE(msg.find("x86 vCPU 0"), std::string::npos) << msg;
            EXPECT_EQ(f.pc(), r.g.machine().idle());
            EXPECT_EQ(f.instruction().rfind("jmp", 0), 0u) << msg;
            EXPECT_NE(msg.find("vector 0x21"), std::string::npos) << msg;
        }
    }
}

// A stack outside guest RAM cannot hold the interrupt frame (it would be a #PF / #SS, then a
// double fault): a GuestFault.
TEST(UnicornGuestFaults, StackOutsideGuestRamIsAGuestFault) {
    Rig r(kTwoNics);
    r.g.machine().cpu(0).set_reg(UC_X86_REG_RSP, 0x1000);
    r.m.kvm().accept_irq(0, r.vector_of(0), false, "test");
    r.m.service();
    EXPECT_THROW(r.run(0), GuestFault);
}

// core/guest_program.h: a log head that went backwards (the guest corrupted it) is a GuestFault.
TEST(UnicornGuestFaults, CorruptedLogHeadIsAGuestFault) {
    Rig r(kTwoNics);
    r.m.kvm().accept_irq(0, r.vector_of(0), false, "test");
    r.m.service();
    ASSERT_EQ(r.run(0), 1u);
    r.g.machine().ram().store<uint32_t>(GuestAbi::area(0) + GuestAbi::kLogHead, 0xFFFF'0000u);
    r.m.kvm().accept_irq(0, r.vector_of(0), false, "test");
    r.m.service();
    try {
        r.run(0);
        ADD_FAILURE() << "no fault";
    } catch (const GuestFault& f) {
        EXPECT_NE(std::string(f.what()).find("x86 vCPU 0"), std::string::npos) << f.what();
        EXPECT_NE(f.reason().find("log head"), std::string::npos) << f.what();
    }
}

// The handler reports a vector that is not in service (bit 8 in its log entry): the model and the
// guest disagree, a GuestFault. An event placed straight in the VMCS's entry-interruption field
// (bypassing KVM, which moves IRR to ISR before injecting) is delivered with no ISR bit set.
TEST(UnicornGuestFaults, VectorNotInServiceIsAGuestFault) {
    Rig r(kTwoNics);
    r.m.vmcs(0).entry_interruption = r.vector_of(0);
    try {
        r.run(0);
        ADD_FAILURE() << "no fault";
    } catch (const GuestFault& f) {
        EXPECT_NE(f.reason().find("not in service"), std::string::npos) << f.what();
    }
}

// A runaway handler (it never returns) exhausts the budget: a GuestFault, not a hang.
TEST(UnicornGuestFaults, RunawayHandlerIsAGuestFault) {
    GuestOptions options{GuestKind::Unicorn};
    options.budget = 5000;
    Rig r(kTwoNics, {}, options);
    // Gate 0x21 points at `jmp .` (EB FE), written over gate 0 (vector 0 is never delivered here).
    uc_x86_mmr idtr{};
    r.g.machine().cpu(0).reg_struct(UC_X86_REG_IDTR, &idtr);
    GuestRam& ram = r.g.machine().ram();
    ram.store<uint16_t>(idtr.base, 0xFEEB);
    IdtGate gate =
        IdtGate::decode(ram.load<uint64_t>(idtr.base + 0x21 * 16), ram.load<uint64_t>(idtr.base + 0x21 * 16 + 8));
    gate.offset = idtr.base;
    auto [low, high] = gate.encode();
    ram.store<uint64_t>(idtr.base + 0x21 * 16, low);
    ram.store<uint64_t>(idtr.base + 0x21 * 16 + 8, high);
    r.m.kvm().accept_irq(0, 0x21, false, "test");
    r.m.service();
    try {
        r.run(0);
        ADD_FAILURE() << "no fault";
    } catch (const GuestFault& f) {
        EXPECT_NE(f.reason().find("did not reach its idle loop"), std::string::npos) << f.what();
    }
}

// ---- through the backend: every x86 scenario ------------------------------------------------------

const fs::path kSource = IRQDIFF_SOURCE_DIR;

const BackendInfo& x86_info() {
    const BackendInfo* info = builtin_backends().find("x86");
    if (!info) throw std::logic_error("this build has no x86 backend");
    return *info;
}

PolicySetting setting(const std::string& key, const std::string& value) {
    return PolicySetting{key, value, SourceLoc{"test", 0, 0}, SourceLoc{"test", 0, 0}};
}

struct Case {
    fs::path file;
    std::vector<PolicySetting> policy;
    std::string label;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.file.string() << " " << c.label; }

/// Every scenario the x86 backend accepts, under its defaults and under each x86 policy value
/// that changes delivery.
std::vector<Case> x86_cases() {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(kSource / "scenarios"))
        if (e.is_regular_file() && e.path().extension() == ".yaml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<Case> out;
    for (const fs::path& f : files) {
        Scenario s = load_scenario(f.string(), builtin_backends().catalogue());
        if (!s.arches.empty() && std::find(s.arches.begin(), s.arches.end(), "x86") == s.arches.end()) continue;
        if (run_harness::needs_abstract_guest(s)) continue;
        out.push_back({f, {}, "defaults"});
        out.push_back({f, {setting("x86.posting", "off")}, "posting=off"});
        out.push_back({f, {setting("x86.guest_apic_dest", "physical")}, "physical"});
        out.push_back({f, {setting("x86.set_lapic_clears_pir", "after_load")}, "after_load"});
    }
    return out;
}

/// The options a scenario runs with here: its own order, or QEMU's for `order: all`; nullopt for
/// a scenario that needs the explorer (`before: any`).
std::optional<RunOptions> options_for(const Scenario& s, const Case& c, GuestKind guest) {
    RunOptions o;
    o.policy = c.policy;
    o.guest = guest;
    try {
        lower(s, *x86_info().plan, "x86", o);
    } catch (const InputError&) {
        o.order = "qemu";
        try {
            lower(s, *x86_info().plan, "x86", o);
        } catch (const InputError&) {
            return std::nullopt;
        }
    }
    return o;
}

/// Events of a layer other than the guest's during boot (action 0): the model's operations.
std::vector<std::string> boot_model_ops(const RunResult& r) {
    std::vector<std::string> out;
    for (const Event& e : r.events)
        if (e.action == 0 && e.layer != Layer::Guest) {
            Event copy = e;
            copy.seq = 0;
            out.push_back(to_string(copy));
        }
    return out;
}

class UnicornGuestScenarios : public ::testing::TestWithParam<Case> {};

// Issue 7: with the Unicorn guest the backend observes what it observes with the abstract guest:
// the same deliveries (vCPU, source, path, run step, order) and outcomes; boot performs the same
// model operations; the guest's records match the deliveries, each interrupting `idle`, with
// increasing timestamps.
TEST_P(UnicornGuestScenarios, SameDeliveriesAsTheAbstractGuest) {
    const Case& c = GetParam();
    Scenario s = load_scenario(c.file.string(), builtin_backends().catalogue());
    std::optional<RunOptions> abstract_options = options_for(s, c, GuestKind::Abstract);
    if (!abstract_options) GTEST_SKIP() << "needs the explorer (before: any)";
    RunOptions unicorn_options = *abstract_options;
    unicorn_options.guest = GuestKind::Unicorn;
    RunResult a = run_scenario(s, x86_info(), *abstract_options);
    RunResult u = run_scenario(s, x86_info(), unicorn_options);
    EXPECT_EQ(u.deliveries, a.deliveries);
    ASSERT_EQ(u.outcomes.size(), a.outcomes.size());
    for (size_t i = 0; i < a.outcomes.size(); ++i)
        EXPECT_EQ(to_string(u.outcomes[i].outcome), to_string(a.outcomes[i].outcome));
    EXPECT_EQ(u.expectations_met, a.expectations_met);
    EXPECT_EQ(boot_model_ops(u), boot_model_ops(a));

    const uint64_t idle = guest_images::x86_guest().symbol("idle");
    std::vector<const GuestRecord*> records;
    for (const GuestRecord& rec : u.guest_records) records.push_back(&rec);
    EXPECT_GE(records.size(), u.deliveries.size());  // plus any on unrequested vectors
    uint64_t last = 0;
    for (const GuestRecord* rec : records) {
        EXPECT_EQ(rec->pc, idle);
        EXPECT_GT(rec->timestamp, last);
        last = rec->timestamp;
        EXPECT_TRUE(rec->id == kTimerVector || (rec->id >= kFirstGuestVector && rec->id <= kLastGuestVector))
            << rec->id;
    }
    // Each delivery has its record, on the same vCPU during the same run step, in order.
    size_t k = 0;
    for (const Delivery& d : u.deliveries) {
        while (k < records.size() && !(records[k]->vcpu == d.vcpu && records[k]->action == d.action)) ++k;
        EXPECT_LT(k, records.size()) << "no record for a delivery during action " << d.action;
        ++k;
    }
}

INSTANTIATE_TEST_SUITE_P(AllX86Scenarios, UnicornGuestScenarios, ::testing::ValuesIn(x86_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                             std::string n = info.param.file.stem().string() + "_" + info.param.label;
                             for (char& ch : n)
                                 if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return n;
                         });

// Issue 7, with the explorer (which shares schedule prefixes through backend snapshots): every
// restore order x arrival point x policy value gives the same outcomes, forwarded flags, windows
// and broken rules with the Unicorn guest as with the abstract guest.
TEST(UnicornGuestBackend, ExplorerOutcomesEqualTheAbstractGuestsOnEverySchedule) {
    for (const char* file : {"seed/pending_across_migration.yaml", "x86/timer_before_load.yaml"}) {
        SCOPED_TRACE(file);
        Scenario s = load_scenario((kSource / "scenarios" / file).string(), builtin_backends().catalogue());
        std::vector<ScheduleRow> rows[2];
        for (GuestKind kind : {GuestKind::Abstract, GuestKind::Unicorn}) {
            ExploreOptions o;
            o.arches = {"x86"};
            o.policy = {setting("x86.posting", "all"), setting("x86.set_lapic_clears_pir", "all")};
            o.order = "all";
            o.any_arrival = true;
            o.guest = kind;
            ExploreSpace space(s, builtin_backends(), o);
            rows[kind == GuestKind::Unicorn] = space.explore(0, space.size());
        }
        ASSERT_EQ(rows[0].size(), rows[1].size());
        EXPECT_GT(rows[0].size(), 1000u);
        for (size_t i = 0; i < rows[0].size(); ++i) {
            ASSERT_EQ(rows[1][i].sources, rows[0][i].sources) << "schedule " << i;
            ASSERT_EQ(rows[1][i].violations, rows[0][i].violations) << "schedule " << i;
            ASSERT_EQ(rows[1][i].expectations_met, rows[0][i].expectations_met) << "schedule " << i;
        }
    }
}

// Issue 7, snapshots: Backend::snapshot()/restore() carry the guest's RAM and vCPU registers, so
// a run rewound to a checkpoint and continued gives the same deliveries, records and events.
TEST(UnicornGuestBackend, SnapshotRestoreRoundTrip) {
    Scenario s = load_scenario((kSource / "scenarios/seed/pending_across_migration.yaml").string(),
                               builtin_backends().catalogue());
    RunOptions options;
    options.guest = GuestKind::Unicorn;
    Schedule schedule = lower(s, *x86_info().plan, "x86", options);
    const PolicyValues policy = resolve_policy(builtin_backends().find("x86")->policies, s.policy, {});
    Execution run(s, x86_info(), policy, true, true, guest_options(s, options));
    const uint32_t n = static_cast<uint32_t>(schedule.actions.size());
    const uint32_t mid = 2;  // after the mask step, before the fire
    for (uint32_t i = 0; i < mid; ++i) run.step(schedule.actions[i], i);
    std::unique_ptr<Execution::Checkpoint> cp = run.checkpoint();
    for (uint32_t i = mid; i < n; ++i) run.step(schedule.actions[i], i);
    RunResult first = run.result(schedule);
    run.rewind(*cp);
    for (uint32_t i = mid; i < n; ++i) run.step(schedule.actions[i], i);
    RunResult second = run.result(schedule);
    EXPECT_FALSE(first.deliveries.empty());
    EXPECT_FALSE(first.guest_records.empty());
    EXPECT_EQ(second.deliveries, first.deliveries);
    EXPECT_EQ(second.guest_records, first.guest_records);
    EXPECT_EQ(second.events, first.events);
}

// Issue 7, determinism: the same scenario and options give byte-identical events and records.
TEST(UnicornGuestBackend, RunsAreDeterministic) {
    Scenario s =
        load_scenario((kSource / "scenarios/x86/post_while_running.yaml").string(), builtin_backends().catalogue());
    RunOptions options;
    options.guest = GuestKind::Unicorn;
    options.trace_guest = true;
    RunResult a = run_scenario(s, x86_info(), options);
    RunResult b = run_scenario(s, x86_info(), options);
    std::string ta, tb;
    for (const Event& e : a.events) ta += to_string(e) + "\n";
    for (const Event& e : b.events) tb += to_string(e) + "\n";
    EXPECT_EQ(ta, tb);
    EXPECT_EQ(a.guest_records, b.guest_records);
    EXPECT_FALSE(a.guest_records.empty());
}

// The explorer's unrecorded runs see the same clock: GUEST.irq_entry counts as one event either
// way, so the guest's timestamps do not depend on recording.
TEST(UnicornGuestBackend, TimestampsDoNotDependOnRecording) {
    Scenario s = load_scenario((kSource / "scenarios/x86/coalescing.yaml").string(), builtin_backends().catalogue());
    RunOptions options;
    options.guest = GuestKind::Unicorn;
    RunResult a = run_scenario(s, x86_info(), options);
    options.record_events = false;
    RunResult b = run_scenario(s, x86_info(), options);
    EXPECT_EQ(a.guest_records, b.guest_records);
}

}  // namespace
}  // namespace irqdiff::x86
