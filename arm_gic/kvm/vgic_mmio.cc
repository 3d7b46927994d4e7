// KVM's guest-visible distributor and redistributor frames for machine mode (torvalds/linux
// arch/arm64/kvm/vgic/{vgic-mmio.c,vgic-mmio-v3.c,vgic-init.c}; reference/arm_virt_machine.md §7):
// the per-interrupt registers over PPIs and SPIs (which the abstract scenarios never use), the ID
// registers with KVM's values, GICD_IROUTER, GICR_TYPER/WAKER, and kvm_vgic_inject_irq. The LPI,
// SGI and GICD_CTLR parts reuse vgic.cc and vgic_sgi.cc.
#include "arm_gic/kvm/kvm.h"
#include "arm_gic/trace_points.h"

namespace irqdiff::arm::kvm {

namespace {
// vgic-mmio-v3.c / arm-gic-v3.h offsets (IHI 0069 §12.9, §12.11).
constexpr uint64_t kGicdTyper = 0x4, kGicdIidr = 0x8, kGicdIgroupr = 0x80, kGicdIsenabler = 0x100,
                   kGicdIcenabler = 0x180, kGicdIspendr = 0x200, kGicdIcpendr = 0x280, kGicdIsactiver = 0x300,
                   kGicdIcactiver = 0x380, kGicdIpriorityr = 0x400, kGicdIcfgr = 0xC00, kGicdIrouter = 0x6000,
                   kPidr2 = 0xFFE8;
constexpr uint64_t kGicrIidr = 0x4, kGicrTyper = 0x8, kGicrWaker = 0x14;
/// GICD_IIDR / GICR_IIDR: ProductID 0x4B ('K', PRODUCT_ID_KVM), Revision = KVM_VGIC_IMP_REV_3
/// (the latest KVM implementation revision), Implementer 0x43B (ARM) (vgic_mmio_read_v3_misc).
constexpr uint32_t kKvmGicIidr = (0x4Bu << 24) | (3u << 12) | 0x43B;
/// PIDR2.ArchRev = 3 (GICv3) | 0xB (vgic_mmio_read_v3_idregs).
constexpr uint32_t kPidr2Gicv3 = 0x3B;
/// INTERRUPT_ID_BITS_ITS (16) for GICD_TYPER.IDbits with an ITS.
constexpr uint32_t kIdBitsIts = 16;

struct Bank {
    uint64_t base;
    unsigned bits;  // per INTID
};
}  // namespace

uint64_t Kvm::vcpu_mpidr(uint32_t vcpu) {
    return (vcpu & 0xF) | (uint64_t((vcpu >> 4) & 0xFF) << 8) | (uint64_t((vcpu >> 12) & 0xFF) << 16);
}

uint32_t Kvm::mpidr_to_vcpu(uint64_t mpidr) const {
    for (uint32_t v = 0; v < s_.cpus.size(); ++v)
        if (vcpu_mpidr(v) == (mpidr & 0xFF'FFFF)) return v;
    return kNoVcpu;
}

void Kvm::init_spis(uint32_t nr_spis) {
    s_.dist_gates_delivery = true;
    s_.spis.assign(nr_spis, VgicIrq{});
    for (uint32_t i = 0; i < nr_spis; ++i) {
        VgicIrq& irq = s_.spis[i];
        irq.intid = kNrPrivateIrqs + i;
        irq.level = true;  // kvm_vgic_dist_init: VGIC_CONFIG_LEVEL, group 1 on a vGICv3, mpidr 0
        irq.priority = 0;
        irq.target_vcpu = s_.cpus.empty() ? kNoVcpu : 0;  // mpidr 0 is vCPU 0
    }
}

void Kvm::inject_irq(uint32_t vcpu, uint32_t intid, bool level) {
    // kvm_vgic_inject_irq -> vgic_validate_injection: a level interrupt takes the line's level,
    // an edge one latches on a rising level only.
    VgicIrq* irq = intid >= kNrSgis && intid < kNrPrivateIrqs + s_.spis.size() ? find_irq(vcpu, intid) : nullptr;
    if (!irq) {
        log_.emit(tp::kKvmInjectIrqError, "no such PPI or SPI: -EINVAL", vcpu, intid);
        return;
    }
    if (irq->level) {
        if (irq->line_level == level) return;
        irq->line_level = level;
    } else if (level) {
        irq->pending_latch = true;
    }
    log_.emit(tp::kKvmInjectIrq, vcpu, intid, level);
    queue(*irq);
}

uint64_t Kvm::irq_reg_read(uint32_t vcpu, IrqReg kind, uint32_t first, unsigned count) {
    uint64_t value = 0;
    for (unsigned i = 0; i < count; ++i) {
        const VgicIrq* irq = find_irq(vcpu, first + i);
        if (!irq) continue;
        uint64_t field = 0;
        switch (kind) {
            case IrqReg::Group: field = irq->group1; break;
            case IrqReg::SetEnable:
            case IrqReg::ClearEnable: field = irq->enabled; break;
            case IrqReg::SetPending:
            case IrqReg::ClearPending:
                // vgic_mmio_read_pending: a GICv4.1 vSGI's state from the vPE.
                field = irq->hw && irq->intid < kNrSgis ? host_.vsgi_pending(gic_, vcpu, irq->intid)
                                                         : irq_is_pending(*irq);
                break;
            case IrqReg::SetActive:
            case IrqReg::ClearActive: field = irq->active; break;
            case IrqReg::Priority: field = irq->priority; break;
            case IrqReg::Config: field = irq->level ? 0 : 2; break;  // Int_config[1]: 1 = edge
        }
        const unsigned bits = kind == IrqReg::Priority ? 8 : kind == IrqReg::Config ? 2 : 1;
        value |= field << (i * bits);
    }
    return value;
}

void Kvm::irq_reg_write(uint32_t vcpu, IrqReg kind, uint32_t first, unsigned count, uint64_t value) {
    const unsigned bits = kind == IrqReg::Priority ? 8 : kind == IrqReg::Config ? 2 : 1;
    for (unsigned i = 0; i < count; ++i) {
        VgicIrq* irq = find_irq(vcpu, first + i);
        if (!irq) continue;
        const uint64_t field = (value >> (i * bits)) & ((uint64_t{1} << bits) - 1);
        const bool sgi = irq->intid < kNrSgis, vsgi = sgi && irq->hw;
        if (bits == 1 && !field) continue;  // set/clear registers: a 0 bit has no effect
        switch (kind) {
            case IrqReg::Group:
                irq->group1 = field;  // vgic_mmio_write_group (guest-writable since IIDR rev 2)
                if (vsgi) sync_sgi_config(vcpu, *irq);
                break;
            case IrqReg::SetEnable:  // vgic_mmio_write_senable (a vSGI: its_configure_sgi)
                irq->enabled = true;
                if (vsgi) sync_sgi_config(vcpu, *irq);
                break;
            case IrqReg::ClearEnable:
                irq->enabled = false;
                if (vsgi) sync_sgi_config(vcpu, *irq);
                break;
            case IrqReg::SetPending:  // vgic_mmio_write_spending: a vSGI through irq_set_irqchip_state
                if (vsgi)
                    host_.vsgi_set_pending(gic_, vcpu, irq->intid, true);
                else
                    irq->pending_latch = true;
                break;
            case IrqReg::ClearPending:
                if (vsgi)
                    host_.vsgi_set_pending(gic_, vcpu, irq->intid, false);
                else
                    irq->pending_latch = false;
                break;
            case IrqReg::SetActive:  // vgic_mmio_change_active: "GICv4.1 VSGI ... doesn't track an active state"
                if (!vsgi) irq->active = true;
                break;
            case IrqReg::ClearActive:
                if (!vsgi) irq->active = false;
                break;
            case IrqReg::Priority:  // vgic_mmio_write_priority: VGIC_PRI_BITS = 5
                irq->priority = static_cast<uint8_t>(field & 0xF8);
                if (vsgi) sync_sgi_config(vcpu, *irq);
                break;
            case IrqReg::Config:  // vgic_mmio_write_config: SGIs are RO edge
                if (!sgi) irq->level = !(field & 2);
                break;
        }
        queue(*irq);
    }
}

namespace {
/// The register bank at `offset` (GICD or the SGI frame): kind, INTID of its first byte's first
/// bit, and how many INTIDs an access of `size` covers. nullopt: not a per-IRQ bank.
struct Decoded {
    int kind;
    uint32_t first;
    unsigned count;
};
std::optional<Decoded> decode_bank(uint64_t off, unsigned size) {
    static constexpr Bank banks[] = {{kGicdIgroupr, 1},   {kGicdIsenabler, 1}, {kGicdIcenabler, 1},
                                     {kGicdIspendr, 1},   {kGicdIcpendr, 1},   {kGicdIsactiver, 1},
                                     {kGicdIcactiver, 1}, {kGicdIpriorityr, 8}, {kGicdIcfgr, 2}};
    for (int k = 0; k < 9; ++k) {
        const uint64_t len = 1024ull * banks[k].bits / 8;
        if (off < banks[k].base || off >= banks[k].base + len) continue;
        return Decoded{k, static_cast<uint32_t>((off - banks[k].base) * 8 / banks[k].bits), size * 8 / banks[k].bits};
    }
    return std::nullopt;
}
}  // namespace

uint64_t Kvm::dist_read(uint32_t vcpu, uint64_t off, unsigned size) {
    if (off == GICD_CTLR || off == GICD_TYPER2) return gicd_read(off);
    if (off == kGicdTyper) {
        // vgic_mmio_read_v3_misc: ITLinesNumber, IDbits (16 with an ITS), LPIS.
        const uint32_t nr_irqs = kNrPrivateIrqs + static_cast<uint32_t>(s_.spis.size());
        return ((nr_irqs >> 5) - 1) | ((kIdBitsIts - 1) << 19) | (1u << 17);
    }
    if (off == kGicdIidr) return kKvmGicIidr;
    if (off == kPidr2) return kPidr2Gicv3;
    if (off >= kGicdIrouter + 8 * kNrPrivateIrqs && off < kGicdIrouter + 8 * (kNrPrivateIrqs + s_.spis.size())) {
        // vgic_mmio_read_irouter: Aff2..0 (the upper word: no Aff3, IRM not supported).
        const uint64_t v = s_.spis[(off - kGicdIrouter) / 8 - kNrPrivateIrqs].mpidr;
        return (off & 4) ? 0 : (size == 8 ? v : v & 0xFFFF'FFFF);
    }
    if (auto d = decode_bank(off, size)) {
        if (d->first < kNrPrivateIrqs) return 0;  // with ARE, the private banks are in the redistributors: RAZ/WI
        return irq_reg_read(vcpu, static_cast<IrqReg>(d->kind), d->first, d->count);
    }
    log_.emit(tp::kKvmGicdAccessIgnored, "a GICD register KVM does not implement: RAZ", vcpu, Hex{off}, size);
    return 0;
}

void Kvm::dist_write(uint32_t vcpu, uint64_t off, uint64_t value, unsigned size) {
    if (off == GICD_CTLR) {
        const bool was = s_.dist_enabled;
        gicd_write(off, static_cast<uint32_t>(value));
        if (was || !s_.dist_enabled) return;
        // vgic_mmio_write_v3_misc: "if (!was_enabled && dist->enabled) vgic_kick_vcpus": what was
        // held back is queued now.
        for (VgicCpu& c : s_.cpus) {
            for (VgicIrq& irq : c.sgis) queue(irq);
            for (VgicIrq& irq : c.ppis) queue(irq);
        }
        for (VgicIrq& irq : s_.spis) queue(irq);
        for (auto& [intid, irq] : s_.lpis) queue(irq);
        return;
    }
    if (off >= kGicdIrouter + 8 * kNrPrivateIrqs && off < kGicdIrouter + 8 * (kNrPrivateIrqs + s_.spis.size())) {
        if (off & 4) return;  // the upper word (Aff3) is WI
        VgicIrq& irq = s_.spis[(off - kGicdIrouter) / 8 - kNrPrivateIrqs];
        irq.mpidr = value & 0xFF'FFFF;  // vgic_mmio_write_irouter: IRM is not stored
        const uint32_t target = mpidr_to_vcpu(irq.mpidr);
        irq.target_vcpu = target;  // kvm_mpidr_to_vcpu: none for an unknown affinity
        if (!irq.queued) queue(irq);
        return;
    }
    if (auto d = decode_bank(off, size)) {
        if (d->first < kNrPrivateIrqs) return;
        return irq_reg_write(vcpu, static_cast<IrqReg>(d->kind), d->first, d->count, value);
    }
    log_.emit(tp::kKvmGicdAccessIgnored, "a GICD register KVM does not implement or that is read-only: WI", vcpu,
              Hex{off}, size);
}

uint64_t Kvm::redist_read(uint32_t vcpu, uint64_t off, unsigned size, bool last) {
    if (off == kGicrIidr) return kKvmGicIidr;
    if (off == kGicrTyper || off == kGicrTyper + 4) {
        // vgic_mmio_read_v3r_typer: Affinity[63:32], Processor_Number[23:8], Last[4], PLPIS[0].
        const uint64_t v = (vcpu_mpidr(vcpu) << 32) | (uint64_t(vcpu & 0xFFFF) << 8) | (uint64_t{last} << 4) | 1;
        return off == kGicrTyper ? (size == 8 ? v : v & 0xFFFF'FFFF) : v >> 32;
    }
    if (off == kGicrWaker) return 0;  // RAZ/WI in KVM: never asleep
    if (off == kPidr2) return kPidr2Gicv3;
    if (off == GICR_CTLR || off == GICR_PROPBASER || off == GICR_PENDBASER) return gicr_read(vcpu, off);
    if (off >= kGicrSgiFrame) {
        if (auto d = decode_bank(off - kGicrSgiFrame, size); d && d->first < kNrPrivateIrqs)
            return irq_reg_read(vcpu, static_cast<IrqReg>(d->kind), d->first, d->count);
    }
    return gicr_read(vcpu, off);  // RAZ, logged
}

void Kvm::redist_write(uint32_t vcpu, uint64_t off, uint64_t value, unsigned size) {
    if (off == kGicrWaker) return;
    if (off == GICR_CTLR || off == GICR_PROPBASER || off == GICR_PENDBASER) return gicr_write(vcpu, off, value);
    if (off >= kGicrSgiFrame) {
        if (auto d = decode_bank(off - kGicrSgiFrame, size); d && d->first < kNrPrivateIrqs)
            return irq_reg_write(vcpu, static_cast<IrqReg>(d->kind), d->first, d->count, value);
    }
    gicr_write(vcpu, off, value);  // WI, logged
}

}  // namespace irqdiff::arm::kvm
