// `irqdiff generate`: write generated scenarios (core/scenario_generator.h), or check the model's
// invariants on them (core/invariants.h; docs/fuzzing.md "Generated scenarios").
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace irqdiff::cli {

struct GenerateArgs {
    uint64_t seed = 1;
    uint64_t count = 1;
    std::optional<std::string> out;  // a directory: one file per scenario
    bool check = false;
    std::string vocabulary = "mixed";  // unicorn, full, mixed
    int jobs = 1;
    uint32_t max_vcpus = 4, max_devices = 3, max_vectors = 4, max_steps = 16, max_migrations = 2;
    bool no_explorer = false;
};

CLI::App* add_generate_command(CLI::App& app, GenerateArgs& args);
/// Exit codes: 0 written, or every invariant held; 1 some invariant broke (each printed, and the
/// scenario written to --out if given); 2 bad input (InputError, thrown to the caller).
int cmd_generate(const GenerateArgs& args);

}  // namespace irqdiff::cli
