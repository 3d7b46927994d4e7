// The explorer's throughput (issue 6): complete migration schedules explored per second on the
// seed scenario, both architectures, every admissible restore order (645 schedules: 5 ARM transfer
// points x 120 orders, and x86's 45), prefix sharing included. With 2 threads each explores its
// half of the range independently (as `irqdiff explore --jobs 2` or two Dask workers would), which
// shows how the figure scales from one core to two.
#include <benchmark/benchmark.h>

#include "core/explorer.h"
#include "registry/builtin_backends.h"

namespace irqdiff {
namespace {

const std::string kSeed = std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/seed/pending_across_migration.yaml";

void BM_ExploreSeedAllOrders(benchmark::State& state) {
    static const Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    ExploreOptions o;
    o.arches = {"arm", "x86"};
    o.policy = {parse_policy_assignment(builtin_backends().policies(), "arm.transfer=all", "--policy")};
    o.order = "all";
    ExploreSpace space(s, builtin_backends(), o);
    const uint64_t n = space.size();
    const uint64_t lo = n * static_cast<uint64_t>(state.thread_index()) / static_cast<uint64_t>(state.threads());
    const uint64_t hi = n * static_cast<uint64_t>(state.thread_index() + 1) / static_cast<uint64_t>(state.threads());
    for (auto _ : state) benchmark::DoNotOptimize(space.explore(lo, hi));
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(hi - lo));
    state.counters["schedules"] = static_cast<double>(hi - lo);
}
BENCHMARK(BM_ExploreSeedAllOrders)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// The same schedules, each run from the start by the plain runner (no prefix sharing): what the
// snapshots save.
void BM_RunSeedAllOrdersFromScratch(benchmark::State& state) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    ExploreOptions o;
    o.arches = {"arm", "x86"};
    o.policy = {parse_policy_assignment(builtin_backends().policies(), "arm.transfer=all", "--policy")};
    o.order = "all";
    ExploreSpace space(s, builtin_backends(), o);
    for (auto _ : state)
        for (uint64_t i = 0; i < space.size(); ++i) {
            ScheduleCoord c = space.decode(i);
            const ExploreBlock& b = space.blocks()[c.block];
            Schedule schedule = space.lower(c);
            Execution run(s, *b.backend, b.policies[c.policy], false, false);
            for (uint32_t a = 0; a < schedule.actions.size(); ++a) run.step(schedule.actions[a], a);
            benchmark::DoNotOptimize(run.outcomes());
        }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(space.size()));
}
BENCHMARK(BM_RunSeedAllOrdersFromScratch)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace irqdiff
