// Fuzz target host_its (docs/fuzzing.md): the ARM hardware model (arm_gic/hw) driven by a host
// hypervisor that writes anything. The input:
//   byte 0       the GIC: bit 0 GICv4.1 (else 4.0), bit 1 arm.its_command_error=stall, bit 2
//                arm.its_table_fault=ignore, bits 3-4 arm.vpt_writeback, bit 5 GITS_TYPER.VMOVP=0,
//                bit 6 two ITSs
//   then         GITS_BASER0..2 (8 bytes each, then 1 byte placing the table in one of the regions
//                below or leaving the raw address), GITS_CBASER.Size (1 byte, 0..15)
//   then ops     1 byte each (op % 8), an ITS index byte, and operands: a command into the queue
//                (4 doublewords; a byte: [6:0] opcode from the table below or raw, [7] DW2's address
//                placed in the ITT or VPT region), a doubleword into one of the table regions
//                (device, collection, vPE tables, level-2 pages, ITTs, VPTs, LPI tables), an MSI,
//                an ITS register write or read, a redistributor register write (LPIs, VPENDBASER,
//                VPROPBASER raw or a well-formed schedule), GITS_CWRITER.Retry, a virtual CPU
//                interface access (IAR1/EOIR1/HPPIR1/PMR, a list register).
// The rule (IHI 0069, STYLE.md): a guest or host error is a command error, a table fault, a
// stall or an Ignored/GuestError event, never a crash, an exception, UB or a hang. Every op is
// bounded: a queue is at most 16 pages (2048 commands) per CWRITER write, ops at most 256.
#include <cstddef>
#include <cstdint>

#include "arm_gic/hw/gic.h"
#include "arm_gic/hw/registers.h"
#include "core/event_log.h"
#include "core/memory.h"
#include "tests/fuzz/fuzz_input.h"

using namespace irqdiff;
using namespace irqdiff::arm;

