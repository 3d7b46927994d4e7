// Chrome trace-event JSON of runs (core/trace.h, docs/traces.md): processes, tracks, the synthetic
// time line, interrupt lifetimes, counters, determinism and write errors.
#include "core/trace.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "arm_gic/trace_points.h"
#include "core/errors.h"
#include "core/versions.h"
#include "registry/builtin_backends.h"
#include "x86_pi/trace_points.h"

namespace irqdiff {
namespace {

using nlohmann::json;

const std::string kSeed = std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/seed/pending_across_migration.yaml";
const std::string kTransferNone = std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/arm/seed_transfer_none.yaml";
const std::string kGicV40 = std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/arm/gicv4_0.yaml";

ScenarioResult run(const std::string& file, std::vector<std::string> arches, bool record_events = true) {
    RunOptions options;
    options.record_events = record_events;
    return run_scenario(load_scenario(file, builtin_backends().catalogue()), builtin_backends(), arches, options);
}

/// Time never goes back on a track, and a slice that starts inside another ends inside it.
void expect_nested_slices(const json& trace) {
    std::map<std::pair<int64_t, int64_t>, std::vector<const json*>> per_track;
    for (const json& e : trace["traceEvents"])
        if (e["ph"] == "X" || (e["ph"] == "i" && e.value("s", "t") == "t"))
            per_track[{e["pid"], e["tid"]}].push_back(&e);
    ASSERT_FALSE(per_track.empty());
    for (const auto& [track, slices] : per_track) {
        int64_t last = -1;
        std::vector<int64_t> open_ends;
        for (const json* e : slices) {
            int64_t ts = (*e)["ts"], end = ts + e->value("dur", int64_t{0});
            EXPECT_GE(ts, last) << *e;
            last = ts;
            while (!open_ends.empty() && open_ends.back() <= ts) open_ends.pop_back();
            if (!open_ends.empty()) {
                EXPECT_LE(end, open_ends.back()) << "overlaps its parent: " << *e;
            }
            open_ends.push_back(end);
        }
    }
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The seed scenario on arm and x86, written to a file and parsed back as a user's tool would.
class SeedTrace : public ::testing::Test {
   protected:
    static void SetUpTestSuite() {
        std::filesystem::path path = std::filesystem::path(::testing::TempDir()) / "irqdiff_seed_trace.json";
        write_chrome_trace(run(kSeed, {"arm", "x86"}), path.string());
        trace_ = new json(json::parse(read_file(path)));
        std::filesystem::remove(path);
    }
    static void TearDownTestSuite() {
        delete trace_;
        trace_ = nullptr;
    }

    static const json& events() { return (*trace_)["traceEvents"]; }
    /// pid -> process name.
    static std::map<int64_t, std::string> processes() {
        std::map<int64_t, std::string> out;
        for (const json& e : events())
            if (e["ph"] == "M" && e["name"] == "process_name") out[e["pid"]] = e["args"]["name"];
        return out;
    }
    static int64_t pid_of(const std::string& arch) {
        for (const auto& [pid, name] : processes())
            if (name.starts_with(arch)) return pid;
        return -1;
    }
    /// (pid, tid) -> track name.
    static std::map<std::pair<int64_t, int64_t>, std::string> tracks() {
        std::map<std::pair<int64_t, int64_t>, std::string> out;
        for (const json& e : events())
            if (e["ph"] == "M" && e["name"] == "thread_name") out[{e["pid"], e["tid"]}] = e["args"]["name"];
        return out;
    }
    static std::set<std::string> track_names(int64_t pid) {
        std::set<std::string> out;
        for (const auto& [key, name] : tracks())
            if (key.first == pid) out.insert(name);
        return out;
    }
    /// The track an event of this declaration's op landed on.
    static std::string track_of(const std::string& arch, const TracePointInfo& point) {
        const std::string op(point.op);
        int64_t pid = pid_of(arch);
        auto names = tracks();
        for (const json& e : events())
            if (e["pid"] == pid && e["ph"] == "X" && e["name"] == op) return names[{pid, e["tid"]}];
        return "(no such event)";
    }

    static json* trace_;
};
json* SeedTrace::trace_ = nullptr;

// Trace Event Format, "JSON Object Format": an object with traceEvents, displayTimeUnit, otherData.
TEST_F(SeedTrace, IsAJsonObjectWithTraceEventsAndOtherData) {
    ASSERT_TRUE(trace_->is_object());
    ASSERT_TRUE(trace_->contains("traceEvents"));
    EXPECT_TRUE(events().is_array());
    EXPECT_FALSE(events().empty());
    EXPECT_EQ((*trace_)["displayTimeUnit"], "ns");
    const json& other = (*trace_)["otherData"];
    EXPECT_EQ(other["scenario"], "pending-interrupt-across-migration");
    EXPECT_EQ(other["file"], kSeed);
    EXPECT_EQ(other["irqdiff"], library_versions().irqdiff);
    EXPECT_EQ(other["events"], "complete");
    ASSERT_EQ(other["runs"].size(), 2u);
}

// DESIGN.md "Traces": one process per architecture, named after it and its headline policy.
TEST_F(SeedTrace, HasOneProcessPerArchitectureInRunOrder) {
    auto procs = processes();
    ASSERT_EQ(procs.size(), 2u);
    EXPECT_EQ(procs[1], "arm (arm.transfer=set_forwarding)");
    EXPECT_EQ(procs[2], "x86 (x86.set_lapic_clears_pir=before_load)");
}

// DESIGN.md "Traces": a track per vCPU, ITS, IOMMU, PI descriptor, plus the schedule, KVM and QEMU.
TEST_F(SeedTrace, EachProcessHasItsArchitecturesTracks) {
    std::set<std::string> arm = track_names(pid_of("arm")), x86 = track_names(pid_of("x86"));
    for (const char* name : {"schedule", "vcpu0", "vcpu1", "KVM", "QEMU"}) {
        EXPECT_TRUE(arm.contains(name)) << name;
        EXPECT_TRUE(x86.contains(name)) << name;
    }
    for (const char* name : {"ITS", "VPT/pending tables", "redistributor 0", "redistributor 1"})
        EXPECT_TRUE(arm.contains(name)) << name;
    for (const char* name : {"IOMMU", "PI descriptors"}) EXPECT_TRUE(x86.contains(name)) << name;
    EXPECT_FALSE(arm.contains("IOMMU"));
    EXPECT_FALSE(x86.contains("ITS"));
}

// docs/traces.md, the op -> track table: by exact op, then prefix (with the vcpu/cpu/rd argument),
// then layer.
TEST_F(SeedTrace, EventsLandOnTheTrackOfWhatTheyTouch) {
    EXPECT_EQ(track_of("arm", arm::tp::kItsVmapp), "ITS");
    EXPECT_EQ(track_of("arm", arm::tp::kGicrMapVpe), "redistributor 0");
    EXPECT_EQ(track_of("arm", arm::tp::kGicrVptWriteback), "VPT/pending tables");
    EXPECT_EQ(track_of("arm", arm::tp::kKvmSavePendingBit), "VPT/pending tables");
    EXPECT_EQ(track_of("arm", arm::tp::kKvmSetForwarding), "KVM");
    EXPECT_EQ(track_of("arm", arm::tp::kVitsMapc), "guest");
    EXPECT_EQ(track_of("arm", arm::tp::kGuestTake), "vcpu0");
    EXPECT_EQ(track_of("arm", tp::kQemuStopVcpus), "QEMU");
    EXPECT_EQ(track_of("arm", tp::kDeviceMsi), "devices");
    EXPECT_EQ(track_of("arm", tp::kStep), "schedule");
    EXPECT_EQ(track_of("x86", x86::tp::kIommuPost), "IOMMU");
    EXPECT_EQ(track_of("x86", x86::tp::kKvmPiLoad), "PI descriptors");
    EXPECT_EQ(track_of("x86", x86::tp::kCpuPiProcess), "PI descriptors");
    EXPECT_EQ(track_of("x86", x86::tp::kCpuVmEntry), "vcpu0");
    EXPECT_EQ(track_of("x86", x86::tp::kGuestInterrupt), "vcpu0");
    EXPECT_EQ(track_of("x86", x86::tp::kKvmSetLapic), "KVM");
}

// The track rules name ops by their text (core/trace.cc): each op they name is a declared event's,
// and each prefix begins some declared op, so a renamed event cannot silently fall to another track.
TEST(TraceTracks, TheRulesNameDeclaredEvents) {
    TracePointList events = builtin_backends().events();
    for (std::string_view op : track_rule_ops())
        EXPECT_TRUE(std::any_of(events.begin(), events.end(), [&](const TracePointInfo* e) { return e->op == op; }))
            << op;
    for (std::string_view prefix : track_rule_prefixes())
        EXPECT_TRUE(std::any_of(events.begin(), events.end(),
                                [&](const TracePointInfo* e) { return e->op.starts_with(prefix); }))
            << prefix;
}

// Trace Event Format: every event names its phase, process and thread; all but metadata a time.
TEST_F(SeedTrace, EveryEventHasPhasePidTidAndTime) {
    auto names = tracks();
    for (const json& e : events()) {
        ASSERT_TRUE(e.contains("ph")) << e;
        ASSERT_TRUE(e.contains("pid")) << e;
        ASSERT_TRUE(e.contains("tid")) << e;
        if (e["ph"] != "M") {
            ASSERT_TRUE(e.contains("ts")) << e;
            EXPECT_TRUE(names.contains({e["pid"], e["tid"]})) << "event on an unnamed track: " << e;
        }
    }
}

// Perfetto and speedscope nest slices per track: time never goes back on a track, and a slice
// that starts inside another ends inside it.
TEST_F(SeedTrace, SlicesOnATrackAreOrderedAndNested) { expect_nested_slices(*trace_); }

// docs/traces.md "Time": event seq k is a 1 us slice at ts k; the actions tile the time line from
// 0, each from its first event to its last + 1.
TEST_F(SeedTrace, TimeIsTheEventSequence) {
    for (int64_t pid : {pid_of("arm"), pid_of("x86")}) {
        int64_t schedule_tid = -1;
        for (const auto& [key, name] : tracks())
            if (key.first == pid && name == "schedule") schedule_tid = key.second;
        int64_t next_action_start = 0, logged = 0;
        for (const json& e : events()) {
            if (e["pid"] != pid || e["ph"] != "X") continue;
            if (e["tid"] == schedule_tid && e["args"].contains("events")) {
                EXPECT_EQ(e["ts"], next_action_start) << e;
                next_action_start = e["ts"].get<int64_t>() + e["dur"].get<int64_t>();
                continue;
            }
            EXPECT_EQ(e["ts"], e["args"]["log"]["seq"]) << e;
            EXPECT_EQ(e["dur"], 1) << e;
            ++logged;
        }
        EXPECT_EQ(next_action_start, logged) << "the actions cover every event exactly once";
    }
}

// Async slices (b/e) must pair up by id and category, or viewers leave them open.
TEST_F(SeedTrace, EveryLifetimeBeginHasAMatchingEnd) {
    std::map<int64_t, const json*> open;
    std::set<int64_t> closed;
    for (const json& e : events()) {
        if (e["ph"] == "b") {
            int64_t id = e["id"];
            EXPECT_FALSE(open.contains(id) || closed.contains(id)) << "id reused: " << e;
            open[id] = &e;
        } else if (e["ph"] == "e" || e["ph"] == "n") {
            int64_t id = e["id"];
            ASSERT_TRUE(open.contains(id)) << "no open lifetime for " << e;
            const json& b = *open[id];
            EXPECT_EQ(e["cat"], b["cat"]);
            EXPECT_EQ(e["pid"], b["pid"]);
            EXPECT_GE(e["ts"], b["ts"]);
            if (e["ph"] == "e") {
                EXPECT_EQ(e["name"], b["name"]);
                open.erase(id);
                closed.insert(id);
            }
        }
    }
    EXPECT_TRUE(open.empty());
    EXPECT_FALSE(closed.empty());
}

// The seed's two interrupts, fired and delivered once on each architecture: one lifetime each,
// from the fire to the delivery, with the backend's identity and the delivery path.
TEST_F(SeedTrace, EachInterruptHasOneLifetimePerArchitecture) {
    for (const char* arch : {"arm", "x86"}) {
        int64_t pid = pid_of(arch);
        for (const char* source : {"nic.0", "nic.1"}) {
            int begins = 0, ends = 0, places = 0;
            for (const json& e : events()) {
                if (e["pid"] != pid || e.value("cat", "") != "interrupt") continue;
                if (e["ph"] == "b" && e["name"] == source) {
                    ++begins;
                    EXPECT_FALSE(e["args"]["identity"].get<std::string>().empty());
                    EXPECT_TRUE(e["args"]["fired"].get<std::string>().ends_with(std::string(" fire ") + source));
                }
                if (e["ph"] == "e" && e["name"] == source) {
                    ++ends;
                    EXPECT_EQ(e["args"]["path"], "direct");
                }
                if (e["ph"] == "n" && e["args"].contains("places")) ++places;
            }
            EXPECT_EQ(begins, 1) << arch << " " << source;
            EXPECT_EQ(ends, 1) << arch << " " << source;
            EXPECT_GT(places, 0) << arch;
        }
    }
}

// "Where is it?" over time: the counter counts sources per kind of place and those only in
// places that are not live; on arm nic.0 is pending only in the guest pending table (not live)
// after copy_memory.
TEST_F(SeedTrace, PendingCounterFollowsThePlaces) {
    for (const char* arch : {"arm", "x86"}) {
        int samples = 0, max_not_live = 0;
        for (const json& e : events()) {
            if (e["pid"] != pid_of(arch) || e["ph"] != "C") continue;
            EXPECT_EQ(e["name"], "pending");
            ++samples;
            max_not_live = std::max(max_not_live, e["args"]["not live"].get<int>());
        }
        EXPECT_GT(samples, 1) << arch;
        EXPECT_EQ(max_not_live, 1) << arch;
    }
}

// Same scenario and options -> byte-identical trace (nothing depends on time, addresses or hashing).
TEST(Trace, SameRunGivesAByteIdenticalFile) {
    std::string a = chrome_trace_text(run(kSeed, {"arm", "x86"}));
    std::string b = chrome_trace_text(run(kSeed, {"arm", "x86"}));
    EXPECT_EQ(a, b);
    EXPECT_EQ(json::parse(a), json::parse(chrome_trace(run(kSeed, {"arm", "x86"})).dump()));
}

// A violation is an event on its track with category "violation" and a process-scoped instant.
TEST(Trace, ViolationsStandOutAsProcessInstants) {
    json trace = chrome_trace(run(kTransferNone, {"arm"}));
    int on_track = 0, on_process = 0;
    for (const json& e : trace["traceEvents"]) {
        if (e.value("cat", "") != "violation") continue;
        if (e["ph"] == "X") ++on_track;
        if (e["ph"] == "i" && e["s"] == "p") {
            ++on_process;
            EXPECT_FALSE(e["args"]["rule"].get<std::string>().empty());
        }
    }
    EXPECT_GT(on_track, 0);
    EXPECT_EQ(on_process, on_track);
}

// A lifetime still open at the end closes at the end of the last action with the outcome (on
// GICv4.0 the save fails with -EACCES and the pending interrupt is lost after the refusal).
TEST(Trace, UndeliveredLifetimeEndsWithItsOutcome) {
    ScenarioResult r = run(kGicV40, {"arm"});
    ASSERT_EQ(r.runs[0].outcome("nic.0")->outcome, Outcome::SaveRefused);
    json trace = chrome_trace(r);
    int64_t last = 0;
    for (const json& e : trace["traceEvents"])
        if (e["ph"] == "X") last = std::max(last, e["ts"].get<int64_t>() + e["dur"].get<int64_t>());
    bool found = false;
    for (const json& e : trace["traceEvents"])
        if (e["ph"] == "e" && e["name"] == "nic.0") {
            found = true;
            EXPECT_EQ(e["args"]["outcome"], "save-refused");
            EXPECT_EQ(e["ts"], last);
        }
    EXPECT_TRUE(found);
}

// RunOptions::record_events false keeps only violations and guest errors: the trace is still
// valid (actions, lifetimes, counters) and says it is partial.
TEST(Trace, RunWithoutEventsGivesAValidPartialTrace) {
    json trace = chrome_trace(run(kSeed, {"arm", "x86", "ideal"}, /*record_events=*/false));
    EXPECT_TRUE(trace["otherData"]["events"].get<std::string>().starts_with("partial"));
    EXPECT_EQ(trace["otherData"]["runs"][0]["events"], "partial");
    std::map<int64_t, int> open;
    int actions = 0, counters = 0;
    for (const json& e : trace["traceEvents"]) {
        if (e["ph"] == "X") ++actions;
        if (e["ph"] == "C") ++counters;
        if (e["ph"] == "b") ++open[e["id"]];
        if (e["ph"] == "e") --open[e["id"]];
    }
    EXPECT_EQ(open.size(), 6u);  // nic.0 and nic.1 on each of three backends
    for (const auto& [id, n] : open) EXPECT_EQ(n, 0) << id;
    EXPECT_GT(actions, 0);
    EXPECT_GT(counters, 0);
    expect_nested_slices(trace);

    // The violations a run without events keeps are still on their tracks and on the process.
    json kept = chrome_trace(run(kTransferNone, {"arm"}, /*record_events=*/false));
    int violations = 0;
    for (const json& e : kept["traceEvents"])
        if (e.value("cat", "") == "violation") ++violations;
    EXPECT_GT(violations, 0);
    expect_nested_slices(kept);
}

// STYLE.md, user input: a path that cannot be written is an InputError naming it.
TEST(Trace, UnwritablePathIsAnInputErrorNamingIt) {
    ScenarioResult r = run(kSeed, {"ideal"});
    const std::string path = (std::filesystem::path(::testing::TempDir()) / "no_such_dir" / "t.json").string();
    try {
        write_chrome_trace(r, path);
        FAIL() << "no error";
    } catch (const InputError& e) {
        EXPECT_EQ(std::string(e.what()), "cannot write " + path + ": No such file or directory");
    }
}

}  // namespace
}  // namespace irqdiff
