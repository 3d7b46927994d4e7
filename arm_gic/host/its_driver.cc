#include "arm_gic/host/its_driver.h"

#include <fmt/format.h>

#include "arm_gic/trace_points.h"

namespace irqdiff::arm::host {

namespace {

constexpr uint64_t kQueueBytes = 0x1'0000;
constexpr uint64_t kDeviceTableStride = 0x4'0000;
constexpr uint64_t kIttStride = 0x1'0000;
constexpr uint64_t kVptStride = 0x1'0000;
constexpr unsigned kPollLimit = 1000;  // its_wait_vpt_parse_complete's ~1 s, in reads

uint8_t bits_for(uint32_t count) {
    uint8_t bits = 1;
    while ((uint64_t{1} << bits) < count) ++bits;
    return bits;
}

}  // namespace

void ItsDriver::init(Gic& gic) {
    const bool v41 = gic.config().v41();
    cwriter_.assign(gic.its_count(), 0);
    vlpi_count_.assign(gic.its_count(), 0);
    its_list_map_ = 0;
    has_rvpeid_ = v41;
    for (unsigned i = 0; i < gic.its_count(); ++i) {
        Its& its = gic.its(i);
        // its_probe_one: a GICv4 ITS without GITS_TYPER.VMOVP needs the ITSList (its_compute_its_list_map
        // gives it an ITS number; the model's is the ITS index).
        uint64_t typer = its.read64(GITS_TYPER);
        if (GitsTyper::Virtual.get(typer) && !GitsTyper::VMOVP.get(typer)) its_list_map_ |= uint16_t(1u << i);
        GitsBaser device, collection, vpe;
        device.valid = collection.valid = vpe.valid = true;
        device.page_size = vpe.page_size = GitsBaser::kPage64K;
        device.size = 3;
        device.phys_addr = HostLayout::kDeviceTable + i * kDeviceTableStride;
        collection.page_size = GitsBaser::kPage4K;
        collection.phys_addr = HostLayout::kCollectionTable + i * 0x1000;
        vpe.size = 1;
        vpe.phys_addr = HostLayout::kVpeTable;  // GITS_TYPER.SVPET: one table for every ITS
        its.write64(gits_baser(Its::kBaserDevice), device.encode());
        its.write64(gits_baser(Its::kBaserCollection), collection.encode());
        its.write64(gits_baser(Its::kBaserVpe), vpe.encode());
        its.write64(GITS_CBASER, GitsCbaser::Valid.make(1) | (HostLayout::kCmdQueue + i * kQueueBytes) |
                                     GitsCbaser::Size.make(kQueueBytes / 4096 - 1));
        its.write64(GITS_CWRITER, 0);
        its.write(GITS_CTLR, GitsCtlr::Enabled.make(1), 4);
    }
    for (unsigned r = 0; r < gic.rd_count(); ++r) {
        Redistributor& rd = gic.rd(r);
        rd.write64(GICR_PROPBASER, HostLayout::kPropTable | GicrPropbaser::IDbits.make(HostLayout::kIdBits - 1));
        rd.write64(GICR_PENDBASER, (HostLayout::kPendTables + r * 0x1'0000ull) | GicrPendbaser::PTZ.make(1));
        rd.write(GICR_CTLR, GicrCtlr::EnableLPIs.make(1), 4);
        if (v41) {
            // The redistributors share the ITSs' vPE table (allocate_vpe_l1_table / SVPET).
            Vpropbaser41 v;
            v.valid = true;
            v.entry_size = Vpte::kBytes / 8 - 1;
            v.page_size = GitsBaser::kPage64K;
            v.addr = HostLayout::kVpeTable;
            v.size = 1;
            rd.write64(kGicrVlpiFrame + GICR_VPROPBASER, v.encode());
        }
        for (unsigned i = 0; i < gic.its_count(); ++i)
            send(gic, i, build::mapc(static_cast<uint16_t>(r), static_cast<uint16_t>(r), true));
    }
    for (unsigned i = 0; i < gic.its_count(); ++i) send(gic, i, build::sync(0));
}

void ItsDriver::send(Gic& gic, unsigned its, const ItsCommand& c) {
    uint8_t bytes[ItsCommand::kBytes];
    c.encode(bytes);
    uint64_t slot = cwriter_[its];
    gic.memory().write_bytes(HostLayout::kCmdQueue + its * kQueueBytes + slot, bytes);
    cwriter_[its] = (slot + ItsCommand::kBytes) % kQueueBytes;
    Its& hw = gic.its(its);
    hw.write64(GITS_CWRITER, cwriter_[its]);
    // its_wait_for_range_completion: if the queue stalled (policy arm.its_command_error=stall and a
    // command the hardware refused), Linux reports "ITS queue timeout" and carries on; the queue
    // stays stalled, as it would on hardware.
    if (hw.stalled())
        gic.log().emit(tp::kHostItsQueueTimeoutError, "the host ITS stalled on a driver command", its, Hex{c.opcode()});
}

uint32_t ItsDriver::alloc_lpi(Gic& gic, uint8_t prop) {
    uint32_t lpi = next_lpi_++;
    gic.memory().write8(HostLayout::kPropTable + (lpi - kFirstLpiIntid), prop);
    return lpi;
}

uint32_t ItsDriver::add_device(Gic& gic, uint32_t vectors) {
    uint32_t id = next_device_++;
    uint64_t itt = HostLayout::kItts + uint64_t{id - 0x100} * kIttStride;
    send(gic, 0, build::mapd(id, static_cast<uint8_t>(bits_for(vectors) - 1), itt, true));
    gic.log().emit(tp::kHostItsAddDevice, id, vectors);
    return id;
}

int ItsDriver::request_irq(Gic& gic, uint32_t device_id, uint32_t event_id) {
    uint32_t lpi = alloc_lpi(gic, HostLayout::kDefaultProp);
    send(gic, 0, build::mapti(device_id, event_id, lpi, 0));
    irqs_.push_back(HostIrq{device_id, event_id, lpi, false, 0, 0});
    int irq = static_cast<int>(irqs_.size() - 1);
    gic.log().emit(tp::kHostRequestIrq, irq, device_id, event_id, lpi);
    return irq;
}

void ItsDriver::free_irq(Gic& gic, int host_irq) {
    HostIrq& h = irqs_.at(static_cast<size_t>(host_irq));
    send(gic, 0, build::discard(h.device_id, h.event_id));
    if (h.forwarded) send(gic, 0, build::vsync(h.vpeid));
    h.forwarded = false;
    gic.log().emit(tp::kHostFreeIrq, host_irq, h.lpi);
}

void ItsDriver::vpe_init(Gic& gic, uint32_t vpeid) {
    if (vpes_.size() <= vpeid) vpes_.resize(vpeid + 1);
    HostVpe& v = vpes_[vpeid];
    v.vpeid = vpeid;
    v.vpt = HostLayout::kVpts + vpeid * kVptStride;  // zeroed, like its_allocate_pending_table
    v.rd = kFirstOnlineCpu;
    // vgic_v4_init: the doorbell stays enabled on 4.1; on 4.0 it is IRQ_NOAUTOEN.
    uint8_t prop = gic.config().v41() ? HostLayout::kDefaultProp : static_cast<uint8_t>(HostLayout::kDefaultProp & ~1);
    v.doorbell = alloc_lpi(gic, prop);
    v.doorbell_enabled = gic.config().v41();
    gic.log().emit(tp::kHostVpeInit, vpeid, v.rd, Hex{v.vpt}, v.doorbell);
}

void ItsDriver::send_vmapp(Gic& gic, unsigned its, HostVpe& v, bool valid) {
    // its_build_vmapp_cmd: GICv4.0's VMAPP is vPEID, V, RDbase, VPT_addr and VPT_size only; Alloc,
    // PTZ, VCONF_addr and Default_Doorbell are written on GICv4.1 alone (IHI 0069 VMAPP). vmapp_count
    // is kept on both (1442ee0011983); on 4.1 it gives Alloc: the first map and the last unmap.
    const bool v41 = gic.config().v41();
    build::Vmapp m;
    m.vpeid = v.vpeid;
    m.valid = valid;
    m.alloc = false;
    m.ptz = false;
    m.vconf_addr = 0;
    m.default_doorbell = 0;
    m.vpt_size = 0;
    if (!valid) {
        --v.vmapp_count;
        m.alloc = v41 && v.vmapp_count == 0;  // Alloc on the last unmap: cleans the VPT (4.1)
    } else {
        m.rdbase = static_cast<uint16_t>(v.rd);
        m.vpt_addr = v.vpt;
        m.vpt_size = HostLayout::kIdBits - 1;
        const bool first = v.vmapp_count++ == 0;
        if (v41) {
            m.alloc = first;
            m.ptz = false;  // c21bc068cdbe "Drop the setting of PTZ altogether"
            m.vconf_addr = HostLayout::kVprop;
            m.default_doorbell = v.doorbell;
        }
    }
    send(gic, its, build::vmapp(m));  // a 4.1 VMAPP V=0 is self-synchronizing: no VSYNC
}

void ItsDriver::map_vpe(Gic& gic, uint32_t vpeid) {
    HostVpe& v = vpes_.at(vpeid);
    // its_vpe_irq_domain_activate: col_idx is the first online CPU, whether the mapping is eager or
    // lazy (e6c24e2d05bb moved this out of its_map_vm).
    v.rd = kFirstOnlineCpu;
    if (!eager_mapping()) return;  // VMAPP on demand: its_map_vm
    for (unsigned i = 0; i < gic.its_count(); ++i) {
        send_vmapp(gic, i, v, true);
        send(gic, i, build::vinvall(vpeid));
    }
}

void ItsDriver::unmap_vpe(Gic& gic, uint32_t vpeid) {
    HostVpe& v = vpes_.at(vpeid);
    if (!eager_mapping()) return;  // its_vpe_irq_domain_deactivate: lazily mapped vPEs go with its_unmap_vm
    for (unsigned i = 0; i < gic.its_count() && v.vmapp_count > 0; ++i) send_vmapp(gic, i, v, false);
}

void ItsDriver::map_vm(Gic& gic, unsigned its) {
    // its_map_vm (GICv4.0 with an ITSList): the VM's vPEs are mapped on an ITS when its first vLPI
    // lands there, each to its current col_idx.
    if (eager_mapping()) return;
    if (++vlpi_count_[its] != 1) return;
    for (HostVpe& v : vpes_) {
        send_vmapp(gic, its, v, true);
        send(gic, its, build::vinvall(v.vpeid));
    }
    gic.log().emit(tp::kHostItsMapVm, its, vpes_.size());
}

void ItsDriver::unmap_vm(Gic& gic, unsigned its) {
    // its_unmap_vm: after the last vLPI on that ITS, the VM's vPEs are unmapped from it.
    if (eager_mapping()) return;
    if (vlpi_count_[its] == 0 || --vlpi_count_[its] != 0) return;
    for (HostVpe& v : vpes_) send_vmapp(gic, its, v, false);
    gic.log().emit(tp::kHostItsUnmapVm, its, vpes_.size());
}

int ItsDriver::set_affinity(Gic& gic, uint32_t vpeid, unsigned cpu) {
    HostVpe& v = vpes_.at(vpeid);
    // 1442ee0011983 "Don't allow a VMOVP on a dying VPE": a vPE no ITS maps is not moved; with lazy
    // mapping that is not an error (e6c24e2d05bb), and col_idx stays where it is.
    if (v.vmapp_count == 0) return eager_mapping() ? kEinval : 0;
    // af9acbfc2c4b: the requested CPU is taken (vgic_v4_load asks for exactly the loading CPU; the
    // vPE table's affinity group only decides between several), and only a change is a VMOVP.
    const unsigned from = v.rd;
    if (from == cpu) return 0;
    v.rd = cpu;
    gic.log().emit(tp::kHostVpeSetAffinity, vpeid, from, cpu);
    send_vmovp(gic, v);
    // its_vpe_db_proxy_move: GICv4.1 has no proxy; GICv4.0 with DirectLPI clears a doorbell still
    // pending on the old redistributor (GICR_CLRLPIR, then wait_for_syncr).
    if (!gic.config().v41()) {
        gic.rd(from).write64(GICR_CLRLPIR, GicrClrlpir::pINTID.make(v.doorbell));
        (void)gic.rd(from).read64(GICR_SYNCR);
    }
    return 0;
}

void ItsDriver::send_vmovp(Gic& gic, const HostVpe& v) {
    // its_build_vmovp_cmd: SEQ_NUM, ITSList, vPEID, RDbase; on GICv4.1 also DB=1 and the vPE's
    // doorbell as Default_Doorbell. Each is followed by a VSYNC (its_send_single_vcommand).
    const bool v41 = gic.config().v41();
    const uint32_t db = v41 ? v.doorbell : 0;
    if (its_list_map_ == 0) {
        // GITS_TYPER.VMOVP everywhere: a VMOVP on the first ITS is enough, SEQ_NUM and ITSList 0.
        send(gic, 0, build::vmovp(v.vpeid, static_cast<uint16_t>(v.rd), 0, 0, v41, db));
        send(gic, 0, build::vsync(v.vpeid));
        return;
    }
    // With the ITSList every ITS that maps the VM sees the VMOVP, with one SEQ_NUM (vmovp_lock):
    // get_its_list and require_its_list_vmovp.
    uint16_t its_list = 0;
    for (unsigned i = 0; i < gic.its_count(); ++i)
        if (vlpi_count_[i]) its_list |= uint16_t(1u << i);
    const uint16_t seq = vmovp_seq_++;
    for (unsigned i = 0; i < gic.its_count(); ++i) {
        if (!has_rvpeid_ && !vlpi_count_[i]) continue;
        send(gic, i, build::vmovp(v.vpeid, static_cast<uint16_t>(v.rd), seq, its_list, v41, db));
        send(gic, i, build::vsync(v.vpeid));
    }
}

void ItsDriver::map_vlpi(Gic& gic, int host_irq, uint32_t vpeid, uint32_t vintid, uint8_t prop) {
    HostIrq& h = irqs_.at(static_cast<size_t>(host_irq));
    const bool v41 = gic.config().v41();
    // On 4.1 the vPE's default doorbell is used; on 4.0 each vLPI names the vPE's doorbell.
    uint32_t db = v41 ? kNoDoorbell : vpes_.at(vpeid).doorbell;
    gic.memory().write8(HostLayout::kVprop + (vintid - kFirstLpiIntid), prop);
    if (!h.forwarded) {
        map_vm(gic, 0);  // its_map_vm: nothing to do with eager mapping
        send(gic, 0, build::discard(h.device_id, h.event_id));
        send(gic, 0, build::vmapti(h.device_id, h.event_id, vpeid, vintid, db));
    } else {
        // its_build_vmovi_cmd sets D (doorbell valid) on every version; on 4.1 the doorbell is 1023.
        send(gic, 0, build::vmovi(h.device_id, h.event_id, vpeid, true, db));
    }
    send(gic, 0, build::vsync(vpeid));
    h.forwarded = true;
    h.vpeid = vpeid;
    h.vintid = vintid;
    gic.log().emit(tp::kHostItsMapVlpi, host_irq, h.lpi, vpeid, vintid);
}

void ItsDriver::unmap_vlpi(Gic& gic, int host_irq) {
    HostIrq& h = irqs_.at(static_cast<size_t>(host_irq));
    if (!h.forwarded) return;
    send(gic, 0, build::discard(h.device_id, h.event_id));
    send(gic, 0, build::vsync(h.vpeid));
    send(gic, 0, build::mapti(h.device_id, h.event_id, h.lpi, 0));
    h.forwarded = false;
    gic.log().emit(tp::kHostItsUnmapVlpi, host_irq, h.lpi, h.vintid);
    unmap_vm(gic, 0);  // its_vlpi_unmap: the VM may leave this ITS (lazy mapping only)
}

void ItsDriver::vlpi_set_pending(Gic& gic, int host_irq, bool pending) {
    const HostIrq& h = irqs_.at(static_cast<size_t>(host_irq));
    send(gic, 0, pending ? build::int_(h.device_id, h.event_id) : build::clear(h.device_id, h.event_id));
    if (h.forwarded) send(gic, 0, build::vsync(h.vpeid));
}

void ItsDriver::prop_update_vlpi(Gic& gic, int host_irq, uint8_t prop) {
    const HostIrq& h = irqs_.at(static_cast<size_t>(host_irq));
    if (!h.forwarded) return;
    gic.memory().write8(HostLayout::kVprop + (h.vintid - kFirstLpiIntid), prop);
    send(gic, 0, build::inv(h.device_id, h.event_id));
    send(gic, 0, build::vsync(h.vpeid));
}

void ItsDriver::vsgi_configure(Gic& gic, uint32_t vpeid, unsigned sgi, uint8_t priority, bool group1, bool enable) {
    send(gic, 0, build::vsgi(vpeid, static_cast<uint8_t>(sgi), priority, group1, false, enable));
    send(gic, 0, build::vsync(vpeid));
}

void ItsDriver::vsgi_set_pending(Gic& gic, uint32_t vpeid, unsigned sgi, bool pending) {
    if (pending) {
        gic.its(0).write64(GITS_SGIR, GitsSgir::vPEID.make(vpeid) | GitsSgir::vINTID.make(sgi));
        return;
    }
    send(gic, 0, build::vsgi(vpeid, static_cast<uint8_t>(sgi), 0, false, true, false));
    send(gic, 0, build::vsync(vpeid));
}

bool ItsDriver::vsgi_pending(Gic& gic, uint32_t vpeid, unsigned sgi) {
    Redistributor& rd = gic.rd(vpes_.at(vpeid).rd);
    rd.write64(kGicrVlpiFrame + GICR_VSGIR, GicrVsgir::vPEID.make(vpeid));
    uint64_t status = rd.read(kGicrVlpiFrame + GICR_VSGIPENDR, 4);  // Busy reads 0 in the model
    return (GicrVsgipendr::Pending.get(status) >> sgi) & 1;
}

void ItsDriver::vsgi_deactivate(Gic& gic, uint32_t vpeid, unsigned sgi, uint8_t priority, bool group1) {
    vsgi_configure(gic, vpeid, sgi, priority, group1, false);
    vsgi_set_pending(gic, vpeid, sgi, false);
}

void ItsDriver::invall_vpe(Gic& gic, uint32_t vpeid) {
    for (unsigned i = 0; i < gic.its_count(); ++i)
        if (gic.its(i).maps_vpe(vpeid)) send(gic, i, build::vinvall(vpeid));
}

void ItsDriver::make_resident(Gic& gic, uint32_t vpeid, unsigned cpu, bool group1_enabled) {
    HostVpe& v = vpes_.at(vpeid);
    v.resident_rd = cpu;  // the loading CPU's redistributor (gic_data_rdist_vlpi_base)
    Redistributor& rd = gic.rd(cpu);
    if (gic.config().v41()) {
        Vpendbaser41 p;
        p.valid = true;
        p.vgrp1en = group1_enabled;
        p.vpeid = static_cast<uint16_t>(vpeid);
        rd.write64(kGicrVlpiFrame + GICR_VPENDBASER, p.encode());
    } else {
        rd.write64(kGicrVlpiFrame + GICR_VPROPBASER,
                   HostLayout::kVprop | Vpropbaser40::IDbits.make(HostLayout::kIdBits - 1));
        Vpendbaser40 p;
        p.valid = true;
        p.pending_last = true;
        p.vpt_addr = v.vpt;
        rd.write64(kGicrVlpiFrame + GICR_VPENDBASER, p.encode());
        // its_make_vpe_resident on 4.0: disable_irq_nosync(doorbell); and vgic_v4_load clears a
        // pending doorbell (irq_set_irqchip_state -> its_vpe_set_irqchip_state: DirectLPI
        // GICR_CLRLPIR on col_idx's redistributor, then wait_for_syncr).
        if (v.doorbell_enabled) set_doorbell_enabled(gic, vpeid, false);
        gic.rd(v.rd).write64(GICR_CLRLPIR, GicrClrlpir::pINTID.make(v.doorbell));
        (void)gic.rd(v.rd).read64(GICR_SYNCR);
    }
    v.resident = true;
    v.ready = false;
}

void ItsDriver::commit(Gic& gic, uint32_t vpeid) {
    HostVpe& v = vpes_.at(vpeid);
    if (!v.resident || v.ready) return;
    Redistributor& rd = gic.rd(v.resident_rd);
    unsigned reads = 0;
    while (Vpendbaser41::Dirty.get(rd.read64(kGicrVlpiFrame + GICR_VPENDBASER)) && ++reads < kPollLimit) {
    }
    if (reads == kPollLimit)
        gic.log().emit(tp::kHostItsCommitVpeError, "ITS virtual pending table not cleaning", vpeid);
    v.ready = true;
}

uint64_t ItsDriver::clear_vpend_valid(Gic& gic, const HostVpe& v, uint64_t clr, uint64_t set) {
    // its_clear_vpend_valid: write back what GICR_VPENDBASER reads, Valid and `clr` cleared, `set` set
    // (Valid, PendingLast and Dirty sit at the same bits in the 4.0 and 4.1 layouts), then poll
    // Dirty; if it never clears, PendingLast is taken as 1.
    Redistributor& rd = gic.rd(v.resident_rd);
    const uint64_t reg = kGicrVlpiFrame + GICR_VPENDBASER;
    uint64_t val = rd.read64(reg);
    val &= ~(Vpendbaser41::Valid.kMask | clr);
    val |= set;
    rd.write64(reg, val);
    unsigned reads = 0;
    do {
        val = rd.read64(reg);
    } while (Vpendbaser41::Dirty.get(val) && ++reads < kPollLimit);
    if (Vpendbaser41::Dirty.get(val)) {
        gic.log().emit(tp::kHostItsDescheduleVpeError, "ITS virtual pending table not cleaning", v.vpeid);
        val |= Vpendbaser41::PendingLast.kMask;
    }
    return val;
}

void ItsDriver::make_non_resident(Gic& gic, uint32_t vpeid, bool doorbell) {
    HostVpe& v = vpes_.at(vpeid);
    if (!v.resident) return;
    if (gic.config().v41()) {
        // its_vpe_4_1_deschedule: blocking asks for a doorbell with PendingLast clear and DB set, and
        // reads PendingLast back ("if we read-back PendingLast clear, then a doorbell will be
        // delivered"); otherwise PendingLast is written 1 (no doorbell) and the vPE taken as pending.
        if (doorbell) {
            uint64_t val = clear_vpend_valid(gic, v, Vpendbaser41::PendingLast.kMask, Vpendbaser41::DB.kMask);
            v.pending_last = Vpendbaser41::PendingLast.get(val);
        } else {
            clear_vpend_valid(gic, v, 0, Vpendbaser41::PendingLast.kMask);
            v.pending_last = true;
        }
    } else {
        // its_vpe_deschedule: Valid cleared, every other bit written back; PendingLast read back.
        uint64_t val = clear_vpend_valid(gic, v, 0, 0);
        v.pending_last = Vpendbaser40::PendingLast.get(val);
        if (doorbell) set_doorbell_enabled(gic, vpeid, true);  // its_make_vpe_non_resident: enable_irq
    }
    v.resident = false;
    v.ready = false;
}

void ItsDriver::set_doorbell_enabled(Gic& gic, uint32_t vpeid, bool enabled) {
    HostVpe& v = vpes_.at(vpeid);
    uint64_t byte = HostLayout::kPropTable + (v.doorbell - kFirstLpiIntid);
    uint8_t prop = gic.memory().read8(byte).value;
    gic.memory().write8(byte, static_cast<uint8_t>(enabled ? prop | 1 : prop & ~1));
    gic.rd(v.rd).write64(GICR_INVLPIR, GicrInvlpir::INTID.make(v.doorbell));  // direct_lpi_inv
    v.doorbell_enabled = enabled;
}

bool ItsDriver::read_vpt_bit(const Gic& gic, uint32_t vpeid, uint32_t vintid) const {
    PendingBitPos pos = vpt_byte_and_bit(vintid);
    MemRead<uint8_t> byte = gic.memory().read8(vpes_.at(vpeid).vpt + pos.byte);
    return byte.ok() && ((byte.value >> pos.bit) & 1);
}

}  // namespace irqdiff::arm::host
