// ITS tables in host memory: the entry formats of the device table (DTE), interrupt translation
// tables (ITE), collection table (CTE) and vPE table (VPTE), and the walk from an ID to its entry
// through a flat or two-level table described by GITS_BASER<n> (or, for the vPE table on GICv4.1,
// GICR_VPROPBASER). Level-2 and flat entry formats are IMPLEMENTATION DEFINED (reference/arm §1.1),
// so this model documents its own below; the level-1 format of two-level tables is architected.
//
// Entry formats (little-endian 64-bit words):
//   DTE   8 bytes   Valid[63] ITT_addr[51:8] (256-byte aligned, in place) Size[4:0] (EventID bits - 1)
//   ITE  16 bytes   w0: Valid[63] Virtual[62] ICID or vPEID[47:32] pINTID or vINTID[31:0]
//                   w1: Doorbell pINTID[31:0] (GICv4.0 per-vLPI doorbell, 1023 = none)
//   CTE   8 bytes   Valid[63] RDbase[15:0] (processor number: GITS_TYPER.PTA = 0)
//   VPTE 32 bytes   w0: Valid[63] VPT_size[60:56] (vINTID bits - 1) VPT_addr[51:16] RDbase[15:0]
//                   w1: VCONF_addr[51:12] (GICv4.1: the vLPI configuration table)
//                   w2: Default_Doorbell[31:0] (GICv4.1, 1023 = none)    w3: reserved, 0
//   Level-1 entry 8 bytes  Valid[63] PhysAddr[51:12] of the level-2 page (architected)
#pragma once

#include <cstdint>

#include "arm_gic/hw/registers.h"
#include "core/bits.h"
#include "core/memory.h"

namespace irqdiff::arm {

/// The pINTID that means "no doorbell" (reference/arm §1.2: Linux writes 1023).
inline constexpr uint32_t kNoDoorbell = 1023;
/// INTID 1023: the CPU interface's "no pending interrupt" (spurious) value.
inline constexpr uint32_t kSpuriousIntid = 1023;

struct Dte {
    static constexpr uint64_t kBytes = 8;
    static constexpr Field<63> Valid{};
    static constexpr Field<51, 8> IttAddr{};
    static constexpr Field<4, 0> Size{};

    bool valid = false;
    uint64_t itt_addr = 0;  // in place, 256-byte aligned
    uint8_t size = 0;       // EventID bits - 1

    static Dte decode(uint64_t w);
    uint64_t encode() const;
    uint64_t event_count() const { return uint64_t{1} << (size + 1); }
    bool operator==(const Dte&) const = default;
};

struct Ite {
    static constexpr uint64_t kBytes = 16;
    struct W0 {
        static constexpr Field<63> Valid{};
        static constexpr Field<62> Virtual{};
        static constexpr Field<47, 32> Id{};    // ICID (physical) or vPEID (virtual)
        static constexpr Field<31, 0> IntId{};  // pINTID or vINTID
    };
    struct W1 {
        static constexpr Field<31, 0> Doorbell{};
    };

    bool valid = false;
    bool is_virtual = false;
    uint16_t id = 0;     // ICID or vPEID
    uint32_t intid = 0;  // pINTID or vINTID
    uint32_t doorbell = kNoDoorbell;

    static Ite decode(uint64_t w0, uint64_t w1);
    void encode(uint64_t& w0, uint64_t& w1) const;
    bool operator==(const Ite&) const = default;
};

struct Cte {
    static constexpr uint64_t kBytes = 8;
    static constexpr Field<63> Valid{};
    static constexpr Field<15, 0> RDbase{};

    bool valid = false;
    uint16_t rdbase = 0;

    static Cte decode(uint64_t w);
    uint64_t encode() const;
    bool operator==(const Cte&) const = default;
};

struct Vpte {
    static constexpr uint64_t kBytes = 32;
    struct W0 {
        static constexpr Field<63> Valid{};
        static constexpr Field<60, 56> VptSize{};
        static constexpr Field<51, 16> VptAddr{};
        static constexpr Field<15, 0> RDbase{};
    };
    struct W1 {
        static constexpr Field<51, 12> VconfAddr{};
    };
    struct W2 {
        static constexpr Field<31, 0> DefaultDoorbell{};
    };

    bool valid = false;
    uint8_t vpt_size = 0;   // vINTID bits - 1
    uint64_t vpt_addr = 0;  // in place, 64 KiB aligned
    uint16_t rdbase = 0;
    uint64_t vconf_addr = 0;  // in place, 4 KiB aligned
    uint32_t default_doorbell = kNoDoorbell;

    static Vpte decode(uint64_t w0, uint64_t w1, uint64_t w2);
    void encode(uint64_t& w0, uint64_t& w1, uint64_t& w2) const;
    unsigned id_bits() const { return vpt_size + 1u; }
    bool operator==(const Vpte&) const = default;
};

/// Architected level-1 entry of a two-level ITS table.
struct L1Entry {
    static constexpr Field<63> Valid{};
    static constexpr Field<51, 12> PhysAddr{};
};

/// One ITS table as its base register describes it.
struct TableDesc {
    bool valid = false;
    bool indirect = false;
    uint64_t base = 0;
    uint64_t page_bytes = 4096;
    uint64_t pages = 1;
    uint64_t entry_bytes = 8;

    static TableDesc from(const GitsBaser& baser);
    /// GICv4.1: the vPE table as GICR_VPROPBASER describes it (Entry_Size and Size are the raw
    /// fields: entry bytes / 8 - 1 and pages - 1, the encodings this model gives them; Page_Size
    /// as in GITS_BASER).
    static TableDesc from(const Vpropbaser41& vpropbaser);
    /// How many IDs the table can hold.
    uint64_t capacity() const;
    bool operator==(const TableDesc&) const = default;
};

enum class TableWalk : uint8_t {
    Ok,
    NotValid,    // the table's base register is not valid
    OutOfRange,  // the ID is beyond the table
    NoLevel2,    // two-level table whose level-1 entry for the ID is not valid
    Fault,       // reading the level-1 entry faulted
};
const char* to_string(TableWalk w);

struct EntryAddr {
    TableWalk status = TableWalk::Ok;
    uint64_t addr = 0;
    bool ok() const { return status == TableWalk::Ok; }
};

/// The address of entry `id` of `table`, walking the level-1 table for a two-level one.
EntryAddr entry_address(const AddressSpace& memory, const TableDesc& table, uint64_t id);

// Entry reads and writes; a fault leaves memory unchanged and is returned, never thrown.
MemRead<Dte> read_dte(const AddressSpace& m, uint64_t addr);
MemRead<Ite> read_ite(const AddressSpace& m, uint64_t addr);
MemRead<Cte> read_cte(const AddressSpace& m, uint64_t addr);
MemRead<Vpte> read_vpte(const AddressSpace& m, uint64_t addr);
MemFault write_dte(AddressSpace& m, uint64_t addr, const Dte& e);
MemFault write_ite(AddressSpace& m, uint64_t addr, const Ite& e);
MemFault write_cte(AddressSpace& m, uint64_t addr, const Cte& e);
MemFault write_vpte(AddressSpace& m, uint64_t addr, const Vpte& e);

}  // namespace irqdiff::arm
