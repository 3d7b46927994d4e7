// A physical CPU's local APIC and VMX APIC virtualization (cpu.h).
#include "x86_pi/hw/cpu.h"

#include <stdexcept>

#include "x86_pi/hw/pi_desc.h"
#include "x86_pi/trace_points.h"

namespace irqdiff::x86 {

const char* to_string(VmEntryFailure f) {
    switch (f) {
        case VmEntryFailure::None: return "none";
        case VmEntryFailure::PostedNeedsVid: return "posted-interrupts-without-virtual-interrupt-delivery";
        case VmEntryFailure::PostedNeedsAckOnExit: return "posted-interrupts-without-ack-on-exit";
        case VmEntryFailure::VidNeedsExtIntExiting:
            return "virtual-interrupt-delivery-without-external-interrupt-exiting";
        case VmEntryFailure::PinvHighBits: return "pinv-bits-15-8-set";
        case VmEntryFailure::PidMisaligned: return "pid-address-not-64-byte-aligned";
    }
    return "?";
}

const char* to_string(ExitReason r) {
    switch (r) {
        case ExitReason::ExternalInterrupt: return "external-interrupt";
        case ExitReason::InterruptWindow: return "interrupt-window";
        case ExitReason::ApicAccess: return "apic-access";
        case ExitReason::ApicWrite: return "apic-write";
        case ExitReason::EoiInduced: return "eoi-induced";
        case ExitReason::Hlt: return "hlt";
        case ExitReason::NmiWindow: return "nmi-window";
        case ExitReason::MsrWrite: return "msr-write";
    }
    return "?";
}

// ---- physical local APIC ------------------------------------------------------------------------

int Cpu::deliverable() const {
    int v = irr_.highest();
    if (v < 0) return -1;
    int in_service = isr_.highest();
    return in_service < 0 || (v >> 4) > (in_service >> 4) ? v : -1;
}

void Cpu::interrupt(uint8_t vector) {
    irr_.set(vector);
    if (non_root_) recognize_external();
}

std::optional<uint8_t> Cpu::acknowledge() {
    int v = deliverable();
    if (v < 0) return std::nullopt;
    irr_.clear(static_cast<size_t>(v));
    isr_.set(static_cast<size_t>(v));
    return static_cast<uint8_t>(v);
}

void Cpu::eoi() {
    if (int v = isr_.highest(); v >= 0) isr_.clear(static_cast<size_t>(v));
}

// ---- VMX transitions ----------------------------------------------------------------------------

VmEntryFailure Cpu::vm_entry() {
    if (non_root_) throw std::logic_error("Cpu::vm_entry: already in VMX non-root operation");
    const Vmcs& c = vmcs_;
    VmEntryFailure f = VmEntryFailure::None;
    if (c.process_posted_interrupts && !c.virtual_interrupt_delivery)
        f = VmEntryFailure::PostedNeedsVid;
    else if (c.process_posted_interrupts && !c.ack_interrupt_on_exit)
        f = VmEntryFailure::PostedNeedsAckOnExit;
    else if (c.virtual_interrupt_delivery && !c.external_interrupt_exiting)
        f = VmEntryFailure::VidNeedsExtIntExiting;
    else if (c.process_posted_interrupts && (c.pinv & 0xFF00))
        f = VmEntryFailure::PinvHighBits;
    else if (c.process_posted_interrupts && c.pid_addr % kPiDescBytes)
        f = VmEntryFailure::PidMisaligned;
    if (f != VmEntryFailure::None) {
        log_->emit(tp::kCpuVmEntryFailedError, "VM-entry checks on VM-execution control fields", apic_id_,
                   to_string(f));
        return f;
    }
    // The model's hypervisor always exits on host interrupts; without it a host interrupt would
    // go through the guest's IDT, which no hypervisor wants.
    if (!c.external_interrupt_exiting) throw std::logic_error("Cpu::vm_entry: external-interrupt exiting is off");
    non_root_ = true;
    recognized_ = false;
    log_->emit(tp::kCpuVmEntry, apic_id_, Hex{c.rvi}, Hex{c.svi}, c.guest_if);
    if (c.virtual_interrupt_delivery) evaluate();  // SDM §29.2.1: evaluation at VM entry
    recognize_external();
    return VmEntryFailure::None;
}

void Cpu::exit(VmExit e) {
    non_root_ = false;
    recognized_ = false;
    if (vmcs_.entry_interruption) {  // injected but not yet delivered: the exit interrupted it
        vmcs_.idt_vectoring = vmcs_.entry_interruption;
        vmcs_.entry_interruption.reset();
    }
    if (vmcs_.entry_nmi) {  // the same for an injected NMI (§27.2.4: IDT-vectoring type 2)
        vmcs_.idt_vectoring_nmi = vmcs_.entry_nmi;
        vmcs_.entry_nmi.reset();
    }
    exit_ = e;
    if (e.read)  // only the Unicorn guest reads APIC registers
        log_->emit(tp::kCpuVmExitApicRead, apic_id_, to_string(e.reason), Hex{e.offset}, true);
    else
        log_->emit(tp::kCpuVmExit, apic_id_, to_string(e.reason), Hex{e.vector}, Hex{e.offset});
}

std::optional<VmExit> Cpu::take_exit() {
    std::optional<VmExit> e = exit_;
    exit_.reset();
    return e;
}

// In non-root operation with external-interrupt exiting, a host interrupt is recognized whatever
// the guest's RFLAGS.IF. With acknowledge-on-exit the CPU takes the vector from the APIC; the
// notification vector starts posted-interrupt processing, any other vector exits [SDM §29.6
// steps 1-2, reference §3.1].
void Cpu::recognize_external() {
    while (non_root_) {
        if (!vmcs_.ack_interrupt_on_exit) {
            // Without acknowledge-on-exit the interrupt stays requested in the APIC and the exit's
            // interruption information is invalid; the host takes it once it enables interrupts
            // [SDM Vol. 3C §24.7.1, exit control bit 15]. (Posted-interrupt processing needs the
            // control: VM entry checks it.)
            if (deliverable() >= 0) exit(VmExit{ExitReason::ExternalInterrupt, 0, 0, 0, false});
            return;
        }
        std::optional<uint8_t> v = acknowledge();
        if (!v) return;
        if (vmcs_.process_posted_interrupts && *v == vmcs_.pinv) {
            posted_interrupt_processing();
            continue;
        }
        exit(VmExit{ExitReason::ExternalInterrupt, *v});
    }
}

// SDM §29.6 steps 3-7 [reference §3.1]: clear ON, EOI, PIR -> VIRR (and clear PIR), RVI = max,
// evaluate. ON is cleared before PIR is read, so a post that lands after the drain notifies again.
void Cpu::posted_interrupt_processing() {
    const uint64_t pid = vmcs_.pid_addr;
    const uint64_t control_at = pid + kPiDescControlOffset;
    MemRead<uint64_t> control = mem_->read64(control_at);
    if (!control.ok() || mem_->write64(control_at, PiDescControl::ON.set(control.value, 0)) != MemFault::None)
        throw std::logic_error("Cpu: the VMCS's PID address is outside host memory");
    eoi();  // step 4: the notification itself is done
    ApicPage page = vapic();
    int highest = -1;
    unsigned moved = 0;
    for (unsigned word = 0; word < kPirWords; ++word) {  // step 5, one PIR word at a time
        MemRead<uint64_t> r = mem_->read64(pid + 8 * word);
        if (!r.ok()) throw std::logic_error("Cpu: PIR outside host memory");
        if (!r.value) continue;
        mem_->write64(pid + 8 * word, 0);
        for (unsigned half = 0; half < 2; ++half) {  // 32 vectors: one VIRR dword
            uint32_t bits = static_cast<uint32_t>(r.value >> (32 * half));
            if (!bits) continue;
            unsigned chunk = 2 * word + half;
            uint32_t at = apic::IRR + 0x10 * chunk;
            page.write(at, page.read(at) | bits);
            highest = static_cast<int>(32 * chunk + 31 - std::countl_zero(bits));
            moved += static_cast<unsigned>(std::popcount(bits));
        }
    }
    if (highest > vmcs_.rvi) vmcs_.rvi = static_cast<uint8_t>(highest);  // step 6
    log_->emit(tp::kCpuPiProcess, apic_id_, moved, Hex{static_cast<uint64_t>(highest < 0 ? 0 : highest)},
               Hex{vmcs_.rvi});
    evaluate();  // step 7
}

// SDM §29.2.1 [reference §3.3]: recognized iff no interrupt-window exiting and RVI[7:4] > VPPR[7:4].
void Cpu::evaluate() {
    uint32_t vppr = vapic().read(apic::PPR);
    recognized_ = !vmcs_.interrupt_window_exiting && (vmcs_.rvi >> 4) > ((vppr >> 4) & 0xF);
}

// SDM §29.1.3 [reference §3.4]: VPPR = VTPR if VTPR[7:4] >= SVI[7:4], else SVI & F0.
void Cpu::ppr_virtualization() {
    ApicPage page = vapic();
    uint32_t vtpr = page.read(apic::TPR) & 0xFF;
    uint32_t vppr = (vtpr >> 4) >= (vmcs_.svi >> 4) ? vtpr : (vmcs_.svi & 0xF0u);
    page.write(apic::PPR, vppr);
}

// SDM §29.1.4 [reference §3.4]: V = SVI; VISR[V] = 0; SVI = highest VISR; PPR virtualization;
// an EOI-exit-bitmap vector exits (trap-like), otherwise evaluate.
void Cpu::eoi_virtualization() {
    ApicPage page = vapic();
    uint8_t v = vmcs_.svi;
    page.clear(apic::ISR, v);
    int next = page.highest(apic::ISR);
    vmcs_.svi = static_cast<uint8_t>(next < 0 ? 0 : next);
    ppr_virtualization();
    log_->emit(tp::kCpuEoiVirtualization, apic_id_, Hex{v}, Hex{vmcs_.svi});
    if (vmcs_.eoi_exit_bitmap.test(v)) {
        exit(VmExit{ExitReason::EoiInduced, v});
        return;
    }
    evaluate();
}

// ---- the guest ----------------------------------------------------------------------------------

std::optional<uint8_t> Cpu::guest_nmi() {
    if (!non_root_) throw std::logic_error("Cpu::guest_nmi: not in VMX non-root operation");
    if (!vmcs_.entry_nmi) return std::nullopt;
    uint8_t tag = *vmcs_.entry_nmi;
    vmcs_.entry_nmi.reset();
    vmcs_.blocking_by_nmi = true;
    log_->emit(tp::kCpuInjectNmi, apic_id_, Hex{tag});
    return tag;
}

void Cpu::guest_iret() {
    if (!non_root_) throw std::logic_error("Cpu::guest_iret: not in VMX non-root operation");
    vmcs_.blocking_by_nmi = false;
    if (vmcs_.nmi_window_exiting) exit(VmExit{ExitReason::NmiWindow});
}

std::optional<uint8_t> Cpu::guest_interrupt() {
    if (!non_root_) throw std::logic_error("Cpu::guest_interrupt: not in VMX non-root operation");
    if (vmcs_.entry_interruption) {  // event injection: delivered as part of the VM entry
        uint8_t v = *vmcs_.entry_interruption;
        vmcs_.entry_interruption.reset();
        log_->emit(tp::kCpuInject, apic_id_, Hex{v});
        return v;
    }
    if (!vmcs_.guest_if) return std::nullopt;
    if (vmcs_.interrupt_window_exiting) {
        exit(VmExit{ExitReason::InterruptWindow});
        return std::nullopt;
    }
    if (!vmcs_.virtual_interrupt_delivery || !recognized_) return std::nullopt;
    // Virtual-interrupt delivery, SDM §29.2.2 [reference §3.3].
    ApicPage page = vapic();
    uint8_t v = vmcs_.rvi;
    page.set(apic::ISR, v);
    vmcs_.svi = v;
    page.write(apic::PPR, v & 0xF0u);
    page.clear(apic::IRR, v);
    int next = page.highest(apic::IRR);
    vmcs_.rvi = static_cast<uint8_t>(next < 0 ? 0 : next);
    recognized_ = false;
    log_->emit(tp::kCpuVidDeliver, apic_id_, Hex{v}, Hex{vmcs_.rvi});
    return v;
}

namespace {
// The xAPIC-page offsets whose writes APIC-register virtualization virtualizes (stored, then EOI or
// TPR virtualization or a trap-like APIC-write exit) [SDM Vol. 3C §29.4.3.1, not in reference/]:
// ID, TPR, EOI, LDR, DFR, SVR, ESR, LVT CMCI, ICR low and high, the LVTs, TMICT and TDCR, each a
// 32-bit write at the register's start. A write anywhere else — the read-only PPR, ISR, TMR, IRR,
// version, current count, or between registers — is an APIC-access VM exit and stores nothing.
bool write_virtualized(uint32_t offset) {
    if (offset % 16 != 0) return false;
    switch (offset) {
        case apic::ID:
        case apic::TPR:
        case apic::EOI:
        case apic::LDR:
        case apic::DFR:
        case apic::SVR:
        case apic::ESR:
        case 0x2F0:  // LVT CMCI
        case apic::ICR_LO:
        case apic::ICR_HI:
        case apic::TMICT:
        case apic::TDCR: return true;
        default: return offset >= apic::LVT_TIMER && offset <= 0x370;  // LVT timer .. LVT error
    }
}
}  // namespace

void Cpu::guest_apic_write(uint32_t offset, uint32_t value) {
    if (!non_root_) throw std::logic_error("Cpu::guest_apic_write: not in VMX non-root operation");
    if (offset >= 0x1000) throw std::logic_error("Cpu::guest_apic_write: not an offset in the 4-KiB APIC page");
    if (!vmcs_.apic_register_virtualization || !vmcs_.virtual_interrupt_delivery || !write_virtualized(offset)) {
        exit(VmExit{ExitReason::ApicAccess, 0, offset, value});
        return;
    }
    ApicPage page = vapic();
    if (offset == apic::EOI) {
        page.write(apic::EOI, value);
        eoi_virtualization();
    } else if (offset == apic::TPR) {
        page.write(apic::TPR, value & 0xFF);  // TPR virtualization, SDM §29.1.2
        ppr_virtualization();
        evaluate();
    } else {
        page.write(offset, value);  // APIC-write emulation: stored, then a trap-like exit
        if (offset == apic::ICR_LO && vmcs_.ipi_virtualization && ipi_virtualization(value)) return;
        exit(VmExit{ExitReason::ApicWrite, 0, offset, 0});
    }
}

namespace {
// The xAPIC-page offsets whose reads APIC-register virtualization virtualizes [SDM Vol. 3C §29.4.2,
// not in reference/]: ID, version, TPR, EOI, LDR, DFR, SVR, ISR, TMR, IRR, ESR, ICR low and high,
// the LVTs, TMICT and TDCR. PPR (0xA0), the current count (0x390) and everything else exit. (The
// SDM lists byte ranges of 4 bytes at each register's start; the model's reads are 32-bit.)
bool read_virtualized(uint32_t offset) {
    if (offset % 16 != 0) return false;
    switch (offset) {
        case apic::ID:
        case apic::VERSION:
        case apic::TPR:
        case apic::EOI:
        case apic::LDR:
        case apic::DFR:
        case apic::SVR:
        case apic::ESR:
        case apic::ICR_LO:
        case apic::ICR_HI:
        case apic::TMICT:
        case apic::TDCR: return true;
        default:
            return (offset >= apic::ISR && offset <= apic::IRR + 0x70) ||  // ISR, TMR, IRR
                   (offset >= apic::LVT_TIMER && offset <= 0x370);         // LVT timer .. LVT error
    }
}
}  // namespace

std::optional<uint32_t> Cpu::guest_apic_read(uint32_t offset) {
    if (!non_root_) throw std::logic_error("Cpu::guest_apic_read: not in VMX non-root operation");
    if (offset >= 0x1000) throw std::logic_error("Cpu::guest_apic_read: not an offset in the 4-KiB APIC page");
    if (vmcs_.apic_register_virtualization && read_virtualized(offset)) return vapic().read(offset);
    VmExit e{ExitReason::ApicAccess, 0, offset, 0};
    e.read = true;
    exit(e);
    return std::nullopt;
}

void Cpu::guest_hlt() {
    if (!non_root_) throw std::logic_error("Cpu::guest_hlt: not in VMX non-root operation");
    exit(VmExit{ExitReason::Hlt});
}

void Cpu::guest_wrmsr(uint32_t msr, uint64_t value) {
    if (!non_root_) throw std::logic_error("Cpu::guest_wrmsr: not in VMX non-root operation");
    VmExit e{ExitReason::MsrWrite, 0, msr, 0};
    e.msr_value = value;
    exit(e);
}

}  // namespace irqdiff::x86

