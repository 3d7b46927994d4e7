// A redistributor: one per physical CPU. It holds the physical LPIs (enough for doorbells) and the
// vLPI state of every vPE mapped to it, and makes one vPE resident at a time for the CPU
// interface (cpu_interface.h).
//
// The virtual pending table (VPT) is one bit per vINTID at byte N/8, bit N%8; its first 1 KiB
// (INTIDs below 8192) is IMPLEMENTATION DEFINED (reference/arm §1.4). The redistributor caches the
// pending bits of mapped vPEs, and memory is guaranteed current only after VMAPP {V, Alloc} =
// {0, 1} (reference/arm §1.5). The cache is explicit here (VpeState::pending, `loaded`, `dirty`)
// and policy arm.vpt_writeback says when else it is written back, so a hypervisor that reads the
// VPT at the wrong time reads stale bits.
//
// Registers (offsets from RD_base; the VLPI frame is RD_base + 128 KiB), reference/arm §1.3:
//   0x0000  GICR_CTLR        EnableLPIs[0]
//   0x0048  GICR_CLRLPIR     pINTID[31:0] (WO): the physical LPI stops being pending (DirectLPI)
//   0x0070  GICR_PROPBASER   LPI configuration table PhysAddr[51:12], IDbits[4:0]
//   0x0078  GICR_PENDBASER   LPI pending table PhysAddr[51:16], PTZ[62] (write-only, reads 0)
//   0x00A0  GICR_INVLPIR     V[63] vPEID[47:32] INTID[31:0]: forget one (v)LPI's cached config
//   0x00B0  GICR_INVALLR     V[63] vPEID[47:32]: forget all of them
//   0x00C0  GICR_SYNCR       Busy[0] (invalidations complete at once: reads 0)
//   VLPI+0x70  GICR_VPROPBASER  4.1: the vPE table; 4.0: the resident vPE's vLPI config table
//   VLPI+0x78  GICR_VPENDBASER  residency (Valid), PendingLast, Dirty; 4.1: DB, vGrp0En, vGrp1En,
//                               vPEID; 4.0: VPT PhysAddr, IDAI. Dirty reads 1 while a change of
//                               Valid is processed (the VPT parse after 0 -> 1, the de-schedule
//                               after 1 -> 0); PendingLast is valid once Dirty reads 0
//   VLPI+0x80  GICR_VSGIR       (4.1) vPEID[15:0]
//   VLPI+0x88  GICR_VSGIPENDR   (4.1) Busy[31] (reads 0) Pending[15:0] of that vPE's vSGIs
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "arm_gic/hw/registers.h"
#include "arm_gic/hw/tables.h"
#include "core/location.h"

namespace irqdiff::arm {

class Gic;

/// What a redistributor knows of a vPE from VMAPP (and, on GICv4.0, from VPROPBASER).
struct VpeProps {
    uint32_t vpeid = 0;
    uint64_t vpt_addr = 0;
    unsigned id_bits = 16;                    // vINTIDs below 2^id_bits
    uint64_t vconf_addr = 0;                  // the vLPI configuration table (GICv4.1 VMAPP; GICv4.0 VPROPBASER)
    uint32_t default_doorbell = kNoDoorbell;  // GICv4.1
};

struct VsgiState {
    bool pending = false;
    bool enabled = false;
    bool group1 = false;
    uint8_t priority = 0;
};

/// A redistributor's state for one vPE mapped to it.
struct VpeState {
    VpeProps props;
    unsigned maps = 0;                   // ITSs mapping it (VMAPP V=1 not yet undone)
    bool loaded = false;                 // `pending` holds the VPT (parsed, or zero by VMAPP PTZ=1)
    bool doorbell_armed = false;         // GICv4.1: de-scheduled with DB=1 and PendingLast=0
    bool transient = false;              // GICv4.0: made resident by VPENDBASER without any ITS mapping it
    std::vector<uint64_t> pending;       // bit v: vINTID v pending (the cache); written only through
                                         // clear_pending / or_pending / flip_pending
    std::vector<uint64_t> dirty;         // bit w: word w of `pending` differs from memory
    uint32_t pending_words = 0;          // words of `pending` that are not zero
    std::map<uint32_t, uint8_t> config;  // cached vLPI configuration bytes, by vINTID
    std::array<VsgiState, 16> sgis{};

