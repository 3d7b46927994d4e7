// Sparse physical memory: the host's physical address space (ITS tables, VPTs, PI descriptors)
// and the guest's (guest RAM: the guest's LPI pending tables, KVM's ITS tables, the guest's code).
// Little-endian 8/16/32/64-bit accesses, bounds-checked against the space's size. An access
// outside the space is not an exception but a MemFault the caller turns into a guest-visible
// outcome (a guest-programmed table address can never crash the emulator).
//
// Pages are 4 KiB and copy-on-write: copying an AddressSpace is a cheap snapshot that shares every
// page until one side writes it (the explorer branches schedules this way).
//
// A space can instead be a view of memory someone else owns (back_with): machine mode's guest RAM
// is one buffer that Unicorn executes from and the KVM model reads its ITS tables and LPI pending
// tables from (docs/machine.md "Guest memory"). Such a view is the only memory of its space
// (an access outside it is OutOfRange, as kvm_read_guest fails outside every memslot) and cannot
// be copied (machine mode saves RAM through its migration stream, not by snapshots).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>

namespace irqdiff {

enum class MemFault : uint8_t {
    None,
    OutOfRange,  // some byte of the access lies at or beyond the space's size
};

const char* to_string(MemFault fault);

template <class T>
struct MemRead {
    T value = 0;
    MemFault fault = MemFault::None;
    bool ok() const { return fault == MemFault::None; }
};

/// Counters of successful accesses, for the save/restore asymmetry metrics.
struct AccessStats {
    uint64_t reads = 0;
    uint64_t writes = 0;
    uint64_t bytes_read = 0;
    uint64_t bytes_written = 0;
    bool operator==(const AccessStats&) const = default;
    AccessStats& operator+=(const AccessStats& o) {
        reads += o.reads;
        writes += o.writes;
        bytes_read += o.bytes_read;
        bytes_written += o.bytes_written;
        return *this;
    }
};

class AddressSpace {
   public:
    static constexpr unsigned kPageBits = 12;
    static constexpr uint64_t kPageSize = uint64_t{1} << kPageBits;

    /// An empty space of `size` bytes (addresses 0 .. size-1) named `name` ("host", "guest").
    AddressSpace(std::string name, uint64_t size);
    // A copy shares every page with the original; both forget the pages they cached as
    // exclusively theirs, so the next write to a shared page copies it.
    AddressSpace(const AddressSpace& other);
    AddressSpace& operator=(const AddressSpace& other);

    const std::string& name() const { return name_; }
    uint64_t size() const { return size_; }
    /// Whether [addr, addr+len) lies inside the space.
    bool contains(uint64_t addr, uint64_t len) const { return len <= size_ && addr <= size_ - len; }

    MemRead<uint8_t> read8(uint64_t addr) const { return read_le<uint8_t>(addr); }
    MemRead<uint16_t> read16(uint64_t addr) const { return read_le<uint16_t>(addr); }
    MemRead<uint32_t> read32(uint64_t addr) const { return read_le<uint32_t>(addr); }
    MemRead<uint64_t> read64(uint64_t addr) const { return read_le<uint64_t>(addr); }
    MemFault write8(uint64_t addr, uint8_t v) { return write_le(addr, v); }
    MemFault write16(uint64_t addr, uint16_t v) { return write_le(addr, v); }
    MemFault write32(uint64_t addr, uint32_t v) { return write_le(addr, v); }
    MemFault write64(uint64_t addr, uint64_t v) { return write_le(addr, v); }

    /// Reads or writes a byte range; nothing is transferred when any byte is out of range.
    MemFault read_bytes(uint64_t addr, std::span<uint8_t> out) const;
    MemFault write_bytes(uint64_t addr, std::span<const uint8_t> in);

    /// Makes [base, base+length) of this space a view of `bytes` (owned by the caller, which keeps
    /// it alive and in place as long as the space is used) and every other address OutOfRange.
    /// `base` and `length` must be page-aligned and the space empty; a std::logic_error otherwise.
    void back_with(uint64_t base, uint8_t* bytes, uint64_t length);
    bool backed() const { return external_ != nullptr; }

    /// Pages that hold data (never-written pages read as zero and take no memory; a view's pages
    /// are its owner's and not counted).
    size_t pages_allocated() const { return pages_.size(); }
    const AccessStats& stats() const { return stats_; }
    void reset_stats() { stats_ = {}; }

   private:
    using Page = std::array<uint8_t, kPageSize>;

