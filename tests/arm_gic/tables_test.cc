// ITS table entries and table walks (arm_gic/hw/tables.h): the model's DTE, ITE, CTE and VPTE
// formats word by word, the architected level-1 entry, the table a GITS_BASER<n> or a GICv4.1
// GICR_VPROPBASER describes, the walk from an ID to its entry, and entry reads and writes that
// fault as a whole.
#include "arm_gic/hw/tables.h"

#include <gtest/gtest.h>

#include <array>

namespace irqdiff::arm {
namespace {

constexpr uint64_t bit(unsigned n) { return uint64_t{1} << n; }
constexpr uint64_t k4K = 4096, k16K = 16384, k64K = 65536;

/// A small host space is enough to walk tables and to fault at its end.
AddressSpace small_space() { return AddressSpace("host", uint64_t{1} << 32); }

TableDesc flat(uint64_t base, uint64_t page_bytes, uint64_t pages, uint64_t entry_bytes) {
    return TableDesc{true, false, base, page_bytes, pages, entry_bytes};
}
TableDesc two_level(uint64_t base, uint64_t page_bytes, uint64_t pages, uint64_t entry_bytes) {
    return TableDesc{true, true, base, page_bytes, pages, entry_bytes};
}

// ---------------------------------------------------------------------------------------------
// DTE: Valid[63] ITT_addr[51:8] Size[4:0]

// tables.h (model-defined DTE, reference/arm §1.1: level-2 formats are IMPLEMENTATION DEFINED):
// Valid[63], ITT_addr[51:8] in place, Size[4:0].
TEST(Dte, EncodesEachFieldAtItsDocumentedBits) {
    EXPECT_EQ((Dte{true, 0, 0}.encode()), bit(63));
    EXPECT_EQ((Dte{false, 0x000F'FFFF'FFFF'FF00, 0}.encode()), 0x000F'FFFF'FFFF'FF00u);
    EXPECT_EQ((Dte{false, 0, 31}.encode()), 0x1Fu);
    EXPECT_EQ((Dte{true, 0x0123'4567'8900, 15}.encode()), bit(63) | 0x0123'4567'8900u | 15u);
}

// tables.h: decode(encode(e)) == e, and encode(decode(w)) == w for a word with reserved bits zero.
TEST(Dte, RoundTripsBothWays) {
    for (Dte e : {Dte{}, Dte{true, 0x100, 0}, Dte{true, 0x000F'FFFF'FFFF'FF00, 31}, Dte{false, 0x4000'0000, 7}})
        EXPECT_EQ(Dte::decode(e.encode()), e);
    for (uint64_t w : {uint64_t{0}, bit(63) | 0x1234'5600u | 7u, 0x000F'FFFF'FFFF'FF00u | 31u})
        EXPECT_EQ(Dte::decode(w).encode(), w);
}

// tables.h: the reserved bits [62:52] and [7:5] of a DTE are dropped by decode; the ITT address is
// 256-byte aligned, so an unaligned address loses its low byte on encode.
TEST(Dte, DropsReservedBitsAndAlignsTheIttAddress) {
    uint64_t raw = bit(63) | bit(62) | bit(52) | 0x7000'0000u | 0xE0u | 3u;
    Dte d = Dte::decode(raw);
    EXPECT_TRUE(d.valid);
    EXPECT_EQ(d.itt_addr, 0x7000'0000u);
    EXPECT_EQ(d.size, 3u);
    EXPECT_EQ(d.encode(), bit(63) | 0x7000'0000u | 3u);
    EXPECT_EQ((Dte{true, 0x1234'56FF, 0}.encode()), bit(63) | 0x1234'5600u);
}

// tables.h: Size is EventID bits - 1, so a DTE covers 2^(Size+1) events.
TEST(Dte, EventCountIsTwoToTheSizePlusOne) {
    EXPECT_EQ((Dte{true, 0, 0}.event_count()), 2u);
    EXPECT_EQ((Dte{true, 0, 7}.event_count()), 256u);
    EXPECT_EQ((Dte{true, 0, 31}.event_count()), uint64_t{1} << 32);
}

// ---------------------------------------------------------------------------------------------
// ITE: w0 Valid[63] Virtual[62] Id[47:32] IntId[31:0]; w1 Doorbell[31:0]

// tables.h: ITE w0 = Valid[63] Virtual[62] ICID/vPEID[47:32] pINTID/vINTID[31:0], w1 = Doorbell[31:0].
TEST(Ite, EncodesEachFieldAtItsDocumentedBits) {
    uint64_t w0 = 0, w1 = 0;
    Ite{true, true, 0x1234, 0x2005, 8300}.encode(w0, w1);
    EXPECT_EQ(w0, bit(63) | bit(62) | (uint64_t{0x1234} << 32) | 0x2005u);
    EXPECT_EQ(w1, 8300u);

    Ite{true, false, 7, 8192, kNoDoorbell}.encode(w0, w1);
    EXPECT_EQ(w0, bit(63) | (uint64_t{7} << 32) | 8192u);
    EXPECT_EQ(w1, 1023u);

    Ite{false, false, 0xFFFF, 0xFFFF'FFFF, 0xFFFF'FFFF}.encode(w0, w1);
    EXPECT_EQ(w0, 0x0000'FFFF'FFFF'FFFFu);
    EXPECT_EQ(w1, 0xFFFF'FFFFu);
}

// tables.h: ITE round trips both ways; reserved bits [61:48] of w0 and [63:32] of w1 are dropped.
TEST(Ite, RoundTripsBothWaysAndDropsReservedBits) {
    for (Ite e : {Ite{}, Ite{true, false, 3, 8200, kNoDoorbell}, Ite{true, true, 0xFFFF, 0xFFFF'FFFF, 0xFFFF'FFFF}}) {
        uint64_t w0 = 0, w1 = 0;
        e.encode(w0, w1);
        EXPECT_EQ(Ite::decode(w0, w1), e);
    }
    uint64_t w0 = bit(63) | bit(62) | (uint64_t{0x55} << 32) | 9000u, w1 = 8300;
    Ite e = Ite::decode(w0, w1);
    uint64_t r0 = 0, r1 = 0;
    e.encode(r0, r1);
    EXPECT_EQ(r0, w0);
    EXPECT_EQ(r1, w1);

    Ite junk = Ite::decode(w0 | bit(61) | bit(48), w1 | bit(40));
    EXPECT_EQ(junk, e);
}

// ---------------------------------------------------------------------------------------------
// CTE: Valid[63] RDbase[15:0]

// tables.h: CTE = Valid[63] RDbase[15:0] (processor number, GITS_TYPER.PTA = 0).
TEST(Cte, EncodesEachFieldAtItsDocumentedBitsAndRoundTrips) {
    EXPECT_EQ((Cte{true, 0}.encode()), bit(63));
    EXPECT_EQ((Cte{false, 0xFFFF}.encode()), 0xFFFFu);
    EXPECT_EQ((Cte{true, 5}.encode()), bit(63) | 5u);
    for (Cte e : {Cte{}, Cte{true, 1}, Cte{true, 0xFFFF}}) EXPECT_EQ(Cte::decode(e.encode()), e);
    for (uint64_t w : {uint64_t{0}, bit(63) | 3u, uint64_t{0xFFFF}}) EXPECT_EQ(Cte::decode(w).encode(), w);
    EXPECT_EQ(Cte::decode(bit(63) | bit(40) | 0x10002u), (Cte{true, 2}));  // reserved bits dropped
}

// ---------------------------------------------------------------------------------------------
// VPTE: w0 Valid[63] VPT_size[60:56] VPT_addr[51:16] RDbase[15:0]; w1 VCONF_addr[51:12];
//       w2 Default_Doorbell[31:0]

// tables.h: VPTE w0 = Valid[63] VPT_size[60:56] VPT_addr[51:16] RDbase[15:0], w1 = VCONF_addr[51:12],
// w2 = Default_Doorbell[31:0].
TEST(Vpte, EncodesEachFieldAtItsDocumentedBits) {
    uint64_t w0 = 0, w1 = 0, w2 = 0;
    Vpte{true, 15, 0x0200'0000, 1, 0x0300'0000, 8300}.encode(w0, w1, w2);
    EXPECT_EQ(w0, bit(63) | (uint64_t{15} << 56) | 0x0200'0000u | 1u);
    EXPECT_EQ(w1, 0x0300'0000u);
    EXPECT_EQ(w2, 8300u);

    Vpte{false, 31, 0x000F'FFFF'FFFF'0000, 0xFFFF, 0x000F'FFFF'FFFF'F000, 0xFFFF'FFFF}.encode(w0, w1, w2);
    EXPECT_EQ(w0, (uint64_t{31} << 56) | 0x000F'FFFF'FFFF'0000u | 0xFFFFu);
    EXPECT_EQ(w1, 0x000F'FFFF'FFFF'F000u);
    EXPECT_EQ(w2, 0xFFFF'FFFFu);
}

// tables.h: VPTE round trips both ways; VPT_addr is 64 KiB and VCONF_addr 4 KiB aligned.
TEST(Vpte, RoundTripsBothWaysAndAlignsAddresses) {
    for (Vpte e : {Vpte{}, Vpte{true, 15, 0x0201'0000, 1, 0x0300'0000, kNoDoorbell},
                   Vpte{true, 31, 0x000F'FFFF'FFFF'0000, 0xFFFF, 0x000F'FFFF'FFFF'F000, 0xFFFF'FFFF}}) {
        uint64_t w0 = 0, w1 = 0, w2 = 0;
        e.encode(w0, w1, w2);
        EXPECT_EQ(Vpte::decode(w0, w1, w2), e);
    }
    uint64_t w0 = bit(63) | (uint64_t{13} << 56) | 0x0042'0000u | 7u, w1 = 0x0005'1000u, w2 = 9000u;
    uint64_t r0 = 0, r1 = 0, r2 = 0;
    Vpte::decode(w0, w1, w2).encode(r0, r1, r2);
    EXPECT_EQ(r0, w0);
    EXPECT_EQ(r1, w1);
    EXPECT_EQ(r2, w2);

    uint64_t a0 = 0, a1 = 0, a2 = 0;
    Vpte{true, 15, 0x0200'FFFF, 0, 0x0300'0FFF, kNoDoorbell}.encode(a0, a1, a2);
    EXPECT_EQ(Vpte::W0::VptAddr.get_in_place(a0), 0x0200'0000u);
    EXPECT_EQ(a1, 0x0300'0000u);
}

// tables.h: VPT_size is vINTID bits - 1.
TEST(Vpte, IdBitsIsVptSizePlusOne) {
    EXPECT_EQ((Vpte{true, 13, 0, 0, 0, kNoDoorbell}.id_bits()), 14u);
    EXPECT_EQ((Vpte{true, 15, 0, 0, 0, kNoDoorbell}.id_bits()), 16u);
}

// ---------------------------------------------------------------------------------------------
// Level-1 entries and TableDesc

// reference/arm §1.1: the level-1 entry of a two-level table is architected: Valid[63],
// PhysAddr[51:12] of the level-2 page.
TEST(L1Entry, ValidIsBit63AndTheAddressIsBits51To12) {
    EXPECT_EQ(L1Entry::Valid.kMask, bit(63));
    EXPECT_EQ(L1Entry::PhysAddr.kMask, 0x000F'FFFF'FFFF'F000u);
    uint64_t raw = bit(63) | bit(62) | bit(52) | 0x0001'2345'6000u | 0xFFFu;
    EXPECT_EQ(L1Entry::Valid.get(raw), 1u);
    EXPECT_EQ(L1Entry::PhysAddr.get_in_place(raw), 0x0001'2345'6000u);
}

// IHI 0069 GITS_BASER (layout per registers.h): the table has Size+1 pages of Page_Size bytes, each
// entry Entry_Size+1 bytes, at PhysAddr; Valid and Indirect carry over.
TEST(TableDesc, FromGitsBaserTakesEveryField) {
    GitsBaser b;
    b.valid = true;
    b.indirect = true;
    b.type = BaserType::Device;
    b.entry_size = 7;
    b.phys_addr = 0x0123'4000;
    b.page_size = GitsBaser::kPage16K;
    b.size = 2;
    TableDesc t = TableDesc::from(b);
    EXPECT_EQ(t, (TableDesc{true, true, 0x0123'4000, k16K, 3, 8}));

    b.valid = false;
    b.indirect = false;
    b.page_size = GitsBaser::kPage64K;
    b.phys_addr = 0x000F'0000'0001'0000;  // PA[51:48] travel in PhysAddr[15:12] with 64 KiB pages
    b.entry_size = 31;
    b.size = 0;
    EXPECT_EQ(TableDesc::from(GitsBaser::decode(b.encode())),
              (TableDesc{false, false, 0x000F'0000'0001'0000, k64K, 1, 32}));
}

// tables.h: capacity of a flat table is its bytes / entry bytes; of a two-level table, one
// level-2 page of page_bytes / entry_bytes IDs per 8-byte level-1 entry.
TEST(TableDesc, CapacityForEveryPageSizeFlatAndTwoLevel) {
    for (uint64_t page : {k4K, k16K, k64K}) {
        SCOPED_TRACE(page);
        EXPECT_EQ(flat(0, page, 1, 8).capacity(), page / 8);
        EXPECT_EQ(flat(0, page, 4, 8).capacity(), 4 * page / 8);
        EXPECT_EQ(flat(0, page, 2, 32).capacity(), 2 * page / 32);
        EXPECT_EQ(two_level(0, page, 1, 8).capacity(), (page / 8) * (page / 8));
        EXPECT_EQ(two_level(0, page, 3, 16).capacity(), (3 * page / 8) * (page / 16));
    }
    EXPECT_EQ(two_level(0, k4K, 1, 8).capacity(), uint64_t{1} << 18);
    EXPECT_EQ(two_level(0, k64K, 1, 8).capacity(), uint64_t{1} << 26);
    EXPECT_EQ((TableDesc{true, false, 0, k4K, 1, 0}.capacity()), 0u);  // no entry size: holds nothing
}

// tables.h TableDesc::from(Vpropbaser41): Entry_Size = entry bytes / 8 - 1, Size = pages - 1,
// Page_Size as in GITS_BASER; Addr, Valid and Indirect carry over (reference/arm §1.3 layout).
TEST(TableDesc, FromVpropbaser41UsesTheModelsEncodings) {
    Vpropbaser41 v;
    v.valid = true;
    v.entry_size = 3;  // 32-byte VPTEs
    v.indirect = false;
    v.page_size = GitsBaser::kPage64K;
    v.addr = 0x0040'0000;
    v.size = 1;
    TableDesc t = TableDesc::from(v);
    EXPECT_EQ(t, (TableDesc{true, false, 0x0040'0000, k64K, 2, 32}));
    EXPECT_EQ(t.capacity(), 2 * k64K / 32);

    v.indirect = true;
    v.page_size = GitsBaser::kPage4K;
    v.size = 0;
    t = TableDesc::from(Vpropbaser41::decode(v.encode()));
    EXPECT_EQ(t, (TableDesc{true, true, 0x0040'0000, k4K, 1, 32}));
    EXPECT_EQ(t.capacity(), (k4K / 8) * (k4K / 32));

    v.page_size = GitsBaser::kPage16K;
    v.size = 127;
    v.entry_size = 0;
    EXPECT_EQ(TableDesc::from(v), (TableDesc{true, true, 0x0040'0000, k16K, 128, 8}));
}

// ---------------------------------------------------------------------------------------------
// entry_address

// tables.h: in a flat table entry `id` is at base + id * entry_bytes; IDs from the capacity on are
// out of range.
TEST(EntryAddress, FlatTableIndexesFromTheBase) {
    AddressSpace m = small_space();
    TableDesc t = flat(0x10'0000, k4K, 2, 8);
    EXPECT_EQ(entry_address(m, t, 0).addr, 0x10'0000u);
    EXPECT_TRUE(entry_address(m, t, 0).ok());
    EXPECT_EQ(entry_address(m, t, 5).addr, 0x10'0028u);
    EXPECT_EQ(entry_address(m, t, 1023).addr, 0x10'0000u + 1023 * 8);
    EXPECT_EQ(entry_address(m, t, 1024).status, TableWalk::OutOfRange);
    EXPECT_EQ(entry_address(m, flat(0x20'0000, k64K, 1, 32), 2047).addr, 0x20'0000u + 2047 * 32);
    EXPECT_EQ(entry_address(m, flat(0x20'0000, k64K, 1, 32), 2048).status, TableWalk::OutOfRange);
}

// tables.h: a table whose base register is not valid has no entries.
TEST(EntryAddress, InvalidTableIsNotValid) {
    AddressSpace m = small_space();
    TableDesc t = flat(0x10'0000, k4K, 1, 8);
    t.valid = false;
    EXPECT_EQ(entry_address(m, t, 0).status, TableWalk::NotValid);
    t.indirect = true;
    EXPECT_EQ(entry_address(m, t, 0).status, TableWalk::NotValid);
}

// reference/arm §1.1 (architected level 1): a two-level table's 8-byte level-1 entry
// id / (page / entry_bytes) names the level-2 page; the entry is at PhysAddr + (id % per_page) *
// entry_bytes. Every page size, and entry sizes of the device (8), ITT-like (16) and vPE (32) tables.
TEST(EntryAddress, TwoLevelTableWalksAValidLevel1Entry) {
    for (uint64_t page : {k4K, k16K, k64K}) {
        for (uint64_t entry : {uint64_t{8}, uint64_t{16}, uint64_t{32}}) {
            SCOPED_TRACE(::testing::Message() << "page " << page << " entry " << entry);
            AddressSpace m = small_space();
            const uint64_t per_page = page / entry;
            TableDesc t = two_level(0x10'0000, page, 1, entry);
            const uint64_t l2 = 0x80'0000;
            ASSERT_EQ(m.write64(0x10'0000 + 3 * 8, L1Entry::Valid.make(1) | l2), MemFault::None);
            EntryAddr a = entry_address(m, t, 3 * per_page + 17);
            ASSERT_TRUE(a.ok()) << to_string(a.status);
            EXPECT_EQ(a.addr, l2 + 17 * entry);
            EXPECT_EQ(entry_address(m, t, 3 * per_page).addr, l2);
            EXPECT_EQ(entry_address(m, t, 4 * per_page - 1).addr, l2 + (per_page - 1) * entry);
            // The neighbouring level-1 entries are zero: not valid.
            EXPECT_EQ(entry_address(m, t, 2 * per_page + 17).status, TableWalk::NoLevel2);
            EXPECT_EQ(entry_address(m, t, 4 * per_page).status, TableWalk::NoLevel2);
            EXPECT_EQ(entry_address(m, t, (page / 8) * per_page).status, TableWalk::OutOfRange);
        }
    }
}

// reference/arm §1.1: only Valid[63] and PhysAddr[51:12] of a level-1 entry count; an entry with
// an address but Valid = 0 gives no level-2 page.
TEST(EntryAddress, Level1EntryWithoutValidGivesNoLevel2) {
    AddressSpace m = small_space();
    TableDesc t = two_level(0x10'0000, k4K, 1, 16);
    ASSERT_EQ(m.write64(0x10'0000, 0x80'0000u), MemFault::None);  // address, no Valid
    EXPECT_EQ(entry_address(m, t, 0).status, TableWalk::NoLevel2);
    ASSERT_EQ(m.write64(0x10'0000, L1Entry::Valid.make(1) | bit(62) | 0x80'0000u | 0xABCu), MemFault::None);
    EXPECT_EQ(entry_address(m, t, 1).addr, 0x80'0000u + 16);
}

// tables.h: a level-1 read outside memory is a Fault, not an exception.
TEST(EntryAddress, Level1ReadOutsideMemoryFaults) {
    AddressSpace m = small_space();
    const uint64_t base = m.size() - k4K;  // level 1 spans two pages; the second is outside memory
    TableDesc t = two_level(base, k4K, 2, 8);
    const uint64_t per_page = k4K / 8;
    ASSERT_EQ(m.write64(base, L1Entry::Valid.make(1) | 0x80'0000u), MemFault::None);
    EXPECT_TRUE(entry_address(m, t, 5).ok());
    EXPECT_EQ(entry_address(m, t, per_page * per_page).status, TableWalk::Fault);  // level-1 entry 512
    EXPECT_EQ(entry_address(m, t, 2 * per_page * per_page - 1).status, TableWalk::Fault);
    EXPECT_EQ(entry_address(m, t, 2 * per_page * per_page).status, TableWalk::OutOfRange);
}

// ---------------------------------------------------------------------------------------------
// Entry reads and writes

// tables.h: read_*/write_* store the documented words at the entry's address.
TEST(EntryAccess, WritesAndReadsBackEveryEntryKind) {
    AddressSpace m = small_space();
    Dte dte{true, 0x0100'0000, 7};
    ASSERT_EQ(write_dte(m, 0x1000, dte), MemFault::None);
    EXPECT_EQ(m.read64(0x1000).value, dte.encode());
    EXPECT_EQ(read_dte(m, 0x1000).value, dte);

    Ite ite{true, true, 4, 8200, 8300};
    ASSERT_EQ(write_ite(m, 0x2000, ite), MemFault::None);
    EXPECT_EQ(m.read64(0x2000).value, bit(63) | bit(62) | (uint64_t{4} << 32) | 8200u);
    EXPECT_EQ(m.read64(0x2008).value, 8300u);
    EXPECT_EQ(read_ite(m, 0x2000).value, ite);

    Cte cte{true, 1};
    ASSERT_EQ(write_cte(m, 0x3000, cte), MemFault::None);
    EXPECT_EQ(m.read64(0x3000).value, bit(63) | 1u);
    EXPECT_EQ(read_cte(m, 0x3000).value, cte);

    Vpte vpte{true, 15, 0x0200'0000, 1, 0x0300'0000, 8300};
    ASSERT_EQ(m.write64(0x4018, ~uint64_t{0}), MemFault::None);  // word 3 is written as zero
    ASSERT_EQ(write_vpte(m, 0x4000, vpte), MemFault::None);
    EXPECT_EQ(m.read64(0x4000).value, bit(63) | (uint64_t{15} << 56) | 0x0200'0000u | 1u);
    EXPECT_EQ(m.read64(0x4008).value, 0x0300'0000u);
    EXPECT_EQ(m.read64(0x4010).value, 8300u);
    EXPECT_EQ(m.read64(0x4018).value, 0u);
    EXPECT_EQ(read_vpte(m, 0x4000).value, vpte);
}

// tables.h: "a fault leaves memory unchanged and is returned, never thrown": an entry that runs
// past the end of memory is not written at all, not even the part inside.
TEST(EntryAccess, WritesPastTheEndFaultWithoutWritingPartially) {
    AddressSpace m = small_space();
    const uint64_t end = m.size();
    const uint64_t sentinel = 0x5A5A'5A5A'5A5A'5A5A;
    for (uint64_t a = end - 32; a < end; a += 8) ASSERT_EQ(m.write64(a, sentinel), MemFault::None);
    auto untouched = [&] {
        for (uint64_t a = end - 32; a < end; a += 8)
            if (m.read64(a).value != sentinel) return false;
        return true;
    };
    EXPECT_EQ(write_ite(m, end - 8, Ite{true, false, 1, 8192, kNoDoorbell}), MemFault::OutOfRange);
    EXPECT_TRUE(untouched());
    EXPECT_EQ(write_vpte(m, end - 16, Vpte{true, 15, 0x10000, 0, 0, kNoDoorbell}), MemFault::OutOfRange);
    EXPECT_TRUE(untouched());
    EXPECT_EQ(write_vpte(m, end - 24, Vpte{true, 15, 0x10000, 0, 0, kNoDoorbell}), MemFault::OutOfRange);
    EXPECT_TRUE(untouched());
    EXPECT_EQ(write_dte(m, end - 4, Dte{true, 0x100, 0}), MemFault::OutOfRange);
    EXPECT_EQ(write_cte(m, end, Cte{true, 0}), MemFault::OutOfRange);
    EXPECT_TRUE(untouched());
    EXPECT_EQ(write_dte(m, end - 8, Dte{true, 0x100, 0}), MemFault::None);  // the last 8 bytes fit
}

// tables.h: a read past the end of memory returns the fault and a default (invalid) entry.
TEST(EntryAccess, ReadsPastTheEndFaultWithAnInvalidEntry) {
    AddressSpace m = small_space();
    const uint64_t end = m.size();
    for (uint64_t a = end - 32; a < end; a += 8) ASSERT_EQ(m.write64(a, ~uint64_t{0}), MemFault::None);
    MemRead<Dte> dte = read_dte(m, end - 4);
    EXPECT_EQ(dte.fault, MemFault::OutOfRange);
    EXPECT_FALSE(dte.value.valid);
    MemRead<Ite> ite = read_ite(m, end - 8);
    EXPECT_EQ(ite.fault, MemFault::OutOfRange);
    EXPECT_EQ(ite.value, Ite{});
    MemRead<Cte> cte = read_cte(m, end);
    EXPECT_EQ(cte.fault, MemFault::OutOfRange);
    EXPECT_FALSE(cte.value.valid);
    MemRead<Vpte> vpte = read_vpte(m, end - 16);
    EXPECT_EQ(vpte.fault, MemFault::OutOfRange);
    EXPECT_EQ(vpte.value, Vpte{});
    EXPECT_TRUE(read_ite(m, end - 16).ok());  // the last 16 bytes fit
}

// tables.h to_string(TableWalk): every outcome has a name.
TEST(TableWalk, EveryOutcomeHasAName) {
    for (TableWalk w :
         {TableWalk::Ok, TableWalk::NotValid, TableWalk::OutOfRange, TableWalk::NoLevel2, TableWalk::Fault})
        EXPECT_STRNE(to_string(w), "?");
}

}  // namespace
}  // namespace irqdiff::arm
