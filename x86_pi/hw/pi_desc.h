// The VT-d / VMX posted-interrupt descriptor (PID): 64 bytes, 64-byte aligned, in host memory. The
// IOMMU posts a vector by setting its PIR bit and, unless suppressed, ON; the CPU drains PIR into the
// virtual IRR. Facts from reference/x86_posted_interrupts_kvm_migration.md §1.1
// ("reference §1.1") [VT-d §9.11 Figure 9-11; SDM §29.6].
//
// Descriptor layout, as eight little-endian 64-bit words:
//   bytes  0..31  words 0..3  PIR[255:0]   vector v at word v/64 bit v%64 (byte v/8 bit v%8)
//   bytes 32..39  word 4      ON[256] SN[257] NV[279:272] NDST[319:288]  (PiDescControl)
//   bytes 40..63  words 5..7  reserved (0)
#pragma once

#include <cstdint>
#include <span>

#include "core/bits.h"
#include "core/memory.h"

namespace irqdiff::x86 {

inline constexpr uint64_t kPiDescBytes = 64;  // size and required alignment [reference §1.1]
inline constexpr unsigned kPirWords = 4;      // words 0..3 hold PIR
inline constexpr unsigned kPiDescControlWord = 4;
inline constexpr uint64_t kPiDescControlOffset = 8 * kPiDescControlWord;  // byte 32

/// Word 4 (descriptor bits 319:256). [reference §1.1 table; Linux packs the same bits in the
/// 64-bit `control` word of struct pi_desc: ON index 0, SN index 1]
struct PiDescControl {
    static constexpr Field<63, 32> NDST{};  // bits 319:288, notification destination (APIC ID)
    static constexpr Field<23, 16> NV{};    // bits 279:272, notification vector
    static constexpr Field<1> SN{};         // bit 257, suppress notification (non-urgent posts)
    static constexpr Field<0> ON{};         // bit 256, outstanding notification

    /// Bits of word 4 that are reserved (271:258 and 287:280).
    static constexpr uint64_t kReservedMask = ~(NDST.kMask | NV.kMask | SN.kMask | ON.kMask);
};

/// NDST in xAPIC mode: the 8-bit APIC ID sits in NDST[15:8] (descriptor bits 303:296), the rest 0.
/// In x2APIC mode NDST is the full 32-bit APIC ID. [reference §1.1, VT-d §9.11;
/// posted_intr.c :: vmx_vcpu_pi_load]
struct NdstXapic {
    static constexpr Field<15, 8> ApicId{};
};

/// The descriptor's architected fields, decoded. Reserved bits are dropped on decode and written as
/// zero on encode.
struct PiDesc {
    BitArray<256> pir{};  // one request bit per vector
    bool on = false;
    bool sn = false;
    uint8_t nv = 0;
    uint32_t ndst = 0;  // raw NDST; see ndst_for_apic_id / apic_id_from_ndst

    static PiDesc decode(std::span<const uint8_t, kPiDescBytes> bytes);
    void encode(std::span<uint8_t, kPiDescBytes> bytes) const;
    bool operator==(const PiDesc&) const = default;
};

/// NDST for a target pCPU's APIC ID. xAPIC keeps only APIC ID[7:0] (Linux writes
/// (apicid << 8) & 0xFF00); x2APIC stores the ID unchanged. [reference §1.1]
uint32_t ndst_for_apic_id(uint32_t apic_id, bool x2apic);
/// The APIC ID an NDST value names; in xAPIC mode only NDST[15:8] count. [reference §1.1]
uint32_t apic_id_from_ndst(uint32_t ndst, bool x2apic);

/// Why a descriptor access did not happen. Guest-visible outcomes, never exceptions.
enum class PiDescError : uint8_t {
    None,
    Fault,       // the memory access faulted; the MemFault says how
    Misaligned,  // the address is not 64-byte aligned [reference §1.1]; nothing was accessed
};

const char* to_string(PiDescError error);

struct PiDescRead {
    PiDesc value{};
    bool reserved_clear = true;  // every reserved bit (271:258, 287:280, 511:320) reads 0
    PiDescError error = PiDescError::None;
    MemFault fault = MemFault::None;  // set when error == Fault
    bool ok() const { return error == PiDescError::None; }
};

struct PiDescWrite {
    PiDescError error = PiDescError::None;
    MemFault fault = MemFault::None;  // set when error == Fault
    bool ok() const { return error == PiDescError::None; }
};

/// Reads the 64-byte descriptor at `addr` in one access.
PiDescRead read_pi_desc(const AddressSpace& memory, uint64_t addr);
/// Writes `desc` to `addr` in one access; on any error memory is unchanged.
PiDescWrite write_pi_desc(AddressSpace& memory, uint64_t addr, const PiDesc& desc);

}  // namespace irqdiff::x86
