// Decode/encode of the GIC register value structs declared in registers.h. Each body lists the
// fields in the order of the struct (the spec table's order), so it can be checked line by line.
#include "arm_gic/hw/registers.h"

namespace irqdiff::arm {

namespace {

bool bit(uint64_t v) { return v != 0; }
uint8_t u8(uint64_t v) { return static_cast<uint8_t>(v); }

constexpr uint64_t k64KiB = uint64_t{64} << 10;

// With 64 KiB pages a GITS_BASER table is 64 KiB aligned and PhysAddr[15:12] carry PA[51:48]
// (layout per IHI 0069, not in reference/; Linux GITS_BASER_PHYS_52_to_48 makes the same split).
constexpr Field<47, 16> kBaserAddr64K{};   // PA[47:16], in place
constexpr Field<15, 12> kBaserAddrHigh{};  // holds PA[51:48]
constexpr Field<51, 48> kPaHigh{};

}  // namespace

// ---------------------------------------------------------------------------------------------
// GITS_BASER<n>

uint64_t GitsBaser::page_bytes() const {
    switch (page_size) {
        case kPage4K: return uint64_t{4} << 10;
        case kPage16K: return uint64_t{16} << 10;
        default: return k64KiB;  // kPage64K; reserved 3 read as 64 KiB (see header)
    }
}

GitsBaser GitsBaser::decode(uint64_t raw) {
    GitsBaser b;
    b.valid = bit(Valid.get(raw));
    b.indirect = bit(Indirect.get(raw));
    b.inner_cache = u8(InnerCache.get(raw));
    b.type = static_cast<BaserType>(Type.get(raw));
    b.outer_cache = u8(OuterCache.get(raw));
    b.entry_size = u8(EntrySize.get(raw));
    b.shareability = u8(Shareability.get(raw));
    b.page_size = u8(PageSize.get(raw));
    b.size = u8(Size.get(raw));
    if (b.page_bytes() == k64KiB)
        b.phys_addr = kBaserAddr64K.get_in_place(raw) | kPaHigh.make(kBaserAddrHigh.get(raw));
    else
        b.phys_addr = PhysAddr.get_in_place(raw);
    return b;
}

uint64_t GitsBaser::encode() const {
    uint64_t raw = 0;
    raw = Valid.set(raw, valid);
    raw = Indirect.set(raw, indirect);
    raw = InnerCache.set(raw, inner_cache);
    raw = Type.set(raw, static_cast<uint64_t>(type));
    raw = OuterCache.set(raw, outer_cache);
    raw = EntrySize.set(raw, entry_size);
    if (page_bytes() == k64KiB)
        raw |= kBaserAddr64K.get_in_place(phys_addr) | kBaserAddrHigh.make(kPaHigh.get(phys_addr));
    else
        raw |= PhysAddr.get_in_place(phys_addr);
    raw = Shareability.set(raw, shareability);
    raw = PageSize.set(raw, page_size);
    raw = Size.set(raw, size);
    return raw;
}

// ---------------------------------------------------------------------------------------------
// GICR_VPROPBASER (4.1)

Vpropbaser41 Vpropbaser41::decode(uint64_t raw) {
    Vpropbaser41 v;
    v.valid = bit(Valid.get(raw));
    v.entry_size = u8(EntrySize.get(raw));
    v.outer_cache = u8(OuterCache.get(raw));
    v.indirect = bit(Indirect.get(raw));
    v.page_size = u8(PageSize.get(raw));
    v.z = bit(Z.get(raw));
    v.addr = Addr.get_in_place(raw);
    v.shareability = u8(Shareability.get(raw));
    v.inner_cache = u8(InnerCache.get(raw));
    v.size = u8(Size.get(raw));
    return v;
}

uint64_t Vpropbaser41::encode() const {
    uint64_t raw = 0;
    raw = Valid.set(raw, valid);
    raw = EntrySize.set(raw, entry_size);
    raw = OuterCache.set(raw, outer_cache);
    raw = Indirect.set(raw, indirect);
    raw = PageSize.set(raw, page_size);
    raw = Z.set(raw, z);
    raw |= Addr.get_in_place(addr);
    raw = Shareability.set(raw, shareability);
    raw = InnerCache.set(raw, inner_cache);
    raw = Size.set(raw, size);
    return raw;
}

// ---------------------------------------------------------------------------------------------
// GICR_VPENDBASER (4.0)

Vpendbaser40 Vpendbaser40::decode(uint64_t raw) {
    Vpendbaser40 v;
    v.valid = bit(Valid.get(raw));
    v.idai = bit(IDAI.get(raw));
    v.pending_last = bit(PendingLast.get(raw));
    v.dirty = bit(Dirty.get(raw));
    v.outer_cache = u8(OuterCache.get(raw));
    v.vpt_addr = PhysAddr.get_in_place(raw);
    v.shareability = u8(Shareability.get(raw));
    v.inner_cache = u8(InnerCache.get(raw));
    return v;
}

uint64_t Vpendbaser40::encode() const {
    uint64_t raw = 0;
    raw = Valid.set(raw, valid);
    raw = IDAI.set(raw, idai);
    raw = PendingLast.set(raw, pending_last);
    raw = Dirty.set(raw, dirty);
    raw = OuterCache.set(raw, outer_cache);
    raw |= PhysAddr.get_in_place(vpt_addr);
    raw = Shareability.set(raw, shareability);
    raw = InnerCache.set(raw, inner_cache);
    return raw;
}

// ---------------------------------------------------------------------------------------------
// GICR_VPENDBASER (4.1)

Vpendbaser41 Vpendbaser41::decode(uint64_t raw) {
    Vpendbaser41 v;
    v.valid = bit(Valid.get(raw));
    v.db = bit(DB.get(raw));
    v.pending_last = bit(PendingLast.get(raw));
    v.dirty = bit(Dirty.get(raw));
    v.vgrp0en = bit(vGrp0En.get(raw));
    v.vgrp1en = bit(vGrp1En.get(raw));
    v.vpeid = static_cast<uint16_t>(vPEID.get(raw));
    return v;
}

uint64_t Vpendbaser41::encode() const {
    uint64_t raw = 0;
    raw = Valid.set(raw, valid);
    raw = DB.set(raw, db);
    raw = PendingLast.set(raw, pending_last);
    raw = Dirty.set(raw, dirty);
    raw = vGrp0En.set(raw, vgrp0en);
    raw = vGrp1En.set(raw, vgrp1en);
    raw = vPEID.set(raw, vpeid);
    return raw;
}

}  // namespace irqdiff::arm
