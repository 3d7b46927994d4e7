// The virtual CPU interface of one physical CPU: what the running vCPU observes through its ICV_*
// system registers. Its interrupts come from two places: the vPE resident on this CPU's
// redistributor (direct injection: vLPIs from the cached VPT, vSGIs) and the list registers
// ICH_LR<n>_EL2 the hypervisor fills (software injection). One interrupt must never be in both
// at once (Marc Zyngier: "the same interrupt via both the LR and the stream interface, which I
// don't believe is legal", reference/arm §3.1); the model records such a state, an LR with HW=1
// for a vLPI, and an EOI of an interrupt that is not active, as violation events.
//
// Model choices: Group 1 only is acknowledged (ICV_IAR1 / ICV_EOIR1; vLPIs are Group 1);
// EOImode 0 (EOIR drops the priority and deactivates); no binary point (whole priorities
// preempt); equal priorities go to the lowest INTID.
//
// ICH_LR<n>_EL2: State[63:62] (0 invalid, 1 pending, 2 active, 3 pending+active), HW[61],
// Group[60], Priority[55:48], pINTID[44:32], vINTID[31:0] (layout per IHI 0069, not in reference/).
// With HW=1 pending+active is not a valid State (the pending state is the physical interrupt's):
// such a write is a GuestError and the list register is kept active only.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/bits.h"
#include "core/location.h"

namespace irqdiff::arm {

class Gic;
class Redistributor;

struct ListRegister {
    static constexpr Field<63, 62> State{};
    static constexpr Field<61> HW{};
    static constexpr Field<60> Group{};
    static constexpr Field<55, 48> Priority{};
    static constexpr Field<44, 32> pINTID{};
    static constexpr Field<31, 0> vINTID{};

    enum class Status : uint8_t { Invalid = 0, Pending = 1, Active = 2, PendingActive = 3 };

    Status status = Status::Invalid;
    bool hw = false;
    bool group1 = false;
    uint8_t priority = 0;
    uint16_t pintid = 0;
    uint32_t vintid = 0;

    static ListRegister decode(uint64_t raw);
    uint64_t encode() const;
    bool pending() const { return status == Status::Pending || status == Status::PendingActive; }
    bool active() const { return status == Status::Active || status == Status::PendingActive; }
    bool operator==(const ListRegister&) const = default;
};

class CpuInterface {
   public:
    CpuInterface(Gic* gic, unsigned index);
    unsigned index() const { return index_; }

    // ---- the guest's ICV_* registers -----------------------------------------------------------
    /// ICV_IAR1_EL1: acknowledges the highest-priority pending Group 1 interrupt that beats the
    /// priority mask and the running priority, and returns its INTID; 1023 when there is none.
    uint32_t read_iar1();
    /// ICV_EOIR1_EL1: drops the running priority and deactivates `intid`.
    void write_eoir1(uint32_t intid);
    /// ICV_HPPIR1_EL1: the INTID IAR1 would return now, without acknowledging it.
    uint32_t read_hppir1();
    uint8_t read_pmr() const { return pmr_; }
    void write_pmr(uint8_t pmr);
    /// ICV_RPR_EL1: the running priority (0xFF when nothing is active).
    uint8_t read_rpr() const;
    bool read_igrpen1() const { return grp1_; }
    void write_igrpen1(bool enable);
    bool read_igrpen0() const { return grp0_; }
    void write_igrpen0(bool enable);
    /// Whether the vCPU would take an interrupt now if it were unmasked (PSTATE.I clear).
    bool interrupt_signalled() { return read_hppir1() != 1023; }
    /// Where a virtual interrupt the CPU interface presents comes from: the resident vPE's VPT (a
    /// vLPI), its vSGI state (GICv4.1), or a list register the hypervisor wrote.
    enum class Source : uint8_t { Vlpi, Vsgi, ListRegister };
    /// Where the interrupt the last read_iar1() returned came from; nullopt if it returned 1023.
    std::optional<Source> last_ack() const { return last_ack_; }

    // ---- the hypervisor's list registers ---------------------------------------------------------
    unsigned list_registers() const { return static_cast<unsigned>(lrs_.size()); }
    uint64_t read_lr(unsigned n) const;
    void write_lr(unsigned n, uint64_t value);
    ListRegister lr(unsigned n) const { return ListRegister::decode(read_lr(n)); }

    /// Checks the rule "never in a list register and in the VPT at once" for the resident vPE
    /// and vINTID (the redistributor calls it when a vLPI becomes pending).
    void check_vlpi_not_in_lr(uint32_t vpeid, uint32_t vintid);
    /// Appends a place for each list register holding vINTID pending for vPE `vpeid`.
    void where_vlpi(uint32_t vpeid, uint32_t vintid, std::vector<Location>& out) const;

   private:
    friend class Gic;
    struct Candidate {
        uint32_t intid = 1023;
        uint8_t priority = 0xFF;
        Source kind = Source::ListRegister;
        unsigned lr = 0;
    };
    struct ActiveEntry {
        uint32_t intid;
        uint8_t priority;
        Source kind;
        unsigned lr;
    };
    std::optional<Candidate> highest();
    Redistributor& rd();

    Gic* gic_;
    unsigned index_;
    uint8_t pmr_ = 0;  // masks everything until the guest writes it
    bool grp0_ = false;
    bool grp1_ = false;
    std::vector<uint64_t> lrs_;
    std::vector<uint32_t> lr_owner_;   // the vPE resident when each LR was written (for locations)
    std::vector<ActiveEntry> active_;  // acknowledged, not yet EOI'd: the priority-drop stack
    std::optional<Source> last_ack_;
};

/// "vlpi", "vsgi" or "lr", as VCPU.read_IAR1 logs it.
const char* to_string(CpuInterface::Source source);

}  // namespace irqdiff::arm
