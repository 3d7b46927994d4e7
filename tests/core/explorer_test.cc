// The explorer: the schedule space's numbering, prefix sharing through snapshots (it must give
// exactly what running every schedule from scratch gives), slices, summaries, JSON and errors; and
// the seed study's figures that the README and the notebooks quote.
#include "core/explorer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <tuple>

#include "registry/builtin_backends.h"
#include "x86_pi/places.h"

namespace irqdiff {
namespace {

const std::string kSeed = std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/seed/pending_across_migration.yaml";

ExploreOptions options(std::vector<std::string> arches, std::vector<std::string> policies = {},
                       std::optional<std::string> order = std::nullopt, bool any = false) {
    ExploreOptions o;
    o.arches = std::move(arches);
    for (const std::string& p : policies)
        o.policy.push_back(parse_policy_assignment(builtin_backends().policies(), p, "--policy"));
    o.order = std::move(order);
    o.any_arrival = any;
    return o;
}

/// A row computed the slow way: the schedule run from the start by the plain runner.
ScheduleRow from_scratch(const ExploreSpace& space, uint64_t index) {
    RunResult r = space.run(index);
    ScheduleRow row;
    row.index = index;
    for (const SourceOutcome& o : r.outcomes) {
        const SourceMetrics& m = r.metrics.sources[o.source];
        row.sources.push_back(ScheduleSource{o.source, o.outcome, o.forwarded, o.late, m.window(), m.hops()});
    }
    std::set<std::string> broken;
    for (const Event& e : r.violations) broken.insert(e.op);
    row.violations.assign(broken.begin(), broken.end());
    row.expectations_met = r.expectations_met;
    row.events = r.metrics.events;
    row.save_events = r.metrics.save.events;
    row.restore_events = r.metrics.restore.events;
    return row;
}

TEST(ExploreSpace, SeedWithEveryOrderAndTransferPointHas810Schedules) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    ExploreSpace space(s, builtin_backends(), options({"arm", "x86"}, {"arm.transfer=all"}, "all"));
    // arm: 5 transfer points x 120 restore orders; x86: 210 orders (`irqdiff list steps`: the
    // `data` set with set_msrs, Kata #13798).
    ASSERT_EQ(space.blocks().size(), 2u);
    EXPECT_EQ(space.blocks()[0].count, 5u * 120u);
    EXPECT_EQ(space.blocks()[1].count, 210u);
    EXPECT_EQ(space.size(), 810u);
    ScheduleCoord c = space.decode(121);  // the second transfer point, order 1
    EXPECT_EQ(c.block, 0u);
    EXPECT_EQ(c.policy, 1u);
    EXPECT_EQ(c.choice.order.at(0), 1u);
    EXPECT_EQ(swept_policy(space.blocks()[0], c.policy), "arm.transfer=its_restore");
    EXPECT_EQ(space.decode(600).block, 1u);
    EXPECT_THROW(space.decode(810), std::out_of_range);
}

TEST(ExploreSpace, PrefixSharingGivesWhatRunningEveryScheduleFromScratchGives) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    ExploreSpace space(s, builtin_backends(), options({"arm", "x86"}, {"arm.transfer=all"}, "all", true));
    // Every x86 schedule and a stride of ARM ones, through order and arrival changes.
    std::vector<ScheduleRow> rows = space.explore(0, space.size());
    ASSERT_EQ(rows.size(), space.size());
    for (uint64_t i = 0; i < space.size(); i += (i >= space.blocks()[1].first ? 1 : 37))
        ASSERT_EQ(rows[i], from_scratch(space, i)) << "schedule " << i;
}

TEST(ExploreSpace, ASliceIsTheSameAsTheWholeExplorationsRows) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    ExploreSpace space(s, builtin_backends(), options({"x86"}, {}, "all", true));
    std::vector<ScheduleRow> all = space.explore(0, space.size());
    std::vector<ScheduleRow> slice = space.explore(97, 211);
    ASSERT_EQ(slice.size(), 114u);
    for (size_t k = 0; k < slice.size(); ++k) EXPECT_EQ(slice[k], all[97 + k]);
    EXPECT_EQ(space.explore(5, 5).size(), 0u);
}

TEST(ExploreSpace, IsDeterministic) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    ExploreSpace space(s, builtin_backends(), options({"arm", "x86"}, {"arm.transfer=all"}, "all"));
    Exploration a = summarize(space, space.explore(0, space.size()), 0, space.size(), true);
    Exploration b = summarize(space, space.explore(0, space.size()), 0, space.size(), true);
    EXPECT_EQ(to_json(space, a).dump(), to_json(space, b).dump());
}

