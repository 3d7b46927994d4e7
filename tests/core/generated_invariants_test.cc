// Invariants on generated scenarios (issue 17 §2), not only on the library's: the scenario
// generator (core/scenario_generator.h), seeded so every run of the test sees the same scenarios,
// and the invariant checker (core/invariants.h: determinism, guests agree, fire-first,
// conservation with `vanished_at`, the reference delivers, snapshot identity, the explorer's
// prefix sharing). `irqdiff generate --check --count N` runs the same over any number of seeds.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "core/errors.h"
#include "core/invariants.h"
#include "core/scenario.h"
#include "core/scenario_generator.h"
#include "registry/builtin_backends.h"

namespace irqdiff {
namespace {

struct Case {
    uint32_t seed;
    bool unicorn;  // the vocabulary both guest programs run, checked with both guests
};

void check_seed(const Case& c) {
    GeneratorOptions go;
    go.unicorn_compatible = c.unicorn;
    SeededChoices choices(c.seed);
    const GeneratedScenario g = generate_scenario(choices, builtin_backends(), fmt::format("gen-{}", c.seed), go);
    Scenario s;
    try {
        s = parse_scenario(g.yaml, builtin_backends().catalogue(), fmt::format("gen-{}.yaml", c.seed));
    } catch (const InputError& e) {
        FAIL() << "the generator wrote a scenario the loader rejects: " << e.what() << "\n" << g.yaml;
    }
    InvariantOptions io;
    io.compare_guests = c.unicorn;
    InvariantReport r;
    try {
        r = check_invariants(s, builtin_backends(), g.arches, io);
    } catch (const InputError& e) {
        FAIL() << "a backend rejects a generated scenario: " << e.what() << "\n" << g.yaml;
    }
    EXPECT_GT(r.checks, 0u);
    for (const std::string& v : r.violations) ADD_FAILURE() << v;
    if (!r.ok()) ADD_FAILURE() << "scenario:\n" << g.yaml;
}

class GeneratedScenarios : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GeneratedScenarios, HoldsTheModelInvariantsWithBothGuests) { check_seed({GetParam(), true}); }
TEST_P(GeneratedScenarios, HoldsTheModelInvariantsOverTheWholeVocabulary) { check_seed({GetParam(), false}); }
INSTANTIATE_TEST_SUITE_P(Seeds, GeneratedScenarios, ::testing::Range(1u, 41u));

TEST(ScenarioGenerator, SameSeedSameScenarioAndBytesDriveIt) {
    SeededChoices a(7), b(7);
    EXPECT_EQ(generate_scenario(a, builtin_backends(), "x").yaml, generate_scenario(b, builtin_backends(), "x").yaml);
    const std::vector<uint8_t> bytes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    ByteChoices c(bytes), d(bytes);
    EXPECT_EQ(generate_scenario(c, builtin_backends(), "y").yaml, generate_scenario(d, builtin_backends(), "y").yaml);
    // No bytes at all: the smallest scenario, which still loads.
    ByteChoices none({});
    const GeneratedScenario g = generate_scenario(none, builtin_backends(), "empty");
    EXPECT_NO_THROW(parse_scenario(g.yaml, builtin_backends().catalogue(), "empty.yaml")) << g.yaml;
}

}  // namespace
}  // namespace irqdiff
