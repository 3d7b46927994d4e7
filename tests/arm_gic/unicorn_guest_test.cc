// The Unicorn ARM guest (arm_gic/guest/unicorn_guest.h, guest_aarch64.S): the same deliveries as
// the abstract guest on every ARM scenario, the guest's own log read back as records, the mask
// taken from PSTATE.I, ICC_IAR1_EL1 running dry at 1023, GuestFaults for unmodelled ICC registers,
// bad vector tables and a log that does not match the acknowledgements, snapshots, determinism.
// Unit tests drive the glue over one CPU interface (tests/arm_gic/gic_harness.h, list registers);
// the others run scenarios through the `arm` backend.
#include "arm_gic/guest/unicorn_guest.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "arm_gic/backend.h"
#include "core/runner.h"
#include "registry/builtin_backends.h"
#include "tests/arm_gic/gic_harness.h"

namespace irqdiff::arm::testing {
namespace {

const std::string kScenarios = std::string(IRQDIFF_SOURCE_DIR) + "/scenarios";
const std::string kSeed = kScenarios + "/seed/pending_across_migration.yaml";

const BackendInfo& arm_info() { return *builtin_backends().find("arm"); }

uint64_t symbol(const char* name) { return guest_images::arm_guest().symbol(name); }

/// The explorer's first schedule for `order: all` and `before: any`; nothing for other scenarios.
ScheduleChoice first_schedule(const Scenario& s) {
    ScheduleChoice c;
    for (const Step& st : s.steps) {
        if (st.kind != StepKind::Migrate) continue;
        c.order.push_back(st.order.kind == OrderSpec::Kind::All ? std::optional<uint64_t>(0) : std::nullopt);
        std::vector<std::optional<uint16_t>> arrival;
        for (const MigrationFire& f : st.fires)
            arrival.push_back(f.before == kAnyStep ? std::optional<uint16_t>(0) : std::nullopt);
        c.arrival.push_back(std::move(arrival));
    }
    return c;
}

RunResult run(const Scenario& s, GuestKind guest, RunOptions options = {}) {
    options.guest = guest;
    ScheduleChoice choice = first_schedule(s);
    return run_scenario(s, arm_info(), options, &choice);
}

std::vector<const Event*> events(const RunResult& r, const Points& points) { return find_events(r.events, points); }

const ArgValue* arg(const Event& e, std::string_view key) {
    for (const EventArg& a : e.args)
        if (a.key == key) return &a.value;
    return nullptr;
}

std::string text(const std::vector<Event>& events) {
    std::string out;
    for (const Event& e : events) out += to_string(e) + "\n";
    return out;
}

// ---- every ARM scenario: the same deliveries as the abstract guest ------------------------------

std::vector<std::string> arm_scenarios() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(kScenarios)) {
        if (e.path().extension() != ".yaml") continue;
        Scenario s = load_scenario(e.path().string(), builtin_backends().catalogue());
        if (!s.arches.empty() && std::find(s.arches.begin(), s.arches.end(), "arm") == s.arches.end()) continue;
        // The Unicorn guest program sends no SGIs: an ipi scenario is refused with it (ArmVsgi tests).
        if (std::any_of(s.devices.begin(), s.devices.end(), [](const Device& d) { return d.kind == DeviceKind::Ipi; })) continue;
        out.push_back(e.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

class UnicornArmScenario : public ::testing::TestWithParam<std::string> {};

// Issue 7: "with the Unicorn guest, the backend's observations must equal the abstract guest's:
// same deliveries (source, vCPU, order, path) for every scenario in scenarios/"; the delivery
// semantics come from the model, so outcomes and violations agree too.
TEST_P(UnicornArmScenario, DeliveriesOutcomesAndViolationsEqualTheAbstractGuests) {
    Scenario s = load_scenario(GetParam(), builtin_backends().catalogue());
    RunResult abstract = run(s, GuestKind::Abstract);
    RunResult unicorn = run(s, GuestKind::Unicorn);
    EXPECT_EQ(unicorn.guest, GuestKind::Unicorn);
    EXPECT_EQ(unicorn.deliveries, abstract.deliveries);
    ASSERT_EQ(unicorn.outcomes.size(), abstract.outcomes.size());
    for (size_t i = 0; i < abstract.outcomes.size(); ++i) {
        SCOPED_TRACE(abstract.source_names.at(abstract.outcomes[i].source));
        EXPECT_EQ(unicorn.outcomes[i].source, abstract.outcomes[i].source);
        EXPECT_EQ(unicorn.outcomes[i].outcome, abstract.outcomes[i].outcome);
        EXPECT_EQ(unicorn.outcomes[i].delivered, abstract.outcomes[i].delivered);
        EXPECT_EQ(unicorn.outcomes[i].forwarded, abstract.outcomes[i].forwarded);
        EXPECT_EQ(unicorn.outcomes[i].held, abstract.outcomes[i].held);
    }
    auto ops = [](const RunResult& r) {
        std::vector<std::string> v;
        for (const Event& e : r.violations) {
            std::string line = e.op;
            for (const EventArg& a : e.args) line += " " + a.key + "=" + to_string(a.value);
            v.push_back(line);
        }
        return v;
    };
    EXPECT_EQ(ops(unicorn), ops(abstract));
    EXPECT_EQ(unicorn.expectations_met, abstract.expectations_met);
    // Every delivery came from an entry of the guest's own log (each INTID here is mapped).
    ASSERT_EQ(unicorn.guest_records.size(), unicorn.deliveries.size());
    for (size_t i = 0; i < unicorn.deliveries.size(); ++i) {
        EXPECT_EQ(unicorn.guest_records[i].vcpu, unicorn.deliveries[i].vcpu);
        EXPECT_EQ(unicorn.guest_records[i].action, unicorn.deliveries[i].action);
    }
    EXPECT_TRUE(abstract.guest_records.empty());
}

INSTANTIATE_TEST_SUITE_P(EveryArmScenario, UnicornArmScenario, ::testing::ValuesIn(arm_scenarios()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string name = std::filesystem::path(info.param).parent_path().filename().string() +
                                                "_" + std::filesystem::path(info.param).stem().string();
                             for (char& c : name)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return name;
                         });

// The loop above covers the library (a glob that found nothing would pass vacuously).
TEST(UnicornArmScenarios, TheLibraryHasArmScenarios) { EXPECT_GE(arm_scenarios().size(), 14u); }

// ---- records, clock, boot, events -----------------------------------------------------------------

// Issue 7: each handler entry {INTID, timestamp} becomes a GuestRecord with the interrupted PC; the
// timestamp is the virtual clock (the event log's length when the handler read CNTVCT_EL0, right
// after its ICC_IAR1_EL1 read), so it increases.
TEST(UnicornArmGuest, RecordsCarryTheIntidTheInterruptedPcAndIncreasingTimestamps) {
    RunResult r = run(load_scenario(kSeed, builtin_backends().catalogue()), GuestKind::Unicorn);
    ASSERT_EQ(r.guest_records.size(), 2u);
    // The guest's driver maps the n-th routed source to LPI 8192 + n: nic.0 -> vCPU 0, nic.1 -> vCPU 1.
    EXPECT_EQ(r.guest_records[0].vcpu, 0u);
    EXPECT_EQ(r.guest_records[0].id, 8192u);
    EXPECT_EQ(r.guest_records[1].vcpu, 1u);
    EXPECT_EQ(r.guest_records[1].id, 8193u);
    for (const GuestRecord& rec : r.guest_records) {
        EXPECT_EQ(rec.pc, symbol("idle"));
        // The IAR1 read that acknowledged it is the event just before the clock read.
        ASSERT_GT(rec.timestamp, 0u);
        const Event& ack = r.events.at(rec.timestamp - 1);
        EXPECT_EQ(ack.point, &tp::kVcpuReadIar1) << ack.op;
        EXPECT_EQ(std::get<int64_t>(*arg(ack, "intid")), rec.id);
    }
    EXPECT_LT(r.guest_records[0].timestamp, r.guest_records[1].timestamp);
}

// Issue 7: the program opens its CPU interface itself (MSR ICC_PMR_EL1, ICC_IGRPEN1_EL1), so the
// abstract driver boot must not: the boot's events are the abstract guest's, none twice.
TEST(UnicornArmGuest, BootWritesPmrAndIgrpen1OnceThroughTheProgram) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    RunResult abstract = run(s, GuestKind::Abstract);
    RunResult unicorn = run(s, GuestKind::Unicorn);
    auto boot = [](const RunResult& r) {
        std::vector<Event> out;
        for (const Event& e : r.events) {
            if (e.point == &tp::kGuestRun) break;
            out.push_back(e);
        }
        return out;
    };
    EXPECT_EQ(text(boot(unicorn)), text(boot(abstract)));
    EXPECT_EQ(events(unicorn, tp::kVcpuWriteIgrpen1).size(), events(abstract, tp::kVcpuWriteIgrpen1).size());
}

// Issue 7: GUEST.irq_entry {vcpu, pc, insn} before the handler, GUEST.irq_return {vcpu, taken}
// after it; the handler reads ICC_IAR1_EL1 until 1023.
TEST(UnicornArmGuest, EachEntryReadsIar1UntilSpuriousBetweenIrqEntryAndIrqReturn) {
    RunResult r = run(load_scenario(kSeed, builtin_backends().catalogue()), GuestKind::Unicorn);
    size_t entries = 0;
    for (size_t i = 0; i < r.events.size(); ++i) {
        if (r.events[i].point != &tp::kGuestIrqEntry) continue;
        ++entries;
        const Event& entry = r.events[i];
        EXPECT_EQ(std::get<Hex>(*arg(entry, "pc")).value, symbol("idle"));
        EXPECT_EQ(std::get<std::string>(*arg(entry, "insn")).rfind("b #", 0), 0u) << to_string(entry);
        size_t j = i + 1;
        std::vector<int64_t> acks;
        for (; j < r.events.size() && r.events[j].point != &tp::kGuestIrqReturn; ++j)
            if (Points({tp::kVcpuReadIar1, tp::kVcpuReadIar1Spurious}).matches(r.events[j]))
                acks.push_back(std::get<int64_t>(*arg(r.events[j], "intid")));
        ASSERT_LT(j, r.events.size());
        ASSERT_GE(acks.size(), 2u);
        EXPECT_EQ(acks.back(), 1023);
        EXPECT_EQ(std::count(acks.begin(), acks.end(), 1023), 1);
        EXPECT_EQ(std::get<int64_t>(*arg(r.events[j], "taken")), static_cast<int64_t>(acks.size() - 1));
        EXPECT_EQ(arg(r.events[j], "handler"), nullptr);  // only with trace_guest
    }
    EXPECT_EQ(entries, 2u);
}

size_t occurrences(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// Issue 7: with GuestOptions::trace_instructions, irq_return lists each executed handler
// instruction as "0xADDR: text", on every entry (here three on one vCPU, the second taking two
// INTIDs in one pass of its IAR1 loop).
TEST(UnicornArmGuest, TraceGuestListsTheHandlersInstructionsOnEveryEntry) {
    Scenario s = parse_scenario(R"(name: three-entries
vm: {vcpus: 1}
devices:
  - {name: nic, vectors: 2, passthrough: true}
routes:
  - {source: nic.0, vcpu: 0}
  - {source: nic.1, vcpu: 0}
steps:
  - fire: nic.0
  - run: all
  - fire: nic.1
  - fire: nic.0
  - run: all
  - fire: nic.1
  - run: all
)",
                                builtin_backends().catalogue());
    RunOptions o;
    o.trace_guest = true;
    RunResult r = run(s, GuestKind::Unicorn, o);
    EXPECT_EQ(r.deliveries, run(s, GuestKind::Abstract).deliveries);
    std::vector<const Event*> ret = events(r, {tp::kGuestIrqReturn, tp::kGuestIrqReturnTraced});
    ASSERT_EQ(ret.size(), 3u);
    for (const Event* e : ret) {
        SCOPED_TRACE(to_string(*e));
        const std::string& handler = std::get<std::string>(*arg(*e, "handler"));
        const int64_t taken = std::get<int64_t>(*arg(*e, "taken"));
        EXPECT_EQ(handler.rfind(fmt::format("{:#x}: b #{:#x}; ", symbol("vectors") + 0x280, symbol("irq_handler")), 0),
                  0u);
        EXPECT_EQ(occurrences(handler, ": mrs x1, icc_iar1_el1"), static_cast<size_t>(taken + 1));
        EXPECT_EQ(occurrences(handler, ": msr icc_eoir1_el1, x1"), static_cast<size_t>(taken));
        EXPECT_EQ(handler.substr(handler.size() - 6), ": eret");
    }
    EXPECT_EQ(std::get<int64_t>(*arg(*ret[1], "taken")), 2);
}

const char* const kMaskedRun = R"(name: masked-run
vm: {vcpus: 1}
devices:
  - {name: nic, vectors: 1, passthrough: true}
routes:
  - {source: nic.0, vcpu: 0}
steps:
  - mask: {vcpu: 0}
  - fire: nic.0
  - run: all
  - unmask: {vcpu: 0}
  - run: all
expect:
  nic.0: delivered-once
)";

// Issue 7: a masked vCPU (the guest set PSTATE.I from its mailbox) takes nothing until unmasked;
// GUEST.run's `masked` shows PSTATE.I.
TEST(UnicornArmGuest, MaskedVcpuTakesNothingUntilUnmasked) {
    Scenario s = parse_scenario(kMaskedRun, builtin_backends().catalogue());
    RunResult abstract = run(s, GuestKind::Abstract);
    RunResult unicorn = run(s, GuestKind::Unicorn);
    ASSERT_EQ(unicorn.deliveries.size(), 1u);
    EXPECT_EQ(unicorn.deliveries[0].action, 4u);  // the run after the unmask
    EXPECT_EQ(unicorn.deliveries, abstract.deliveries);
    std::vector<const Event*> runs = events(unicorn, tp::kGuestRun);
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_TRUE(std::get<bool>(*arg(*runs[0], "masked")));
    EXPECT_FALSE(std::get<bool>(*arg(*runs.back(), "masked")));
    EXPECT_TRUE(unicorn.expectations_met);
}

// Issue 7: same scenario and options, byte-identical events and records; the clock counts events
// whether they are recorded or not, so records do not depend on recording.
TEST(UnicornArmGuest, RunsAreDeterministic) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    RunResult a = run(s, GuestKind::Unicorn);
    RunResult b = run(s, GuestKind::Unicorn);
    EXPECT_EQ(text(a.events), text(b.events));
    EXPECT_EQ(a.guest_records, b.guest_records);
    RunOptions quiet;
    quiet.record_events = false;
    RunResult c = run(s, GuestKind::Unicorn, quiet);
    EXPECT_EQ(c.guest_records, a.guest_records);
    EXPECT_EQ(c.deliveries, a.deliveries);
}