TEST(Explore, TheSeedStudyUnderEveryOrder) {
    // The study's answer (DESIGN.md "Transfer-point policies"; reference/arm §5): only the merged
    // transfer point, kvm_vgic_v4_set_forwarding (12df7429213a), survives every admissible restore
    // order; without a push into the VPT the restored pending state leaves through a list register
    // with HW=1 (a violation); at VM start it is too late once a vCPU ran. x86 needs no transfer
    // point: KVM_GET_LAPIC folds PIR into the vIRR.
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    ExploreSpace space(s, builtin_backends(), options({"arm", "x86"}, {"arm.transfer=all"}, "all"));
    Exploration x = summarize(space, space.explore(0, space.size()), 0, space.size(), true);
    std::map<std::string, double> fragility;
    for (const PolicySummary& p : x.policies)
        fragility[space.blocks()[p.block].backend->name + " " + swept_policy(space.blocks()[p.block], p.policy)] =
            p.fragility();
    EXPECT_EQ(fragility.at("arm arm.transfer=none"), 1.0);
    EXPECT_EQ(fragility.at("arm arm.transfer=its_restore"), 1.0);
    EXPECT_EQ(fragility.at("arm arm.transfer=enable_lpis"), 1.0);
    EXPECT_EQ(fragility.at("arm arm.transfer=set_forwarding"), 0.0);
    EXPECT_GT(fragility.at("arm arm.transfer=vm_start"), 0.0);
    EXPECT_LT(fragility.at("arm arm.transfer=vm_start"), 1.0);
    EXPECT_EQ(fragility.at("x86 -"), 0.0);
    // Every failing cell has its shortest schedule re-run with the whole event log, which shows
    // the broken rule.
    for (const ExploreCell& c : x.cells) {
        ASSERT_EQ(c.failing, c.trace.has_value());
        if (!c.trace) continue;
        EXPECT_FALSE(c.trace->violations.empty());
        EXPECT_EQ(c.trace->metrics.events, c.example_events);
        EXPECT_GT(c.trace->events.size(), 100u);
    }
    uint64_t counted = 0;
    for (const ExploreCell& c : x.cells) counted += c.schedules;
    EXPECT_EQ(counted, space.size());
}

// Issue 15 §1.2: the study's sentences name the order set they count. On the data set (every order
// the model's dependencies admit) vm_start fails in 108 of 120 ARM orders, all of them orders that
// start the vCPUs before the VFIO state is loaded; on the orders QEMU and Cloud Hypervisor produce
// (vm.rs Vm::restore, #8303/#8528) it fails in none, while none, its_restore and enable_lpis fail
// on every set. The kernel's documented rules (arm-vgic-its.rst, d766d87cf4a0) admit all 120.
TEST(Explore, TheSeedStudyPerOrderSet) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    auto study = [&](const std::string& set) {
        ExploreOptions o = options({"arm", "x86"}, {"arm.transfer=all"}, "all");
        o.order_set = set;
        ExploreSpace space(s, builtin_backends(), o);
        Exploration x = summarize(space, space.explore(0, space.size()), 0, space.size(), false);
        std::map<std::string, std::pair<uint64_t, uint64_t>> out;  // failing orders, orders
        for (const PolicySummary& p : x.policies)
            out[space.blocks()[p.block].backend->name + " " + swept_policy(space.blocks()[p.block], p.policy)] = {
                p.failing_orders, p.orders};
        return out;
    };
    using P = std::pair<uint64_t, uint64_t>;
    auto data = study("data"), abi = study("abi");
    EXPECT_EQ(data.at("arm arm.transfer=vm_start"), (P{108, 120}));
    // ARM's documented rules are implied by its data rules; on x86 set_lapic -> set_msrs (Rule::Abi)
    // keeps half the orders. The seed has no TSC-deadline timer, so no x86 order fails either way.
    for (const auto& [cell, counts] : data) {
        if (cell.rfind("arm", 0) == 0) {
            EXPECT_EQ(abi.at(cell), counts) << cell;
        }
    }
    EXPECT_EQ(data.at("x86 -"), (P{0, 210}));
    EXPECT_EQ(abi.at("x86 -"), (P{0, 105}));
    for (const std::string vmm : {"qemu", "qemu-7.2", "cloud-hypervisor"}) {
        SCOPED_TRACE(vmm);
        auto v = study(vmm);
        EXPECT_EQ(v.at("arm arm.transfer=vm_start"), (P{0, 1}));
        EXPECT_EQ(v.at("arm arm.transfer=set_forwarding"), (P{0, 1}));
        EXPECT_EQ(v.at("arm arm.transfer=none"), (P{1, 1}));
        EXPECT_EQ(v.at("arm arm.transfer=its_restore"), (P{1, 1}));
        EXPECT_EQ(v.at("arm arm.transfer=enable_lpis"), (P{1, 1}));
        EXPECT_EQ(v.at("x86 -").first, 0u);
    }
    EXPECT_EQ(study("qemu-7.2").at("x86 -"), (P{0, 2}));  // before MIG_PRI_APIC either may load first
}

