// VM entry and exits (arch/x86/kvm/x86.c :: vcpu_enter_guest, vmx.c exit handlers): the PIR sync
// and event injection before entry, the exits the model's guest causes, HLT and blocking, and
// taking a vCPU out of the guest for the host [reference/x86_posted_interrupts_kvm_migration.md
// §4.2, §4.3 ("reference §4")].
#include <stdexcept>

#include "x86_pi/kvm/kvm.h"
#include "x86_pi/trace_points.h"

namespace irqdiff::x86::kvm {

// kvm_check_and_inject_events / vmx_inject_irq: an event a VM exit interrupted is re-injected
// (vmx_complete_interrupts). With APICv the CPU delivers from VIRR itself
// (kvm_cpu_has_injectable_intr ignores the LAPIC); without it KVM moves the highest deliverable
// IRR vector to ISR and injects it, or asks for an interrupt window while RFLAGS.IF=0.
//
// NMIs come first among new events (inject_pending_event): a pending NMI is injected when NMIs are
// not blocked (vmx_nmi_allowed: no virtual-NMI blocking; the STI / MOV-SS shadows are not
// modelled), and then no interrupt is injected at this entry (can_inject); one still pending after
// that, or one that NMI blocking holds back, asks for an NMI window (vmx_enable_nmi_window).
void Kvm::inject_pending(uint32_t vcpu) {
    Vmcs& vm = hw_.cpu(vcpu).vmcs();
    Vcpu& c = s_.vcpus[vcpu];
    if (vm.idt_vectoring_nmi) {
        vm.entry_nmi = vm.idt_vectoring_nmi;
        vm.idt_vectoring_nmi.reset();
        log_.emit(tp::kKvmReinjectNmi, vcpu, Hex{*vm.entry_nmi});
        return;
    }
    if (vm.idt_vectoring) {
        vm.entry_interruption = vm.idt_vectoring;
        vm.idt_vectoring.reset();
        log_.emit(tp::kKvmReinject, vcpu, Hex{*vm.entry_interruption});
        return;
    }
    c.req_event = false;
    if (!c.nmi_pending.empty()) {
        const bool allowed = !vm.blocking_by_nmi;
        if (allowed) {
            vm.entry_nmi = c.nmi_pending.front();
            c.nmi_pending.erase(c.nmi_pending.begin());
            log_.emit(tp::kKvmVmxInjectNmi, vcpu, Hex{*vm.entry_nmi});
        }
        if (!c.nmi_pending.empty()) {
            vm.nmi_window_exiting = true;
            log_.emit(tp::kKvmNmiWindow, vcpu, c.nmi_pending.size());
        }
        if (allowed) return;
    }
    if (s_.config.apicv) {
        vm.interrupt_window_exiting = false;
        return;
    }
    ApicPage p = page(vcpu);
    int v = p.highest(apic::IRR);
    if (v < 0 || static_cast<uint32_t>(v & 0xF0) <= p.read(apic::PPR) || !apic_enabled(vcpu)) {
        vm.interrupt_window_exiting = false;
        return;
    }
    if (!vm.guest_if) {
        vm.interrupt_window_exiting = true;
        return;
    }
    uint8_t vector = static_cast<uint8_t>(v);
    p.clear(apic::IRR, vector);  // kvm_cpu_get_interrupt -> kvm_apic_ack_interrupt
    p.set(apic::ISR, vector);
    update_ppr(vcpu);
    vm.entry_interruption = vector;
    vm.interrupt_window_exiting = false;
    log_.emit(tp::kKvmInject, vcpu, Hex{vector});
}

// kvm_arch_vcpu_ioctl_run: vcpu_load, then vcpu_run. kvm_vcpu_running (mp_state RUNNABLE) enters
// the guest; a HALTED vCPU goes to vcpu_block first.
void Kvm::run(uint32_t vcpu) {
    Vcpu& c = s_.vcpus.at(vcpu);
    if (c.run != VcpuRun::Stopped && c.run != VcpuRun::Runnable)
        throw std::logic_error("Kvm::run: KVM_RUN of a vCPU already in KVM_RUN");
    c.run = VcpuRun::Runnable;
    if (!c.loaded) vcpu_load(vcpu);
    if (c.mp_state == MpState::Halted && vcpu_block(vcpu)) return;
    vcpu_enter(vcpu);
}

// vcpu_block for a HALTED vCPU: the pending timer tick is injected (vcpu_run's
// kvm_inject_pending_timer_irqs); a vCPU with an event (kvm_arch_vcpu_runnable) becomes RUNNABLE
// and goes on, otherwise it blocks in kvm_vcpu_halt and is scheduled out (vcpu_put while blocking).
// Returns whether it blocked.
bool Kvm::vcpu_block(uint32_t vcpu) {
    Vcpu& c = s_.vcpus.at(vcpu);
    if (has_pending_timer(vcpu)) inject_pending_timer(vcpu);
    if (has_events(vcpu)) {
        c.mp_state = MpState::Runnable;
        return false;
    }
    c.run = VcpuRun::Blocked;
    vcpu_put(vcpu, false);
    return true;
}

// vcpu_enter_guest, after vcpu_run injected a pending timer tick (kvm_inject_pending_timer_irqs:
// the loop's every pass, and a pending KVM_REQ_UNBLOCK makes the first entry of a KVM_RUN come
// back to it first).
void Kvm::vcpu_enter(uint32_t vcpu) {
    Vcpu& c = s_.vcpus.at(vcpu);
    Cpu& cpu = hw_.cpu(vcpu);
    if (!c.loaded || cpu.in_guest()) throw std::logic_error("Kvm::vcpu_enter: vCPU not loaded, or already entered");
    if (has_pending_timer(vcpu)) inject_pending_timer(vcpu);
    if (c.req_nmi) process_nmi(vcpu);  // kvm_check_request(KVM_REQ_NMI)
    c.run = VcpuRun::InGuest;
    c.in_guest_mode = true;  // host interrupts off from here to the entry
    sync_pir_to_irr(vcpu);
    inject_pending(vcpu);
    if (VmEntryFailure f = cpu.vm_entry(); f != VmEntryFailure::None)
        throw std::logic_error(std::string("Kvm::vcpu_enter: KVM's VMCS fails the entry checks: ") + to_string(f));
}

void Kvm::handle_exit(uint32_t vcpu, const VmExit& exit) {
    Vcpu& c = s_.vcpus.at(vcpu);
    c.in_guest_mode = false;
    Vmcs& vm = hw_.cpu(vcpu).vmcs();
    switch (exit.reason) {
        case ExitReason::ExternalInterrupt: break;  // the host's handler runs (Host dispatch)
        case ExitReason::InterruptWindow:
            vm.interrupt_window_exiting = false;
            c.req_event = true;
            break;
        case ExitReason::ApicAccess:
            if (exit.read)
                c.emulated_read = handle_apic_read(vcpu, exit);  // for the instruction's destination register
            else
                lapic_write(vcpu, exit.offset, exit.value);
            break;
        case ExitReason::ApicWrite: lapic_write(vcpu, exit.offset, page(vcpu).read(exit.offset)); break;
        case ExitReason::EoiInduced:
            // kvm_apic_set_eoi_accelerated -> kvm_ioapic_send_eoi: the model routes no level-triggered
            // (IOAPIC) interrupts, so KVM's EOI-exit bitmap stays empty and this is never taken.
            log_.emit(tp::kKvmEoiInduced, vcpu, Hex{exit.vector});
            break;
        case ExitReason::Hlt: halt(vcpu); break;
        case ExitReason::NmiWindow:  // handle_nmi_window: the blocked NMI can be injected now
            vm.nmi_window_exiting = false;
            c.req_event = true;
            break;
        case ExitReason::MsrWrite:
            // handle_wrmsr -> kvm_emulate_wrmsr -> kvm_set_msr_common. The model's guests write no
            // other MSR.
            if (exit.offset != kMsrIa32TscDeadline)
                throw std::logic_error("Kvm::handle_exit: WRMSR of an MSR the model's guests never write");
            set_tsc_deadline_msr(vcpu, exit.msr_value, "WRMSR");
            break;
    }
}

std::optional<uint32_t> Kvm::take_emulated_read(uint32_t vcpu) {
    std::optional<uint32_t> v = s_.vcpus.at(vcpu).emulated_read;
    s_.vcpus.at(vcpu).emulated_read.reset();
    return v;
}

void Kvm::resume(uint32_t vcpu) {
    const Vcpu& c = s_.vcpus.at(vcpu);
    if (c.run == VcpuRun::InGuest && !hw_.cpu(vcpu).in_guest()) vcpu_enter(vcpu);
}

// kvm_vcpu_has_events, the interrupt part: an event to re-inject, or, with interrupts allowed
// (RFLAGS.IF), a deliverable LAPIC interrupt (apic_has_interrupt_for_ppr, which syncs PIR first,
// seeing PIR only when ON is set [reference §4.2, §7 item 4]).
//
// NMIs: KVM_REQ_NMI, or a pending NMI that NMI blocking does not hold back.
bool Kvm::has_events(uint32_t vcpu) {
    const Vmcs& vm = hw_.cpu(vcpu).vmcs();
    if (vm.idt_vectoring || vm.entry_interruption || vm.idt_vectoring_nmi || vm.entry_nmi) return true;
    if (const Vcpu& c = s_.vcpus.at(vcpu); c.req_nmi || (!c.nmi_pending.empty() && !vm.blocking_by_nmi)) return true;
    if (!vm.guest_if || !apic_enabled(vcpu)) return false;
    int v = sync_pir_to_irr(vcpu);
    update_ppr(vcpu);
    return v >= 0 && static_cast<uint32_t>(v & 0xF0) > page(vcpu).read(apic::PPR);
}

// kvm_emulate_halt -> kvm_vcpu_halt: mp_state = HALTED, then vcpu_run goes to vcpu_block: the
// vCPU stays running (RUNNABLE again) if it has an event; otherwise it blocks and is scheduled out.
void Kvm::halt(uint32_t vcpu) {
    Vcpu& c = s_.vcpus.at(vcpu);
    c.mp_state = MpState::Halted;
    if (has_pending_timer(vcpu)) inject_pending_timer(vcpu);  // vcpu_run, before vcpu_block
    log_.emit(tp::kKvmHalt, vcpu, !has_events(vcpu));
    vcpu_block(vcpu);
}

// The host takes the vCPU: a blocked one is woken and loaded (kvm_vcpu_block returns; vcpu_block
// finds it still not runnable and KVM_RUN returns, so mp_state stays HALTED), one in the guest is
// kicked out with an IPI (its exit handled here), then vcpu_put.
void Kvm::leave_guest(uint32_t vcpu, bool preempted) {
    Vcpu& c = s_.vcpus.at(vcpu);
    Cpu& cpu = hw_.cpu(vcpu);
    const VcpuRun target = preempted ? VcpuRun::Runnable : VcpuRun::Stopped;
    if (c.run == VcpuRun::Blocked) {
        c.run = VcpuRun::Runnable;
        vcpu_load(vcpu);
    }
    c.run = target;
    if (cpu.in_guest()) {
        hw_.send(InterruptMessage{cpu.apic_id(), kRescheduleVector});
        std::optional<VmExit> exit = cpu.take_exit();
        if (!exit || exit->reason != ExitReason::ExternalInterrupt)
            throw std::logic_error("Kvm::leave_guest: the kick did not make the vCPU exit");
        handle_exit(vcpu, *exit);
        cpu.eoi();                              // the reschedule IPI's handler
        if (exit->vector != kRescheduleVector)  // another host interrupt came first: still to handle
            throw std::logic_error("Kvm::leave_guest: a host interrupt was pending at the kick");
    }
    if (c.loaded) vcpu_put(vcpu, preempted);
}

// KVM_GET_VCPU_EVENTS (kvm_vcpu_ioctl_x86_get_vcpu_events) runs process_nmi first, then reports
// nmi.injected, nmi.pending (x86.vcpu_events_nmi) and nmi.masked (vmx_get_nmi_mask: virtual-NMI
// blocking).
VcpuRegs Kvm::get_regs(uint32_t vcpu) {
    const Vmcs& vm = hw_.cpu(vcpu).vmcs();
    Vcpu& c = s_.vcpus.at(vcpu);
    VcpuRegs r;
    r.rflags_if = vm.guest_if;
    r.injected = vm.idt_vectoring ? vm.idt_vectoring : vm.entry_interruption;
    r.mp_state = c.mp_state;  // kvm_arch_vcpu_ioctl_get_mpstate
    // KVM calls process_nmi unconditionally; with nothing queued it changes nothing, so the model
    // skips it (and its event, which would otherwise be in every run's log).
    if (c.req_nmi || !c.nmi_queued.empty()) process_nmi(vcpu);
    r.nmi_pending = c.nmi_pending;
    if (s_.config.nmi_pending_abi == NmiPendingAbi::Flag && r.nmi_pending.size() > 1) r.nmi_pending.resize(1);
    r.nmi_injected = nmi_injected(vcpu);
    r.nmi_masked = vm.blocking_by_nmi;
    return r;
}

const Policy<NmiPendingAbi> kNmiPendingAbiPolicy{
    "x86.vcpu_events_nmi",
    "x86",
    {{"count", NmiPendingAbi::Count}, {"flag", NmiPendingAbi::Flag}},
    NmiPendingAbi::Count,
    "what KVM_GET_VCPU_EVENTS reports in nmi.pending: every pending NMI (count), or only whether one is "
    "pending (flag), so that a second NMI process_nmi let pend is not migrated",
    "count: ab2ee212a57b \"KVM: x86: Save/restore all NMIs when multiple NMIs are pending\" (Sean "
    "Christopherson, AMD vNMI series, Linux 6.4: kvm_get_nr_pending_nmis; KVM_SET_VCPU_EVENTS queues them "
    "and requests KVM_REQ_NMI); flag: `nmi.pending = vcpu->arch.nmi_pending != 0` since 7460fb4a3400 "
    "\"KVM: Fix simultaneous NMIs\" (v3.2), which let two NMIs pend"};

// process_nmi: nmi_pending += nmi_queued, then capped: two while NMIs are not blocked and no NMI
// injection is outstanding ("KVM will immediately inject one of the two NMIs, and will request an
// NMI window to handle the second"), one otherwise; the rest coalesce, as on bare metal, where at
// most one NMI is held pending behind one in service (SDM Vol. 3A §6.7.1). KVM_REQ_EVENT if any.
// (AMD's vNMI is not modelled: VMX.)
void Kvm::process_nmi(uint32_t vcpu) {
    Vcpu& c = s_.vcpus.at(vcpu);
    const Vmcs& vm = hw_.cpu(vcpu).vmcs();
    c.req_nmi = false;
    const size_t limit = vm.blocking_by_nmi || nmi_injected(vcpu) ? 1 : 2;
    c.nmi_pending.insert(c.nmi_pending.end(), c.nmi_queued.begin(), c.nmi_queued.end());
    c.nmi_queued.clear();
    size_t coalesced = 0;
    if (c.nmi_pending.size() > limit) {
        coalesced = c.nmi_pending.size() - limit;
        c.nmi_pending.resize(limit);
    }
    log_.emit(tp::kKvmProcessNmi, vcpu, c.nmi_pending.size(), limit, coalesced);
    if (!c.nmi_pending.empty()) c.req_event = true;
}

std::optional<uint8_t> Kvm::nmi_injected(uint32_t vcpu) const {
    const Vmcs& vm = hw_.cpu(vcpu).vmcs();
    return vm.idt_vectoring_nmi ? vm.idt_vectoring_nmi : vm.entry_nmi;
}

void Kvm::set_regs(uint32_t vcpu, const VcpuRegs& regs) {
    Vmcs& vm = hw_.cpu(vcpu).vmcs();
    vm.guest_if = regs.rflags_if;
    vm.idt_vectoring = regs.injected;  // re-injected at the next entry
    vm.entry_interruption.reset();
    log_.emit(tp::kKvmSetRegs, vcpu, regs.rflags_if, Hex{regs.injected.value_or(0)});
    // KVM_SET_VCPU_EVENTS with KVM_VCPUEVENT_VALID_NMI_PENDING (QEMU at KVM_PUT_RESET_STATE and above):
    // nmi_injected (re-injected at the next entry), nmi_pending = 0 and nmi_queued = nmi.pending with
    // KVM_REQ_NMI if any (the vNMI series of 6.4; "only if pending": Prasad Pandit, 6.8; process_nmi
    // re-applies the limit), and the NMI mask. Before 6.4 it ran process_nmi and then set nmi_pending =
    // nmi.pending. Either way an NMI queued on this vCPU before the ioctl is overwritten: a device that
    // runs before the VMM puts the vCPU events loses its NMI.
    {
        Vcpu& c = s_.vcpus.at(vcpu);
        vm.idt_vectoring_nmi = regs.nmi_injected;
        vm.entry_nmi.reset();
        // Before ab2ee212a57b (x86.vcpu_events_nmi=flag) nmi.pending went into nmi_pending as it was.
        if (s_.config.nmi_pending_abi == NmiPendingAbi::Flag) {
            c.nmi_pending = regs.nmi_pending;
            c.nmi_queued.clear();
            c.req_nmi = false;
        } else {
            c.nmi_pending.clear();
            c.nmi_queued = regs.nmi_pending;
            c.req_nmi = !c.nmi_queued.empty();
        }
        vm.blocking_by_nmi = regs.nmi_masked;
        // Logged only when the events carry NMI state, so runs without NMIs keep their traces.
        if (!regs.nmi_pending.empty() || regs.nmi_injected || regs.nmi_masked)
            log_.emit(tp::kKvmSetVcpuEventsNmi, vcpu, regs.nmi_pending.size(), regs.nmi_injected.has_value(),
                      regs.nmi_masked);
    }
    // kvm_put_mp_state -> KVM_SET_MP_STATE (kvm_arch_vcpu_ioctl_set_mpstate), after the vCPU events.
    Vcpu& c = s_.vcpus.at(vcpu);
    c.mp_state = regs.mp_state;
    c.req_event = true;
    log_.emit(tp::kKvmSetMpState, vcpu, to_string(regs.mp_state));
}

}  // namespace irqdiff::x86::kvm
