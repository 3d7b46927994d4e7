// A generator of valid scenarios (issue 17 §1 "whole scenarios", §2): devices of every kind,
// routes, the guest's steps, migrations (live, cancelled, same-host live update) with interrupts
// raised between their steps, and policies, written as scenario YAML that the loader accepts and
// every backend the scenario names runs. Its choices come from a Choices source: a seeded
// generator (`irqdiff generate --seed N`, the invariant sweep) or the bytes of a fuzzer's input
// (the `scenario_gen` fuzz target), so coverage-guided mutation explores the scenario space
// structurally rather than the YAML text. docs/fuzzing.md "Generated scenarios" lists what it
// draws from and what it leaves out.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/backend.h"

namespace irqdiff {

/// Where the generator's choices come from.
class Choices {
   public:
    virtual ~Choices() = default;
    /// A number in 0..n-1 (n >= 1).
    virtual uint32_t below(uint32_t n) = 0;
    bool one_in(uint32_t n) { return below(n) == 0; }
};

/// Choices from a seed: the same seed gives the same scenario on every platform (std::mt19937's
/// sequence is fixed by the standard, and `below` reduces it by `%`).
class SeededChoices final : public Choices {
   public:
    explicit SeededChoices(uint64_t seed) : rng_(static_cast<std::mt19937::result_type>(seed ^ (seed >> 32))) {}
    uint32_t below(uint32_t n) override { return n <= 1 ? 0 : static_cast<uint32_t>(rng_() % n); }

   private:
    std::mt19937 rng_;
};

/// Choices read from bytes (a fuzzer's input): one byte per choice below 256, two below 65,536;
/// once the bytes run out every choice is 0 (the smallest scenario that completes the structure).
class ByteChoices final : public Choices {
   public:
    explicit ByteChoices(std::span<const uint8_t> bytes) : bytes_(bytes) {}
    uint32_t below(uint32_t n) override;

   private:
    std::span<const uint8_t> bytes_;
    size_t at_ = 0;
};

struct GeneratorOptions {
    uint32_t max_vcpus = 4;    // vm.vcpus in 1..max_vcpus
    uint32_t max_devices = 3;  // devices (MSI, timer, IPI) in 1..max_devices
    uint32_t max_vectors = 4;  // vectors per MSI device, IPIs per IPI device
    uint32_t max_steps = 16;   // guest steps besides the first and last `run: all`
    uint32_t max_migrations = 2;
    /// Only what both guests run (no IPI device, no TSC-deadline timer, no NMI route), so the
    /// abstract and Unicorn guests can be compared.
    bool unicorn_compatible = true;
};

/// One generated scenario: its YAML and the backends it is meant for (its `arch` key's, or every
/// backend of the registry when it names none), ideal included.
struct GeneratedScenario {
    std::string yaml;
    std::vector<std::string> arches;
};

/// Generates scenario `name` from `choices` for the backends of `registry` (their restore steps,
/// named orders and policies). Valid by construction: the loader accepts it and each backend of
/// `arches` runs it (a generator bug otherwise, which the invariant checks report).
GeneratedScenario generate_scenario(Choices& choices, const Registry& registry, const std::string& name,
                                    const GeneratorOptions& options = {});

}  // namespace irqdiff
