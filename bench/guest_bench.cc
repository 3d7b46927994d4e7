// Guest-acknowledged interrupts per second per core with real guest code (issue 7; goal: at least
// 1 million per second and within 1.5x of the bare loop), Release build, event recording off as
// in the explorer:
//   BM_GuestAck/{arm,x86}: the whole path. A passthrough device fires (MSI -> ITS / IOMMU ->
//     VPT / PIR), the vCPU runs: the model says an interrupt is deliverable, the glue enters the
//     Unicorn guest's handler, which acknowledges (ICC_IAR1_EL1 / the vector), logs and EOIs
//     (ICC_EOIR1_EL1 / xAPIC EOI) through the model; the glue reads the guest's log back.
//   BM_GuestAckBare/{arm,x86}: the same guest program and handler in the same engines with
//     interrupts injected by hand and the interrupt controller answered by constants: no model.
#include <benchmark/benchmark.h>

#include <stdexcept>

#include "core/runner.h"

namespace irqdiff {
namespace {

const char* kScenario = R"(
name: guest-ack-bench
vm: {vcpus: 1}
devices:
  - {name: nic, vectors: 1, passthrough: true}
routes:
  - {source: nic.0, vcpu: 0}
steps:
  - run: all
)";

void BM_GuestAck(benchmark::State& state, const char* arch) {
    Scenario s = parse_scenario(kScenario, "bench");
    const BackendInfo& info = *builtin_backends().find(arch);
    PolicyValues policy = resolve_policy(arch, s.policy, {});
    EventLog log(false);
    GuestLog guest;
    GuestOptions options;
    options.kind = GuestKind::Unicorn;
    std::unique_ptr<Backend> backend = info.make(BackendContext{s, policy, log, guest, options});
    Action run{StepKind::Run};
    run.vcpu = 0;
    Action fire{StepKind::Fire};
    fire.source = 0;
    backend->apply(run);
    size_t taken = 0;
    for (auto _ : state) {
        backend->apply(fire);
        backend->apply(run);
        if (guest.size() != ++taken) throw std::logic_error("BM_GuestAck: the guest did not take the interrupt");
        if (taken == 4096) {  // keep the logs small
            guest.rewind(GuestLog::Mark{});
            taken = 0;
        }
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_GuestAck, arm, "arm");
BENCHMARK_CAPTURE(BM_GuestAck, x86, "x86");

}  // namespace
}  // namespace irqdiff
