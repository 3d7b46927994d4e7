// KVM's virtual ITS: guest registers and commands, MSI translation, forwarding of LPIs as vLPIs,
// doorbells, and the ITS table save/restore in the ABI rev0 format (torvalds/linux
// arch/arm64/kvm/vgic/{vgic-its.c,vgic-v4.c}; reference/arm §3.2, §3.5, §3.6, §3.8).
#include <fmt/format.h>

#include "arm_gic/kvm/its_abi.h"
#include "arm_gic/kvm/kvm.h"
#include "arm_gic/trace_points.h"

namespace irqdiff::arm::kvm {

namespace {

constexpr uint64_t kQueueBytesPerPage = 4096;
constexpr uint32_t kMaxLpiIntid = 1u << host::HostLayout::kIdBits;
/// GITS_IIDR of KVM's vITS: ARM's implementer code (the product and revision KVM reports are not
/// modelled).
constexpr uint64_t kVitsIidr = 0x43B;
constexpr unsigned kVitsIdBits = 16;  // VITS_TYPER_IDBITS: the EventID bits a MAPD (or a restored DTE) may ask for

uint64_t vits_typer() {
    // A GICv3 ITS for the guest: physical LPIs, 8-byte ITT entries, 16 EventID and DeviceID bits,
    // collections target vCPU numbers (PTA = 0) (vgic_mmio_read_its_typer).
    return GitsTyper::Physical.make(1) | GitsTyper::IttEntrySize.make(7) | GitsTyper::IDbits.make(15) |
           GitsTyper::Devbits.make(15);
}

uint64_t vits_baser_fixed(unsigned n) {
    return n == 0 ? GitsBaser::Type.make(uint64_t(BaserType::Device)) | GitsBaser::EntrySize.make(7)
                  : GitsBaser::Type.make(uint64_t(BaserType::Collection)) | GitsBaser::EntrySize.make(7);
}

uint64_t table_base(uint64_t baser) { return GitsBaser::decode(baser).phys_addr; }
uint64_t table_bytes(uint64_t baser) { return GitsBaser::decode(baser).table_bytes(); }
/// vgic_its_check_id for the flat tables the model supports: the entry must lie in a valid table.
bool id_fits(uint64_t baser, uint64_t id) { return GitsBaser::Valid.get(baser) && (id + 1) * 8 <= table_bytes(baser); }
/// The RDBase a saved CTE of a collection that is not mapped carries (COLLECTION_NOT_MAPPED).
constexpr uint32_t kCollectionNotMapped = 0xFFFF'FFFF;

}  // namespace

// ---- registers (vgic_mmio_read/write_its_*) -------------------------------------------------

uint64_t Kvm::its_read(uint64_t offset) {
    VirtualIts& its = s_.its;
    switch (offset) {
        case GITS_CTLR: return GitsCtlr::Enabled.make(its.enabled) | GitsCtlr::Quiescent.make(1);
        case GITS_IIDR: return kVitsIidr;
        case GITS_TYPER: return vits_typer();
        case GITS_CBASER: return its.cbaser;
        case GITS_CWRITER: return its.cwriter;
        case GITS_CREADR: return its.creadr;
        default: break;
    }
    if (offset == gits_baser(0)) return its.baser_device;
    if (offset == gits_baser(1)) return its.baser_collection;
    log_.emit(tp::kKvmItsReadIgnored, "vITS register not modelled: RAZ", Hex{offset});
    return 0;
}

void Kvm::its_write(uint64_t offset, uint64_t value) {
    VirtualIts& its = s_.its;
    if (offset == GITS_CTLR) {
        bool enable = GitsCtlr::Enabled.get(value);
        log_.emit(tp::kKvmWriteGitsCtlr, enable);
        its.enabled = enable;
        if (!enable) return;
        // vgic_mmio_write_its_ctlr runs whatever lies between CREADR and CWRITER. After a restore
        // that wrote GITS_CREADR before GITS_CBASER (which reset it to 0) that is the guest's whole
        // queue again: "otherwise commands in the queue will be re-executed" (arm-vgic-its.rst).
        if (its.creadr != its.cwriter && GitsCbaser::Valid.get(its.cbaser)) {
            uint64_t size = (GitsCbaser::Size.get(its.cbaser) + 1) * kQueueBytesPerPage;
            uint64_t commands = ((its.cwriter + size - its.creadr) % size) / 32;
            log_.emit(tp::kKvmItsEnableRunsQueue, Hex{its.creadr}, Hex{its.cwriter}, commands);
        }
        process_commands();
    } else if (offset == GITS_CBASER) {
        if (its.enabled) {
            log_.emit(tp::kKvmWriteGitsCbaserIgnored, "written while the vITS is enabled: ignored");
            return;
        }
        reset_command_queue(value);
        log_.emit(tp::kKvmWriteGitsCbaser, Hex{value});
    } else if (offset == GITS_CWRITER) {
        uint64_t target = GitsCwriter::Offset.get_in_place(value);
        if (target >= (GitsCbaser::Size.get(its.cbaser) + 1) * kQueueBytesPerPage) {
            log_.emit(tp::kKvmWriteGitsCwriterError, "beyond the command queue: ignored", Hex{target});
            return;
        }
        its.cwriter = target;
        log_.emit(tp::kKvmWriteGitsCwriter, Hex{target});
        process_commands();
    } else if (offset == gits_baser(0) || offset == gits_baser(1)) {
        unsigned n = offset == gits_baser(0) ? 0 : 1;
        if (!write_baser(n, value)) {
            log_.emit(tp::kKvmWriteGitsBaserIgnored, "written while the vITS is enabled: ignored");
            return;
        }
        log_.emit(tp::kKvmWriteGitsBaser, n, Hex{value});
    } else {
        log_.emit(tp::kKvmItsWriteIgnored, "vITS register not modelled or read-only: WI", Hex{offset}, Hex{value});
    }
}

void Kvm::reset_command_queue(uint64_t cbaser) {
    // vgic_mmio_write_its_cbaser: CREADR = 0 and CWRITER = CREADR, "to make sure we start with an
    // empty command buffer" -- whatever a VMM restored into them before.
    VirtualIts& its = s_.its;
    if (its.creadr != 0 || its.cwriter != 0) log_.emit(tp::kKvmCbaserResetsQueue, Hex{its.creadr}, Hex{its.cwriter});
    its.cbaser = cbaser;
    its.creadr = its.cwriter = 0;
}

bool Kvm::write_baser(unsigned n, uint64_t value) {
    // vgic_mmio_write_its_baser: ignored while enabled; type and entry size are fixed.
    VirtualIts& its = s_.its;
    if (its.enabled) return false;
    uint64_t writable = GitsBaser::Valid.kMask | GitsBaser::Indirect.kMask | GitsBaser::PhysAddr.kMask |
                        GitsBaser::PageSize.kMask | GitsBaser::Size.kMask;
    (n == 0 ? its.baser_device : its.baser_collection) = (value & writable) | vits_baser_fixed(n);
    return true;
}

int Kvm::its_uaccess_write(uint64_t offset, uint64_t value) {
    // vgic_its_attr_regs_access: uaccess_its_write where a register has one (GITS_IIDR, GITS_CREADR),
    // the guest's handler otherwise. The model logs only what differs from a plain store.
    VirtualIts& its = s_.its;
    const uint64_t queue_bytes = (GitsCbaser::Size.get(its.cbaser) + 1) * kQueueBytesPerPage;
    if (offset == GITS_CREADR) {  // vgic_mmio_uaccess_write_its_creadr
        uint64_t target = GitsCwriter::Offset.get_in_place(value);
        int rc = its.enabled ? kEbusy : target >= queue_bytes ? kEinval : kOk;
        if (rc != kOk) {
            log_.emit(tp::kKvmUaccessCreadrError,
                      its.enabled ? "written while the vITS is enabled: -EBUSY"
                                  : "beyond the command queue GITS_CBASER describes: -EINVAL",
                      Hex{target}, rc);
            return rc;
        }
        its.creadr = target;
    } else if (offset == GITS_CBASER) {
        if (!its.enabled) reset_command_queue(value);  // read-only while enabled
    } else if (offset == GITS_CWRITER) {  // vgic_mmio_write_its_cwriter: beyond the queue is ignored
        uint64_t target = GitsCwriter::Offset.get_in_place(value);
        if (target < queue_bytes) {
            its.cwriter = target;
            process_commands();  // nothing while the vITS is disabled
        }
    } else if (offset == gits_baser(0) || offset == gits_baser(1)) {
        write_baser(offset == gits_baser(0) ? 0 : 1, value);
    } else {
        its_write(offset, value);
    }
    return kOk;
}

void Kvm::restore_its_registers(const std::vector<std::pair<uint64_t, uint64_t>>& writes) {
    // QEMU kvm_arm_its_post_load (or another VMM's order, arm.vmm_its_regs): uaccess writes of
    // the saved registers, GITS_CTLR excepted.
    for (const auto& [offset, value] : writes) its_uaccess_write(offset, value);
    const VirtualIts& its = s_.its;
    log_.emit(tp::kKvmRestoreItsRegisters, Hex{its.cbaser}, Hex{its.creadr}, Hex{its.cwriter}, Hex{its.baser_device},
              Hex{its.baser_collection});
}

// ---- commands (vgic_its_process_commands, vgic_its_handle_command) ----------------------------

void Kvm::process_commands() {
    VirtualIts& its = s_.its;
    if (!its.enabled || !GitsCbaser::Valid.get(its.cbaser)) return;
    uint64_t base = GitsCbaser::PhysAddr.get_in_place(its.cbaser);
    uint64_t size = (GitsCbaser::Size.get(its.cbaser) + 1) * kQueueBytesPerPage;
    for (uint64_t n = 0; its.creadr != its.cwriter && n < size / 32; ++n) {
        std::array<uint64_t, 4> cmd{};
        bool ok = true;
        for (unsigned w = 0; w < 4; ++w) {
            MemRead<uint64_t> r = guest_.read64(base + its.creadr + 8 * w);
            ok = ok && r.ok();
            cmd[w] = r.value;
        }
        if (ok)
            handle_command(cmd);
        else
            log_.emit(tp::kKvmItsCommandQueueError, "the guest's command queue is outside guest memory");
        its.creadr = (its.creadr + 32) % size;
    }
}

void Kvm::handle_command(const std::array<uint64_t, 4>& raw) {
    ItsCommand c;
    c.dw = raw;
    VirtualIts& its = s_.its;
    const auto opcode = static_cast<Opcode>(c.opcode());
    const uint32_t devid = static_cast<uint32_t>(cmd::DeviceID::get(c));
    const uint32_t event = static_cast<uint32_t>(cmd::EventID::get(c));
    auto error = [&](const char* what) { log_.emit(tp::kKvmItsCommandError, what, Hex{c.opcode()}, devid, event); };
    auto find_ite = [&]() -> VitsIte* {
        auto d = its.devices.find(devid);
        if (d == its.devices.end()) return nullptr;
        auto e = d->second.ites.find(event);
        return e == d->second.ites.end() ? nullptr : &e->second;
    };
    switch (opcode) {
        case Opcode::MAPD: {  // vgic_its_cmd_handle_mapd
            bool valid = cmd::Valid::get(c);
            uint8_t bits = static_cast<uint8_t>(cmd::Size::get(c) + 1);
            uint64_t itt = cmd::ITT_addr::get(c) << 8;
            log_.emit(tp::kVitsMapd, devid, valid, Hex{itt}, bits);
            if (valid && bits > kVitsIdBits) return error("MAPD: more than 16 EventID bits");
            if (!id_fits(its.baser_device, devid)) return error("MAPD: DeviceID beyond the device table");
            if (its.devices.count(devid)) {  // remapping frees every ITE first
                std::vector<uint32_t> events;
                for (const auto& [e, ite] : its.devices[devid].ites) events.push_back(e);
                for (uint32_t e : events) free_ite(devid, e);
                its.devices.erase(devid);
            }
            if (valid) its.devices[devid] = VitsDevice{itt, bits, {}};
            return;
        }
        case Opcode::MAPC: {  // vgic_its_cmd_handle_mapc
            uint16_t icid = static_cast<uint16_t>(cmd::ICID::get(c));
            bool valid = cmd::Valid::get(c);
            uint32_t vcpu = static_cast<uint32_t>(cmd::RDbase::get(c));
            log_.emit(tp::kVitsMapc, icid, vcpu, valid);
            if (!valid) {
                // vgic_its_free_collection: its ITEs lose the collection for good (until a MOVI).
                its.collections.erase(icid);
                for (auto& [d, dev] : its.devices)
                    for (auto& [e, ite] : dev.ites)
                        if (ite.icid == icid) ite.orphan = true;
                return;
            }
            if (vcpu >= s_.cpus.size()) return error("MAPC: no such vCPU");
            if (!id_fits(its.baser_collection, icid)) return error("MAPC: ICID beyond the collection table");
            its.collections[icid] = vcpu;
            // update_affinity_collection: the collection's LPIs follow it.
            for (const auto& [d, dev] : its.devices)
                for (const auto& [e, ite] : dev.ites)
                    if (ite.icid == icid && !ite.orphan && s_.lpis[ite.intid].target_vcpu != vcpu)
                        update_affinity(s_.lpis[ite.intid], vcpu);
            return;
        }
        case Opcode::MAPTI:
        case Opcode::MAPI: {  // vgic_its_cmd_handle_mapi
            uint32_t intid = opcode == Opcode::MAPI ? event : static_cast<uint32_t>(cmd::pINTID::get(c));
            uint16_t icid = static_cast<uint16_t>(cmd::ICID::get(c));
            log_.emit(opcode == Opcode::MAPI ? tp::kVitsMapi : tp::kVitsMapti, devid, event, intid, icid);
            auto d = its.devices.find(devid);
            if (d == its.devices.end()) return error("MAPTI: device not mapped");
            if (event >> d->second.eventid_bits) return error("MAPTI: EventID beyond the device's ITT");
            if (intid < kFirstLpiIntid || intid >= kMaxLpiIntid) return error("MAPTI: not an LPI");
            if (d->second.ites.count(event)) return;  // UNPREDICTABLE; KVM ignores it
            d->second.ites[event] = VitsIte{intid, icid, false};
            // A collection not mapped yet is allocated, unmapped (vgic_its_alloc_collection).
            auto col = its.collections.try_emplace(icid, kNoVcpu).first;
            add_lpi(intid, col->second);
            return;
        }
        case Opcode::MOVI: {  // vgic_its_cmd_handle_movi
            uint16_t icid = static_cast<uint16_t>(cmd::ICID::get(c));
            log_.emit(tp::kVitsMovi, devid, event, icid);
            VitsIte* ite = find_ite();
            if (!ite) return error("MOVI: no such ITE");
            auto col = its.collections.find(icid);
            if (col == its.collections.end() || col->second == kNoVcpu) return error("MOVI: collection not mapped");
            ite->icid = icid;
            ite->orphan = false;
            update_affinity(s_.lpis[ite->intid], col->second);
            return;
        }
        case Opcode::DISCARD:  // vgic_its_cmd_handle_discard
            log_.emit(tp::kVitsDiscard, devid, event);
            if (!find_ite()) return error("DISCARD: no such ITE");
            free_ite(devid, event);
            return;
        case Opcode::INV: {  // vgic_its_cmd_handle_inv
            log_.emit(tp::kVitsInv, devid, event);
            VitsIte* ite = find_ite();
            if (!ite) return error("INV: no such ITE");
            update_lpi_config(s_.lpis[ite->intid]);
            return;
        }
        case Opcode::INVALL: {  // vgic_its_cmd_handle_invall
            uint16_t icid = static_cast<uint16_t>(cmd::ICID::get(c));
            log_.emit(tp::kVitsInvall, icid);
            auto col = its.collections.find(icid);
            if (col == its.collections.end() || col->second == kNoVcpu) return error("INVALL: collection not mapped");
            for (auto& [intid, irq] : s_.lpis)
                if (irq.target_vcpu == col->second) update_lpi_config(irq);
            host_.invall_vpe(gic_, col->second);  // vgic_its_invall -> its_invall_vpe
            return;
        }
        case Opcode::INT:
            log_.emit(tp::kVitsInt, devid, event);
            if (trigger_msi(devid, event) != kOk) error("INT: the DeviceID/EventID does not translate");
            return;
        case Opcode::CLEAR: {  // vgic_its_cmd_handle_clear
            log_.emit(tp::kVitsClear, devid, event);
            VitsIte* ite = find_ite();
            if (!ite) return error("CLEAR: no such ITE");
            VgicIrq& irq = s_.lpis[ite->intid];
            irq.pending_latch = false;
            if (irq.hw) host_.vlpi_set_pending(gic_, irq.host_irq, false);
            return;
        }
        case Opcode::SYNC: log_.emit(tp::kVitsSync, cmd::RDbase::get(c)); return;  // commands complete synchronously
        case Opcode::MOVALL: {  // vgic_its_cmd_handle_movall
            uint32_t from = static_cast<uint32_t>(cmd::RDbase::get(c));
            uint32_t to = static_cast<uint32_t>(cmd::RDbase2::get(c));
            log_.emit(tp::kVitsMovall, from, to);
            if (from >= s_.cpus.size() || to >= s_.cpus.size()) return error("MOVALL: no such vCPU");
            for (auto& [intid, irq] : s_.lpis)
                if (irq.target_vcpu == from) update_affinity(irq, to);
            return;
        }
        default: return error("not a command of a virtual GICv3 ITS: ignored");
    }
}

VgicIrq& Kvm::add_lpi(uint32_t intid, uint32_t vcpu) {
    // vgic_add_lpi: a new LPI reads its configuration and, if it has a target vCPU, its pending
    // bit; an existing one is reused without a sync.
    auto [it, fresh] = s_.lpis.try_emplace(intid);
    VgicIrq& irq = it->second;
    if (!fresh) return irq;
    irq.intid = intid;
    irq.target_vcpu = vcpu;
    update_lpi_config(irq);
    if (vcpu != kNoVcpu) lpi_sync_pending_status(irq);
    return irq;
}

void Kvm::update_lpi_config(VgicIrq& irq) {
    // update_lpi_config: the property byte from the guest's LPI configuration table; a forwarded
    // LPI passes it to hardware (its_prop_update_vlpi), any other is (re)queued.
    uint64_t addr = GicrPropbaser::PhysAddr.get_in_place(s_.propbaser) + (irq.intid - kFirstLpiIntid);
    MemRead<uint8_t> byte = guest_.read8(addr);
    irq.priority = LpiConfig::priority(byte.value);
    irq.enabled = byte.ok() && LpiConfig::enabled(byte.value);
    log_.emit(tp::kKvmUpdateLpiConfig, irq.intid, Hex{irq.priority}, irq.enabled);
    if (irq.hw)
        host_.prop_update_vlpi(gic_, irq.host_irq, prop_of(irq));
    else
        queue(irq);
}

void Kvm::update_affinity(VgicIrq& irq, uint32_t vcpu) {
    // update_affinity: a forwarded LPI follows in hardware (its_map_vlpi -> VMOVI).
    irq.target_vcpu = vcpu;
    log_.emit(tp::kKvmUpdateAffinity, irq.intid, vcpu, irq.hw);
    if (irq.hw) host_.map_vlpi(gic_, irq.host_irq, vcpu, irq.intid, prop_of(irq));
}

void Kvm::free_ite(uint32_t devid, uint32_t eventid) {
    // its_free_ite: a forwarded LPI is unmapped in hardware (its_unmap_vlpi: DISCARD, so its
    // pending state in the VPT goes), and the ITE's reference is dropped (vgic_put_irq, matching
    // the get in vgic_add_lpi). Only the ITS's reference: the vgic_irq lives on while another
    // holds it -- an ap_list (vgic_queue_irq_unlock takes one) -- with its pending_latch.
    VitsDevice& dev = s_.its.devices.at(devid);
    uint32_t intid = dev.ites.at(eventid).intid;
    dev.ites.erase(eventid);
    VgicIrq& irq = s_.lpis[intid];
    if (irq.hw) {
        host_.unmap_vlpi(gic_, irq.host_irq);
        irq.hw = false;
    }
    if (its_references(intid)) return;
    if (irq.queued) log_.emit(tp::kKvmLpiHeldByApList, intid, irq.target_vcpu, irq.pending_latch);
    put_lpi(intid);
}

bool Kvm::its_references(uint32_t intid) const {
    for (const auto& [d, dev] : s_.its.devices)
        for (const auto& [e, ite] : dev.ites)
            if (ite.intid == intid) return true;
    return false;
}

void Kvm::put_lpi(uint32_t intid) {
    // vgic_put_irq: the LPI is freed (and leaves the LPI list, so a later MAPTI creates a new one
    // and syncs it from the pending table) when neither an ITE nor an ap_list references it.
    auto it = s_.lpis.find(intid);
    if (it == s_.lpis.end() || it->second.queued || its_references(intid)) return;
    s_.lpis.erase(it);
    log_.emit(tp::kKvmFreeLpi, intid);
}

const VgicIrq* Kvm::resolve_lpi(uint32_t devid, uint32_t eventid, const char** why) const {
    // vgic_its_resolve_lpi: the ITS enabled, the ITE, its collection mapped to a vCPU whose
    // GICR_CTLR.EnableLPIs is set.
    const VirtualIts& its = s_.its;
    *why = nullptr;
    if (!its.enabled) *why = "the vITS is disabled";
    auto d = its.devices.find(devid);
    if (!*why && d == its.devices.end()) *why = "no such device";
    const VitsIte* ite = nullptr;
    if (!*why) {
        auto e = d->second.ites.find(eventid);
        if (e == d->second.ites.end())
            *why = "no ITE for the EventID";
        else
            ite = &e->second;
    }
    if (!*why) {
        auto col = its.collections.find(ite->icid);
        if (ite->orphan || col == its.collections.end() || col->second == kNoVcpu)
            *why = "the collection is not mapped";
        else if (!s_.cpus.at(col->second).enable_lpis)
            *why = "the target vCPU has EnableLPIs clear";
    }
    if (*why) return nullptr;
    return &s_.lpis.at(ite->intid);
}

const VgicIrq* Kvm::translate(uint32_t devid, uint32_t eventid) const {
    const char* why = nullptr;
    return resolve_lpi(devid, eventid, &why);
}

int Kvm::trigger_msi(uint32_t devid, uint32_t eventid) {
    const char* why = nullptr;
    const VgicIrq* found = resolve_lpi(devid, eventid, &why);
    if (!found) {
        log_.emit(tp::kKvmVgicItsTriggerMsiError, fmt::format("MSI dropped: {}", why), devid, eventid);
        return kEinval;
    }
    VgicIrq& irq = s_.lpis[found->intid];
    log_.emit(tp::kKvmVgicItsTriggerMsi, devid, eventid, irq.intid, irq.hw);
    if (irq.hw) {
        host_.vlpi_set_pending(gic_, irq.host_irq, true);  // irq_set_irqchip_state(PENDING)
        return kOk;
    }
    irq.pending_latch = true;
    queue(irq);
    return kOk;
}

// ---- GICv4 forwarding (vgic-v4.c) ---------------------------------------------------------

void Kvm::set_forwarding(int host_irq, uint32_t devid, uint32_t eventid) {
    const char* why = nullptr;
    const VgicIrq* found = resolve_lpi(devid, eventid, &why);
    if (!found) {
        // mainline returns 0: the vLPI silently stays in software injection (reference/arm §9 lost.6)
        log_.emit(tp::kKvmSetForwardingUnresolved, host_irq, devid, eventid, false, why);
        return;
    }
    VgicIrq& irq = s_.lpis[found->intid];
    if (irq.hw) return;
    host_.map_vlpi(gic_, host_irq, irq.target_vcpu, irq.intid, prop_of(irq));
    irq.hw = true;
    irq.host_irq = host_irq;
    log_.emit(tp::kKvmSetForwarding, host_irq, devid, eventid, irq.intid, irq.target_vcpu, irq.pending_latch);
    transfer_hook(TransferHook::SetForwarding, irq);
}

void Kvm::unset_forwarding(int host_irq) {
    // 05b9405f2fa1: find the vLPI by its host IRQ; unmap it; nothing is read back.
    for (auto& [intid, irq] : s_.lpis) {
        if (!irq.hw || irq.host_irq != host_irq) continue;
        host_.unmap_vlpi(gic_, host_irq);
        irq.hw = false;
        log_.emit(tp::kKvmUnsetForwarding, host_irq, intid);
        return;
    }
}

const Policy<IrqfdDeassign> kIrqfdDeassignPolicy{
    "arm.irqfd_deassign",
    "arm",
    {{"fixed", IrqfdDeassign::Fixed}, {"clobber", IrqfdDeassign::Clobber}},
    IrqfdDeassign::Fixed,
    "whether KVM_IRQFD deassign unforwards the vLPI (fixed), or zeroes the routing type so that "
    "kvm_arch_irq_bypass_del_producer skips unset_forwarding and the device keeps forwarding (clobber)",
    "clobber: virt/kvm/eventfd.c kvm_irqfd_deassign (irq_entry.type = 0) with arm64's MSI check in "
    "del_producer since a0d7e2fc61ab (6.15); fixed: \"KVM: Don't clobber irqfd routing type when deassigning "
    "irqfd\", Sean Christopherson, 13 Jan 2026, Message-ID <20260113174606.104978-2-seanjc@google.com> "
    "(kernel_history X3)"};

void Kvm::irqfd_deassign(int host_irq) {
    const bool clobber = s_.irqfd_deassign == IrqfdDeassign::Clobber;
    log_.emit(tp::kKvmIrqfdDeassign, host_irq, !clobber);
    if (host_irq < 0) return;
    // kvm_arch_irq_bypass_del_producer: `if (irqfd->irq_entry.type != KVM_IRQ_ROUTING_MSI) return`.
    if (!clobber) unset_forwarding(host_irq);
}

void Kvm::set_msi_route(uint32_t devid, uint32_t eventid, bool present, int host_irq) {
    const auto key = std::make_pair(devid, eventid);
    const bool changed = present ? s_.unrouted.erase(key) > 0 : s_.unrouted.insert(key).second;
    log_.emit(tp::kKvmSetGsiRouting, devid, eventid, present);
    if (!changed || host_irq < 0) return;
    // kvm_arch_update_irqfd_routing (A3): an unchanged MSI keeps its vLPI; any other change
    // unmaps it and "falls back to software LPI injection". Nothing reads the VPT back (A1).
    log_.emit(tp::kKvmUpdateIrqfdRouting, host_irq, present);
    unset_forwarding(host_irq);
}

int Kvm::irqfd_inject(uint32_t devid, uint32_t eventid) {
    if (s_.unrouted.contains({devid, eventid})) {
        log_.emit(tp::kKvmIrqfdNoRouteError, "an irqfd whose GSI has no route injects nothing", devid, eventid);
        return kEinval;
    }
    return trigger_msi(devid, eventid);
}

void Kvm::doorbell(uint32_t vpeid) {
    // vgic_v4_doorbell_handler: 4.0 disables its doorbell; pending_last, then kick the vCPU.
    if (!gic_.config().v41()) host_.set_doorbell_enabled(gic_, vpeid, false);
    host_.vpe(vpeid).pending_last = true;
    log_.emit(tp::kKvmDoorbell, vpeid);
    kick(vpeid);
}

// ---- ITS table save and restore (vgic_its_save_tables_v0 / vgic_its_restore_tables_v0) ------

int Kvm::its_save_tables() {
    const VirtualIts& its = s_.its;
    // 8082d50f4817 lets GICv4.1 save a forwarded ITE; before 5.13 (bd94e7aea403) none could be.
    const bool saves_forwarded = gic_.config().v41() && save_ == SaveSide::VptRead;
    uint64_t dt = table_base(its.baser_device), ct = table_base(its.baser_collection);
    uint32_t devices = 0;
    // vgic_its_save_device_tables / _collection_table: a table whose BASER is not valid is skipped.
    for (auto d = its.devices.begin(); GitsBaser::Valid.get(its.baser_device) && d != its.devices.end(); ++d) {
        const auto& [devid, dev] = *d;
        // vgic_its_save_itt
        for (auto e = dev.ites.begin(); e != dev.ites.end(); ++e) {
            const VgicIrq& irq = s_.lpis.at(e->second.intid);
            if (irq.hw && !saves_forwarded) {
                // bd94e7aea403 / 8082d50f4817: a forwarded vLPI's state is not available (without
                // GICv4.1, or on any GIC before 5.13); the save stops here, leaving this device,
                // later devices and the collections unwritten.
                log_.emit(tp::kKvmItsSaveTablesError,
                          save_ == SaveSide::Refuse
                              ? "a forwarded vLPI before Linux 5.13: -EACCES (vgic_its_save_itt, bd94e7aea403)"
                              : "a forwarded vLPI without GICv4.1: -EACCES (vgic_its_save_itt, 8082d50f4817)",
                          devid, e->first, irq.intid);
                return kEacces;
            }
            auto next = std::next(e);
            uint32_t gap = next == dev.ites.end() ? 0 : std::min(next->first - e->first, kAbiIteNextMax);
            guest_.write64(dev.itt_addr + e->first * AbiIte::kBytes,
                           AbiIte{gap, e->second.intid, e->second.icid}.encode());
        }
        auto next = std::next(d);
        uint32_t gap = next == its.devices.end() ? 0 : std::min(next->first - devid, kAbiDteNextMax);
        guest_.write64(dt + devid * AbiDte::kBytes,
                       AbiDte{true, gap, dev.itt_addr, static_cast<uint8_t>(dev.eventid_bits - 1)}.encode());
        ++devices;
    }
    uint64_t slot = 0;
    if (GitsBaser::Valid.get(its.baser_collection)) {
        for (const auto& [icid, vcpu] : its.collections)
            guest_.write64(ct + AbiCte::kBytes * slot++,
                           AbiCte{true, vcpu == kNoVcpu ? kCollectionNotMapped : vcpu, icid}.encode());
        if ((slot + 1) * AbiCte::kBytes <= table_bytes(its.baser_collection))
            guest_.write64(ct + AbiCte::kBytes * slot, 0);  // an invalid entry ends the list
    }
    log_.emit(tp::kKvmItsSaveTables, devices, slot);
    return kOk;
}

int Kvm::its_restore_tables() {
    VirtualIts& its = s_.its;
    // scan_its_table reads each entry with kvm_read_guest_lock and returns its error: an entry
    // outside guest RAM stops the restore with -EFAULT (a guest-corrupted DTE can name an ITT
    // anywhere, with up to 2^32 events: without this the walk read zeros for ever; fuzz target
    // vits_save_restore, tests/fuzz/regressions/vits_save_restore/).
    auto read_entry = [&](uint64_t addr, uint64_t& out) {
        const MemRead<uint64_t> r = guest_.read64(addr);
        if (!r.ok()) {
            log_.emit(tp::kKvmItsRestoreTablesReadError, "a table entry outside guest RAM: -EFAULT", Hex{addr});
            return false;
        }
        out = r.value;
        return true;
    };
    uint64_t raw = 0;
    uint64_t dt = table_base(its.baser_device), ct = table_base(its.baser_collection);
    // vgic_its_restore_collection_table: until the first invalid entry.
    uint64_t ct_entries = table_bytes(its.baser_collection) / AbiCte::kBytes;
    for (uint64_t i = 0; GitsBaser::Valid.get(its.baser_collection) && i < ct_entries; ++i) {
        if (!read_entry(ct + i * AbiCte::kBytes, raw)) return kEfault;
        AbiCte cte = AbiCte::decode(raw);
        if (!cte.valid) break;
        if (cte.rdbase != kCollectionNotMapped && cte.rdbase >= s_.cpus.size()) {  // vgic_its_restore_cte
            log_.emit(tp::kKvmItsRestoreTablesCollectionError, "a collection names no vCPU: -EINVAL");
            return kEinval;
        }
        its.collections[cte.icid] = cte.rdbase == kCollectionNotMapped ? kNoVcpu : cte.rdbase;
    }
    // vgic_its_restore_device_tables: scan_its_table from DeviceID 0, following Next.
    uint64_t dt_entries = table_bytes(its.baser_device) / AbiDte::kBytes;
    uint32_t devices = 0, lpis = 0;
    for (uint64_t id = 0; GitsBaser::Valid.get(its.baser_device) && id < dt_entries;) {
        if (!read_entry(dt + id * AbiDte::kBytes, raw)) return kEfault;
        AbiDte dte = AbiDte::decode(raw);
        if (!dte.valid) {
            ++id;
            continue;
        }
        // vgic_its_restore_dte rejects what MAPD would (9ce754ed8e7a, "Reject restored DTEs with
        // num_eventid_bits > VITS_TYPER_IDBITS"): the ITT walk below is 2^bits entries long.
        if (dte.size + 1u > kVitsIdBits) {
            log_.emit(tp::kKvmItsRestoreTablesDteError, "a DTE with more than 16 EventID bits: -EINVAL", id,
                      dte.size + 1u);
            return kEinval;
        }
        VitsDevice& dev = its.devices[static_cast<uint32_t>(id)];
        dev.itt_addr = dte.itt_addr;
        dev.eventid_bits = static_cast<uint8_t>(dte.size + 1);
        ++devices;
        // vgic_its_restore_itt -> vgic_its_restore_ite for each valid ITE.
        for (uint64_t e = 0; e < (uint64_t{1} << dev.eventid_bits);) {
            if (!read_entry(dte.itt_addr + e * AbiIte::kBytes, raw)) return kEfault;
            AbiIte ite = AbiIte::decode(raw);
            if (!ite.valid()) {
                ++e;
                continue;
            }
            auto col = its.collections.find(ite.icid);
            if (col == its.collections.end() || ite.pintid < kFirstLpiIntid || ite.pintid >= kMaxLpiIntid) {
                log_.emit(tp::kKvmItsRestoreTablesIteError,
                          "an ITE with an unknown collection or a non-LPI INTID: -EINVAL", id, e);
                return kEinval;
            }
            dev.ites[static_cast<uint32_t>(e)] = VitsIte{ite.pintid, ite.icid};
            add_lpi(ite.pintid, col->second);
            ++lpis;
            if (ite.next == 0) break;
            e += ite.next;
        }
        if (dte.next == 0) break;
        id += dte.next;
    }
    log_.emit(tp::kKvmItsRestoreTables, its.collections.size(), devices, lpis);
    transfer_hook(TransferHook::ItsRestoreTables);
    return kOk;
}

}  // namespace irqdiff::arm::kvm
