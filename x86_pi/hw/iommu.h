// The VT-d interrupt-remapping unit: the interrupt remapping table (IRT) in host memory, its
// interrupt entry cache (IEC), and what happens to an interrupt request from a device: remapped
// to a physical interrupt message, or posted into a posted-interrupt descriptor (PID) with an
// optional notification [reference/x86_posted_interrupts_kvm_migration.md §1.2, §2 ("reference
// §2"); VT-d §5.2.3].
//
// Registers (the subset the host driver uses; VT-d register descriptions, not in reference/):
//   IRTA_REG   IRTA[63:12] table address, EIME[11] x2APIC-format destinations, S[3:0]:
//              the table has 2^(S+1) entries of 16 bytes
//   GCMD.SIRTP latch IRTA_REG;  GCMD.IRE  interrupt remapping on
//   IEC invalidation descriptor: global, or 2^IM entries from index IIDX
// The IEC is modelled as a direct-mapped cache of 256 entries (its organisation is the
// implementation's; what matters is that a cached entry is used until invalidated).
// A request in remappable format (VT-d §5.1.2.2, not in reference/):
//   address FEEh[31:20] HANDLE[14:0] at [19:5] FORMAT[4]=1 SHV[3] HANDLE[15] at [2]
//   data    SUBHANDLE[15:0] when SHV=1 (the entry is HANDLE + SUBHANDLE), [31:16] reserved
// The IOMMU never raises an exception: a request it cannot remap is blocked and a fault is
// recorded (logged), unless the entry's FPD bit suppresses the record (then it is logged as
// ignored).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/bits.h"
#include "core/event_log.h"
#include "core/memory.h"
#include "x86_pi/hw/irte.h"
#include "x86_pi/hw/pi_desc.h"

namespace irqdiff::x86 {

struct IrtaReg {
    static constexpr Field<63, 12> IRTA{};
    static constexpr Field<11> EIME{};
    static constexpr Field<3, 0> S{};
};

/// The remappable-format MSI address and data a device sends once its host driver set it up.
struct RemappableMsi {
    struct Address {
        static constexpr Field<31, 20> Fee{};       // 0xFEE
        static constexpr Field<19, 5> HandleLow{};  // interrupt index [14:0]
        static constexpr Field<4> Remappable{};     // interrupt format: 1 = remappable
        static constexpr Field<3> SHV{};            // subhandle valid
        static constexpr Field<2> HandleHigh{};     // interrupt index [15]
    };
    struct Data {
        static constexpr Field<31, 16> Reserved{};
        static constexpr Field<15, 0> Subhandle{};
    };
    /// The address for entry `handle`, without a subhandle.
    static uint32_t address(uint16_t handle);
};

/// An interrupt request as the IOMMU sees it: the MSI write and the requester's source-id.
struct MsiRequest {
    uint64_t address = 0;
    uint32_t data = 0;
    uint16_t sid = 0;  // requester ID (bus:device.function)
};

/// Why a request was blocked (VT-d interrupt-remapping fault conditions).
enum class IrFault : uint8_t {
    None,
    RemappingDisabled,    // GCMD.IRE is 0: this model has no pass-through of requests
    NotRemappable,        // compatibility format (FORMAT=0): blocked, compatibility mode is off
    ReservedRequest,      // reserved address or data bits set in the request
    IndexOutOfRange,      // the entry lies beyond the table's 2^(S+1) entries
    IrtAccess,            // reading the entry faulted
    NotPresent,           // P=0
    ReservedIrte,         // a reserved bit of the entry is set
    SidMismatch,          // source validation (SVT/SQ/SID) failed
    PidAccess,            // the posted-interrupt descriptor could not be read or written
    PidReserved,          // a reserved field of the descriptor is not 0 [reference §2.1 step 3a]
    UnsupportedDelivery,  // remapped: logical destination or a non-Fixed delivery mode (not modelled)
};
const char* to_string(IrFault fault);

/// A physical interrupt message: fixed delivery, edge, physical destination (the notification of
/// VT-d §5.2.3 step 4, or a remapped interrupt).
struct InterruptMessage {
    uint32_t apic_id = 0;
    uint8_t vector = 0;
};

/// What became of one request.
struct IrResult {
    enum class Kind : uint8_t { Blocked, Remapped, Posted };
    Kind kind = Kind::Blocked;
    IrFault fault = IrFault::None;
    uint32_t index = 0;                       // the IRT entry used
    std::optional<InterruptMessage> message;  // to send: the remapped interrupt, or the notification
};

class Iommu {
   public:
    Iommu(AddressSpace& host_memory, EventLog& log) : mem_(&host_memory), log_(&log) {}
    /// After copying a machine: point at the copy's memory and log.
    void attach(AddressSpace& host_memory, EventLog& log) {
        mem_ = &host_memory;
        log_ = &log;
    }

    void write_irta(uint64_t value) { irta_reg_ = value; }
    uint64_t read_irta() const { return irta_reg_; }
    /// GCMD.SIRTP: latch IRTA_REG (and drop the IEC, whose entries may belong to another table).
    void set_irtp();
    /// GCMD.IRE.
    void enable(bool on) { enabled_ = on; }
    bool enabled() const { return enabled_; }
    /// Whether notification destinations are x2APIC IDs (IRTA.EIME) [reference §1.1 NDST encoding].
    bool x2apic() const { return IrtaReg::EIME.get(irta_) != 0; }
    uint32_t table_entries() const { return 2u << IrtaReg::S.get(irta_); }
    uint64_t table_address() const { return IrtaReg::IRTA.get_in_place(irta_); }
    uint64_t entry_address(uint32_t index) const { return table_address() + 16 * uint64_t{index}; }

    /// IEC invalidation: every entry.
    void invalidate_iec_all();
    /// IEC invalidation: 2^im entries from `index` (index-selective).
    void invalidate_iec(uint32_t index, unsigned im);
    /// Interrupt-entry-cache invalidations (global and index-selective), for the asymmetry metrics.
    uint64_t invalidations() const { return invalidations_; }
    /// Whether the IEC holds entry `index` (tests).
    bool iec_holds(uint32_t index) const {
        const IecSlot& s = iec_[index % kIecSlots];
        return s.valid && s.index == index;
    }

    /// A device's interrupt request: look up its IRTE (through the IEC) and remap or post it.
    /// Posting is one atomic update of the PID [VT-d §5.2.3, reference §2.1]: set PIR[VV]; then
    /// X = (ON == 0) && (URG || SN == 0); if X, set ON and return the notification (NV to NDST).
    IrResult request(const MsiRequest& msi);

   private:
    IrResult blocked(IrFault fault, uint32_t index, bool fpd, const MsiRequest& msi);
    IrResult post(const PostedIrte& e, uint32_t index, const MsiRequest& msi);
    static bool sid_valid(uint8_t svt, uint8_t sq, uint16_t sid, uint16_t requester);

    AddressSpace* mem_;
    EventLog* log_;
    uint64_t invalidations_ = 0;
    uint64_t irta_reg_ = 0;
    uint64_t irta_ = 0;  // latched by SIRTP
    bool enabled_ = false;
    /// The interrupt entry cache: direct-mapped, entry i in slot i mod kIecSlots. A hit is used
    /// without reading the IRT, so an entry changed in memory without an invalidation is stale.
    static constexpr unsigned kIecSlots = 256;
    struct IecSlot {
        bool valid = false;
        uint32_t index = 0;
        IrteWords entry;
    };
    std::array<IecSlot, kIecSlots> iec_{};
};

}  // namespace irqdiff::x86
