// The Unicorn ARM guest's glue: MRS/MSR hooks from the AArch64 program to the modelled GIC CPU
// interface, IRQ entry, and reading the handler's log back (arm_gic/guest/unicorn_guest.h).
#include "arm_gic/guest/unicorn_guest.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "arm_gic/guest/aarch64_exception.h"
#include "arm_gic/hw/tables.h"
#include "arm_gic/trace_points.h"
#include "core/bits.h"

namespace irqdiff::arm {

namespace {

// System registers by encoding (op0, op1, CRn, CRm, op2).
struct SysReg {
    uint32_t op0, op1, crn, crm, op2;
    bool is(const uc_arm64_cp_reg& cp) const {
        return cp.op0 == op0 && cp.op1 == op1 && cp.crn == crn && cp.crm == crm && cp.op2 == op2;
    }
};
constexpr SysReg kCntvctEl0{3, 3, 14, 0, 2};

// The GICv3 CPU interface's EL1 registers (IHI 0069 §12.2): op0 = 3, op1 = 0, CRn = 12, CRm >= 8,
// and ICC_PMR_EL1 at CRn = 4 (reference/unicorn_2_0_1.md, AArch64 item 2: CRn = 12 alone also
// matches VBAR_EL1, which QEMU must execute). The model implements the Group 1 acknowledge path,
// the priority mask, the running priority and the group enables; the others are GuestFaults.
enum class Icc : uint8_t { Unmodelled, Iar1, Eoir1, Hppir1, Pmr, Rpr, Igrpen0, Igrpen1 };
enum class Access : uint8_t { ReadOnly, WriteOnly, ReadWrite };
struct IccRegister {
    uint32_t crn, crm, op2;
    const char* name;
    Icc id;
    Access access;
};
constexpr IccRegister kIccRegisters[] = {
    {4, 6, 0, "ICC_PMR_EL1", Icc::Pmr, Access::ReadWrite},
    {12, 8, 0, "ICC_IAR0_EL1", Icc::Unmodelled, Access::ReadOnly},
    {12, 8, 1, "ICC_EOIR0_EL1", Icc::Unmodelled, Access::WriteOnly},
    {12, 8, 2, "ICC_HPPIR0_EL1", Icc::Unmodelled, Access::ReadOnly},
    {12, 8, 3, "ICC_BPR0_EL1", Icc::Unmodelled, Access::ReadWrite},
    {12, 8, 4, "ICC_AP0R0_EL1", Icc::Unmodelled, Access::ReadWrite},
    {12, 8, 5, "ICC_AP0R1_EL1", Icc::Unmodelled, Access::ReadWrite},
    {12, 8, 6, "ICC_AP0R2_EL1", Icc::Unmodelled, Access::ReadWrite},
    {12, 8, 7, "ICC_AP0R3_EL1", Icc::Unmodelled, Access::ReadWrite},
    {12, 9, 0, "ICC_AP1R0_EL1", Icc::Unmodelled, Access::ReadWrite},
    {12, 9, 1, "ICC_AP1R1_EL1", Icc::Unmodelled, Access::ReadWrite},
    {12, 9, 2, "ICC_AP1R2_EL1", Icc::Unmodelled, Access::ReadWrite},
    {12, 9, 3, "ICC_AP1R3_EL1", Icc::Unmodelled, Access::ReadWrite},
    {12, 11, 1, "ICC_DIR_EL1", Icc::Unmodelled, Access::WriteOnly},
    {12, 11, 3, "ICC_RPR_EL1", Icc::Rpr, Access::ReadOnly},
    {12, 11, 5, "ICC_SGI1R_EL1", Icc::Unmodelled, Access::WriteOnly},
    {12, 11, 6, "ICC_ASGI1R_EL1", Icc::Unmodelled, Access::WriteOnly},
    {12, 11, 7, "ICC_SGI0R_EL1", Icc::Unmodelled, Access::WriteOnly},
    {12, 12, 0, "ICC_IAR1_EL1", Icc::Iar1, Access::ReadOnly},
    {12, 12, 1, "ICC_EOIR1_EL1", Icc::Eoir1, Access::WriteOnly},
    {12, 12, 2, "ICC_HPPIR1_EL1", Icc::Hppir1, Access::ReadOnly},
    {12, 12, 3, "ICC_BPR1_EL1", Icc::Unmodelled, Access::ReadWrite},
    {12, 12, 4, "ICC_CTLR_EL1", Icc::Unmodelled, Access::ReadWrite},
    {12, 12, 5, "ICC_SRE_EL1", Icc::Unmodelled, Access::ReadWrite},
    {12, 12, 6, "ICC_IGRPEN0_EL1", Icc::Igrpen0, Access::ReadWrite},
    {12, 12, 7, "ICC_IGRPEN1_EL1", Icc::Igrpen1, Access::ReadWrite},
};

bool is_icc(const uc_arm64_cp_reg& cp) {
    if (cp.op0 != 3 || cp.op1 != 0) return false;
    return (cp.crn == 12 && cp.crm >= 8) || (cp.crn == 4 && cp.crm == 6 && cp.op2 == 0);
}

const IccRegister* find_icc(const uc_arm64_cp_reg& cp) {
    for (const IccRegister& r : kIccRegisters)
        if (r.crn == cp.crn && r.crm == cp.crm && r.op2 == cp.op2) return &r;
    return nullptr;
}

/// For fault messages: "ICC_CTLR_EL1 (S3_0_C12_C12_4)", or the encoding of an unnamed one.
std::string icc_name(const IccRegister* r, const uc_arm64_cp_reg& cp) {
    if (!r) return fmt::format("the ICC register S3_0_C{}_C{}_{}", cp.crn, cp.crm, cp.op2);
    return fmt::format("{} (S3_0_C{}_C{}_{})", r->name, cp.crn, cp.crm, cp.op2);
}

// ICC_EOIR1_EL1.INTID[23:0]; ICC_PMR_EL1.Priority[7:0]; ICC_IGRPEN<n>_EL1.Enable[0].
struct IccFields {
    static constexpr Field<23, 0> Intid{};
    static constexpr Field<7, 0> Priority{};
    static constexpr Field<0> Enable{};
};

/// Resets a pointer when a scope ends, however it ends.
struct ClearOnExit {
    CpuInterface*& p;
    ~ClearOnExit() { p = nullptr; }
};

}  // namespace

UnicornGuest::UnicornGuest(uint32_t vcpus, const GuestOptions& options, EventLog& log)
    : log_(log),
      options_(options),
      machine_(guest_images::arm_guest(), vcpus, "arm", options.budget),
      loop_head_(machine_.image().symbol("mailbox_poll")) {
    hooks_.reserve(vcpus);
    for (uint32_t v = 0; v < vcpus; ++v) {
        hooks_.push_back(HookContext{this, v});
        uc_engine* uc = machine_.cpu(v).engine();
        uc_hook h;
        // reference/unicorn_2_0_1.md, AArch64 item 1: one hook per instruction kind, all addresses.
        if (uc_hook_add(uc, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&UnicornGuest::on_mrs), &hooks_.back(), 1, 0,
                        UC_ARM64_INS_MRS) != UC_ERR_OK ||
            uc_hook_add(uc, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&UnicornGuest::on_msr), &hooks_.back(), 1, 0,
                        UC_ARM64_INS_MSR) != UC_ERR_OK)
            throw std::logic_error("UnicornGuest: uc_hook_add(MRS/MSR) failed");
    }
}

