// Fuzz target scenario_gen (docs/fuzzing.md "Generated scenarios"): whole scenarios, structure-
// aware. The input drives the scenario generator (core/scenario_generator.h) instead of being
// YAML text, so every input is a valid scenario — devices of every kind, routes, the guest's
// steps, live, cancelled and same-host migrations with interrupts raised between their steps,
// policies — and coverage-guided mutation explores the model rather than the YAML parser. The
// scenario runs on every backend it names, and the model's invariants (core/invariants.h) are
// checked on every run.
//
// Input layout:
//   byte 0   bit 0: the vocabulary both guest programs run, checked with the abstract and the
//                   Unicorn guest (else the whole vocabulary, abstract guest only);
//            bit 1: the explorer's prefix-sharing check too (slower);
//   rest     the generator's choices (core/scenario_generator.h ByteChoices: one byte per choice
//            among up to 256, two among up to 65,536; the scenario ends where the bytes do).
// Findings: a scenario the loader or a backend rejects (the generator promises valid ones), an
// invariant broken, an exception, a sanitizer report, a hang. Each prints the scenario's YAML.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <string>

#include "core/errors.h"
#include "core/invariants.h"
#include "core/scenario.h"
#include "core/scenario_generator.h"
#include "registry/builtin_backends.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace irqdiff;
    if (size < 1 || size > 4096) return -1;
    GeneratorOptions go;
    go.unicorn_compatible = data[0] & 1;
    go.max_steps = 12;
    ByteChoices choices(std::span<const uint8_t>(data + 1, size - 1));
    const GeneratedScenario g = generate_scenario(choices, builtin_backends(), "fuzz", go);
    auto finding = [&](const std::string& what) {
        std::fprintf(stderr, "scenario_gen: %s\n--- scenario ---\n%s", what.c_str(), g.yaml.c_str());
        std::abort();
    };
    try {
        const Scenario s = parse_scenario(g.yaml, builtin_backends().catalogue(), "fuzz.yaml");
        InvariantOptions io;
        io.compare_guests = go.unicorn_compatible;
        io.explorer = data[0] & 2;
        io.explore_window = 8;
        const InvariantReport r = check_invariants(s, builtin_backends(), g.arches, io);
        if (!r.ok()) {
            std::string all;
            for (const std::string& v : r.violations) all += "  " + v + "\n";
            finding("invariants broken:\n" + all);
        }
    } catch (const InputError& e) {
        finding(std::string("the generated scenario is rejected: ") + e.what());
    }
    return 0;
}
