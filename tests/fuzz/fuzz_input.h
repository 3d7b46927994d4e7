// A fuzz input read as a stream of little-endian integers (docs/fuzzing.md). Reads past the end
// give zeros, so every target consumes its input front to back and stops when it is exhausted:
// the number of operations a target performs is bounded by the input's size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace irqdiff::fuzz {

class FuzzInput {
   public:
    FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    bool empty() const { return pos_ >= size_; }
    size_t remaining() const { return empty() ? 0 : size_ - pos_; }

    uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
    uint16_t u16() { return static_cast<uint16_t>(read(2)); }
    uint32_t u32() { return static_cast<uint32_t>(read(4)); }
    uint64_t u64() { return read(8); }
    bool flag() { return (u8() & 1) != 0; }
    /// A value in [0, n) (n > 0), from one byte when n <= 256.
    unsigned below(unsigned n) { return n <= 256 ? u8() % n : u32() % n; }
    /// The next `n` bytes, or fewer at the end.
    std::span<const uint8_t> bytes(size_t n) {
        const size_t take = n < remaining() ? n : remaining();
        std::span<const uint8_t> out(data_ + pos_, take);
        pos_ += take;
        return out;
    }

   private:
    uint64_t read(unsigned n) {
        uint64_t v = 0;
        for (unsigned i = 0; i < n; ++i) v |= uint64_t{u8()} << (8 * i);
        return v;
    }
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
};

}  // namespace irqdiff::fuzz
