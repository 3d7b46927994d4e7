// The abstract x86 guest: what a Linux guest's local-APIC and MSI code does, without running guest
// code (the Unicorn guest, unicorn_guest.h, runs real x86-64 code instead and keeps this guest's
// drivers' part: vectors, MSI destinations, retargeting). At boot each vCPU software-enables its xAPIC
// (SVR), sets flat logical mode (DFR, LDR = 1 << vCPU) and TPR 0, arms its timer if a timer source
// is routed to it (one-shot: LVTT then TMICT; `timer_mode: tsc-deadline`: LVTT in TSC-deadline mode,
// then WRMSR IA32_TSC_DEADLINE, as Linux's lapic_next_deadline does), and the drivers program each
// routed MSI-X vector with its vCPU's destination and a vector. When a vCPU runs with RFLAGS.IF=1 it
// takes every interrupt the CPU delivers and ends each with a write to the xAPIC EOI register; a
// timer interrupt re-arms the timer (TMICT, or the next deadline). An NMI (an MSI with delivery mode
// NMI: route key `nmi`) is taken whatever RFLAGS.IF says, and its handler ends with IRET (no EOI). Every APIC access and WRMSR goes
// through the modelled CPU (virtualized, or a VM exit KVM handles).
//
// Vectors (per vCPU, as Linux allocates them): the n-th MSI source routed to a vCPU gets vector
// 0x21 + n (up to 0xEB); the LAPIC timer uses 0xEC (LOCAL_TIMER_VECTOR). A retargeted source gets
// the lowest free vector on its new vCPU. MSI destination (policy x86.guest_apic_dest): logical
// (flat: destination 1 << vCPU, DM=1) or physical (the vCPU's xAPIC ID, DM=0).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/backend.h"
#include "core/device.h"
#include "core/policy.h"
#include "core/scenario.h"
#include "x86_pi/host/cpu.h"
#include "x86_pi/kvm/kvm.h"

namespace irqdiff::x86 {

inline constexpr uint8_t kFirstGuestVector = 0x21;
inline constexpr uint8_t kLastGuestVector = 0xEB;
inline constexpr uint8_t kTimerVector = 0xEC;
inline constexpr uint32_t kTimerInitialCount = 0x10'0000;
/// The IA32_TSC_DEADLINE value a TSC-deadline guest writes. Time is not modelled (the deadline
/// passing is the scenario's `fire`): the value only has to be non-zero (0 disarms).
inline constexpr uint64_t kTimerTscDeadline = 0x1'0000'0000;
/// How the guest addresses MSIs (policy x86.guest_apic_dest, declared in guest.cc).
enum class GuestApicDest : uint8_t {
    Logical,   // flat logical: destination 1 << vCPU, DM=1 (LDR is 0 at reset)
    Physical,  // the vCPU's xAPIC ID, DM=0 (already right at reset)
};
extern const Policy<GuestApicDest> kGuestApicDestPolicy;

struct GuestSource {
    bool routed = false;
    bool timer = false;
    bool tsc_deadline = false;  // a timer the guest runs in TSC-deadline mode (timer_mode: tsc-deadline)
    /// The MSI has delivery mode NMI (route or retarget key `nmi`). The source keeps its vector: the
    /// MSI data's vector field, which an NMI ignores, is the model's provenance tag of its NMIs.
    bool nmi = false;
    uint32_t vcpu = 0;
    uint8_t vector = 0;
    /// A timer source, the model's bookkeeping of wall-clock time (not the guest's state): one-shots
    /// KVM_SET_LAPIC fired before their deadline (QEMU migrates no TMCCT, 8e6ed96cdd50 fires at
    /// once); each of the scenario's next `fire`s of the source is one of those deadlines.
    uint32_t early_ticks = 0;
};

struct GuestState {
    bool logical = true;               // MSI destination mode
    std::vector<GuestSource> sources;  // by SourceId
    /// Per vCPU: vector -> the source it belongs to (-1: none). A retargeted source keeps its old
    /// vector on the old vCPU, so what is still pending there is still its own.
    std::vector<std::array<int32_t, 256>> owner;
};

/// The guest over the machine it runs on (a view).
class Guest {
   public:
    /// `kvm` only says which path delivered a vector the guest takes (Kvm::delivered, the model's
    /// provenance); the guest's exits go to the host through `exit`.
    Guest(GuestState& state, kvm::Kvm kvm, host::ExitPath exit, Platform& platform, EventLog& log)
        : s_(state), kvm_(kvm), exit_(exit), hw_(platform), log_(log) {}

