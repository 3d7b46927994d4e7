#include "core/bits.h"

#include <gtest/gtest.h>

namespace irqdiff {
namespace {

// A field declared [hi:lo] reads and writes exactly those bits.
TEST(Field, GetReadsOnlyItsBits) {
    using Type = Field<58, 56>;  // GITS_BASER<n>.Type, IHI 0069
    EXPECT_EQ(Type::get(uint64_t{4} << 56), 4u);
    EXPECT_EQ(Type::get(~uint64_t{0}), 7u);
    EXPECT_EQ(Type::get(~Type::kMask), 0u);
    EXPECT_EQ(Type::kWidth, 3u);
    EXPECT_EQ(Type::kMask, uint64_t{7} << 56);
}

TEST(Field, SetReplacesOnlyItsBitsAndTruncatesWideValues) {
    using F = Field<15, 8>;
    EXPECT_EQ(F::set(0xFFFF'FFFF, 0x12), 0xFFFF'12FFu);
    EXPECT_EQ(F::set(0, 0x1AB), 0xAB00u);  // bit 8 of the value is dropped, as a register drops it
    EXPECT_FALSE(F::fits(0x1AB));
    EXPECT_TRUE(F::fits(0xAB));
    EXPECT_EQ(F::make(0x34), 0x3400u);
}

TEST(Field, SingleBitAndFullWidthFields) {
    using Valid = Field<63>;
    using All = Field<63, 0>;
    EXPECT_EQ(Valid::make(1), uint64_t{1} << 63);
    EXPECT_EQ(Valid::get(Valid::make(1)), 1u);
    EXPECT_EQ(All::kValueMask, ~uint64_t{0});
    EXPECT_EQ(All::set(0x1234, 0xDEAD'BEEF'0000'0001), 0xDEAD'BEEF'0000'0001u);
}

// Address fields such as PhysAddr[51:12] are read in place, keeping the low bits zero.
TEST(Field, GetInPlaceKeepsAlignment) {
    using PhysAddr = Field<51, 12>;
    uint64_t word = 0x000F'FFFF'FFFF'F000 | 0xFFF | (uint64_t{1} << 63);
    EXPECT_EQ(PhysAddr::get_in_place(word), 0x000F'FFFF'FFFF'F000u);
    EXPECT_EQ(PhysAddr::get(word), 0xFF'FFFF'FFFFu);
}

// Pending tables: bit N lives at byte N/8, bit N%8 (IHI 0069 LPI pending table; reference/arm §1.4).
TEST(BitArray, SetClearTestCountAndHighest) {
    BitArray<256> pir;  // the PIR, SDM §29.6
    EXPECT_FALSE(pir.any());
    EXPECT_EQ(pir.highest(), -1);
    pir.set(0x21);
    pir.set(0xEC);
    pir.set(64);
    EXPECT_TRUE(pir.test(0x21));
    EXPECT_FALSE(pir.test(0x22));
    EXPECT_EQ(pir.count(), 3u);
    EXPECT_EQ(pir.highest(), 0xEC);
    pir.clear(0xEC);
    EXPECT_EQ(pir.highest(), 64);
    EXPECT_EQ(pir.word(1), 1u);
    pir.assign(64, false);
    EXPECT_EQ(pir.highest(), 0x21);
    BitArray<256> other;
    other.set(0x21);
    EXPECT_EQ(pir, other);
    pir.reset();
    EXPECT_FALSE(pir.any());
}

}  // namespace
}  // namespace irqdiff
