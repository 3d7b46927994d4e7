// KVM's SGIs and GICv4.1 direct vSGIs (torvalds/linux arch/arm64/kvm/vgic/{vgic-mmio-v3.c,
// vgic-mmio.c,vgic-v4.c,vgic-v3.c}; reference/kernel_history A1, A6; reference/arm §1.2-§1.3):
// the distributor's GICD_CTLR.nASSGIreq, vgic_v4_configure_vsgis at a change of it and at the
// VM's first KVM_RUN, the sender's trapped ICC_SGI1R_EL1 (vgic_v3_dispatch_sgi), and the
// userspace accessors QEMU saves and restores a vCPU's SGIs with (GICR_ISPENDR0, ISENABLER0,
// IPRIORITYR). A vSGI has no active state (vgic_mmio_change_active: "GICv4.1 VSGI feature doesn't
// track an active state"): the model keeps none for it and migrates none.
#include <fmt/format.h>

#include "arm_gic/kvm/kvm.h"
#include "arm_gic/trace_points.h"

namespace irqdiff::arm::kvm {

const Policy<VsgiIspendr> kVsgiIspendrPolicy{
    "arm.vsgi_ispendr",
    "arm",
    {{"fixed", VsgiIspendr::Fixed}, {"latch_only", VsgiIspendr::LatchOnly}},
    VsgiIspendr::Fixed,
    "what a userspace GICR_ISPENDR0/ICPENDR0 write does to an SGI the GICv4.1 vPE owns (irq->hw): reach the vSGI, "
    "or set pending_latch only (and ICPENDR0 ignored)",
    "fixed: 7b95382f9651 \"KVM: arm64: vgic-v4: Restore pending state on host userspace write\" (Marc Zyngier, Dec "
    "2023, 6.8, stable 5.10+; Kunkun Jiang's report \"GICv4.1: vSGI remains pending across the guest reset\") with "
    "13886f344445 / 561851424d93 (Oliver Upton, common ISPENDR/ICPENDR accessors); latch_only: before them "
    "(vgic_v3_uaccess_write_pending, vgic_mmio_uaccess_write_wi). reference/kernel_history A6"};

namespace {
constexpr uint64_t sgi_reg(uint64_t offset) { return kGicrSgiFrame + offset; }
}  // namespace

VgicIrq* Kvm::find_irq(uint32_t vcpu, uint32_t intid) {
    if (intid < kNrSgis) return vcpu < s_.cpus.size() ? &s_.cpus[vcpu].sgis[intid] : nullptr;
    if (intid < kNrPrivateIrqs) return vcpu < s_.cpus.size() ? &s_.cpus[vcpu].ppis[intid - kNrSgis] : nullptr;
    if (intid < kNrPrivateIrqs + s_.spis.size()) return &s_.spis[intid - kNrPrivateIrqs];
    auto it = s_.lpis.find(intid);
    return it == s_.lpis.end() ? nullptr : &it->second;
}

const VgicIrq* Kvm::find_irq(uint32_t vcpu, uint32_t intid) const {
    return const_cast<Kvm*>(this)->find_irq(vcpu, intid);
}

// ---- GICD_CTLR (vgic-mmio-v3.c) -------------------------------------------------------------------

uint32_t Kvm::gicd_read(uint64_t offset) const {
    if (offset == GICD_CTLR)
        return static_cast<uint32_t>(GicdCtlr::EnableGrp1.make(s_.dist_enabled) | GicdCtlr::ARE.make(1) |
                                     GicdCtlr::DS.make(1) | GicdCtlr::nASSGIreq.make(s_.nassgireq));
    if (offset == GICD_TYPER2) return static_cast<uint32_t>(GicdTyper2::nASSGIcap.make(gic_.config().v41()));
    return 0;
}

void Kvm::gicd_write(uint64_t offset, uint32_t value) {
    if (offset != GICD_CTLR) return;  // GICD_TYPER2 and the rest: "at best for documentation purposes"
    const bool was_enabled = s_.dist_enabled, is_hwsgi = s_.nassgireq;
    s_.dist_enabled = GicdCtlr::EnableGrp1.get(value);
    bool req = GicdCtlr::nASSGIreq.get(value) && gic_.config().v41();  // not a GICv4.1? No HW SGIs
    if (was_enabled && s_.dist_enabled) req = is_hwsgi;               // dist stays enabled: nASSGIreq is RO
    s_.nassgireq = req;
    log_.emit(tp::kKvmWriteGicdCtlr, s_.dist_enabled, s_.nassgireq, false);
    if (is_hwsgi != s_.nassgireq) configure_vsgis();
}

void Kvm::gicd_uaccess_write(uint64_t offset, uint32_t value) {
    if (offset != GICD_CTLR) return;
    s_.dist_enabled = GicdCtlr::EnableGrp1.get(value);
    s_.nassgireq = GicdCtlr::nASSGIreq.get(value) && gic_.config().v41();
    log_.emit(tp::kKvmWriteGicdCtlr, s_.dist_enabled, s_.nassgireq, true);
}

// ---- the vSGIs (vgic-v4.c, vgic-v3.c) -------------------------------------------------------------

void Kvm::map_resources() {
    if (s_.ready) return;
    s_.ready = true;
    log_.emit(tp::kKvmMapResources, s_.nassgireq);
    if (gic_.config().v41()) configure_vsgis();
}

void Kvm::configure_vsgis() {
    for (uint32_t v = 0; v < s_.cpus.size(); ++v) s_.nassgireq ? enable_vsgis(v) : disable_vsgis(v);
}

void Kvm::sync_sgi_config(uint32_t vcpu, const VgicIrq& irq) {
    host_.vsgi_configure(gic_, vcpu, irq.intid, irq.priority, true, irq.enabled);
}

void Kvm::enable_vsgis(uint32_t vcpu) {
    for (VgicIrq& irq : s_.cpus.at(vcpu).sgis) {
        if (irq.hw) continue;
        irq.hw = true;  // host_irq: the vPE's sgi_domain IRQ for this SGI (vPEID = vCPU, vINTID = SGI)
        sync_sgi_config(vcpu, irq);  // irq_domain_activate_irq -> its_sgi_irq_domain_activate
        const bool pending = irq.pending_latch;
        host_.vsgi_set_pending(gic_, vcpu, irq.intid, pending);  // "Transfer pending state"
        irq.pending_latch = false;
        log_.emit(tp::kKvmEnableVsgi, vcpu, irq.intid, pending);
    }
}

void Kvm::disable_vsgis(uint32_t vcpu) {
    for (VgicIrq& irq : s_.cpus.at(vcpu).sgis) {
        if (!irq.hw) continue;
        irq.hw = false;
        irq.pending_latch = host_.vsgi_pending(gic_, vcpu, irq.intid);  // irq_get_irqchip_state
        host_.vsgi_deactivate(gic_, vcpu, irq.intid, irq.priority, true);
        // vgic_v4_disable_vsgis queues nothing: the latch waits for the next change of this SGI.
        log_.emit(tp::kKvmDisableVsgi, vcpu, irq.intid, irq.pending_latch);
    }
}

void Kvm::dispatch_sgi(uint32_t sender, uint32_t target, unsigned sgi) {
    VgicIrq& irq = s_.cpus.at(target).sgis.at(sgi);
    log_.emit(tp::kKvmDispatchSgi, sender, target, sgi, irq.hw);
    if (irq.hw) {
        host_.vsgi_set_pending(gic_, target, sgi, true);  // "HW SGI? Ask the GIC to inject it"
        return;
    }
    irq.pending_latch = true;
    queue(irq);
}

// ---- userspace accesses to the SGI_base frame (vgic-mmio.c, vgic-mmio-v3.c) ------------------------

uint32_t Kvm::sgi_uaccess_read(uint32_t vcpu, uint64_t offset) {
    VgicCpu& c = s_.cpus.at(vcpu);
    uint32_t value = 0;
    if (offset == sgi_reg(GICR_ISPENDR0)) {
        for (VgicIrq& irq : c.sgis) {
            bool state = irq.pending_latch;
            if (irq.hw) state = host_.vsgi_pending(gic_, vcpu, irq.intid);  // vgic_v3_uaccess_read_pending
            value |= uint32_t{state} << irq.intid;
        }
    } else if (offset == sgi_reg(GICR_ISENABLER0) || offset == sgi_reg(GICR_ICENABLER0)) {
        for (const VgicIrq& irq : c.sgis) value |= uint32_t{irq.enabled} << irq.intid;
    } else if (offset >= sgi_reg(GICR_IPRIORITYR0) && offset < sgi_reg(GICR_IPRIORITYR0) + kNrSgis) {
        const uint32_t first = static_cast<uint32_t>(offset - sgi_reg(GICR_IPRIORITYR0));
        for (uint32_t b = 0; b < 4 && first + b < kNrSgis; ++b) value |= uint32_t{c.sgis[first + b].priority} << (8 * b);
    }
    log_.emit(tp::kKvmSgiUaccessRead, vcpu, Hex{offset}, Hex{value});
    return value;
}

void Kvm::sgi_uaccess_write(uint32_t vcpu, uint64_t offset, uint32_t value) {
    VgicCpu& c = s_.cpus.at(vcpu);
    const bool fixed = s_.vsgi_ispendr == VsgiIspendr::Fixed;
    log_.emit(tp::kKvmSgiUaccessWrite, vcpu, Hex{offset}, Hex{value}, fixed ? "fixed" : "latch_only");
    if (offset == sgi_reg(GICR_ISENABLER0) || offset == sgi_reg(GICR_ICENABLER0)) {
        // vgic_uaccess_write_senable / _cenable: the vgic_irq only (a vSGI's hardware enable is
        // synced when KVM hands it to the vPE).
        const bool set = offset == sgi_reg(GICR_ISENABLER0);
        for (VgicIrq& irq : c.sgis) {
            if (!((value >> irq.intid) & 1)) continue;
            irq.enabled = set;
            if (set) queue(irq);
        }
    } else if (offset == sgi_reg(GICR_ISPENDR0)) {
        // vgic_v3_uaccess_write_pending: pending_latch = the bit, for every SGI (a 0 clears).
        for (VgicIrq& irq : c.sgis) {
            irq.pending_latch = (value >> irq.intid) & 1;
            if (irq.hw && fixed) {
                // 7b95382f9651: "always writing out the pending_latch value to the HW".
                host_.vsgi_set_pending(gic_, vcpu, irq.intid, irq.pending_latch);
                irq.pending_latch = false;
            } else if (irq.hw && irq.pending_latch) {
                log_.emit(tp::kKvmUaccessLatchOnHwVsgi, vcpu, irq.intid);
            }
            if (irq.pending_latch) queue(irq);
        }
    } else if (offset == sgi_reg(GICR_ICPENDR0)) {
        // Before 561851424d93 a userspace ICPENDR0 write is ignored (vgic_mmio_uaccess_write_wi);
        // since, it clears like the guest's, a vSGI in the hardware ("clear the pending state for
        // SGIs from the ITS").
        if (!fixed) return;
        for (VgicIrq& irq : c.sgis) {
            if (!((value >> irq.intid) & 1)) continue;
            if (irq.hw)
                host_.vsgi_set_pending(gic_, vcpu, irq.intid, false);
            else
                irq.pending_latch = false;
        }
    } else if (offset >= sgi_reg(GICR_IPRIORITYR0) && offset < sgi_reg(GICR_IPRIORITYR0) + kNrSgis) {
        // vgic_mmio_write_priority (no separate userspace accessor): a vSGI's new priority goes to
        // the vPE (vgic_update_vsgi -> its_prop_update_vsgi).
        const uint32_t first = static_cast<uint32_t>(offset - sgi_reg(GICR_IPRIORITYR0));
        for (uint32_t b = 0; b < 4 && first + b < kNrSgis; ++b) {
            VgicIrq& irq = c.sgis[first + b];
            irq.priority = static_cast<uint8_t>(value >> (8 * b));
            if (irq.hw) sync_sgi_config(vcpu, irq);
        }
    }
}

}  // namespace irqdiff::arm::kvm
