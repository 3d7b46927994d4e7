// The physical (GICv3) ITS commands: MAPD, MAPC, MAPTI, MAPI, MOVI, DISCARD, INV, INVALL, INT,
// CLEAR, SYNC, MOVALL. INT, CLEAR, DISCARD and INV also act on virtual ITEs, as a GICv4 ITS does
// (Linux's "VINT"/"VCLEAR" are INT/CLEAR on a vLPI's DeviceID/EventID, reference/arm §1.2).
#include <fmt/format.h>

#include "arm_gic/hw/gic.h"
#include "arm_gic/hw/its.h"
#include "arm_gic/trace_points.h"

namespace irqdiff::arm {

namespace {

constexpr CmdResult kOk = CmdResult::Ok;

bool valid_lpi(const Its& its, uint64_t intid) {
    return intid >= kFirstLpiIntid && intid < (uint64_t{1} << its.config().lpi_id_bits);
}

uint32_t device_of(const ItsCommand& c) { return static_cast<uint32_t>(cmd::DeviceID::get(c)); }
uint32_t event_of(const ItsCommand& c) { return static_cast<uint32_t>(cmd::EventID::get(c)); }

/// The command's (DeviceID, EventID): its valid ITE and the redistributor its interrupt lives on
/// (the lookup an MSI's translation takes too, Its::lookup_event).
CmdResult lookup_target(Its& its, const ItsCommand& c, EventRoute& route) {
    return its.lookup_event(c, device_of(c), event_of(c), route);
}

/// Sets or clears the pending state of the interrupt an ITE names (an LPI or a vLPI).
void set_ite_pending(Redistributor& rd, const Ite& ite, bool pending) {
    if (ite.is_virtual)
        rd.set_vlpi_pending(ite.id, ite.intid, pending, ite.doorbell);
    else
        rd.set_lpi_pending(ite.intid, pending);
}

void log_dev_event(Its& its, const Op<Int, Int, Int>& point, const ItsCommand& c) {
    its.log().emit(point, its.index(), device_of(c), event_of(c));
}

// MAPD DeviceID, Size, ITT_addr, V: map a device to its ITT, or unmap it.
CmdResult mapd(Its& its, const ItsCommand& c) {
    uint32_t dev = device_of(c);
    Dte dte{cmd::Valid::get(c) != 0, cmd::ITT_addr::get(c) << 8, static_cast<uint8_t>(cmd::Size::get(c))};
    its.log().emit(tp::kItsMapd, its.index(), dev, dte.valid, Hex{dte.itt_addr}, dte.size + 1);
    if (uint64_t{dev} >> its.config().device_id_bits)
        return its.command_error(c, fmt::format("DeviceID {:#x} beyond GITS_TYPER.Devbits", dev));
    if (dte.valid && dte.size + 1u > its.config().event_id_bits)
        return its.command_error(c, fmt::format("Size {} beyond GITS_TYPER.IDbits", dte.size));
    EntryAddr a = entry_address(its.memory(), its.table(Its::kBaserDevice), dev);
    if (a.status == TableWalk::Fault) return its.table_fault(c, "reading the device table's level 1", 0);
    if (!a.ok())
        return its.command_error(c, fmt::format("device table entry of DeviceID {:#x}: {}", dev, to_string(a.status)));
    if (write_dte(its.memory(), a.addr, dte) != MemFault::None) return its.table_fault(c, "writing a DTE", a.addr);
    return kOk;
}

// MAPC ICID, RDbase, V: map a collection to a redistributor, or unmap it.
CmdResult mapc(Its& its, const ItsCommand& c) {
    uint16_t icid = static_cast<uint16_t>(cmd::ICID::get(c));
    Cte cte{cmd::Valid::get(c) != 0, static_cast<uint16_t>(cmd::RDbase::get(c))};
    its.log().emit(tp::kItsMapc, its.index(), icid, cte.rdbase, cte.valid);
    if (icid >= its.config().collection_count)
        return its.command_error(c,
                                 fmt::format("ICID {} beyond the {} collections", icid, its.config().collection_count));
    if (cte.valid && cte.rdbase >= its.gic().rd_count())
        return its.command_error(c, fmt::format("RDbase {} names no redistributor", cte.rdbase));
    EntryAddr a = entry_address(its.memory(), its.table(Its::kBaserCollection), icid);
    if (a.status == TableWalk::Fault) return its.table_fault(c, "reading the collection table's level 1", 0);
    if (!a.ok())
        return its.command_error(c, fmt::format("collection table entry of ICID {}: {}", icid, to_string(a.status)));
    if (write_cte(its.memory(), a.addr, cte) != MemFault::None) return its.table_fault(c, "writing a CTE", a.addr);
    return kOk;
}

CmdResult map_physical(Its& its, const ItsCommand& c, uint32_t pintid, const Op<Int, Int, Int, Int, Int>& point) {
    uint16_t icid = static_cast<uint16_t>(cmd::ICID::get(c));
    its.log().emit(point, its.index(), device_of(c), event_of(c), pintid, icid);
    IteRef ref;
    if (CmdResult r = its.locate_ite(c, device_of(c), event_of(c), ref); r != kOk) return r;
    if (ref.ite.valid)
        return its.command_error(c, "the DeviceID/EventID is already mapped (UNPREDICTABLE; KVM's vITS ignores it)");
    if (!valid_lpi(its, pintid)) return its.command_error(c, fmt::format("pINTID {} is not an LPI", pintid));
    if (icid >= its.config().collection_count)
        return its.command_error(c,
                                 fmt::format("ICID {} beyond the {} collections", icid, its.config().collection_count));
    ref.ite = Ite{true, false, icid, pintid, kNoDoorbell};
    return its.write_ite(c, ref);
}

// MAPTI DeviceID, EventID, pINTID, ICID; MAPI is MAPTI with pINTID = EventID.
CmdResult mapti(Its& its, const ItsCommand& c) {
    return map_physical(its, c, static_cast<uint32_t>(cmd::pINTID::get(c)), tp::kItsMapti);
}
CmdResult mapi(Its& its, const ItsCommand& c) { return map_physical(its, c, event_of(c), tp::kItsMapi); }

// MOVI DeviceID, EventID, ICID: retarget a physical LPI; its pending state moves with it.
CmdResult movi(Its& its, const ItsCommand& c) {
    uint16_t icid = static_cast<uint16_t>(cmd::ICID::get(c));
    its.log().emit(tp::kItsMovi, its.index(), device_of(c), event_of(c), icid);
    IteRef ref;
    if (CmdResult r = its.lookup_ite(c, device_of(c), event_of(c), ref); r != kOk) return r;
    if (ref.ite.is_virtual)
        return its.command_error(c, "MOVI of a vLPI (UNPREDICTABLE: VMOVI moves vLPIs, its_vlpi_set_doorbell)");
    Redistributor* to = nullptr;
    if (CmdResult r = its.collection_rd(c, icid, to); r != kOk) return r;
    Redistributor* from = nullptr;
    if (CmdResult r = its.collection_rd(c, ref.ite.id, from); r != kOk) return r;
    if (from != to && from->lpi_pending(ref.ite.intid)) {
        from->set_lpi_pending(ref.ite.intid, false);
        to->set_lpi_pending(ref.ite.intid, true);
    }
    ref.ite.id = icid;
    return its.write_ite(c, ref);
}

// DISCARD DeviceID, EventID: remove the mapping and the interrupt's pending state
// (reference/arm §1.2: "the interrupt's pending state is removed too").
CmdResult discard(Its& its, const ItsCommand& c) {
    log_dev_event(its, tp::kItsDiscard, c);
    EventRoute route;
    if (CmdResult r = lookup_target(its, c, route); r != kOk) return r;
    set_ite_pending(*route.rd, route.ref.ite, false);
    route.ref.ite.valid = false;
    return its.write_ite(c, route.ref);
}

// INV DeviceID, EventID: the redistributor re-reads the interrupt's configuration.
CmdResult inv(Its& its, const ItsCommand& c) {
    log_dev_event(its, tp::kItsInv, c);
    EventRoute route;
    if (CmdResult r = lookup_target(its, c, route); r != kOk) return r;
    const Ite& ite = route.ref.ite;
    if (ite.is_virtual)
        route.rd->invalidate_vlpi_config(ite.id, ite.intid);
    else
        route.rd->invalidate_lpi_config(ite.intid);
    return kOk;
}

// INVALL ICID: the collection's redistributor re-reads every LPI's configuration.
CmdResult invall(Its& its, const ItsCommand& c) {
    uint16_t icid = static_cast<uint16_t>(cmd::ICID::get(c));
    its.log().emit(tp::kItsInvall, its.index(), icid);
    Redistributor* rd = nullptr;
    if (CmdResult r = its.collection_rd(c, icid, rd); r != kOk) return r;
    rd->invalidate_lpi_config(std::nullopt);
    return kOk;
}

// INT / CLEAR DeviceID, EventID: make the translated interrupt pending / not pending.
CmdResult set_pending(Its& its, const ItsCommand& c, bool pending) {
    log_dev_event(its, pending ? tp::kItsInt : tp::kItsClear, c);
    EventRoute route;
    if (CmdResult r = lookup_target(its, c, route); r != kOk) return r;
    set_ite_pending(*route.rd, route.ref.ite, pending);
    return kOk;
}
CmdResult int_(Its& its, const ItsCommand& c) { return set_pending(its, c, true); }
CmdResult clear(Its& its, const ItsCommand& c) { return set_pending(its, c, false); }

// SYNC RDbase: completes earlier commands for that redistributor; the model is synchronous.
CmdResult sync(Its& its, const ItsCommand& c) {
    uint64_t rd = cmd::RDbase::get(c);
    its.log().emit(tp::kItsSync, its.index(), rd);
    if (rd >= its.gic().rd_count()) return its.command_error(c, fmt::format("RDbase {} names no redistributor", rd));
    return kOk;
}

// MOVALL RDbase1, RDbase2: every pending LPI of the first redistributor moves to the second.
CmdResult movall(Its& its, const ItsCommand& c) {
    uint64_t from = cmd::RDbase::get(c), to = cmd::RDbase2::get(c);
    its.log().emit(tp::kItsMovall, its.index(), from, to);
    if (from >= its.gic().rd_count() || to >= its.gic().rd_count())
        return its.command_error(c, "RDbase1 or RDbase2 names no redistributor");
    if (from == to) return kOk;
    Redistributor& a = its.gic().rd(static_cast<unsigned>(from));
    Redistributor& b = its.gic().rd(static_cast<unsigned>(to));
    for (uint32_t intid : std::set<uint32_t>(a.pending_lpis())) {
        a.set_lpi_pending(intid, false);
        b.set_lpi_pending(intid, true);
    }
    return kOk;
}

const CommandInfo kPhysical[] = {
    {Opcode::MOVI, "MOVI", movi, false, false, "IHI 0069 MOVI; reference/arm §1.2", &tp::kItsMoviError,
     &tp::kItsMoviFault},
    {Opcode::INT, "INT", int_, false, false, "IHI 0069 INT; its_send_vint for vLPIs", &tp::kItsIntError,
     &tp::kItsIntFault},
    {Opcode::CLEAR, "CLEAR", clear, false, false, "IHI 0069 CLEAR; its_send_vclear for vLPIs", &tp::kItsClearError,
     &tp::kItsClearFault},
    {Opcode::SYNC, "SYNC", sync, false, false, "IHI 0069 SYNC", &tp::kItsSyncError, nullptr},
    {Opcode::MAPD, "MAPD", mapd, false, false, "IHI 0069 MAPD; its_build_mapd_cmd", &tp::kItsMapdError,
     &tp::kItsMapdFault},
    {Opcode::MAPC, "MAPC", mapc, false, false, "IHI 0069 MAPC; its_build_mapc_cmd", &tp::kItsMapcError,
     &tp::kItsMapcFault},
    {Opcode::MAPTI, "MAPTI", mapti, false, false, "IHI 0069 MAPTI; its_build_mapti_cmd", &tp::kItsMaptiError,
     &tp::kItsMaptiFault},
    {Opcode::MAPI, "MAPI", mapi, false, false, "IHI 0069 MAPI (MAPTI with pINTID = EventID)", &tp::kItsMapiError,
     &tp::kItsMapiFault},
    {Opcode::INV, "INV", inv, false, false, "IHI 0069 INV", &tp::kItsInvError, &tp::kItsInvFault},
    {Opcode::INVALL, "INVALL", invall, false, false, "IHI 0069 INVALL", &tp::kItsInvallError, &tp::kItsInvallFault},
    {Opcode::MOVALL, "MOVALL", movall, false, false, "IHI 0069 MOVALL; vgic_its_cmd_handle_movall",
     &tp::kItsMovallError, nullptr},
    {Opcode::DISCARD, "DISCARD", discard, false, false, "IHI 0069 DISCARD; vgic_its_cmd_handle_discard",
     &tp::kItsDiscardError, &tp::kItsDiscardFault},
};

}  // namespace

std::span<const CommandInfo> physical_commands() { return kPhysical; }

}  // namespace irqdiff::arm
