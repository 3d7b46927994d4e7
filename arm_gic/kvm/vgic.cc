// KVM vgic core: the guest's redistributors, software LPIs and their pending tables, list
// registers, vCPU load/put/block, and the pending-table save (torvalds/linux
// arch/arm64/kvm/vgic/{vgic.c,vgic-v3.c,vgic-mmio-v3.c,vgic-v4.c}; reference/arm §3).
#include "arm_gic/kvm/kvm.h"

#include <fmt/format.h>

#include <algorithm>

#include "arm_gic/trace_points.h"

namespace irqdiff::arm::kvm {

const char* to_string(VcpuRun r) {
    switch (r) {
        case VcpuRun::Loaded: return "loaded";
        case VcpuRun::Runnable: return "runnable";
        case VcpuRun::Blocked: return "blocked";
        case VcpuRun::Stopped: return "stopped";
    }
    return "?";
}

void Kvm::init(unsigned vcpus) {
    s_.cpus.assign(vcpus, VgicCpu{});
    // kvm_vgic_vcpu_init: each vCPU's SGIs, enabled and edge-triggered, Group 1 (vgic-v3), priority 0.
    for (uint32_t v = 0; v < vcpus; ++v)
        for (uint32_t i = 0; i < kNrSgis; ++i) {
            VgicIrq& irq = s_.cpus[v].sgis[i];
            irq.intid = i;
            irq.target_vcpu = v;
            irq.enabled = true;
            irq.priority = 0;
        }
    // PPIs: disabled, level, Group 1 on a vGICv3, priority 0 (kvm_vgic_vcpu_init).
    for (uint32_t v = 0; v < vcpus; ++v)
        for (uint32_t i = 0; i < kNrPrivateIrqs - kNrSgis; ++i) {
            VgicIrq& irq = s_.cpus[v].ppis[i];
            irq.intid = kNrSgis + i;
            irq.target_vcpu = v;
            irq.priority = 0;
            irq.level = true;
        }
    for (uint32_t v = 0; v < vcpus; ++v) {
        host_.vpe_init(gic_, v);  // its_vpe_irq_domain_alloc -> its_vpe_init
        // vgic_v4_init: request_irq(vpe->irq, vgic_v4_doorbell_handler) for each vPE's doorbell
        cpus_.request_irq(host_.vpe(v).doorbell, host::IrqAction{host::Handler::VpeDoorbell, v});
    }
    // The doorbells' activation (its_vpe_irq_domain_activate): each vPE on the first online CPU,
    // mapped on every ITS at once unless the host must map lazily (gic_requires_eager_mapping: GICv4.0
    // with an ITSList maps when the first vLPI lands on an ITS, its_map_vm).
    for (uint32_t v = 0; v < vcpus; ++v) host_.map_vpe(gic_, v);
    s_.initialized = true;
    log_.emit(tp::kKvmVgicInit, vcpus, to_string(gic_.config().version));
}

// ---- the guest's redistributors (vgic-mmio-v3.c) --------------------------------------------

uint64_t Kvm::gicr_read(uint32_t vcpu, uint64_t offset) {
    const VgicCpu& c = s_.cpus.at(vcpu);
    if (offset == GICR_CTLR) return GicrCtlr::EnableLPIs.make(c.enable_lpis);
    if (offset == GICR_PROPBASER) return s_.propbaser;
    if (offset == GICR_PENDBASER) return c.pendbaser & ~GicrPendbaser::PTZ.kMask;  // vgic_mmio_read_pendbase
    log_.emit(tp::kKvmGicrReadIgnored, "register not modelled in the vGICR: RAZ", vcpu, Hex{offset});
    return 0;
}

void Kvm::gicr_write(uint32_t vcpu, uint64_t offset, uint64_t value) {
    VgicCpu& c = s_.cpus.at(vcpu);
    if (offset == GICR_CTLR) {
        // vgic_mmio_write_v3r_ctlr
        bool enable = GicrCtlr::EnableLPIs.get(value);
        log_.emit(tp::kKvmWriteGicrCtlr, vcpu, enable);
        if (enable && !c.enable_lpis) {
            c.enable_lpis = true;
            enable_lpis(vcpu);
        } else if (!enable && c.enable_lpis) {
            c.enable_lpis = false;
            flush_pending_lpis(vcpu);
        }
    } else if (offset == GICR_PROPBASER || offset == GICR_PENDBASER) {
        // vgic_mmio_write_propbase / _pendbase: ignored while LPIs are enabled.
        const bool prop = offset == GICR_PROPBASER;
        if (c.enable_lpis) {
            log_.emit(prop ? tp::kKvmWriteGicrPropbaserIgnored : tp::kKvmWriteGicrPendbaserIgnored,
                      "written while EnableLPIs = 1 (vgic_mmio_write_pendbase ignores it)", vcpu, Hex{value});
            return;
        }
        (prop ? s_.propbaser : c.pendbaser) = value;
        log_.emit(prop ? tp::kKvmWriteGicrPropbaser : tp::kKvmWriteGicrPendbaser, vcpu, Hex{value});
    } else {
        log_.emit(tp::kKvmGicrWriteIgnored, "register not modelled in the vGICR: WI", vcpu, Hex{offset}, Hex{value});
    }
}

// ---- LPI pending tables in guest memory ------------------------------------------------------

void Kvm::read_guest_pending(uint32_t vcpu, uint32_t intid, bool& bit, uint64_t& byte_addr, uint8_t& byte) const {
    byte_addr = GicrPendbaser::PhysAddr.get_in_place(s_.cpus.at(vcpu).pendbaser) + intid / 8;
    MemRead<uint8_t> r = guest_.read8(byte_addr);
    byte = r.value;
    bit = r.ok() && ((byte >> (intid % 8)) & 1);
}

void Kvm::lpi_sync_pending_status(VgicIrq& irq) {
    // vgic_v3_lpi_sync_pending_status: pending_latch from the target's guest pending table, and a
    // set bit is cleared ("clear consumed data").
    bool bit = false;
    uint64_t addr = 0;
    uint8_t byte = 0;
    read_guest_pending(irq.target_vcpu, irq.intid, bit, addr, byte);
    irq.pending_latch = bit;
    log_.emit(tp::kKvmLpiSyncPendingStatus, irq.intid, irq.target_vcpu, bit);
    if (bit) guest_.write8(addr, static_cast<uint8_t>(byte & ~(1u << (irq.intid % 8))));
    queue(irq);
}

void Kvm::sync_lpi_pending_table(uint32_t vcpu) {
    // its_sync_lpi_pending_table: for every LPI of this vCPU, pending_latch = its bit (an
    // assignment: it may clear), without clearing the table and whether or not it is forwarded.
    for (auto& [intid, irq] : s_.lpis) {
        if (irq.target_vcpu != vcpu) continue;
        bool bit = false;
        uint64_t addr = 0;
        uint8_t byte = 0;
        read_guest_pending(vcpu, intid, bit, addr, byte);
        irq.pending_latch = bit;
        log_.emit(tp::kKvmSyncLpiPendingTable, intid, vcpu, bit, irq.hw);
        queue(irq);
    }
}

void Kvm::enable_lpis(uint32_t vcpu) {
    // vgic_enable_lpis: unless PENDBASER.PTZ, the pending table is read into pending_latch.
    log_.emit(tp::kKvmVgicEnableLpis, vcpu);
    if (!GicrPendbaser::PTZ.get(s_.cpus[vcpu].pendbaser)) sync_lpi_pending_table(vcpu);
    transfer_hook(TransferHook::EnableLpis, vcpu);
}

void Kvm::flush_pending_lpis(uint32_t vcpu) {
    // vgic_flush_pending_lpis: LPIs leave the ap_list; pending_latch is kept, vLPIs stay forwarded.
    // vgic_flush_pending_lpis: LPIs only; the vCPU's SGIs stay queued.
    VgicCpu& c = s_.cpus[vcpu];
    std::vector<uint32_t> keep, dropped;
    for (uint32_t intid : c.ap_list) {
        if (intid < kNrSgis) {
            keep.push_back(intid);
            continue;
        }
        if (auto it = s_.lpis.find(intid); it != s_.lpis.end()) it->second.queued = false;
        dropped.push_back(intid);
    }
    c.ap_list = keep;
    log_.emit(tp::kKvmVgicFlushPendingLpis, vcpu);
    for (uint32_t intid : dropped) put_lpi(intid);  // the ap_list's reference goes (vgic_put_irq)
}

// ---- queueing and list registers (vgic.c, vgic-v3.c) ----------------------------------------

void Kvm::queue(VgicIrq& irq) {
    // vgic_queue_irq_unlock: onto the target's ap_list if the oracle says so, and kick it.
    if (!oracle(irq) || irq.queued) return;
    VgicCpu& c = s_.cpus.at(irq.target_vcpu);
    c.ap_list.push_back(irq.intid);
    irq.queued = true;
    log_.emit(tp::kKvmQueueIrq, irq.intid, irq.target_vcpu, irq.hw);
    kick(irq.target_vcpu);
}

void Kvm::prune(uint32_t vcpu) {
    // vgic_prune_ap_list: drop what the oracle no longer wants here; requeue a retargeted LPI.
    VgicCpu& c = s_.cpus[vcpu];
    std::vector<uint32_t> keep, moved, dropped;
    for (uint32_t intid : c.ap_list) {
        VgicIrq* found = find_irq(vcpu, intid);
        if (!found) continue;
        VgicIrq& irq = *found;
        if (!oracle(irq)) {
            irq.queued = false;
            dropped.push_back(intid);
        } else if (irq.target_vcpu != vcpu) {
            irq.queued = false;
            moved.push_back(intid);
        } else {
            keep.push_back(intid);
        }
    }
    c.ap_list = keep;
    for (uint32_t intid : moved) queue(*find_irq(vcpu, intid));  // an LPI: SGIs never move
    // The ap_list's reference goes with the entry (vgic_put_irq): an LPI whose ITE was freed
    // while it was queued is freed now.
    for (uint32_t intid : dropped) put_lpi(intid);
}

void Kvm::vcpu_enter(uint32_t vcpu) {
    VgicCpu& c = s_.cpus.at(vcpu);
    host_.commit(gic_, vcpu);  // vgic_v4_commit
    // vgic_flush_lr_state: the ap_list sorted by priority (vgic_sort_ap_list), one LR each.
    std::stable_sort(c.ap_list.begin(), c.ap_list.end(), [&](uint32_t a, uint32_t b) {
        return std::pair(find_irq(vcpu, a)->priority, a) < std::pair(find_irq(vcpu, b)->priority, b);
    });
    CpuInterface& cpu = gic_.cpu(vcpu);
    unsigned n = 0;
    for (uint32_t intid : c.ap_list) {
        VgicIrq& irq = *find_irq(vcpu, intid);
        if (!oracle(irq)) continue;
        if (n == cpu.list_registers()) {
            log_.emit(tp::kKvmLrOverflow, vcpu, intid);
            break;
        }
        populate_lr(vcpu, n, irq);
        ++n;
    }
}

void Kvm::populate_lr(uint32_t vcpu, unsigned n, VgicIrq& irq) {
    // vgic_v3_populate_lr: an edge LPI's or SGI's pending state moves into the LR. For a
    // forwarded (hw) LPI or a vPE-owned SGI, HW=1 names hwintid, which KVM sets only for PPIs
    // and SPIs: 0. An active HW=1
    // interrupt is never written pending+active (its pending state is the physical one):
    // allow_pending is false and pending_latch stays for a later entry. A level interrupt keeps
    // its pending_latch (cleared at the fold if the guest consumed it).
    const bool allow_pending = !(irq.hw && irq.active);
    const bool pending = allow_pending && irq_is_pending(irq);
    ListRegister lr;
    lr.status = pending ? (irq.active ? ListRegister::Status::PendingActive : ListRegister::Status::Pending)
                        : ListRegister::Status::Active;
    lr.hw = irq.hw;
    lr.pintid = 0;
    lr.group1 = irq.group1;
    lr.priority = irq.priority;
    lr.vintid = irq.intid;
    if (pending && !irq.level) irq.pending_latch = false;
    gic_.cpu(vcpu).write_lr(n, lr.encode());
    s_.cpus[vcpu].lr_intid[n] = irq.intid;
}

void Kvm::fold_lr(uint32_t vcpu, unsigned n) {
    VgicCpu& c = s_.cpus[vcpu];
    CpuInterface& cpu = gic_.cpu(vcpu);
    uint32_t intid = c.lr_intid[n];
    if (intid == kNoIntid) return;
    ListRegister lr = cpu.lr(n);
    if (VgicIrq* irq = find_irq(vcpu, intid)) {
        irq->active = lr.active();
        if (lr.pending()) irq->pending_latch = true;
        // vgic_v3_fold_lr_state: a level interrupt the guest acknowledged loses its soft pending
        // state; the line level is resampled by whoever drives it.
        if (irq->level && !lr.pending()) irq->pending_latch = false;
    }
    cpu.write_lr(n, 0);
    c.lr_intid[n] = kNoIntid;
}

void Kvm::vcpu_fold(uint32_t vcpu) {
    VgicCpu& c = s_.cpus.at(vcpu);
    for (unsigned n = 0; n < gic_.cpu(vcpu).list_registers(); ++n) {
        c.lr_held[n] = c.lr_intid[n];
        fold_lr(vcpu, n);
    }
    prune(vcpu);
}

void Kvm::vcpu_flush(uint32_t vcpu) {
    VgicCpu& c = s_.cpus.at(vcpu);
    const unsigned lrs = gic_.cpu(vcpu).list_registers();
    bool in_guest = false;  // the LRs still hold what the guest was given: fold them first
    for (unsigned n = 0; n < lrs; ++n) in_guest = in_guest || c.lr_intid[n] != kNoIntid;
    if (in_guest) vcpu_fold(vcpu);
    host_.commit(gic_, vcpu);  // vgic_v4_commit
    std::stable_sort(c.ap_list.begin(), c.ap_list.end(), [&](uint32_t a, uint32_t b) {
        return std::pair(find_irq(vcpu, a)->priority, a) < std::pair(find_irq(vcpu, b)->priority, b);
    });
    std::vector<bool> placed(c.ap_list.size(), false);
    for (size_t i = 0; i < c.ap_list.size(); ++i) {
        VgicIrq& irq = *find_irq(vcpu, c.ap_list[i]);
        for (unsigned n = 0; n < lrs && oracle(irq) && !placed[i]; ++n)
            if (c.lr_held[n] == irq.intid && c.lr_intid[n] == kNoIntid) {
                populate_lr(vcpu, n, irq);
                placed[i] = true;
            }
    }
    unsigned n = 0;
    for (size_t i = 0; i < c.ap_list.size(); ++i) {
        VgicIrq& irq = *find_irq(vcpu, c.ap_list[i]);
        if (placed[i] || !oracle(irq)) continue;
        while (n < lrs && c.lr_intid[n] != kNoIntid) ++n;
        if (n == lrs) {
            log_.emit(tp::kKvmLrOverflow, vcpu, irq.intid);
            break;
        }
        populate_lr(vcpu, n, irq);
    }
    c.lr_held.fill(kNoIntid);
}

void Kvm::vcpu_exit(uint32_t vcpu) {
    // vgic_v3_fold_lr_state: what the guest left in each LR goes back into its vgic_irq.
    for (unsigned n = 0; n < gic_.cpu(vcpu).list_registers(); ++n) fold_lr(vcpu, n);
    prune(vcpu);
}

void Kvm::vcpu_load(uint32_t vcpu) {
    VgicCpu& c = s_.cpus.at(vcpu);
    if (c.run == VcpuRun::Loaded) return;
    // KVM_RUN: the VM's first one maps the vgic's resources (kvm_arch_vcpu_run_pid_change ->
    // kvm_vgic_map_resources), and with them the vSGIs (vgic_v3_map_resources).
    map_resources();
    c.run = VcpuRun::Loaded;
    // vgic_v4_load: the vPE's doorbell affinity to this CPU first (irq_set_affinity: a VMOVP when its
    // redistributor changes; vCPU v runs on pCPU v), then resident with vGrp1En from the (enabled)
    // distributor. A failure is only WARNed by vgic_v3_load, and the vPE stays non-resident.
    if (int rc = host_.set_affinity(gic_, vcpu, vcpu); rc != 0) {
        log_.emit(tp::kKvmVgicV4LoadError, "irq_set_affinity on the vPE doorbell failed", vcpu, rc);
    } else {
        host_.make_resident(gic_, vcpu, vcpu, true);
    }
    log_.emit(tp::kKvmVcpuLoad, vcpu);
}

void Kvm::vcpu_put(uint32_t vcpu, bool need_db) {
    VgicCpu& c = s_.cpus.at(vcpu);
    if (c.run != VcpuRun::Loaded) return;
    c.run = VcpuRun::Runnable;
    // vgic_v4_put: a doorbell only when the vCPU blocks.
    host_.make_non_resident(gic_, vcpu, need_db);
    log_.emit(tp::kKvmVcpuPut, vcpu, need_db, host_.vpe(vcpu).pending_last);
}

void Kvm::vcpu_block(uint32_t vcpu) {
    VgicCpu& c = s_.cpus.at(vcpu);
    if (c.run == VcpuRun::Blocked) return;
    if (c.run == VcpuRun::Stopped) throw std::logic_error("Kvm::vcpu_block: the VMM holds the vCPU");
    vcpu_load(vcpu);  // a vCPU executes its WFI only while it runs
    vcpu_put(vcpu, true);
    bool pending = vcpu_has_pending(vcpu);
    c.run = pending ? VcpuRun::Runnable : VcpuRun::Blocked;
    log_.emit(tp::kKvmVcpuBlock, vcpu, !pending);
}

void Kvm::kick(uint32_t vcpu) {
    VgicCpu& c = s_.cpus.at(vcpu);
    if (c.run != VcpuRun::Blocked) return;
    c.run = VcpuRun::Runnable;
    log_.emit(tp::kKvmVcpuKick, vcpu);
}

bool Kvm::vcpu_has_pending(uint32_t vcpu) const {
    if (host_.vpe(vcpu).pending_last) return true;
    uint8_t pmr = gic_.cpu(vcpu).read_pmr();  // the guest's VMCR.PMR
    for (uint32_t intid : s_.cpus.at(vcpu).ap_list) {
        const VgicIrq* irq = find_irq(vcpu, intid);
        if (irq && irq->enabled && irq_is_pending(*irq) && irq->priority < pmr) return true;
    }
    return false;
}

// ---- the pending-table save (vgic-v3.c) -----------------------------------------------------

const Policy<SaveSide> kSavePolicy{
    "arm.save",
    "arm",
    {{"vpt_read", SaveSide::VptRead}, {"refuse", SaveSide::Refuse}},
    SaveSide::VptRead,
    "how KVM saves forwarded vLPIs: read their VPT bits (5.13), or refuse the ITS save and write pending_latch "
    "(before 5.13)",
    "vpt_read: Linux >= 5.13, 80317fe4a653 vgic_v4_get_vlpi_state, f66b7b151e00 vgic_v3_save_pending_tables, "
    "8082d50f4817 vgic_its_save_itt -EACCES only without GICv4.1; refuse: Linux < 5.13, bd94e7aea403 "
    "vgic_its_save_itt -EACCES for any forwarded ITE"};

int Kvm::save_pending_tables() {
    if (!s_.initialized) return kEnxio;
    for (const VgicCpu& c : s_.cpus)
        if (c.run == VcpuRun::Loaded) {
            log_.emit(tp::kKvmSavePendingTablesError, "a vCPU is running: -EBUSY");
            return kEbusy;
        }
    // Before 5.13 (SaveSide::Refuse) KVM never reads a VPT: a forwarded LPI's bit comes from
    // pending_latch, which the hardware path never sets.
    const bool reads_vpt = gic_.config().v41() && save_ == SaveSide::VptRead;
    // GICv4.1 (f66b7b151e00): unmap every vPE so the VPT is clean (VMAPP {V,Alloc}={0,1}).
    if (reads_vpt)
        for (uint32_t v = 0; v < s_.cpus.size(); ++v) host_.unmap_vpe(gic_, v);
    uint32_t written = 0;
    for (auto& [intid, irq] : s_.lpis) {
        if (irq.target_vcpu == kNoVcpu) continue;  // LPIs without a target vCPU are skipped
        bool is_pending = irq.pending_latch;
        if (irq.hw && reads_vpt) is_pending = host_.read_vpt_bit(gic_, irq.target_vcpu, intid);  // vgic_v4_get_vlpi_state
        bool stored = false;
        uint64_t addr = 0;
        uint8_t byte = 0;
        read_guest_pending(irq.target_vcpu, intid, stored, addr, byte);
        if (stored == is_pending) continue;
        uint8_t mask = static_cast<uint8_t>(1u << (intid % 8));
        guest_.write8(addr, is_pending ? byte | mask : byte & ~mask);
        ++written;
        log_.emit(tp::kKvmSavePendingBit, intid, irq.target_vcpu, is_pending, irq.hw);
    }
    if (reads_vpt)
        for (uint32_t v = 0; v < s_.cpus.size(); ++v) host_.map_vpe(gic_, v);  // map_all_vpes, PTZ=0
    log_.emit(tp::kKvmSavePendingTables, s_.lpis.size(), written);
    return kOk;
}

uint8_t Kvm::prop_of(const VgicIrq& irq) const {
    return static_cast<uint8_t>((irq.priority & 0xFC) | 2 | (irq.enabled ? 1 : 0));  // + Group1 in Linux's map
}

void Kvm::transfer(VgicIrq& irq, const char* where) {
    // The 12df7429213a sequence wherever the policy puts it: under the irq lock, if pending_latch,
    // INT (+VSYNC) makes the vLPI pending in the VPT, pending_latch is cleared, and
    // vgic_queue_irq_unlock communicates the change.
    if (!irq.hw || !irq.pending_latch) return;
    host_.vlpi_set_pending(gic_, irq.host_irq, true);
    irq.pending_latch = false;
    log_.emit(tp::kKvmTransferPending, irq.intid, where);
    queue(irq);
}

void Kvm::vm_start_transfer() {
    // The rejected VM-start call exists only where arm.transfer puts the transfer.
    if (!transfers_at(transfer_, TransferHook::VmStart)) return;
    log_.emit(tp::kKvmVmStartTransfer, s_.lpis.size());
    transfer_hook(TransferHook::VmStart);
}

const VgicIrq* Kvm::lpi(uint32_t intid) const {
    auto it = s_.lpis.find(intid);
    return it == s_.lpis.end() ? nullptr : &it->second;
}

}  // namespace irqdiff::arm::kvm
