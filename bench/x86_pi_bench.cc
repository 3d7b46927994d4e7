// Posted MSIs per second through the whole x86 path (issue 5's figure; goal: at least 10 million
// per second on one core, Release build): remappable MSI -> IRTE lookup (IEC) -> PID update
// (VT-d §5.2.3) -> notification on the bus -> posted-interrupt processing in VMX non-root
// (SDM §29.6) -> virtual-interrupt delivery to the guest (SDM §29.2.2) -> EOI virtualization.
// 256 posted IRTEs spread over 4 vCPUs in guest mode on 4 pCPUs, 64 guest vectors each.
#include <benchmark/benchmark.h>

#include <stdexcept>

#include "core/runner.h"
#include "registry/builtin_backends.h"
#include "x86_pi/hw/platform.h"

namespace irqdiff::x86 {
namespace {

constexpr unsigned kCpus = 4, kIrtes = 256;
constexpr uint64_t kIrt = 0x100'0000, kPids = 0x200'0000, kPages = 0x300'0000;
constexpr uint8_t kPinv = 0xF2;

struct Setup {
    Memory mem;
    EventLog log{false};  // counters only, as the explorer runs
    Platform hw{kCpus, mem.host, log};
    std::vector<MsiWrite> msis;  // bus writes (core/bus.h)

    explicit Setup(bool suppressed) {
        Iommu& iommu = hw.iommu();
        iommu.write_irta(IrtaReg::IRTA.set(0, kIrt >> 12) | IrtaReg::S.make(7));  // 256 entries
        iommu.set_irtp();
        iommu.enable(true);
        for (unsigned c = 0; c < kCpus; ++c) {
            PiDesc d;
            d.nv = kPinv;
            d.ndst = ndst_for_apic_id(c, false);
            d.sn = suppressed;
            write_pi_desc(mem.host, kPids + 64 * c, d);
            Vmcs& vm = hw.cpu(c).vmcs();
            vm.external_interrupt_exiting = vm.ack_interrupt_on_exit = true;
            vm.process_posted_interrupts = vm.virtual_interrupt_delivery = vm.apic_register_virtualization = true;
            vm.pinv = kPinv;
            vm.pid_addr = kPids + 64 * c;
            vm.virtual_apic_addr = kPages + 0x1000 * c;
            vm.guest_if = true;
            if (hw.cpu(c).vm_entry() != VmEntryFailure::None) throw std::logic_error("benchmark setup: VM entry");
        }
        for (uint32_t i = 0; i < kIrtes; ++i) {
            PostedIrte e;
            e.present = true;
            e.vv = static_cast<uint8_t>(0x21 + i / kCpus);
            e.pda = kPids + 64 * (i % kCpus);
            e.svt = 1;
            e.sid = 0x100;
            IrteWords w = e.encode();
            mem.host.write64(iommu.entry_address(i), w.low);
            mem.host.write64(iommu.entry_address(i) + 8, w.high);
            msis.push_back(MsiWrite{RemappableMsi::address(static_cast<uint16_t>(i)), 0, 0x100});
        }
    }
};

// The full path: every MSI is posted, notified, processed and taken by the guest, which EOIs.
void BM_PostedMsiDelivered(benchmark::State& state) {
    Setup s(false);
    uint32_t i = 0;
    int64_t wrong = 0;  // MSIs the guest did not take as the IRTE's vector
    for (auto _ : state) {
        s.hw.msi(s.msis[i]);
        Cpu& cpu = s.hw.cpu(i % kCpus);
        std::optional<uint8_t> v = cpu.guest_interrupt();
        wrong += v != 0x21 + i / kCpus;
        cpu.guest_apic_write(apic::EOI, 0);
        i = (i * 7 + 13) % kIrtes;  // a fixed permutation walk over every IRTE
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    if (wrong) state.SkipWithError("some MSI was not delivered as its vector");
    if (s.log.count(EventKind::GuestError) || s.log.count(EventKind::Ignored)) state.SkipWithError("requests failed");
}
BENCHMARK(BM_PostedMsiDelivered);

// The IOMMU half alone: posts under SN=1 set PIR bits (coalescing after the first of each) and
// notify nothing.
void BM_PostedMsiSuppressed(benchmark::State& state) {
    Setup s(true);
    uint32_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(s.hw.msi(s.msis[i]));
        i = (i * 7 + 13) % kIrtes;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    if (s.log.count(EventKind::GuestError) || s.log.count(EventKind::Ignored)) state.SkipWithError("requests failed");
}
BENCHMARK(BM_PostedMsiSuppressed);

// The seed scenario end to end on the x86 backend (boot, migration, delivery), with and without
// the full event log.
void BM_RunSeedOnX86(benchmark::State& state) {
    Scenario scenario = load_scenario(std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/seed/pending_across_migration.yaml",
                                      builtin_backends().catalogue());
    const BackendInfo& x86 = *builtin_backends().find("x86");
    RunOptions options;
    options.record_events = state.range(0) != 0;
    if (!run_scenario(scenario, x86, options).expectations_met) state.SkipWithError("the seed's expectations fail");
    for (auto _ : state) benchmark::DoNotOptimize(run_scenario(scenario, x86, options));
}
BENCHMARK(BM_RunSeedOnX86)->ArgName("events")->Arg(1)->Arg(0);

}  // namespace
}  // namespace irqdiff::x86