// A fixed order outside the set asked for is an error naming the rule it breaks or the VMM's orders.
TEST(ExploreSpace, AFixedOrderOutsideTheOrderSetIsAnErrorNamingWhy) {
    Scenario s = load_scenario(std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/x86/lapic_after_vfio.yaml",
                               builtin_backends().catalogue());
    ExploreOptions o = options({"x86"});
    o.order_set = "qemu";
    try {
        ExploreSpace space(s, builtin_backends(), o);
        FAIL() << "no error";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("order lapic_after_vfio of backend x86 is not in the order set asked for "
                                             "(--order-set): order set qemu holds only the order qemu"),
                  std::string::npos)
            << e.what();
    }
    o.order_set = "qemu-7.2";
    EXPECT_NO_THROW(ExploreSpace(s, builtin_backends(), o));
}

TEST(Explore, SummariesMergeChunksInAnyOrderWithRepeats) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    ExploreSpace space(s, builtin_backends(), options({"arm"}, {"arm.transfer=all"}, "all"));
    std::vector<ScheduleRow> whole = space.explore(0, space.size());
    std::vector<ScheduleRow> chunks = space.explore(300, 600);
    std::vector<ScheduleRow> first = space.explore(0, 310);  // overlaps: a resumed chunk
    chunks.insert(chunks.end(), first.begin(), first.end());
    Exploration a = summarize(space, whole, 0, space.size(), false);
    Exploration b = summarize(space, chunks, 0, space.size(), false);
    EXPECT_EQ(to_json(space, a).dump(), to_json(space, b).dump());
}

TEST(Explore, RowsSurviveJson) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    ExploreSpace space(s, builtin_backends(), options({"arm", "x86"}, {"arm.transfer=all"}, "all"));
    for (const ScheduleRow& r : space.explore(0, space.size()))
        ASSERT_EQ(row_from_json(space, Json::parse(row_to_json(space, r).dump()), "test"), r);
    Json bad = row_to_json(space, space.explore(0, 1).at(0));
    bad["index"] = 810;
    EXPECT_THROW(row_from_json(space, bad, "chunk 3"), InputError);
    bad = Json::object();
    try {
        row_from_json(space, bad, "chunk 3");
        FAIL();
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("chunk 3: not a schedule row"), std::string::npos) << e.what();
    }
}

// row_from_json reads back only what row_to_json writes: every count is an integer from 0 (window
// and hops fit 32 bits). nlohmann's get<uint64_t>() would cast a bool to 1, -1 to 2^64-1, a float
// by truncation and NaN by undefined behaviour; the CLI reads its workers' rows through it too.
TEST(Explore, RowCountsMustBeNonNegativeIntegers) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    ExploreSpace space(s, builtin_backends(), options({"x86"}, {}, "all"));
    const Json good = row_to_json(space, space.explore(3, 4).at(0));
    ASSERT_EQ(row_from_json(space, good, "row"), space.explore(3, 4).at(0));
    struct Case {
        std::string key, source;  // source: "" for a field of the row itself
        Json value;
        std::string expected;
    };
    const std::string any = "expected an integer from 0 to 18446744073709551615";
    const std::string u32 = "expected an integer from 0 to 4294967295";
    for (const Case& c : std::vector<Case>{
             {"index", "", Json::parse("1.5"), "row: index: 1.5: " + any},
             {"index", "", Json::parse("3.0"), "row: index: 3.0: " + any},
             {"index", "", Json::parse("-1"), "row: index: -1: " + any},
             {"index", "", Json(true), "row: index: true: " + any},
             {"index", "", Json(std::nan("")), "row: index: nan: " + any},
             {"events", "", Json::parse("1e300"), "row: events: 1e+300: " + any},
             {"save_events", "", Json("7"), "row: save_events: \"7\": " + any},
             {"window", "nic.0", Json::parse("-1"), "row: sources['nic.0'].window: -1: " + u32},
             {"hops", "nic.1", Json::parse("4294967296"), "row: sources['nic.1'].hops: 4294967296: " + u32},
             {"window", "nic.0", Json(std::numeric_limits<double>::infinity()),
              "row: sources['nic.0'].window: inf: " + u32},
         }) {
        Json bad = good;
        (c.source.empty() ? bad : bad["sources"][c.source])[c.key] = c.value;
        try {
            row_from_json(space, bad, "row");
            ADD_FAILURE() << c.expected << ": accepted";
        } catch (const InputError& e) {
            EXPECT_EQ(std::string(e.what()), c.expected);
        }
    }
    // In range, any integer representation is fine (a C++-built Json holds a signed 3).
    Json signed_index = good;
    signed_index["index"] = int64_t{3};
    EXPECT_EQ(row_from_json(space, signed_index, "row").index, 3u);
}

