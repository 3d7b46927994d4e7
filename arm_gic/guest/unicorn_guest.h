// The Unicorn ARM guest (guest: unicorn; docs/guests.md): the AArch64 program
// arm_gic/guest/guest_aarch64.S running on one Unicorn engine per vCPU (core/guest_program.h),
// wired to the modelled GIC. Its ICC_* system-register accesses trap to MRS/MSR hooks that call
// the CPU interface of the machine the VM runs on now (passed in with every call, as it changes
// at migration); CNTVCT_EL0 reads return the event log's length, a deterministic clock. Unicorn
// never takes an exception itself (reference/unicorn_2_0_1.md, AArch64 item 5): the glue enters
// the guest's IRQ vector when the CPU interface signals an interrupt and PSTATE.I is clear,
// then reads back what the handler logged.
//
// The abstract guest (arm_gic/guest/guest.h) still does the driver work that has no guest code
// here (the LPI and ITS tables, the ITS commands) and still owns the INTID -> source mapping.
//
// Boot protocol: vCPU v starts at `_start` with x0 = GuestAbi::area(v), at EL1h; the program
// keeps that address in TPIDR_EL1 and its stack at the area's top (see the program's header).
#pragma once

#include <unicorn/unicorn.h>

#include <cstdint>
#include <vector>

#include "arm_gic/guest/guest.h"
#include "arm_gic/hw/cpu_interface.h"
#include "core/backend.h"
#include "core/guest_program.h"

namespace irqdiff {
namespace guest_images {
const GuestImage& arm_guest();
}  // namespace guest_images

namespace arm {

class UnicornGuest {
   public:
    UnicornGuest(uint32_t vcpus, const GuestOptions& options, EventLog& log);
    UnicornGuest(const UnicornGuest&) = delete;
    UnicornGuest& operator=(const UnicornGuest&) = delete;

    /// The engines and guest RAM (tests corrupt registers and memory through it).
    GuestMachine& machine() { return machine_; }

    /// Runs vCPU `vcpu`'s program from `_start` to `idle`: vectors, stack, ICC_PMR_EL1 = 0xFF and
    /// ICC_IGRPEN1_EL1 = 1 on `cpu`, PSTATE.I from the mailbox.
    void boot(uint32_t vcpu, CpuInterface& cpu);
    /// A mask or unmask step: writes the mailbox's mask word and runs the vCPU from its idle loop
    /// back to `idle` without injecting anything, so the guest sets or clears PSTATE.I itself.
    void set_mask(uint32_t vcpu, bool masked, CpuInterface& cpu);
    /// PSTATE.I of the vCPU: the truth about whether it is masked.
    bool masked(uint32_t vcpu);

    /// The vCPU runs: while PSTATE.I is clear and `cpu` signals an interrupt, enters the guest's
    /// IRQ vector and runs the handler back to `idle`; each INTID the handler logged becomes a
    /// GuestRecord and, through the abstract guest's INTID -> source mapping (`guest`), a
    /// delivery in `out` with the GUEST.take event the abstract guest emits. Returns how many
    /// entries the handler logged. Each handler entry spends a step of `budget` (nullptr: a budget
    /// of its own); it stops when the budget is spent.
    unsigned take_interrupts(uint32_t vcpu, CpuInterface& cpu, const GuestState& guest, const Scenario& scenario,
                             GuestLog& out, RunBudget* budget = nullptr);

    GuestMachine::Snapshot snapshot() const { return machine_.snapshot(); }
    void restore(const GuestMachine::Snapshot& s) { machine_.restore(s); }

   private:
    struct HookContext {
        UnicornGuest* self;
        uint32_t vcpu;
    };
    struct Ack {
        uint32_t intid;
        DeliveryPath path;
    };

    static uint32_t on_mrs(uc_engine* uc, uc_arm64_reg reg, const uc_arm64_cp_reg* cp, void* user);
    static uint32_t on_msr(uc_engine* uc, uc_arm64_reg reg, const uc_arm64_cp_reg* cp, void* user);
    /// One trapped system-register access; false: not ours, QEMU executes it.
    bool access(uint32_t vcpu, uc_arm64_reg reg, const uc_arm64_cp_reg& cp, bool read);
    /// Runs vCPU `vcpu` to `idle` with `cpu` serving its ICC_* accesses.
    void run(uint32_t vcpu, CpuInterface& cpu);
    /// Enters the IRQ vector (ELR, SPSR, PSTATE, PC) after checking VBAR_EL1 and the mode.
    void enter_irq(uint32_t vcpu);
    /// One interrupt entry: the handler runs; returns the entries it logged.
    unsigned deliver(uint32_t vcpu, CpuInterface& cpu, const GuestState& guest, const Scenario& scenario,
                     GuestLog& out);

    EventLog& log_;
    GuestOptions options_;
    GuestMachine machine_;
    uint64_t loop_head_;                  // `mailbox_poll`: the idle loop's head, where `idle` branches to
    std::vector<HookContext> hooks_;      // one per vCPU, never reallocated (the engines hold pointers)
    CpuInterface* cpu_ = nullptr;         // while a vCPU runs: its CPU interface on the active machine
    std::vector<Ack> acks_;               // INTIDs ICC_IAR1_EL1 returned during the current handler run
    bool ran_dry_ = false;                // the handler's last ICC access read ICC_IAR1_EL1 as 1023
    std::vector<GuestLogEntry> entries_;  // scratch for drain_log
};

}  // namespace arm
}  // namespace irqdiff
