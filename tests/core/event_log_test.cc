// The event log is deterministic: the same scenario and options give byte-identical logs and
// JSON (DESIGN.md "Event log").
#include "core/event_log.h"

#include <gtest/gtest.h>

#include "core/results.h"
#include "core/runner.h"
#include "registry/builtin_backends.h"

namespace irqdiff {
namespace {

const std::string kSeed = std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/seed/pending_across_migration.yaml";

// Declarations for these tests only: one of each argument type.
constexpr Op<Int, Bool, Hex, Str> kMap{"TEST.map", Layer::Hardware, {"vpe", "valid", "vpt", "why"}, "a test op"};
constexpr Violation<Int> kTwoStreams{"TEST.two_streams", Layer::Hypervisor, {"intid"}, "a test violation"};
constexpr Ignored<> kNoOp{"TEST.no_op", Layer::Hardware, {}, "a test ignored op"};
constexpr GuestError<> kRefused{"TEST.refused", Layer::Hardware, {}, "a test guest error"};
constexpr Op<> kTake{"TEST.take", Layer::Guest, {}, "a test op without arguments"};

TEST(EventLog, LinesShowLayerOperationArgumentsAndSources) {
    EventLog log;
    log.set_action(3);
    log.emit(kMap.touching("nic.0"), 0, true, Hex{0x9'0000}, "first");
    log.emit(kTwoStreams, "one interrupt in a list register and the VPT", 8192);
    log.emit(kNoOp, "no-op on the emulated ITS");
    ASSERT_EQ(log.events().size(), 3u);
    EXPECT_EQ(to_string(log.events()[0]), "#0 a3 hw TEST.map vpe=0 valid=true vpt=0x90000 why=first [nic.0]");
    EXPECT_EQ(to_string(log.events()[1]),
              "#1 a3 kvm [violation] TEST.two_streams intid=8192 {one interrupt in a list register and the VPT}");
    EXPECT_EQ(to_string(log.events()[2]), "#2 a3 hw [ignored] TEST.no_op {no-op on the emulated ITS}");
    EXPECT_EQ(log.count(Layer::Hardware), 2u);
    EXPECT_EQ(log.count(EventKind::Violation), 1u);
    EXPECT_EQ(log.total(), 3u);
}

// core/trace_point.h: an emitted event carries its declaration's op, layer, kind and keys (in the
// declared order), the values given, and the declaration itself.
TEST(EventLog, AnEmittedEventHasItsDeclarationsOpLayerKindAndKeys) {
    EventLog log;
    const std::vector<std::string> names = {"nic.0", "nic.1"};
    log.emit(kMap.touching(names), 7, false, Hex{0x40}, std::string("second"));
    const Event& e = log.events().at(0);
    EXPECT_EQ(e.point, &kMap);
    EXPECT_EQ(e.op, kMap.op);
    EXPECT_EQ(e.layer, kMap.layer);
    EXPECT_EQ(e.kind, EventKind::Op);
    ASSERT_EQ(e.args.size(), kMap.args.size());
    for (size_t i = 0; i < e.args.size(); ++i) EXPECT_EQ(e.args[i].key, kMap.args[i].key);
    EXPECT_EQ(e.args[0].value, ArgValue(int64_t{7}));
    EXPECT_EQ(e.args[1].value, ArgValue(false));
    EXPECT_EQ(e.args[2].value, ArgValue(Hex{0x40}));
    EXPECT_EQ(e.args[3].value, ArgValue(std::string("second")));
    EXPECT_EQ(e.sources, names);
    EXPECT_TRUE(e.rule.empty());
    EXPECT_EQ(kTwoStreams.kind, EventKind::Violation);
    EXPECT_EQ(kNoOp.kind, EventKind::Ignored);
    log.emit(kRefused, "the rule");
    EXPECT_EQ(log.events().back().kind, EventKind::GuestError);
    EXPECT_EQ(log.events().back().rule, "the rule");
    EXPECT_EQ(log.events().back().point, &kRefused);
}

// A declaration's argument types are its template arguments, in order.
TEST(TracePoint, DeclaresItsKeysWithTheirTypes) {
    ASSERT_EQ(kMap.args.size(), 4u);
    EXPECT_EQ(kMap.args[0].key, "vpe");
    EXPECT_EQ(kMap.args[0].type, ArgType::Int);
    EXPECT_EQ(kMap.args[1].type, ArgType::Bool);
    EXPECT_EQ(kMap.args[2].type, ArgType::Hex);
    EXPECT_EQ(kMap.args[3].type, ArgType::String);
    EXPECT_TRUE(kTake.args.empty());
    EXPECT_STREQ(to_string(ArgType::Hex), "hex");
}

// The explorer runs most schedules without recording; violations and guest errors are kept.
TEST(EventLog, NonRecordingLogKeepsOnlyCountersAndProblems) {
    EventLog log(false);
    log.emit(kTake);
    log.emit(kRefused, "DeviceID out of range");
    log.emit(kTake);
    EXPECT_EQ(log.total(), 3u);
    EXPECT_EQ(log.count(Layer::Guest), 2u);
    ASSERT_EQ(log.events().size(), 1u);
    EXPECT_EQ(log.events()[0].seq, 1u);
    EXPECT_EQ(log.events()[0].kind, EventKind::GuestError);
}

TEST(EventLog, SameScenarioAndOptionsGiveByteIdenticalResults) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    const BackendInfo& ideal = *builtin_backends().find("ideal");
    RunResult a = run_scenario(s, ideal, {});
    RunResult b = run_scenario(load_scenario(kSeed, builtin_backends().catalogue()), ideal, {});
    ASSERT_FALSE(a.events.empty());
    EXPECT_EQ(a.events, b.events);
    EXPECT_EQ(to_json(a).dump(), to_json(b).dump());
    std::string text_a, text_b;
    for (const Event& e : a.events) text_a += to_string(e) + "\n";
    for (const Event& e : b.events) text_b += to_string(e) + "\n";
    EXPECT_EQ(text_a, text_b);
    for (size_t i = 0; i < a.events.size(); ++i) EXPECT_EQ(a.events[i].seq, i);
}

}  // namespace
}  // namespace irqdiff
