// Register-field helpers: a field is declared once as Field<Hi, Lo>, written in the spec's [hi:lo]
// order, so each declaration can be checked line by line against the manual's register table
// (STYLE.md "spec-shaped fields"). No C/C++ bit-fields are used for memory layouts.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace irqdiff {

/// A bit field [Hi:Lo] of a 64-bit register or in-memory word.
///
///   struct GitsBaser { static constexpr Field<58, 56> Type{}; };
///   uint64_t type = GitsBaser::Type.get(raw);
///   raw = GitsBaser::Type.set(raw, 4);
template <unsigned Hi, unsigned Lo = Hi>
struct Field {
    static_assert(Hi < 64 && Lo <= Hi, "Field<Hi, Lo> needs 63 >= Hi >= Lo");

    static constexpr unsigned kHi = Hi;
    static constexpr unsigned kLo = Lo;
    static constexpr unsigned kWidth = Hi - Lo + 1;
    /// The field's value mask, not shifted (all ones for a 64-bit field).
    static constexpr uint64_t kValueMask = kWidth == 64 ? ~uint64_t{0} : (uint64_t{1} << kWidth) - 1;
    /// The field's mask in register position.
    static constexpr uint64_t kMask = kValueMask << Lo;

    /// The field's value, shifted down to bit 0.
    static constexpr uint64_t get(uint64_t word) { return (word >> Lo) & kValueMask; }
    /// `word` with the field replaced by `value`; bits of `value` beyond the field's width are
    /// dropped, as a hardware register drops them.
    static constexpr uint64_t set(uint64_t word, uint64_t value) {
        return (word & ~kMask) | ((value & kValueMask) << Lo);
    }
    /// The field's value in register position, other bits zero.
    static constexpr uint64_t make(uint64_t value) { return set(0, value); }
    /// Whether `value` fits in the field without truncation.
    static constexpr bool fits(uint64_t value) { return (value & ~kValueMask) == 0; }
    /// For a field holding an address aligned to 2^Lo (e.g. PhysAddr[51:12]): the address with
    /// its low bits zero, taken in place from the word.
    static constexpr uint64_t get_in_place(uint64_t word) { return word & kMask; }
};

/// A fixed-size bit array, for pending tables and the PIR: one bit per INTID or vector,
/// bit N in byte N/8 at position N%8 (IHI 0069 pending-table indexing; SDM §29.6 for the PIR).
template <size_t Bits>
class BitArray {
   public:
    static constexpr size_t kBits = Bits;
    static constexpr size_t kWords = (Bits + 63) / 64;

    constexpr bool test(size_t n) const { return (words_[n / 64] >> (n % 64)) & 1; }
    constexpr void set(size_t n) { words_[n / 64] |= uint64_t{1} << (n % 64); }
    constexpr void clear(size_t n) { words_[n / 64] &= ~(uint64_t{1} << (n % 64)); }
    constexpr void assign(size_t n, bool v) { v ? set(n) : clear(n); }
    constexpr bool any() const {
        for (uint64_t w : words_)
            if (w) return true;
        return false;
    }
    constexpr size_t count() const {
        size_t c = 0;
        for (uint64_t w : words_) c += static_cast<size_t>(std::popcount(w));
        return c;
    }
    /// The highest set bit, or -1 when empty (x86 RVI = highest PIR/VIRR vector, SDM §29.6).
    constexpr int highest() const {
        for (size_t i = kWords; i-- > 0;)
            if (words_[i]) return static_cast<int>(i * 64 + 63 - std::countl_zero(words_[i]));
        return -1;
    }
    constexpr void reset() { words_.fill(0); }
    constexpr uint64_t word(size_t i) const { return words_[i]; }
    constexpr void set_word(size_t i, uint64_t w) { words_[i] = w; }
    constexpr bool operator==(const BitArray&) const = default;

   private:
    std::array<uint64_t, kWords> words_{};
};

}  // namespace irqdiff
