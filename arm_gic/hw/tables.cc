#include "arm_gic/hw/tables.h"

#include <array>

namespace irqdiff::arm {

Dte Dte::decode(uint64_t w) {
    return Dte{Valid.get(w) != 0, IttAddr.get_in_place(w), static_cast<uint8_t>(Size.get(w))};
}

uint64_t Dte::encode() const { return Valid.make(valid) | IttAddr.get_in_place(itt_addr) | Size.make(size); }

Ite Ite::decode(uint64_t w0, uint64_t w1) {
    Ite e;
    e.valid = W0::Valid.get(w0) != 0;
    e.is_virtual = W0::Virtual.get(w0) != 0;
    e.id = static_cast<uint16_t>(W0::Id.get(w0));
    e.intid = static_cast<uint32_t>(W0::IntId.get(w0));
    e.doorbell = static_cast<uint32_t>(W1::Doorbell.get(w1));
    return e;
}

void Ite::encode(uint64_t& w0, uint64_t& w1) const {
    w0 = W0::Valid.make(valid) | W0::Virtual.make(is_virtual) | W0::Id.make(id) | W0::IntId.make(intid);
    w1 = W1::Doorbell.make(doorbell);
}

Cte Cte::decode(uint64_t w) { return Cte{Valid.get(w) != 0, static_cast<uint16_t>(RDbase.get(w))}; }

uint64_t Cte::encode() const { return Valid.make(valid) | RDbase.make(rdbase); }

Vpte Vpte::decode(uint64_t w0, uint64_t w1, uint64_t w2) {
    Vpte e;
    e.valid = W0::Valid.get(w0) != 0;
    e.vpt_size = static_cast<uint8_t>(W0::VptSize.get(w0));
    e.vpt_addr = W0::VptAddr.get_in_place(w0);
    e.rdbase = static_cast<uint16_t>(W0::RDbase.get(w0));
    e.vconf_addr = W1::VconfAddr.get_in_place(w1);
    e.default_doorbell = static_cast<uint32_t>(W2::DefaultDoorbell.get(w2));
    return e;
}

void Vpte::encode(uint64_t& w0, uint64_t& w1, uint64_t& w2) const {
    w0 = W0::Valid.make(valid) | W0::VptSize.make(vpt_size) | W0::VptAddr.get_in_place(vpt_addr) |
         W0::RDbase.make(rdbase);
    w1 = W1::VconfAddr.get_in_place(vconf_addr);
    w2 = W2::DefaultDoorbell.make(default_doorbell);
}

TableDesc TableDesc::from(const GitsBaser& b) {
    // A table is aligned to its page size: address bits below it are not part of the address.
    return TableDesc{b.valid,        b.indirect, b.phys_addr & ~(b.page_bytes() - 1),
                     b.page_bytes(), b.pages(),  b.entry_bytes()};
}

TableDesc TableDesc::from(const Vpropbaser41& v) {
    GitsBaser page;  // Page_Size has GITS_BASER's encoding
    page.page_size = v.page_size;
    return TableDesc{v.valid,           v.indirect,           v.addr,
                     page.page_bytes(), uint64_t{v.size} + 1, (uint64_t{v.entry_size} + 1) * 8};
}

uint64_t TableDesc::capacity() const {
    if (entry_bytes == 0) return 0;
    uint64_t bytes = pages * page_bytes;
    if (!indirect) return bytes / entry_bytes;
    return (bytes / 8) * (page_bytes / entry_bytes);
}

const char* to_string(TableWalk w) {
    switch (w) {
        case TableWalk::Ok: return "ok";
        case TableWalk::NotValid: return "table not valid";
        case TableWalk::OutOfRange: return "ID beyond the table";
        case TableWalk::NoLevel2: return "level-1 entry not valid";
        case TableWalk::Fault: return "level-1 read faulted";
    }
    return "?";
}

EntryAddr entry_address(const AddressSpace& memory, const TableDesc& t, uint64_t id) {
    if (!t.valid) return {TableWalk::NotValid, 0};
    if (id >= t.capacity()) return {TableWalk::OutOfRange, 0};
    if (!t.indirect) return {TableWalk::Ok, t.base + id * t.entry_bytes};
    uint64_t per_page = t.page_bytes / t.entry_bytes;
    MemRead<uint64_t> l1 = memory.read64(t.base + (id / per_page) * 8);
    if (!l1.ok()) return {TableWalk::Fault, 0};
    if (!L1Entry::Valid.get(l1.value)) return {TableWalk::NoLevel2, 0};
    return {TableWalk::Ok, L1Entry::PhysAddr.get_in_place(l1.value) + (id % per_page) * t.entry_bytes};
}

namespace {

template <size_t N>
MemFault read_words(const AddressSpace& m, uint64_t addr, std::array<uint64_t, N>& w) {
    uint8_t bytes[8 * N];
    if (MemFault f = m.read_bytes(addr, bytes); f != MemFault::None) return f;  // one access
    for (size_t i = 0; i < N; ++i) {
        w[i] = 0;
        for (size_t b = 8; b-- > 0;) w[i] = (w[i] << 8) | bytes[8 * i + b];
    }
    return MemFault::None;
}

template <size_t N>
MemFault write_words(AddressSpace& m, uint64_t addr, const std::array<uint64_t, N>& w) {
    if (!m.contains(addr, 8 * N)) return MemFault::OutOfRange;  // all or nothing
    for (size_t i = 0; i < N; ++i) m.write64(addr + 8 * i, w[i]);
    return MemFault::None;
}

}  // namespace

MemRead<Dte> read_dte(const AddressSpace& m, uint64_t addr) {
    MemRead<uint64_t> r = m.read64(addr);
    return {r.ok() ? Dte::decode(r.value) : Dte{}, r.fault};
}

MemRead<Ite> read_ite(const AddressSpace& m, uint64_t addr) {
    std::array<uint64_t, 2> w{};
    MemFault f = read_words(m, addr, w);
    return {f == MemFault::None ? Ite::decode(w[0], w[1]) : Ite{}, f};
}

MemRead<Cte> read_cte(const AddressSpace& m, uint64_t addr) {
    MemRead<uint64_t> r = m.read64(addr);
    return {r.ok() ? Cte::decode(r.value) : Cte{}, r.fault};
}

MemRead<Vpte> read_vpte(const AddressSpace& m, uint64_t addr) {
    std::array<uint64_t, 4> w{};  // the whole 32-byte entry, as write_vpte writes it
    MemFault f = read_words(m, addr, w);
    return {f == MemFault::None ? Vpte::decode(w[0], w[1], w[2]) : Vpte{}, f};
}

MemFault write_dte(AddressSpace& m, uint64_t addr, const Dte& e) { return m.write64(addr, e.encode()); }

MemFault write_ite(AddressSpace& m, uint64_t addr, const Ite& e) {
    std::array<uint64_t, 2> w{};
    e.encode(w[0], w[1]);
    return write_words(m, addr, w);
}

MemFault write_cte(AddressSpace& m, uint64_t addr, const Cte& e) { return m.write64(addr, e.encode()); }

MemFault write_vpte(AddressSpace& m, uint64_t addr, const Vpte& e) {
    std::array<uint64_t, 4> w{};
    e.encode(w[0], w[1], w[2]);
    return write_words(m, addr, w);
}

}  // namespace irqdiff::arm
