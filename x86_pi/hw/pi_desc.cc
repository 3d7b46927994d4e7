// Posted-interrupt descriptor decode/encode and its memory accessors (layout in pi_desc.h).
#include "x86_pi/hw/pi_desc.h"

#include <array>

namespace irqdiff::x86 {

namespace {

uint64_t load_le64(std::span<const uint8_t, kPiDescBytes> bytes, unsigned word) {
    uint64_t v = 0;
    for (unsigned i = 8; i-- > 0;) v = (v << 8) | bytes[8 * word + i];
    return v;
}

void store_le64(std::span<uint8_t, kPiDescBytes> bytes, unsigned word, uint64_t v) {
    for (unsigned i = 0; i < 8; ++i) bytes[8 * word + i] = static_cast<uint8_t>(v >> (8 * i));
}

bool aligned(uint64_t addr) { return addr % kPiDescBytes == 0; }

}  // namespace

PiDesc PiDesc::decode(std::span<const uint8_t, kPiDescBytes> bytes) {
    PiDesc d;
    for (unsigned w = 0; w < kPirWords; ++w) d.pir.set_word(w, load_le64(bytes, w));
    uint64_t control = load_le64(bytes, kPiDescControlWord);
    d.on = PiDescControl::ON.get(control) != 0;
    d.sn = PiDescControl::SN.get(control) != 0;
    d.nv = static_cast<uint8_t>(PiDescControl::NV.get(control));
    d.ndst = static_cast<uint32_t>(PiDescControl::NDST.get(control));
    return d;
}

void PiDesc::encode(std::span<uint8_t, kPiDescBytes> bytes) const {
    for (unsigned w = 0; w < kPirWords; ++w) store_le64(bytes, w, pir.word(w));
    uint64_t control = 0;
    control = PiDescControl::NDST.set(control, ndst);
    control = PiDescControl::NV.set(control, nv);
    control = PiDescControl::SN.set(control, sn);
    control = PiDescControl::ON.set(control, on);
    store_le64(bytes, kPiDescControlWord, control);
    for (unsigned w = kPiDescControlWord + 1; w < kPiDescBytes / 8; ++w) store_le64(bytes, w, 0);
}

uint32_t ndst_for_apic_id(uint32_t apic_id, bool x2apic) {
    if (x2apic) return apic_id;
    return static_cast<uint32_t>(NdstXapic::ApicId.make(apic_id));
}

uint32_t apic_id_from_ndst(uint32_t ndst, bool x2apic) {
    if (x2apic) return ndst;
    return static_cast<uint32_t>(NdstXapic::ApicId.get(ndst));
}

const char* to_string(PiDescError error) {
    switch (error) {
        case PiDescError::None: return "none";
        case PiDescError::Fault: return "fault";
        case PiDescError::Misaligned: return "misaligned";
    }
    return "?";
}

PiDescRead read_pi_desc(const AddressSpace& memory, uint64_t addr) {
    if (!aligned(addr)) return {.error = PiDescError::Misaligned};
    std::array<uint8_t, kPiDescBytes> bytes{};
    MemFault fault = memory.read_bytes(addr, bytes);
    if (fault != MemFault::None) return {.error = PiDescError::Fault, .fault = fault};
    bool reserved_clear = (load_le64(bytes, kPiDescControlWord) & PiDescControl::kReservedMask) == 0;
    for (unsigned w = kPiDescControlWord + 1; w < kPiDescBytes / 8; ++w)
        reserved_clear = reserved_clear && load_le64(bytes, w) == 0;
    return {.value = PiDesc::decode(bytes), .reserved_clear = reserved_clear};
}

PiDescWrite write_pi_desc(AddressSpace& memory, uint64_t addr, const PiDesc& desc) {
    if (!aligned(addr)) return {.error = PiDescError::Misaligned};
    std::array<uint8_t, kPiDescBytes> bytes{};
    desc.encode(bytes);
    MemFault fault = memory.write_bytes(addr, bytes);
    if (fault != MemFault::None) return {.error = PiDescError::Fault, .fault = fault};
    return {};
}

}  // namespace irqdiff::x86