/// Runs `s` with the Unicorn guest to action `at`, checkpoints, runs to the end, rewinds to the
/// checkpoint and runs to the end again; returns both results.
std::pair<RunResult, RunResult> run_twice_from(const Scenario& s, uint32_t at) {
    RunOptions o;
    o.guest = GuestKind::Unicorn;
    Schedule sched = lower(s, *arm_info().plan, "arm", o);
    Execution ex(s, arm_info(), resolve_policy(arm_info().policies, s.policy, {}), true, true, guest_options(s, o));
    EXPECT_LT(at, sched.actions.size());
    for (uint32_t i = 0; i < at; ++i) ex.step(sched.actions[i], i);
    std::unique_ptr<Execution::Checkpoint> cp = ex.checkpoint();
    for (uint32_t i = at; i < sched.actions.size(); ++i) ex.step(sched.actions[i], i);
    RunResult first = ex.result(sched);
    ex.rewind(*cp);
    for (uint32_t i = at; i < sched.actions.size(); ++i) ex.step(sched.actions[i], i);
    return {std::move(first), ex.result(sched)};
}

// Issue 7: Backend::snapshot()/restore() carry the guest machine (RAM, registers, log cursor):
// run, checkpoint mid-way, continue, rewind, continue again: the same deliveries, records, events.
TEST(UnicornArmGuest, CheckpointAndRewindGiveTheSameRun) {
    Scenario seed = load_scenario(kSeed, builtin_backends().catalogue());
    auto [first, second] =
        run_twice_from(seed, static_cast<uint32_t>(lower(seed, *arm_info().plan, "arm", {}).actions.size() / 2));
    ASSERT_EQ(first.deliveries.size(), 2u);
    EXPECT_EQ(second.deliveries, first.deliveries);
    EXPECT_EQ(second.guest_records, first.guest_records);
    EXPECT_EQ(text(second.events), text(first.events));
    EXPECT_EQ(first.deliveries, run(seed, GuestKind::Unicorn).deliveries);
    // Checkpointed while the guest runs masked (PSTATE.I set): the rewound guest is masked again,
    // so the run before the unmask takes nothing.
    Scenario masked = parse_scenario(kMaskedRun, builtin_backends().catalogue());
    auto [m1, m2] = run_twice_from(masked, 2);
    ASSERT_EQ(m1.deliveries.size(), 1u);
    EXPECT_EQ(m1.deliveries[0].action, 4u);
    EXPECT_EQ(m2.deliveries, m1.deliveries);
    EXPECT_EQ(m2.guest_records, m1.guest_records);
    EXPECT_EQ(text(m2.events), text(m1.events));
}