std::string explore_error(const ExploreOptions& o, const std::string& file = kSeed) {
    Scenario s = load_scenario(file, builtin_backends().catalogue());
    try {
        ExploreSpace space(s, builtin_backends(), o);
    } catch (const InputError& e) {
        return e.what();
    }
    return "no error";
}

TEST(ExploreSpace, BadOptionsNameTheOption) {
    EXPECT_NE(explore_error(options({"arm"}, {"arm.nope=all"})).find("--policy"), std::string::npos);
    EXPECT_NE(explore_error(options({"arm"}, {"arm.transfer=all", "arm.transfer=none"}))
                  .find("arm.transfer is both swept (=all) and fixed (=none)"),
              std::string::npos);
    EXPECT_NE(explore_error(options({"arm"}, {}, "nope")).find("--order"), std::string::npos);
}

TEST(ExploreSpace, OrderAllAndBeforeAnyInTheScenarioAreExplored) {
    Scenario s = parse_scenario(
        "name: t\nvm: {vcpus: 1}\ndevices: [{name: nic, vectors: 1, passthrough: true}]\n"
        "routes: [{source: nic.0, vcpu: 0}]\n"
        "steps:\n  - migrate: {order: all, fire: [{source: nic.0, before: any}]}\n  - run: all\n"
        "expect: {nic.0: delivered-once}\n",
        builtin_backends().catalogue(), "t.yaml");
    ExploreSpace space(s, builtin_backends(), options({"x86"}));
    EXPECT_EQ(space.size(), 210u * 11u);  // 210 orders x 11 arrival points (4 save + 7 restore steps)
    std::vector<ScheduleRow> rows = space.explore(0, space.size());
    for (uint64_t i = 0; i < space.size(); i += 7) ASSERT_EQ(rows[i], from_scratch(space, i)) << i;
}

// `order: {set: NAME}` explores that set's orders; --order-set overrides it.
TEST(ExploreSpace, AnOrderSetInTheScenarioIsExplored) {
    Scenario s = parse_scenario(
        "name: t\nvm: {vcpus: 1}\ndevices: [{name: nic, vectors: 1, passthrough: true}]\n"
        "routes: [{source: nic.0, vcpu: 0}]\n"
        "steps:\n  - migrate: {order: {set: qemu-7.2}}\n  - fire: nic.0\n  - run: all\n"
        "expect: {nic.0: delivered-once}\n",
        builtin_backends().catalogue(), "t.yaml");
    ExploreSpace x86(s, builtin_backends(), options({"x86"}));
    ASSERT_EQ(x86.size(), 2u);  // QEMU 7.2 on x86: qemu and lapic_after_vfio
    EXPECT_EQ(x86.lower(x86.decode(0)).order_names, (std::vector<std::string>{"qemu"}));
    EXPECT_EQ(x86.lower(x86.decode(1)).order_names, (std::vector<std::string>{"lapic_after_vfio"}));
    ExploreSpace arm(s, builtin_backends(), options({"arm"}));
    EXPECT_EQ(arm.size(), 1u);
    ExploreOptions o = options({"x86"});
    o.order_set = "abi";
    EXPECT_EQ(ExploreSpace(s, builtin_backends(), o).size(), 105u);
    // A run needs one order.
    EXPECT_THROW(run_scenario(s, *builtin_backends().find("x86"), RunOptions{}), InputError);
}

