#include "core/memory.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace irqdiff {

const char* to_string(MemFault fault) {
    switch (fault) {
        case MemFault::None: return "none";
        case MemFault::OutOfRange: return "out-of-range";
    }
    return "?";
}

AddressSpace::AddressSpace(std::string name, uint64_t size) : name_(std::move(name)), size_(size) {}

static void refuse_view_copy(const AddressSpace& s) {
    if (s.backed())
        throw std::logic_error("AddressSpace '" + s.name() +
                               "' is a view of external memory (back_with) and cannot be copied");
}

AddressSpace::AddressSpace(const AddressSpace& other)
    : name_(other.name_), size_(other.size_), pages_(other.pages_), stats_(other.stats_) {
    refuse_view_copy(other);
    other.forget_owned();  // its pages are shared now
}

AddressSpace& AddressSpace::operator=(const AddressSpace& other) {
    if (this == &other) return *this;
    refuse_view_copy(other);
    refuse_view_copy(*this);
    name_ = other.name_;
    size_ = other.size_;
    pages_ = other.pages_;
    stats_ = other.stats_;
    forget_cached();
    forget_owned();
    other.forget_owned();
    return *this;
}

void AddressSpace::forget_cached() const {
    cached_number_ = empty_slots();
    cached_page_.fill(nullptr);
}

void AddressSpace::forget_owned() const {
    owned_number_ = empty_slots();
    owned_page_.fill(nullptr);
}

void AddressSpace::back_with(uint64_t base, uint8_t* bytes, uint64_t length) {
    if (bytes == nullptr || length == 0 || (base | length) & (kPageSize - 1) || !contains(base, length) ||
        !pages_.empty() || external_)
        throw std::logic_error("AddressSpace::back_with: a page-aligned, non-empty view inside an empty space");
    external_ = bytes;
    external_first_ = base >> kPageBits;
    external_pages_ = length >> kPageBits;
    forget_cached();
    forget_owned();
}

MemFault AddressSpace::read_bytes(uint64_t addr, std::span<uint8_t> out) const {
    if (!contains(addr, out.size())) return MemFault::OutOfRange;
    if (external_ && (!external_page(addr >> kPageBits) ||
                      (!out.empty() && !external_page((addr + out.size() - 1) >> kPageBits))))
        return MemFault::OutOfRange;  // a view is contiguous: both ends inside means all inside
    size_t done = 0;
    while (done < out.size()) {
        uint64_t a = addr + done;
        uint64_t offset = a & (kPageSize - 1);
        size_t chunk = std::min<uint64_t>(kPageSize - offset, out.size() - done);
        if (const uint8_t* page = find_page(a >> kPageBits))
            std::memcpy(out.data() + done, page + offset, chunk);
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
    if (external_ && (!external_page(addr >> kPageBits) ||
                      (!in.empty() && !external_page((addr + in.size() - 1) >> kPageBits))))
        return MemFault::OutOfRange;
    size_t done = 0;
    while (done < in.size()) {
        uint64_t a = addr + done;
        uint64_t offset = a & (kPageSize - 1);
        size_t chunk = std::min<uint64_t>(kPageSize - offset, in.size() - done);
        std::memcpy(writable_page(a >> kPageBits) + offset, in.data() + done, chunk);
        done += chunk;
    }
    ++stats_.writes;
    stats_.bytes_written += in.size();
    return MemFault::None;
}

const uint8_t* AddressSpace::find_page(uint64_t page_number) const {
    const unsigned slot = cache_slot(page_number);
    if (page_number == cached_number_[slot]) return cached_page_[slot];
    const uint8_t* page = nullptr;
    if (external_) {
        page = external_page(page_number);  // read_bytes checked it is inside
    } else {
        auto it = pages_.find(page_number);
        if (it == pages_.end()) return nullptr;
        page = it->second->data();
    }
    cached_number_[slot] = page_number;
    cached_page_[slot] = page;
    return page;
}

uint8_t* AddressSpace::writable_page(uint64_t page_number) {
    const unsigned c = cache_slot(page_number);
    if (page_number == owned_number_[c]) return owned_page_[c];
    if (external_) {
        uint8_t* page = external_page(page_number);  // write_bytes checked it is inside
        owned_number_[c] = cached_number_[c] = page_number;
        owned_page_[c] = page;
        cached_page_[c] = page;
        return page;
    }
    auto& slot = pages_[page_number];
    if (!slot || slot.use_count() > 1) {
        // New, or shared with a snapshot (copy on write): the slot gets another page.
        slot = slot ? std::make_shared<Page>(*slot) : std::make_shared<Page>(Page{});
    }
    owned_number_[c] = page_number;
    owned_page_[c] = slot->data();
    // Reads of this page see it directly too (this also replaces a cached pre-copy page).
    cached_number_[c] = page_number;
    cached_page_[c] = owned_page_[c];
    return owned_page_[c];
}

}  // namespace irqdiff
