// Little-endian binary encoding for migration streams that leave the process (machine mode's
// `--stream FILE`, docs/machine_stream.md). The reader names the byte offset and the field of
// every problem — a short stream, a bad tag, a value out of range — as an InputError at the
// stream's place ("--restore"), so a corrupt or foreign file is refused, never trusted.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "core/errors.h"

namespace irqdiff {

class ByteWriter {
   public:
    void u8(uint8_t v) { bytes_.push_back(v); }
    void u32(uint32_t v) { put(v); }
    void u64(uint64_t v) { put(v); }
    void boolean(bool v) { u8(v ? 1 : 0); }
    void bytes(std::span<const uint8_t> b) {
        u64(b.size());
        bytes_.insert(bytes_.end(), b.begin(), b.end());
    }
    void str(const std::string& s) { bytes(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size())); }
    /// A section: a 4-character tag and the length of what follows (patched by end_section).
    size_t begin_section(const char (&tag)[5]) {
        bytes_.insert(bytes_.end(), tag, tag + 4);
        const size_t at = bytes_.size();
        u64(0);
        return at;
    }
    void end_section(size_t at) {
        const uint64_t len = bytes_.size() - at - 8;
        std::memcpy(bytes_.data() + at, &len, 8);
    }
    const std::vector<uint8_t>& data() const { return bytes_; }
    std::vector<uint8_t> take() { return std::move(bytes_); }

   private:
    template <class T>
    void put(T v) {
        for (size_t i = 0; i < sizeof(T); ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
    std::vector<uint8_t> bytes_;
};

class ByteReader {
   public:
    ByteReader(std::span<const uint8_t> bytes, std::string place) : b_(bytes), place_(std::move(place)) {}

    uint8_t u8(const char* field) { return static_cast<uint8_t>(get(field, 1)); }
    uint32_t u32(const char* field) { return static_cast<uint32_t>(get(field, 4)); }
    uint64_t u64(const char* field) { return get(field, 8); }
    bool boolean(const char* field) {
        const size_t at = pos_;
        const uint8_t v = u8(field);
        if (v > 1) fail(at, field, fmt::format("{} is not a boolean (0 or 1)", v));
        return v == 1;
    }
    /// A u32 that must lie in [lo, hi].
    uint32_t u32_in(const char* field, uint32_t lo, uint32_t hi) {
        const size_t at = pos_;
        const uint32_t v = u32(field);
        if (v < lo || v > hi) fail(at, field, fmt::format("{} is outside {}..{}", v, lo, hi));
        return v;
    }
    std::vector<uint8_t> bytes(const char* field, uint64_t max) {
        const size_t at = pos_;
        const uint64_t n = u64(field);
        if (n > max) fail(at, field, fmt::format("a length of {} bytes (at most {})", n, max));
        need(field, n);
        std::vector<uint8_t> out(b_.begin() + static_cast<std::ptrdiff_t>(pos_),
                                 b_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
        pos_ += n;
        return out;
    }
    std::string str(const char* field, uint64_t max) {
        std::vector<uint8_t> v = bytes(field, max);
        return std::string(v.begin(), v.end());
    }
    /// A section with the tag `tag`: returns a reader over its body and skips past it.
    ByteReader section(const char (&tag)[5]) {
        const size_t at = pos_;
        need(tag, 12);
        if (std::memcmp(b_.data() + pos_, tag, 4) != 0)
            fail(at, tag, fmt::format("expected the section '{}', found '{}'", tag, printable(at, 4)));
        pos_ += 4;
        const uint64_t len = u64("section length");
        need(tag, len);
        ByteReader r(b_.subspan(pos_, len), place_);
        r.base_ = base_ + pos_;
        pos_ += len;
        return r;
    }
    /// The body must be consumed exactly (a longer section is from another format version).
    void finish(const char* what) {
        if (pos_ != b_.size())
            fail(pos_, what, fmt::format("{} bytes left over at the end of {}", b_.size() - pos_, what));
    }
    /// Where the next read starts: within this reader (pos, what fail takes) and in the stream.
    size_t pos() const { return pos_; }
    size_t offset() const { return base_ + pos_; }
    /// An InputError at `at` (a pos() of this reader), reported as its offset in the stream.
    [[noreturn]] void fail(size_t at, const char* field, const std::string& why) const {
        throw InputError(place_, fmt::format("offset {} ({:#x}), field {}: {}", base_ + at, base_ + at, field, why));
    }

   private:
    void need(const char* field, uint64_t n) const {
        if (n > b_.size() - pos_)
            fail(pos_, field, fmt::format("the stream ends: {} bytes needed, {} left", n, b_.size() - pos_));
    }
    uint64_t get(const char* field, unsigned n) {
        need(field, n);
        uint64_t v = 0;
        for (unsigned i = 0; i < n; ++i) v |= uint64_t{b_[pos_ + i]} << (8 * i);
        pos_ += n;
        return v;
    }
    std::string printable(size_t at, size_t n) const {
        std::string s;
        for (size_t i = at; i < at + n && i < b_.size(); ++i)
            s += (b_[i] >= 0x20 && b_[i] < 0x7F) ? static_cast<char>(b_[i]) : '?';
        return s;
    }
    std::span<const uint8_t> b_;
    std::string place_;
    size_t pos_ = 0;
    size_t base_ = 0;
};

}  // namespace irqdiff