namespace irqdiff::x86 {

// IPI virtualization [SDM Vol. 3C §30.1.6, not in reference/; reference/kernel_history X4: "IPI
// virtualization can only virtualize physical-addressing, flat mode, unicast IPIs"]: an xAPIC ICR
// low write that is fixed, edge, physical, with no shorthand and a vector >= 16 is virtualized: the
// CPU finds the target's PID through the PID-pointer table (index = VICR_HI[31:24]) and posts the
// vector as the IOMMU does, honouring SN (reference/x86 §4.1 "only the IOMMU (and IPIv hardware)
// honors SN"). Anything else, a destination past the table's last index, or an entry without its
// valid bit (the model's reading: no PID to post to), is left to the APIC-write exit. Returns
// whether the write was virtualized.
bool Cpu::ipi_virtualization(uint32_t icr_lo) {
    const uint8_t vector = static_cast<uint8_t>(icr_lo & 0xFF);
    const uint32_t mode = (icr_lo >> 8) & 7, logical = (icr_lo >> 11) & 1, level = (icr_lo >> 15) & 1,
                   shorthand = (icr_lo >> 18) & 3;
    if (mode != 0 || logical || level || shorthand || vector < 16) return false;
    const uint32_t dest = vapic().read(apic::ICR_HI) >> 24;
    if (dest > vmcs_.last_pid_pointer_index) return false;
    MemRead<uint64_t> entry = mem_->read64(vmcs_.pid_pointer_table + 8 * dest);
    if (!entry.ok() || !(entry.value & 1)) return false;
    const uint64_t pda = entry.value & ~uint64_t{0x3F};
    const uint64_t control_at = pda + kPiDescControlOffset;
    const uint64_t pir_at = pda + 8 * (vector / 64);
    MemRead<uint64_t> control = mem_->read64(control_at);
    MemRead<uint64_t> pir = mem_->read64(pir_at);
    if (!control.ok() || !pir.ok()) return false;
    const bool on = PiDescControl::ON.get(control.value) != 0;
    const bool sn = PiDescControl::SN.get(control.value) != 0;
    const bool notify = !on && !sn;
    mem_->write64(pir_at, pir.value | (uint64_t{1} << (vector % 64)));
    if (notify) {
        mem_->write64(control_at, PiDescControl::ON.set(control.value, 1));
        const uint32_t ndst = static_cast<uint32_t>(PiDescControl::NDST.get(control.value));
        sent_ = {apic_id_from_ndst(ndst, false), static_cast<uint8_t>(PiDescControl::NV.get(control.value))};
    }
    log_->emit(tp::kCpuIpivPost, apic_id_, dest, Hex{vector}, on || notify, sn, notify);
    return true;
}

}  // namespace irqdiff::x86
