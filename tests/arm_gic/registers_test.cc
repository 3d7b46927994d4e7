// GIC register offsets, field positions and the value structs' decode/encode round trips.
#include "arm_gic/hw/registers.h"

#include <gtest/gtest.h>

#include <vector>

namespace irqdiff::arm {
namespace {

constexpr uint64_t bit(unsigned n) { return uint64_t{1} << n; }

// ---------------------------------------------------------------------------------------------
// Offsets

// reference arm §1.1: CTLR 0x0, IIDR 0x4, TYPER 0x8, CBASER 0x80, CWRITER 0x88, CREADR 0x90,
// BASER<n> 0x100+8n, GITS_TRANSLATER 0x10040, GITS_SGIR 0x20020.
TEST(ItsOffsets, MatchTheItsFrameMap) {
    EXPECT_EQ(GITS_CTLR, 0x0u);
    EXPECT_EQ(GITS_IIDR, 0x4u);
    EXPECT_EQ(GITS_TYPER, 0x8u);
    EXPECT_EQ(GITS_CBASER, 0x80u);
    EXPECT_EQ(GITS_CWRITER, 0x88u);
    EXPECT_EQ(GITS_CREADR, 0x90u);
    EXPECT_EQ(gits_baser(0), 0x100u);
    EXPECT_EQ(gits_baser(2), 0x110u);  // GICv4.1's vPE table register (reference §1.1)
    EXPECT_EQ(gits_baser(kGitsBaserCount - 1), 0x138u);
    EXPECT_EQ(GITS_TRANSLATER, 0x10040u);
    EXPECT_EQ(GITS_SGIR, 0x20020u);
}

// reference arm §1.3: VLPI frame = RD_base + 128K; VPROPBASER 0x70, VPENDBASER 0x78, INVLPIR 0xA0,
// INVALLR 0xB0, SYNCR 0xC0, VSGIR 0x80, VSGIPENDR 0x88.
TEST(GicrOffsets, MatchTheRedistributorMap) {
    EXPECT_EQ(kGicrVlpiFrame, 128u * 1024);
    EXPECT_EQ(GICR_VPROPBASER, 0x70u);
    EXPECT_EQ(GICR_VPENDBASER, 0x78u);
    EXPECT_EQ(GICR_VSGIR, 0x80u);
    EXPECT_EQ(GICR_VSGIPENDR, 0x88u);
    EXPECT_EQ(GICR_INVLPIR, 0xA0u);
    EXPECT_EQ(GICR_INVALLR, 0xB0u);
    EXPECT_EQ(GICR_SYNCR, 0xC0u);
}

// ---------------------------------------------------------------------------------------------
// Field-only registers

// reference arm §1.1: GITS_CTLR Enable bit0, ImDe bit1, Quiescent bit31.
TEST(GitsCtlr, FieldsSitAtSpecBits) {
    EXPECT_EQ(GitsCtlr::Enabled.kMask, bit(0));
    EXPECT_EQ(GitsCtlr::ImDe.kMask, bit(1));
    EXPECT_EQ(GitsCtlr::Quiescent.kMask, bit(31));
    EXPECT_EQ(GitsCtlr::Quiescent.get(0x8000'0001), 1u);
    EXPECT_EQ(GitsCtlr::ImDe.get(0x8000'0001), 0u);
}

// reference arm §1.1: GITS_TYPER.VLPIS bit1 (GICv4), VMOVP bit37, VMAPP bit40 (GICv4.1); SVPET,
// IDbits, Devbits, ITT_entry_size, Physical per IHI 0069 (not in reference/).
TEST(GitsTyper, DecodesAGicv41ItsTyper) {
    uint64_t typer = GitsTyper::Physical.make(1) | GitsTyper::Virtual.make(1) | GitsTyper::IttEntrySize.make(7) |
                     GitsTyper::IDbits.make(15) | GitsTyper::Devbits.make(15) | GitsTyper::VMOVP.make(1) |
                     GitsTyper::VMAPP.make(1) | GitsTyper::SVPET.make(1);
    EXPECT_EQ(typer, bit(0) | bit(1) | (uint64_t{7} << 4) | (uint64_t{15} << 8) | (uint64_t{15} << 13) | bit(37) |
                         bit(40) | bit(41));
    EXPECT_EQ(GitsTyper::VMAPP.get(typer), 1u);
    EXPECT_EQ(GitsTyper::Devbits.get(typer) + 1, 16u);  // 16 DeviceID bits
    EXPECT_EQ(GitsTyper::SVPET.kMask, bit(42) | bit(41));
    EXPECT_EQ(GitsTyper::PTA.get(typer), 0u);
}

// IHI 0069 (not in reference/): GITS_CWRITER/CREADR Offset[19:5] is the queue byte offset in
// 32-byte commands; bit 0 is Retry (CWRITER) / Stalled (CREADR).
TEST(GitsCwriter, OffsetIsAByteOffsetInCommands) {
    uint64_t cwriter = GitsCwriter::Offset.set(0, 5) | GitsCwriter::Retry.make(1);
    EXPECT_EQ(cwriter, 5u * 32 + 1);
    EXPECT_EQ(GitsCwriter::Offset.get_in_place(cwriter), 5u * 32);
    EXPECT_EQ(GitsCreadr::Stalled.get(cwriter), 1u);
    EXPECT_EQ(GitsCreadr::Offset.kMask, 0xF'FFE0u);  // at most 1 MiB of queue
}

// reference arm §1.3: GICR_INVLPIR INTID[31:0], vPEID[47:32], V[63]; GICR_INVALLR vPEID[47:32], V[63].
TEST(GicrInvlpir, ComposesAVlpiInvalidation) {
    uint64_t invlpir = GicrInvlpir::V.make(1) | GicrInvlpir::vPEID.make(7) | GicrInvlpir::INTID.make(8192);
    EXPECT_EQ(invlpir, 0x8000'0007'0000'2000u);
    EXPECT_EQ(GicrInvallr::vPEID.get(invlpir), 7u);
    EXPECT_EQ(GicrInvallr::V.kMask, GicrInvlpir::V.kMask);
    EXPECT_EQ(GicrSyncr::Busy.kMask, bit(0));
}

// reference arm §1.3: GICR_VSGIR vPEID[15:0]; GICR_VSGIPENDR Busy[31], Pending[15:0];
// GITS_SGIR vPEID[47:32], vINTID[3:0].
TEST(GicrVsgipendr, BusyAndPendingAreSeparateFields) {
    uint32_t pendr = 0x8000'8001;
    EXPECT_EQ(GicrVsgipendr::Busy.get(pendr), 1u);
    EXPECT_EQ(GicrVsgipendr::Pending.get(pendr), 0x8001u);  // vSGIs 0 and 15
    EXPECT_EQ(GicrVsgir::vPEID.make(0x1'2345), 0x2345u);    // 16-bit vPEID, wider values dropped
    EXPECT_EQ(GitsSgir::vPEID.make(3) | GitsSgir::vINTID.make(15), 0x0000'0003'0000'000Fu);
}

// IHI 0069 (not in reference/): GICR_PENDBASER PTZ[62], PhysAddr[51:16]; GICR_CTLR EnableLPIs[0].
TEST(GicrPendbaser, PtzAndAddressPositions) {
    EXPECT_EQ(GicrPendbaser::PTZ.kMask, bit(62));
    EXPECT_EQ(GicrPendbaser::PhysAddr.get_in_place(0x4000'0000'1234'FFFF), 0x1234'0000u);
    EXPECT_EQ(GicrCtlr::EnableLPIs.kMask, bit(0));
    EXPECT_EQ(GicrPropbaser::IDbits.get(0x1234'5013), 0x13u);
}

// ---------------------------------------------------------------------------------------------
// GICR_VPENDBASER, GICv4.1

Vpendbaser41 all_set_41() {
    return {.valid = true,
            .db = true,
            .pending_last = true,
            .dirty = true,
            .vgrp0en = true,
            .vgrp1en = true,
            .vpeid = 0xFFFF};
}

// reference arm §1.3: GICR_VPENDBASER (4.1) Valid[63] DB[62] PendingLast[61] Dirty[60] vGrp0En[59]
// vGrp1En[58] vPEID[15:0].
TEST(Vpendbaser41, RoundTripsEveryField) {
    std::vector<Vpendbaser41> values = {
        {},
        all_set_41(),
        {.valid = true, .vgrp1en = true, .vpeid = 42},         // 4.1 schedule
        {.db = true, .pending_last = false, .vpeid = 0x8001},  // blocking de-schedule
        {.pending_last = true, .dirty = true, .vgrp0en = true, .vpeid = 1},
    };
    for (const Vpendbaser41& v : values) EXPECT_EQ(Vpendbaser41::decode(v.encode()), v);
}

// reference arm §1.3: each 4.1 VPENDBASER field occupies exactly its own bits.
TEST(Vpendbaser41, EachFieldEncodesToItsOwnBits) {
    EXPECT_EQ((Vpendbaser41{.valid = true}.encode()), bit(63));
    EXPECT_EQ((Vpendbaser41{.db = true}.encode()), bit(62));
    EXPECT_EQ((Vpendbaser41{.pending_last = true}.encode()), bit(61));
    EXPECT_EQ((Vpendbaser41{.dirty = true}.encode()), bit(60));
    EXPECT_EQ((Vpendbaser41{.vgrp0en = true}.encode()), bit(59));
    EXPECT_EQ((Vpendbaser41{.vgrp1en = true}.encode()), bit(58));
    EXPECT_EQ((Vpendbaser41{.vpeid = 0xFFFF}.encode()), 0xFFFFu);
}

// reference arm §1.3: 4.1 schedule is a single VPENDBASER write of Valid, vGrp0En, vGrp1En, vPEID.
// Bits 57:16 are reserved: re-encoding reproduces a raw exactly when they are zero.
TEST(Vpendbaser41, ReEncodesRawsWithReservedBitsZeroAndDropsReservedBits) {
    const uint64_t reserved = ~(bit(63) | bit(62) | bit(61) | bit(60) | bit(59) | bit(58) | 0xFFFF);
    for (uint64_t raw : {uint64_t{0}, ~reserved, bit(63) | bit(59) | bit(58) | 0x2A, bit(62) | 0x8001}) {
        EXPECT_EQ(Vpendbaser41::decode(raw).encode(), raw);
        EXPECT_EQ(Vpendbaser41::decode(raw | reserved), Vpendbaser41::decode(raw));
    }
    EXPECT_EQ(Vpendbaser41::decode(~uint64_t{0}).encode(), ~reserved);
}

// ---------------------------------------------------------------------------------------------
// GICR_VPENDBASER, GICv4.0

// reference arm §1.3: GICR_VPENDBASER (4.0) PA of the VPT [51:16], Valid[63], IDAI[62], PendingLast[61],
// Dirty[60]; cacheability/shareability per IHI 0069 (not in reference/).
TEST(Vpendbaser40, RoundTripsEveryField) {
    std::vector<Vpendbaser40> values = {
        {},
        {.valid = true,
         .idai = true,
         .pending_last = true,
         .dirty = true,
         .outer_cache = 7,
         .vpt_addr = 0x000F'FFFF'FFFF'0000,
         .shareability = 3,
         .inner_cache = 7},
        {.valid = true, .pending_last = true, .vpt_addr = 0x8'0001'0000, .shareability = 1, .inner_cache = 7},
        {.idai = true, .dirty = true, .outer_cache = 2, .vpt_addr = 0x1'0000},
    };
    for (const Vpendbaser40& v : values) EXPECT_EQ(Vpendbaser40::decode(v.encode()), v);
}

// reference arm §1.3: each 4.0 VPENDBASER field occupies exactly its own bits.
TEST(Vpendbaser40, EachFieldEncodesToItsOwnBits) {
    EXPECT_EQ((Vpendbaser40{.valid = true}.encode()), bit(63));
    EXPECT_EQ((Vpendbaser40{.idai = true}.encode()), bit(62));
    EXPECT_EQ((Vpendbaser40{.pending_last = true}.encode()), bit(61));
    EXPECT_EQ((Vpendbaser40{.dirty = true}.encode()), bit(60));
    EXPECT_EQ((Vpendbaser40{.vpt_addr = ~uint64_t{0}}.encode()), 0x000F'FFFF'FFFF'0000u);
    EXPECT_EQ((Vpendbaser40{.outer_cache = 7}.encode()), uint64_t{7} << 56);
    EXPECT_EQ((Vpendbaser40{.shareability = 3}.encode()), uint64_t{3} << 10);
    EXPECT_EQ((Vpendbaser40{.inner_cache = 7}.encode()), uint64_t{7} << 7);
}

// reference arm §1.3: the 4.0 VPT address field is PA[51:16]; a VPT address is 64 KiB aligned, so
// bits below 16 and above 51 are not kept.
TEST(Vpendbaser40, VptAddressIsTruncatedTo64KAlignedBits51To16) {
    Vpendbaser40 v{.valid = true, .vpt_addr = 0x00F0'0000'1234'5678};
    Vpendbaser40 back = Vpendbaser40::decode(v.encode());
    EXPECT_EQ(back.vpt_addr, 0x1234'0000u);
    EXPECT_TRUE(back.valid);
}

// Reserved bits of the 4.0 layout (59, 55:52, 15:12, 6:0) are dropped; all others re-encode exactly.
TEST(Vpendbaser40, ReEncodesRawsWithReservedBitsZero) {
    const uint64_t used = bit(63) | bit(62) | bit(61) | bit(60) | (uint64_t{7} << 56) | 0x000F'FFFF'FFFF'0000 |
                          (uint64_t{3} << 10) | (uint64_t{7} << 7);
    for (uint64_t raw : {uint64_t{0}, used, bit(63) | bit(61) | 0x4'0000'0000 | (uint64_t{1} << 10)})
        EXPECT_EQ(Vpendbaser40::decode(raw).encode(), raw);
    EXPECT_EQ(Vpendbaser40::decode(~uint64_t{0}).encode(), used);
}

// reference arm §1.3: bit 62 is IDAI in the 4.0 layout and DB (doorbell request) in the 4.1 layout.
TEST(Vpendbaser, Bit62IsIdaiOn40AndDbOn41) {
    EXPECT_TRUE(Vpendbaser40::decode(bit(62)).idai);
    EXPECT_TRUE(Vpendbaser41::decode(bit(62)).db);
    EXPECT_EQ(Vpendbaser40::decode(bit(62)), (Vpendbaser40{.idai = true}));
    EXPECT_EQ(Vpendbaser41::decode(bit(62)), (Vpendbaser41{.db = true}));
}

// ---------------------------------------------------------------------------------------------
// GICR_VPROPBASER, GICv4.1

// reference arm §1.3: GICR_VPROPBASER (4.1) Valid[63], Entry_Size[61:59], Indirect[55], Page_Size[54:53],
// Z[52], Addr[51:12], Size[6:0].
TEST(Vpropbaser41, RoundTripsEveryField) {
    std::vector<Vpropbaser41> values = {
        {},
        {.valid = true,
         .entry_size = 7,
         .outer_cache = 7,
         .indirect = true,
         .page_size = 3,
         .z = true,
         .addr = 0x000F'FFFF'FFFF'F000,
         .shareability = 3,
         .inner_cache = 7,
         .size = 0x7F},
        {.valid = true,
         .entry_size = 1,
         .page_size = 2,
         .addr = 0x8'1234'0000,
         .shareability = 1,
         .inner_cache = 3,
         .size = 3},
        {.indirect = true, .z = true, .addr = 0x1000},
    };
    for (const Vpropbaser41& v : values) EXPECT_EQ(Vpropbaser41::decode(v.encode()), v);
}

// reference arm §1.3: each 4.1 VPROPBASER field occupies exactly its own bits.
TEST(Vpropbaser41, EachFieldEncodesToItsOwnBits) {
    EXPECT_EQ((Vpropbaser41{.valid = true}.encode()), bit(63));
    EXPECT_EQ((Vpropbaser41{.entry_size = 7}.encode()), uint64_t{7} << 59);
    EXPECT_EQ((Vpropbaser41{.indirect = true}.encode()), bit(55));
    EXPECT_EQ((Vpropbaser41{.page_size = 3}.encode()), uint64_t{3} << 53);
    EXPECT_EQ((Vpropbaser41{.z = true}.encode()), bit(52));
    EXPECT_EQ((Vpropbaser41{.addr = ~uint64_t{0}}.encode()), 0x000F'FFFF'FFFF'F000u);
    EXPECT_EQ((Vpropbaser41{.size = 0x7F}.encode()), 0x7Fu);
}

// reference arm §1.3: Size is 7 bits [6:0], Entry_Size 3 bits [61:59]; wider values are truncated, and
// the truncated bits do not leak into neighbouring fields (InnerCache[9:7], OuterCache[58:56]).
TEST(Vpropbaser41, WideValuesAreTruncatedToTheirFields) {
    Vpropbaser41 v{.entry_size = 0xF, .size = 0xFF};
    EXPECT_EQ(v.encode(), (uint64_t{7} << 59) | 0x7F);
    Vpropbaser41 back = Vpropbaser41::decode(v.encode());
    EXPECT_EQ(back.size, 0x7F);
    EXPECT_EQ(back.entry_size, 7);
    EXPECT_EQ(back.inner_cache, 0);
    EXPECT_FALSE(back.valid);
}

// Bit 62 is reserved in the 4.1 VPROPBASER; every other bit re-encodes exactly.
TEST(Vpropbaser41, ReEncodesRawsWithReservedBitsZero) {
    const uint64_t used = ~bit(62);
    const uint64_t typical = bit(63) | (uint64_t{1} << 59) | (uint64_t{2} << 53) | 0x40'0000'0003;
    for (uint64_t raw : {uint64_t{0}, used, typical}) EXPECT_EQ(Vpropbaser41::decode(raw).encode(), raw);
    EXPECT_EQ(Vpropbaser41::decode(~uint64_t{0}).encode(), used);
}

// ---------------------------------------------------------------------------------------------
// GITS_BASER<n>

// reference arm §1.1: GITS_BASER<n>.Type 1 Device, 2 vPE, 4 Collection; other fields per IHI 0069.
TEST(GitsBaser, RoundTripsEveryField) {
    std::vector<GitsBaser> values = {
        {},
        {.valid = true,
         .type = BaserType::Device,
         .entry_size = 7,
         .phys_addr = 0x8'0000'0000,
         .page_size = GitsBaser::kPage4K,
         .size = 15},
        {.valid = true,
         .indirect = true,
         .inner_cache = 5,
         .type = BaserType::Vpe,
         .outer_cache = 1,
         .entry_size = 31,
         .phys_addr = 0x000F'FFFF'FFFF'0000,
         .shareability = 1,
         .page_size = GitsBaser::kPage64K,
         .size = 255},
        {.valid = true,
         .type = BaserType::Collection,
         .entry_size = 15,
         .phys_addr = 0x1234'C000,
         .page_size = GitsBaser::kPage16K,
         .size = 0},
    };
    for (const GitsBaser& b : values) EXPECT_EQ(GitsBaser::decode(b.encode()), b);
}

// reference arm §1.1: Type[58:56]. IHI 0069 (not in reference/): Valid[63], Indirect[62],
// Entry_Size[52:48], Page_Size[9:8], Size[7:0].
TEST(GitsBaser, EachFieldEncodesToItsOwnBits) {
    EXPECT_EQ((GitsBaser{.valid = true}.encode()), bit(63));
    EXPECT_EQ((GitsBaser{.indirect = true}.encode()), bit(62));
    EXPECT_EQ((GitsBaser{.type = BaserType::Vpe}.encode()), uint64_t{2} << 56);
    EXPECT_EQ((GitsBaser{.type = BaserType::Collection}.encode()), uint64_t{4} << 56);
    EXPECT_EQ((GitsBaser{.entry_size = 31}.encode()), uint64_t{31} << 48);
    EXPECT_EQ((GitsBaser{.page_size = GitsBaser::kPage64K}.encode()), uint64_t{2} << 8);
    EXPECT_EQ((GitsBaser{.size = 255}.encode()), 0xFFu);
    EXPECT_EQ(GitsBaser::decode(uint64_t{1} << 56).type, BaserType::Device);
}

// IHI 0069 (not in reference/): with 64 KiB pages, PhysAddr[15:12] hold PA[51:48]; with smaller pages
// the field is PA[47:12] and higher address bits are not kept.
TEST(GitsBaser, SixtyFourKPagesCarryAddressBits51To48InBits15To12) {
    GitsBaser b{.valid = true, .phys_addr = 0x000A'0001'2345'0000, .page_size = GitsBaser::kPage64K};
    uint64_t raw = b.encode();
    EXPECT_EQ(raw & GitsBaser::PhysAddr.kMask, 0x0000'0001'2345'A000u);
    EXPECT_EQ(GitsBaser::decode(raw).phys_addr, 0x000A'0001'2345'0000u);

    GitsBaser small{.phys_addr = 0x000A'0001'2345'6000, .page_size = GitsBaser::kPage4K};
    EXPECT_EQ(small.encode() & GitsBaser::PhysAddr.kMask, 0x0000'0001'2345'6000u);
    EXPECT_EQ(GitsBaser::decode(small.encode()).phys_addr, 0x0000'0001'2345'6000u);
}

// Every GITS_BASER bit is a field, so every raw value re-encodes exactly, for every page size.
TEST(GitsBaser, ReEncodesEveryRaw) {
    for (uint64_t raw :
         {uint64_t{0}, ~uint64_t{0}, 0x8200'0000'1234'A2FFu, 0xC107'0008'0000'0100u, 0x0000'FFFF'FFFF'F1FFu})
        EXPECT_EQ(GitsBaser::decode(raw).encode(), raw);
}

// IHI 0069 (not in reference/): Entry_Size is bytes - 1, Size is pages - 1.
TEST(GitsBaser, SizesCountFromOne) {
    GitsBaser b{.entry_size = 7, .page_size = GitsBaser::kPage64K, .size = 1};
    EXPECT_EQ(b.entry_bytes(), 8u);
    EXPECT_EQ(b.page_bytes(), 64u * 1024);
    EXPECT_EQ(b.table_bytes(), 128u * 1024);
    EXPECT_EQ((GitsBaser{.page_size = GitsBaser::kPage16K}.table_bytes()), 16u * 1024);
    EXPECT_EQ((GitsBaser{.size = 255}.table_bytes()), 256u * 4096);
}

// Field truncation: Entry_Size is 5 bits, Type 3 bits.
TEST(GitsBaser, WideValuesAreTruncatedToTheirFields) {
    GitsBaser b{.type = static_cast<BaserType>(0xC), .entry_size = 0x21};
    GitsBaser back = GitsBaser::decode(b.encode());
    EXPECT_EQ(back.type, BaserType::Collection);
    EXPECT_EQ(back.entry_size, 1);
    EXPECT_FALSE(back.valid);
}

// ---------------------------------------------------------------------------------------------
// VPT layout

// reference arm §1.4: INTID N at byte N/8, bit N%8; the first 1 KiB (INTIDs 0..8191) is
// IMPLEMENTATION DEFINED.
TEST(VptLayout, IntidMapsToByteAndBit) {
    EXPECT_EQ(vpt_byte_and_bit(0), (PendingBitPos{0, 0}));
    EXPECT_EQ(vpt_byte_and_bit(8191), (PendingBitPos{1023, 7}));
    EXPECT_EQ(vpt_byte_and_bit(kFirstLpiIntid), (PendingBitPos{kVptImpdefBytes, 0}));
    EXPECT_EQ(vpt_byte_and_bit(8203), (PendingBitPos{1025, 3}));
    EXPECT_EQ(vpt_byte_and_bit(0xFFFF'FFFF), (PendingBitPos{0x1FFF'FFFF, 7}));
    EXPECT_EQ(kVptImpdefBytes, 1024u);
    EXPECT_EQ(kFirstLpiIntid, kVptImpdefBytes * 8);
}

}  // namespace
}  // namespace irqdiff::arm
