// Invariants on generated scenarios (issue 17 §2), not only on the library's: a deterministic
// generator (seeded, so every run of the test sees the same scenarios) writes valid scenarios —
// devices, routes, masks, fires, runs, a migration with fires during it — and each runs on arm, x86
// and ideal with the abstract and the Unicorn guest. On every run:
//  - determinism: a second run gives byte-identical JSON (results, deliveries, locations, events);
//  - the abstract and Unicorn guests see the same deliveries and outcomes;
//  - no delivery before its source's first fire;
//  - conservation: from a source's fire to its delivery, after every action it is held somewhere,
//    unless the run's outcome for it says where it went (lost, impossible, save-refused, ...), and a
//    lost source names the action where its last place vanished (`vanished_at`);
//  - the reference backend delivers every fired source (delivered-once or still pending).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <random>
#include <string>
#include <vector>

#include "core/results.h"
#include "core/runner.h"
#include "core/scenario.h"
#include "registry/builtin_backends.h"

namespace irqdiff {
namespace {

/// Scenario `seed` of the generator (valid by construction; the loader checks it).
std::string generate(uint32_t seed) {
    std::mt19937 rng(seed);
    auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
    const uint32_t vcpus = 1 + pick(3);
    const uint32_t ndev = 1 + pick(2);
    std::string y = fmt::format("name: gen-{}\ndescription: generated scenario {}\nvm: {{vcpus: {}}}\ndevices:\n", seed,
                                seed, vcpus);
    std::vector<std::string> sources;
    for (uint32_t d = 0; d < ndev; ++d) {
        const uint32_t vectors = 1 + pick(3);
        y += fmt::format("  - {{name: dev{}, vectors: {}, passthrough: {}}}\n", d, vectors, pick(2) ? "true" : "false");
        for (uint32_t v = 0; v < vectors; ++v) sources.push_back(fmt::format("dev{}.{}", d, v));
    }
    y += "routes:\n";
    for (const std::string& s : sources) y += fmt::format("  - {{source: {}, vcpu: {}}}\n", s, pick(vcpus));
    y += "steps:\n  - run: all\n";
    std::vector<bool> masked(vcpus, false);
    bool migrated = false;
    const uint32_t nsteps = 4 + pick(8);
    for (uint32_t i = 0; i < nsteps; ++i) {
        switch (pick(6)) {
            case 0: {
                const uint32_t v = pick(vcpus);
                y += fmt::format("  - {}: {{vcpu: {}}}\n", masked[v] ? "unmask" : "mask", v);
                masked[v] = !masked[v];
                break;
            }
            case 1:
            case 2: y += fmt::format("  - fire: {}\n", sources[pick(static_cast<uint32_t>(sources.size()))]); break;
            case 3: y += "  - run: all\n"; break;
            case 4:
                if (!migrated) {
                    migrated = true;
                    y += "  - migrate:\n      order: qemu\n";
                    if (pick(2))
                        y += fmt::format("      fire:\n        - {{source: {}, before: start_vcpus}}\n",
                                         sources[pick(static_cast<uint32_t>(sources.size()))]);
                }
                break;
            default: y += fmt::format("  - run: {{vcpu: {}}}\n", pick(vcpus)); break;
        }
    }
    for (uint32_t v = 0; v < vcpus; ++v)
        if (masked[v]) y += fmt::format("  - unmask: {{vcpu: {}}}\n", v);
    y += "  - run: all\n";
    return y;
}

/// The action index of each `fire SOURCE` in the schedule (migration fires too: "fire X" there).
std::vector<std::vector<uint32_t>> fires_of(const RunResult& r) {
    std::vector<std::vector<uint32_t>> out(r.source_names.size());
    for (uint32_t a = 0; a < r.schedule.size(); ++a)
        for (SourceId s = 0; s < r.source_names.size(); ++s)
            if (r.schedule[a] == "fire " + r.source_names[s]) out[s].push_back(a);
    return out;
}

void check_run(const RunResult& r, const std::string& what) {
    const auto fires = fires_of(r);
    // No delivery before its source's first fire.
    std::vector<uint32_t> first_delivery(r.source_names.size(), UINT32_MAX);
    for (const Delivery& d : r.deliveries) {
        ASSERT_LT(d.source, fires.size());
        EXPECT_FALSE(fires[d.source].empty() || fires[d.source].front() > d.action)
            << what << ": " << r.source_names[d.source] << " delivered at action " << d.action << " before any fire";
        first_delivery[d.source] = std::min(first_delivery[d.source], d.action);
    }
    // Conservation: places after each action, from the first fire to the first delivery.
    std::vector<std::vector<Location>> now(r.source_names.size());
    std::vector<bool> vanished(r.source_names.size(), false);
    size_t c = 0;
    for (uint32_t a = 0; a < r.schedule.size(); ++a) {
        for (; c < r.locations.size() && r.locations[c].action == a; ++c)
            for (const auto& [s, places] : r.locations[c].sources) now[s] = places;
        for (SourceId s = 0; s < r.source_names.size(); ++s)
            if (!fires[s].empty() && fires[s].front() <= a && a < first_delivery[s] && now[s].empty()) vanished[s] = true;
    }
    // A lost source says where it went: the action after which it was held nowhere, at or after
    // its first fire.
    for (const SourceOutcome& o : r.outcomes)
        if (o.outcome == Outcome::Lost) {
            EXPECT_TRUE(o.vanished_at.has_value()) << what << ": " << r.source_names[o.source] << " lost, but not where";
            if (o.vanished_at && !fires[o.source].empty()) {
                EXPECT_GE(*o.vanished_at, fires[o.source].front()) << what << ": " << r.source_names[o.source];
            }
        }
    for (SourceId s = 0; s < r.source_names.size(); ++s) {
        if (!vanished[s]) continue;
        const SourceOutcome* o = r.outcome(s);
        ASSERT_NE(o, nullptr) << what << ": " << r.source_names[s] << " was fired but has no outcome";
        // Gone from every place before it was delivered: the run must not call it delivered.
        EXPECT_NE(o->outcome, Outcome::DeliveredOnce)
            << what << ": " << r.source_names[s] << " had no place after some action before its delivery, yet is "
            << "delivered-once";
    }
}

class GeneratedScenario : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GeneratedScenario, HoldsTheModelInvariantsOnEveryBackendAndGuest) {
    const std::string text = generate(GetParam());
    Scenario s = parse_scenario(text, builtin_backends().catalogue(), fmt::format("gen-{}.yaml", GetParam()));
    RunOptions options;
    options.compare_guests = true;
    options.record_events = true;
    std::vector<std::string> arches{"arm", "x86", "ideal"};
    const ScenarioResult a = run_scenario(s, builtin_backends(), arches, options);
    const ScenarioResult b = run_scenario(s, builtin_backends(), arches, options);
    EXPECT_EQ(to_json(a).dump(), to_json(b).dump()) << "not deterministic:\n" << text;
    EXPECT_TRUE(a.guest_differences.empty()) << "the guests disagree:\n" << text;
    ASSERT_EQ(a.runs.size(), 5u) << "arm and x86 with both guests, and ideal";
    for (const RunResult& r : a.runs) {
        const std::string what = fmt::format("{} ({} guest)\n{}", r.arch, to_string(r.guest), text);
        check_run(r, what);
        if (r.arch == "ideal") {
            for (const SourceOutcome& o : r.outcomes)
                EXPECT_TRUE(o.outcome == Outcome::DeliveredOnce || o.outcome == Outcome::Pending)
                    << r.source_names[o.source] << " " << to_string(o.outcome) << " on the reference\n" << what;
        }
    }
    // Abstract and Unicorn runs of one backend give the same outcome per source.
    for (size_t i = 0; i + 1 < a.runs.size(); ++i)
        if (a.runs[i].arch == a.runs[i + 1].arch && a.runs[i].guest != a.runs[i + 1].guest) {
            ASSERT_EQ(a.runs[i].outcomes.size(), a.runs[i + 1].outcomes.size()) << text;
            for (size_t k = 0; k < a.runs[i].outcomes.size(); ++k)
                EXPECT_EQ(a.runs[i].outcomes[k].outcome, a.runs[i + 1].outcomes[k].outcome)
                    << a.runs[i].arch << " " << a.runs[i].source_names[a.runs[i].outcomes[k].source] << "\n" << text;
        }
}
INSTANTIATE_TEST_SUITE_P(Seeds, GeneratedScenario, ::testing::Range(1u, 41u));

}  // namespace
}  // namespace irqdiff
