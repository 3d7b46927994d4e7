// A guest of the machine-mode GICv3 + ITS (arm_gic/machine/gicv3_gic.h: the KVM vgic and vITS
// model over the GICv4.1/4.0 hardware model) that does anything: the shared part of fuzz targets
// gic_registers and vits_save_restore (docs/fuzzing.md). One op is 1 byte (op % 8) and its operands:
//   0/1 an MMIO write/read in GICD, GITS or a GICR frame (region, offset, size 1/2/4/8, value)
//   2/3 an ICC_* system-register write/read of a vCPU (every IccReg, Unknown included)
//   4   a doubleword of guest RAM in one of the table regions below (command queue, device and
//       collection tables, ITTs, LPI configuration and pending tables)
//   5   an ITS command (4 doublewords; a byte: [6:0] opcode from the table or raw, [7] its ITT
//       address placed in the ITT region) into the queue GITS_CBASER
//       names, then GITS_CWRITER past it, as the guest's driver does
//   6   a line or an MSI: a PPI, an SPI, a device MSI (KVM_SIGNAL_MSI)
//   7   the vCPU's life: WFI (vcpu_waits), a wake-up check, vcpu_runs, IAR1 + EOIR1
// boot() programs what a guest driver would first (GITS_BASER0/1, GITS_CBASER, GITS_CTLR,
// GICR_PROPBASER/PENDBASER, EnableLPIs, the CPU interface) so the ops start from a working ITS.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "arm_gic/machine/gicv3_gic.h"
#include "arm_gic/hw/registers.h"
#include "tests/fuzz/fuzz_input.h"

namespace irqdiff::fuzz {

using arm::machine::GicV3;
using arm::machine::IccReg;

inline constexpr uint64_t kRamBase = 0x4000'0000;
inline constexpr uint64_t kRamSize = 8ull << 20;
// Guest RAM regions (offsets from kRamBase).
inline constexpr uint64_t kGuestRegions[] = {0x10'0000, 0x20'0000, 0x30'0000, 0x40'0000, 0x50'0000, 0x60'0000};
inline constexpr uint64_t kCmdq = kRamBase + 0x10'0000, kDevTable = kRamBase + 0x20'0000,
                          kCollTable = kRamBase + 0x30'0000, kItts = kRamBase + 0x40'0000,
                          kProp = kRamBase + 0x50'0000, kPend = kRamBase + 0x60'0000;
inline constexpr uint8_t kGuestOpcodes[] = {0x01, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0a,
                                            0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x22, 0x29};

/// Guest RAM for one iteration: one buffer kept across iterations and zeroed at each (a fresh 8 MiB
/// allocation per iteration costs its page faults: 30 exec/s instead of hundreds).
inline std::vector<uint8_t>& fresh_ram(unsigned which = 0) {
    static std::vector<uint8_t> ram[2] = {std::vector<uint8_t>(kRamSize), std::vector<uint8_t>(kRamSize)};
    std::fill(ram[which].begin(), ram[which].end(), uint8_t{0});
    return ram[which];
}

class GuestDriver {
   public:
    GuestDriver(GicV3& gic, std::vector<uint8_t>& ram) : gic_(&gic), ram_(&ram) {}