// ---- the glue over one CPU interface (list registers) --------------------------------------------

constexpr uint32_t kMapped = 40;    // the INTID the test's guest state maps to nic.0
constexpr uint32_t kUnmapped = 41;  // an INTID it maps to nothing

uint64_t pending_lr(uint32_t vintid, uint8_t priority = 0x80) {
    ListRegister l;
    l.status = ListRegister::Status::Pending;
    l.group1 = true;
    l.priority = priority;
    l.vintid = vintid;
    return l.encode();
}

class UnicornArmGlue : public ::testing::Test {
   protected:
    void SetUp() override {
        state.masked = {false};
        state.lpis = {GuestLpi{true, 0x10, 0, kMapped, 0}};
    }
    CpuInterface& cpu() { return h.gic.cpu(0); }
    UnicornCpu& vcpu() { return guest.machine().cpu(0); }
    unsigned take() { return guest.take_interrupts(0, cpu(), state, scenario, out); }
    /// Overwrites the program's first instruction `from` with `to` (before it ever ran).
    uint64_t patch(uint32_t from, uint32_t to) {
        GuestRam& ram = guest.machine().ram();
        for (uint64_t a = ram.base(); a < ram.base() + GuestAbi::kProgramBytes; a += 4)
            if (ram.load<uint32_t>(a) == from) {
                ram.store<uint32_t>(a, to);
                return a;
            }
        ADD_FAILURE() << "no instruction " << from;
        return 0;
    }