// ---- the MRS/MSR hooks --------------------------------------------------------------------------

uint32_t UnicornGuest::on_mrs(uc_engine*, uc_arm64_reg reg, const uc_arm64_cp_reg* cp, void* user) {
    auto* h = static_cast<HookContext*>(user);
    // On a failure the access is skipped without advancing the PC: the run stops there (guarded()).
    uint32_t handled = 1;
    h->self->machine_.cpu(h->vcpu).guarded([&] { handled = h->self->access(h->vcpu, reg, *cp, true) ? 1 : 0; });
    return handled;
}

uint32_t UnicornGuest::on_msr(uc_engine*, uc_arm64_reg reg, const uc_arm64_cp_reg* cp, void* user) {
    auto* h = static_cast<HookContext*>(user);
    uint32_t handled = 1;
    h->self->machine_.cpu(h->vcpu).guarded([&] { handled = h->self->access(h->vcpu, reg, *cp, false) ? 1 : 0; });
    return handled;
}

bool UnicornGuest::access(uint32_t vcpu, uc_arm64_reg reg, const uc_arm64_cp_reg& cp, bool read) {
    const bool cntvct = read && kCntvctEl0.is(cp);
    if (!cntvct && !is_icc(cp)) return false;  // VBAR_EL1, TPIDR_EL1, DAIF, ...: QEMU executes it
    UnicornCpu& u = machine_.cpu(vcpu);
    const uint64_t pc = u.pc();
    uint64_t value = 0;
    if (cntvct) {
        // reference/unicorn_2_0_1.md, AArch64 item 8: host time would make runs differ; the
        // clock is the event log's length (recorded or not), the same in every identical run.
        value = log_.total();
    } else {
        const IccRegister* r = find_icc(cp);
        const char* insn = read ? "MRS" : "MSR";
        if (!r || r->id == Icc::Unmodelled)
            u.fault(pc, fmt::format("{} of {}, which the modelled GIC CPU interface does not implement", insn,
                                    icc_name(r, cp)));
        if (r->access == (read ? Access::WriteOnly : Access::ReadOnly))
            u.fault(pc, fmt::format("{} of {}, a {} register (UNDEFINED)", insn, icc_name(r, cp),
                                    read ? "write-only" : "read-only"));
        if (!cpu_) throw std::logic_error("UnicornGuest: an ICC access outside a run");
        CpuInterface& cpu = *cpu_;
        ran_dry_ = false;  // set again below only by an ICC_IAR1_EL1 read of 1023
        switch (r->id) {
            case Icc::Iar1:
                value = cpu.read_iar1();
                ran_dry_ = value == kSpuriousIntid;
                if (value != kSpuriousIntid) {
                    // The path as the abstract guest reports it (Guest::take_interrupts).
                    acks_.push_back(Ack{static_cast<uint32_t>(value), delivery_path(cpu.last_ack())});
                    // A handler that acknowledges more than the log ring holds (every vLPI of a
                    // large VPT at one entry) would overwrite entries not read yet: read them
                    // as it goes, half a ring at a time.
                    if (acks_.size() - entries_.size() >= GuestAbi::kLogEntries / 2) machine_.drain_log(vcpu, entries_);
                }
                break;
            case Icc::Eoir1: cpu.write_eoir1(static_cast<uint32_t>(IccFields::Intid.get(cp.val))); break;
            case Icc::Hppir1: value = cpu.read_hppir1(); break;
            case Icc::Pmr:
                if (read)
                    value = cpu.read_pmr();
                else
                    cpu.write_pmr(static_cast<uint8_t>(IccFields::Priority.get(cp.val)));
                break;
            case Icc::Rpr: value = cpu.read_rpr(); break;
            case Icc::Igrpen0:
                if (read)
                    value = cpu.read_igrpen0();
                else
                    cpu.write_igrpen0(IccFields::Enable.get(cp.val));
                break;
            case Icc::Igrpen1:
                if (read)
                    value = cpu.read_igrpen1();
                else
                    cpu.write_igrpen1(IccFields::Enable.get(cp.val));
                break;
            case Icc::Unmodelled: break;
        }
    }
    if (read) u.set_reg(reg, value);
    // reference/unicorn_2_0_1.md, AArch64 item 1: a skipped access does not advance the PC.
    u.set_pc(pc + 4);
    return true;
}

