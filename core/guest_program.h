// The machine a Unicorn guest program runs on: its RAM (the program, then one area per vCPU with
// the mailbox the emulator writes, the log the guest writes, and a stack), one Unicorn engine per
// vCPU, and the emulator's side of the guest ABI (docs/guests.md): writing the mailbox, reading
// the guest's log, saving and restoring all of it. The architecture glue
// (arm_gic/guest/unicorn_guest.cc, x86_pi/guest/unicorn_guest.cc) adds the interrupt controller.
//
// Guest-physical layout (both architectures; docs/guests.md):
//   0x0020'0000  the program (<= 64 KiB): _start, vectors or IDT, handler, idle loop
//   0x0021'0000 + v * 0x4000   vCPU v's area:
//       +0x000  mailbox, written by the emulator:  +0x00 u32 mask (1: PSTATE.I / RFLAGS.IF set)
//               +0x04 u32 vCPU index   +0x08 u64 clock   +0x10 u32 timer initial count (x86; 0: none)
//       +0x040  log header, written by the guest:  +0x00 u32 head (entries ever written)
//       +0x080  log: kLogEntries entries of 16 bytes {u32 id (INTID or vector), u32 0, u64 timestamp},
//               entry n at slot n % kLogEntries
//       +0x4000 top of the vCPU's stack (SP at entry)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/event_log.h"
#include "core/unicorn_cpu.h"

namespace irqdiff {

struct GuestAbi {
    static constexpr uint64_t kBase = 0x20'0000;
    static constexpr uint64_t kProgramBytes = 0x1'0000;
    static constexpr uint64_t kVcpuAreas = kBase + kProgramBytes;
    static constexpr uint64_t kVcpuBytes = 0x4000;
    // Offsets in a vCPU's area.
    static constexpr uint64_t kMask = 0x00;
    static constexpr uint64_t kIndex = 0x04;
    static constexpr uint64_t kClock = 0x08;
    static constexpr uint64_t kTimerCount = 0x10;
    static constexpr uint64_t kLogHead = 0x40;
    static constexpr uint64_t kLog = 0x80;
    static constexpr uint64_t kLogEntryBytes = 16;
    static constexpr uint32_t kLogEntries = 512;
    static constexpr uint64_t kStackTop = kVcpuBytes;

    static uint64_t area(uint32_t vcpu) { return kVcpuAreas + uint64_t{vcpu} * kVcpuBytes; }
};

/// One entry of the guest's log.
struct GuestLogEntry {
    uint32_t id = 0;
    uint64_t timestamp = 0;
};

class GuestMachine {
   public:
    /// `arch` names the vCPUs in errors ("arm vCPU 0"); `budget` bounds every run (instructions).
    GuestMachine(const GuestImage& image, uint32_t vcpus, const std::string& arch, uint64_t budget);

    const GuestImage& image() const { return image_; }
    GuestRam& ram() { return *ram_; }
    uint32_t vcpus() const { return static_cast<uint32_t>(cpus_.size()); }
    UnicornCpu& cpu(uint32_t vcpu) { return *cpus_.at(vcpu); }
    uint64_t budget() const { return budget_; }
    /// The program's idle loop: every run ends when the vCPU's PC gets there.
    uint64_t idle() const { return idle_; }

    /// Runs vCPU `vcpu` from its PC to the idle loop (GuestFault on a fault or a runaway).
    void run_to_idle(uint32_t vcpu) { cpu(vcpu).run_until(idle_, budget_); }

    // ---- the mailbox -------------------------------------------------------------------------
    void set_mask(uint32_t vcpu, bool masked) { ram_->store<uint32_t>(GuestAbi::area(vcpu) + GuestAbi::kMask, masked); }
    bool mask(uint32_t vcpu) const { return ram_->load<uint32_t>(GuestAbi::area(vcpu) + GuestAbi::kMask) != 0; }
    void set_clock(uint32_t vcpu, uint64_t clock) { ram_->store<uint64_t>(GuestAbi::area(vcpu) + GuestAbi::kClock, clock); }
    void set_timer_count(uint32_t vcpu, uint32_t count) {
        ram_->store<uint32_t>(GuestAbi::area(vcpu) + GuestAbi::kTimerCount, count);
    }

    // ---- the guest's log ---------------------------------------------------------------------
    /// Appends to `out` the entries the guest wrote since the last call. A head that went
    /// backwards or ran more than a whole ring ahead is a GuestFault (the guest corrupted it).
    void drain_log(uint32_t vcpu, std::vector<GuestLogEntry>& out);
    /// How many entries the guest has written (its log head).
    uint32_t log_head(uint32_t vcpu) const {
        return ram_->load<uint32_t>(GuestAbi::area(vcpu) + GuestAbi::kLogHead);
    }

    // ---- the interrupt-entry events (docs/guests.md "Traces") -------------------------------------
    /// GUEST.irq_entry {vcpu, pc, insn} for an interrupt entering vCPU `vcpu` at `pc` (the
    /// instruction disassembled only when `log` records: Capstone is costly). With `trace`
    /// (--trace-guest) and a recording log, the vCPU's instructions are recorded until irq_return.
    void irq_entry(EventLog& log, uint32_t vcpu, uint64_t pc, bool trace);
    /// GUEST.irq_return {vcpu, taken} once the handler is back at `idle`; with `trace` (as given to
    /// irq_entry) also `handler`, each instruction it executed as "0xADDR: text" joined by "; ".
    void irq_return(EventLog& log, uint32_t vcpu, size_t taken, bool trace);

    // ---- snapshots ---------------------------------------------------------------------------
    struct Snapshot {
        std::vector<uint8_t> ram;
        std::vector<UnicornCpu::Context> cpus;
        std::vector<uint32_t> cursors;
    };
    Snapshot snapshot() const;
    void restore(const Snapshot& s);

   private:
    const GuestImage& image_;
    uint64_t budget_;
    uint64_t idle_;
    std::unique_ptr<GuestRam> ram_;
    std::vector<std::unique_ptr<UnicornCpu>> cpus_;
    std::vector<uint32_t> cursors_;  // per vCPU: log entries already read
};

}  // namespace irqdiff
