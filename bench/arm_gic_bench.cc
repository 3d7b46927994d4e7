// MSIs translated per second through the bus -> GITS_TRANSLATER -> device table -> ITT -> vPE
// table -> redistributor VPT cache: 64 devices x 256 events spread over 16 vPEs on 4 redistributors
// (issue 3's figure; goal: at least 10 million per second on one core, Release build).
#include <benchmark/benchmark.h>

#include <vector>

#include "arm_gic/hw/gic.h"
#include "core/runner.h"
#include "registry/builtin_backends.h"

namespace irqdiff::arm {
namespace {

constexpr uint32_t kDevices = 64, kEvents = 256, kVpes = 16, kRds = 4;
constexpr uint64_t kQueue = 0x10'0000, kDeviceTable = 0x20'0000, kCollections = 0x30'0000, kVpeTable = 0x40'0000,
                   kItt = 0x100'0000, kVpt = 0x200'0000, kVconf = 0x300'0000;

struct Setup {
    Memory mem;
    EventLog log{false};  // counters only, as the explorer runs
    Gic gic;

    explicit Setup(bool resident) : gic(make_config(), mem.host, log) {
        Its& its = gic.its();
        GitsBaser dt, ct, vt;
        dt.valid = ct.valid = vt.valid = true;
        dt.page_size = vt.page_size = GitsBaser::kPage64K;
        dt.phys_addr = kDeviceTable;
        ct.phys_addr = kCollections;
        vt.phys_addr = kVpeTable;
        its.write64(gits_baser(0), dt.encode());
        its.write64(gits_baser(1), ct.encode());
        its.write64(gits_baser(2), vt.encode());
        its.write64(GITS_CBASER, GitsCbaser::Valid.make(1) | kQueue | GitsCbaser::Size.make(15));
        its.write(GITS_CTLR, 1, 4);
        for (uint32_t v = 0; v < kVpes; ++v) {
            build::Vmapp m;
            m.vpeid = v;
            m.rdbase = static_cast<uint16_t>(v % kRds);
            m.vpt_addr = kVpt + uint64_t{v} * 0x1'0000;
            m.ptz = true;
            m.vconf_addr = kVconf;
            run(build::vmapp(m));
        }
        for (uint32_t d = 0; d < kDevices; ++d) {
            run(build::mapd(d, 7, kItt + uint64_t{d} * 0x1000, true));
            for (uint32_t e = 0; e < kEvents; ++e)
                run(build::vmapti(d, e, (d * kEvents + e) % kVpes, 8192 + d * kEvents + e, kNoDoorbell));
        }
        for (uint32_t i = 8192; i < 8192 + kDevices * kEvents; ++i) mem.host.write8(kVconf + i - 8192, 0xA1);
        if (resident)
            for (uint32_t r = 0; r < kRds; ++r) {
                Vpendbaser41 p;
                p.valid = true;
                p.vgrp1en = true;
                p.vpeid = static_cast<uint16_t>(r);
                gic.rd(r).write64(kGicrVlpiFrame + GICR_VPENDBASER, p.encode());
            }
    }
    static GicConfig make_config() {
        GicConfig c;
        c.redistributor_count = kRds;
        c.dirty_reads = 0;
        return c;
    }
    void run(const ItsCommand& c) {
        if (gic.its().execute(c) != CmdResult::Ok) throw std::logic_error("benchmark setup: command failed");
    }
};

void BM_MsiTranslate(benchmark::State& state) {
    Setup s(state.range(0) != 0);
    const uint64_t translater = s.gic.translater_address(0);
    uint32_t i = 0;
    for (auto _ : state) {
        s.gic.msi(MsiWrite{translater, i % kEvents, i / kEvents % kDevices});
        i = (i * 7 + 13) % (kDevices * kEvents);  // a fixed permutation walk over every (device, event)
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    if (s.log.count(EventKind::Ignored) || s.log.count(EventKind::GuestError))
        state.SkipWithError("translations failed");
}
BENCHMARK(BM_MsiTranslate)->ArgName("resident")->Arg(0)->Arg(1);

/// The same MSIs, each followed by the owning vCPU clearing it again (acknowledge path through the
/// cache), so every translation sets a bit rather than finding it set.
void BM_MsiTranslateAndClear(benchmark::State& state) {
    Setup s(false);
    const uint64_t translater = s.gic.translater_address(0);
    uint32_t i = 0;
    for (auto _ : state) {
        uint32_t d = i / kEvents % kDevices, e = i % kEvents;
        s.gic.msi(MsiWrite{translater, e, d});
        uint32_t vpe = (d * kEvents + e) % kVpes;
        s.gic.rd(vpe % kRds).set_vlpi_pending(vpe, 8192 + d * kEvents + e, false, kNoDoorbell);
        i = (i * 7 + 13) % (kDevices * kEvents);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_MsiTranslateAndClear);

// The seed scenario end to end on the arm backend (boot, migration, delivery), with and without
// the full event log.
void BM_RunSeedOnArm(benchmark::State& state) {
    Scenario scenario = load_scenario(std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/seed/pending_across_migration.yaml",
                                      builtin_backends().catalogue());
    const BackendInfo& arm = *builtin_backends().find("arm");
    RunOptions options;
    options.record_events = state.range(0) != 0;
    if (!run_scenario(scenario, arm, options).expectations_met) state.SkipWithError("the seed's expectations fail");
    for (auto _ : state) benchmark::DoNotOptimize(run_scenario(scenario, arm, options));
}
BENCHMARK(BM_RunSeedOnArm)->ArgName("events")->Arg(1)->Arg(0);

}  // namespace
}  // namespace irqdiff::arm