    void boot() {
        const uint32_t n = gic_->config().vcpus;
        for (uint32_t v = 0; v < n; ++v) gic_->vcpu_runs(v);
        gic_->mmio_write(GicV3::kGicdBase, 0x12, 4, 0);  // GICD_CTLR: ARE, EnableGrp1A
        // GITS_BASER0 (devices, 64 KiB page, flat), GITS_BASER1 (collections), CBASER (16 pages).
        gic_->mmio_write(GicV3::kGitsBase + arm::gits_baser(0), (uint64_t{1} << 63) | kDevTable | (2u << 8), 8, 0);
        gic_->mmio_write(GicV3::kGitsBase + arm::gits_baser(1), (uint64_t{1} << 63) | kCollTable, 8, 0);
        gic_->mmio_write(GicV3::kGitsBase + arm::GITS_CBASER, (uint64_t{1} << 63) | kCmdq | 15, 8, 0);
        gic_->mmio_write(GicV3::kGitsBase + arm::GITS_CTLR, 1, 4, 0);
        for (uint32_t v = 0; v < n; ++v) {
            const uint64_t rd = GicV3::kGicrBase + uint64_t{v} * GicV3::kGicrStride;
            gic_->mmio_write(rd + arm::GICR_PROPBASER, kProp | 15, 8, v);
            gic_->mmio_write(rd + arm::GICR_PENDBASER, (kPend + uint64_t{v} * 0x1'0000) | (uint64_t{1} << 62), 8, v);
            gic_->mmio_write(rd + arm::GICR_CTLR, 1, 4, v);
            gic_->sysreg_write(v, IccReg::SRE, 7);
            gic_->sysreg_write(v, IccReg::PMR, 0xFF);
            gic_->sysreg_write(v, IccReg::IGRPEN1, 1);
        }
        for (unsigned i = 0; i < 64; ++i) (*ram_)[kProp - kRamBase + i] = 0xA1;  // LPIs 8192.. enabled
    }

    void op(FuzzInput& in) {
        const uint8_t op = in.u8();
        const uint32_t n = gic_->config().vcpus;
        const uint32_t vcpu = in.u8() % n;
        switch (op % 8) {
            case 0:
            case 1: {
                const unsigned r = in.u8();
                uint64_t addr;
                if (r % 3 == 0)
                    addr = GicV3::kGicdBase + in.u16() % GicV3::kGicdSize;
                else if (r % 3 == 1)
                    addr = GicV3::kGitsBase + in.u32() % GicV3::kGitsSize;
                else
                    addr = GicV3::kGicrBase + in.u32() % (uint64_t{n} * GicV3::kGicrStride);
                static constexpr unsigned kSizes[] = {1, 2, 4, 8};
                const unsigned size = kSizes[(r >> 2) & 3];
                if (op % 8 == 0)
                    gic_->mmio_write(addr, in.u64(), size, vcpu);
                else
                    (void)gic_->mmio_read(addr, size, vcpu);
                break;
            }
            case 2:
                gic_->sysreg_write(vcpu, static_cast<IccReg>(in.u8() % (static_cast<unsigned>(IccReg::Unknown) + 1)), in.u64());
                break;
            case 3:
                (void)gic_->sysreg_read(vcpu, static_cast<IccReg>(in.u8() % (static_cast<unsigned>(IccReg::Unknown) + 1)));
                break;
            case 4: {
                const uint64_t at = kGuestRegions[in.u8() % 6] + uint64_t{in.u16()} * 8;
                put64(at, in.u64());
                break;
            }
            case 5: {
                uint64_t dw[4];
                for (uint64_t& w : dw) w = in.u64();
                const unsigned o = in.u8();
                if ((o & 0x7F) < sizeof(kGuestOpcodes)) dw[0] = (dw[0] & ~uint64_t{0xFF}) | kGuestOpcodes[o & 0x7F];
                if (o & 0x80) dw[2] = (dw[2] & ~uint64_t{0xFFFF'FFFF'FF00}) | (kItts + (dw[2] & 0xF'FF00));  // an ITT in RAM
                const uint64_t cbaser = gic_->mmio_read(GicV3::kGitsBase + arm::GITS_CBASER, 8, vcpu);
                const uint64_t base = cbaser & 0x000F'FFFF'FFFF'F000;
                const uint64_t bytes = ((cbaser & 0xFF) + 1) * 4096;
                const uint64_t slot = gic_->mmio_read(GicV3::kGitsBase + arm::GITS_CWRITER, 8, vcpu) % bytes;
                for (unsigned i = 0; i < 4; ++i) put64(base + slot + 8 * i, dw[i]);
                gic_->mmio_write(GicV3::kGitsBase + arm::GITS_CWRITER, (slot + 32) % bytes, 8, vcpu);
                break;
            }
            case 6: {
                const unsigned k = in.u8();
                if (k % 3 == 0)
                    gic_->set_ppi(vcpu, 16 + in.u8() % 16, in.flag());
                else if (k % 3 == 1)
                    gic_->set_spi(32 + in.u8() % gic_->config().nr_spis, in.flag());
                else
                    (void)gic_->device_msi(in.u16(), in.u16());
                break;
            }
            case 7: {
                const unsigned k = in.u8() % 4;
                if (k == 0) gic_->vcpu_waits(vcpu);
                if (k == 1) (void)gic_->wake_pending(vcpu);
                if (k == 2) gic_->vcpu_runs(vcpu);
                if (k == 3) {
                    const uint32_t intid = gic_->acknowledge(vcpu);
                    if (intid != GicV3::kNone) gic_->eoi(vcpu, intid);
                }
                break;
            }
        }
    }

    /// A guest store of 8 bytes to RAM (ignored outside it, where the guest would fault).
    void put64(uint64_t addr, uint64_t value) {
        if (addr < kRamBase || addr - kRamBase > ram_->size() - 8) return;
        for (unsigned i = 0; i < 8; ++i) (*ram_)[addr - kRamBase + i] = static_cast<uint8_t>(value >> (8 * i));
    }

   private:
    GicV3* gic_;
    std::vector<uint8_t>* ram_;
};

}  // namespace irqdiff::fuzz
