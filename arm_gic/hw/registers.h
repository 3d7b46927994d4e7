// Arm GICv3/GICv4.x ITS and redistributor registers as the vLPI model sees them: MMIO offsets,
// spec-shaped [hi:lo] field declarations, and value structs for the registers whose contents the
// model decodes (GITS_BASER<n>, GICR_VPROPBASER 4.1, GICR_VPENDBASER 4.0 and 4.1).
//
// Facts come from reference/arm_gicv41_kvm_migration.md ("reference §1.x"). A field that
// reference does not give is marked "layout per IHI 0069, not in reference/"; those layouts agree
// with the GITS_*/GICR_* defines in torvalds/linux include/linux/irqchip/arm-gic-v3.h.
//
// ITS frame (64 KiB control, 64 KiB translation, 64 KiB vSGI on GICv4.1), reference §1.1, §1.3:
//   0x00000 GITS_CTLR        Enabled[0] ImDe[1] Quiescent[31]
//   0x00004 GITS_IIDR
//   0x00008 GITS_TYPER       Physical[0] Virtual[1] ... VMOVP[37] VMAPP[40] SVPET[42:41]
//   0x00080 GITS_CBASER      command queue base and size
//   0x00088 GITS_CWRITER     Offset[19:5] Retry[0]
//   0x00090 GITS_CREADR      Offset[19:5] Stalled[0]
//   0x00100 GITS_BASER<n>    table descriptors, n = 0..7 at 0x100 + 8n
//   0x10040 GITS_TRANSLATER  MSI doorbell: EventID written, DeviceID from the bus
//   0x20020 GITS_SGIR        (4.1) vPEID[47:32] vINTID[3:0]
//
// Redistributor (RD_base frame; SGI_base at +64 KiB; VLPI_base at +128 KiB, reference §1.3):
//   RD_base   + 0x00 GICR_CTLR        EnableLPIs[0]
//   RD_base   + 0x48 GICR_CLRLPIR     pINTID[31:0]: clear a physical LPI's pending state (WO)
//   RD_base   + 0x70 GICR_PROPBASER   LPI configuration table, IDbits[4:0]
//   RD_base   + 0x78 GICR_PENDBASER   LPI pending table PhysAddr[51:16], PTZ[62]
//   RD_base   + 0xA0 GICR_INVLPIR     INTID[31:0] vPEID[47:32] V[63]
//   RD_base   + 0xB0 GICR_INVALLR     vPEID[47:32] V[63]
//   RD_base   + 0xC0 GICR_SYNCR       Busy[0]
//   VLPI_base + 0x70 GICR_VPROPBASER  4.0: vLPI config table; 4.1: the (shared) vPE table
//   VLPI_base + 0x78 GICR_VPENDBASER  residency: 4.0 VPT address; 4.1 vPEID
//   VLPI_base + 0x80 GICR_VSGIR       (4.1) vPEID[15:0]
//   VLPI_base + 0x88 GICR_VSGIPENDR   (4.1) Busy[31] Pending[15:0]
#pragma once

#include <cstdint>

#include "core/bits.h"