TEST(Metrics, SaveAndRestoreAreAsymmetricOnArmAndNotOnX86) {
    // The seed's nic.0 on ARM passes VPT -> guest RAM -> pending_latch -> VPT; on x86 vIRR ->
    // saved LAPIC -> vIRR (reference/x86 §6: KVM_GET_LAPIC syncs PIR first).
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    ExploreSpace space(s, builtin_backends(), options({"arm", "x86"}));
    RunResult arm = space.run(0), x86 = space.run(1);
    EXPECT_EQ(arm.metrics.sources[0].hops(), 4u);
    EXPECT_EQ(x86.metrics.sources[0].hops(), 3u);
    EXPECT_GT(arm.metrics.sources[0].window(), x86.metrics.sources[0].window());
    EXPECT_GT(arm.metrics.save.hw_commands, 0u);                      // VMAPP V=0 / V=1 around the VPT read
    EXPECT_GT(arm.metrics.restore.hw_commands, 0u);                   // MAPD/MAPTI/VMAPP and the INT + VSYNC push
    EXPECT_GT(arm.metrics.save.guest.bytes_written, 0u);              // the guest pending and ITS tables
    EXPECT_EQ(x86.metrics.save.guest.bytes_written, 0u);              // the LAPIC travels in the stream
    EXPECT_EQ(arm.metrics.sources[0].path.back().places.size(), 0u);  // ends delivered
    EXPECT_TRUE(arm.metrics.sources[0].path.back().delivered);
}

TEST(Metrics, ALostSourcesPathEndsWhereItVanished) {
    // unset_forwarding after the transfer point: DISCARD takes the pending state and nothing
    // carries it back to software (reference/arm §3.6, kvm_vgic_v4_unset_forwarding), so nic.0 is held nowhere any
    // more.
    Scenario s = load_scenario(std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/arm/unset_forwarding_after_transfer.yaml",
                               builtin_backends().catalogue());
    ExploreSpace space(s, builtin_backends(), options({"arm"}));
    RunResult r = space.run(0);
    ASSERT_EQ(r.outcome("nic.0")->outcome, Outcome::Lost);
    const SourceMetrics& m = r.metrics.sources[0];
    ASSERT_FALSE(m.path.empty());
    EXPECT_TRUE(m.path.back().places.empty());
    EXPECT_FALSE(m.path.back().delivered);
    EXPECT_FALSE(m.tracking());
}

}  // namespace
}  // namespace irqdiff

namespace irqdiff {
namespace {

TEST(Differential, NamesTheFirstPointWhereOneSideHoldsTheInterruptNowhereLive) {
    // Without a transfer point the restored pending_latch of a forwarded vLPI has no legal way out
    // (reference/arm §5), while x86 has it back in the vIRR at KVM_SET_LAPIC.
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    RunOptions o;
    o.policy = {parse_policy_assignment(builtin_backends().policies(), "arm.transfer=none", "--policy")};
    std::vector<std::string> arches{"arm", "x86"};
    ScenarioResult r = run_scenario(s, builtin_backends(), arches, o);
    ASSERT_EQ(r.differences.size(), 1u);
    const Difference& d = r.differences[0];
    EXPECT_EQ(d.source, "nic.0");
    EXPECT_EQ(d.outcome_a, "delivered-once,forwarded=false");
    EXPECT_EQ(d.outcome_b, "delivered-once");
    EXPECT_EQ(d.phase, "steps[3].restore_irqchip");
    ASSERT_EQ(d.places_b.size(), 1u);
    EXPECT_EQ(d.places_b[0].place, &x86::places::kVirr);
    EXPECT_EQ(d.places_b[0].index, 0u);
    // Same outcomes: nothing to report.
    EXPECT_TRUE(run_scenario(s, builtin_backends(), arches, {}).differences.empty());
}

// Issue 15 §2.6: an at-least-once source's extra interrupt is `spurious`, which failing() does not
// count (Firecracker #5568; Oliver Upton 2025-07-02); the same schedules under exactly-once are
// duplicated and fail. KVM_SET_LAPIC's early one-shot tick (8e6ed96cdd50), every x86 order.
TEST(ExploreSpace, AtLeastOnceSpuriousRowsDoNotFailAndExactlyOnceDuplicatesDo_Firecracker5568) {
    for (const auto& [file, outcome, fails] :
         {std::tuple{"timer_early_tick_at_least_once.yaml", Outcome::Spurious, false},
          std::tuple{"timer_early_tick_exactly_once.yaml", Outcome::Duplicated, true}}) {
        SCOPED_TRACE(file);
        Scenario s = load_scenario(std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/x86_2025/" + file,
                                   builtin_backends().catalogue());
        ExploreSpace space(s, builtin_backends(), options({"x86"}, {}, "all"));
        std::vector<ScheduleRow> rows = space.explore(0, space.size());
        ASSERT_FALSE(rows.empty());
        for (const ScheduleRow& row : rows) {
            ASSERT_EQ(row.sources.size(), 1u);
            EXPECT_EQ(row.sources[0].outcome, outcome) << row.index;
            EXPECT_EQ(row.failing(), fails) << row.index;
        }
    }
}

}  // namespace
}  // namespace irqdiff
