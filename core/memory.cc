#include "core/memory.h"

#include <algorithm>
#include <cstring>

namespace irqdiff {

const char* to_string(MemFault fault) {
    switch (fault) {
        case MemFault::None: return "none";
        case MemFault::OutOfRange: return "out-of-range";
    }
    return "?";
}

AddressSpace::AddressSpace(std::string name, uint64_t size) : name_(std::move(name)), size_(size) {}

AddressSpace::AddressSpace(const AddressSpace& other)
    : name_(other.name_), size_(other.size_), pages_(other.pages_), stats_(other.stats_) {
    other.owned_number_ = ~uint64_t{0};  // its pages are shared now
    other.owned_page_ = nullptr;
}

AddressSpace& AddressSpace::operator=(const AddressSpace& other) {
    if (this == &other) return *this;
    name_ = other.name_;
    size_ = other.size_;
    pages_ = other.pages_;
    stats_ = other.stats_;
    cached_number_ = owned_number_ = ~uint64_t{0};
    cached_page_ = nullptr;
    owned_page_ = nullptr;
    other.owned_number_ = ~uint64_t{0};
    other.owned_page_ = nullptr;
    return *this;
}

MemFault AddressSpace::read_bytes(uint64_t addr, std::span<uint8_t> out) const {
    if (!contains(addr, out.size())) return MemFault::OutOfRange;
    size_t done = 0;
    while (done < out.size()) {
        uint64_t a = addr + done;
        uint64_t offset = a & (kPageSize - 1);
        size_t chunk = std::min<uint64_t>(kPageSize - offset, out.size() - done);
        if (const Page* page = find_page(a >> kPageBits))
            std::memcpy(out.data() + done, page->data() + offset, chunk);
        else
            std::memset(out.data() + done, 0, chunk);
        done += chunk;
    }
    ++stats_.reads;
    stats_.bytes_read += out.size();
    return MemFault::None;
}

MemFault AddressSpace::write_bytes(uint64_t addr, std::span<const uint8_t> in) {
    if (!contains(addr, in.size())) return MemFault::OutOfRange;
    size_t done = 0;
    while (done < in.size()) {
        uint64_t a = addr + done;
        uint64_t offset = a & (kPageSize - 1);
        size_t chunk = std::min<uint64_t>(kPageSize - offset, in.size() - done);
        std::memcpy(writable_page(a >> kPageBits).data() + offset, in.data() + done, chunk);
        done += chunk;
    }
    ++stats_.writes;
    stats_.bytes_written += in.size();
    return MemFault::None;
}

const AddressSpace::Page* AddressSpace::find_page(uint64_t page_number) const {
    if (page_number == cached_number_) return cached_page_;
    auto it = pages_.find(page_number);
    if (it == pages_.end()) return nullptr;
    cached_number_ = page_number;
    cached_page_ = it->second.get();
    return cached_page_;
}

AddressSpace::Page& AddressSpace::writable_page(uint64_t page_number) {
    if (page_number == owned_number_) return *owned_page_;
    auto& slot = pages_[page_number];
    if (!slot || slot.use_count() > 1) {
        // New, or shared with a snapshot (copy on write): the slot gets another page.
        slot = slot ? std::make_shared<Page>(*slot) : std::make_shared<Page>(Page{});
        if (page_number == cached_number_) cached_number_ = ~uint64_t{0};
    }
    owned_number_ = page_number;
    owned_page_ = slot.get();
    // Reads of this page see it directly too.
    cached_number_ = page_number;
    cached_page_ = owned_page_;
    return *slot;
}

}  // namespace irqdiff
