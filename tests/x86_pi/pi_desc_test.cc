// Posted-interrupt descriptor layout, decode/encode round trips, memory access and NDST encodings.
#include "x86_pi/hw/pi_desc.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace irqdiff::x86 {
namespace {

using Bytes = std::array<uint8_t, kPiDescBytes>;

Bytes encoded(const PiDesc& d) {
    Bytes b{};
    d.encode(b);
    return b;
}

PiDesc sample() {
    PiDesc d;
    d.pir.set(0);
    d.pir.set(0x21);
    d.pir.set(0x80);
    d.pir.set(255);
    d.on = true;
    d.nv = 0xF2;  // POSTED_INTR_VECTOR (reference x86 §1.3)
    d.ndst = 0x0000'0300;
    return d;
}

// reference x86 §1.1: PIR 255:0, ON 256, SN 257, NV 279:272, NDST 319:288, 64 bytes.
TEST(PiDesc, RoundTripsEveryField) {
    PiDesc all;
    for (size_t v = 0; v < 256; ++v) all.pir.set(v);
    all.on = all.sn = true;
    all.nv = 0xFF;
    all.ndst = 0xFFFF'FFFF;
    PiDesc blocked;  // a blocked vCPU's descriptor: NV = wakeup vector 0xF1 (reference x86 §1.3, §4.3)
    blocked.nv = 0xF1;
    blocked.ndst = 0x1234'5678;
    blocked.pir.set(0xEC);
    PiDesc suppressed = sample();
    suppressed.on = false;
    suppressed.sn = true;
    for (const PiDesc& d : std::vector<PiDesc>{PiDesc{}, sample(), all, blocked, suppressed})
        EXPECT_EQ(PiDesc::decode(encoded(d)), d);
}

// reference x86 §1.1: ON is bit 256 (byte 32 bit 0), SN bit 257 (byte 32 bit 1), NV byte 34,
// NDST bytes 36..39 little-endian.
TEST(PiDesc, ControlFieldsSitAtTheirBytes) {
    Bytes on = encoded(PiDesc{.on = true});
    Bytes expect_on{};
    expect_on[32] = 0x01;
    EXPECT_EQ(on, expect_on);

    Bytes sn = encoded(PiDesc{.sn = true});
    Bytes expect_sn{};
    expect_sn[32] = 0x02;
    EXPECT_EQ(sn, expect_sn);

    Bytes nv = encoded(PiDesc{.nv = 0xF2});
    Bytes expect_nv{};
    expect_nv[34] = 0xF2;
    EXPECT_EQ(nv, expect_nv);

    Bytes ndst = encoded(PiDesc{.ndst = 0x4433'2211});
    Bytes expect_ndst{};
    expect_ndst[36] = 0x11;
    expect_ndst[37] = 0x22;
    expect_ndst[38] = 0x33;
    expect_ndst[39] = 0x44;
    EXPECT_EQ(ndst, expect_ndst);

    EXPECT_EQ(PiDescControl::ON.kMask, uint64_t{1} << (256 - 256));
    EXPECT_EQ(PiDescControl::NDST.kMask, 0xFFFF'FFFF'0000'0000u);
    EXPECT_EQ(PiDescControl::kReservedMask, 0x0000'0000'FF00'FFFCu);
}

// reference x86 §1.1: PIR holds one request bit per vector, vector v at byte v/8 bit v%8.
TEST(PiDesc, PirVectorMapsToByteAndBit) {
    for (size_t v : {size_t{0}, size_t{7}, size_t{0x21}, size_t{0x80}, size_t{0xF2}, size_t{255}}) {
        PiDesc d;
        d.pir.set(v);
        Bytes b = encoded(d);
        Bytes expect{};
        expect[v / 8] = static_cast<uint8_t>(1u << (v % 8));
        EXPECT_EQ(b, expect) << "vector " << v;
    }
}

// reference x86 §1.1: bits 271:258, 287:280 and 511:320 are reserved (0). Raws with them clear
// re-encode exactly; reserved bits set are ignored by decode and written back as zero.
TEST(PiDesc, ReEncodesRawsWithReservedBitsZeroAndClearsReservedBits) {
    Bytes raw{};
    for (size_t i = 0; i < 32; ++i) raw[i] = static_cast<uint8_t>(0x5A ^ i);
    raw[32] = 0x03;
    raw[34] = 0xF1;
    raw[36] = 0x01;
    raw[39] = 0x80;
    EXPECT_EQ(encoded(PiDesc::decode(raw)), raw);

    Bytes dirty = raw;
    dirty[32] |= 0xFC;  // bits 263:258
    dirty[33] = 0xFF;   // bits 271:264
    dirty[35] = 0xFF;   // bits 287:280
    for (size_t i = 40; i < 64; ++i) dirty[i] = 0xA5;
    EXPECT_EQ(PiDesc::decode(dirty), PiDesc::decode(raw));
    EXPECT_EQ(encoded(PiDesc::decode(dirty)), raw);
}

// encode() writes every byte, so a reused buffer keeps no stale reserved bits.
TEST(PiDesc, EncodeOverwritesTheWholeBuffer) {
    Bytes b;
    b.fill(0xFF);
    PiDesc{}.encode(b);
    EXPECT_EQ(b, Bytes{});
}

// reference x86 §1.1 (VT-d §9.11): xAPIC NDST = APIC ID[7:0] in NDST[15:8], rest 0; x2APIC NDST = full
// 32-bit APIC ID. Linux (vmx_vcpu_pi_load) writes (apicid << 8) & 0xFF00 in xAPIC mode.
TEST(Ndst, XapicPutsTheIdInBits15To8AndX2apicKeepsAll32Bits) {
    EXPECT_EQ(ndst_for_apic_id(0x12, false), 0x1200u);
    EXPECT_EQ(ndst_for_apic_id(0x1FF, false), 0xFF00u);  // only ID[7:0] fits in xAPIC mode
    EXPECT_EQ(ndst_for_apic_id(0x12, true), 0x12u);
    EXPECT_EQ(ndst_for_apic_id(0x1234'5678, true), 0x1234'5678u);

    EXPECT_EQ(apic_id_from_ndst(0x1200, false), 0x12u);
    EXPECT_EQ(apic_id_from_ndst(0xABCD'12EF, false), 0x12u);  // only NDST[15:8] count in xAPIC mode
    EXPECT_EQ(apic_id_from_ndst(0x1234'5678, true), 0x1234'5678u);
    for (uint32_t id : {0u, 1u, 0x7Fu, 0xFFu}) EXPECT_EQ(apic_id_from_ndst(ndst_for_apic_id(id, false), false), id);

    // In memory, an xAPIC NDST puts the APIC ID at descriptor byte 37 (bits 303:296).
    Bytes b = encoded(PiDesc{.ndst = ndst_for_apic_id(0x3C, false)});
    EXPECT_EQ(b[36], 0x00);
    EXPECT_EQ(b[37], 0x3C);
    EXPECT_EQ(b[38], 0x00);
}

// reference x86 §1.1: the descriptor is 64 bytes at a 64-byte aligned address in host memory.
TEST(PiDescMemory, WriteThenReadThroughAnAddressSpace) {
    AddressSpace host("host", 1 << 20);
    PiDesc d = sample();
    ASSERT_TRUE(write_pi_desc(host, 0x2040, d).ok());
    PiDescRead r = read_pi_desc(host, 0x2040);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value, d);
    // One access each for the whole descriptor.
    EXPECT_EQ(host.stats(), (AccessStats{.reads = 1, .writes = 1, .bytes_read = 64, .bytes_written = 64}));
    EXPECT_EQ(host.read8(0x2040 + 32).value, 0x01);  // ON
    EXPECT_EQ(host.read8(0x2040 + 34).value, 0xF2);  // NV
    EXPECT_EQ(host.read64(0x2040).value, d.pir.word(0));
    EXPECT_EQ(host.read64(0x2040 + 40).value, 0u);  // reserved
}

// STYLE.md error kind 1: an address outside the space is a MemFault result, never an exception.
TEST(PiDescMemory, OutOfRangeAddressIsAFaultAndWritesNothing) {
    AddressSpace host("host", 0x1000);
    EXPECT_TRUE(read_pi_desc(host, 0x1000 - 64).ok());  // the last descriptor slot fits

    PiDescRead r = read_pi_desc(host, 0x1000);
    EXPECT_EQ(r.error, PiDescError::Fault);
    EXPECT_EQ(r.fault, MemFault::OutOfRange);
    EXPECT_FALSE(r.ok());

    PiDescWrite w = write_pi_desc(host, 0x1000, sample());
    EXPECT_EQ(w.error, PiDescError::Fault);
    EXPECT_EQ(w.fault, MemFault::OutOfRange);
    EXPECT_EQ(host.pages_allocated(), 0u);
    EXPECT_EQ(host.stats().writes, 0u);
}

// reference x86 §1.1 (VT-d §5.2.2, §9.11): a descriptor must be 64-byte aligned; a misaligned address
// is reported as such and memory is not touched.
TEST(PiDescMemory, MisalignedAddressIsReportedAndNothingIsAccessed) {
    AddressSpace host("host", 1 << 20);
    for (uint64_t addr : {uint64_t{0x2020}, uint64_t{0x2001}, uint64_t{0x203F}}) {
        PiDescRead r = read_pi_desc(host, addr);
        EXPECT_EQ(r.error, PiDescError::Misaligned);
        EXPECT_EQ(r.fault, MemFault::None);
        PiDescWrite w = write_pi_desc(host, addr, sample());
        EXPECT_EQ(w.error, PiDescError::Misaligned);
        EXPECT_FALSE(w.ok());
    }
    EXPECT_EQ(host.stats(), AccessStats{});
    EXPECT_EQ(host.pages_allocated(), 0u);
    // Misalignment is checked before range: an address that is both reports Misaligned.
    EXPECT_EQ(read_pi_desc(host, (1 << 20) + 8).error, PiDescError::Misaligned);
    EXPECT_STREQ(to_string(PiDescError::Misaligned), "misaligned");
}

}  // namespace
}  // namespace irqdiff::x86