namespace irqdiff::arm {

// ---------------------------------------------------------------------------------------------
// ITS register offsets from ITS_base. [reference §1.1; arm-gic-v3.h :: GITS_* defines]

inline constexpr uint64_t GITS_CTLR = 0x0000;
inline constexpr uint64_t GITS_IIDR = 0x0004;
inline constexpr uint64_t GITS_TYPER = 0x0008;
inline constexpr uint64_t GITS_CBASER = 0x0080;
inline constexpr uint64_t GITS_CWRITER = 0x0088;
inline constexpr uint64_t GITS_CREADR = 0x0090;
inline constexpr uint64_t GITS_BASER = 0x0100;        // GITS_BASER0; see gits_baser(n)
inline constexpr uint64_t GITS_TRANSLATER = 0x10040;  // second 64 KiB frame
inline constexpr uint64_t GITS_SGIR = 0x20020;        // GICv4.1 vSGI frame

/// Number of GITS_BASER<n> registers (n = 0..7). [reference §4.2: kvm_arm_its_post_load "BASER0..7"]
inline constexpr unsigned kGitsBaserCount = 8;

/// Offset of GITS_BASER<n>. [reference §1.1: BASER<n> at 0x100 + 8n]
constexpr uint64_t gits_baser(unsigned n) { return GITS_BASER + 8 * uint64_t{n}; }

// ---------------------------------------------------------------------------------------------
// Redistributor frames and register offsets. [reference §1.3]

/// Offset of the SGI_base frame from RD_base (layout per IHI 0069, not in reference/).
inline constexpr uint64_t kGicrSgiFrame = 0x10000;
/// Offset of the VLPI_base frame from RD_base. [reference §1.3: "VLPI frame = RD_base + 128K"]
inline constexpr uint64_t kGicrVlpiFrame = 0x20000;

// Offsets from RD_base.
inline constexpr uint64_t GICR_CTLR = 0x0000;       // layout per IHI 0069, not in reference/
inline constexpr uint64_t GICR_PROPBASER = 0x0070;  // layout per IHI 0069, not in reference/
inline constexpr uint64_t GICR_PENDBASER = 0x0078;  // layout per IHI 0069, not in reference/
inline constexpr uint64_t GICR_CLRLPIR = 0x0048;    // layout per IHI 0069, not in reference/
inline constexpr uint64_t GICR_INVLPIR = 0x00A0;    // reference §1.3
inline constexpr uint64_t GICR_INVALLR = 0x00B0;    // reference §1.3
inline constexpr uint64_t GICR_SYNCR = 0x00C0;      // reference §1.3

// Offsets from VLPI_base (RD_base + kGicrVlpiFrame).
inline constexpr uint64_t GICR_VPROPBASER = 0x0070;  // reference §1.3
inline constexpr uint64_t GICR_VPENDBASER = 0x0078;  // reference §1.3
// reference §1.3 gives 0x80/0x88; that they sit in the VLPI_base frame is per IHI 0069 (and
// irq-gic-v3-its.c :: its_sgi_get_irqchip_state accesses them through vlpi_base).
inline constexpr uint64_t GICR_VSGIR = 0x0080;
inline constexpr uint64_t GICR_VSGIPENDR = 0x0088;

// ---------------------------------------------------------------------------------------------
// ITS register fields, in the spec table's order (high bits first).

struct GitsCtlr {  // GITS_CTLR, reference §1.1
    static constexpr Field<31> Quiescent{};
    static constexpr Field<1> ImDe{};  // GICv4.1
    static constexpr Field<0> Enabled{};
};

struct GitsTyper {                                // GITS_TYPER
    static constexpr Field<42, 41> SVPET{};       // vPE table sharing; reference §1.1 names it,
                                                  // position per IHI 0069, not in reference/
    static constexpr Field<40> VMAPP{};           // GICv4.1 (reference §1.1)
    static constexpr Field<37> VMOVP{};           // VMOVP needs no ITSList (reference §1.1)
    static constexpr Field<31, 24> HCC{};         // layout per IHI 0069, not in reference/
    static constexpr Field<19> PTA{};             // layout per IHI 0069, not in reference/
    static constexpr Field<17, 13> Devbits{};     // DeviceID bits - 1; IHI 0069, not in reference/
    static constexpr Field<12, 8> IDbits{};       // EventID bits - 1; IHI 0069, not in reference/
    static constexpr Field<7, 4> IttEntrySize{};  // bytes - 1; IHI 0069, not in reference/
    static constexpr Field<1> Virtual{};          // VLPIS: GICv4 capable (reference §1.1)
    static constexpr Field<0> Physical{};         // layout per IHI 0069, not in reference/
};

// GITS_CBASER: reference §1.1 names it (ring base and size) but gives no layout; every field below
// is layout per IHI 0069, not in reference/.
struct GitsCbaser {
    static constexpr Field<63> Valid{};
    static constexpr Field<61, 59> InnerCache{};
    static constexpr Field<55, 53> OuterCache{};
    static constexpr Field<51, 12> PhysAddr{};  // 4 KiB aligned
    static constexpr Field<11, 10> Shareability{};
    static constexpr Field<7, 0> Size{};  // 4 KiB pages - 1
};

// GITS_CWRITER / GITS_CREADR: byte offset into the queue, in 32-byte commands. Offset[19:5] holds the
// byte offset in place (read it with get_in_place). Bit positions per IHI 0069, not in reference/.
struct GitsCwriter {
    static constexpr Field<19, 5> Offset{};
    static constexpr Field<0> Retry{};  // restart a stalled command
};
struct GitsCreadr {
    static constexpr Field<19, 5> Offset{};
    static constexpr Field<0> Stalled{};  // the command at Offset raised an error
};

struct GitsSgir {  // GITS_SGIR (4.1), reference §1.3
    static constexpr Field<47, 32> vPEID{};
    static constexpr Field<3, 0> vINTID{};
};

// ---------------------------------------------------------------------------------------------
// Distributor register fields (the guest-visible distributor KVM emulates; GICD_* names from
// reference/arm_virt_machine.md §2, bit positions per IHI 0069 as KVM's arm-gic-v3.h defines them).
inline constexpr uint64_t GICD_CTLR = 0x0000;
inline constexpr uint64_t GICD_TYPER2 = 0x000C;
struct GicdCtlr {  // GICD_CTLR with DS = 1 (KVM's single security state)
    static constexpr Field<1> EnableGrp1{};   // GICD_CTLR_ENABLE_SS_G1
    static constexpr Field<4> ARE{};          // GICD_CTLR_ARE_NS
    static constexpr Field<6> DS{};
    static constexpr Field<8> nASSGIreq{};    // GICv4.1: SGIs without an active state
};
struct GicdTyper2 {
    static constexpr Field<8> nASSGIcap{};
};

// SGI_base frame of a redistributor (offsets from RD_base + kGicrSgiFrame; IHI 0069, as KVM's
// vgic_v3_rd_registers lists them).
inline constexpr uint64_t GICR_ISENABLER0 = 0x0100;
inline constexpr uint64_t GICR_ICENABLER0 = 0x0180;
inline constexpr uint64_t GICR_ISPENDR0 = 0x0200;
inline constexpr uint64_t GICR_ICPENDR0 = 0x0280;
inline constexpr uint64_t GICR_IPRIORITYR0 = 0x0400;  // one byte per INTID 0..31

// Redistributor register fields.

struct GicrCtlr {  // GICR_CTLR; position per IHI 0069, not in reference/
    static constexpr Field<0> EnableLPIs{};
};

// GICR_PROPBASER: layout per IHI 0069, not in reference/ (reference §3.3 only names the register).
struct GicrPropbaser {
    static constexpr Field<58, 56> OuterCache{};
    static constexpr Field<51, 12> PhysAddr{};
    static constexpr Field<11, 10> Shareability{};
    static constexpr Field<9, 7> InnerCache{};
    static constexpr Field<4, 0> IDbits{};  // INTID bits - 1
};

// GICR_PENDBASER: the reference names PTZ (write-only, reads as 0: reference §1.4, §3.3) but gives no
// bit positions; every field below is layout per IHI 0069, not in reference/.
struct GicrPendbaser {
    static constexpr Field<62> PTZ{};
    static constexpr Field<58, 56> OuterCache{};
    static constexpr Field<51, 16> PhysAddr{};  // 64 KiB aligned
    static constexpr Field<11, 10> Shareability{};
    static constexpr Field<9, 7> InnerCache{};
};

// GICR_VPROPBASER, GICv4.0 layout: "physical address of the VM's vLPI configuration table +
// IDbits[4:0]" (reference §1.3). PhysAddr position and attributes per IHI 0069, not in reference/.
struct Vpropbaser40 {
    static constexpr Field<58, 56> OuterCache{};
    static constexpr Field<51, 12> PhysAddr{};
    static constexpr Field<11, 10> Shareability{};
    static constexpr Field<9, 7> InnerCache{};
    static constexpr Field<4, 0> IDbits{};  // vINTID bits - 1
};

// GICR_CLRLPIR (DirectLPI): Linux its_vpe_db_proxy_move and its_vpe_set_irqchip_state clear a vPE's
// doorbell with it. Layout per IHI 0069 (arm-gic-v3.h :: GICR_CLRLPIR), not in reference/.
struct GicrClrlpir {
    static constexpr Field<31, 0> pINTID{};
};

struct GicrInvlpir {                 // GICR_INVLPIR, reference §1.3
    static constexpr Field<63> V{};  // 1: INTID is a vLPI of vPEID
    static constexpr Field<47, 32> vPEID{};
    static constexpr Field<31, 0> INTID{};
};

struct GicrInvallr {  // GICR_INVALLR, reference §1.3
    static constexpr Field<63> V{};
    static constexpr Field<47, 32> vPEID{};
};

struct GicrSyncr {  // GICR_SYNCR, reference §1.3
    static constexpr Field<0> Busy{};
};

struct GicrVsgir {  // GICR_VSGIR (4.1), reference §1.3
    static constexpr Field<15, 0> vPEID{};
};

struct GicrVsgipendr {  // GICR_VSGIPENDR (4.1), reference §1.3
    static constexpr Field<31> Busy{};
    static constexpr Field<15, 0> Pending{};  // one bit per vSGI 0..15
};

// ---------------------------------------------------------------------------------------------
// Value structs: a register's fields, decoded. Each struct declares its layout (static Field
// members, spec order) and the decoded values (data members, same order); decode() drops reserved
// bits and encode() writes them as zero, so encode(decode(raw)) == raw exactly when raw's reserved
// bits are zero. Values wider than their field are truncated by encode(), as a register drops them.

/// GITS_BASER<n>.Type. [reference §1.1: 1 Device, 2 vPE, 4 Collection; 0 "unimplemented" per
/// IHI 0069, not in reference/]. Other values are reserved and are kept as they are.
enum class BaserType : uint8_t {
    None = 0,
    Device = 1,
    Vpe = 2,
    Collection = 4,
};

/// GITS_BASER<n>: one ITS table. Type[58:56] per reference §1.1 (Linux GITS_BASER_TYPE_*); the other
/// positions are layout per IHI 0069, not in reference/.
struct GitsBaser {
    static constexpr Field<63> Valid{};
    static constexpr Field<62> Indirect{};  // two-level table
    static constexpr Field<61, 59> InnerCache{};
    static constexpr Field<58, 56> Type{};
    static constexpr Field<55, 53> OuterCache{};
    static constexpr Field<52, 48> EntrySize{};  // bytes - 1
    static constexpr Field<47, 12> PhysAddr{};   // with 64 KiB pages, [15:12] hold PA[51:48]
    static constexpr Field<11, 10> Shareability{};
    static constexpr Field<9, 8> PageSize{};  // 0 4 KiB, 1 16 KiB, 2 64 KiB, 3 reserved
    static constexpr Field<7, 0> Size{};      // pages - 1

