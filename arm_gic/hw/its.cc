#include "arm_gic/hw/its.h"

#include <fmt/format.h>

#include <stdexcept>

#include "arm_gic/hw/gic.h"
#include "arm_gic/trace_points.h"

namespace irqdiff::arm {

namespace {

constexpr uint64_t kGitsCbaserWritable = GitsCbaser::Valid.kMask | GitsCbaser::InnerCache.kMask |
                                         GitsCbaser::OuterCache.kMask | GitsCbaser::PhysAddr.kMask |
                                         GitsCbaser::Shareability.kMask | GitsCbaser::Size.kMask;
constexpr uint64_t kGitsBaserWritable =
    GitsBaser::Valid.kMask | GitsBaser::Indirect.kMask | GitsBaser::InnerCache.kMask | GitsBaser::OuterCache.kMask |
    GitsBaser::PhysAddr.kMask | GitsBaser::Shareability.kMask | GitsBaser::PageSize.kMask | GitsBaser::Size.kMask;

/// The read-only Type and Entry_Size of each implemented GITS_BASER<n> (n = 0, 1, 2).
uint64_t baser_fixed(unsigned n) {
    switch (n) {
        case Its::kBaserDevice:
            return GitsBaser::Type.make(uint64_t(BaserType::Device)) | GitsBaser::EntrySize.make(Dte::kBytes - 1);
        case Its::kBaserCollection:
            return GitsBaser::Type.make(uint64_t(BaserType::Collection)) | GitsBaser::EntrySize.make(Cte::kBytes - 1);
        case Its::kBaserVpe:
            return GitsBaser::Type.make(uint64_t(BaserType::Vpe)) | GitsBaser::EntrySize.make(Vpte::kBytes - 1);
        default: return 0;
    }
}

}  // namespace

Its::Its(Gic* gic, unsigned index) : gic_(gic), index_(index) {
    for (unsigned n = 0; n < baser_.size(); ++n) {
        baser_[n] = baser_fixed(n);
        tables_[n] = TableDesc::from(GitsBaser::decode(baser_[n]));
    }
}

const GicConfig& Its::config() const { return gic_->config(); }
AddressSpace& Its::memory() { return gic_->memory(); }
EventLog& Its::log() { return gic_->log(); }

uint64_t Its::typer() const {
    const GicConfig& c = config();
    return GitsTyper::Physical.make(1) | GitsTyper::Virtual.make(1) | GitsTyper::IttEntrySize.make(Ite::kBytes - 1) |
           GitsTyper::IDbits.make(c.event_id_bits - 1) | GitsTyper::Devbits.make(c.device_id_bits - 1) |
           GitsTyper::VMOVP.make(c.vmovp_direct) | GitsTyper::VMAPP.make(c.v41()) |
           GitsTyper::SVPET.make(c.v41() ? 1 : 0);
}

uint64_t Its::queue_bytes() const { return (GitsCbaser::Size.get(cbaser_) + 1) * 4096; }

uint64_t Its::read(uint64_t offset, unsigned bytes) {
    uint64_t base = offset & ~uint64_t{7};
    uint64_t value = 0;
    bool known = true;
    if (offset == GITS_CTLR) {
        value = GitsCtlr::Enabled.make(enabled_) | GitsCtlr::Quiescent.make(!enabled_);
    } else if (offset == GITS_IIDR) {
        value = kIidr;
    } else if (base == GITS_TYPER) {
        value = typer();
    } else if (base == GITS_CBASER) {
        value = cbaser_;
    } else if (base == GITS_CWRITER) {
        value = cwriter_;
    } else if (base == GITS_CREADR) {
        value = creadr_ | GitsCreadr::Stalled.make(stalled_);
    } else if (base >= GITS_BASER && base < gits_baser(kGitsBaserCount)) {
        value = baser_[(base - GITS_BASER) / 8];
    } else {
        known = false;
    }
    if (!known) {
        log().emit(tp::kItsReadIgnored, "unimplemented ITS register: RAZ", index_, Hex{offset});
        return 0;
    }
    return read_access(value, bytes, offset);
}

void Its::write(uint64_t offset, uint64_t value, unsigned bytes) {
    uint64_t base = offset & ~uint64_t{7};
    if (bytes == 4) value &= 0xFFFF'FFFF;
    if (offset == GITS_CTLR) {
        bool enable = GitsCtlr::Enabled.get(value);
        log().emit(tp::kItsWriteCtlr, index_, enable);
        enabled_ = enable;
        if (enabled_) process_queue();
    } else if (base == GITS_CBASER) {
        if (enabled_) {
            log().emit(tp::kItsWriteCbaserError,
                       "GITS_CBASER written while the ITS is enabled: UNPREDICTABLE, write ignored", index_,
                       Hex{value});
            return;
        }
        cbaser_ = write_access(cbaser_, value, bytes, offset) & kGitsCbaserWritable;
        // Writing GITS_CBASER resets GITS_CREADR; CWRITER follows it (as KVM's vITS does in
        // vgic_mmio_write_its_cbaser), so a smaller queue never replays old commands.
        creadr_ = cwriter_ = 0;
        stalled_ = false;
        log().emit(tp::kItsWriteCbaser, index_, GitsCbaser::Valid.get(cbaser_) != 0,
                   Hex{GitsCbaser::PhysAddr.get_in_place(cbaser_)}, queue_bytes());
    } else if (base == GITS_CWRITER) {
        uint64_t next = write_access(cwriter_, value, bytes, offset);
        uint64_t target = GitsCwriter::Offset.get_in_place(next);
        bool retry = GitsCwriter::Retry.get(next);
        if (target >= queue_bytes()) {
            log().emit(tp::kItsWriteCwriterError, "GITS_CWRITER beyond the command queue: UNPREDICTABLE, write ignored",
                       index_, Hex{target}, queue_bytes());
            return;
        }
        cwriter_ = target;
        log().emit(tp::kItsWriteCwriter, index_, Hex{target}, retry);
        if (retry && stalled_) stalled_ = false;
        process_queue();
    } else if (base == GITS_CREADR || base == GITS_TYPER || offset == GITS_IIDR) {
        log().emit(tp::kItsWriteReadOnlyIgnored, "read-only ITS register: WI", index_, Hex{offset});
    } else if (base >= GITS_BASER && base < gits_baser(kGitsBaserCount)) {
        unsigned n = static_cast<unsigned>((base - GITS_BASER) / 8);
        if (baser_fixed(n) == 0) {
            log().emit(tp::kItsWriteBaserIgnored, "unimplemented GITS_BASER<n>: RAZ/WI", index_, n);
            return;
        }
        if (enabled_) {
            log().emit(tp::kItsWriteBaserError,
                       "GITS_BASER<n> written while the ITS is enabled: UNPREDICTABLE, write ignored", index_, n);
            return;
        }
        uint64_t raw = write_access(baser_[n], value, bytes, offset);
        baser_[n] = (raw & kGitsBaserWritable) | baser_fixed(n);
        tables_[n] = TableDesc::from(GitsBaser::decode(baser_[n]));
        const TableDesc& t = table(n);
        log().emit(tp::kItsWriteBaser, index_, n, t.valid, t.indirect, Hex{t.base}, t.page_bytes, t.pages);
    } else if (offset == GITS_TRANSLATER) {
        log().emit(tp::kItsWriteTranslaterIgnored,
                   "a GITS_TRANSLATER write needs the DeviceID the bus supplies: devices use Its::translate", index_,
                   Hex{value});
    } else if (base == GITS_SGIR && config().v41() && bytes != 8) {
        log().emit(tp::kItsWriteSgirError,
                   "GITS_SGIR takes 64-bit writes (vPEID[47:32] and vINTID[3:0] in one access): ignored", index_,
                   Hex{offset});
    } else if (base == GITS_SGIR && config().v41()) {
        uint32_t vpeid = static_cast<uint32_t>(GitsSgir::vPEID.get(value));
        unsigned sgi = static_cast<unsigned>(GitsSgir::vINTID.get(value));
        log().emit(tp::kItsWriteSgir, index_, vpeid, sgi);
        Redistributor* rd = gic_->rd_of_vpe(vpeid);
        if (!enabled_ || !maps_vpe(vpeid) || !rd) {
            log().emit(tp::kItsWriteSgirIgnored, "vSGI to a vPE this enabled ITS does not map: dropped", index_, vpeid);
            return;
        }
        rd->vsgi_set_pending(vpeid, sgi, true);
    } else {
        log().emit(tp::kItsWriteIgnored, "unimplemented ITS register: WI", index_, Hex{offset}, Hex{value});
    }
}

void Its::process_queue() {
    if (!enabled_ || stalled_ || !GitsCbaser::Valid.get(cbaser_)) return;
    const uint64_t base = GitsCbaser::PhysAddr.get_in_place(cbaser_);
    const uint64_t size = queue_bytes();
    // At most one lap: CWRITER and CREADR both lie inside the queue, so this always ends.
    for (uint64_t n = 0; creadr_ != cwriter_ && n < size / ItsCommand::kBytes; ++n) {
        uint8_t bytes[ItsCommand::kBytes];
        ItsCommand c;
        CmdResult r;
        if (memory().read_bytes(base + creadr_, bytes) != MemFault::None) {
            r = fault_response(tp::kItsCommandQueueFault, "reading the command queue", base + creadr_);
        } else {
            c = ItsCommand::decode(bytes);
            ++commands_executed_;
            r = execute(c);
        }
        if (r == CmdResult::Stall) {
            stalled_ = true;
            log().emit(tp::kItsStalled, index_, Hex{creadr_});
            return;
        }
        creadr_ = (creadr_ + ItsCommand::kBytes) % size;
    }
}

CmdResult Its::execute(const ItsCommand& c) {
    const CommandInfo* info = find_command(c.opcode());
    if (!info) return command_error(c, fmt::format("opcode {:#04x} is not an ITS command", c.opcode()));
    if (info->needs_v4 && !GitsTyper::Virtual.get(typer())) return command_error(c, "a GICv4 command on a GICv3 ITS");
    if (info->needs_v41 && !config().v41()) return command_error(c, "a GICv4.1 command on a GICv4.0 ITS");
    return info->handler(*this, c);
}

CmdResult Its::command_error(const ItsCommand& c, std::string_view problem) {
    ErrorResponse r = config().command_error;
    const CommandInfo* info = find_command(c.opcode());
    log().emit(info ? *info->error : tp::kItsUnknownCommandError,
               fmt::format("command error: {}; IHI 0069 leaves the response CONSTRAINED UNPREDICTABLE, "
                           "policy arm.its_command_error={}",
                           problem, to_string(r)),
               index_, Hex{c.opcode()});
    return r == ErrorResponse::Stall ? CmdResult::Stall : CmdResult::Continue;
}

CmdResult Its::table_fault(const ItsCommand& c, std::string_view problem, uint64_t addr) {
    const CommandInfo* info = find_command(c.opcode());
    if (!info || !info->fault)
        throw std::logic_error(fmt::format("Its::table_fault: opcode {:#04x} declares no table fault", c.opcode()));
    return fault_response(*info->fault, problem, addr);
}

CmdResult Its::fault_response(const GuestError<Int, Hex>& point, std::string_view problem, uint64_t addr) {
    ErrorResponse r = config().table_fault;
    log().emit(
        point,
        fmt::format("memory fault {}; CONSTRAINED UNPREDICTABLE, policy arm.its_table_fault={}", problem, to_string(r)),
        index_, Hex{addr});
    return r == ErrorResponse::Stall ? CmdResult::Stall : CmdResult::Continue;
}

const char* translation_error(LookupStage stage) {
    switch (stage) {
        case LookupStage::DeviceId: return "translation error: DeviceID out of range, MSI dropped";
        case LookupStage::DeviceTable: return "translation error: no device table entry, MSI dropped";
        case LookupStage::Device: return "translation error: device not mapped, MSI dropped";
        case LookupStage::EventId: return "translation error: EventID beyond the ITT, MSI dropped";
        case LookupStage::Ite: return "translation error: no ITE for the EventID, MSI dropped";
        case LookupStage::Collection: return "translation error: collection not mapped, MSI dropped";
        case LookupStage::Vpe: return "translation error: vPE not mapped, MSI dropped";
        case LookupStage::Vintid: return "translation error: vINTID beyond the vPE's VPT, MSI dropped";
    }
    return "translation error: MSI dropped";
}

template <typename... Args>
CmdResult Its::lookup_error(const LookupContext& ctx, LookupStage stage, uint32_t id,
                            fmt::format_string<Args...> problem, Args&&... args) {
    ctx.failed_ = stage;
    if (!ctx.command()) return drop_msi(ctx, stage, id);
    return command_error(*ctx.command(), fmt::format(problem, std::forward<Args>(args)...));
}

CmdResult Its::lookup_fault(const LookupContext& ctx, LookupStage stage, uint32_t id, std::string_view problem,
                            uint64_t addr) {
    ctx.failed_ = stage;
    if (!ctx.command()) return drop_msi(ctx, stage, id);
    return table_fault(*ctx.command(), problem, addr);
}

CmdResult Its::drop_msi(const LookupContext& ctx, LookupStage stage, uint32_t id) {
    if (stage == LookupStage::Collection)
        log().emit(tp::kItsTranslateNoCollectionIgnored, translation_error(stage), index_, ctx.device_id(),
                   ctx.event_id(), id);
    else if (stage == LookupStage::Vpe || stage == LookupStage::Vintid)
        log().emit(tp::kItsTranslateNoVpeIgnored, translation_error(stage), index_, ctx.device_id(), ctx.event_id(),
                   id);
    else
        log().emit(tp::kItsTranslateIgnored, translation_error(stage), index_, ctx.device_id(), ctx.event_id());
    return CmdResult::Continue;
}

CmdResult Its::lookup_device(const LookupContext& ctx, uint32_t device_id, Dte& out, uint64_t* dte_addr) {
    using S = LookupStage;
    if (uint64_t{device_id} >> config().device_id_bits)
        return lookup_error(ctx, S::DeviceId, 0, "DeviceID {:#x} beyond GITS_TYPER.Devbits", device_id);
    EntryAddr a = entry_address(memory(), table(kBaserDevice), device_id);
    if (a.status == TableWalk::Fault)
        return lookup_fault(ctx, S::DeviceTable, 0, "reading the device table's level 1", table(0).base);
    if (!a.ok())
        return lookup_error(ctx, S::DeviceTable, 0, "device table entry of DeviceID {:#x}: {}", device_id,
                            to_string(a.status));
    MemRead<Dte> dte = read_dte(memory(), a.addr);
    if (!dte.ok()) return lookup_fault(ctx, S::Device, 0, "reading a DTE", a.addr);
    if (dte_addr) *dte_addr = a.addr;
    out = dte.value;
    if (!out.valid) return lookup_error(ctx, S::Device, 0, "DeviceID {:#x} is not mapped (MAPD)", device_id);
    return CmdResult::Ok;
}

CmdResult Its::locate_ite(const LookupContext& ctx, uint32_t device_id, uint32_t event_id, IteRef& out) {
    out.device_id = device_id;
    out.event_id = event_id;
    if (CmdResult r = lookup_device(ctx, device_id, out.dte); r != CmdResult::Ok) return r;
    if (event_id >= out.dte.event_count())
        return lookup_error(ctx, LookupStage::EventId, 0, "EventID {:#x} beyond the ITT of DeviceID {:#x} ({} events)",
                            event_id, device_id, out.dte.event_count());
    out.addr = out.dte.itt_addr + uint64_t{event_id} * Ite::kBytes;
    MemRead<Ite> ite = read_ite(memory(), out.addr);
    if (!ite.ok()) return lookup_fault(ctx, LookupStage::Ite, 0, "reading an ITE", out.addr);
    out.ite = ite.value;
    return CmdResult::Ok;
}

CmdResult Its::lookup_ite(const LookupContext& ctx, uint32_t device_id, uint32_t event_id, IteRef& out) {
    if (CmdResult r = locate_ite(ctx, device_id, event_id, out); r != CmdResult::Ok) return r;
    if (!out.ite.valid)
        return lookup_error(ctx, LookupStage::Ite, 0, "no mapping for DeviceID {:#x} EventID {:#x}", device_id,
                            event_id);
    return CmdResult::Ok;
}

CmdResult Its::lookup_collection(const LookupContext& ctx, uint16_t icid, Cte& out) {
    constexpr LookupStage S = LookupStage::Collection;
    if (icid >= config().collection_count)
        return lookup_error(ctx, S, icid, "ICID {} beyond the {} collections", icid, config().collection_count);
    EntryAddr a = entry_address(memory(), table(kBaserCollection), icid);
    if (a.status == TableWalk::Fault) return lookup_fault(ctx, S, icid, "reading the collection table's level 1", 0);
    if (!a.ok())
        return lookup_error(ctx, S, icid, "collection table entry of ICID {:#x}: {}", icid, to_string(a.status));
    MemRead<Cte> cte = read_cte(memory(), a.addr);
    if (!cte.ok()) return lookup_fault(ctx, S, icid, "reading a CTE", a.addr);
    out = cte.value;
    if (!out.valid) return lookup_error(ctx, S, icid, "collection {} is not mapped (MAPC)", icid);
    if (out.rdbase >= gic_->rd_count())
        return lookup_error(ctx, S, icid, "collection {} targets redistributor {}, which does not exist", icid,
                            out.rdbase);
    return CmdResult::Ok;
}

CmdResult Its::locate_vpe(const LookupContext& ctx, uint32_t vpeid, uint64_t& addr) {
    constexpr LookupStage S = LookupStage::Vpe;
    if (uint64_t{vpeid} >> config().vpe_id_bits) return lookup_error(ctx, S, vpeid, "vPEID {:#x} out of range", vpeid);
    EntryAddr a = entry_address(memory(), table(kBaserVpe), vpeid);
    if (a.status == TableWalk::Fault) return lookup_fault(ctx, S, vpeid, "reading the vPE table's level 1", 0);
    if (!a.ok()) return lookup_error(ctx, S, vpeid, "vPE table entry of vPEID {:#x}: {}", vpeid, to_string(a.status));
    addr = a.addr;
    return CmdResult::Ok;
}

CmdResult Its::require_mapped_vpe(const LookupContext& ctx, uint32_t vpeid) {
    if (!maps_vpe(vpeid))
        return lookup_error(ctx, LookupStage::Vpe, vpeid, "vPE {} is not mapped on this ITS (VMAPP)", vpeid);
    return CmdResult::Ok;
}

CmdResult Its::lookup_vpe(const LookupContext& ctx, uint32_t vpeid, VpteRef& out) {
    out.vpeid = vpeid;
    if (CmdResult r = locate_vpe(ctx, vpeid, out.addr); r != CmdResult::Ok) return r;
    if (CmdResult r = require_mapped_vpe(ctx, vpeid); r != CmdResult::Ok) return r;
    MemRead<Vpte> v = read_vpte(memory(), out.addr);
    if (!v.ok()) return lookup_fault(ctx, LookupStage::Vpe, vpeid, "reading a vPE table entry", out.addr);
    out.vpte = v.value;
    return CmdResult::Ok;
}

CmdResult Its::collection_rd(const LookupContext& ctx, uint16_t icid, Redistributor*& rd) {
    Cte cte;
    if (CmdResult r = lookup_collection(ctx, icid, cte); r != CmdResult::Ok) return r;
    rd = &gic_->rd(cte.rdbase);
    return CmdResult::Ok;
}

CmdResult Its::vpe_rd(const LookupContext& ctx, uint32_t vpeid, Redistributor*& rd) {
    // A command walks the vPE table to the vPE's entry and reads it (a fault is a table fault, as
    // for every table a command walks); a translation goes by the ITS's VMAPP mapping, whose vPEID
    // and table entry the VMAPP checked, and walks no table. Each thus makes the checks and memory
    // accesses it made before the two shared this lookup (the results record counts the reads).
    VpteRef vpe;
    CmdResult r = ctx.command() ? lookup_vpe(ctx, vpeid, vpe) : require_mapped_vpe(ctx, vpeid);
    if (r != CmdResult::Ok) return r;
    rd = gic_->rd_of_vpe(vpeid);
    if (!rd) return lookup_error(ctx, LookupStage::Vpe, vpeid, "vPE {} has no redistributor", vpeid);
    return CmdResult::Ok;
}

CmdResult Its::lookup_event(const LookupContext& ctx, uint32_t device_id, uint32_t event_id, EventRoute& out) {
    if (CmdResult r = lookup_ite(ctx, device_id, event_id, out.ref); r != CmdResult::Ok) return r;
    const Ite& ite = out.ref.ite;
    return ite.is_virtual ? vpe_rd(ctx, ite.id, out.rd) : collection_rd(ctx, ite.id, out.rd);
}

CmdResult Its::write_ite(const ItsCommand& c, const IteRef& ref) {
    if (arm::write_ite(memory(), ref.addr, ref.ite) != MemFault::None)
        return table_fault(c, "writing an ITE", ref.addr);
    return CmdResult::Ok;
}

CmdResult Its::write_vpte(const ItsCommand& c, uint64_t addr, const Vpte& vpte) {
    if (arm::write_vpte(memory(), addr, vpte) != MemFault::None)
        return table_fault(c, "writing a vPE table entry", addr);
    return CmdResult::Ok;
}

void Its::translate(uint32_t device_id, uint32_t event_id) {
    if (!enabled_) {
        log().emit(tp::kItsTranslateIgnored, "the ITS is disabled: MSI dropped", index_, device_id, event_id);
        return;
    }
    // The lookup the commands take, with the MSI's error context: a failed stage drops the MSI.
    const LookupContext msi = LookupContext::msi(device_id, event_id);
    EventRoute route;
    if (lookup_event(msi, device_id, event_id, route) != CmdResult::Ok) return;
    const Ite& ite = route.ref.ite;
    Redistributor* rd = route.rd;
    if (!ite.is_virtual) {
        log().emit(tp::kItsTranslate, index_, device_id, event_id, ite.intid, rd->index());
        rd->set_lpi_pending(ite.intid, true);
        return;
    }
    if (ite.intid >= rd->vpe(ite.id)->limit()) {
        lookup_error(msi, LookupStage::Vintid, ite.id, "vINTID {} beyond the VPT of vPE {}", ite.intid, ite.id);
        return;
    }
    log().emit(tp::kItsTranslateVirtual, index_, device_id, event_id, ite.intid, ite.id);
    rd->set_vlpi_pending(ite.id, ite.intid, true, ite.doorbell);
}

}  // namespace irqdiff::arm