// ---- runs -----------------------------------------------------------------------------------------

void UnicornGuest::run(uint32_t vcpu, CpuInterface& cpu) {
    cpu_ = &cpu;
    ClearOnExit clear{cpu_};
    machine_.run_to_idle(vcpu);
}

void UnicornGuest::boot(uint32_t vcpu, CpuInterface& cpu) {
    UnicornCpu& u = machine_.cpu(vcpu);
    u.set_reg(UC_ARM64_REG_X0, GuestAbi::area(vcpu));  // the boot protocol (guest_aarch64.S)
    run(vcpu, cpu);
}

void UnicornGuest::set_mask(uint32_t vcpu, bool masked, CpuInterface& cpu) {
    machine_.set_mask(vcpu, masked);
    UnicornCpu& u = machine_.cpu(vcpu);
    const uint64_t idle = machine_.idle();
    if (u.pc() != idle) throw std::logic_error("UnicornGuest::set_mask: the vCPU is not in its idle loop");
    // Every run ends at `idle`, and a run that starts where it ends executes nothing, so the vCPU
    // resumes at the idle loop's head, `mailbox_poll`, where the branch at `idle` goes. (Executing
    // that branch alone with uc_emu_start(count = 1) instead would translate `idle` in a run that
    // does not end there, and Unicorn 2.0.1 keeps that translation: later runs would pass `idle`.)
    u.set_pc(loop_head_);
    run(vcpu, cpu);
}