    static constexpr uint8_t kPage4K = 0;
    static constexpr uint8_t kPage16K = 1;
    static constexpr uint8_t kPage64K = 2;

    bool valid = false;
    bool indirect = false;
    uint8_t inner_cache = 0;
    BaserType type = BaserType::None;
    uint8_t outer_cache = 0;
    uint8_t entry_size = 0;  // raw field: bytes per entry - 1
    uint64_t phys_addr = 0;  // the table's address; with 64 KiB pages bits [51:48] come from [15:12]
    uint8_t shareability = 0;
    uint8_t page_size = 0;  // raw field, kPage4K / kPage16K / kPage64K
    uint8_t size = 0;       // raw field: pages - 1

    static GitsBaser decode(uint64_t raw);
    uint64_t encode() const;
    bool operator==(const GitsBaser&) const = default;

    uint64_t entry_bytes() const { return uint64_t{entry_size} + 1; }
    /// Page size in bytes. The reserved encoding 3 is read as 64 KiB here (an assumption: IHI 0069
    /// treats it as 0b10; the reference does not cover it).
    uint64_t page_bytes() const;
    uint64_t pages() const { return uint64_t{size} + 1; }
    uint64_t table_bytes() const { return pages() * page_bytes(); }
};

/// GICR_VPROPBASER, GICv4.1 layout: describes the vPE table shared with the ITSs. [reference §1.3:
/// Valid[63] Entry_Size[61:59] Indirect[55] Page_Size[54:53] Z[52] Addr[51:12] Size[6:0];
/// arm-gic-v3.h :: GICR_VPROPBASER_4_1_*]. The reference does not give the encodings of Entry_Size
/// and Size, so they are kept as raw field values.
struct Vpropbaser41 {
    static constexpr Field<63> Valid{};
    static constexpr Field<61, 59> EntrySize{};
    static constexpr Field<58, 56> OuterCache{};  // layout per IHI 0069, not in reference/
    static constexpr Field<55> Indirect{};
    static constexpr Field<54, 53> PageSize{};  // same encoding as GITS_BASER.Page_Size
    static constexpr Field<52> Z{};             // the table is known to be zero
    static constexpr Field<51, 12> Addr{};
    static constexpr Field<11, 10> Shareability{};  // layout per IHI 0069, not in reference/
    static constexpr Field<9, 7> InnerCache{};      // layout per IHI 0069, not in reference/
    static constexpr Field<6, 0> Size{};

