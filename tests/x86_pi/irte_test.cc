// IRTE remapped and posted formats: field positions, decode/encode round trips, the PDA split.
#include "x86_pi/hw/irte.h"

#include <gtest/gtest.h>

#include <vector>

namespace irqdiff::x86 {
namespace {

constexpr uint64_t bit(unsigned n) { return uint64_t{1} << n; }

// ---------------------------------------------------------------------------------------------
// Posted format

// reference x86 §1.2: posted IRTE P[0] FPD[1] AVAIL[11:8] URG[14] IM[15]=1 VV[23:16] PDAL[63:38]
// SID[79:64] SQ[81:80] SVT[83:82] PDAH[127:96].
TEST(PostedIrte, RoundTripsEveryField) {
    std::vector<PostedIrte> values = {
        {},
        {.present = true,
         .fpd = true,
         .avail = 0xF,
         .urg = true,
         .vv = 0xFF,
         .pda = ~uint64_t{0x3F},
         .sid = 0xFFFF,
         .sq = 3,
         .svt = 3},
        // What Linux writes for a vCPU-posted MSI: URG=0, VV = guest vector (reference x86 §1.2).
        {.present = true, .vv = 0x31, .pda = 0x0000'0001'2345'67C0, .sid = 0x0100, .svt = 1},
        {.present = true, .avail = 5, .vv = 0xEC, .pda = 0xFFFF'FFFF'0000'0040, .sid = 0x00F8, .sq = 2},
    };
    for (const PostedIrte& e : values) {
        IrteWords w = e.encode();
        EXPECT_EQ(PostedIrte::decode(w.low, w.high), e);
    }
}

// reference x86 §1.2: each posted-format field occupies exactly its own bits; IM is always 1.
TEST(PostedIrte, EachFieldEncodesToItsOwnBits) {
    const uint64_t im = bit(15);
    EXPECT_EQ((PostedIrte{}.encode()), (IrteWords{im, 0}));
    EXPECT_EQ((PostedIrte{.present = true}.encode()), (IrteWords{im | bit(0), 0}));
    EXPECT_EQ((PostedIrte{.fpd = true}.encode()), (IrteWords{im | bit(1), 0}));
    EXPECT_EQ((PostedIrte{.avail = 0xF}.encode()), (IrteWords{im | 0xF00, 0}));
    EXPECT_EQ((PostedIrte{.urg = true}.encode()), (IrteWords{im | bit(14), 0}));
    EXPECT_EQ((PostedIrte{.vv = 0xA5}.encode()), (IrteWords{im | 0xA5'0000, 0}));
    EXPECT_EQ((PostedIrte{.sid = 0xBEEF}.encode()), (IrteWords{im, 0xBEEF}));
    EXPECT_EQ((PostedIrte{.sq = 3}.encode()), (IrteWords{im, uint64_t{3} << 16}));
    EXPECT_EQ((PostedIrte{.svt = 3}.encode()), (IrteWords{im, uint64_t{3} << 18}));
}

// reference x86 §1.2: PDAL (bits 63:38) holds PID address bits 31:6 and PDAH (bits 127:96) bits 63:32;
// Linux writes pda_l = (pid_pa >> 6) masked to 26 bits, pda_h = pid_pa >> 32.
TEST(PostedIrte, PdaSplitReassemblesTheDescriptorAddress) {
    const uint64_t pda = 0x0000'0012'8765'43C0;  // 64-byte aligned
    IrteWords w = PostedIrte{.pda = pda}.encode();
    EXPECT_EQ(PostedIrte::Low::PDAL.get(w.low), (pda >> 6) & 0x3FF'FFFF);
    EXPECT_EQ(w.low >> 38, (pda & 0xFFFF'FFFF) >> 6);
    EXPECT_EQ(PostedIrte::High::PDAH.get(w.high), pda >> 32);
    EXPECT_EQ(w.high >> 32, 0x12u);
    EXPECT_EQ((PostedIrte::Low::PDAL.get(w.low) << 6) | (PostedIrte::High::PDAH.get(w.high) << 32), pda);
    EXPECT_EQ(PostedIrte::decode(w.low, w.high).pda, pda);

    // The full 64-bit address space is representable.
    const uint64_t top = 0xFFFF'FFFF'FFFF'FFC0;
    IrteWords t = PostedIrte{.pda = top}.encode();
    EXPECT_EQ(PostedIrte::decode(t.low, t.high).pda, top);
}

// reference x86 §1.1/§1.2: the descriptor is 64-byte aligned, so PDA bits 5:0 are not stored.
TEST(PostedIrte, PdaLowSixBitsAreNotStored) {
    IrteWords w = PostedIrte{.pda = 0x1234'567F}.encode();
    EXPECT_EQ(PostedIrte::decode(w.low, w.high).pda, 0x1234'5640u);
    EXPECT_EQ(w.low & 0x3F'FF00'0000u, 0u);  // nothing spilled into reserved bits 37:24
}

// reference x86 §1.2: reserved posted bits (7:2, 13:12, 37:24, 95:84) are dropped on decode; raws with
// them clear re-encode exactly.
TEST(PostedIrte, ReEncodesRawsWithReservedBitsZero) {
    const uint64_t low_used = bit(0) | bit(1) | 0xF00 | bit(14) | bit(15) | 0xFF'0000 | (~uint64_t{0} << 38);
    const uint64_t high_used = 0xF'FFFF | (uint64_t{0xFFFF'FFFF} << 32);
    const IrteWords typical{bit(15) | bit(0) | 0x31'0000 | (uint64_t{0x08D'159E} << 38), 0x1'0005'0100};
    for (IrteWords raw : {IrteWords{bit(15), 0}, IrteWords{low_used, high_used}, typical}) {
        EXPECT_EQ(PostedIrte::decode(raw.low, raw.high).encode(), raw);
    }
    EXPECT_EQ(PostedIrte::decode(~uint64_t{0}, ~uint64_t{0}).encode(), (IrteWords{low_used, high_used}));
}

// Field truncation: AVAIL is 4 bits, SQ and SVT 2 bits each.
TEST(PostedIrte, WideValuesAreTruncatedToTheirFields) {
    IrteWords w = PostedIrte{.avail = 0x1F, .sq = 7, .svt = 6}.encode();
    PostedIrte back = PostedIrte::decode(w.low, w.high);
    EXPECT_EQ(back.avail, 0xF);
    EXPECT_EQ(back.sq, 3);
    EXPECT_EQ(back.svt, 2);
    EXPECT_FALSE(back.urg);  // AVAIL's extra bit did not spill into bits 12..14
    // SQ's extra bit did not spill into SVT, nor SVT's into reserved bit 84.
    EXPECT_EQ(w.high, (uint64_t{3} << 16) | (uint64_t{2} << 18));
}

// ---------------------------------------------------------------------------------------------
// Remapped format

// reference x86 §1.2 (VT-d §9.9): remapped IRTE DM bit2, RH bit3, TM bit4, DLM 7:5, vector 23:16,
// destination ID 63:32; P, FPD, AVAIL, SID, SQ, SVT shared with the posted format.
TEST(RemappedIrte, RoundTripsEveryField) {
    std::vector<RemappedIrte> values = {
        {},
        {.present = true,
         .fpd = true,
         .dm = true,
         .rh = true,
         .tm = true,
         .dlm = 7,
         .avail = 0xF,
         .vector = 0xFF,
         .dst = 0xFFFF'FFFF,
         .sid = 0xFFFF,
         .sq = 3,
         .svt = 3},
        {.present = true, .vector = 0x31, .dst = 0x0000'0300, .sid = 0x0100, .svt = 1},  // xAPIC-style DST
        {.present = true, .dm = true, .dlm = 1, .vector = 0x41, .dst = 0x0001'0002, .sq = 1},
    };
    for (const RemappedIrte& e : values) {
        IrteWords w = e.encode();
        EXPECT_EQ(RemappedIrte::decode(w.low, w.high), e);
    }
}

// reference x86 §1.2: each remapped-format field occupies exactly its own bits; IM is always 0.
TEST(RemappedIrte, EachFieldEncodesToItsOwnBits) {
    EXPECT_EQ((RemappedIrte{}.encode()), (IrteWords{0, 0}));
    EXPECT_EQ((RemappedIrte{.present = true}.encode()), (IrteWords{bit(0), 0}));
    EXPECT_EQ((RemappedIrte{.fpd = true}.encode()), (IrteWords{bit(1), 0}));
    EXPECT_EQ((RemappedIrte{.dm = true}.encode()), (IrteWords{bit(2), 0}));
    EXPECT_EQ((RemappedIrte{.rh = true}.encode()), (IrteWords{bit(3), 0}));
    EXPECT_EQ((RemappedIrte{.tm = true}.encode()), (IrteWords{bit(4), 0}));
    EXPECT_EQ((RemappedIrte{.dlm = 7}.encode()), (IrteWords{0xE0, 0}));
    EXPECT_EQ((RemappedIrte{.avail = 0xF}.encode()), (IrteWords{0xF00, 0}));
    EXPECT_EQ((RemappedIrte{.vector = 0xA5}.encode()), (IrteWords{0xA5'0000, 0}));
    EXPECT_EQ((RemappedIrte{.dst = 0x8765'4321}.encode()), (IrteWords{0x8765'4321'0000'0000, 0}));
    EXPECT_EQ((RemappedIrte{.sid = 0xBEEF, .sq = 1, .svt = 2}.encode()),
              (IrteWords{0, 0xBEEF | (1 << 16) | (2 << 18)}));
}

// The reference names nothing in remapped bits 14:12, 31:24 and 127:84, so the model treats them as
// reserved: dropped on decode; raws with them clear re-encode exactly.
TEST(RemappedIrte, ReEncodesRawsWithReservedBitsZero) {
    const uint64_t low_used = 0xFFFF'FFFF'00FF'0FFF;  // P..AVAIL, Vector, DST (IM=0)
    const uint64_t high_used = 0xF'FFFF;
    const IrteWords typical{0x0000'0300'0031'0001, 0x4'0100};
    for (IrteWords raw : {IrteWords{0, 0}, IrteWords{low_used, high_used}, typical})
        EXPECT_EQ(RemappedIrte::decode(raw.low, raw.high).encode(), raw);
    EXPECT_EQ(RemappedIrte::decode(~bit(15), ~uint64_t{0}).encode(), (IrteWords{low_used, high_used}));
}

// Field truncation: DLM is 3 bits, AVAIL 4 bits.
TEST(RemappedIrte, WideValuesAreTruncatedToTheirFields) {
    IrteWords w = RemappedIrte{.dlm = 9, .avail = 0x12}.encode();
    RemappedIrte back = RemappedIrte::decode(w.low, w.high);
    EXPECT_EQ(back.dlm, 1);
    EXPECT_EQ(back.avail, 2);
    EXPECT_FALSE(is_posted(w.low));  // AVAIL's bit 4 did not reach IM
    EXPECT_EQ(w.low, (uint64_t{1} << 5) | (uint64_t{2} << 8));
}

// ---------------------------------------------------------------------------------------------
// Both formats

// reference x86 §1.2: IM (bit 15) selects the format: 1 posted, 0 remapped.
TEST(Irte, ImBitSelectsTheFormat) {
    EXPECT_TRUE(is_posted(PostedIrte{.present = true, .vv = 0x20}.encode().low));
    EXPECT_FALSE(is_posted(RemappedIrte{.present = true, .vector = 0x20}.encode().low));
    EXPECT_TRUE(is_posted(bit(15)));
    EXPECT_FALSE(is_posted(~bit(15)));
}

// reference x86 §1.2: Linux converts a remapped entry to posted by copying the shared fields (P, FPD,
// AVAIL, vector slot, SID, SQ, SVT); they decode identically from either format.
TEST(Irte, SharedFieldsSitAtTheSameBitsInBothFormats) {
    RemappedIrte r{.present = true, .fpd = true, .avail = 0x9, .vector = 0x66, .sid = 0x1234, .sq = 2, .svt = 1};
    IrteWords w = r.encode();
    PostedIrte p = PostedIrte::decode(w.low | bit(15), w.high);
    EXPECT_TRUE(p.present);
    EXPECT_TRUE(p.fpd);
    EXPECT_EQ(p.avail, 0x9);
    EXPECT_EQ(p.vv, 0x66);
    EXPECT_EQ(p.sid, 0x1234);
    EXPECT_EQ(p.sq, 2);
    EXPECT_EQ(p.svt, 1);
}

}  // namespace
}  // namespace irqdiff::x86