    GicHarness h;
    UnicornGuest guest{1, GuestOptions{GuestKind::Unicorn, false, 10'000}, h.log};
    GuestState state;
    Scenario scenario = parse_scenario(R"(name: one
vm: {vcpus: 1}
devices:
  - {name: nic, vectors: 1, passthrough: true}
routes:
  - {source: nic.0, vcpu: 0}
steps:
  - run: all
)",
                                       builtin_backends().catalogue());
    GuestLog out;
};

// Issue 7: the program opens its CPU interface with MSR through the hooks and idles with PSTATE.I
// from the mailbox (0: clear).
TEST_F(UnicornArmGlue, BootOpensTheCpuInterfaceAndIdlesUnmasked) {
    EXPECT_EQ(cpu().read_pmr(), 0u);
    guest.boot(0, cpu());
    EXPECT_EQ(cpu().read_pmr(), 0xFF);
    EXPECT_TRUE(cpu().read_igrpen1());
    EXPECT_EQ(vcpu().pc(), symbol("idle"));
    EXPECT_FALSE(guest.masked(0));
    EXPECT_EQ(vcpu().sysreg(3, 0, 12, 0, 0), symbol("vectors"));  // VBAR_EL1, executed by QEMU
}

// Issue 7: an entry acknowledges through the model (path: a list register is software injection),
// logs, EOIs, and returns to idle; IAR1 then reads 1023 and nothing is left active.
TEST_F(UnicornArmGlue, TakeAcknowledgesLogsAndEndsEachInterrupt) {
    guest.boot(0, cpu());
    cpu().write_lr(0, pending_lr(kMapped));
    cpu().write_lr(1, pending_lr(kUnmapped, 0x90));
    EXPECT_EQ(take(), 2u);
    ASSERT_EQ(out.records().size(), 2u);
    EXPECT_EQ(out.records()[0].id, kMapped);  // higher priority first
    EXPECT_EQ(out.records()[1].id, kUnmapped);
    ASSERT_EQ(out.deliveries().size(), 1u);  // the unmapped INTID is a guest error, as in the abstract guest
    EXPECT_EQ(out.deliveries()[0].source, 0u);
    EXPECT_EQ(out.deliveries()[0].path, DeliveryPath::Software);
    EXPECT_EQ(h.count(EventKind::GuestError), 1u);
    EXPECT_EQ(cpu().read_hppir1(), 1023u);
    EXPECT_EQ(cpu().read_rpr(), 0xFF);  // both EOI'd
    EXPECT_EQ(cpu().lr(0).status, ListRegister::Status::Invalid);
    EXPECT_EQ(vcpu().pc(), symbol("idle"));
    EXPECT_FALSE(guest.masked(0));  // ERET restored PSTATE
    EXPECT_EQ(guest.machine().log_head(0), 2u);
    EXPECT_EQ(take(), 0u);  // nothing signalled: no entry
}

// Issue 7: mask/unmask write the mailbox and the guest's own code sets PSTATE.I; a masked vCPU
// is not entered.
TEST_F(UnicornArmGlue, MaskHonouredThroughPstateI) {
    guest.boot(0, cpu());
    guest.set_mask(0, true, cpu());
    EXPECT_TRUE(guest.masked(0));
    EXPECT_EQ(vcpu().pc(), symbol("idle"));
    cpu().write_lr(0, pending_lr(kMapped));
    EXPECT_EQ(take(), 0u);
    EXPECT_TRUE(cpu().lr(0).pending());
    guest.set_mask(0, false, cpu());
    EXPECT_FALSE(guest.masked(0));
    EXPECT_EQ(take(), 1u);
    EXPECT_EQ(out.deliveries().size(), 1u);
}

struct BadAccess {
    const char* name;
    uint32_t insn;       // replaces `msr icc_igrpen1_el1, x1` in the boot code
    const char* disasm;  // Capstone's text for it
    const char* reason;  // in the GuestFault's reason
};

class UnicornArmBadIcc : public UnicornArmGlue, public ::testing::WithParamInterface<BadAccess> {};

// Issue 7: an ICC register the model does not implement is a GuestFault naming it, the vCPU, the
// PC and the instruction (never silently ignored); so is an access the register does not allow.
TEST_P(UnicornArmBadIcc, IsAGuestFaultNamingVcpuPcInstructionAndRegister) {
    const BadAccess& b = GetParam();
    const uint64_t at = patch(0xd518cce1, b.insn);
    try {
        guest.boot(0, cpu());
        FAIL() << "no GuestFault";
    } catch (const GuestFault& f) {
        const std::string what = f.what();
        EXPECT_EQ(f.pc(), at);
        EXPECT_EQ(f.instruction(), b.disasm);
        EXPECT_NE(what.find("arm vCPU 0"), std::string::npos) << what;
        EXPECT_NE(what.find(fmt::format("{:#x}", at)), std::string::npos) << what;
        EXPECT_NE(what.find(b.disasm), std::string::npos) << what;
        EXPECT_NE(f.reason().find(b.reason), std::string::npos) << f.reason();
    }
    EXPECT_FALSE(cpu().read_igrpen1());
}

INSTANTIATE_TEST_SUITE_P(
    UnmodelledOrUndefined, UnicornArmBadIcc,
    ::testing::Values(BadAccess{"CtlrRead", 0xd538cc81, "mrs x1, icc_ctlr_el1", "ICC_CTLR_EL1 (S3_0_C12_C12_4), which"},
                      BadAccess{"Sgi1rWrite", 0xd518cba1, "msr icc_sgi1r_el1, x1", "ICC_SGI1R_EL1"},
                      BadAccess{"UnknownIcc", 0xd538cfe1, "mrs x1, s3_0_c12_c15_7", "ICC register S3_0_C12_C15_7"},
                      BadAccess{"Iar1Write", 0xd518cc01, "msr s3_0_c12_c12_0, x1", "a read-only register"},
                      BadAccess{"Eoir1Read", 0xd538cc21, "mrs x1, s3_0_c12_c12_1", "a write-only register"}),
    [](const ::testing::TestParamInfo<BadAccess>& info) { return std::string(info.param.name); });

// Issue 7 / reference/unicorn_2_0_1.md AArch64 item 5: the glue enters the vector table at
// VBAR_EL1 + 0x280 only when it is 2-KiB aligned inside guest RAM and the vCPU is at EL1h.
TEST_F(UnicornArmGlue, BadVbarIsAGuestFaultAtTheInterruptedPc) {
    guest.boot(0, cpu());
    cpu().write_lr(0, pending_lr(kMapped));
    for (uint64_t vbar : {symbol("vectors") + 0x80, uint64_t{0x1000'0000}}) {
        SCOPED_TRACE(vbar);
        vcpu().set_sysreg(3, 0, 12, 0, 0, vbar);
        try {
            take();
            FAIL() << "no GuestFault";
        } catch (const GuestFault& f) {
            EXPECT_EQ(f.pc(), symbol("idle"));
            EXPECT_EQ(f.instruction(), fmt::format("b #{:#x}", symbol("mailbox_poll")));
            EXPECT_NE(f.reason().find(fmt::format("VBAR_EL1 = {:#x}", vbar)), std::string::npos) << f.reason();
            EXPECT_NE(std::string(f.what()).find("arm vCPU 0"), std::string::npos);
        }
    }
    EXPECT_TRUE(cpu().lr(0).pending());  // nothing was acknowledged
    EXPECT_TRUE(out.records().empty());
}

// reference/unicorn_2_0_1.md AArch64 item 5: writing PSTATE swaps no banked SP, so the glue takes
// an IRQ only from EL1h; from another mode it is a GuestFault.
TEST_F(UnicornArmGlue, IrqFromAnotherModeIsAGuestFault) {
    guest.boot(0, cpu());
    cpu().write_lr(0, pending_lr(kMapped));
    vcpu().set_reg(UC_ARM64_REG_PSTATE, 0x3c4 & ~uint64_t{0x80});  // EL1t, I clear
    try {
        take();
        FAIL() << "no GuestFault";
    } catch (const GuestFault& f) {
        EXPECT_NE(f.reason().find("EL1h"), std::string::npos) << f.reason();
    }
}

// Issue 7: the guest's log must hold what its handler acknowledged, in order; an entry it did not
// acknowledge (here one the log head was advanced over) is a GuestFault.
TEST_F(UnicornArmGlue, LogEntryWithoutAcknowledgementIsAGuestFault) {
    guest.boot(0, cpu());
    GuestRam& ram = guest.machine().ram();
    const uint64_t area = GuestAbi::area(0);
    ram.store<uint32_t>(area + GuestAbi::kLog, 77);  // slot 0: an INTID nobody acknowledged
    ram.store<uint32_t>(area + GuestAbi::kLogHead, 1);
    cpu().write_lr(0, pending_lr(kMapped));
    try {
        take();
        FAIL() << "no GuestFault";
    } catch (const GuestFault& f) {
        EXPECT_NE(f.reason().find("logged INTID 77"), std::string::npos) << f.reason();
        EXPECT_NE(f.reason().find(fmt::format("acknowledged INTID {}", kMapped)), std::string::npos) << f.reason();
    }
    EXPECT_TRUE(out.deliveries().empty());
}

// Issue 7: a guest that overruns its budget (a runaway) is a GuestFault, not a hang.
TEST_F(UnicornArmGlue, RunawayHandlerIsAGuestFault) {
    guest.boot(0, cpu());
    // The IRQ vector branches to itself instead of to the handler.
    guest.machine().ram().store<uint32_t>(symbol("vectors") + 0x280, 0x14000000);  // b .
    cpu().write_lr(0, pending_lr(kMapped));
    EXPECT_THROW(take(), GuestFault);
}

// Issue 7: the glue's snapshot is the machine's: RAM, registers and the log cursor come back.
TEST_F(UnicornArmGlue, SnapshotRestoresRamRegistersAndLogCursor) {
    guest.boot(0, cpu());
    GuestMachine::Snapshot s = guest.snapshot();
    cpu().write_lr(0, pending_lr(kMapped));
    EXPECT_EQ(take(), 1u);
    EXPECT_EQ(guest.machine().log_head(0), 1u);
    guest.set_mask(0, true, cpu());
    guest.restore(s);
    EXPECT_EQ(guest.machine().log_head(0), 0u);
    EXPECT_FALSE(guest.masked(0));
    EXPECT_EQ(vcpu().pc(), symbol("idle"));
    cpu().write_lr(0, pending_lr(kMapped));
    EXPECT_EQ(take(), 1u);  // the cursor came back too: no "head went backwards"
    EXPECT_EQ(out.records().size(), 2u);
    EXPECT_EQ(out.records()[1].id, kMapped);
}

}  // namespace
}  // namespace irqdiff::arm::testing