    // Accesses within one page of the last page read (or written) take an inline fast path; the
    // rest go through read_bytes / write_bytes. Both count the same statistics.
    static constexpr bool kFastPath = std::endian::native == std::endian::little;

    template <class T>
    MemRead<T> read_le(uint64_t addr) const {
        if constexpr (kFastPath) {
            uint64_t offset = addr & (kPageSize - 1);
            const uint64_t number = addr >> kPageBits;
            const unsigned slot = cache_slot(number);
            if (number == cached_number_[slot] && offset + sizeof(T) <= kPageSize && addr < size_) {
                T v;
                std::memcpy(&v, cached_page_[slot] + offset, sizeof(T));
                ++stats_.reads;
                stats_.bytes_read += sizeof(T);
                return {v, MemFault::None};
            }
        }
        uint8_t bytes[sizeof(T)];
        MemFault f = read_bytes(addr, bytes);
        if (f != MemFault::None) return {0, f};
        T v = 0;
        for (size_t i = sizeof(T); i-- > 0;) v = static_cast<T>((v << 8) | bytes[i]);
        return {v, MemFault::None};
    }
    template <class T>
    MemFault write_le(uint64_t addr, T v) {
        if constexpr (kFastPath) {
            uint64_t offset = addr & (kPageSize - 1);
            const uint64_t number = addr >> kPageBits;
            const unsigned slot = cache_slot(number);
            if (number == owned_number_[slot] && offset + sizeof(T) <= kPageSize && addr < size_) {
                std::memcpy(owned_page_[slot] + offset, &v, sizeof(T));
                ++stats_.writes;
                stats_.bytes_written += sizeof(T);
                return MemFault::None;
            }
        }
        uint8_t bytes[sizeof(T)];
        for (size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<uint8_t>(v >> (8 * i));
        return write_bytes(addr, bytes);
    }
    /// The bytes of the page `page_number` for reading, or nullptr if never written. The last page
    /// found is remembered (table walks and VPT scans stay within a page).
    const uint8_t* find_page(uint64_t page_number) const;
    /// The bytes of the page `page_number`, unshared and allocated, for writing.
    uint8_t* writable_page(uint64_t page_number);
    /// A view's page (back_with), or nullptr outside the view.
    uint8_t* external_page(uint64_t page_number) const {
        return page_number - external_first_ < external_pages_ ? external_ + ((page_number - external_first_) << kPageBits)
                                                               : nullptr;
    }

    std::string name_;
    uint64_t size_;
    std::map<uint64_t, std::shared_ptr<Page>> pages_;
    // Direct-mapped caches of page pointers (page n in slot cache_slot(n)): pages found by
    // find_page (pages are never freed while held), and pages writable_page made this space's
    // alone (not shared with a copy). An accessor that alternates between a few pages (a PID, a
    // virtual-APIC page, the IRT) stays on the fast path.
    static constexpr unsigned kCacheSlots = 16;
    /// Fibonacci hashing, so the pages of regularly spaced tables do not share a slot.
    static constexpr unsigned cache_slot(uint64_t page_number) {
        return static_cast<unsigned>((page_number * 0x9E37'79B9'7F4A'7C15ull) >> 60);
    }
    void forget_cached() const;
    void forget_owned() const;
    mutable std::array<uint64_t, kCacheSlots> cached_number_ = empty_slots();
    mutable std::array<const uint8_t*, kCacheSlots> cached_page_{};
    mutable std::array<uint64_t, kCacheSlots> owned_number_ = empty_slots();
    mutable std::array<uint8_t*, kCacheSlots> owned_page_{};
    static constexpr std::array<uint64_t, kCacheSlots> empty_slots() {
        std::array<uint64_t, kCacheSlots> a{};
        a.fill(~uint64_t{0});
        return a;
    }
    mutable AccessStats stats_;
    uint8_t* external_ = nullptr;  // back_with's view
    uint64_t external_first_ = 0, external_pages_ = 0;
};

/// The two physical address spaces of one machine.
struct Memory {
    /// Host physical addresses are 52 bits wide (GICv3 table addresses are [51:12], IHI 0069;
    /// VT-d PDA is [63:6] but real hosts implement at most 52 bits).
    static constexpr uint64_t kHostSize = uint64_t{1} << 52;
    /// Default guest RAM + MMIO window: 4 GiB, so the xAPIC page at 0xFEE00000 is inside.
    static constexpr uint64_t kGuestSize = uint64_t{1} << 32;

    AddressSpace host{"host", kHostSize};
    AddressSpace guest{"guest", kGuestSize};
};

}  // namespace irqdiff