    bool valid = false;
    uint8_t entry_size = 0;  // raw field
    uint8_t outer_cache = 0;
    bool indirect = false;
    uint8_t page_size = 0;  // raw field
    bool z = false;
    uint64_t addr = 0;  // in place: bits [51:12], low 12 bits zero
    uint8_t shareability = 0;
    uint8_t inner_cache = 0;
    uint8_t size = 0;  // raw field, 7 bits

    static Vpropbaser41 decode(uint64_t raw);
    uint64_t encode() const;
    bool operator==(const Vpropbaser41&) const = default;
};

/// GICR_VPENDBASER, GICv4.0 layout. [reference §1.3: PA of the VPT [51:16], Valid[63], IDAI[62],
/// PendingLast[61], Dirty[60]; arm-gic-v3.h :: GICR_VPENDBASER_*]
struct Vpendbaser40 {
    static constexpr Field<63> Valid{};  // vPE resident
    static constexpr Field<62> IDAI{};   // IMPLEMENTATION DEFINED area (first 1 KiB) invalid
    static constexpr Field<61> PendingLast{};
    static constexpr Field<60> Dirty{};             // VPT parse in progress (optional on 4.0)
    static constexpr Field<58, 56> OuterCache{};    // layout per IHI 0069, not in reference/
    static constexpr Field<51, 16> PhysAddr{};      // the VPT, 64 KiB aligned
    static constexpr Field<11, 10> Shareability{};  // layout per IHI 0069, not in reference/
    static constexpr Field<9, 7> InnerCache{};      // layout per IHI 0069, not in reference/