bool UnicornGuest::masked(uint32_t vcpu) { return irq_masked(machine_.cpu(vcpu)); }

void UnicornGuest::enter_irq(uint32_t vcpu) { enter_irq_exception(machine_.cpu(vcpu)); }

unsigned UnicornGuest::deliver(uint32_t vcpu, CpuInterface& cpu, const GuestState& guest, const Scenario& scenario,
                               GuestLog& out) {
    UnicornCpu& u = machine_.cpu(vcpu);
    const uint64_t pc = u.pc();
    enter_irq(vcpu);
    machine_.irq_entry(log_, vcpu, pc, options_.trace_instructions);
    acks_.clear();
    entries_.clear();  // the IAR hook may read part of the log while the handler runs
    run(vcpu, cpu);

    // What the handler logged must be what it acknowledged, in order.
    machine_.drain_log(vcpu, entries_);
    for (size_t i = 0; i < std::max(entries_.size(), acks_.size()); ++i) {
        if (i < entries_.size() && i < acks_.size() && entries_[i].id == acks_[i].intid) continue;
        std::string reason =
            i >= acks_.size()
                ? fmt::format(
                      "the IRQ handler logged INTID {} (entry {} of this interrupt) that it did not acknowledge",
                      entries_[i].id, i)
            : i >= entries_.size()
                ? fmt::format("the IRQ handler acknowledged INTID {} (its acknowledgement {}) but did not log it",
                              acks_[i].intid, i)
                : fmt::format("the IRQ handler logged INTID {} as entry {} but acknowledged INTID {} there",
                              entries_[i].id, i, acks_[i].intid);
        u.fault(u.pc(), reason);
    }
    if (acks_.empty())
        u.fault(pc,
                "the IRQ handler returned without acknowledging the interrupt the CPU interface signals "
                "(it would be entered again forever)");

    for (size_t i = 0; i < entries_.size(); ++i) {
        const uint32_t intid = entries_[i].id;
        const DeliveryPath path = acks_[i].path;
        out.record(GuestRecord{0, vcpu, intid, entries_[i].timestamp, pc});
        if (std::optional<SourceId> s = guest.source_of(intid, vcpu)) {
            log_.emit(tp::kGuestTake.touching(scenario.sources[*s].name), vcpu, intid, to_string(path));
            out.take(vcpu, *s, path);
        } else {
            log_.emit(tp::kGuestTakeError, "an interrupt the guest mapped to no source", vcpu, intid);
        }
    }
    machine_.irq_return(log_, vcpu, entries_.size(), options_.trace_instructions);
    return static_cast<unsigned>(entries_.size());
}

unsigned UnicornGuest::take_interrupts(uint32_t vcpu, CpuInterface& cpu, const GuestState& guest,
                                       const Scenario& scenario, GuestLog& out, RunBudget* budget) {
    RunBudget own;
    RunBudget& steps = budget ? *budget : own;
    unsigned taken = 0;
    // The model decides: an entry only while PSTATE.I is clear and the CPU interface signals an
    // interrupt (ICV_HPPIR1 would not read 1023). A handler whose last access read IAR1 as 1023
    // has already asked, and nothing changed since (the abstract guest stops there too).
    while (!masked(vcpu) && cpu.interrupt_signalled() && steps.spend()) {
        ran_dry_ = false;
        taken += deliver(vcpu, cpu, guest, scenario, out);
        if (ran_dry_) break;
    }
    return taken;
}

}  // namespace irqdiff::arm
