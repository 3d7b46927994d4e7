#include "arm_gic/machine/vits_mmio.h"

#include "arm_gic/kvm/kvm.h"

namespace irqdiff::arm::machine {

namespace {
constexpr uint64_t kPageSize64K = 2;  // GITS_BASER.Page_Size encoding (IHI 0069 §12.19.1)
uint64_t baser_fixed(unsigned n) {
    return GitsBaser::Type.make(uint64_t(n == 0 ? BaserType::Device : BaserType::Collection)) |
           GitsBaser::EntrySize.make(7) | GitsBaser::PageSize.make(kPageSize64K);
}
bool is64(uint64_t off) {
    return off == GITS_TYPER || off == GITS_CBASER || off == GITS_CWRITER || off == GITS_CREADR ||
           (off >= GITS_BASER && off < gits_baser(8));
}
/// vgic_mmio_read_its_idregs: PIDR0..4 and CIDR0..3 (0xFFD0..0xFFFC).
uint32_t idreg(uint64_t off) {
    switch (off) {
        case 0xFFE0: return 0x92;
        case 0xFFE4: return 0xB4;
        case 0xFFE8: return 0x3B;  // PIDR2: ArchRev 3
        case 0xFFD0: return 0x40;  // PIDR4
        case 0xFFF0: return 0x0D;
        case 0xFFF4: return 0xF0;
        case 0xFFF8: return 0x05;
        case 0xFFFC: return 0xB1;
        default: return 0;
    }
}
}  // namespace

void VitsMmio::reset(kvm::VirtualIts& its) {
    its.baser_device = baser_fixed(0);
    its.baser_collection = baser_fixed(1);
}

uint64_t VitsMmio::read(kvm::Kvm k, uint64_t off, unsigned size, const std::function<void(const std::string&)>& bad) {
    if (off >= 0x10000) {  // the translation frame: GITS_TRANSLATER is write-only
        bad("GITS_TRANSLATER is write-only: RAZ");
        return 0;
    }
    const uint64_t reg = off & ~uint64_t{7};
    const bool wide = is64(reg);
    if (!(size == 4 && (off & 3) == 0) && !(size == 8 && wide && (off & 7) == 0)) {
        bad("GITS access of a wrong size or misaligned (KVM: VGIC_ACCESS_32bit / 64bit): RAZ");
        return 0;
    }
    if (off >= 0xFFD0) return idreg(off);
    if (off == GITS_IIDR) return kIidr;
    if (!wide) {
        if (off == GITS_CTLR) return k.its_read(GITS_CTLR);
        bad("a GITS register KVM does not implement: RAZ");
        return 0;
    }
    if (reg >= gits_baser(2) && reg < gits_baser(8)) return 0;  // BASER2..7: not implemented, RAZ/WI
    const uint64_t v = k.its_read(reg);
    if (size == 8) return v;
    return (off & 4) ? v >> 32 : v & 0xFFFF'FFFF;
}

void VitsMmio::write(kvm::Kvm k, uint64_t off, uint64_t value, unsigned size,
                     const std::function<void(const std::string&)>& bad) {
    if (off == GITS_TRANSLATER && (size == 2 || size == 4)) {
        // A CPU's own MSI write: QEMU sends it as KVM_SIGNAL_MSI with the access's requester ID.
        k.trigger_msi(kCpuRequesterId, static_cast<uint32_t>(value & (size == 2 ? 0xFFFF : 0xFFFF'FFFF)));
        return;
    }
    const uint64_t reg = off & ~uint64_t{7};
    const bool wide = is64(reg);
    if (off >= 0x10000 || (!(size == 4 && (off & 3) == 0) && !(size == 8 && wide && (off & 7) == 0))) {
        bad("GITS write of a wrong size, misaligned or outside the registers: WI");
        return;
    }
    if (!wide) {
        if (off == GITS_CTLR) return k.its_write(GITS_CTLR, value & 0xFFFF'FFFF);
        bad("a read-only or unimplemented GITS register (GITS_IIDR, ID registers): WI");
        return;
    }
    if (reg == GITS_TYPER) {
        bad("GITS_TYPER is read-only: WI");
        return;
    }
    if (reg >= gits_baser(2) && reg < gits_baser(8)) return;
    // update_64bit_reg: a 32-bit write replaces one half.
    uint64_t v = value;
    if (size == 4) {
        const uint64_t cur = k.its_read(reg);
        v = (off & 4) ? (cur & 0xFFFF'FFFF) | (value << 32) : (cur & ~uint64_t{0xFFFF'FFFF}) | (value & 0xFFFF'FFFF);
    }
    // vgic_sanitise_its_baser: only 64 KiB pages.
    if (reg == gits_baser(0) || reg == gits_baser(1))
        v = (v & ~GitsBaser::PageSize.kMask) | GitsBaser::PageSize.make(kPageSize64K);
    if (reg == GITS_CREADR) {
        bad("GITS_CREADR is read-only for the guest: WI");  // vgic_mmio_write_its_creadr is userspace only
        return;
    }
    k.its_write(reg, v);
}

}  // namespace irqdiff::arm::machine
