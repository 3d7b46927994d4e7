// The Unicorn x86 guest's glue (unicorn_guest.h). The program is x86_pi/guest/guest_x86_64.S.
//
// What the glue sets before `_start` (as firmware hands a kernel its boot information): RDI = the
// vCPU's area (GuestAbi::area(v)), the mailbox's mask word 0 and its timer count. The program does
// the rest itself: its GDT and CS/SS (Unicorn's reset segments have no GDT behind them, so IRETQ
// would fault: reference/unicorn_2_0_1.md x86-64 item 1), its IDT, stack and xAPIC.
//
// Resuming the idle loop: a run that starts with RIP == `idle` executes nothing (Unicorn returns
// at once when begin == until), so a mask or unmask step starts the vCPU at `poll`, the loop's
// body that `idle: jmp poll` would execute next.
#include "x86_pi/guest/unicorn_guest.h"

#include <fmt/format.h>

#include <stdexcept>

namespace irqdiff::guest_images {
const GuestImage& x86_guest();
}  // namespace irqdiff::guest_images

namespace irqdiff::x86 {

namespace {

constexpr uint64_t kApicBase = 0xFEE0'0000;  // xAPIC MMIO (x86-64 item 2)

// RFLAGS [SDM Vol. 1 §3.4.3]. An interrupt through an interrupt gate clears TF, NT, RF and IF after
// saving RFLAGS [SDM Vol. 3A §6.12.1.3, §6.14.2].
struct Rflags {
    static constexpr Field<16> RF{};
    static constexpr Field<14> NT{};
    static constexpr Field<9> IF{};
    static constexpr Field<8> TF{};
};
constexpr uint64_t kFrameBytes = 5 * 8;  // SS, RSP, RFLAGS, CS, RIP (no error code for an interrupt)

}  // namespace

// ---- descriptors ---------------------------------------------------------------------------------

IdtGate IdtGate::decode(uint64_t low, uint64_t high) {
    IdtGate g;
    g.offset = Low::OffsetLow.get(low) | Low::OffsetMid.get(low) << 16 | High::OffsetHigh.get(high) << 32;
    g.selector = static_cast<uint16_t>(Low::Selector.get(low));
    g.ist = static_cast<uint8_t>(Low::IST.get(low));
    g.type = static_cast<uint8_t>(Low::Type.get(low));
    g.dpl = static_cast<uint8_t>(Low::DPL.get(low));
    g.present = Low::P.get(low) != 0;
    return g;
}

std::pair<uint64_t, uint64_t> IdtGate::encode() const {
    uint64_t low = Low::OffsetLow.make(offset) | Low::OffsetMid.make(offset >> 16) | Low::Selector.make(selector) |
                   Low::IST.make(ist) | Low::Type.make(type) | Low::DPL.make(dpl) | Low::P.make(present);
    return {low, High::OffsetHigh.make(offset >> 32)};
}

// ---- set-up ----------------------------------------------------------------------------------------

UnicornGuest::UnicornGuest(uint32_t vcpus, const GuestOptions& options, EventLog& log)
    : log_(log),
      options_(options),
      hooks_(std::make_unique<Hook[]>(vcpus)),
      machine_(guest_images::x86_guest(), vcpus, "x86", options.budget),
      poll_(machine_.image().symbol("poll")) {
    for (uint32_t v = 0; v < vcpus; ++v) {
        hooks_[v] = Hook{this, v};
        UnicornCpu& cpu = machine_.cpu(v);
        uc_err e = uc_mmio_map(cpu.engine(), kApicBase, apic::kPageBytes, &UnicornGuest::on_mmio_read, &hooks_[v],
                               &UnicornGuest::on_mmio_write, &hooks_[v]);
        if (e != UC_ERR_OK)
            throw std::logic_error(fmt::format("Unicorn uc_mmio_map(xAPIC) for {}: {}", cpu.label(), uc_strerror(e)));
    }
}

UnicornGuest::~UnicornGuest() = default;

void UnicornGuest::run(ActiveMachine& host, uint32_t vcpu) {
    struct Bind {
        UnicornGuest* g;
        ~Bind() { g->host_ = nullptr; }
    } bind{this};
    host_ = &host;
    machine_.run_to_idle(vcpu);
}

void UnicornGuest::sync_if(Cpu& model, uint32_t vcpu) {
    // The VMCS's guest RFLAGS.IF is what the CPU model and KVM consult; the program's real flag is
    // Unicorn's.
    model.guest_set_if(Rflags::IF.get(machine_.cpu(vcpu).reg(UC_X86_REG_RFLAGS)) != 0);
}

void UnicornGuest::boot(ActiveMachine host) {
    const uint64_t start = machine_.image().symbol("_start");
    for (uint32_t v = 0; v < machine_.vcpus(); ++v) {
        UnicornCpu& cpu = machine_.cpu(v);
        if (cpu.pc() != start) throw std::logic_error("UnicornGuest::boot: the vCPU has run already");
        if (!host.hw.cpu(v).in_guest()) throw std::logic_error("UnicornGuest::boot: the vCPU is not in the guest");
        machine_.set_mask(v, false);  // local_irq_enable at the end of boot
        machine_.set_timer_count(v, host.guest.has_timer(v) ? kTimerInitialCount : 0);
        cpu.set_reg(UC_X86_REG_RDI, GuestAbi::area(v));
        run(host, v);
        sync_if(host.hw.cpu(v), v);
    }
}

void UnicornGuest::set_mask(ActiveMachine host, uint32_t vcpu, bool masked) {
    UnicornCpu& cpu = machine_.cpu(vcpu);
    if (cpu.pc() != machine_.idle()) throw std::logic_error("UnicornGuest::set_mask: the vCPU is not in its idle loop");
    machine_.set_mask(vcpu, masked);
    cpu.set_pc(poll_);
    run(host, vcpu);
    sync_if(host.hw.cpu(vcpu), vcpu);
}

// ---- the xAPIC -------------------------------------------------------------------------------------

uint64_t UnicornGuest::on_mmio_read(uc_engine*, uint64_t offset, unsigned size, void* hook) {
    const Hook& h = *static_cast<Hook*>(hook);
    uint64_t value = 0;
    h.self->machine_.cpu(h.vcpu).guarded([&] { value = h.self->apic_read(h.vcpu, offset, size); });
    return value;
}

void UnicornGuest::on_mmio_write(uc_engine*, uint64_t offset, unsigned size, uint64_t value, void* hook) {
    const Hook& h = *static_cast<Hook*>(hook);
    h.self->machine_.cpu(h.vcpu).guarded(
        [&] { h.self->apic_write(h.vcpu, offset, size, static_cast<uint32_t>(value)); });
}

Cpu& UnicornGuest::prepare(uint32_t vcpu) {
    if (!host_) throw std::logic_error("UnicornGuest: an xAPIC access outside a run the glue drives");
    Cpu& cpu = host_->hw.cpu(vcpu);
    if (!cpu.in_guest()) {
        // An exit an earlier access left (an external interrupt recognized at the re-entry): the
        // host handles it and re-enters before the program's next instruction.
        host_->service();
        if (!cpu.in_guest())
            throw std::logic_error("UnicornGuest: the vCPU left the guest in the middle of its program");
    }
    sync_if(cpu, vcpu);
    return cpu;
}

namespace {
// xAPIC registers are 32 bits wide, each at the start of a 16-byte slot, and are accessed with
// aligned 32-bit loads and stores [SDM Vol. 3A "Local APIC Register Address Map"]; the model has
// no other accesses.
std::string bad_access(const char* kind, uint64_t offset, unsigned size) {
    return fmt::format("a {}-byte xAPIC {} at {:#x}: the model has only aligned 32-bit register accesses", size, kind,
                       kApicBase + offset);
}
}  // namespace

uint32_t UnicornGuest::apic_read(uint32_t vcpu, uint64_t offset, unsigned size) {
    UnicornCpu& uc = machine_.cpu(vcpu);
    if (size != 4 || offset % 16 != 0) uc.fault(uc.pc(), bad_access("read", offset, size));
    Cpu& cpu = prepare(vcpu);
    const uint32_t off = static_cast<uint32_t>(offset);
    if (std::optional<uint32_t> value = cpu.guest_apic_read(off)) return *value;  // SDM §29.4.2
    // An APIC-access exit: the host emulates the read and re-enters; the value is in the
    // instruction's destination register.
    if (!host_->exit(vcpu)) throw std::logic_error("UnicornGuest::apic_read: left the guest without an exit");
    std::optional<uint32_t> value = host_->kvm.take_emulated_read(vcpu);
    if (!value)
        uc.fault(uc.pc(), fmt::format("a read of xAPIC register {:#x}, which KVM does not emulate (kvm_lapic_reg_read)",
                                      kApicBase + offset));
    return *value;
}

void UnicornGuest::apic_write(uint32_t vcpu, uint64_t offset, unsigned size, uint32_t value) {
    UnicornCpu& uc = machine_.cpu(vcpu);
    if (size != 4 || offset % 16 != 0) uc.fault(uc.pc(), bad_access("write", offset, size));
    Cpu& cpu = prepare(vcpu);
    cpu.guest_apic_write(static_cast<uint32_t>(offset), value);  // as Guest::apic_write
    if (cpu.in_guest()) return;                                  // virtualized
    // An APIC-access or APIC-write exit: the host handles it and re-enters.
    if (!host_->exit(vcpu)) throw std::logic_error("UnicornGuest::apic_write: left the guest without an exit");
}

// ---- interrupts --------------------------------------------------------------------------------------

// Delivery of an external interrupt in 64-bit mode [SDM Vol. 3A §6.14.1-§6.14.2, x86-64 item 4]:
// the gate (within IDTR.limit, present, a 64-bit interrupt gate, a 64-bit code segment's
// selector), then the frame on the current stack (same privilege, no IST) aligned down to 16
// bytes: SS, RSP, RFLAGS, CS, RIP; TF, NT, RF and IF cleared; CS:RIP from the gate. What the
// processor would turn into #GP, #NP or a double fault is a GuestFault here.
void UnicornGuest::enter(uint32_t vcpu, uint8_t vector) {
    UnicornCpu& c = machine_.cpu(vcpu);
    GuestRam& ram = machine_.ram();
    const uint64_t pc = c.pc();
    auto fault = [&](const std::string& why) { c.fault(pc, fmt::format("interrupt vector {:#04x}: {}", vector, why)); };

    uc_x86_mmr idtr{};
    c.reg_struct(UC_X86_REG_IDTR, &idtr);
    const uint64_t index = uint64_t{vector} * 16;
    if (index + 15 > idtr.limit)
        fault(fmt::format("its IDT gate at IDTR.base {:#x} + {:#x} is beyond IDTR.limit {:#x} (#GP)", idtr.base, index,
                          idtr.limit));
    const uint64_t at = idtr.base + index;
    if (!ram.contains(at, 16)) fault(fmt::format("its IDT gate at {:#x} is outside guest RAM", at));
    const IdtGate gate = IdtGate::decode(ram.load<uint64_t>(at), ram.load<uint64_t>(at + 8));
    if (!gate.present) fault(fmt::format("its IDT gate at {:#x} is not present (#NP)", at));
    if (gate.type != IdtGate::kInterruptGate)
        fault(fmt::format("its IDT gate at {:#x} has type {:#x}, not a 64-bit interrupt gate (0xE)", at, gate.type));
    if (gate.ist != 0)
        fault(
            fmt::format("its IDT gate at {:#x} asks for IST {}: the program has no TSS (not modelled)", at, gate.ist));

    // The gate's selector: a present 64-bit code segment in the GDT (SDM Vol. 3A §6.14.1).
    const uint16_t sel = gate.selector;
    if ((sel & 0xFFFC) == 0) fault(fmt::format("its IDT gate at {:#x} has a null code selector (#GP)", at));
    if (sel & 4) fault(fmt::format("its IDT gate's selector {:#x} names the LDT, which the program has not", sel));
    uc_x86_mmr gdtr{};
    c.reg_struct(UC_X86_REG_GDTR, &gdtr);
    const uint64_t desc_at = gdtr.base + (sel & ~uint64_t{7});
    if ((sel & ~7u) + 7u > gdtr.limit || !ram.contains(desc_at, 8))
        fault(fmt::format("its IDT gate's selector {:#x} is beyond GDTR.limit {:#x} or outside guest RAM (#GP)", sel,
                          gdtr.limit));
    const uint64_t desc = ram.load<uint64_t>(desc_at);
    using D = SegmentDescriptor;
    if (!D::P.get(desc) || !D::S.get(desc) || !D::Code.get(desc) || !D::L.get(desc) || D::DB.get(desc))
        fault(
            fmt::format("its IDT gate's selector {:#x} names GDT descriptor {:#018x}, not a present 64-bit code "
                        "segment (#GP)",
                        sel, desc));

    const uint64_t rsp = c.reg(UC_X86_REG_RSP);
    const uint64_t frame = (rsp & ~uint64_t{0xF}) - kFrameBytes;
    if (rsp < kFrameBytes + 16 || !ram.contains(frame, kFrameBytes))
        fault(fmt::format("the interrupt frame ({} bytes below RSP {:#x}) is outside guest RAM", kFrameBytes, rsp));
    const uint64_t rflags = c.reg(UC_X86_REG_RFLAGS);
    const uint64_t cs = c.reg(UC_X86_REG_CS);
    ram.store<uint64_t>(frame + 0, pc);
    ram.store<uint64_t>(frame + 8, cs);
    ram.store<uint64_t>(frame + 16, rflags);
    ram.store<uint64_t>(frame + 24, rsp);
    ram.store<uint64_t>(frame + 32, c.reg(UC_X86_REG_SS));
    c.set_reg(UC_X86_REG_RSP, frame);
    c.set_reg(UC_X86_REG_RFLAGS, rflags & ~(Rflags::TF.kMask | Rflags::IF.kMask | Rflags::NT.kMask | Rflags::RF.kMask));
    if (sel != cs) c.set_reg(UC_X86_REG_CS, sel);
    c.set_pc(gate.offset);
}

unsigned UnicornGuest::take_interrupts(ActiveMachine host, uint32_t vcpu, const Scenario& scenario, GuestLog& guest,
                                       RunBudget* budget) {
    Cpu& cpu = host.hw.cpu(vcpu);
    UnicornCpu& uc = machine_.cpu(vcpu);
    RunBudget own;
    RunBudget& steps = budget ? *budget : own;
    unsigned taken = 0;
    while (steps.spend()) {
        // Guest::take_interrupts: the CPU model says what the guest takes at this instruction
        // boundary (its idle loop).
        if (!cpu.in_guest()) return taken;  // an exit the host still has to handle
        std::optional<uint8_t> vector = cpu.guest_interrupt();
        if (!cpu.in_guest()) {  // interrupt-window exit: the host handles it and re-enters
            host.exit(vcpu);
            continue;
        }
        if (!vector) return taken;
        const DeliveryPath path = host.kvm.delivered(vcpu, *vector);

        const uint64_t pc = uc.pc();
        if (pc != machine_.idle()) throw std::logic_error("UnicornGuest: an interrupt outside the idle loop");
        machine_.set_clock(vcpu, log_.total());
        machine_.irq_entry(log_, vcpu, pc, options_.trace_instructions);
        enter(vcpu, *vector);
        run(host, vcpu);  // the handler, until IRETQ returns to `idle`
        sync_if(cpu, vcpu);

        // What the handler logged: the vector it was entered for, in service.
        entries_.clear();
        machine_.drain_log(vcpu, entries_);
        if (entries_.empty())
            uc.fault(uc.pc(), fmt::format("the handler for vector {:#04x} returned without logging it", *vector));
        for (const GuestLogEntry& e : entries_) {
            if (e.id == (*vector | 0x100u))
                uc.fault(uc.pc(),
                         fmt::format("the handler found vector {:#04x} not in service in the xAPIC ISR", *vector));
            if (e.id != *vector)
                uc.fault(uc.pc(), fmt::format("the handler for vector {:#04x} logged {:#x}", *vector, e.id));
            guest.record(GuestRecord{0, vcpu, e.id, e.timestamp, pc});
        }
        host.guest.took(vcpu, *vector, path, scenario, guest);
        ++taken;
        machine_.irq_return(log_, vcpu, entries_.size(), options_.trace_instructions);
    }
    return taken;  // the budget is spent (the backend reports it)
}

}  // namespace irqdiff::x86
