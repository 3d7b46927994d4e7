// KVM's in-kernel local APIC (arch/x86/kvm/lapic.c): reset, register writes, the APIC map and
// destination matching, PPR, software EOI, the one-shot timer (its hrtimer, lapic_timer.pending
// and the restart inside KVM_SET_LAPIC), and KVM_GET_LAPIC / KVM_SET_LAPIC
// [reference/x86_posted_interrupts_kvm_migration.md §4.6, §5 ("reference §5")].
#include <fmt/format.h>

#include <stdexcept>

#include "x86_pi/kvm/kvm.h"
#include "x86_pi/trace_points.h"

namespace irqdiff::x86::kvm {

namespace {

// MSR_IA32_APICBASE [SDM Vol. 3A "IA32_APIC_BASE MSR"; not in reference/].
struct ApicBase {
    static constexpr Field<35, 12> Base{};
    static constexpr Field<11> Enable{};  // global (hardware) enable
    static constexpr Field<10> Extd{};    // x2APIC mode
    static constexpr Field<8> Bsp{};
};
constexpr uint64_t kApicDefaultBase = 0xFEE0'0000;
// KVM's version register: version 0x14, (max LVT entry - 1) in bits 23:16 (lapic.c :: kvm_apic_set_version;
// not in reference/).
constexpr uint32_t kApicVersion = 0x14 | (5u << 16);

}  // namespace

const char* to_string(MpState m) { return m == MpState::Halted ? "halted" : "runnable"; }

const char* to_string(TimerRestart r) {
    switch (r) {
        case TimerRestart::Stopped: return "stopped";
        case TimerRestart::Armed: return "armed";
        case TimerRestart::Expired: return "expired";
    }
    return "?";
}

const char* to_string(VcpuRun r) {
    switch (r) {
        case VcpuRun::InGuest: return "in-guest";
        case VcpuRun::Runnable: return "runnable";
        case VcpuRun::Blocked: return "blocked";
        case VcpuRun::Stopped: return "stopped";
    }
    return "?";
}

const Policy<SetLapicClear> kSetLapicClearPolicy{
    "x86.set_lapic_clears_pir",
    "x86",
    {{"before_load", SetLapicClear::BeforeLoad}, {"after_load", SetLapicClear::AfterLoad}},
    SetLapicClear::BeforeLoad,
    "whether KVM_SET_LAPIC zeroes PIR and ON before loading the register image (2023 fix) or after",
    "kvm_apic_set_state / pi_apicv_pre_state_restore (2023); older kernels cleared after the load"};

const Policy<bool> kPostingPolicy{"x86.posting",
                                  "x86",
                                  {{"on", true}, {"off", false}},
                                  true,
                                  "APICv with VT-d posted interrupts enabled, or the remapped/software path only",
                                  "vmx_pi_update_irte; kvm_pi_update_irte; VT-d §5.2.3"};

const Policy<bool> kIpivPolicy{
    "x86.ipiv",
    "x86",
    {{"off", false}, {"on", true}},
    false,
    "IPI virtualization (Linux >= 5.19 on capable CPUs, with APICv): the sender's ICR write posts into the "
    "target's PID through the PID-pointer table; off, or not virtualizable (logical destination, shorthand, "
    "not fixed), it traps and KVM delivers it in software (kvm_apic_send_ipi)",
    "KVM: VMX: enable IPI virtualization (5.19, d588bb9be1da); reference/kernel_history X4. Default off: a host "
    "without IPIv (before 5.19, or a CPU without it), on which the rest of the record was written"};

KvmConfig KvmConfig::from_policy(const PolicyValues& policy) {
    KvmConfig c;
    c.apicv = kPostingPolicy.read(policy);
    c.ipiv = c.apicv && kIpivPolicy.read(policy);
    c.clear = kSetLapicClearPolicy.read(policy);
    c.sn_on_put = kSnOnPutPolicy.read(policy);
    c.deassign = kIrqfdDeassignPolicy.read(policy);
    c.nmi_pending_abi = kNmiPendingAbiPolicy.read(policy);
    return c;
}

uint32_t LapicImage::reg(uint32_t offset) const {
    return static_cast<uint32_t>(regs.at(offset)) | static_cast<uint32_t>(regs.at(offset + 1)) << 8 |
           static_cast<uint32_t>(regs.at(offset + 2)) << 16 | static_cast<uint32_t>(regs.at(offset + 3)) << 24;
}

bool LapicImage::test(uint32_t reg_base, uint8_t vector) const {
    return (reg(apic::bit_offset(reg_base, vector)) >> (vector & 31)) & 1;
}

// ---- creation and reset -------------------------------------------------------------------------

void Kvm::init(unsigned vcpus, const KvmConfig& config) {
    if (vcpus > hw_.cpu_count()) throw std::logic_error("Kvm::init: more vCPUs than pCPUs");
    s_.config = config;
    s_.vcpus.assign(vcpus, Vcpu{});
    s_.wakeup_lists.assign(hw_.cpu_count(), {});
    for (uint32_t v = 0; v < vcpus; ++v) {
        // __vmx_vcpu_reset: NV = POSTED_INTR_VECTOR ("enforce invariant"), SN = 1 (not running yet).
        PiDesc d;
        d.nv = kPostedIntrVector;
        d.sn = true;
        write_pid(v, d);
        // init_vmcs [reference §1.4]: PINV and the PID address whenever APICv is possible.
        Vmcs& vm = hw_.cpu(v).vmcs();
        vm = Vmcs{};
        vm.external_interrupt_exiting = true;
        vm.ack_interrupt_on_exit = true;
        vm.virtual_apic_addr = HostLayout::apic_page(v);
        vm.process_posted_interrupts = config.apicv;
        vm.virtual_interrupt_delivery = config.apicv;
        vm.apic_register_virtualization = config.apicv;
        vm.pinv = kPostedIntrVector;
        vm.pid_addr = HostLayout::pid(v);
        // vmx_can_use_ipiv: the PID-pointer table, sized by the VM's maximum APIC ID
        // (KVM_CAP_MAX_VCPU_ID, here the vCPU count), entry = PID address | valid (vmx_vcpu_create).
        vm.ipi_virtualization = config.ipiv;
        vm.pid_pointer_table = HostLayout::kPidPointerTable;
        vm.last_pid_pointer_index = static_cast<uint16_t>(vcpus - 1);
        if (config.ipiv) mem_.write64(HostLayout::kPidPointerTable + 8 * v, HostLayout::pid(v) | 1);
        reset_lapic(v);
    }
    recalculate_apic_map();
    // vmx_init -> kvm_set_posted_intr_wakeup_handler(pi_wakeup_handler)
    vectors_.set_system(kPostedIntrWakeupVector, host::Handler::PostedIntrWakeup);
    log_.emit(tp::kKvmCreateVcpus, vcpus, config.apicv);
}

// kvm_lapic_reset at vCPU creation: registers to their power-up values, the xAPIC ID from the vCPU
// id. (A later RESET/INIT would also drop posted state first; the model has none.)
void Kvm::reset_lapic(uint32_t vcpu) {
    Vcpu& c = s_.vcpus.at(vcpu);
    c.apic_base = kApicDefaultBase | ApicBase::Enable.kMask | (vcpu == 0 ? ApicBase::Bsp.kMask : 0);
    ApicPage p = page(vcpu);
    for (uint32_t off = 0; off < apic::kStateBytes; off += 4) p.write(off, 0);
    p.write(apic::ID, static_cast<uint32_t>(apic::Id::XapicId.make(vcpu)));
    p.write(apic::VERSION, kApicVersion);
    p.write(apic::DFR, apic::kDfrFlat);
    p.write(apic::SVR, 0xFF);  // software-disabled, spurious vector 0xFF
    p.write(apic::LVT_TIMER, apic::kLvtMasked);
    c.timer_armed = false;
    c.timer_pending = false;
    c.tsc_deadline = 0;  // kvm_lapic_reset
    c.timer_mode = 0;
    c.mp_state = MpState::Runnable;
    c.soft.reset();
    hw_.cpu(vcpu).vmcs().rvi = 0;
    hw_.cpu(vcpu).vmcs().svi = 0;
}

// ---- registers -----------------------------------------------------------------------------------

bool Kvm::apic_enabled(uint32_t vcpu) const {
    return ApicBase::Enable.get(s_.vcpus.at(vcpu).apic_base) && apic::Svr::Enable.get(page(vcpu).read(apic::SVR));
}

// __apic_update_ppr [reference §4.6]: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV & F0.
void Kvm::update_ppr(uint32_t vcpu) {
    ApicPage p = page(vcpu);
    uint32_t tpr = p.read(apic::TPR) & 0xFF;
    int isr = p.highest(apic::ISR);
    uint32_t isrv = isr < 0 ? 0 : static_cast<uint32_t>(isr);
    p.write(apic::PPR, (tpr & 0xF0) >= (isrv & 0xF0) ? tpr : (isrv & 0xF0));
}

// apic_set_eoi: the highest in-service vector is done; with APICv, SVI follows (the CPU does this
// itself for virtualized EOIs) [reference §4.6].
void Kvm::apic_set_eoi(uint32_t vcpu) {
    ApicPage p = page(vcpu);
    int v = p.highest(apic::ISR);
    if (v < 0) {
        log_.emit(tp::kKvmEoiIgnored, "an EOI with no interrupt in service does nothing (apic_set_eoi)", vcpu);
        return;
    }
    p.clear(apic::ISR, static_cast<uint8_t>(v));
    if (s_.config.apicv) {
        int next = p.highest(apic::ISR);
        hw_.cpu(vcpu).vmcs().svi = static_cast<uint8_t>(next < 0 ? 0 : next);
    }
    update_ppr(vcpu);
    s_.vcpus[vcpu].req_event = true;
    log_.emit(tp::kKvmEoi, vcpu, Hex{static_cast<uint64_t>(v)});
}

void Kvm::lapic_write(uint32_t vcpu, uint32_t offset, uint32_t value) {
    ApicPage p = page(vcpu);
    log_.emit(tp::kKvmLapicWrite, vcpu, Hex{offset}, Hex{value});
    switch (offset) {
        case apic::ID:
            p.write(apic::ID, value & 0xFF00'0000u);
            recalculate_apic_map();
            break;
        case apic::TPR:
            p.write(apic::TPR, value & 0xFF);
            update_ppr(vcpu);
            s_.vcpus[vcpu].req_event = true;
            break;
        case apic::EOI: apic_set_eoi(vcpu); break;
        case apic::LDR:
            p.write(apic::LDR, value & 0xFF00'0000u);
            recalculate_apic_map();
            break;
        case apic::DFR:
            p.write(apic::DFR, value | 0x0FFF'FFFFu);
            recalculate_apic_map();
            break;
        case apic::SVR:
            // apic_set_spiv; a software disable masks the LVT entries and drops a pending tick.
            p.write(apic::SVR, value & 0x3FF);
            if (!apic::Svr::Enable.get(value)) {
                p.write(apic::LVT_TIMER, p.read(apic::LVT_TIMER) | apic::kLvtMasked);
                s_.vcpus[vcpu].timer_pending = false;
            }
            recalculate_apic_map();
            break;
        case apic::ESR: p.write(apic::ESR, 0); break;
        case apic::ICR_HI: p.write(apic::ICR_HI, value & 0xFF00'0000u); break;
        case apic::ICR_LO:
            p.write(apic::ICR_LO, value & ~uint32_t{1u << 12});  // delivery status reads idle
            send_ipi(vcpu, value);
            break;
        case apic::LVT_TIMER: {
            // A software-disabled APIC keeps its LVT entries masked (kvm_lapic_reg_write, APIC_LVTT).
            if (!apic::Svr::Enable.get(p.read(apic::SVR))) value |= apic::kLvtMasked;
            p.write(apic::LVT_TIMER,
                    value & static_cast<uint32_t>(apic::LvtTimer::Mode.kMask | apic::LvtTimer::Mask.kMask |
                                                  apic::LvtTimer::Vector.kMask));
            const uint64_t mode = apic::LvtTimer::Mode.get(value);
            if (mode != 0 && mode != kLvttTscDeadline)
                log_.emit(tp::kKvmLapicWriteTimerModeError,
                          "the periodic timer mode is not modelled: the timer runs one-shot", vcpu, Hex{value});
            update_lvtt(vcpu);
            break;
        }
        case apic::TMICT:
            // kvm_lapic_reg_write, APIC_TMICT: ignored in TSC-deadline mode.
            if (apic::LvtTimer::Mode.get(p.read(apic::LVT_TIMER)) == kLvttTscDeadline) {
                log_.emit(tp::kKvmLapicWriteIgnored, "TMICT is ignored in TSC-deadline mode", vcpu, Hex{offset});
                break;
            }
            p.write(apic::TMICT, value);
            start_timer(vcpu);
            break;
        case apic::TDCR: p.write(apic::TDCR, value & 0xB); break;
        default:
            log_.emit(tp::kKvmLapicWriteIgnored, "a write to a read-only or reserved APIC register is ignored", vcpu,
                      Hex{offset});
            break;
    }
}

// kvm_lapic_reg_read under handle_apic_access: the registers kvm_lapic_readable_reg_mask lists for
// an xAPIC with KVM's six LVT entries (no CMCI), 32-bit at a register's start. PPR is brought up to
// date first (__apic_read -> apic_update_ppr); the current count is the remaining one-shot count
// (time is not modelled, as in get_lapic).
std::optional<uint32_t> Kvm::handle_apic_read(uint32_t vcpu, const VmExit& exit) {
    if (exit.reason != ExitReason::ApicAccess || !exit.read)
        throw std::logic_error("Kvm::handle_apic_read: not an APIC-access exit for a read");
    s_.vcpus.at(vcpu).in_guest_mode = false;
    const uint32_t offset = exit.offset;
    bool readable = offset % 16 == 0;
    switch (offset) {
        case apic::ID:
        case apic::VERSION:
        case apic::TPR:
        case 0x090:  // ARBPRI (xAPIC only)
        case apic::PPR:
        case apic::LDR:
        case apic::DFR:
        case apic::SVR:
        case apic::ESR:
        case apic::ICR_LO:
        case apic::ICR_HI:
        case apic::TMICT:
        case apic::TMCCT:
        case apic::TDCR: break;
        default:
            readable = readable && ((offset >= apic::ISR && offset <= apic::IRR + 0x70) ||  // ISR, TMR, IRR
                                    (offset >= apic::LVT_TIMER && offset <= 0x370));        // LVTT .. LVTERR
    }
    if (!readable) {
        log_.emit(tp::kKvmLapicReadUnreadable, vcpu, Hex{offset}, false);
        return std::nullopt;
    }
    if (offset == apic::PPR) update_ppr(vcpu);
    uint32_t value = offset == apic::TMCCT ? (s_.vcpus[vcpu].timer_armed ? page(vcpu).read(apic::TMICT) : 0)
                                           : page(vcpu).read(offset);
    log_.emit(tp::kKvmLapicRead, vcpu, Hex{offset}, Hex{value});
    return value;
}

// A TMICT write (kvm_lapic_reg_write): cancel_apic_timer (the hrtimer stopped, lapic_timer.pending
// zeroed), then start_apic_timer: armed while the count is not 0 (set_target_expiration with
// APIC_TMICT; the deadline is the scenario's `fire`, time is not modelled).
void Kvm::start_timer(uint32_t vcpu) {
    Vcpu& c = s_.vcpus.at(vcpu);
    c.timer_pending = false;
    c.timer_armed = page(vcpu).read(apic::TMICT) != 0;
}

// apic_update_lvtt after an LVTT write (or KVM_SET_LAPIC's image): a switch into or out of
// TSC-deadline mode disarms the timer thoroughly — cancel_apic_timer (hrtimer stopped,
// lapic_timer.pending zeroed), TMICT 0, period 0, tscdeadline 0 (4427593258 "KVM: x86: thoroughly
// disarm LAPIC timer around TSC deadline switch").
void Kvm::update_lvtt(uint32_t vcpu) {
    Vcpu& c = s_.vcpus.at(vcpu);
    ApicPage p = page(vcpu);
    const auto mode = static_cast<uint8_t>(apic::LvtTimer::Mode.get(p.read(apic::LVT_TIMER)));
    const bool switched = (c.timer_mode == kLvttTscDeadline) != (mode == kLvttTscDeadline);
    c.timer_mode = mode;
    if (!switched) return;
    c.timer_armed = false;
    c.timer_pending = false;
    c.tsc_deadline = 0;
    p.write(apic::TMICT, 0);
}

// kvm_set_lapic_tscdeadline_msr (the guest's WRMSR through kvm_set_msr_common, or KVM_SET_MSRS):
// `if (!kvm_apic_present(vcpu) || !apic_lvtt_tscdeadline(apic)) return;` — no error, the write is
// simply not taken: before KVM_SET_LAPIC puts the destination's LVTT in TSC-deadline mode, a
// restored deadline is lost and KVM_SET_MSRS still succeeds (Kata #13798). Taken: hrtimer_cancel,
// tscdeadline = the value, start_apic_timer (start_sw_tscdeadline arms nothing for 0; time is not
// modelled, the deadline passing is the scenario's `fire`).
bool Kvm::set_tsc_deadline_msr(uint32_t vcpu, uint64_t deadline, const char* via) {
    Vcpu& c = s_.vcpus.at(vcpu);
    const uint64_t mode = apic::LvtTimer::Mode.get(page(vcpu).read(apic::LVT_TIMER));
    const bool taken = ApicBase::Enable.get(c.apic_base) && mode == kLvttTscDeadline;
    log_.emit(tp::kKvmTscDeadlineMsr, vcpu, Hex{deadline}, mode, taken, via);
    if (!taken) return false;
    c.tsc_deadline = deadline;
    c.timer_armed = deadline != 0;
    return true;
}

// kvm_get_lapic_tscdeadline_msr: 0 unless the APIC is present and in TSC-deadline mode.
uint64_t Kvm::tsc_deadline_msr(uint32_t vcpu) const {
    const Vcpu& c = s_.vcpus.at(vcpu);
    if (!ApicBase::Enable.get(c.apic_base) ||
        apic::LvtTimer::Mode.get(page(vcpu).read(apic::LVT_TIMER)) != kLvttTscDeadline)
        return 0;
    return c.tsc_deadline;
}

// KVM_GET_MSRS (QEMU kvm_get_msrs, MSR_IA32_TSCDEADLINE -> env->tsc_deadline).
MsrImage Kvm::get_msrs(uint32_t vcpu) const { return MsrImage{tsc_deadline_msr(vcpu)}; }

// KVM_SET_MSRS (QEMU kvm_put_tscdeadline_msr from kvm_arch_put_registers): msr_io returns how many
// entries it processed; kvm_set_msr_common's MSR_IA32_TSC_DEADLINE case calls
// kvm_set_lapic_tscdeadline_msr and returns 0 whether or not the deadline was taken. A taken
// deadline the guest's TSC is already past expires at once (start_sw_tscdeadline:
// apic_timer_expired(apic, false), under the ioctl's vcpu_load: with APICv it posts the tick).
int Kvm::set_msrs(uint32_t vcpu, const MsrImage& msrs, bool deadline_passed) {
    vcpu_load(vcpu);
    const bool taken = set_tsc_deadline_msr(vcpu, msrs.tsc_deadline, "KVM_SET_MSRS");
    log_.emit(tp::kKvmSetMsrs, vcpu, Hex{msrs.tsc_deadline}, 1);
    if (taken && msrs.tsc_deadline != 0 && deadline_passed) apic_timer_expired(vcpu, false);
    vcpu_put(vcpu, false);
    return 1;
}

// apic_timer_fn: the hrtimer reaches its deadline and calls apic_timer_expired(from_timer_fn).
void Kvm::timer_expired(uint32_t vcpu) {
    if (!s_.vcpus.at(vcpu).timer_armed) throw std::logic_error("Kvm::timer_expired: the timer is not armed");
    apic_timer_expired(vcpu, true);
}

// apic_timer_expired: a tick already pending is not counted again. Otherwise, outside the hrtimer
// callback (the restart inside KVM_SET_LAPIC, under vcpu_load) with APICv active, the tick is
// injected at once (kvm_apic_inject_pending_timer_irqs: posted into PIR). From the hrtimer it is
// counted in lapic_timer.pending with KVM_REQ_UNBLOCK and the vCPU kicked; vcpu_run injects it
// (kvm_inject_pending_timer_irqs). The posted-timer shortcut (kvm_use_posted_timer_interrupt) needs
// pi_inject_timer and HLT/MWAIT passed through to the guest, both off by default: not modelled.
// A one-shot's hrtimer is not restarted (apic_timer_fn: HRTIMER_NORESTART).
void Kvm::apic_timer_expired(uint32_t vcpu, bool from_timer_fn) {
    Vcpu& c = s_.vcpus.at(vcpu);
    c.timer_armed = false;
    if (c.timer_pending) {
        log_.emit(tp::kKvmTimerPendingIgnored, "a tick already in lapic_timer.pending is not counted again", vcpu);
        return;
    }
    log_.emit(tp::kKvmTimerExpired, vcpu, Hex{page(vcpu).read(apic::LVT_TIMER)});
    if (!from_timer_fn && s_.config.apicv) {
        local_deliver_timer(vcpu);
        return;
    }
    c.timer_pending = true;
    log_.emit(tp::kKvmTimerPending, vcpu, to_string(c.run));
    if (from_timer_fn) kick(vcpu);
}

// kvm_apic_inject_pending_timer_irqs -> kvm_apic_local_deliver(APIC_LVTT) -> __apic_accept_irq
// (a hardware-enabled APIC and an unmasked entry), then, in TSC-deadline mode, tscdeadline = 0:
// a deadline fires once, and only its injection consumes it. A tick still in lapic_timer.pending
// (the vCPU paused) leaves the deadline in IA32_TSC_DEADLINE, so KVM_GET_MSRS still reads it.
void Kvm::local_deliver_timer(uint32_t vcpu) {
    uint32_t lvtt = page(vcpu).read(apic::LVT_TIMER);
    if (apic::LvtTimer::Mask.get(lvtt) || !ApicBase::Enable.get(s_.vcpus.at(vcpu).apic_base)) {
        log_.emit(tp::kKvmTimerExpiredMaskedIgnored, "a masked LVT entry sends no interrupt", vcpu);
    } else {
        accept_irq(vcpu, static_cast<uint8_t>(apic::LvtTimer::Vector.get(lvtt)), false, "lapic_timer");
    }
    if (apic::LvtTimer::Mode.get(lvtt) == kLvttTscDeadline) s_.vcpus.at(vcpu).tsc_deadline = 0;
}

// kvm_cpu_has_pending_timer -> apic_has_pending_timer: an enabled APIC, an unmasked LVTT, a tick in
// lapic_timer.pending.
bool Kvm::has_pending_timer(uint32_t vcpu) const {
    return s_.vcpus.at(vcpu).timer_pending && apic_enabled(vcpu) &&
           !apic::LvtTimer::Mask.get(page(vcpu).read(apic::LVT_TIMER));
}

// kvm_inject_pending_timer_irqs -> kvm_inject_apic_timer_irqs: the pending tick delivered, the count
// zeroed (zeroed first here: the delivery's kick can come back to vcpu_block's wake-up check).
void Kvm::inject_pending_timer(uint32_t vcpu) {
    s_.vcpus.at(vcpu).timer_pending = false;
    log_.emit(tp::kKvmInjectPendingTimer, vcpu);
    local_deliver_timer(vcpu);
}

// ---- the APIC map and destinations ---------------------------------------------------------------

// kvm_recalculate_apic_map: hardware-enabled APICs (kvm_apic_present) by xAPIC ID
// (kvm_recalculate_phys_map); of those, only software-enabled ones (SVR bit 8) with a non-zero LDR
// by flat logical ID (kvm_recalculate_logical_map: `if (!kvm_apic_sw_enabled(apic)) return;`).
void Kvm::recalculate_apic_map() {
    ApicMap m;
    m.phys.fill(-1);
    m.logical.fill(-1);
    auto claim = [](int16_t& slot, uint32_t v) { slot = slot == -1 ? static_cast<int16_t>(v) : int16_t{-2}; };
    for (uint32_t v = 0; v < s_.vcpus.size(); ++v) {
        if (!ApicBase::Enable.get(s_.vcpus[v].apic_base)) continue;
        ApicPage p = page(v);
        claim(m.phys[apic::Id::XapicId.get(p.read(apic::ID))], v);
        if (!apic::Svr::Enable.get(p.read(apic::SVR))) continue;
        if (apic::Dfr::Model.get(p.read(apic::DFR)) != 0xF) continue;
        uint32_t ldr = static_cast<uint32_t>(apic::Ldr::LogicalId.get(p.read(apic::LDR)));
        for (unsigned b = 0; b < 8; ++b)
            if ((ldr >> b) & 1) claim(m.logical[b], v);
    }
    s_.map = m;
}

std::vector<uint32_t> Kvm::msi_destinations(const MsiMessage& msi) const {
    std::vector<uint32_t> out;
    if (MsiAddress::Fee.get(msi.address) != 0xFEE) return out;
    const uint32_t dest = static_cast<uint32_t>(MsiAddress::DestId.get(msi.address));
    const bool logical = MsiAddress::DM.get(msi.address) != 0;
    const uint64_t mode = MsiData::DeliveryMode.get(msi.data);
    if (mode > 1 && mode != 4) return out;  // SMI, INIT, ExtINT: not modelled (4: NMI)
    for (uint32_t v = 0; v < s_.vcpus.size(); ++v) {
        if (!ApicBase::Enable.get(s_.vcpus[v].apic_base)) continue;
        ApicPage p = page(v);
        bool match;
        if (!logical)
            match = dest == 0xFF || apic::Id::XapicId.get(p.read(apic::ID)) == dest;
        else
            match = apic::Dfr::Model.get(p.read(apic::DFR)) == 0xF &&
                    (apic::Ldr::LogicalId.get(p.read(apic::LDR)) & dest) != 0;
        if (!match) continue;
        out.push_back(v);
        if (mode == 1) break;  // lowest priority: one of them (the model takes the first)
    }
    return out;
}

// kvm_intr_is_single_vcpu(_fast): through the APIC map; broadcasts never.
int Kvm::single_vcpu(const MsiMessage& msi) const {
    if (MsiAddress::Fee.get(msi.address) != 0xFEE) return -1;
    const uint32_t dest = static_cast<uint32_t>(MsiAddress::DestId.get(msi.address));
    if (!MsiAddress::DM.get(msi.address)) return dest == 0xFF ? -1 : s_.map.phys[dest] < 0 ? -1 : s_.map.phys[dest];
    int found = -1;
    for (unsigned b = 0; b < 8; ++b) {
        if (!((dest >> b) & 1) || s_.map.logical[b] == -1) continue;
        if (s_.map.logical[b] == -2 || (found >= 0 && found != s_.map.logical[b])) return -1;
        found = s_.map.logical[b];
    }
    return found;
}

// ---- KVM_GET_LAPIC / KVM_SET_LAPIC ----------------------------------------------------------------

// kvm_vcpu_ioctl_get_lapic under vcpu_load: sync PIR into IRR first, then copy the register page
// (kvm_apic_get_state); TMCCT is computed from the timer [reference §5.2].
LapicImage Kvm::get_lapic(uint32_t vcpu) {
    Vcpu& c = s_.vcpus.at(vcpu);
    vcpu_load(vcpu);
    sync_pir_to_irr(vcpu);
    LapicImage image;
    if (mem_.read_bytes(HostLayout::apic_page(vcpu), image.regs) != MemFault::None)
        throw std::logic_error("Kvm::get_lapic: register page outside host memory");
    uint32_t tmcct = c.timer_armed ? page(vcpu).read(apic::TMICT) : 0;  // the remaining count
    for (unsigned i = 0; i < 4; ++i) image.regs[apic::TMCCT + i] = static_cast<uint8_t>(tmcct >> (8 * i));
    image.apic_base = c.apic_base;
    image.soft = c.soft;
    ApicPage p = page(vcpu);
    log_.emit(tp::kKvmGetLapic, vcpu, Hex{static_cast<uint64_t>(std::max(p.highest(apic::IRR), 0))},
              Hex{static_cast<uint64_t>(std::max(p.highest(apic::ISR), 0))}, tmcct);
    vcpu_put(vcpu, false);
    return image;
}

// kvm_apic_set_state's timer restart, __start_apic_timer(apic, APIC_TMCCT) -> set_target_expiration:
// TMICT 0 gives period 0 and nothing starts; a one-shot or periodic timer takes its deadline from
// TMCCT, and a one-shot whose TMCCT is 0 gets deadline 0, so it expires at once (8e6ed96cdd50, "KVM:
// x86: fire timer when it is migrated and expired, and in oneshot mode"; a periodic one restarts a
// full period). In TSC-deadline mode the image says nothing (TMICT is 0): the deadline is the
// vCPU's IA32_TSC_DEADLINE, restarted by set_lapic. A masked timer is restarted too (the mask only
// stops kvm_apic_local_deliver).
TimerRestart Kvm::timer_restart(const LapicImage& image) {
    const uint32_t lvtt = image.reg(apic::LVT_TIMER);
    const uint64_t mode = apic::LvtTimer::Mode.get(lvtt);
    if (image.reg(apic::TMICT) == 0 || mode > 1) return TimerRestart::Stopped;
    if (mode == 0 && image.reg(apic::TMCCT) == 0) return TimerRestart::Expired;
    return TimerRestart::Armed;
}

// kvm_apic_put: MSR_IA32_APICBASE, then KVM_SET_LAPIC -> kvm_apic_set_state [reference §5.3,
// §5.4; torvalds/linux arch/x86/kvm/lapic.c]: (before_load) drop PIR/ON, SPIV first, the register
// image, the APIC map, the version register, PPR, then cancel_apic_timer (pending zeroed) and the
// restart (timer_restart: an expiring one-shot posts its tick here under vcpu_load), TMCCT zeroed,
// (after_load) drop PIR/ON, SVI from ISR, KVM_REQ_EVENT.
int Kvm::set_lapic(uint32_t vcpu, const LapicImage& image) {
    Vcpu& c = s_.vcpus.at(vcpu);
    if (!ApicBase::Enable.get(image.apic_base) || ApicBase::Extd.get(image.apic_base)) {
        // The model's guests use xAPIC mode; x2APIC state is not modelled.
        log_.emit(tp::kKvmSetLapicError, "KVM_SET_LAPIC of a disabled or x2APIC-mode APIC", vcpu, Hex{image.apic_base});
        return kEinval;
    }
    vcpu_load(vcpu);
    c.apic_base = image.apic_base;
    const bool apicv = s_.config.apicv;
    if (apicv && s_.config.clear == SetLapicClear::BeforeLoad) pi_clear(vcpu, tp::kKvmApicvPreStateRestore);
    ApicPage p = page(vcpu);
    p.write(apic::SVR, image.reg(apic::SVR));  // SPIV first
    if (mem_.write_bytes(HostLayout::apic_page(vcpu), image.regs) != MemFault::None)
        throw std::logic_error("Kvm::set_lapic: register page outside host memory");
    c.soft = image.soft;
    recalculate_apic_map();
    p.write(apic::VERSION, kApicVersion);  // kvm_apic_set_version: QEMU's image carries no version
    update_ppr(vcpu);
    log_.emit(tp::kKvmSetLapic, vcpu, Hex{static_cast<uint64_t>(std::max(p.highest(apic::IRR), 0))},
              Hex{static_cast<uint64_t>(std::max(p.highest(apic::ISR), 0))},
              s_.config.clear == SetLapicClear::BeforeLoad ? "before_load" : "after_load");
    update_lvtt(vcpu);                // apic_update_lvtt: a mode switch zeroes tscdeadline
    c.timer_armed = false;            // cancel_apic_timer
    c.timer_pending = false;
    TimerRestart restart = timer_restart(image);
    // TSC-deadline mode: start_sw_tscdeadline restarts the deadline this vCPU already holds
    // (KVM_SET_LAPIC carries none: it comes by KVM_SET_MSRS, which only a vCPU already in
    // TSC-deadline mode takes).
    if (apic::LvtTimer::Mode.get(image.reg(apic::LVT_TIMER)) == kLvttTscDeadline && c.tsc_deadline != 0)
        restart = TimerRestart::Armed;
    if (restart != TimerRestart::Stopped)
        log_.emit(tp::kKvmTimerRestart, vcpu, image.reg(apic::TMICT), image.reg(apic::TMCCT), to_string(restart));
    c.timer_armed = restart == TimerRestart::Armed;
    if (restart == TimerRestart::Expired) apic_timer_expired(vcpu, false);
    p.write(apic::TMCCT, 0);
    if (apicv) {
        if (s_.config.clear == SetLapicClear::AfterLoad) pi_clear(vcpu, tp::kKvmApicvPostStateRestore);
        int isr = p.highest(apic::ISR);
        hw_.cpu(vcpu).vmcs().svi = static_cast<uint8_t>(isr < 0 ? 0 : isr);  // RVI: at the next entry
    }
    c.req_event = true;
    vcpu_put(vcpu, false);
    return kOk;
}

}  // namespace irqdiff::x86::kvm

namespace irqdiff::x86::kvm {

// kvm_apic_send_ipi (a trapped ICR low write: IPIv off, or not virtualizable): the ICR as a
// kvm_lapic_irq for kvm_irq_delivery_to_apic, whose destination match is the MSI's
// (msi_destinations); each target's LAPIC accepts the fixed interrupt (__apic_accept_irq, which
// posts it in software with APICv: reference/x86 §4.1). Shorthands and non-fixed delivery modes are
// not modelled.
void Kvm::send_ipi(uint32_t vcpu, uint32_t icr_lo) {
    const uint32_t icr_hi = page(vcpu).read(apic::ICR_HI);
    const uint32_t mode = (icr_lo >> 8) & 7, shorthand = (icr_lo >> 18) & 3;
    if (mode > 1 || shorthand != 0) {
        log_.emit(tp::kKvmLapicWriteIpiError, "an IPI with a shorthand or a delivery mode other than fixed is not sent",
                  vcpu, Hex{icr_lo});
        return;
    }
    MsiMessage as_msi;
    as_msi.address = MsiAddress::Fee.make(0xFEE) | MsiAddress::DestId.make(icr_hi >> 24) |
                     MsiAddress::DM.make((icr_lo >> 11) & 1);
    as_msi.data = static_cast<uint32_t>(MsiData::Vector.make(icr_lo & 0xFF) | MsiData::DeliveryMode.make(mode));
    std::vector<uint32_t> targets = msi_destinations(as_msi);
    log_.emit(tp::kKvmSendIpi, vcpu, Hex{icr_lo}, Hex{icr_hi}, targets.size());
    for (uint32_t t : targets) accept_irq(t, static_cast<uint8_t>(icr_lo & 0xFF), false, "ipi");
}

}  // namespace irqdiff::x86::kvm
