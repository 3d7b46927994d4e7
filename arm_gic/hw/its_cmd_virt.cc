// The virtual (GICv4) ITS commands: VMAPP, VMAPTI, VMAPI, VMOVI, VMOVP, VSYNC, VINVALL, and the
// GICv4.1-only INVDB and VSGI. Field differences between GICv4.0 and GICv4.1 (reference/arm §1.2,
// §1.7): VMAPP's Alloc, PTZ, VCONF_addr and Default_Doorbell and VMOVP's DB and Default_Doorbell
// exist only on 4.1; per-vLPI doorbells (VMAPTI/VMOVI) only on 4.0.
#include <fmt/format.h>

#include "arm_gic/hw/gic.h"
#include "arm_gic/hw/its.h"
#include "arm_gic/trace_points.h"

namespace irqdiff::arm {

namespace {

constexpr CmdResult kOk = CmdResult::Ok;
/// A VPT must cover the LPI range: vINTIDs from 8192 need at least 14 ID bits.
constexpr unsigned kMinVptIdBits = 14;

uint32_t device_of(const ItsCommand& c) { return static_cast<uint32_t>(cmd::DeviceID::get(c)); }
uint32_t event_of(const ItsCommand& c) { return static_cast<uint32_t>(cmd::EventID::get(c)); }
uint32_t vpe_of(const ItsCommand& c) { return static_cast<uint32_t>(cmd::vPEID::get(c)); }

bool valid_lpi(const Its& its, uint64_t intid) {
    return intid >= kFirstLpiIntid && intid < (uint64_t{1} << its.config().lpi_id_bits);
}

/// A per-vLPI doorbell field: GICv4.0 uses it (an LPI or 1023); GICv4.1 uses the vPE's default
/// doorbell instead, so another value is logged and dropped.
CmdResult doorbell_field(Its& its, const ItsCommand& c, uint32_t field, uint32_t& out) {
    out = kNoDoorbell;
    if (its.config().v41()) {
        if (field != kNoDoorbell)
            its.log().emit(tp::kItsDoorbellFieldIgnored,
                           "GICv4.1 rings the vPE's default doorbell; a per-vLPI doorbell is not used (Linux "
                           "writes 1023, reference/arm §1.2)",
                           its.index(), field);
        return kOk;
    }
    if (field != kNoDoorbell && !valid_lpi(its, field))
        return its.command_error(c, fmt::format("doorbell pINTID {} is neither an LPI nor 1023", field));
    out = field;
    return kOk;
}

// VMAPP vPEID, RDbase, V, VPT_addr, VPT_size (+4.1: Alloc, PTZ, VCONF_addr, Default_Doorbell).
CmdResult vmapp(Its& its, const ItsCommand& c) {
    const bool v41 = its.config().v41();
    uint32_t vpeid = vpe_of(c);
    bool valid = cmd::Valid::get(c);
    uint16_t rdbase = static_cast<uint16_t>(cmd::RDbase::get(c));
    uint64_t vpt = cmd::VPT_addr::get(c) << 16;
    uint8_t vpt_size = static_cast<uint8_t>(cmd::VPT_size::get(c));
    bool alloc = v41 && cmd::Alloc::get(c);
    bool ptz = v41 && cmd::PTZ::get(c);
    uint64_t vconf = v41 ? cmd::VCONF_addr::get(c) << 16 : 0;
    uint32_t db = v41 ? static_cast<uint32_t>(cmd::DefaultDoorbell::get(c)) : kNoDoorbell;
    its.log().emit(tp::kItsVmapp, its.index(), vpeid, valid, rdbase, Hex{vpt}, vpt_size + 1, alloc, ptz, Hex{vconf},
                   db);
    if (!v41 && (cmd::Alloc::get(c) || cmd::PTZ::get(c) || cmd::VCONF_addr::get(c) || cmd::DefaultDoorbell::get(c) ||
                 (vpt_size & 0xC0)))
        its.log().emit(tp::kItsVmappV40Ignored,
                       "GICv4.0 VMAPP has no Alloc, PTZ, VCONF_addr or Default_Doorbell, and VPT_size[7:6]: "
                       "those bits are RES0 and ignored",
                       its.index(), vpeid);
    if (!v41) vpt_size &= 0x3F;  // GICv4.0: VPT_size[7:6] are RES0
    uint64_t entry = 0;
    if (CmdResult r = its.locate_vpe(c, vpeid, entry); r != kOk) return r;
    Redistributor* holder = its.gic().rd_of_vpe(vpeid);

    if (!valid) {
        if (!its.maps_vpe(vpeid))
            return its.command_error(c, fmt::format("VMAPP V=0 of vPE {}, which is not mapped", vpeid));
        if (holder && holder->resident_vpe() == vpeid)
            return its.command_error(c, fmt::format("VMAPP V=0 of vPE {} while it is resident (UNPREDICTABLE)", vpeid));
        its.note_vpe_mapped(vpeid, false);
        if (holder) holder->unmap_vpe(vpeid, alloc);
        bool mapped_elsewhere = false;
        for (unsigned i = 0; i < its.gic().its_count(); ++i) mapped_elsewhere |= its.gic().its(i).maps_vpe(vpeid);
        if (!mapped_elsewhere) {
            MemRead<Vpte> old = read_vpte(its.memory(), entry);
            Vpte cleared = old.ok() ? old.value : Vpte{};
            cleared.valid = false;
            return its.write_vpte(c, entry, cleared);
        }
        return kOk;
    }

    if (its.maps_vpe(vpeid))
        return its.command_error(
            c, fmt::format("VMAPP V=1 of vPE {}, which this ITS already maps (UNPREDICTABLE)", vpeid));
    if (rdbase >= its.gic().rd_count())
        return its.command_error(c, fmt::format("RDbase {} names no redistributor", rdbase));
    unsigned id_bits = vpt_size + 1u;
    if (id_bits < kMinVptIdBits || id_bits > its.config().lpi_id_bits)
        return its.command_error(c, fmt::format("VPT_size {} gives {} vINTID bits; the VPT must cover 14..{} bits",
                                                vpt_size, id_bits, its.config().lpi_id_bits));
    if (v41 && db != kNoDoorbell && !valid_lpi(its, db))
        return its.command_error(c, fmt::format("Default_Doorbell {} is neither an LPI nor 1023", db));
    if (holder && holder->index() != rdbase && holder->vpe(vpeid)->maps > 0)
        return its.command_error(c, fmt::format("vPE {} is mapped to redistributor {} by another ITS; every ITS must "
                                                "map it to the same one",
                                                vpeid, holder->index()));
    if (holder && holder->index() != rdbase)  // a stale state left by an unmap that did not clean
        holder->drop_vpe(vpeid, "the vPE is mapped to another redistributor; GICv4.0 (or Alloc=0) left no clean copy");
    Vpte vpte{true, vpt_size, vpt, rdbase, vconf, db};
    if (CmdResult r = its.write_vpte(c, entry, vpte); r != kOk) return r;
    its.note_vpe_mapped(vpeid, true);
    its.gic().rd(rdbase).map_vpe(VpeProps{vpeid, vpt, id_bits, vconf, db}, alloc, ptz);
    return kOk;
}

CmdResult map_virtual(Its& its, const ItsCommand& c, uint32_t vintid, const Op<Int, Int, Int, Int, Int, Int>& point) {
    uint32_t vpeid = vpe_of(c);
    uint32_t db_field = static_cast<uint32_t>(cmd::DbellPINTID::get(c));
    its.log().emit(point, its.index(), device_of(c), event_of(c), vpeid, vintid, db_field);
    IteRef ref;
    if (CmdResult r = its.locate_ite(c, device_of(c), event_of(c), ref); r != kOk) return r;
    if (ref.ite.valid)
        return its.command_error(c, "the DeviceID/EventID is already mapped (UNPREDICTABLE; Linux uses VMOVI)");
    VpteRef vpe;
    if (CmdResult r = its.lookup_vpe(c, vpeid, vpe); r != kOk) return r;
    if (vintid < kFirstLpiIntid || vintid >= (uint64_t{1} << vpe.vpte.id_bits()))
        return its.command_error(c, fmt::format("vINTID {} is not an LPI within vPE {}'s VPT", vintid, vpeid));
    uint32_t doorbell = kNoDoorbell;
    if (CmdResult r = doorbell_field(its, c, db_field, doorbell); r != kOk) return r;
    ref.ite = Ite{true, true, static_cast<uint16_t>(vpeid), vintid, doorbell};
    return its.write_ite(c, ref);
}

// VMAPTI DeviceID, EventID, vPEID, vINTID, Dbell_pINTID; VMAPI is VMAPTI with vINTID = EventID.
CmdResult vmapti(Its& its, const ItsCommand& c) {
    return map_virtual(its, c, static_cast<uint32_t>(cmd::vINTID::get(c)), tp::kItsVmapti);
}
CmdResult vmapi(Its& its, const ItsCommand& c) { return map_virtual(its, c, event_of(c), tp::kItsVmapi); }

// VMOVI DeviceID, EventID, vPEID, D, Dbell_pINTID: move a vLPI to another vPE; its pending state
// leaves the source VPT and enters the destination one (reference/arm §1.2). D and Dbell_pINTID
// set a GICv4.0 per-vLPI doorbell; GICv4.1 has per-vPE doorbells only, and the two fields are RES0
// (IHI 0069 VMOVI; Linux's its_vlpi_set_doorbell sends no VMOVI on 4.1), so the ITS does not read
// them. Linux's its_build_vmovi_cmd still writes D=1 and 1023 there: that is logged as ignored.
CmdResult vmovi(Its& its, const ItsCommand& c) {
    const bool v41 = its.config().v41();
    uint32_t vpeid = vpe_of(c);
    bool d = cmd::D::get(c);
    uint32_t db_field = static_cast<uint32_t>(cmd::DbellPINTID::get(c));
    its.log().emit(tp::kItsVmovi, its.index(), device_of(c), event_of(c), vpeid, d, db_field);
    if (v41 && (d || db_field))
        its.log().emit(tp::kItsVmoviV41Ignored,
                       "GICv4.1 VMOVI: D and Dbell_pINTID are RES0 (doorbells are per vPE): not used", its.index(),
                       vpeid);
    IteRef ref;
    if (CmdResult r = its.lookup_ite(c, device_of(c), event_of(c), ref); r != kOk) return r;
    if (!ref.ite.is_virtual) return its.command_error(c, "VMOVI of a physical LPI (UNPREDICTABLE: MOVI moves LPIs)");
    VpteRef from_vpe, to_vpe;
    if (CmdResult r = its.lookup_vpe(c, ref.ite.id, from_vpe); r != kOk) return r;
    if (CmdResult r = its.lookup_vpe(c, vpeid, to_vpe); r != kOk) return r;
    if (ref.ite.intid >= (uint64_t{1} << to_vpe.vpte.id_bits()))
        return its.command_error(c, fmt::format("vINTID {} is beyond vPE {}'s VPT", ref.ite.intid, vpeid));
    if (d && !v41) {
        uint32_t doorbell = kNoDoorbell;
        if (CmdResult r = doorbell_field(its, c, db_field, doorbell); r != kOk) return r;
        ref.ite.doorbell = doorbell;
    }
    Redistributor* from = its.gic().rd_of_vpe(ref.ite.id);
    Redistributor* to = its.gic().rd_of_vpe(vpeid);
    if (!from || !to) return its.command_error(c, "a vPE has no redistributor");
    if (ref.ite.id != vpeid && from->vlpi_pending(ref.ite.id, ref.ite.intid)) {
        from->set_vlpi_pending(ref.ite.id, ref.ite.intid, false, kNoDoorbell);
        to->set_vlpi_pending(vpeid, ref.ite.intid, true, ref.ite.doorbell);
    }
    ref.ite.id = static_cast<uint16_t>(vpeid);
    return its.write_ite(c, ref);
}

// VMOVP SEQ_NUM, ITSList, vPEID, RDbase (+4.1: DB, Default_Doorbell): move a vPE to another
// redistributor. Without GITS_TYPER.VMOVP every ITS in ITSList must see it, with one SEQ_NUM.
CmdResult vmovp(Its& its, const ItsCommand& c) {
    const bool v41 = its.config().v41();
    Gic::VmovpRequest req;
    req.vpeid = vpe_of(c);
    req.target = static_cast<uint16_t>(cmd::RDbase::get(c));
    req.its_list = static_cast<uint16_t>(cmd::ITSList::get(c));
    req.db = v41 && cmd::DB::get(c);
    req.default_doorbell = req.db ? static_cast<uint32_t>(cmd::VmovpDefaultDoorbell::get(c)) : kNoDoorbell;
    uint16_t seq = static_cast<uint16_t>(cmd::SEQ_NUM::get(c));
    its.log().emit(tp::kItsVmovp, its.index(), req.vpeid, req.target, seq, Hex{req.its_list}, req.db,
                   req.default_doorbell);
    VpteRef vpe;
    if (CmdResult r = its.lookup_vpe(c, req.vpeid, vpe); r != kOk) return r;
    if (req.target >= its.gic().rd_count())
        return its.command_error(c, fmt::format("RDbase {} names no redistributor", req.target));
    if (req.db && req.default_doorbell != kNoDoorbell && !valid_lpi(its, req.default_doorbell))
        return its.command_error(c,
                                 fmt::format("Default_Doorbell {} is neither an LPI nor 1023", req.default_doorbell));
    Redistributor* holder = its.gic().rd_of_vpe(req.vpeid);
    if (holder && holder->resident_vpe() == req.vpeid)
        return its.command_error(c, fmt::format("VMOVP of vPE {} while it is resident (UNPREDICTABLE)", req.vpeid));
    if (!its.config().vmovp_direct && !(req.its_list >> its.index() & 1))
        return its.command_error(c, "GITS_TYPER.VMOVP = 0 and ITSList does not include this ITS");
    if (!v41 && (cmd::DB::get(c) || cmd::VmovpDefaultDoorbell::get(c)))
        its.log().emit(tp::kItsVmovpV40Ignored, "GICv4.0 VMOVP has no DB or Default_Doorbell: ignored", its.index(),
                       req.vpeid);
    // With GITS_TYPER.VMOVP = 0 each ITS updates its own vPE table entry when it processes the
    // VMOVP; the vPE itself moves once every ITS in ITSList has (Gic::vmovp_seen).
    vpe.vpte.rdbase = req.target;
    if (req.db) vpe.vpte.default_doorbell = req.default_doorbell;
    if (CmdResult r = its.write_vpte(c, vpe.addr, vpe.vpte); r != kOk) return r;
    if (its.config().vmovp_direct) {
        its.gic().move_vpe(req);
        return kOk;
    }
    its.gic().vmovp_seen(its.index(), seq, req);
    return kOk;
}

// VSYNC vPEID: completes earlier virtual commands for the vPE; the model is synchronous.
CmdResult vsync(Its& its, const ItsCommand& c) {
    its.log().emit(tp::kItsVsync, its.index(), vpe_of(c));
    VpteRef vpe;
    return its.lookup_vpe(c, vpe_of(c), vpe);
}

// VINVALL vPEID: the redistributor re-reads every vLPI configuration of the vPE.
CmdResult vinvall(Its& its, const ItsCommand& c) {
    its.log().emit(tp::kItsVinvall, its.index(), vpe_of(c));
    VpteRef vpe;
    if (CmdResult r = its.lookup_vpe(c, vpe_of(c), vpe); r != kOk) return r;
    if (Redistributor* rd = its.gic().rd_of_vpe(vpe_of(c))) rd->invalidate_vlpi_config(vpe_of(c), std::nullopt);
    return kOk;
}

// INVDB vPEID (4.1): every redistributor forgets the cached configuration of the vPE's default
// doorbell (its_vpe_4_1_send_inv: "broadcast to all RDs").
CmdResult invdb(Its& its, const ItsCommand& c) {
    its.log().emit(tp::kItsInvdb, its.index(), vpe_of(c));
    VpteRef vpe;
    if (CmdResult r = its.lookup_vpe(c, vpe_of(c), vpe); r != kOk) return r;
    if (vpe.vpte.default_doorbell == kNoDoorbell) return kOk;
    for (unsigned i = 0; i < its.gic().rd_count(); ++i)
        its.gic().rd(i).invalidate_lpi_config(vpe.vpte.default_doorbell);
    return kOk;
}

// VSGI vPEID, vINTID (0..15), Priority, Group, Clear, Enable (4.1): configure a vSGI, or clear
// its pending state; the two are exclusive in one command (its_sgi_irq_domain_deactivate).
CmdResult vsgi(Its& its, const ItsCommand& c) {
    uint32_t vpeid = vpe_of(c);
    unsigned sgi = static_cast<unsigned>(cmd::SgiIntid::get(c));
    uint8_t priority = static_cast<uint8_t>(cmd::SgiPriority::get(c) << 4);
    bool group = cmd::SgiGroup::get(c), clear = cmd::SgiClear::get(c), enable = cmd::SgiEnable::get(c);
    its.log().emit(tp::kItsVsgi, its.index(), vpeid, sgi, Hex{priority}, group, clear, enable);
    Redistributor* rd = nullptr;
    if (CmdResult r = its.vpe_rd(c, vpeid, rd); r != kOk) return r;
    if (clear) {
        if (enable || group || priority)
            its.log().emit(tp::kItsVsgiClearIgnored,
                           "Clear=1: the configuration fields of the same command are not applied", its.index(), vpeid,
                           sgi);
        rd->vsgi_set_pending(vpeid, sgi, false);
    } else {
        rd->vsgi_configure(vpeid, sgi, priority, group, enable);
    }
    return kOk;
}

const CommandInfo kVirtual[] = {
    {Opcode::VMOVI, "VMOVI", vmovi, true, false, "IHI 0069 VMOVI; its_build_vmovi_cmd", &tp::kItsVmoviError,
     &tp::kItsVmoviFault},
    {Opcode::VMOVP, "VMOVP", vmovp, true, false, "IHI 0069 VMOVP; its_build_vmovp_cmd, its_send_vmovp",
     &tp::kItsVmovpError, &tp::kItsVmovpFault},
    {Opcode::VSGI, "VSGI", vsgi, true, true, "IHI 0069 VSGI (GICv4.1); its_build_vsgi_cmd", &tp::kItsVsgiError,
     &tp::kItsVsgiFault},
    {Opcode::VSYNC, "VSYNC", vsync, true, false, "IHI 0069 VSYNC; its_build_vsync_cmd", &tp::kItsVsyncError,
     &tp::kItsVsyncFault},
    {Opcode::VMAPP, "VMAPP", vmapp, true, false, "IHI 0069 VMAPP (Alloc, PTZ, VCONF, Default_Doorbell on 4.1)",
     &tp::kItsVmappError, &tp::kItsVmappFault},
    {Opcode::VMAPTI, "VMAPTI", vmapti, true, false, "IHI 0069 VMAPTI; its_build_vmapti_cmd", &tp::kItsVmaptiError,
     &tp::kItsVmaptiFault},
    {Opcode::VMAPI, "VMAPI", vmapi, true, false, "IHI 0069 VMAPI (VMAPTI with vINTID = EventID)", &tp::kItsVmapiError,
     &tp::kItsVmapiFault},
    {Opcode::VINVALL, "VINVALL", vinvall, true, false, "IHI 0069 VINVALL; its_build_vinvall_cmd", &tp::kItsVinvallError,
     &tp::kItsVinvallFault},
    {Opcode::INVDB, "INVDB", invdb, true, true, "IHI 0069 INVDB (GICv4.1); its_build_invdb_cmd", &tp::kItsInvdbError,
     &tp::kItsInvdbFault},
};

}  // namespace

std::span<const CommandInfo> virtual_commands() { return kVirtual; }

}  // namespace irqdiff::arm