    /// Vectors for every routed source, then each vCPU's LAPIC set-up (the vCPUs must be in the
    /// guest). Throws InputError when a vCPU has more sources than vectors.
    void boot(const Scenario& scenario, bool logical);
    /// boot() in parts, for the Unicorn guest (unicorn_guest.h), whose program sets up its own
    /// LAPIC: the drivers' part (the MSI destination mode and a vector for every routed source),
    /// then, once every vCPU is set up, the GUEST.boot event.
    void allocate_vectors(const Scenario& scenario, bool logical);
    void booted(uint32_t vcpus);
    /// A timer source is routed to the vCPU: its LAPIC timer is armed at boot.
    bool has_timer(uint32_t vcpu) const;
    /// The MSI-X entry the guest's driver writes for a source.
    /// The sender of an IPI source writes ICR_HI (the target's destination) then ICR_LO (fixed,
    /// edge, no shorthand): physical (xAPIC ID = the vCPU id) or flat logical (LDR bit) as the guest
    /// addresses MSIs (x86.guest_apic_dest; Linux's flat xAPIC driver sends logical IPIs).
    void send_ipi(SourceId source, uint32_t from);
    MsixEntry msi(SourceId source) const;
    /// The vCPU runs: it takes every interrupt the CPU gives it, reporting each to `guest`. An exit
    /// on the way (interrupt window, APIC access) goes to the host, which re-enters.
    /// Returns how many it took. Each interrupt taken and each exit handled spends a step of
    /// `budget` (nullptr: a budget of its own); it stops when the budget is spent.
    unsigned take_interrupts(uint32_t vcpu, const Scenario& scenario, GuestLog& guest, RunBudget* budget = nullptr);
    /// The source's interrupt moves to vCPU `vcpu`: a new vector there; returns the new entry
    /// for the device's MSI-X table.
    /// `nmi`: the new entry's delivery mode (NMI or fixed; nullopt keeps it).
    MsixEntry retarget(SourceId source, uint32_t vcpu, std::optional<bool> nmi = std::nullopt);
    /// The source a vector on a vCPU belongs to, if any.
    std::optional<SourceId> source_of(uint32_t vcpu, uint8_t vector) const;
    /// The vCPU took `vector` by `path`: reported to `guest` and as the GUEST.interrupt event (a
    /// guest error for a vector no driver requested). Returns its source.
    std::optional<SourceId> took(uint32_t vcpu, uint8_t vector, DeliveryPath path, const Scenario& scenario,
                                 GuestLog& guest);

   private:
    /// An xAPIC register write from the guest (an exit it causes goes to the host).
    void apic_write(uint32_t vcpu, uint32_t offset, uint32_t value);
    /// WRMSR from the guest: always a VM exit the host handles (Cpu::guest_wrmsr).
    void wrmsr(uint32_t vcpu, uint32_t msr, uint64_t value);
    /// Arm (or re-arm after a tick) the timer of source `g`.
    void arm_timer(const GuestSource& g);
    uint8_t allocate(uint32_t vcpu, SourceId source);

    GuestState& s_;
    kvm::Kvm kvm_;
    host::ExitPath exit_;
    Platform& hw_;
    EventLog& log_;
};

}  // namespace irqdiff::x86
