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

TEST(EventLog, LinesShowLayerOperationArgumentsAndSources) {
    EventLog log;
    log.set_action(3);
    log.op(Layer::Hardware, "ITS.VMAPP", {{"vpe", 0}, {"valid", true}, {"vpt", Hex{0x9'0000}}}, {"nic.0"});
    log.violation(Layer::Hypervisor, "VGIC.lr_and_vpt", "one interrupt in a list register and the VPT",
                  {{"intid", 8192}});
    log.ignored(Layer::Hardware, "ITS.SYNC", "no-op on the emulated ITS");
    ASSERT_EQ(log.events().size(), 3u);
    EXPECT_EQ(to_string(log.events()[0]), "#0 a3 hw ITS.VMAPP vpe=0 valid=true vpt=0x90000 [nic.0]");
    EXPECT_EQ(to_string(log.events()[1]),
              "#1 a3 kvm [violation] VGIC.lr_and_vpt intid=8192 {one interrupt in a list register and the VPT}");
    EXPECT_EQ(to_string(log.events()[2]), "#2 a3 hw [ignored] ITS.SYNC {no-op on the emulated ITS}");
    EXPECT_EQ(log.count(Layer::Hardware), 2u);
    EXPECT_EQ(log.count(EventKind::Violation), 1u);
    EXPECT_EQ(log.total(), 3u);
}

// The explorer runs most schedules without recording; violations and guest errors are kept.
TEST(EventLog, NonRecordingLogKeepsOnlyCountersAndProblems) {
    EventLog log(false);
    log.op(Layer::Guest, "GUEST.take");
    log.guest_error(Layer::Hardware, "ITS.MAPD", "DeviceID out of range");
    log.op(Layer::Guest, "GUEST.take");
    EXPECT_EQ(log.total(), 3u);
    EXPECT_EQ(log.count(Layer::Guest), 2u);
    ASSERT_EQ(log.events().size(), 1u);
    EXPECT_EQ(log.events()[0].seq, 1u);
    EXPECT_EQ(log.events()[0].kind, EventKind::GuestError);
}

TEST(EventLog, SameScenarioAndOptionsGiveByteIdenticalResults) {
    Scenario s = load_scenario(kSeed, builtin_backends().policies());
    const BackendInfo& ideal = *builtin_backends().find("ideal");
    RunResult a = run_scenario(s, ideal, {});
    RunResult b = run_scenario(load_scenario(kSeed, builtin_backends().policies()), ideal, {});
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
