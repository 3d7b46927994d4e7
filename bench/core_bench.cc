// Core costs: loading a scenario, running it end to end on the ideal backend (with and without
// the full event log), a memory access, and addressing a restore order by index.
#include <benchmark/benchmark.h>

#include <string>

#include "core/memory.h"
#include "core/runner.h"
#include "core/scenario.h"
#include "registry/builtin_backends.h"

namespace irqdiff {
namespace {

const std::string kSeed = std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/seed/pending_across_migration.yaml";

void BM_LoadSeedScenario(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(load_scenario(kSeed, builtin_backends().catalogue()));
}
BENCHMARK(BM_LoadSeedScenario);

// Issue 17 §5: parse and validate N devices of one vector, each routed (linear since the name
// index: items/s should stay flat as N grows; a duplicate-name scan and a linear find_source made
// it quadratic).
void BM_LoadManyDevices(benchmark::State& state) {
    const auto n = static_cast<int>(state.range(0));
    std::string y = "name: big\nvm: {vcpus: 4}\ndevices:\n";
    for (int i = 0; i < n; ++i) y += "  - {name: d" + std::to_string(i) + ", vectors: 1}\n";
    y += "routes:\n";
    for (int i = 0; i < n; ++i) y += "  - {source: d" + std::to_string(i) + ".0, vcpu: " + std::to_string(i % 4) + "}\n";
    y += "steps: [{run: all}]\n";
    for (auto _ : state) benchmark::DoNotOptimize(parse_scenario(y, builtin_backends().catalogue()));
    state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_LoadManyDevices)->Arg(1000)->Arg(10000)->Arg(50000)->Unit(benchmark::kMillisecond);

void BM_RunSeedOnIdeal(benchmark::State& state) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    const BackendInfo& ideal = *builtin_backends().find("ideal");
    RunOptions options;
    options.record_events = state.range(0) != 0;
    for (auto _ : state) benchmark::DoNotOptimize(run_scenario(s, ideal, options));
}
BENCHMARK(BM_RunSeedOnIdeal)->ArgName("events")->Arg(1)->Arg(0);

void BM_HostRead64(benchmark::State& state) {
    AddressSpace host("host", Memory::kHostSize);
    for (uint64_t a = 0; a < 64 * 4096; a += 4096) host.write64(a, a);
    uint64_t addr = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(host.read64(addr));
        addr = (addr + 4096 + 8) & (64 * 4096 - 1);
    }
}
BENCHMARK(BM_HostRead64);

// The access pattern of posted-interrupt processing: words of one page (a PID, a vAPIC page).
void BM_HostReadWrite64SamePage(benchmark::State& state) {
    AddressSpace host("host", Memory::kHostSize);
    host.write64(0x1000, 1);
    uint64_t addr = 0x1000;
    for (auto _ : state) {
        uint64_t v = host.read64(addr).value;
        host.write64(addr, v + 1);
        addr = 0x1000 + ((addr + 8) & 0xFF8);
    }
    benchmark::DoNotOptimize(host.read64(0x1000));
}
BENCHMARK(BM_HostReadWrite64SamePage);

void BM_RestoreOrderAt(benchmark::State& state) {
    const MigrationPlan& plan = *builtin_backends().find("ideal")->plan;
    uint64_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(plan.order_at(i));
        i = (i + 1) % plan.count_orders();
    }
}
BENCHMARK(BM_RestoreOrderAt);

}  // namespace
}  // namespace irqdiff
