#include "core/memory.h"

#include <gtest/gtest.h>

#include <array>
#include <stdexcept>
#include <vector>

namespace irqdiff {
namespace {

TEST(AddressSpace, UnwrittenMemoryReadsZeroAndAllocatesNothing) {
    AddressSpace s("guest", uint64_t{1} << 32);
    auto r = s.read64(0x8000'0000);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value, 0u);
    EXPECT_EQ(s.pages_allocated(), 0u);
}

TEST(AddressSpace, AccessesAreLittleEndianAtEverySize) {
    AddressSpace s("host", 1 << 20);
    ASSERT_EQ(s.write64(0x100, 0x0807'0605'0403'0201), MemFault::None);
    EXPECT_EQ(s.read8(0x100).value, 0x01u);
    EXPECT_EQ(s.read8(0x107).value, 0x08u);
    EXPECT_EQ(s.read16(0x102).value, 0x0403u);
    EXPECT_EQ(s.read32(0x104).value, 0x0807'0605u);
    ASSERT_EQ(s.write16(0x101, 0xBBAA), MemFault::None);
    EXPECT_EQ(s.read64(0x100).value, 0x0807'0605'04BB'AA01u);
    ASSERT_EQ(s.write32(0x200, 0xDDCC'BBAA), MemFault::None);
    EXPECT_EQ(s.read8(0x203).value, 0xDDu);
}

TEST(AddressSpace, AccessCrossingAPageBoundaryIsWhole) {
    AddressSpace s("host", 1 << 20);
    ASSERT_EQ(s.write64(0xFFC, 0x1122'3344'5566'7788), MemFault::None);
    EXPECT_EQ(s.pages_allocated(), 2u);
    EXPECT_EQ(s.read64(0xFFC).value, 0x1122'3344'5566'7788u);
    EXPECT_EQ(s.read32(0x1000).value, 0x1122'3344u);
}

// A guest-programmed address past the end is a fault the caller reports, never a crash.
TEST(AddressSpace, OutOfRangeAccessFaultsAndTransfersNothing) {
    AddressSpace s("guest", 0x2000);
    EXPECT_EQ(s.write64(0x1FF8, 1), MemFault::None);
    EXPECT_EQ(s.write64(0x1FF9, 1), MemFault::OutOfRange);
    EXPECT_EQ(s.read8(0x1FF9).value, 0u);  // the faulting write left nothing behind
    EXPECT_EQ(s.read32(0x2000).fault, MemFault::OutOfRange);
    EXPECT_EQ(s.read64(~uint64_t{0} - 3).fault, MemFault::OutOfRange);  // no wrap-around
    std::array<uint8_t, 16> buf{};
    EXPECT_EQ(s.read_bytes(0x1FF8, buf), MemFault::OutOfRange);
    EXPECT_STREQ(to_string(MemFault::OutOfRange), "out-of-range");
}

TEST(AddressSpace, CopyIsASnapshotThatSharesPagesUntilWritten) {
    AddressSpace a("host", 1 << 20);
    a.write32(0x10, 0xAAAA'AAAA);
    AddressSpace snapshot = a;
    a.write32(0x10, 0xBBBB'BBBB);
    snapshot.write32(0x2000, 7);
    EXPECT_EQ(a.read32(0x10).value, 0xBBBB'BBBBu);
    EXPECT_EQ(snapshot.read32(0x10).value, 0xAAAA'AAAAu);
    EXPECT_EQ(a.read32(0x2000).value, 0u);
    EXPECT_EQ(snapshot.read32(0x2000).value, 7u);
}

// The remembered last page must never show another space's or a stale copy's data.
TEST(AddressSpace, ReadCacheFollowsCopyOnWriteInBothDirections) {
    AddressSpace a("host", 1 << 20);
    a.write32(0x10, 1);
    EXPECT_EQ(a.read32(0x10).value, 1u);  // a remembers the page
    AddressSpace b = a;                   // b inherits the remembered page
    EXPECT_EQ(b.read32(0x10).value, 1u);
    b.write32(0x10, 2);  // b copies the page and forgets the shared one
    EXPECT_EQ(b.read32(0x10).value, 2u);
    EXPECT_EQ(a.read32(0x10).value, 1u);
    a.write32(0x10, 3);  // a is the page's only owner again: written in place
    EXPECT_EQ(a.read32(0x10).value, 3u);
    EXPECT_EQ(b.read32(0x10).value, 2u);
    b = a;  // restore b from a
    EXPECT_EQ(b.read32(0x10).value, 3u);
    a.write32(0x10, 4);
    EXPECT_EQ(b.read32(0x10).value, 3u);
    EXPECT_EQ(a.read32(0x10).value, 4u);
    EXPECT_EQ(a.read32(0x5000).value, 0u);  // an unwritten page is not remembered as present
    a.write32(0x5000, 9);
    EXPECT_EQ(a.read32(0x5000).value, 9u);
}

TEST(AddressSpace, StatsCountSuccessfulAccessesOnly) {
    AddressSpace s("guest", 0x1000);
    s.write64(0, 1);
    s.read16(0);
    s.read32(0xFFE);  // faults
    EXPECT_EQ(s.stats(), (AccessStats{1, 1, 2, 8}));
    s.reset_stats();
    EXPECT_EQ(s.stats(), AccessStats{});
}

TEST(Memory, HostAndGuestAreSeparateSpaces) {
    Memory m;
    m.host.write64(0x1000, 42);
    EXPECT_EQ(m.guest.read64(0x1000).value, 0u);
    EXPECT_TRUE(m.guest.contains(0xFEE0'00B0, 4));  // the xAPIC EOI register is inside guest space
    EXPECT_EQ(m.host.name(), "host");
    EXPECT_EQ(m.guest.name(), "guest");
}


// Machine mode's guest RAM (docs/machine.md "Guest memory"): the KVM model reads and writes the
// buffer Unicorn runs from, and nothing outside it exists (kvm_read_guest fails outside memslots).
TEST(AddressSpaceView, ReadsAndWritesTheOwnersBufferAndNothingOutsideIt) {
    std::vector<uint8_t> ram(4 * AddressSpace::kPageSize, 0);
    AddressSpace s("guest", uint64_t{1} << 32);
    s.back_with(0x4000'0000, ram.data(), ram.size());
    EXPECT_TRUE(s.backed());
    ram[0x10] = 0xAB;
    EXPECT_EQ(s.read8(0x4000'0010).value, 0xAB);
    EXPECT_EQ(s.write32(0x4000'1FFE, 0x11223344), MemFault::None);  // across a page boundary
    EXPECT_EQ(ram[0x1FFE], 0x44);
    EXPECT_EQ(ram[0x2001], 0x11);
    EXPECT_EQ(s.write64(0x4000'3000, 0x0102030405060708ull), MemFault::None);
    EXPECT_EQ(ram[0x3000], 0x08);
    ram[0x3000] = 0x99;  // the owner's writes are seen through the cached page
    EXPECT_EQ(s.read8(0x4000'3000).value, 0x99);
    EXPECT_EQ(s.read32(0x3FFF'FFFC).fault, MemFault::OutOfRange);
    EXPECT_EQ(s.read32(0x4000'3FFE).fault, MemFault::OutOfRange);  // straddles the end
    EXPECT_EQ(s.write8(0x4000'4000, 1), MemFault::OutOfRange);
    EXPECT_EQ(s.pages_allocated(), 0u);
    EXPECT_THROW(AddressSpace copy(s), std::logic_error);
    EXPECT_THROW(s.back_with(0x4000'0000, ram.data(), ram.size()), std::logic_error);
    AddressSpace t("t", 1 << 20);
    EXPECT_THROW(t.back_with(0x800, ram.data(), ram.size()), std::logic_error);  // not page-aligned
}

}  // namespace
}  // namespace irqdiff
