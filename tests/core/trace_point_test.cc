// The event catalogue (core/trace_point.h, Registry::events()): core's declarations, then each
// backend's, each declared once; every event a run logs comes from a declaration in it.
#include "core/trace_point.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include "arm_gic/trace_points.h"
#include "core/runner.h"
#include "core/trace_points.h"
#include "registry/builtin_backends.h"
#include "tests/run_harness.h"
#include "x86_pi/trace_points.h"

namespace irqdiff {
namespace {

namespace fs = std::filesystem;
const fs::path kSource = IRQDIFF_SOURCE_DIR;

std::vector<const TracePointInfo*> concat(std::initializer_list<TracePointList> lists) {
    std::vector<const TracePointInfo*> out;
    for (TracePointList l : lists) out.insert(out.end(), l.begin(), l.end());
    return out;
}

// Registry::events: core's list, then the backends' in registration order (ideal, arm, x86).
TEST(EventCatalogue, IsCoresDeclarationsThenEachBackends) {
    const Registry& r = builtin_backends();
    std::vector<const TracePointInfo*> want =
        concat({tp::core_trace_points(), tp::ideal_trace_points(), arm::tp::trace_points(), x86::tp::trace_points()});
    TracePointList got = r.events();
    EXPECT_EQ(std::vector<const TracePointInfo*>(got.begin(), got.end()), want);
    EXPECT_EQ(r.find("arm")->events.data(), arm::tp::trace_points().data());
    EXPECT_EQ(r.find("x86")->events.data(), x86::tp::trace_points().data());
    EXPECT_EQ(r.find("ideal")->events.data(), tp::ideal_trace_points().data());
    EXPECT_EQ(r.catalogue().events.size(), got.size());
}

// Each declaration is listed once, and no two declarations anywhere in the catalogue (across core
// and the stacks) describe the same event line: op, layer, kind and argument keys together name
// one declaration. (An op such as ITS.VMAPP has several declarations: the command, its error, its
// table fault, its GICv4.0 ignored fields.)
TEST(EventCatalogue, NoDeclarationIsListedTwiceAndNoTwoDescribeTheSameEvent) {
    std::set<const TracePointInfo*> seen;
    std::map<std::tuple<std::string, Layer, EventKind, std::vector<std::string>>, const TracePointInfo*> shapes;
    for (const TracePointInfo* p : builtin_backends().events()) {
        ASSERT_NE(p, nullptr);
        EXPECT_TRUE(seen.insert(p).second) << p->op << " listed twice";
        std::vector<std::string> keys;
        for (const ArgSpec& a : p->args) keys.emplace_back(a.key);
        auto [it, fresh] = shapes.emplace(std::tuple{std::string(p->op), p->layer, p->kind, keys}, p);
        EXPECT_TRUE(fresh) << p->op << " (" << to_string(p->kind) << ") is declared twice with the same keys";
    }
}

// A declaration names its op as the log prints it (LAYER.NAME, or STEP), a doc line, and distinct
// non-empty keys; a violation never comes from a backend's reference controller.
TEST(EventCatalogue, EveryDeclarationHasAnOpADocAndDistinctKeys) {
    const std::regex op_name(R"(STEP|[A-Z]+(\.[A-Za-z0-9_]+)+)");
    for (const TracePointInfo* p : builtin_backends().events()) {
        SCOPED_TRACE(std::string(p->op));
        EXPECT_TRUE(std::regex_match(std::string(p->op), op_name));
        EXPECT_FALSE(p->doc.empty());
        EXPECT_EQ(p->doc.find('\n'), std::string_view::npos) << "a doc is one line";
        std::set<std::string_view> keys;
        for (const ArgSpec& a : p->args) {
            EXPECT_FALSE(a.key.empty());
            EXPECT_TRUE(keys.insert(a.key).second) << "key " << a.key << " twice";
        }
    }
    for (const TracePointInfo* p : tp::ideal_trace_points()) EXPECT_NE(p->kind, EventKind::Violation) << p->op;
}

/// The names of the declarations in a trace_points.h (from `begin` to `end` when given).
size_t declarations_in(const fs::path& header, const std::string& begin = "", const std::string& end = "") {
    std::ifstream in(header);
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    if (!begin.empty()) s = s.substr(s.find(begin));
    if (!end.empty()) s = s.substr(0, s.find(end));
    const std::regex decl(R"(\ninline constexpr (Op|GuestError|Violation|Ignored|Impossible|Refused|Stale|Unquiesced)<[^>]*> k\w+)");
    return static_cast<size_t>(std::distance(std::sregex_iterator(s.begin(), s.end(), decl), std::sregex_iterator()));
}

// Each trace_points.cc lists every declaration its header makes (a declaration left out of the
// list would be missing from the catalogue, the scenario loader's check and docs/traces.md).
TEST(EventCatalogue, EachListHoldsEveryDeclarationOfItsHeader) {
    const std::string ideal = "// ---- the ideal reference backend";
    EXPECT_EQ(tp::core_trace_points().size(), declarations_in(kSource / "core/trace_points.h", "", ideal));
    EXPECT_EQ(tp::ideal_trace_points().size(), declarations_in(kSource / "core/trace_points.h", ideal));
    EXPECT_EQ(arm::tp::trace_points().size(), declarations_in(kSource / "arm_gic/trace_points.h"));
    EXPECT_EQ(x86::tp::trace_points().size(), declarations_in(kSource / "x86_pi/trace_points.h"));
}

struct LibraryRun {
    std::string arch;
    fs::path scenario;
};

void PrintTo(const LibraryRun& r, std::ostream* os) { *os << r.arch << " " << r.scenario.string(); }

std::vector<LibraryRun> library_runs() {
    std::vector<LibraryRun> out;
    for (const auto& e : fs::recursive_directory_iterator(kSource / "scenarios"))
        if (e.is_regular_file() && e.path().extension() == ".yaml") {
            Scenario s = load_scenario(e.path().string(), builtin_backends().catalogue());
            for (const BackendInfo& b : builtin_backends().backends())
                if (s.arches.empty() || std::find(s.arches.begin(), s.arches.end(), b.name) != s.arches.end())
                    out.push_back({b.name, e.path()});
        }
    std::sort(out.begin(), out.end(), [](const LibraryRun& a, const LibraryRun& b) {
        return std::tie(a.scenario, a.arch) < std::tie(b.scenario, b.arch);
    });
    return out;
}

class LibraryEvents : public ::testing::TestWithParam<LibraryRun> {};

// Every event a library run logs comes from a declaration of the catalogue (core's or its own
// backend's), and is exactly what that declaration says: its op, layer, kind and keys.
TEST_P(LibraryEvents, EveryEventIsItsDeclarationsAndInTheCatalogue) {
    const BackendInfo& b = *builtin_backends().find(GetParam().arch);
    std::set<const TracePointInfo*> allowed;
    for (TracePointList l : {tp::core_trace_points(), b.events}) allowed.insert(l.begin(), l.end());
    const Scenario s = load_scenario(GetParam().scenario.string(), builtin_backends().catalogue());
    const bool abstract_only = run_harness::needs_abstract_guest(s);
    for (GuestKind guest : {GuestKind::Abstract, GuestKind::Unicorn}) {
        if (guest == GuestKind::Unicorn && (!b.virtualizing || abstract_only)) continue;  // no IPI, WRMSR or NMI code
        RunOptions options;
        options.guest = guest;
        options.trace_guest = guest == GuestKind::Unicorn;
        RunResult r =
            run_scenario(load_scenario(GetParam().scenario.string(), builtin_backends().catalogue()), b, options);
        ASSERT_FALSE(r.events.empty());
        for (const Event& e : r.events) {
            ASSERT_NE(e.point, nullptr) << to_string(e);
            EXPECT_TRUE(allowed.contains(e.point)) << to_string(e) << ": not a declaration of core or " << b.name;
            EXPECT_EQ(e.op, e.point->op);
            EXPECT_EQ(e.layer, e.point->layer) << to_string(e);
            EXPECT_EQ(e.kind, e.point->kind) << to_string(e);
            ASSERT_EQ(e.args.size(), e.point->args.size()) << to_string(e);
            for (size_t i = 0; i < e.args.size(); ++i) {
                EXPECT_EQ(e.args[i].key, e.point->args[i].key);
                EXPECT_EQ(e.args[i].value.index(), static_cast<size_t>(e.point->args[i].type)) << to_string(e);
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, LibraryEvents, ::testing::ValuesIn(library_runs()),
                         [](const ::testing::TestParamInfo<LibraryRun>& info) {
                             std::string n = info.param.arch + "_" +
                                             info.param.scenario.parent_path().filename().string() + "_" +
                                             info.param.scenario.stem().string();
                             for (char& c : n)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return n;
                         });

}  // namespace
}  // namespace irqdiff
