#include "cli/generate_cmd.h"

#include "cli/output.h"
#include "cli/workers.h"

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/errors.h"
#include "core/invariants.h"
#include "core/results.h"
#include "core/scenario.h"
#include "core/scenario_generator.h"
#include "registry/builtin_backends.h"

namespace irqdiff::cli {

CLI::App* add_generate_command(CLI::App& app, GenerateArgs& a) {
    CLI::App* g = app.add_subcommand(
        "generate", "Write generated valid scenarios, or check the model's invariants on them (--check)");
    g->add_option("--seed", a.seed, "The first seed (scenario gen-SEED; the same seed gives the same scenario)");
    g->add_option("--count", a.count, "How many scenarios, seeds SEED..SEED+COUNT-1 (default 1)");
    g->add_option("--out", a.out,
                  "Write each scenario to DIR/gen-SEED.yaml (with --check: only those that break an invariant)");
    g->add_flag("--check", a.check,
                "Run each scenario on its backends and check the invariants (docs/fuzzing.md \"Invariants\"): "
                "determinism, the two guests agree, no delivery before a fire, conservation, the reference "
                "delivers, snapshot identity, the explorer's prefix sharing");
    g->add_option("--vocabulary", a.vocabulary,
                  "unicorn: only what both guest programs run, checked with both guests; full: IPI devices, "
                  "TSC-deadline timers and NMI routes too, abstract guest only; mixed (default): odd seeds "
                  "unicorn, even seeds full");
    g->add_option("--jobs", a.jobs, "With --check: local worker processes (the seeds are split among them)");
    g->add_option("--max-vcpus", a.max_vcpus, "vm.vcpus is 1..N (default 4)");
    g->add_option("--max-devices", a.max_devices, "1..N devices (default 3)");
    g->add_option("--max-vectors", a.max_vectors, "1..N vectors per device (default 4)");
    g->add_option("--max-steps", a.max_steps, "0..N steps between the first and last run (default 16)");
    g->add_option("--max-migrations", a.max_migrations, "0..N migrations (default 2)");
    g->add_flag("--no-explorer", a.no_explorer, "With --check: leave out the explorer's prefix-sharing check");
    return g;
}

namespace {

struct SeedResult {
    uint64_t seed = 0;
    uint64_t runs = 0, checks = 0, masked = 0, coalescing = 0;
    std::vector<std::string> violations;
    std::string yaml;  // kept for a scenario with violations
};

Json to_json(const SeedResult& r) {
    return Json{{"seed", r.seed}, {"runs", r.runs}, {"checks", r.checks}, {"masked", r.masked}, {"coalescing", r.coalescing}, {"violations", r.violations}, {"yaml", r.yaml}};
}
SeedResult from_json(const Json& j) {
    SeedResult r;
    r.seed = j.at("seed").get<uint64_t>();
    r.runs = j.at("runs").get<uint64_t>();
    r.checks = j.at("checks").get<uint64_t>();
    r.masked = j.at("masked").get<uint64_t>();
    r.coalescing = j.at("coalescing").get<uint64_t>();
    r.violations = j.at("violations").get<std::vector<std::string>>();
    r.yaml = j.at("yaml").get<std::string>();
    return r;
}

GeneratorOptions generator_options(const GenerateArgs& a, uint64_t seed) {
    GeneratorOptions o;
    o.max_vcpus = a.max_vcpus;
    o.max_devices = a.max_devices;
    o.max_vectors = a.max_vectors;
    o.max_steps = a.max_steps;
    o.max_migrations = a.max_migrations;
    o.unicorn_compatible = a.vocabulary == "unicorn" || (a.vocabulary == "mixed" && seed % 2 == 1);
    return o;
}

GeneratedScenario generate(const GenerateArgs& a, uint64_t seed) {
    SeededChoices choices(seed);
    return generate_scenario(choices, builtin_backends(), fmt::format("gen-{}", seed), generator_options(a, seed));
}

SeedResult check_seed(const GenerateArgs& a, uint64_t seed) {
    SeedResult r;
    r.seed = seed;
    const GeneratorOptions go = generator_options(a, seed);
    SeededChoices choices(seed);
    const GeneratedScenario g = generate_scenario(choices, builtin_backends(), fmt::format("gen-{}", seed), go);
    try {
        Scenario s = parse_scenario(g.yaml, builtin_backends().catalogue(), fmt::format("gen-{}.yaml", seed));
        InvariantOptions io;
        io.compare_guests = go.unicorn_compatible;
        io.explorer = !a.no_explorer;
        InvariantReport rep = check_invariants(s, builtin_backends(), g.arches, io);
        r.runs = rep.runs;
        r.checks = rep.checks;
        r.masked = rep.masked_by_refire;
        r.coalescing = rep.coalescing_losses;
        r.violations = std::move(rep.violations);
    } catch (const InputError& e) {
        // Valid by construction: a rejected scenario is the generator's bug (or a backend's).
        r.violations.push_back(fmt::format("generator: the scenario is rejected: {}", e.what()));
    }
    if (!r.violations.empty()) r.yaml = g.yaml;
    return r;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary);
    f << text;
    f.close();
    if (!f) throw InputError("--out", fmt::format("{}: cannot write the scenario: {}", path.string(), std::strerror(errno)));
}

std::filesystem::path out_dir(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (!std::filesystem::is_directory(dir, ec))
        throw InputError("--out", fmt::format("{}: not a directory and cannot be made one", dir));
    return dir;
}

/// Checks seeds [lo, hi) in `jobs` child processes (cli/workers.h); results come back as JSON
/// Lines, in seed order.
std::vector<SeedResult> check_in_processes(const GenerateArgs& a, uint64_t lo, uint64_t hi, int jobs) {
    const std::vector<std::string> slices = run_in_processes(
        lo, hi, jobs,
        [&](uint64_t from, uint64_t to) {
            std::string out;
            for (uint64_t seed = from; seed < to; ++seed) out += to_json(check_seed(a, seed)).dump() + "\n";
            return out;
        },
        "generate --check");
    std::vector<SeedResult> out;
    for (const Json& line : json_lines(slices)) out.push_back(from_json(line));
    return out;
}

}  // namespace

