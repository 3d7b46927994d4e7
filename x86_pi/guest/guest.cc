#include "x86_pi/guest/guest.h"

#include <fmt/format.h>

#include <stdexcept>

#include "x86_pi/trace_points.h"

namespace irqdiff::x86 {

const Policy<GuestApicDest> kGuestApicDestPolicy{
    "x86.guest_apic_dest",
    "x86",
    {{"logical", GuestApicDest::Logical}, {"physical", GuestApicDest::Physical}},
    GuestApicDest::Logical,
    "how the guest addresses MSIs: flat logical (LDR = 1 << vCPU, reset LDR is 0) or physical (xAPIC ID = the "
    "vCPU id, as at reset); decides whether the APIC map at reset resolves a route",
    "kvm_intr_is_single_vcpu reads the current APIC map (reference/x86 §4.5); QEMU \"migration: ensure APIC is "
    "loaded prior to VFIO PCI devices\" (2025)"};

uint8_t Guest::allocate(uint32_t vcpu, SourceId source) {
    std::array<int32_t, 256>& owner = s_.owner.at(vcpu);
    for (unsigned v = kFirstGuestVector; v <= kLastGuestVector; ++v)
        if (owner[v] < 0) {
            owner[v] = static_cast<int32_t>(source);
            return static_cast<uint8_t>(v);
        }
    return 0;
}

void Guest::boot(const Scenario& scenario, bool logical) {
    allocate_vectors(scenario, logical);
    for (uint32_t v = 0; v < scenario.vcpus; ++v) {
        apic_write(v, apic::SVR, 0x1FF);  // software-enabled, spurious vector 0xFF
        apic_write(v, apic::DFR, apic::kDfrFlat);
        apic_write(v, apic::LDR, static_cast<uint32_t>(apic::Ldr::LogicalId.make(1u << (v % 8))));
        apic_write(v, apic::TPR, 0);
        for (const GuestSource& g : s_.sources)
            if (g.routed && g.timer && g.vcpu == v) {
                // Unmasked, one-shot (mode 00b) or TSC-deadline (10b); Linux's lapic_timer_set_oneshot
                // writes LVTT first, then the count or the deadline.
                const uint32_t mode = g.tsc_deadline ? static_cast<uint32_t>(kvm::kLvttTscDeadline) : 0u;
                apic_write(v, apic::LVT_TIMER,
                           static_cast<uint32_t>(apic::LvtTimer::Mode.make(mode)) | kTimerVector);
                arm_timer(g);
            }
        hw_.cpu(v).guest_set_if(true);  // local_irq_enable
    }
    booted(scenario.vcpus);
}

void Guest::allocate_vectors(const Scenario& scenario, bool logical) {
    // Flat logical mode names at most 8 CPUs; a bigger guest uses physical destinations.
    if (logical && scenario.vcpus > 8) {
        logical = false;
        log_.emit(tp::kGuestMsiDestPhysical, scenario.vcpus);
    }
    s_.logical = logical;
    s_.sources.assign(scenario.sources.size(), GuestSource{});
    std::array<int32_t, 256> none;
    none.fill(-1);
    s_.owner.assign(scenario.vcpus, none);
    std::vector<bool> timer(scenario.vcpus, false);
    for (SourceId id = 0; id < scenario.sources.size(); ++id) {
        const Source& src = scenario.sources[id];
        if (!src.vcpu) continue;
        GuestSource& g = s_.sources[id];
        g.routed = true;
        g.vcpu = *src.vcpu;
        g.timer = scenario.device_of(id).kind == DeviceKind::Timer;
        g.tsc_deadline = g.timer && scenario.device_of(id).timer_mode == TimerMode::TscDeadline;
        g.nmi = src.nmi;
        if (g.timer) {
            if (timer[g.vcpu]) throw std::logic_error("Guest: two timers on one vCPU passed the scenario loader");
            timer[g.vcpu] = true;
            g.vector = kTimerVector;
            s_.owner[g.vcpu][kTimerVector] = static_cast<int32_t>(id);
            continue;
        }
        g.vector = allocate(g.vcpu, id);
        if (!g.vector)
            throw InputError(src.route_loc,
                             fmt::format("routes: the x86 guest has {} device vectors per vCPU ({:#x}..{:#x}) and "
                                         "vCPU {} has no vector left for {}",
                                         kLastGuestVector - kFirstGuestVector + 1, kFirstGuestVector, kLastGuestVector,
                                         g.vcpu, src.name));
    }
}

void Guest::booted(uint32_t vcpus) { log_.emit(tp::kGuestBoot, vcpus, s_.logical ? "logical" : "physical"); }

bool Guest::has_timer(uint32_t vcpu) const {
    for (const GuestSource& g : s_.sources)
        if (g.routed && g.timer && g.vcpu == vcpu) return true;
    return false;
}

MsixEntry Guest::msi(SourceId source) const {
    const GuestSource& g = s_.sources.at(source);
    uint64_t address = kvm::MsiAddress::Fee.make(0xFEE);
    if (s_.logical) {
        address = kvm::MsiAddress::DestId.set(address, 1u << (g.vcpu % 8));
        address = kvm::MsiAddress::DM.set(address, 1);
    } else {
        address = kvm::MsiAddress::DestId.set(address, g.vcpu);  // its xAPIC ID (KVM: the vCPU id)
    }
    uint32_t data = static_cast<uint32_t>(kvm::MsiData::Vector.make(g.vector));  // fixed, edge
    if (g.nmi) data = static_cast<uint32_t>(kvm::MsiData::DeliveryMode.set(data, 4));  // NMI
    return MsixEntry{address, data};
}

void Guest::send_ipi(SourceId source, uint32_t from) {
    const GuestSource& g = s_.sources.at(source);
    const uint32_t dest = s_.logical ? 1u << (g.vcpu % 8) : g.vcpu;
    log_.emit(tp::kGuestSendIpi, from, g.vcpu, g.vector);
    apic_write(from, apic::ICR_HI, dest << 24);
    apic_write(from, apic::ICR_LO, g.vector | (s_.logical ? 1u << 11 : 0u));
}

void Guest::apic_write(uint32_t vcpu, uint32_t offset, uint32_t value) {
    Cpu& cpu = hw_.cpu(vcpu);
    cpu.guest_apic_write(offset, value);
    // IPI virtualization's notification goes out on the bus as the write completes.
    if (auto sent = cpu.take_sent()) hw_.send(InterruptMessage{sent->first, sent->second});
    if (cpu.in_guest()) return;  // virtualized
    // An APIC-access or APIC-write exit: the host handles it and re-enters.
    if (!exit_(vcpu)) throw std::logic_error("Guest::apic_write: left the guest without an exit");
}

void Guest::wrmsr(uint32_t vcpu, uint32_t msr, uint64_t value) {
    hw_.cpu(vcpu).guest_wrmsr(msr, value);
    if (!exit_(vcpu)) throw std::logic_error("Guest::wrmsr: WRMSR left the guest without an exit");
}

// One-shot: the initial count (lapic_next_event writes TMICT). TSC-deadline: the next deadline
// (lapic_next_deadline: wrmsrq(MSR_IA32_TSC_DEADLINE, ...)).
void Guest::arm_timer(const GuestSource& g) {
    if (g.tsc_deadline)
        wrmsr(g.vcpu, kvm::kMsrIa32TscDeadline, kTimerTscDeadline);
    else
        apic_write(g.vcpu, apic::TMICT, kTimerInitialCount);
}

std::optional<SourceId> Guest::source_of(uint32_t vcpu, uint8_t vector) const {
    int32_t id = s_.owner.at(vcpu)[vector];
    if (id < 0) return std::nullopt;
    return static_cast<SourceId>(id);
}

std::optional<SourceId> Guest::took(uint32_t vcpu, uint8_t vector, DeliveryPath path, const Scenario& scenario,
                                    GuestLog& guest) {
    std::optional<SourceId> source = source_of(vcpu, vector);
    if (source) {
        guest.take(vcpu, *source, path);
        log_.emit(tp::kGuestInterrupt.touching(scenario.sources[*source].name), vcpu, Hex{vector}, to_string(path));
    } else {
        log_.emit(tp::kGuestInterruptError, "an interrupt on a vector no driver requested", vcpu, Hex{vector});
    }
    return source;
}

unsigned Guest::take_interrupts(uint32_t vcpu, const Scenario& scenario, GuestLog& guest, RunBudget* budget) {
    Cpu& cpu = hw_.cpu(vcpu);
    RunBudget own;
    RunBudget& steps = budget ? *budget : own;
    unsigned taken = 0;
    while (steps.spend()) {
        if (!cpu.in_guest()) return taken;  // an exit the host still has to handle
        // An injected NMI comes first (IDT vector 2, RFLAGS.IF does not block it); its handler
        // counts it and returns with IRET, which may end in an NMI-window exit.
        if (std::optional<uint8_t> tag = cpu.guest_nmi()) {
            std::optional<SourceId> source = source_of(vcpu, *tag);
            if (source) {
                guest.take(vcpu, *source, DeliveryPath::Software);  // always KVM's injection
                log_.emit(tp::kGuestNmi.touching(scenario.sources[*source].name), vcpu, Hex{*tag});
            } else {
                log_.emit(tp::kGuestInterruptError, "an NMI no driver's MSI raised", vcpu, Hex{*tag});
            }
            ++taken;
            cpu.guest_iret();
            if (!cpu.in_guest()) exit_(vcpu);
            continue;
        }
        std::optional<uint8_t> vector = cpu.guest_interrupt();
        if (!cpu.in_guest()) {  // interrupt-window exit: the host handles it and re-enters
            exit_(vcpu);
            continue;
        }
        if (!vector) return taken;
        DeliveryPath path = kvm_.delivered(vcpu, *vector);
        std::optional<SourceId> source = took(vcpu, *vector, path, scenario, guest);
        ++taken;
        apic_write(vcpu, apic::EOI, 0);
        if (source && s_.sources[*source].timer) arm_timer(s_.sources[*source]);  // next tick
    }
    return taken;  // the budget is spent (the backend reports it)
}

MsixEntry Guest::retarget(SourceId source, uint32_t vcpu, std::optional<bool> nmi) {
    GuestSource& g = s_.sources.at(source);
    if (nmi && *nmi != g.nmi) {
        g.nmi = *nmi;
        log_.emit(tp::kGuestMsiDeliveryMode, g.vcpu, Hex{g.vector}, g.nmi ? "nmi" : "fixed");
    }
    if (vcpu == g.vcpu) {
        // Linux's vector allocator keeps the vector when the current target is in the new
        // affinity (arch/x86/kernel/apic/vector.c, assign_vector_locked): nothing moves.
        log_.emit(tp::kGuestRetarget, g.vcpu, vcpu, Hex{g.vector});
        return msi(source);
    }
    uint8_t vector = allocate(vcpu, source);
    if (!vector) {
        log_.emit(tp::kGuestRetargetError, "no free vector on the new vCPU: the interrupt stays", vcpu);
        return msi(source);
    }
    log_.emit(tp::kGuestRetarget, g.vcpu, vcpu, Hex{vector});
    g.vcpu = vcpu;
    g.vector = vector;
    return msi(source);
}

}  // namespace irqdiff::x86