    bool test(uint32_t vintid) const { return (pending[vintid / 64] >> (vintid % 64)) & 1; }
    /// `words` words, all zero (and none dirty).
    void clear_pending(size_t words) {
        pending.assign(words, 0);
        dirty.assign((words + 63) / 64, 0);
        pending_words = 0;
    }
    void or_pending(uint32_t w, uint64_t bits) {
        pending_words += pending[w] == 0 && bits != 0;
        pending[w] |= bits;
    }
    void flip_pending(uint32_t w, uint64_t mask) {
        const bool was = pending[w] != 0;
        pending[w] ^= mask;
        pending_words = pending_words - was + (pending[w] != 0);
    }
    /// The first word at or after `w` with a pending bit (pending.size() when none): the tables
    /// are large and sparse, so scans skip eight zero words at a time, and none when no word is
    /// set (the CPU interface asks on every ICC access).
    uint32_t next_pending_word(uint32_t w) const {
        const uint32_t n = static_cast<uint32_t>(pending.size());
        if (pending_words == 0) return n;
        const uint64_t* p = pending.data();
        while (w + 8 <= n && (p[w] | p[w + 1] | p[w + 2] | p[w + 3] | p[w + 4] | p[w + 5] | p[w + 6] | p[w + 7]) == 0)
            w += 8;
        while (w < n && p[w] == 0) ++w;
        return w;
    }
    uint32_t limit() const { return uint32_t{1} << props.id_bits; }
};

/// LPI configuration byte (PROPBASER and VCONF tables, one byte per INTID from 8192):
/// Priority[7:2], RES1[1], Enable[0] (layout per IHI 0069, not in reference/).
struct LpiConfig {
    static constexpr Field<7, 2> Priority{};
    static constexpr Field<0> Enable{};
    static uint8_t priority(uint8_t byte) { return byte & 0xFC; }
    static bool enabled(uint8_t byte) { return Enable.get(byte) != 0; }
};

class Redistributor {
   public:
    Redistributor(Gic* gic, unsigned index);

    unsigned index() const { return index_; }
    uint64_t read(uint64_t offset, unsigned bytes);
    void write(uint64_t offset, uint64_t value, unsigned bytes);
    uint64_t read64(uint64_t offset) { return read(offset, 8); }
    void write64(uint64_t offset, uint64_t value) { write(offset, value, 8); }

    // ---- physical LPIs ---------------------------------------------------------------------
    bool lpis_enabled() const { return enable_lpis_; }
    /// Makes a physical LPI pending or not (ITS INT/CLEAR/DISCARD, an MSI, a doorbell). A newly
    /// pending LPI that is enabled, with EnableLPIs set, is signalled to the host.
    void set_lpi_pending(uint32_t intid, bool pending);
    bool lpi_pending(uint32_t intid) const { return lpi_pending_.count(intid) != 0; }
    const std::set<uint32_t>& pending_lpis() const { return lpi_pending_; }
    /// The host acknowledges its highest-priority pending enabled LPI, which stops being
    /// pending; 1023 when there is none.
    uint32_t acknowledge_lpi();
    void invalidate_lpi_config(std::optional<uint32_t> intid);

    // ---- vPEs --------------------------------------------------------------------------------
    /// VMAPP V=1 from one ITS. `alloc` and `ptz` are GICv4.1's Alloc and PTZ.
    void map_vpe(const VpeProps& props, bool alloc, bool ptz);
    /// VMAPP V=0 from one ITS. With Alloc=1 (GICv4.1) the cached VPT is written back and dropped.
    void unmap_vpe(uint32_t vpeid, bool alloc);
    bool has_vpe(uint32_t vpeid) const { return vpes_.count(vpeid) != 0; }
    const VpeState* vpe(uint32_t vpeid) const;
    const std::map<uint32_t, VpeState>& vpes() const { return vpes_; }
    /// VMOVP: hands vPE `vpeid`'s state over to redistributor `to`; the cache moves with it and
    /// nothing is written back.
    void move_vpe(uint32_t vpeid, Redistributor& to);
    /// Discards the stale state of a vPE no ITS maps here any more (it was mapped elsewhere).
    void drop_vpe(uint32_t vpeid, const char* why);
    void set_default_doorbell(uint32_t vpeid, uint32_t doorbell);

