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
#include <type_traits>

#include "core/guest_program.h"
#include "core/runner.h"
#include "registry/builtin_backends.h"

namespace irqdiff::guest_images {
const GuestImage& arm_guest();
const GuestImage& x86_guest();
}  // namespace irqdiff::guest_images

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
    Scenario s = parse_scenario(kScenario, builtin_backends().catalogue(), "bench");
    const BackendInfo& info = *builtin_backends().find(arch);
    PolicyValues policy = resolve_policy(builtin_backends().find(arch)->policies, s.policy, {});
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

// ---- the bare loops: the same programs, no model ----------------------------------------------------

/// AArch64: MRS/MSR of the ICC registers answered by constants (IAR1 gives INTID 8192, then 1023),
/// CNTVCT_EL0 a counter; the glue's exception entry written out (reference/unicorn_2_0_1.md,
/// AArch64 items 1 and 5).
struct BareArm {
    GuestMachine m{guest_images::arm_guest(), 1, "arm", 100'000};
    bool pending = false;
    uint64_t clock = 0;

    static uint32_t on_sys(uc_engine*, uc_arm64_reg reg, const uc_arm64_cp_reg* cp, void* user) {
        auto* b = static_cast<BareArm*>(user);
        UnicornCpu& c = b->m.cpu(0);
        const bool icc =
            cp->op0 == 3 && cp->op1 == 0 && ((cp->crn == 12 && cp->crm >= 8) || (cp->crn == 4 && cp->crm == 6));
        const bool cntvct = cp->op0 == 3 && cp->op1 == 3 && cp->crn == 14 && cp->crm == 0 && cp->op2 == 2;
        if (!icc && !cntvct) return 0;
        if (cntvct) {
            c.set_reg(reg, ++b->clock);
        } else if (cp->crn == 12 && cp->crm == 12 && cp->op2 == 0) {  // IAR1
            c.set_reg(reg, b->pending ? 8192 : 1023);
            b->pending = false;
        }
        c.set_pc(c.pc() + 4);
        return 1;
    }

    BareArm() {
        uc_hook h;
        for (int insn : {UC_ARM64_INS_MRS, UC_ARM64_INS_MSR})
            if (uc_hook_add(m.cpu(0).engine(), &h, UC_HOOK_INSN, reinterpret_cast<void*>(&on_sys), this, 1, 0, insn))
                throw std::logic_error("BareArm: uc_hook_add");
        m.cpu(0).set_reg(UC_ARM64_REG_X0, GuestAbi::area(0));
        m.run_to_idle(0);
    }
    void interrupt() {
        UnicornCpu& c = m.cpu(0);
        pending = true;
        c.set_reg(UC_ARM64_REG_ELR_EL1, c.pc());
        c.set_sysreg(3, 0, 4, 0, 0, c.reg(UC_ARM64_REG_PSTATE));  // SPSR_EL1
        c.set_reg(UC_ARM64_REG_PSTATE, 0x3c5);
        c.set_pc(c.reg(UC_ARM64_REG_VBAR_EL1) + 0x280);
        m.run_to_idle(0);
    }
};

/// x86-64: the xAPIC page answered by constants (every ISR bit set, writes dropped); the glue's
/// interrupt entry written out: gate offset from the IDT, the 64-bit frame, IF cleared
/// (x86-64 items 2 and 4).
struct BareX86 {
    GuestMachine m{guest_images::x86_guest(), 1, "x86", 100'000};

    static uint64_t on_read(uc_engine*, uint64_t, unsigned, void*) { return 0xFFFF'FFFF; }
    static void on_write(uc_engine*, uint64_t, unsigned, uint64_t, void*) {}

    BareX86() {
        if (uc_mmio_map(m.cpu(0).engine(), 0xFEE0'0000, 0x1000, &on_read, this, &on_write, this))
            throw std::logic_error("BareX86: uc_mmio_map");
        m.cpu(0).set_reg(UC_X86_REG_RDI, GuestAbi::area(0));
        m.run_to_idle(0);
    }
    void interrupt(uint8_t vector) {
        UnicornCpu& c = m.cpu(0);
        GuestRam& ram = m.ram();
        m.set_clock(0, m.ram().load<uint64_t>(GuestAbi::area(0) + GuestAbi::kClock) + 1);
        uc_x86_mmr idtr{};
        c.reg_struct(UC_X86_REG_IDTR, &idtr);
        const uint64_t lo = ram.load<uint64_t>(idtr.base + 16 * vector),
                       hi = ram.load<uint64_t>(idtr.base + 16 * vector + 8);
        const uint64_t offset = (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF'0000) | (hi << 32);
        const uint64_t rsp = c.reg(UC_X86_REG_RSP), frame = (rsp & ~uint64_t{0xF}) - 40;
        const uint64_t rflags = c.reg(UC_X86_REG_RFLAGS);
        ram.store<uint64_t>(frame, c.pc());
        ram.store<uint64_t>(frame + 8, c.reg(UC_X86_REG_CS));
        ram.store<uint64_t>(frame + 16, rflags);
        ram.store<uint64_t>(frame + 24, rsp);
        ram.store<uint64_t>(frame + 32, c.reg(UC_X86_REG_SS));
        c.set_reg(UC_X86_REG_RSP, frame);
        c.set_reg(UC_X86_REG_RFLAGS, rflags & ~uint64_t{0x200});
        c.set_pc(offset);
        m.run_to_idle(0);
    }
};

template <class Bare>
void BM_GuestAckBare(benchmark::State& state) {
    Bare bare;
    std::vector<GuestLogEntry> log;
    for (auto _ : state) {
        if constexpr (std::is_same_v<Bare, BareArm>)
            bare.interrupt();
        else
            bare.interrupt(0x21);
        log.clear();
        bare.m.drain_log(0, log);
        if (log.size() != 1) throw std::logic_error("BM_GuestAckBare: the handler did not log the interrupt");
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK_TEMPLATE(BM_GuestAckBare, BareArm)->Name("BM_GuestAckBare/arm");
BENCHMARK_TEMPLATE(BM_GuestAckBare, BareX86)->Name("BM_GuestAckBare/x86");

}  // namespace
}  // namespace irqdiff