    bool valid = false;
    bool idai = false;
    bool pending_last = false;
    bool dirty = false;
    uint8_t outer_cache = 0;
    uint64_t vpt_addr = 0;  // in place: bits [51:16], low 16 bits zero
    uint8_t shareability = 0;
    uint8_t inner_cache = 0;

    static Vpendbaser40 decode(uint64_t raw);
    uint64_t encode() const;
    bool operator==(const Vpendbaser40&) const = default;
};

/// GICR_VPENDBASER, GICv4.1 layout: residency is a single write of Valid, vGrp0En, vGrp1En, vPEID
/// (the VPT address comes from the vPE table entry written by VMAPP). [reference §1.3: Valid[63],
/// DB[62], PendingLast[61], Dirty[60], vGrp0En[59], vGrp1En[58], vPEID[15:0];
/// arm-gic-v3.h :: GICR_VPENDBASER_4_1_*]. Bit 62 is IDAI on 4.0 and DB on 4.1.
struct Vpendbaser41 {
    static constexpr Field<63> Valid{};
    static constexpr Field<62> DB{};  // doorbell requested at de-schedule
    static constexpr Field<61> PendingLast{};
    static constexpr Field<60> Dirty{};  // mandatory on 4.1
    static constexpr Field<59> vGrp0En{};
    static constexpr Field<58> vGrp1En{};
    static constexpr Field<15, 0> vPEID{};

    bool valid = false;
    bool db = false;
    bool pending_last = false;
    bool dirty = false;
    bool vgrp0en = false;
    bool vgrp1en = false;
    uint16_t vpeid = 0;

    static Vpendbaser41 decode(uint64_t raw);
    uint64_t encode() const;
    bool operator==(const Vpendbaser41&) const = default;
};

// ---------------------------------------------------------------------------------------------
// 32-bit accesses to 64-bit registers: offset bit 2 selects the high half.

/// The bytes a read of `bytes` (4 or 8) at `offset` returns from a 64-bit register `value`.
constexpr uint64_t read_access(uint64_t value, unsigned bytes, uint64_t offset) {
    if (bytes == 8) return value;
    return (offset & 4) ? value >> 32 : value & 0xFFFF'FFFF;
}
/// A 64-bit register after a write of `bytes` (4 or 8) at `offset`: a 32-bit write changes one half.
constexpr uint64_t write_access(uint64_t old, uint64_t value, unsigned bytes, uint64_t offset) {
    if (bytes == 8) return value;
    if (offset & 4) return (old & 0xFFFF'FFFF) | (value << 32);
    return (old & ~uint64_t{0xFFFF'FFFF}) | (value & 0xFFFF'FFFF);
}

// ---------------------------------------------------------------------------------------------
// Virtual pending table (VPT) layout. [reference §1.4]

/// The first 1 KiB of a (virtual) pending table covers INTIDs 0..8191, which are not LPIs; it is an
/// IMPLEMENTATION DEFINED area the redistributor may use to cache state across de-schedule.
inline constexpr uint64_t kVptImpdefBytes = 1024;
/// The first LPI INTID: the first bit after the IMPLEMENTATION DEFINED area.
inline constexpr uint32_t kFirstLpiIntid = 8192;

struct PendingBitPos {
    uint64_t byte = 0;  // offset from the table's base
    uint8_t bit = 0;    // 0..7
    bool operator==(const PendingBitPos&) const = default;
};

/// Where INTID `intid`'s pending bit lives: byte intid/8, bit intid%8 (the physical LPI pending
/// table's indexing). [reference §1.4; vgic-v4.c :: vgic_v4_get_vlpi_state]
constexpr PendingBitPos vpt_byte_and_bit(uint32_t intid) {
    return {uint64_t{intid} / 8, static_cast<uint8_t>(intid % 8)};
}

}  // namespace irqdiff::arm