    /// Makes vINTID pending or not for a mapped vPE (INT, CLEAR, DISCARD, VMOVI, an MSI). A vLPI
    /// for a non-resident vPE rings a doorbell: GICv4.1 the vPE's default doorbell if it was
    /// armed at de-schedule; GICv4.0 `ite_doorbell` (the ITE's, 1023 = none).
    void set_vlpi_pending(uint32_t vpeid, uint32_t vintid, bool pending, uint32_t ite_doorbell);
    /// The redistributor's view: the cache when loaded, else cache | VPT memory.
    bool vlpi_pending(uint32_t vpeid, uint32_t vintid) const;
    void invalidate_vlpi_config(uint32_t vpeid, std::optional<uint32_t> vintid);

    void vsgi_configure(uint32_t vpeid, unsigned sgi, uint8_t priority, bool group1, bool enable);
    void vsgi_set_pending(uint32_t vpeid, unsigned sgi, bool pending);

    // ---- residency and the CPU interface ------------------------------------------------------
    /// The resident vPE (GICR_VPENDBASER.Valid = 1), if any.
    std::optional<uint32_t> resident_vpe() const { return resident_; }
    /// The resident vPE once its VPT is parsed (Dirty clear), else nullptr.
    VpeState* ready_vpe();
    bool vgrp1_enabled() const { return vgrp1en_; }
    bool vgrp0_enabled() const { return vgrp0en_; }
    /// The configuration byte of vINTID for a vPE: cached, or read from its VCONF table (a
    /// faulting read gives 0: disabled).
    uint8_t vlpi_config(VpeState& vpe, uint32_t vintid);
    /// Clears vINTID's pending bit after the CPU interface acknowledged it.
    void consume_vlpi(VpeState& vpe, uint32_t vintid);

    /// Where vPE `vpeid`'s vINTID is pending in this redistributor (rd_cache or vpt).
    void where_vlpi(uint32_t vpeid, uint32_t vintid, std::vector<Location>& out) const;

   private:
    friend class Gic;
    VpeState* find(uint32_t vpeid);
    void write_vpendbaser(uint64_t value);
    void schedule(VpeState& vpe);
    /// Valid 1 -> 0: `doorbell_requested` is 4.1's Doorbell, `pending_last_written` 4.1's
    /// PendingLast as written (4.0 ignores a written PendingLast).
    void deschedule(bool doorbell_requested, bool pending_last_written);
    /// Merges the VPT in memory into the cache.
    void parse_vpt(VpeState& vpe);
    /// Writes every dirty word of the cache back to the VPT.
    void write_back(VpeState& vpe);
    void set_bit(VpeState& vpe, uint32_t vintid, bool pending);
    bool any_pending_enabled(VpeState& vpe);
    void ring_doorbell(VpeState& vpe, uint32_t pintid, const char* why);
    uint8_t lpi_config(uint32_t intid);
    std::string vpe_name(uint32_t vpeid) const;

    Gic* gic_;
    unsigned index_;
    bool enable_lpis_ = false;
    uint64_t propbaser_ = 0;
    uint64_t pendbaser_ = 0;
    std::set<uint32_t> lpi_pending_;
    std::map<uint32_t, uint8_t> lpi_config_;  // cached physical LPI configuration bytes

    uint64_t vpropbaser_ = 0;
    // GICR_VPENDBASER
    bool db_ = false;
    bool pending_last_ = false;
    unsigned dirty_reads_ = 0;  // reads left that see Dirty = 1 (a schedule's parse or a de-schedule)
    uint32_t descheduled_vpe_ = 0;  // the vPE the last Valid 1 -> 0 made non-resident
    bool vgrp0en_ = false;
    bool vgrp1en_ = false;
    uint32_t vpendbaser_vpeid_ = 0;  // 4.1 vPEID field as last written
    uint64_t vpendbaser_pa_ = 0;     // 4.0 VPT address as last written
    bool idai_ = false;              // 4.0
    std::optional<uint32_t> resident_;
    uint32_t vsgir_vpeid_ = 0;
    std::map<uint32_t, VpeState> vpes_;
};

}  // namespace irqdiff::arm
