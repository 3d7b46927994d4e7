// Golden traces: every scenario of the library, run on its backends with its own policy, must give
// exactly the normalized delivery-and-location trace recorded under tests/golden/ARCH/DIR/NAME.trace
// (core/results.h delivery_trace: per action its deliveries, violations and where each source is
// now; then the outcomes), so adding or renaming an ordinary event re-golds nothing. A few runs
// (kPinned) also pin their full event log, NAME.events. A scenario with an `arch` key runs on those
// backends (every file under scenarios/ARCH/ says `arch: ARCH`); the others (seed/, regression/) on
// every backend, the ideal one included. On a mismatch the test writes NAME.trace.new (or
// NAME.events.new) beside the golden file and prints both paths; accepting a change is a reviewed
// rename (scripts/accept-golden.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/results.h"
#include "core/runner.h"
#include "registry/builtin_backends.h"

namespace irqdiff {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = IRQDIFF_SOURCE_DIR;

struct Case {
    std::string arch;
    fs::path scenario;  // relative to scenarios/
};

std::vector<Case> cases() {
    std::vector<Case> out;
    const Registry& registry = builtin_backends();
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(kSource / "scenarios"))
        if (e.is_regular_file() && e.path().extension() == ".yaml")
            files.push_back(fs::relative(e.path(), kSource / "scenarios"));
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
        Scenario s = load_scenario((kSource / "scenarios" / f).string(), builtin_backends().catalogue());
        if (!s.arches.empty()) {
            for (const std::string& a : s.arches) out.push_back({a, f});
        } else {
            for (const BackendInfo& b : registry.backends()) out.push_back({b.name, f});
        }
    }
    return out;
}

/// The runs whose whole event log is pinned as well: the seed study on each backend, and one
/// direct-injection migration per architecture.
const std::vector<std::pair<std::string, std::string>> kPinned = {
    {"arm", "seed/pending_across_migration.yaml"},
    {"x86", "seed/pending_across_migration.yaml"},
    {"ideal", "seed/pending_across_migration.yaml"},
    {"arm", "arm/seed_transfer_set_forwarding.yaml"},
    {"x86", "x86/post_while_running.yaml"},
};

bool pinned(const Case& c) {
    return std::find(kPinned.begin(), kPinned.end(), std::pair{c.arch, c.scenario.generic_string()}) != kPinned.end();
}

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.arch << " " << c.scenario.string(); }

class Golden : public ::testing::TestWithParam<Case> {};

/// Compares `text` with the golden file ARCH/SCENARIO.EXTENSION; on a mismatch writes it beside as
/// .new and fails naming both.
void compare(const Case& c, const std::string& extension, const std::string& text, const char* what) {
    fs::path golden = kSource / "tests" / "golden" / c.arch / c.scenario;
    golden.replace_extension(extension);
    fs::path fresh = golden;
    fresh += ".new";
    std::string expected = fs::exists(golden) ? read(golden) : "";
    if (text == expected) {
        fs::remove(fresh);
        return;
    }
    fs::create_directories(fresh.parent_path());
    std::ofstream(fresh, std::ios::binary) << text;
    ADD_FAILURE() << what << " differs from the golden file\n  expected: " << golden.string()
                  << (fs::exists(golden) ? "" : " (missing)") << "\n  actual:   " << fresh.string()
                  << "\n  compare them, and accept with scripts/accept-golden.sh";
}

TEST_P(Golden, TraceMatchesTheRecordedOne) {
    const Case& c = GetParam();
    Scenario s = load_scenario((kSource / "scenarios" / c.scenario).string(), builtin_backends().catalogue());
    RunResult r = run_scenario(s, *builtin_backends().find(c.arch), {});
    compare(c, ".trace", delivery_trace(r), "delivery-and-location trace");
    fs::path events = kSource / "tests" / "golden" / c.arch / c.scenario;
    events.replace_extension(".events");
    if (!pinned(c)) {
        EXPECT_FALSE(fs::exists(events)) << events << ": not a pinned run (kPinned), remove it";
        return;
    }
    std::string text;
    for (const Event& e : r.events) text += to_string(e) + "\n";
    compare(c, ".events", text, "event log");
}

// scenarios/README.md: files under scenarios/ARCH/ are meant for that backend, and say so.
TEST(ScenarioLibrary, FilesUnderABackendsFolderAreMeantForThatBackend) {
    for (const auto& e : fs::recursive_directory_iterator(kSource / "scenarios")) {
        if (!e.is_regular_file() || e.path().extension() != ".yaml") continue;
        std::string dir = fs::relative(e.path(), kSource / "scenarios").begin()->string();
        if (dir != "arm" && dir != "x86") continue;
        Scenario s = load_scenario(e.path().string(), builtin_backends().catalogue());
        EXPECT_EQ(s.arches, std::vector<std::string>{dir}) << e.path();
    }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Golden, ::testing::ValuesIn(cases()), [](const ::testing::TestParamInfo<Case>& i) {
    std::string name = i.param.arch + "_" + i.param.scenario.string();
    for (char& ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return name;
});

}  // namespace
}  // namespace irqdiff
