// Fuzz target vtd (docs/fuzzing.md): the VT-d interrupt-remapping unit (x86_pi/hw/iommu.h) with
// anything in its table and descriptors. The input: ops of 1 byte (op % 7) and their operands:
//   0 IRTA_REG (8 bytes; the address placed in one of the regions below unless the op byte's bit 7)
//     then GCMD.SIRTP;  1 GCMD.IRE on/off;  2 an IRTE (16 bytes, either format, reserved bits and
//     all) at an index (2 bytes);  3 a posted-interrupt descriptor (64 bytes) at one of 4 PID
//     slots (or misaligned);  4 a request: remappable (handle, SHV, subhandle) or raw address,
//     data, source-id;  5 an IEC invalidation, global or 2^IM entries from an index.
//   6 a decode/encode round trip of raw IRTE and PID words (the value structs of irte.h, pi_desc.h)
// The rule (VT-d §5.1.4, §5.2.3): a request is remapped, posted, or blocked with a recorded or
// FPD-suppressed fault; never a crash, exception, UB. A posted request's PID update is one atomic
// update; the decoders keep exactly the architected fields (decode(encode(x)) == x).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/event_log.h"
#include "core/memory.h"
#include "tests/fuzz/fuzz_input.h"
#include "x86_pi/hw/iommu.h"
#include "x86_pi/hw/irte.h"
#include "x86_pi/hw/pi_desc.h"

using namespace irqdiff;
using namespace irqdiff::x86;

namespace {

constexpr uint64_t kIrt = 0x0100'0000;   // the remapping table
constexpr uint64_t kPids = 0x0200'0000;  // posted-interrupt descriptors, 64 bytes apart
constexpr uint64_t kRegions[] = {kIrt, kPids, 0x0300'0000, 0xFFFF'F000'0000};

void check(bool ok) {
    if (!ok) std::abort();  // a broken round trip: an emulator bug the fuzzer reports
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 8192) return -1;
    fuzz::FuzzInput in(data, size);
    Memory mem;
    EventLog log(false);
    log.set_kept_limit(256);
    Iommu iommu(mem.host, log);
    iommu.write_irta(kIrt | IrtaReg::S.make(7));
    iommu.set_irtp();
    iommu.enable(true);

    for (unsigned ops = 0; ops < 512 && !in.empty(); ++ops) {
        const uint8_t op = in.u8();
        switch (op % 7) {
            case 0: {
                uint64_t irta = in.u64();
                if (!(op & 0x80))
                    irta = (irta & 0xFFF) | kRegions[(op >> 3) % 4];
                iommu.write_irta(irta);
                iommu.set_irtp();
                break;
            }
            case 1:
                iommu.enable((op & 0x80) == 0);
                break;
            case 2: {
                const uint32_t index = in.u16();
                const uint64_t low = in.u64(), high = in.u64();
                mem.host.write64(iommu.entry_address(index), low);
                mem.host.write64(iommu.entry_address(index) + 8, high);
                break;
            }
            case 3: {
                const unsigned slot = in.u8();
                uint64_t addr = kPids + uint64_t{slot % 4} * 64;
                if (slot & 0x80) addr += slot & 0x3F;  // misaligned
                const auto bytes = in.bytes(kPiDescBytes);
                mem.host.write_bytes(addr, bytes);
                break;
            }
            case 4: {
                MsiRequest msi;
                const uint8_t form = in.u8();
                if (form & 1) {
                    msi.address = uint64_t{in.u32()} | (uint64_t{in.u8()} << 32);
                } else {
                    const uint16_t handle = in.u16();
                    uint32_t a = RemappableMsi::address(handle);
                    if (form & 2) a = static_cast<uint32_t>(RemappableMsi::Address::SHV.set(a, 1));
                    msi.address = a;
                }
                msi.data = (form & 4) ? in.u32() : in.u16();
                msi.sid = in.u16();
                const IrResult r = iommu.request(msi);
                // A blocked request names its fault; a delivered one none.
                check((r.kind == IrResult::Kind::Blocked) == (r.fault != IrFault::None));
                break;
            }
            case 5:
                if (op & 0x80)
                    iommu.invalidate_iec_all();
                else
                    iommu.invalidate_iec(in.u16(), in.u8() % 17);
                break;
            case 6: {
                const uint64_t low = in.u64(), high = in.u64();
                const RemappedIrte r = RemappedIrte::decode(low, high);
                check(RemappedIrte::decode(r.encode().low, r.encode().high) == r);
                const PostedIrte p = PostedIrte::decode(low, high);
                check(PostedIrte::decode(p.encode().low, p.encode().high) == p);
                uint8_t raw[kPiDescBytes] = {};
                const auto bytes = in.bytes(kPiDescBytes);
                for (size_t i = 0; i < bytes.size(); ++i) raw[i] = bytes[i];
                const PiDesc d = PiDesc::decode(raw);
                uint8_t again[kPiDescBytes];
                d.encode(again);
                check(PiDesc::decode(again) == d);
                break;
            }
        }
    }
    // Every PID slot still reads as a descriptor (or reports why not).
    for (unsigned s = 0; s < 4; ++s) (void)read_pi_desc(mem.host, kPids + s * 64);
    return 0;
}