namespace {

// Host memory regions the input's tables, commands and addresses land in (a random 52-bit
// address would almost never meet another one).
constexpr uint64_t kRegions[] = {
    0x0010'0000,  // command queues (ITS i at + i * 64 KiB)
    0x0020'0000,  // device table
    0x0030'0000,  // collection table
    0x0040'0000,  // vPE table
    0x0050'0000,  // level-2 pages of two-level tables
    0x0100'0000,  // ITTs
    0x0200'0000,  // VPTs
    0x0300'0000,  // vLPI configuration table
    0x0400'0000,  // LPI configuration table
    0x0500'0000,  // LPI pending tables
};
constexpr unsigned kRegionCount = sizeof(kRegions) / sizeof(kRegions[0]);
constexpr uint64_t kQueue = kRegions[0];

constexpr uint8_t kOpcodes[] = {0x01, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
                                0x0f, 0x21, 0x22, 0x23, 0x25, 0x29, 0x2a, 0x2b, 0x2d, 0x2e};
constexpr unsigned kOpcodeCount = sizeof(kOpcodes);

constexpr uint64_t kItsRegs[] = {GITS_CTLR,      GITS_IIDR,      GITS_TYPER,     GITS_CBASER,     GITS_CWRITER,
                                 GITS_CREADR,    gits_baser(0),  gits_baser(1),  gits_baser(2),   gits_baser(3),
                                 gits_baser(7),  GITS_TRANSLATER, GITS_SGIR,     0x0004,          0x0098};
constexpr unsigned kItsRegCount = sizeof(kItsRegs) / sizeof(kItsRegs[0]);

constexpr uint64_t kRdRegs[] = {GICR_CTLR,
                                GICR_PROPBASER,
                                GICR_PENDBASER,
                                GICR_CLRLPIR,
                                GICR_INVLPIR,
                                GICR_INVALLR,
                                GICR_SYNCR,
                                kGicrVlpiFrame + GICR_VPROPBASER,
                                kGicrVlpiFrame + GICR_VPENDBASER,
                                kGicrVlpiFrame + GICR_VSGIR,
                                kGicrVlpiFrame + GICR_VSGIPENDR,
                                kGicrSgiFrame + GICR_ISPENDR0,
                                kGicrSgiFrame + GICR_ISENABLER0};
constexpr unsigned kRdRegCount = sizeof(kRdRegs) / sizeof(kRdRegs[0]);

/// `raw` with its address bits [47:12] replaced by region `r`'s (or kept, r >= kRegionCount).
uint64_t place(uint64_t raw, unsigned r, uint64_t within = 0) {
    if (r >= kRegionCount) return raw;
    constexpr uint64_t kAddr = ((uint64_t{1} << 48) - 1) & ~uint64_t{0xFFF};
    return (raw & ~kAddr) | ((kRegions[r] + within) & kAddr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 8192) return -1;
    fuzz::FuzzInput in(data, size);
    const uint8_t cfg = in.u8();
    GicConfig config;
    config.version = (cfg & 1) ? GicVersion::V4_1 : GicVersion::V4_0;
    config.command_error = (cfg & 2) ? ErrorResponse::Stall : ErrorResponse::Ignore;
    config.table_fault = (cfg & 4) ? ErrorResponse::Ignore : ErrorResponse::Stall;
    config.vpt_writeback = static_cast<VptWriteback>(((cfg >> 3) & 3) % 3);
    config.vmovp_direct = (cfg & 0x20) == 0;
    config.its_count = (cfg & 0x40) ? 2 : 1;
    config.dirty_reads = 1;

    Memory mem;
    EventLog log(false);
    log.set_kept_limit(256);
    Gic gic(config, mem.host, log);
    gic.set_host_irq_handler([](unsigned, uint32_t) {});

    for (unsigned i = 0; i < gic.its_count(); ++i) {
        Its& its = gic.its(i);
        for (unsigned b = 0; b < 3; ++b) {
            const uint64_t raw = in.u64();
            const unsigned r = in.u8() % (kRegionCount + 1);
            its.write64(gits_baser(b), place(raw, r, uint64_t{i} * 0x4'0000));
        }
        const uint64_t pages = in.u8() & 15;
        its.write64(GITS_CBASER, GitsCbaser::Valid.make(1) | (kQueue + uint64_t{i} * 0x1'0000) | GitsCbaser::Size.make(pages));
        its.write64(GITS_CWRITER, 0);
        its.write(GITS_CTLR, GitsCtlr::Enabled.make(1), 4);
    }

    for (unsigned ops = 0; ops < 256 && !in.empty(); ++ops) {
        const unsigned op = in.u8() % 8;
        Its& its = gic.its(in.u8() % gic.its_count());
        switch (op) {
            case 0: {  // a command, as a driver queues it
                ItsCommand c;
                for (uint64_t& w : c.dw) w = in.u64();
                const unsigned o = in.u8();
                if ((o & 0x7F) < kOpcodeCount) c.dw[0] = (c.dw[0] & ~uint64_t{0xFF}) | kOpcodes[o & 0x7F];
                // Addresses the command carries (ITT, VPT, VCONF) into the regions half the time.
                if (o & 0x80) c.dw[2] = place(c.dw[2], 5 + (o & 1));  // ITTs or VPTs
                const uint64_t queue = (GitsCbaser::Size.get(its.read64(GITS_CBASER)) + 1) * 4096;
                const uint64_t slot = its.cwriter() % queue;
                uint8_t bytes[ItsCommand::kBytes];
                c.encode(bytes);
                mem.host.write_bytes(kQueue + uint64_t{its.index()} * 0x1'0000 + slot, bytes);
                its.write64(GITS_CWRITER, (slot + ItsCommand::kBytes) % queue);
                break;
            }
            case 1: {  // a table entry, as the ITS or a corrupting host left it
                const unsigned r = in.u8() % kRegionCount;
                const uint64_t offset = uint64_t{in.u16()} * 8;
                mem.host.write64(kRegions[r] + offset, in.u64());
                break;
            }
            case 2:  // an MSI: EventID to GITS_TRANSLATER, DeviceID from the bus
                gic.msi(MsiWrite{gic.translater_address(its.index()), in.u16(), in.u16()});
                break;
            case 3: {  // an ITS register write
                const unsigned r = in.u8();
                const uint64_t offset = r < kItsRegCount ? kItsRegs[r] : (uint64_t{in.u16()} << 2);
                const uint64_t value = in.u64();
                its.write(offset, value, (r & 0x80) ? 4 : 8);
                break;
            }
            case 4: {  // an ITS register read
                const unsigned r = in.u8();
                (void)its.read(r < kItsRegCount ? kItsRegs[r] : (uint64_t{in.u16()} << 2), (r & 0x80) ? 4 : 8);
                break;
            }
            case 5: {  // a redistributor register write (or read)
                Redistributor& rd = gic.rd(in.u8() % gic.rd_count());
                const unsigned r = in.u8();
                const uint64_t offset = kRdRegs[r % kRdRegCount];
                uint64_t value = in.u64();
                if (r & 0x40) value = place(value, 6 + (r >> 7));  // VPT / VCONF or LPI tables
                if (r & 0x20)
                    (void)rd.read(offset, 8);
                else
                    rd.write(offset, value, (r & 0x10) ? 4 : 8);
                break;
            }
            case 6:  // GITS_CWRITER.Retry: restart a stalled queue
                its.write64(GITS_CWRITER, its.cwriter() | 1);
                break;
            case 7: {  // the virtual CPU interface
                CpuInterface& cpu = gic.cpu(in.u8() % gic.rd_count());
                const unsigned a = in.u8();
                switch (a % 6) {
                    case 0: (void)cpu.read_iar1(); break;
                    case 1: cpu.write_eoir1(in.u32()); break;
                    case 2: (void)cpu.read_hppir1(); break;
                    case 3: cpu.write_pmr(in.u8()); cpu.write_igrpen1(true); break;
                    case 4: cpu.write_lr(in.u8() % cpu.list_registers(), in.u64()); break;
                    case 5: cpu.write_igrpen0(in.flag()); break;
                }
                break;
            }
        }
    }
    // The places of a few vINTIDs of a few vPEs (the oracle asks this after every action).
    std::vector<Location> where;
    for (uint32_t vpe = 0; vpe < 4; ++vpe) gic.where_vlpi(vpe, 8192, where);
    return 0;
}