int cmd_generate(const GenerateArgs& a) {
    if (a.vocabulary != "unicorn" && a.vocabulary != "full" && a.vocabulary != "mixed")
        throw InputError("--vocabulary", fmt::format("'{}': expected unicorn, full or mixed", a.vocabulary));
    if (a.count < 1 || a.count > 100'000'000)
        throw InputError("--count", fmt::format("{}: expected 1..100000000 scenarios", a.count));
    if (a.seed > UINT64_MAX - a.count)
        throw InputError("--seed", fmt::format("{}: SEED+COUNT must not pass 2^64", a.seed));
    if (a.jobs < 1 || a.jobs > 1024)
        throw InputError("--jobs", fmt::format("{}: expected a number of processes from 1 to 1024", a.jobs));
    if (a.jobs > 1 && !a.check) throw InputError("--jobs", "only with --check");
    auto in_range = [](const char* opt, uint32_t v, uint32_t lo, uint32_t hi) {
        if (v < lo || v > hi) throw InputError(opt, fmt::format("{}: expected {}..{}", v, lo, hi));
    };
    in_range("--max-vcpus", a.max_vcpus, 1, 64);
    in_range("--max-devices", a.max_devices, 1, 64);
    in_range("--max-vectors", a.max_vectors, 1, 16);
    in_range("--max-steps", a.max_steps, 0, 10'000);
    in_range("--max-migrations", a.max_migrations, 0, 16);
    // Every source may be routed to one vCPU, and the x86 guest has 203 device vectors per vCPU
    // (0x21..0xEB, x86_pi/guest/guest.h): more would be a scenario the x86 backend refuses.
    if (a.max_devices * a.max_vectors > 200)
        throw InputError("--max-vectors", fmt::format("--max-devices {} x --max-vectors {} = {} sources: expected at "
                                                      "most 200 (the x86 guest's vectors on one vCPU)",
                                                      a.max_devices, a.max_vectors, a.max_devices * a.max_vectors));

    if (!a.check) {
        if (!a.out) {
            if (a.count != 1)
                throw InputError("--count", "more than one scenario needs --out DIR (a scenario file holds one)");
            fmt::print("{}", generate(a, a.seed).yaml);
            return 0;
        }
        const std::filesystem::path dir = out_dir(*a.out);
        for (uint64_t seed = a.seed; seed < a.seed + a.count; ++seed)
            write_file(dir / fmt::format("gen-{}.yaml", seed), generate(a, seed).yaml);
        fmt::print("wrote {} scenarios to {} (gen-{}.yaml .. gen-{}.yaml)\n", a.count, dir.string(), a.seed,
                   a.seed + a.count - 1);
        return 0;
    }

    std::optional<std::filesystem::path> dir;
    if (a.out) dir = out_dir(*a.out);
    const auto t0 = std::chrono::steady_clock::now();
    const int jobs = static_cast<int>(std::min<uint64_t>(static_cast<uint64_t>(a.jobs), a.count));
    uint64_t runs = 0, checks = 0, masked = 0, coalescing = 0, failing = 0, broken = 0;
    auto report = [&](const SeedResult& r) {
        runs += r.runs;
        checks += r.checks;
        masked += r.masked;
        coalescing += r.coalescing;
        if (r.violations.empty()) return;
        ++failing;
        broken += r.violations.size();
        fmt::print("gen-{}: {} invariant{} broken{}\n", r.seed, r.violations.size(), r.violations.size() == 1 ? "" : "s",
                   dir ? fmt::format(" (written to {})", (*dir / fmt::format("gen-{}.yaml", r.seed)).string()) : "");
        for (const std::string& v : r.violations) fmt::print("  {}\n", v);
        if (dir) write_file(*dir / fmt::format("gen-{}.yaml", r.seed), r.yaml);
    };
    if (jobs > 1) {
        for (const SeedResult& r : check_in_processes(a, a.seed, a.seed + a.count, jobs)) report(r);
    } else {
        for (uint64_t seed = a.seed; seed < a.seed + a.count; ++seed) report(check_seed(a, seed));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("checked {} generated scenario{} (seeds {}..{}, vocabulary {}): {} invariant{} broken in {} scenario{}; "
               "{} checks over {} backend runs; {} losses masked by a later fire (coalesced, not observable); {} losses by coalescing (no vanish)\n",
               a.count, a.count == 1 ? "" : "s", a.seed, a.seed + a.count - 1, a.vocabulary, broken,
               broken == 1 ? "" : "s", failing, failing == 1 ? "" : "s", checks, runs, masked, coalescing);
    // The time goes to stderr: stdout is the same for the same options.
    flush_stdout();
    fmt::print(stderr, "{:.1f} s, {:.1f} scenarios/s, {} job{}\n", secs, static_cast<double>(a.count) / secs, jobs,
               jobs == 1 ? "" : "s");
    return failing ? 1 : 0;
}

}  // namespace irqdiff::cli
