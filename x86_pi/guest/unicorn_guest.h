// The Unicorn x86 guest (issue 7): the program x86_pi/guest/guest_x86_64.S running on one Unicorn
// Engine per vCPU (core/guest_program.h), glued to the models. Its xAPIC accesses (uc_mmio_map at
// 0xFEE00000, reference/unicorn_2_0_1.md x86-64 item 2) go to the modelled CPU exactly as the
// abstract guest's do (virtualized, or a VM exit KVM handles); its RFLAGS.IF is the VMCS's guest
// IF; and the interrupts the CPU model delivers (virtual-interrupt delivery, or an event KVM
// injected) enter the program through its own IDT, the glue performing the interrupt entry that
// Unicorn does not (x86-64 item 4). The drivers' side of the guest (vectors, MSI destinations,
// retargeting) stays the abstract guest's (guest.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "core/bits.h"
#include "core/guest_program.h"
#include "x86_pi/guest/guest.h"
#include "x86_pi/kvm/kvm.h"

namespace irqdiff::x86 {

/// A 64-bit IDT gate descriptor (16 bytes) [SDM Vol. 3A §6.14.1, "64-Bit IDT Gate Descriptors";
/// not in reference/].
struct IdtGate {
    struct Low {
        static constexpr Field<63, 48> OffsetMid{};  // offset[31:16]
        static constexpr Field<47> P{};
        static constexpr Field<46, 45> DPL{};
        static constexpr Field<43, 40> Type{};  // 0xE 64-bit interrupt gate, 0xF trap gate
        static constexpr Field<34, 32> IST{};
        static constexpr Field<31, 16> Selector{};
        static constexpr Field<15, 0> OffsetLow{};  // offset[15:0]
    };
    struct High {
        static constexpr Field<31, 0> OffsetHigh{};  // offset[63:32]; bits 63:32 reserved
    };
    static constexpr uint8_t kInterruptGate = 0xE;

    uint64_t offset = 0;
    uint16_t selector = 0;
    uint8_t ist = 0;
    uint8_t type = 0;
    uint8_t dpl = 0;
    bool present = false;

    static IdtGate decode(uint64_t low, uint64_t high);
    std::pair<uint64_t, uint64_t> encode() const;
    bool operator==(const IdtGate&) const = default;
};

/// A GDT code- or data-segment descriptor, the fields an interrupt entry in 64-bit mode checks
/// [SDM Vol. 3A §3.4.5 "Segment Descriptors", §5.2.1 "Code-Segment Descriptor in 64-bit Mode"].
struct SegmentDescriptor {
    static constexpr Field<55> G{};
    static constexpr Field<54> DB{};
    static constexpr Field<53> L{};  // 64-bit code segment
    static constexpr Field<47> P{};
    static constexpr Field<46, 45> DPL{};
    static constexpr Field<44> S{};     // 1: code or data
    static constexpr Field<43> Code{};  // type[3]: executable
};

/// The machine the VM runs on now (the source, or the destination after a migration), given to
/// every call that may touch the models.
struct ActiveMachine {
    Platform& hw;
    kvm::Kvm kvm;                   // which path delivered a vector; an emulated read's value
    Guest guest;                    // the drivers' state over the same machine
    host::ExitPath exit;            // a vCPU left the guest: the host's exit path, then re-entry
    std::function<void()> service;  // every machine's host CPUs take their pending work (X86Backend::service)
};

class UnicornGuest {
   public:
    UnicornGuest(uint32_t vcpus, const GuestOptions& options, EventLog& log);
    ~UnicornGuest();
    UnicornGuest(const UnicornGuest&) = delete;
    UnicornGuest& operator=(const UnicornGuest&) = delete;

    GuestMachine& machine() { return machine_; }

    /// Each vCPU (in the guest) runs the program from `_start` to `idle`: its GDT, IDT, stack and
    /// xAPIC set-up, then RFLAGS.IF = 1. The drivers' part of boot (Guest::allocate_vectors) must
    /// have run: the mailbox gets each vCPU's timer count from it.
    void boot(ActiveMachine host);
    /// A mask or unmask step: the mailbox's mask word, then the vCPU runs its idle loop once, so
    /// the program itself executes CLI or STI; the model's RFLAGS.IF follows.
    void set_mask(ActiveMachine host, uint32_t vcpu, bool masked);
    /// The vCPU runs: every interrupt the CPU model delivers enters the program's handler, mirroring
    /// Guest::take_interrupts (and its `budget`). Returns how many it took.
    unsigned take_interrupts(ActiveMachine host, uint32_t vcpu, const Scenario& scenario, GuestLog& guest,
                             RunBudget* budget = nullptr);

    GuestMachine::Snapshot snapshot() const { return machine_.snapshot(); }
    void restore(const GuestMachine::Snapshot& s) { machine_.restore(s); }

   private:
    struct Hook {
        UnicornGuest* self;
        uint32_t vcpu;
    };
    static uint64_t on_mmio_read(uc_engine* uc, uint64_t offset, unsigned size, void* hook);
    static void on_mmio_write(uc_engine* uc, uint64_t offset, unsigned size, uint64_t value, void* hook);
    uint32_t apic_read(uint32_t vcpu, uint64_t offset, unsigned size);
    void apic_write(uint32_t vcpu, uint64_t offset, unsigned size, uint32_t value);
    /// Before a model call from guest code: the vCPU is in non-root operation (the host handled
    /// any exit still pending) and the model's RFLAGS.IF is the program's.
    Cpu& prepare(uint32_t vcpu);
    void sync_if(Cpu& model, uint32_t vcpu);
    /// Runs the vCPU to `idle` with `host` bound for the xAPIC hooks.
    void run(ActiveMachine& host, uint32_t vcpu);
    /// The interrupt entry through the IDT (x86-64 item 4) for `vector` at the vCPU's PC.
    void enter(uint32_t vcpu, uint8_t vector);

    EventLog& log_;
    GuestOptions options_;
    std::unique_ptr<Hook[]> hooks_;  // user data of each engine's MMIO callbacks (outlives the engines)
    GuestMachine machine_;
    uint64_t poll_;
    ActiveMachine* host_ = nullptr;  // bound while a vCPU runs
    std::vector<GuestLogEntry> entries_;
};

}  // namespace irqdiff::x86
