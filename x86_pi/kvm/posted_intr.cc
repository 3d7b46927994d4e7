// The posted-interrupt descriptor over a vCPU's life (arch/x86/kvm/vmx/posted_intr.c) and KVM's
// own posting (vmx/common.h, vmx.c) [reference/x86_posted_interrupts_kvm_migration.md §4.1-§4.3
// ("reference §4")]: vCPU load and put (SN, NDST, the wakeup vector and list), the wakeup handler,
// the PIR -> IRR sync before every entry, and __apic_accept_irq / vmx_deliver_interrupt.
#include <stdexcept>

#include "x86_pi/kvm/kvm.h"
#include "x86_pi/trace_points.h"

namespace irqdiff::x86::kvm {

PiDesc Kvm::pid(uint32_t vcpu) const {
    PiDescRead r = read_pi_desc(mem_, HostLayout::pid(vcpu));
    if (!r.ok()) throw std::logic_error("Kvm: posted-interrupt descriptor outside host memory");
    return r.value;
}

void Kvm::write_pid(uint32_t vcpu, const PiDesc& d) {
    if (!write_pi_desc(mem_, HostLayout::pid(vcpu), d).ok())
        throw std::logic_error("Kvm: posted-interrupt descriptor outside host memory");
}

// pi_apicv_pre_state_restore (and, for after_load, the older post_state_restore): ON and PIR
// zeroed [reference §5.3 step 1, §7 items 1-2].
void Kvm::pi_clear(uint32_t vcpu, const Op<Int, Int, Hex>& point) {
    PiDesc d = pid(vcpu);
    int highest = d.pir.highest();
    size_t dropped = d.pir.count();
    d.on = false;
    d.pir.reset();
    write_pid(vcpu, d);
    log_.emit(point, vcpu, dropped, Hex{static_cast<uint64_t>(highest < 0 ? 0 : highest)});
}

// vmx_vcpu_pi_load [reference §4.3]: fast path (same pCPU, not the wakeup vector) clears SN;
// otherwise leave the old pCPU's wakeup list and set NDST, SN=0, NV=POSTED_INTR_VECTOR. Then, SN
// clear before the PIR is read, re-set ON if PIR is not empty, so posts made under SN=1 are seen.
void Kvm::vcpu_load(uint32_t vcpu) {
    Vcpu& c = s_.vcpus.at(vcpu);
    if (c.loaded) throw std::logic_error("Kvm::vcpu_load: already loaded");
    c.loaded = true;
    const int cpu = static_cast<int>(vcpu);  // vCPU n runs on pCPU n
    if (!s_.config.apicv) {
        c.cpu = cpu;
        return;
    }
    PiDesc d = pid(vcpu);
    bool tail = true;
    if (d.nv != kPostedIntrWakeupVector && c.cpu == cpu) {
        tail = d.sn;
        d.sn = false;
    } else {
        if (d.nv == kPostedIntrWakeupVector && c.on_wakeup_list) {
            auto& list = s_.wakeup_lists.at(static_cast<size_t>(c.cpu));
            std::erase(list, vcpu);
            c.on_wakeup_list = false;
        }
        d.ndst = ndst_for_apic_id(hw_.cpu(static_cast<unsigned>(cpu)).apic_id(), hw_.iommu().x2apic());
        d.sn = false;
        d.nv = kPostedIntrVector;
    }
    bool set_on = tail && d.pir.any() && !d.on;
    if (set_on) d.on = true;
    write_pid(vcpu, d);
    c.cpu = cpu;
    log_.emit(tp::kKvmPiLoad, vcpu, Hex{d.ndst}, d.on, d.pir.any(), set_on);
}

// Which puts set SN (read by vcpu_put below). 6737557442e5 "KVM: VMX: Suppress PI notifications
// whenever the vCPU is put" (X1 19/62, kvm-x86 `irqs`, 6.17 cycle; reference/kernel_history X1):
// KVM neither acts on a notification that reaches the host nor relies on ON while the vCPU is
// unloaded, and vmx_vcpu_pi_load's PIR scan re-derives ON, so every put that does not arm the
// wakeup vector sets SN. Before it vmx_vcpu_pi_put set SN only `if (vcpu->preempted)`: a vCPU
// that merely left KVM_RUN (QEMU pausing it, or the vcpu_put that ends an ioctl such as
// KVM_GET_LAPIC) kept SN=0, so a post set ON and notified its pCPU, where the host's
// sysvec_kvm_posted_intr_ipi does nothing and ON waits for the next sync.
const Policy<SnOnPut> kSnOnPutPolicy{
    "x86.sn_on_put",
    "x86",
    {{"always", SnOnPut::Always}, {"preempted_only", SnOnPut::PreemptedOnly}},
    SnOnPut::Always,
    "which vCPU puts set PID.SN: every put that does not arm the wakeup vector (6737557442e5, 6.17 cycle: "
    "posts to a paused vCPU land in PIR with ON clear and only vmx_vcpu_pi_load's PIR scan re-arms ON), or only "
    "a preempted vCPU's (before it: a paused vCPU's posts set ON and notify its pCPU)",
    "vmx_vcpu_pi_put; 6737557442e5 \"KVM: VMX: Suppress PI notifications whenever the vCPU is put\""};

// vmx_vcpu_pi_put [reference §4.3], when posting can target the vCPU (vmx_needs_pi_wakeup): a
// vCPU blocking with interrupts enabled switches NV to the wakeup vector and joins this pCPU's
// wakeup list (if ON is already set, a self-IPI with the wakeup vector); otherwise SN=1 — on
// every such put (x86.sn_on_put=always) or only a preempted vCPU's (preempted_only).
void Kvm::vcpu_put(uint32_t vcpu, bool preempted) {
    Vcpu& c = s_.vcpus.at(vcpu);
    if (!c.loaded) throw std::logic_error("Kvm::vcpu_put: not loaded");
    c.loaded = false;
    if (!needs_pi_wakeup()) return;
    PiDesc d = pid(vcpu);
    const bool blocking = !preempted && c.run == VcpuRun::Blocked && hw_.cpu(vcpu).vmcs().guest_if;
    if (blocking) {
        s_.wakeup_lists.at(static_cast<size_t>(c.cpu)).push_back(vcpu);
        c.on_wakeup_list = true;
        d.nv = kPostedIntrWakeupVector;
    } else if (preempted || s_.config.sn_on_put == SnOnPut::Always) {
        d.sn = true;
    }
    write_pid(vcpu, d);
    log_.emit(tp::kKvmPiPut, vcpu, preempted, blocking, d.sn, d.on);
    if (blocking && d.on)
        hw_.send(InterruptMessage{hw_.cpu(static_cast<unsigned>(c.cpu)).apic_id(), kPostedIntrWakeupVector});
}

// vmx_sync_pir_to_irr [reference §4.2]: only when ON is set: clear ON, then harvest PIR into IRR.
// With APICv, RVI = the highest IRR vector (0 if none).
int Kvm::sync_pir_to_irr(uint32_t vcpu) {
    ApicPage p = page(vcpu);
    if (s_.config.apicv) {
        PiDesc d = pid(vcpu);
        if (d.on) {
            d.on = false;
            write_pid(vcpu, d);  // ON first: a post racing with the harvest notifies again
            BitArray<256> pir = d.pir;
            d.pir.reset();
            write_pid(vcpu, d);
            for (unsigned chunk = 0; chunk < 8; ++chunk) {
                uint32_t bits = static_cast<uint32_t>(pir.word(chunk / 2) >> (32 * (chunk % 2)));
                if (!bits) continue;
                uint32_t at = apic::IRR + 0x10 * chunk;
                p.write(at, p.read(at) | bits);
            }
            log_.emit(tp::kKvmSyncPirToIrr, vcpu, pir.count(), Hex{static_cast<uint64_t>(std::max(pir.highest(), 0))});
        }
    }
    int max_irr = p.highest(apic::IRR);
    if (s_.config.apicv) hw_.cpu(vcpu).vmcs().rvi = static_cast<uint8_t>(max_irr < 0 ? 0 : max_irr);
    return max_irr;
}

// pi_wakeup_handler: wake every vCPU on this pCPU's wakeup list whose ON is set.
void Kvm::pi_wakeup_handler(unsigned cpu) {
    log_.emit(tp::kKvmPiWakeupHandler, cpu);
    for (uint32_t v : s_.wakeup_lists.at(cpu))
        if (pid(v).on) wake_up(v);
}

void Kvm::wake_up(uint32_t vcpu) {
    Vcpu& c = s_.vcpus.at(vcpu);
    if (c.run != VcpuRun::Blocked) return;
    // kvm_vcpu_check_block also wakes for a pending timer tick (kvm_cpu_has_pending_timer): vcpu_run
    // injects it (kvm_inject_pending_timer_irqs), whose delivery wakes the vCPU below.
    if (has_pending_timer(vcpu)) {
        inject_pending_timer(vcpu);
        if (c.run != VcpuRun::Blocked) return;
    }
    // kvm_vcpu_block: the woken thread re-checks kvm_vcpu_check_block -> kvm_arch_vcpu_runnable and
    // sleeps again unless an interrupt is deliverable over PPR (reference §4.2: the PIR sync of
    // apic_has_interrupt_for_ppr), e.g. when the guest's TPR masks the posted vector.
    if (!has_events(vcpu)) {
        log_.emit(tp::kKvmWakeUpStillBlocked, vcpu, true);
        return;
    }
    c.run = VcpuRun::Runnable;
    c.mp_state = MpState::Runnable;  // vcpu_block: HALTED -> RUNNABLE
    log_.emit(tp::kKvmWakeUp, vcpu);
}

// kvm_vcpu_kick: wake it, and if it is in guest mode send it an IPI so it exits and sees the request.
void Kvm::kick(uint32_t vcpu) {
    wake_up(vcpu);
    if (s_.vcpus.at(vcpu).in_guest_mode) hw_.send(InterruptMessage{hw_.cpu(vcpu).apic_id(), kRescheduleVector});
}

// __vmx_deliver_posted_interrupt [reference §4.1]: PIR bit already set -> done; else set ON, and
// if ON was clear, notify: an IPI with POSTED_INTR_VECTOR when the vCPU is in guest mode, a
// wake-up otherwise (the entry sync will find ON). Software posting ignores SN.
void Kvm::deliver_posted_interrupt(uint32_t vcpu, uint8_t vector) {
    PiDesc d = pid(vcpu);
    if (d.pir.test(vector)) {
        log_.emit(tp::kKvmDeliverPostedCoalesced, vcpu, Hex{vector}, true);
        return;
    }
    d.pir.set(vector);
    const bool notify = !d.on;
    d.on = true;
    write_pid(vcpu, d);
    const bool ipi = notify && s_.vcpus[vcpu].in_guest_mode;
    log_.emit(tp::kKvmDeliverPosted, vcpu, Hex{vector}, false, notify, ipi);
    if (!notify) return;
    if (ipi)
        hw_.send(InterruptMessage{hw_.cpu(vcpu).apic_id(), kPostedIntrVector});
    else
        wake_up(vcpu);
}

// __apic_accept_irq for APIC_DM_FIXED, then vmx_deliver_interrupt [reference §4.1, §6]: the
// software TMR follows the trigger mode; posted when APICv is active, otherwise IRR,
// KVM_REQ_EVENT and a kick. A software-disabled APIC accepts nothing.
void Kvm::accept_irq(uint32_t vcpu, uint8_t vector, bool level, const char* via) {
    if (!apic_enabled(vcpu)) {
        log_.emit(tp::kKvmAcceptIrqIgnored,
                  "a software-disabled local APIC accepts no fixed interrupt (__apic_accept_irq)", vcpu, Hex{vector},
                  via);
        return;
    }
    ApicPage p = page(vcpu);
    if (level)
        p.set(apic::TMR, vector);
    else
        p.clear(apic::TMR, vector);
    s_.vcpus[vcpu].soft.set(vector);
    log_.emit(tp::kKvmAcceptIrq, vcpu, Hex{vector}, via);
    if (s_.config.apicv) {
        deliver_posted_interrupt(vcpu, vector);
        return;
    }
    p.set(apic::IRR, vector);
    s_.vcpus[vcpu].req_event = true;
    kick(vcpu);
}

// __apic_accept_irq, APIC_DM_NMI: kvm_inject_nmi (atomic_inc(nmi_queued), KVM_REQ_NMI), then
// kvm_vcpu_kick: a blocked vCPU wakes (kvm_vcpu_has_events sees KVM_REQ_NMI), one in guest mode
// exits and process_nmi runs at its next entry. A software-disabled APIC still accepts NMIs (only
// fixed, lowest-priority and INIT are dropped there; SDM Vol. 3A §11.4.7.2, not in reference/).
void Kvm::inject_nmi(uint32_t vcpu, uint8_t tag, const char* via) {
    Vcpu& c = s_.vcpus.at(vcpu);
    c.nmi_queued.push_back(tag);
    c.req_nmi = true;
    log_.emit(tp::kKvmInjectNmi, vcpu, c.nmi_queued.size(), Hex{tag}, via);
    kick(vcpu);
}

DeliveryPath Kvm::delivered(uint32_t vcpu, uint8_t vector) {
    Vcpu& c = s_.vcpus.at(vcpu);
    bool soft = c.soft.test(vector) || !s_.config.apicv;
    c.soft.clear(vector);
    return soft ? DeliveryPath::Software : DeliveryPath::Direct;
}

}  // namespace irqdiff::x86::kvm
