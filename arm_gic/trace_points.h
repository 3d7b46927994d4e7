// The ARM stack's declared events (core/trace_point.h): the GIC (ITS, redistributors, CPU
// interfaces), KVM's vgic and vITS, the host's ITS driver, QEMU's ARM steps and the guest. Each
// code path emits through these, and tests name them, so a rename is a compile error. Core's own
// declarations (the scenario, the migration driver, VFIO, the guest steps every backend shares)
// are visible here too (core/trace_points.h). trace_points() lists this file's declarations for
// the registry's catalogue, in this order (docs/traces.md shows them).
#pragma once

#include "core/trace_points.h"

namespace irqdiff::arm::tp {

using namespace ::irqdiff::tp;  // core's declarations, as tp::kStep etc.

// One declaration per entry: op, layer and keys first, then the doc and its source.
// clang-format off

// ---- ITS registers (arm_gic/hw/its.cc) ------------------------------------------------------------
inline constexpr Ignored<Int, Hex> kItsReadIgnored{"ITS.read", Layer::Hardware, {"its", "offset"},
    "a read of an ITS register the model does not implement (RAZ)"};
inline constexpr Op<Int, Bool> kItsWriteCtlr{"ITS.write_CTLR", Layer::Hardware, {"its", "enabled"},
    "GITS_CTLR.Enabled written; enabling processes the command queue", "IHI 0069 GITS_CTLR"};
inline constexpr GuestError<Int, Hex> kItsWriteCbaserError{"ITS.write_CBASER", Layer::Hardware, {"its", "value"},
    "GITS_CBASER written while the ITS is enabled: ignored", "IHI 0069 GITS_CBASER"};
inline constexpr Op<Int, Bool, Hex, Int> kItsWriteCbaser{
    "ITS.write_CBASER", Layer::Hardware, {"its", "valid", "base", "bytes"},
    "the command queue's base and size", "IHI 0069 GITS_CBASER"};
inline constexpr GuestError<Int, Hex, Int> kItsWriteCwriterError{
    "ITS.write_CWRITER", Layer::Hardware, {"its", "offset", "queue_bytes"},
    "GITS_CWRITER beyond the command queue: ignored", "IHI 0069 GITS_CWRITER"};
inline constexpr Op<Int, Hex, Bool> kItsWriteCwriter{"ITS.write_CWRITER", Layer::Hardware, {"its", "offset", "retry"},
    "GITS_CWRITER written: the queue runs up to it (Retry restarts a stalled queue)", "IHI 0069 GITS_CWRITER"};
inline constexpr Ignored<Int, Hex> kItsWriteReadOnlyIgnored{"ITS.write", Layer::Hardware, {"its", "offset"},
    "a write to a read-only ITS register (WI)"};
inline constexpr Ignored<Int, Hex, Hex> kItsWriteIgnored{"ITS.write", Layer::Hardware, {"its", "offset", "value"},
    "a write to an ITS register the model does not implement (WI)"};
inline constexpr Ignored<Int, Int> kItsWriteBaserIgnored{"ITS.write_BASER", Layer::Hardware, {"its", "n"},
    "a write to an unimplemented GITS_BASER<n> (RAZ/WI)", "IHI 0069 GITS_BASER<n>"};
inline constexpr GuestError<Int, Int> kItsWriteBaserError{"ITS.write_BASER", Layer::Hardware, {"its", "n"},
    "GITS_BASER<n> written while the ITS is enabled: ignored", "IHI 0069 GITS_BASER<n>"};
inline constexpr Op<Int, Int, Bool, Bool, Hex, Int, Int> kItsWriteBaser{
    "ITS.write_BASER", Layer::Hardware, {"its", "n", "valid", "indirect", "base", "page_bytes", "pages"},
    "a table descriptor (device, collection or vPE table)", "IHI 0069 GITS_BASER<n>"};
inline constexpr Ignored<Int, Hex> kItsWriteTranslaterIgnored{"ITS.write_TRANSLATER", Layer::Hardware, {"its", "value"},
    "a CPU write to GITS_TRANSLATER: the DeviceID comes from the bus, so devices use Its::translate"};
inline constexpr GuestError<Int, Hex> kItsWriteSgirError{"ITS.write_SGIR", Layer::Hardware, {"its", "offset"},
    "a GITS_SGIR access that is not one 64-bit write: ignored", "IHI 0069 GITS_SGIR (GICv4.1)"};
inline constexpr Op<Int, Int, Int> kItsWriteSgir{"ITS.write_SGIR", Layer::Hardware, {"its", "vpe", "sgi"},
    "a vSGI sent through GITS_SGIR", "IHI 0069 GITS_SGIR (GICv4.1)"};
inline constexpr Ignored<Int, Int> kItsWriteSgirIgnored{"ITS.write_SGIR", Layer::Hardware, {"its", "vpe"},
    "a vSGI to a vPE this ITS does not map: dropped", "IHI 0069 GITS_SGIR (GICv4.1)"};

// ---- the command queue and command errors (Its::process_queue, command_error, table_fault) -------
inline constexpr Op<Int, Hex> kItsStalled{"ITS.stalled", Layer::Hardware, {"its", "creadr"},
    "the queue stalls at a command (GITS_CREADR.Stalled)", "IHI 0069 GITS_CREADR"};
inline constexpr GuestError<Int, Hex> kItsCommandQueueFault{"ITS.command_queue", Layer::Hardware, {"its", "addr"},
    "a memory fault reading the command queue; the response is policy arm.its_table_fault",
    "IHI 0069 (CONSTRAINED UNPREDICTABLE)"};

/// An ITS command the ITS cannot carry out; the response is policy arm.its_command_error. One
/// declaration per command (its row in the command table names it), as the log names it.
constexpr GuestError<Int, Hex> its_command_error(std::string_view op) {
    return {op, Layer::Hardware, {"its", "opcode"},
            "a command error; the response is policy arm.its_command_error", "IHI 0069 (CONSTRAINED UNPREDICTABLE)"};
}
/// A memory fault on a table a command reads or writes; the response is policy
/// arm.its_table_fault. One per command that walks a table.
constexpr GuestError<Int, Hex> its_table_fault(std::string_view op) {
    return {op, Layer::Hardware, {"its", "addr"},
            "a memory fault on an ITS table; the response is policy arm.its_table_fault",
            "IHI 0069 (CONSTRAINED UNPREDICTABLE)"};
}
inline constexpr GuestError<Int, Hex> kItsUnknownCommandError = its_command_error("ITS.UNKNOWN");
inline constexpr GuestError<Int, Hex> kItsMoviError = its_command_error("ITS.MOVI");
inline constexpr GuestError<Int, Hex> kItsMoviFault = its_table_fault("ITS.MOVI");
inline constexpr GuestError<Int, Hex> kItsIntError = its_command_error("ITS.INT");
inline constexpr GuestError<Int, Hex> kItsIntFault = its_table_fault("ITS.INT");
inline constexpr GuestError<Int, Hex> kItsClearError = its_command_error("ITS.CLEAR");
inline constexpr GuestError<Int, Hex> kItsClearFault = its_table_fault("ITS.CLEAR");
inline constexpr GuestError<Int, Hex> kItsSyncError = its_command_error("ITS.SYNC");
inline constexpr GuestError<Int, Hex> kItsMapdError = its_command_error("ITS.MAPD");
inline constexpr GuestError<Int, Hex> kItsMapdFault = its_table_fault("ITS.MAPD");
inline constexpr GuestError<Int, Hex> kItsMapcError = its_command_error("ITS.MAPC");
inline constexpr GuestError<Int, Hex> kItsMapcFault = its_table_fault("ITS.MAPC");
inline constexpr GuestError<Int, Hex> kItsMaptiError = its_command_error("ITS.MAPTI");
inline constexpr GuestError<Int, Hex> kItsMaptiFault = its_table_fault("ITS.MAPTI");
inline constexpr GuestError<Int, Hex> kItsMapiError = its_command_error("ITS.MAPI");
inline constexpr GuestError<Int, Hex> kItsMapiFault = its_table_fault("ITS.MAPI");
inline constexpr GuestError<Int, Hex> kItsInvError = its_command_error("ITS.INV");
inline constexpr GuestError<Int, Hex> kItsInvFault = its_table_fault("ITS.INV");
inline constexpr GuestError<Int, Hex> kItsInvallError = its_command_error("ITS.INVALL");
inline constexpr GuestError<Int, Hex> kItsInvallFault = its_table_fault("ITS.INVALL");
inline constexpr GuestError<Int, Hex> kItsMovallError = its_command_error("ITS.MOVALL");
inline constexpr GuestError<Int, Hex> kItsDiscardError = its_command_error("ITS.DISCARD");
inline constexpr GuestError<Int, Hex> kItsDiscardFault = its_table_fault("ITS.DISCARD");
inline constexpr GuestError<Int, Hex> kItsVmoviError = its_command_error("ITS.VMOVI");
inline constexpr GuestError<Int, Hex> kItsVmoviFault = its_table_fault("ITS.VMOVI");
inline constexpr GuestError<Int, Hex> kItsVmovpError = its_command_error("ITS.VMOVP");
inline constexpr GuestError<Int, Hex> kItsVmovpFault = its_table_fault("ITS.VMOVP");
inline constexpr GuestError<Int, Hex> kItsVsgiError = its_command_error("ITS.VSGI");
inline constexpr GuestError<Int, Hex> kItsVsgiFault = its_table_fault("ITS.VSGI");
inline constexpr GuestError<Int, Hex> kItsVsyncError = its_command_error("ITS.VSYNC");
inline constexpr GuestError<Int, Hex> kItsVsyncFault = its_table_fault("ITS.VSYNC");
inline constexpr GuestError<Int, Hex> kItsVmappError = its_command_error("ITS.VMAPP");
inline constexpr GuestError<Int, Hex> kItsVmappFault = its_table_fault("ITS.VMAPP");
inline constexpr GuestError<Int, Hex> kItsVmaptiError = its_command_error("ITS.VMAPTI");
inline constexpr GuestError<Int, Hex> kItsVmaptiFault = its_table_fault("ITS.VMAPTI");
inline constexpr GuestError<Int, Hex> kItsVmapiError = its_command_error("ITS.VMAPI");
inline constexpr GuestError<Int, Hex> kItsVmapiFault = its_table_fault("ITS.VMAPI");
inline constexpr GuestError<Int, Hex> kItsVinvallError = its_command_error("ITS.VINVALL");
inline constexpr GuestError<Int, Hex> kItsVinvallFault = its_table_fault("ITS.VINVALL");
inline constexpr GuestError<Int, Hex> kItsInvdbError = its_command_error("ITS.INVDB");
inline constexpr GuestError<Int, Hex> kItsInvdbFault = its_table_fault("ITS.INVDB");

// ---- physical ITS commands (arm_gic/hw/its_cmd_phys.cc) --------------------------------------------
inline constexpr Op<Int, Int, Bool, Hex, Int> kItsMapd{
    "ITS.MAPD", Layer::Hardware, {"its", "device", "valid", "itt", "event_bits"},
    "MAPD: a device mapped to its ITT, or unmapped", "IHI 0069 MAPD; its_build_mapd_cmd"};
inline constexpr Op<Int, Int, Int, Bool> kItsMapc{"ITS.MAPC", Layer::Hardware, {"its", "icid", "rd", "valid"},
    "MAPC: a collection mapped to a redistributor, or unmapped", "IHI 0069 MAPC; its_build_mapc_cmd"};
inline constexpr Op<Int, Int, Int, Int, Int> kItsMapti{
    "ITS.MAPTI", Layer::Hardware, {"its", "device", "event", "lpi", "icid"},
    "MAPTI: an EventID mapped to a physical LPI and collection", "IHI 0069 MAPTI; its_build_mapti_cmd"};
inline constexpr Op<Int, Int, Int, Int, Int> kItsMapi{
    "ITS.MAPI", Layer::Hardware, {"its", "device", "event", "lpi", "icid"},
    "MAPI: MAPTI with pINTID = EventID", "IHI 0069 MAPI"};
inline constexpr Op<Int, Int, Int, Int> kItsMovi{"ITS.MOVI", Layer::Hardware, {"its", "device", "event", "icid"},
    "MOVI: a physical LPI retargeted; its pending state moves with it", "IHI 0069 MOVI"};
inline constexpr Op<Int, Int, Int> kItsInt{"ITS.INT", Layer::Hardware, {"its", "device", "event"},
    "INT: the interrupt an ITE names (LPI or vLPI) made pending", "IHI 0069 INT; its_send_vint for vLPIs"};
inline constexpr Op<Int, Int, Int> kItsClear{"ITS.CLEAR", Layer::Hardware, {"its", "device", "event"},
    "CLEAR: the interrupt an ITE names (LPI or vLPI) made not pending", "IHI 0069 CLEAR; its_send_vclear for vLPIs"};
inline constexpr Op<Int, Int, Int> kItsDiscard{"ITS.DISCARD", Layer::Hardware, {"its", "device", "event"},
    "DISCARD: an ITE removed and its interrupt's pending state cleared", "IHI 0069 DISCARD"};
inline constexpr Op<Int, Int, Int> kItsInv{"ITS.INV", Layer::Hardware, {"its", "device", "event"},
    "INV: the configuration of the interrupt an ITE names re-read", "IHI 0069 INV"};
inline constexpr Op<Int, Int> kItsInvall{"ITS.INVALL", Layer::Hardware, {"its", "icid"},
    "INVALL: the collection's redistributor re-reads every LPI's configuration", "IHI 0069 INVALL"};
inline constexpr Op<Int, Int> kItsSync{"ITS.SYNC", Layer::Hardware, {"its", "rd"},
    "SYNC: earlier commands for a redistributor complete (the model is synchronous)", "IHI 0069 SYNC"};
inline constexpr Op<Int, Int, Int> kItsMovall{"ITS.MOVALL", Layer::Hardware, {"its", "from", "to"},
    "MOVALL: every pending LPI of one redistributor moves to another", "IHI 0069 MOVALL"};

// ---- virtual ITS commands (arm_gic/hw/its_cmd_virt.cc) ----------------------------------------------
inline constexpr Ignored<Int, Int> kItsDoorbellFieldIgnored{"ITS.doorbell_field", Layer::Hardware, {"its", "doorbell"},
    "GICv4.1 rings the vPE's default doorbell: a per-vLPI doorbell field is not used", "reference/arm §1.2"};
inline constexpr Op<Int, Int, Bool, Int, Hex, Int, Bool, Bool, Hex, Int> kItsVmapp{
    "ITS.VMAPP", Layer::Hardware,
    {"its", "vpe", "valid", "rd", "vpt", "vpt_bits", "alloc", "ptz", "vconf", "default_doorbell"},
    "VMAPP: a vPE mapped to a redistributor with its VPT, or unmapped",
    "IHI 0069 VMAPP (Alloc, PTZ, VCONF, Default_Doorbell on 4.1)"};
inline constexpr Ignored<Int, Int> kItsVmappV40Ignored{"ITS.VMAPP", Layer::Hardware, {"its", "vpe"},
    "GICv4.0 VMAPP: the GICv4.1 fields (Alloc, PTZ, VCONF_addr, Default_Doorbell) are ignored", "IHI 0069 VMAPP"};
inline constexpr Op<Int, Int, Int, Int, Int, Int> kItsVmapti{
    "ITS.VMAPTI", Layer::Hardware, {"its", "device", "event", "vpe", "vintid", "doorbell"},
    "VMAPTI: an EventID mapped to a vLPI of a vPE", "IHI 0069 VMAPTI; its_build_vmapti_cmd"};
inline constexpr Op<Int, Int, Int, Int, Int, Int> kItsVmapi{
    "ITS.VMAPI", Layer::Hardware, {"its", "device", "event", "vpe", "vintid", "doorbell"},
    "VMAPI: VMAPTI with vINTID = EventID", "IHI 0069 VMAPI"};
inline constexpr Op<Int, Int, Int, Int, Bool, Int> kItsVmovi{
    "ITS.VMOVI", Layer::Hardware, {"its", "device", "event", "vpe", "d", "doorbell"},
    "VMOVI: a vLPI moved to another vPE, its pending state with it", "IHI 0069 VMOVI; its_build_vmovi_cmd"};
inline constexpr Ignored<Int, Int> kItsVmoviV41Ignored{"ITS.VMOVI", Layer::Hardware, {"its", "vpe"},
    "GICv4.1 VMOVI: D and Dbell_pINTID are RES0 (the vPE's default doorbell is used): ignored",
    "IHI 0069 VMOVI (GICv4.1); its_vlpi_set_doorbell"};
inline constexpr Op<Int, Int, Int, Int, Hex, Bool, Int> kItsVmovp{
    "ITS.VMOVP", Layer::Hardware, {"its", "vpe", "rd", "seq", "its_list", "db", "default_doorbell"},
    "VMOVP: a vPE moved to another redistributor", "IHI 0069 VMOVP; its_build_vmovp_cmd, its_send_vmovp"};
inline constexpr Ignored<Int, Int> kItsVmovpV40Ignored{"ITS.VMOVP", Layer::Hardware, {"its", "vpe"},
    "GICv4.0 VMOVP: the GICv4.1 DB and Default_Doorbell are ignored", "IHI 0069 VMOVP"};
inline constexpr Op<Int, Int, Hex, Hex> kItsVmovpSeen{
    "ITS.VMOVP.seen", Layer::Hardware, {"its", "seq", "seen", "its_list"},
    "one ITS of a VMOVP's ITSList saw the move (every one must, with one SEQ_NUM)", "IHI 0069 VMOVP"};
inline constexpr Op<Int, Int> kItsVsync{"ITS.VSYNC", Layer::Hardware, {"its", "vpe"},
    "VSYNC: earlier virtual commands for the vPE complete (the model is synchronous)", "IHI 0069 VSYNC"};
inline constexpr Op<Int, Int> kItsVinvall{"ITS.VINVALL", Layer::Hardware, {"its", "vpe"},
    "VINVALL: the redistributor re-reads every vLPI configuration of the vPE", "IHI 0069 VINVALL"};
inline constexpr Op<Int, Int> kItsInvdb{"ITS.INVDB", Layer::Hardware, {"its", "vpe"},
    "INVDB: every redistributor forgets the vPE's cached default doorbell configuration",
    "IHI 0069 INVDB (GICv4.1); its_vpe_4_1_send_inv"};
inline constexpr Op<Int, Int, Int, Hex, Bool, Bool, Bool> kItsVsgi{
    "ITS.VSGI", Layer::Hardware, {"its", "vpe", "sgi", "priority", "group", "clear", "enable"},
    "VSGI: a vSGI configured, or its pending state cleared", "IHI 0069 VSGI (GICv4.1); its_build_vsgi_cmd"};
inline constexpr Ignored<Int, Int, Int> kItsVsgiClearIgnored{"ITS.VSGI", Layer::Hardware, {"its", "vpe", "sgi"},
    "VSGI with Clear=1: the configuration fields of the same command are not applied", "IHI 0069 VSGI"};

// ---- MSI translation (Gic::msi, Its::translate) -----------------------------------------------------
inline constexpr GuestError<Hex, Hex, Hex> kBusNoTranslaterError{"BUS.no_translater", Layer::Hardware,
    {"address", "data", "requester"}, "an MSI write to an address that is no ITS's GITS_TRANSLATER: dropped",
    "IHI 0069 GITS_TRANSLATER"};
inline constexpr Ignored<Int, Int, Int> kItsTranslateIgnored{
    "ITS.translate", Layer::Hardware, {"its", "device", "event"},
    "an MSI dropped: the ITS is disabled, or DeviceID/EventID has no mapping", "IHI 0069 translation errors"};
inline constexpr Ignored<Int, Int, Int, Int> kItsTranslateNoCollectionIgnored{
    "ITS.translate", Layer::Hardware, {"its", "device", "event", "icid"},
    "an MSI dropped: its ITE's collection is not mapped", "IHI 0069 translation errors"};
inline constexpr Ignored<Int, Int, Int, Int> kItsTranslateNoVpeIgnored{
    "ITS.translate", Layer::Hardware, {"its", "device", "event", "vpe"},
    "an MSI dropped: its ITE's vPE is not mapped, or the vINTID is beyond the vPE's VPT",
    "IHI 0069 translation errors"};
inline constexpr Op<Int, Int, Int, Int, Int> kItsTranslate{
    "ITS.translate", Layer::Hardware, {"its", "device", "event", "lpi", "rd"},
    "an MSI translated to a physical LPI, made pending on its collection's redistributor", "IHI 0069 GITS_TRANSLATER"};
inline constexpr Op<Int, Int, Int, Int, Int> kItsTranslateVirtual{
    "ITS.translate", Layer::Hardware, {"its", "device", "event", "vlpi", "vpe"},
    "an MSI translated to a vLPI, made pending for its vPE", "IHI 0069 GITS_TRANSLATER"};

// ---- redistributors (arm_gic/hw/redistributor.cc) ---------------------------------------------------
inline constexpr Ignored<Int, Hex> kGicrReadIgnored{"GICR.read", Layer::Hardware, {"rd", "offset"},
    "a read of a redistributor register the model does not implement (RAZ)"};
inline constexpr GuestError<Int, Int> kGicrReadVsgipendrError{"GICR.read_VSGIPENDR", Layer::Hardware, {"rd", "vpe"},
    "GICR_VSGIR names a vPE no ITS maps: reads 0", "IHI 0069 GICR_VSGIPENDR (GICv4.1)"};
inline constexpr Op<Int, Int> kGicrVptParsed{"GICR.vpt_parsed", Layer::Hardware, {"rd", "vpe"},
    "GICR_VPENDBASER.Dirty read 0: the resident vPE's VPT is parsed", "IHI 0069 GICR_VPENDBASER.Dirty"};
inline constexpr Op<Int, Bool> kGicrWriteCtlr{"GICR.write_CTLR", Layer::Hardware, {"rd", "enable_lpis"},
    "GICR_CTLR.EnableLPIs written", "IHI 0069 GICR_CTLR"};
inline constexpr GuestError<Int> kGicrWritePropbaserError{"GICR.write_PROPBASER", Layer::Hardware, {"rd"},
    "GICR_PROPBASER written while EnableLPIs = 1: ignored", "IHI 0069 GICR_PROPBASER"};
inline constexpr Op<Int, Hex> kGicrWritePropbaser{"GICR.write_PROPBASER", Layer::Hardware, {"rd", "value"},
    "the LPI configuration table's base", "IHI 0069 GICR_PROPBASER"};
inline constexpr GuestError<Int> kGicrWritePendbaserError{"GICR.write_PENDBASER", Layer::Hardware, {"rd"},
    "GICR_PENDBASER written while EnableLPIs = 1: ignored", "IHI 0069 GICR_PENDBASER"};
inline constexpr Op<Int, Hex> kGicrWritePendbaser{"GICR.write_PENDBASER", Layer::Hardware, {"rd", "value"},
    "the LPI pending table's base", "IHI 0069 GICR_PENDBASER"};
inline constexpr Op<Int, Bool, Int, Int> kGicrWriteInvlpir{
    "GICR.write_INVLPIR", Layer::Hardware, {"rd", "virtual", "vpe", "intid"},
    "one (v)LPI's configuration invalidated", "IHI 0069 GICR_INVLPIR (GICv4.1)"};
inline constexpr Op<Int, Int> kGicrWriteClrlpir{"GICR.write_CLRLPIR", Layer::Hardware, {"rd", "intid"},
    "a physical LPI's pending state cleared (DirectLPI)", "IHI 0069 GICR_CLRLPIR"};
inline constexpr Op<Int, Bool, Int, Int> kGicrWriteInvallr{
    "GICR.write_INVALLR", Layer::Hardware, {"rd", "virtual", "vpe", "intid"},
    "every (v)LPI configuration invalidated", "IHI 0069 GICR_INVALLR (GICv4.1)"};
inline constexpr GuestError<Int, Int> kGicrInvalidateError{"GICR.invalidate", Layer::Hardware, {"rd", "vpe"},
    "GICR_INVLPIR/INVALLR name a vPE that is not mapped: ignored", "IHI 0069 GICR_INVLPIR"};
inline constexpr GuestError<Int> kGicrWriteVpropbaserError{"GICR.write_VPROPBASER", Layer::Hardware, {"rd"},
    "GICR_VPROPBASER written while a vPE is resident: ignored", "IHI 0069 GICR_VPROPBASER"};
inline constexpr Op<Int, Hex> kGicrWriteVpropbaser{"GICR.write_VPROPBASER", Layer::Hardware, {"rd", "value"},
    "the vLPI configuration table's base (GICv4.0)", "IHI 0069 GICR_VPROPBASER"};
inline constexpr Op<Int, Int> kGicrWriteVsgir{"GICR.write_VSGIR", Layer::Hardware, {"rd", "vpe"},
    "the vPE whose vSGI pending state GICR_VSGIPENDR reads", "IHI 0069 GICR_VSGIR (GICv4.1)"};
inline constexpr Ignored<Int, Hex> kGicrWriteReadOnlyIgnored{"GICR.write", Layer::Hardware, {"rd", "offset"},
    "a write to a read-only redistributor register (WI)"};
inline constexpr Ignored<Int, Hex, Hex> kGicrWriteIgnored{"GICR.write", Layer::Hardware, {"rd", "offset", "value"},
    "a write to a redistributor register the model does not implement (WI)"};
inline constexpr GuestError<Int, Int> kGicrWriteVpendbaserResidentError{
    "GICR.write_VPENDBASER", Layer::Hardware, {"rd", "resident"},
    "VPENDBASER.Valid written 1 while a vPE is resident: ignored", "IHI 0069 GICR_VPENDBASER"};
inline constexpr GuestError<Int, Int> kGicrWriteVpendbaserUnmappedError{
    "GICR.write_VPENDBASER", Layer::Hardware, {"rd", "vpe"},
    "VPENDBASER.vPEID names a vPE no ITS maps to this redistributor: ignored", "IHI 0069 GICR_VPENDBASER (GICv4.1)"};
inline constexpr Op<Int, Bool> kGicrWriteVpendbaser{"GICR.write_VPENDBASER", Layer::Hardware, {"rd", "valid"},
    "VPENDBASER.Valid written 0: the resident vPE is descheduled", "IHI 0069 GICR_VPENDBASER"};
inline constexpr Op<Int, Str, Bool> kGicrSchedule{"GICR.schedule", Layer::Hardware, {"rd", "vpe", "dirty"},
    "a vPE made resident (VPENDBASER.Valid = 1); its VPT is parsed", "IHI 0069 GICR_VPENDBASER"};
inline constexpr Op<Int, Str, Bool, Bool, Bool, Bool> kGicrDeschedule{
    "GICR.deschedule", Layer::Hardware, {"rd", "vpe", "db", "pending_last", "determined", "doorbell_armed"},
    "the resident vPE made non-resident, asking for a doorbell or not; PendingLast determined, or (4.1) "
    "written 1 and not determined", "IHI 0069 GICR_VPENDBASER"};
inline constexpr Op<Int, Str, Bool> kGicrDescheduleDone{
    "GICR.deschedule_done", Layer::Hardware, {"rd", "vpe", "pending_last"},
    "GICR_VPENDBASER.Dirty read 0 after a de-schedule: PendingLast is valid",
    "IHI 0069 GICR_VPENDBASER.Dirty; its_clear_vpend_valid"};
inline constexpr GuestError<Int, Str, Hex> kGicrParseVptError{"GICR.parse_vpt", Layer::Hardware, {"rd", "vpe", "addr"},
    "the VPT lies outside memory: the rest reads as zero"};
inline constexpr Op<Int, Str, Hex, Int> kGicrParseVpt{"GICR.parse_vpt", Layer::Hardware, {"rd", "vpe", "vpt", "found"},
    "the VPT read into the redistributor's cache", "IHI 0069 GICR_VPENDBASER"};
inline constexpr Op<Int, Str, Int> kGicrVptWriteback{"GICR.vpt_writeback", Layer::Hardware, {"rd", "vpe", "words"},
    "cached pending bits written back to the VPT", "policy arm.vpt_writeback"};
inline constexpr GuestError<Int, Str, Int> kGicrReadVconfError{
    "GICR.read_vconf", Layer::Hardware, {"rd", "vpe", "vintid"},
    "the vLPI configuration table lies outside memory: the vLPI reads as disabled"};
inline constexpr Op<Int, Int> kGicrLpiClear{"GICR.lpi_clear", Layer::Hardware, {"rd", "intid"},
    "a physical LPI made not pending"};
inline constexpr Op<Int, Int, Bool> kGicrLpiPending{"GICR.lpi_pending", Layer::Hardware, {"rd", "intid", "was_pending"},
    "a physical LPI made pending"};
inline constexpr Op<Int, Int> kGicrHostAck{"GICR.host_ack", Layer::Hardware, {"rd", "intid"},
    "the host CPU acknowledges its highest pending LPI"};
inline constexpr Op<Int, Int> kGicrHostIrq{"GICR.host_irq", Layer::Hardware, {"rd", "intid"},
    "a physical LPI signalled to the host CPU (arm_gic/hw/gic.cc)"};
inline constexpr Op<Int, Int, Bool> kGicrInvalidateLpiConfig{
    "GICR.invalidate_lpi_config", Layer::Hardware, {"rd", "intid", "all"},
    "cached LPI configuration re-read (one, or all)"};
inline constexpr Op<Int, Int> kGicrDropStaleCache{"GICR.drop_stale_cache", Layer::Hardware, {"rd", "vpe"},
    "a first VMAPP with Alloc=1 drops a stale cached copy of the vPE", "IHI 0069 VMAPP Alloc"};
inline constexpr Op<Int, Int, Str> kGicrDropStaleCacheWhy{
    "GICR.drop_stale_cache", Layer::Hardware, {"rd", "vpe", "why"},
    "a stale cached copy of a vPE dropped, and why"};
inline constexpr GuestError<Int, Int> kGicrMapVpeError{"GICR.map_vpe", Layer::Hardware, {"rd", "vpe"},
    "a VMAPP V=1 whose Alloc or VPT contradicts the vPE's other maps", "IHI 0069 VMAPP Alloc"};
inline constexpr Op<Int, Int, Int, Bool, Hex> kGicrMapVpe{
    "GICR.map_vpe", Layer::Hardware, {"rd", "vpe", "maps", "loaded", "vpt"},
    "an ITS maps a vPE to this redistributor (VMAPP V=1)", "IHI 0069 VMAPP"};
inline constexpr GuestError<Int, Int> kGicrUnmapVpeError{"GICR.unmap_vpe", Layer::Hardware, {"rd", "vpe"},
    "a VMAPP V=0 this redistributor cannot honour as asked", "IHI 0069 VMAPP Alloc"};
inline constexpr Op<Int, Int, Int, Bool> kGicrUnmapVpe{
    "GICR.unmap_vpe", Layer::Hardware, {"rd", "vpe", "maps", "alloc"},
    "an ITS unmaps a vPE from this redistributor (VMAPP V=0)", "IHI 0069 VMAPP"};
inline constexpr Op<Int, Int> kGicrVptClean{"GICR.vpt_clean", Layer::Hardware, {"rd", "vpe"},
    "the last unmap with Alloc=1 cleans the vPE's cached pending state into its VPT", "IHI 0069 VMAPP Alloc"};
inline constexpr Op<Int, Int, Int> kGicrMoveVpe{"GICR.move_vpe", Layer::Hardware, {"from", "to", "vpe"},
    "a vPE's state moves to another redistributor (VMOVP)", "IHI 0069 VMOVP"};
inline constexpr Op<Int, Str, Str> kGicrNoDoorbell{"GICR.no_doorbell", Layer::Hardware, {"rd", "vpe", "why"},
    "a doorbell would be due but the vPE has none"};
inline constexpr Op<Int, Str, Int, Str> kGicrDoorbell{"GICR.doorbell", Layer::Hardware, {"rd", "vpe", "lpi", "why"},
    "a non-resident vPE's doorbell LPI made pending", "IHI 0069 doorbells"};
inline constexpr GuestError<Int, Int, Int> kGicrVlpiPendingError{
    "GICR.vlpi_pending", Layer::Hardware, {"rd", "vpe", "vintid"},
    "a vLPI for a vPE this redistributor does not hold, or beyond its VPT: dropped"};
inline constexpr Op<Int, Int, Int, Bool> kGicrVlpiPending{
    "GICR.vlpi_pending", Layer::Hardware, {"rd", "vpe", "vintid", "resident"},
    "a vLPI made pending for its vPE"};
inline constexpr GuestError<Int, Int, Int> kGicrVlpiClearError{
    "GICR.vlpi_clear", Layer::Hardware, {"rd", "vpe", "vintid"},
    "a vLPI clear for a vPE this redistributor does not hold, or beyond its VPT: dropped"};
inline constexpr Op<Int, Int, Int, Bool> kGicrVlpiClear{
    "GICR.vlpi_clear", Layer::Hardware, {"rd", "vpe", "vintid", "resident"},
    "a vLPI made not pending"};
inline constexpr Op<Int, Int, Int, Bool> kGicrInvalidateVlpiConfig{
    "GICR.invalidate_vlpi_config", Layer::Hardware, {"rd", "vpe", "vintid", "all"},
    "cached vLPI configuration re-read (one, or all)"};
inline constexpr GuestError<Int, Int, Int> kGicrVsgiConfigError{
    "GICR.vsgi_config", Layer::Hardware, {"rd", "vpe", "sgi"},
    "a vSGI of a vPE this redistributor does not hold"};
inline constexpr Op<Int, Int, Int, Int, Bool, Bool> kGicrVsgiConfig{
    "GICR.vsgi_config", Layer::Hardware, {"rd", "vpe", "sgi", "priority", "group1", "enable"},
    "a vSGI's configuration (from VSGI)", "IHI 0069 VSGI (GICv4.1)"};
inline constexpr GuestError<Int, Int, Int> kGicrVsgiPendingError{
    "GICR.vsgi_pending", Layer::Hardware, {"rd", "vpe", "sgi"},
    "a vSGI of a vPE this redistributor does not hold"};
inline constexpr Op<Int, Int, Int, Bool> kGicrVsgiPending{
    "GICR.vsgi_pending", Layer::Hardware, {"rd", "vpe", "sgi", "resident"},
    "a vSGI made pending"};
inline constexpr Op<Int, Int, Int, Bool> kGicrVsgiClear{
    "GICR.vsgi_clear", Layer::Hardware, {"rd", "vpe", "sgi", "resident"},
    "a vSGI made not pending"};
inline constexpr Violation<Int, Int, Int, Int> kGicrVlpiPendingLrViolation{
    "GICR.vlpi_pending", Layer::Hardware, {"cpu", "lr", "vpe", "vintid"},
    "a vLPI made pending in the VPT while a list register holds it (one interrupt, two streams)", "reference/arm §3.1"};
inline constexpr Violation<Int, Hex, Int> kVptSoftwareWriteViolation{
    "VPT.software_write", Layer::Hypervisor, {"vpe", "addr", "len"},
    "software wrote a mapped VPT: pending state must enter through the ITS",
    "reference/arm §1.5; kvm_vgic_v4_set_forwarding"};

// ---- CPU interfaces (arm_gic/hw/cpu_interface.cc) ---------------------------------------------------
inline constexpr Op<Int, Hex> kVcpuWritePmr{"VCPU.write_PMR", Layer::Guest, {"cpu", "pmr"},
    "ICC_PMR_EL1 written", "IHI 0069 ICC_PMR_EL1"};
inline constexpr Op<Int, Bool> kVcpuWriteIgrpen1{"VCPU.write_IGRPEN1", Layer::Guest, {"cpu", "enable"},
    "ICC_IGRPEN1_EL1 written", "IHI 0069 ICC_IGRPEN1_EL1"};
inline constexpr Op<Int, Bool> kVcpuWriteIgrpen0{"VCPU.write_IGRPEN0", Layer::Guest, {"cpu", "enable"},
    "ICC_IGRPEN0_EL1 written", "IHI 0069 ICC_IGRPEN0_EL1"};
inline constexpr Op<Int, Int> kVcpuReadIar1Spurious{"VCPU.read_IAR1", Layer::Guest, {"cpu", "intid"},
    "ICC_IAR1_EL1 read with nothing to acknowledge: 1023", "IHI 0069 ICC_IAR1_EL1"};
inline constexpr Op<Int, Int, Str, Hex> kVcpuReadIar1{
    "VCPU.read_IAR1", Layer::Guest, {"cpu", "intid", "from", "priority"},
    "ICC_IAR1_EL1 acknowledges the highest-priority interrupt (from a list register, the VPT or a vSGI)",
    "IHI 0069 ICC_IAR1_EL1"};
inline constexpr Ignored<Int, Int> kVcpuWriteEoir1Special{"VCPU.write_EOIR1", Layer::Guest, {"cpu", "intid"},
    "an EOI of a special INTID (1020-1023): the write is ignored",
    "IHI 0069 special INTIDs; QEMU hw/intc/arm_gicv3_cpuif.c icc_eoir_write"};
inline constexpr Violation<Int, Int> kVcpuWriteEoir1Violation{"VCPU.write_EOIR1", Layer::Guest, {"cpu", "intid"},
    "an EOI of an interrupt that is not active", "IHI 0069 ICC_EOIR1_EL1"};
inline constexpr GuestError<Int, Int> kVcpuWriteEoir1Error{"VCPU.write_EOIR1", Layer::Guest, {"cpu", "intid"},
    "an EOI out of order: the model drops that interrupt's priority", "IHI 0069 ICC_EOIR1_EL1 (UNPREDICTABLE)"};
inline constexpr Op<Int, Int> kVcpuWriteEoir1{"VCPU.write_EOIR1", Layer::Guest, {"cpu", "intid"},
    "ICC_EOIR1_EL1: priority drop and deactivation", "IHI 0069 ICC_EOIR1_EL1"};
inline constexpr GuestError<Int, Int, Int> kVcpuWriteEoir1LrError{
    "VCPU.write_EOIR1", Layer::Hypervisor, {"cpu", "intid", "lr"},
    "the list register that held the acknowledged interrupt was rewritten: nothing to deactivate"};
inline constexpr Op<Int, Int> kVcpuDeactivatePhysical{"VCPU.deactivate_physical", Layer::Hardware, {"cpu", "pintid"},
    "an EOI of a list register with HW=1 deactivates its physical interrupt", "IHI 0069 ICH_LR<n>_EL2.HW"};
inline constexpr GuestError<Int, Int> kVcpuWriteLrError{"VCPU.write_LR", Layer::Hypervisor, {"cpu", "lr"},
    "a write to a list register that does not exist: ignored"};
inline constexpr Op<Int, Int, Str, Int, Bool, Hex> kVcpuWriteLr{
    "VCPU.write_LR", Layer::Hypervisor, {"cpu", "lr", "state", "vintid", "hw", "priority"},
    "KVM writes a list register", "IHI 0069 ICH_LR<n>_EL2; vgic_v3_populate_lr"};
inline constexpr Violation<Int, Int, Int> kVcpuWriteLrHwViolation{
    "VCPU.write_LR", Layer::Hypervisor, {"cpu", "lr", "vintid"},
    "a list register with HW=1 for a vLPI or vSGI (KVM sets hwintid only for PPIs and SPIs)",
    "vgic_v3_populate_lr; reference/arm §3.1"};
inline constexpr GuestError<Int, Int, Int> kVcpuWriteLrHwPendingActiveError{
    "VCPU.write_LR", Layer::Hypervisor, {"cpu", "lr", "vintid"},
    "a list register with HW=1 written pending and active, which is not a valid state (the pending state belongs "
    "to the physical interrupt): the model keeps it active only", "IHI 0069 ICH_LR<n>_EL2; vgic_v3_populate_lr"};
inline constexpr Violation<Int, Int, Int, Int> kVcpuWriteLrTwiceViolation{
    "VCPU.write_LR", Layer::Hypervisor, {"cpu", "lr", "other", "vintid"},
    "two list registers hold the same interrupt", "IHI 0069 (UNPREDICTABLE)"};
inline constexpr Violation<Int, Int, Int, Int> kVcpuWriteLrAndVptViolation{
    "VCPU.write_LR", Layer::Hypervisor, {"cpu", "lr", "vpe", "vintid"},
    "a list register holds a vLPI that is also pending in the resident vPE's VPT (one interrupt, two streams)",
    "reference/arm §3.1"};

// ---- KVM: the vgic (arm_gic/kvm/vgic.cc) -------------------------------------------------------------
inline constexpr Op<Int, Str> kKvmVgicInit{"KVM.vgic_init", Layer::Hypervisor, {"vcpus", "gic"},
    "the vgic with a vPE and doorbell per vCPU", "kvm_vgic_create, vgic_init, vgic_v4_init"};
inline constexpr Ignored<Int, Hex> kKvmGicrReadIgnored{"KVM.gicr_read", Layer::Hypervisor, {"vcpu", "offset"},
    "a vGICR register the model does not implement (RAZ)"};
inline constexpr Op<Int, Bool> kKvmWriteGicrCtlr{"KVM.write_GICR_CTLR", Layer::Hypervisor, {"vcpu", "enable_lpis"},
    "the guest writes its vGICR_CTLR.EnableLPIs", "vgic_mmio_write_v3r_ctlr"};
inline constexpr Ignored<Int, Hex> kKvmWriteGicrPropbaserIgnored{
    "KVM.write_GICR_PROPBASER", Layer::Hypervisor, {"vcpu", "value"},
    "written while EnableLPIs = 1: ignored", "vgic_mmio_write_propbase"};
inline constexpr Op<Int, Hex> kKvmWriteGicrPropbaser{"KVM.write_GICR_PROPBASER", Layer::Hypervisor, {"vcpu", "value"},
    "the guest's LPI configuration table (one per VM)", "vgic_mmio_write_propbase"};
inline constexpr Ignored<Int, Hex> kKvmWriteGicrPendbaserIgnored{
    "KVM.write_GICR_PENDBASER", Layer::Hypervisor, {"vcpu", "value"},
    "written while EnableLPIs = 1: ignored", "vgic_mmio_write_pendbase"};
inline constexpr Op<Int, Hex> kKvmWriteGicrPendbaser{"KVM.write_GICR_PENDBASER", Layer::Hypervisor, {"vcpu", "value"},
    "the guest's LPI pending table for the vCPU", "vgic_mmio_write_pendbase"};
inline constexpr Ignored<Int, Hex, Hex> kKvmGicrWriteIgnored{
    "KVM.gicr_write", Layer::Hypervisor, {"vcpu", "offset", "value"},
    "a vGICR register the model does not implement (WI)"};
inline constexpr Op<Int, Int, Bool> kKvmLpiSyncPendingStatus{
    "KVM.lpi_sync_pending_status", Layer::Hypervisor, {"intid", "vcpu", "pending"},
    "an LPI's pending_latch read from the guest's pending table", "update_lpi_config / vgic_its_restore_ite"};
inline constexpr Op<Int, Int, Bool, Bool> kKvmSyncLpiPendingTable{
    "KVM.sync_lpi_pending_table", Layer::Hypervisor, {"intid", "vcpu", "pending", "hw"},
    "pending_latch = the LPI's bit in the vCPU's pending table (an assignment: it may clear)",
    "its_sync_lpi_pending_table"};
inline constexpr Op<Int> kKvmVgicEnableLpis{"KVM.vgic_enable_lpis", Layer::Hypervisor, {"vcpu"},
    "EnableLPIs 0 -> 1: the vCPU's LPIs read their pending bits", "vgic_enable_lpis"};
inline constexpr Op<Int> kKvmVgicFlushPendingLpis{"KVM.vgic_flush_pending_lpis", Layer::Hypervisor, {"vcpu"},
    "EnableLPIs 1 -> 0: the vCPU's queued LPIs are dropped", "vgic_flush_pending_lpis"};
inline constexpr Op<Int, Int, Bool> kKvmQueueIrq{"KVM.queue_irq", Layer::Hypervisor, {"intid", "vcpu", "hw"},
    "an LPI queued on its vCPU's ap_list", "vgic_queue_irq_unlock"};
inline constexpr Op<Int, Int> kKvmLrOverflow{"KVM.lr_overflow", Layer::Hypervisor, {"vcpu", "waiting"},
    "more queued LPIs than list registers: this one waits", "vgic_flush_lr_state"};
inline constexpr Op<Int> kKvmVcpuLoad{"KVM.vcpu_load", Layer::Hypervisor, {"vcpu"},
    "the vCPU is loaded: its vPE becomes resident", "kvm_arch_vcpu_load -> vgic_v4_load"};
inline constexpr GuestError<Int, Int> kKvmVgicV4LoadError{"KVM.vgic_v4_load", Layer::Hypervisor, {"vcpu", "rc"},
    "irq_set_affinity on the vPE's doorbell failed: the vPE is not made resident (vgic_v3_load WARNs)",
    "vgic_v4_load"};
inline constexpr Op<Int, Bool, Bool> kKvmVcpuPut{
    "KVM.vcpu_put", Layer::Hypervisor, {"vcpu", "doorbell", "pending_last"},
    "the vCPU is put: its vPE stops being resident", "kvm_arch_vcpu_put -> vgic_v4_put"};
inline constexpr Op<Int, Bool> kKvmVcpuBlock{"KVM.vcpu_block", Layer::Hypervisor, {"vcpu", "sleeps"},
    "WFI: the vCPU sleeps unless something is pending for it", "kvm_vcpu_block"};
inline constexpr Op<Int> kKvmVcpuKick{"KVM.vcpu_kick", Layer::Hypervisor, {"vcpu"},
    "a blocked vCPU becomes runnable", "kvm_vcpu_kick"};
inline constexpr GuestError<> kKvmSavePendingTablesError{"KVM.save_pending_tables", Layer::Hypervisor, {},
    "SAVE_PENDING_TABLES while a vCPU runs: -EBUSY", "vgic_v3_save_pending_tables"};
inline constexpr Op<Int, Int, Bool, Bool> kKvmSavePendingBit{
    "KVM.save_pending_bit", Layer::Hypervisor, {"intid", "vcpu", "pending", "hw"},
    "one LPI's pending state written to the guest's pending table", "vgic_v3_save_pending_tables"};
inline constexpr Op<Int, Int> kKvmSavePendingTables{
    "KVM.save_pending_tables", Layer::Hypervisor, {"lpis", "bytes_written"},
    "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES done", "vgic_v3_save_pending_tables"};
inline constexpr Op<Int, Str> kKvmTransferPending{"KVM.transfer_pending", Layer::Hypervisor, {"intid", "at"},
    "a forwarded LPI's pending_latch moved into the VPT (INT), at the site arm.transfer names",
    "12df7429213a; arm_gic/kvm/transfer.cc"};
inline constexpr Op<Int> kKvmVmStartTransfer{"KVM.vm_start_transfer", Layer::Hypervisor, {"lpis"},
    "arm.transfer=vm_start: every forwarded LPI's pending_latch transferred at VM start", "arm_gic/kvm/transfer.cc"};

// ---- KVM: the distributor and SGIs, GICv4.1 vSGIs (arm_gic/kvm/vgic_sgi.cc) ------------------------
inline constexpr Op<Bool, Bool, Bool> kKvmWriteGicdCtlr{"KVM.write_GICD_CTLR", Layer::Hypervisor,
    {"enable", "nassgireq", "uaccess"},
    "GICD_CTLR written by the guest (nASSGIreq RO while enabled, a change reconfigures the SGIs) or by userspace "
    "(recorded only)", "vgic_mmio_write_v3_misc, vgic_mmio_uaccess_write_v3_misc"};
inline constexpr Op<Bool> kKvmMapResources{"KVM.map_resources", Layer::Hypervisor, {"nassgireq"},
    "the VM's first KVM_RUN: vgic_v3_map_resources, which runs vgic_v4_configure_vsgis on GICv4.1",
    "kvm_vgic_map_resources, vgic_v3_map_resources"};
inline constexpr Op<Int, Int, Bool> kKvmEnableVsgi{"KVM.enable_vsgi", Layer::Hypervisor, {"vcpu", "sgi", "pending"},
    "an SGI handed to the vPE (irq->hw): its configuration by VSGI, pending_latch pushed into the vSGI and cleared",
    "vgic_v4_enable_vsgis"};
inline constexpr Op<Int, Int, Bool> kKvmDisableVsgi{"KVM.disable_vsgi", Layer::Hypervisor, {"vcpu", "sgi", "pending"},
    "a vSGI taken back into software: pending_latch read from GICR_VSGIPENDR, the vSGI disabled and cleared",
    "vgic_v4_disable_vsgis"};
inline constexpr Ignored<Int, Hex, Int> kKvmGicdAccessIgnored{"KVM.gicd_access", Layer::Hypervisor,
    {"vcpu", "offset", "size"}, "a guest GICD access KVM does not implement, or to a read-only register (RAZ/WI)",
    "vgic-mmio-v3.c vgic_v3_dist_registers, dispatch_mmio_read/write"};
inline constexpr Op<Int, Int, Bool> kKvmInjectIrq{"KVM.vgic_inject_irq", Layer::Hypervisor, {"vcpu", "intid", "level"},
    "a PPI or SPI input line changes (machine mode: the timer, the UART)", "kvm_vgic_inject_irq"};
inline constexpr GuestError<Int, Int> kKvmInjectIrqError{"KVM.vgic_inject_irq", Layer::Hypervisor, {"vcpu", "intid"},
    "a line that is no PPI or SPI of this vgic", "kvm_vgic_inject_irq -EINVAL"};
inline constexpr Ignored<Int, Str, Hex, Int> kMachineGicAccessIgnored{"KVM.machine_gic_access", Layer::Hypervisor,
    {"vcpu", "register", "address", "size"},
    "a misaligned or wrong-size GIC MMIO access, or an ICC register not implemented: RAZ/WI",
    "vgic-mmio.c check_region / vgic_find_mmio_region (RAZ/WI); arm_gic/machine/gicv3_gic.cc"};
inline constexpr Op<Int, Int, Int, Bool> kKvmDispatchSgi{"KVM.dispatch_sgi", Layer::Hypervisor,
    {"from", "to", "sgi", "hw"},
    "the sender's trapped ICC_SGI1R_EL1 write: a hardware vSGI through GITS_SGIR, else pending_latch and the ap_list",
    "access_gic_sgi, vgic_v3_dispatch_sgi"};
inline constexpr Op<Int, Hex, Hex> kKvmSgiUaccessRead{"KVM.uaccess_read_sgi", Layer::Hypervisor,
    {"vcpu", "offset", "value"},
    "userspace reads an SGI_base register; GICR_ISPENDR0 asks the hardware for a vSGI (GICR_VSGIPENDR)",
    "vgic_v3_uaccess_read_pending, vgic_mmio_read_enable"};
inline constexpr Op<Int, Hex, Hex, Str> kKvmSgiUaccessWrite{"KVM.uaccess_write_sgi", Layer::Hypervisor,
    {"vcpu", "offset", "value", "vsgi_ispendr"},
    "userspace writes an SGI_base register (GICR_I{S,C}ENABLER0, GICR_I{S,C}PENDR0, GICR_IPRIORITYR)",
    "vgic_uaccess_write_senable, vgic_v3_uaccess_write_pending; 7b95382f9651 (arm.vsgi_ispendr)"};
inline constexpr Op<Int, Int> kKvmUaccessLatchOnHwVsgi{"KVM.uaccess_latch_on_hw_vsgi", Layer::Hypervisor,
    {"vcpu", "sgi"},
    "arm.vsgi_ispendr=latch_only: a userspace ISPENDR0 write set pending_latch of an SGI the vPE owns; the vSGI "
    "is not made pending",
    "vgic_v3_uaccess_write_pending before 7b95382f9651"};

// ---- KVM: the virtual ITS (arm_gic/kvm/vgic_its.cc) -------------------------------------------------
inline constexpr Ignored<Hex> kKvmItsReadIgnored{"KVM.its_read", Layer::Hypervisor, {"offset"},
    "a vITS register the model does not implement (RAZ)"};
inline constexpr Op<Bool> kKvmWriteGitsCtlr{"KVM.write_GITS_CTLR", Layer::Hypervisor, {"enabled"},
    "the guest enables or disables its vITS", "vgic_mmio_write_its_ctlr"};
inline constexpr Ignored<> kKvmWriteGitsCbaserIgnored{"KVM.write_GITS_CBASER", Layer::Hypervisor, {},
    "GITS_CBASER written while the vITS is enabled: ignored", "vgic_mmio_write_its_cbaser"};
inline constexpr Op<Hex> kKvmWriteGitsCbaser{"KVM.write_GITS_CBASER", Layer::Hypervisor, {"value"},
    "the guest's command queue", "vgic_mmio_write_its_cbaser"};
inline constexpr GuestError<Hex> kKvmWriteGitsCwriterError{"KVM.write_GITS_CWRITER", Layer::Hypervisor, {"offset"},
    "GITS_CWRITER beyond the command queue: ignored", "vgic_mmio_write_its_cwriter"};
inline constexpr Op<Hex> kKvmWriteGitsCwriter{"KVM.write_GITS_CWRITER", Layer::Hypervisor, {"offset"},
    "the guest's commands run up to GITS_CWRITER", "vgic_mmio_write_its_cwriter, vgic_its_process_commands"};
inline constexpr Ignored<> kKvmWriteGitsBaserIgnored{"KVM.write_GITS_BASER", Layer::Hypervisor, {},
    "GITS_BASER<n> written while the vITS is enabled: ignored", "vgic_mmio_write_its_baser"};
inline constexpr Op<Int, Hex> kKvmWriteGitsBaser{"KVM.write_GITS_BASER", Layer::Hypervisor, {"n", "value"},
    "one of the guest's ITS tables (device, collection)", "vgic_mmio_write_its_baser"};
inline constexpr Ignored<Hex, Hex> kKvmItsWriteIgnored{"KVM.its_write", Layer::Hypervisor, {"offset", "value"},
    "a vITS register the model does not implement, or a read-only one (WI)"};
inline constexpr Op<Hex, Hex, Hex, Hex, Hex> kKvmRestoreItsRegisters{
    "KVM.restore_its_registers", Layer::Vmm, {"cbaser", "creadr", "cwriter", "baser0", "baser1"},
    "the VMM restored the vITS registers (uaccess writes, in arm.vmm_its_regs's order): the values KVM holds now",
    "kvm_arm_its_post_load, vgic_its_attr_regs_access"};
inline constexpr Op<Hex, Hex> kKvmCbaserResetsQueue{"KVM.cbaser_resets_queue", Layer::Hypervisor,
    {"creadr", "cwriter"},
    "GITS_CBASER written: GITS_CREADR and GITS_CWRITER, which held these, reset to 0 (an empty queue)",
    "vgic_mmio_write_its_cbaser"};
inline constexpr GuestError<Hex, Int> kKvmUaccessCreadrError{"KVM.uaccess_GITS_CREADR", Layer::Hypervisor,
    {"offset", "rc"}, "GITS_CREADR restore refused: the vITS is enabled, or the offset lies beyond the queue",
    "vgic_mmio_uaccess_write_its_creadr"};
inline constexpr Op<Hex, Hex, Int> kKvmItsEnableRunsQueue{"KVM.its_enable_runs_queue", Layer::Hypervisor,
    {"creadr", "cwriter", "commands"},
    "GITS_CTLR.Enabled with commands between GITS_CREADR and GITS_CWRITER: they run now (after a restore that "
    "wrote GITS_CREADR before GITS_CBASER, the guest's whole queue again)",
    "vgic_mmio_write_its_ctlr; arm-vgic-its.rst ITS Restore Sequence"};
inline constexpr GuestError<> kKvmItsCommandQueueError{"KVM.its_command", Layer::Hypervisor, {},
    "the guest's command queue lies outside guest memory", "vgic_its_process_commands"};
inline constexpr GuestError<Hex, Int, Int> kKvmItsCommandError{
    "KVM.its_command", Layer::Hypervisor, {"opcode", "device", "event"},
    "a guest ITS command KVM refuses", "vgic_its_handle_command"};
inline constexpr Op<Int, Bool, Hex, Int> kVitsMapd{"VITS.MAPD", Layer::Guest, {"device", "valid", "itt", "event_bits"},
    "the guest maps a device on its vITS", "vgic_its_cmd_handle_mapd"};
inline constexpr Op<Int, Int, Bool> kVitsMapc{"VITS.MAPC", Layer::Guest, {"icid", "vcpu", "valid"},
    "the guest maps a collection to a vCPU", "vgic_its_cmd_handle_mapc"};
inline constexpr Op<Int, Int, Int, Int> kVitsMapti{"VITS.MAPTI", Layer::Guest, {"device", "event", "intid", "icid"},
    "the guest maps an EventID to an LPI", "vgic_its_cmd_handle_mapi"};
inline constexpr Op<Int, Int, Int, Int> kVitsMapi{"VITS.MAPI", Layer::Guest, {"device", "event", "intid", "icid"},
    "the guest maps an EventID to the LPI of the same number", "vgic_its_cmd_handle_mapi"};
inline constexpr Op<Int, Int, Int> kVitsMovi{"VITS.MOVI", Layer::Guest, {"device", "event", "icid"},
    "the guest retargets an LPI", "vgic_its_cmd_handle_movi"};
inline constexpr Op<Int, Int> kVitsDiscard{"VITS.DISCARD", Layer::Guest, {"device", "event"},
    "the guest removes an ITE", "vgic_its_cmd_handle_discard"};
inline constexpr Op<Int, Int> kVitsInv{"VITS.INV", Layer::Guest, {"device", "event"},
    "the guest asks for one LPI's configuration to be re-read", "vgic_its_cmd_handle_inv"};
inline constexpr Op<Int> kVitsInvall{"VITS.INVALL", Layer::Guest, {"icid"},
    "the guest asks for a collection's LPI configurations to be re-read", "vgic_its_cmd_handle_invall"};
inline constexpr Op<Int, Int> kVitsInt{"VITS.INT", Layer::Guest, {"device", "event"},
    "the guest makes an LPI pending", "vgic_its_cmd_handle_int"};
inline constexpr Op<Int, Int> kVitsClear{"VITS.CLEAR", Layer::Guest, {"device", "event"},
    "the guest clears an LPI's pending state", "vgic_its_cmd_handle_clear"};
inline constexpr Op<Int> kVitsSync{"VITS.SYNC", Layer::Guest, {"vcpu"},
    "the guest's SYNC (nothing to wait for)", "vgic_its_handle_command"};
inline constexpr Op<Int, Int> kVitsMovall{"VITS.MOVALL", Layer::Guest, {"from", "to"},
    "the guest moves every LPI of one vCPU to another", "vgic_its_cmd_handle_movall"};
inline constexpr Op<Int, Hex, Bool> kKvmUpdateLpiConfig{
    "KVM.update_lpi_config", Layer::Hypervisor, {"intid", "priority", "enabled"},
    "an LPI's priority and enable read from the guest's configuration table", "update_lpi_config"};
inline constexpr Op<Int, Int, Bool> kKvmUpdateAffinity{
    "KVM.update_affinity", Layer::Hypervisor, {"intid", "vcpu", "hw"},
    "an LPI retargeted (a forwarded one moves its vLPI: VMOVI)", "update_affinity"};
inline constexpr Op<Int> kKvmFreeLpi{"KVM.free_lpi", Layer::Hypervisor, {"intid"},
    "an LPI freed: its last reference (its ITE, or the ap_list that outlived it) went", "its_free_ite, vgic_put_irq"};
inline constexpr Op<Int, Int, Bool> kKvmLpiHeldByApList{"KVM.lpi_held_by_ap_list", Layer::Hypervisor,
    {"intid", "vcpu", "pending"},
    "its ITE freed, the LPI lives on: the ap_list still holds a reference (delivered, or freed when pruned)",
    "its_free_ite -> vgic_put_irq; vgic_queue_irq_unlock's vgic_get_irq_kref, vgic_prune_ap_list"};
inline constexpr GuestError<Int, Int> kKvmVgicItsTriggerMsiError{
    "KVM.vgic_its_trigger_msi", Layer::Hypervisor, {"device", "event"},
    "an MSI that does not translate: dropped (-EINVAL)", "vgic_its_trigger_msi"};
inline constexpr Op<Int, Int, Int, Bool> kKvmVgicItsTriggerMsi{
    "KVM.vgic_its_trigger_msi", Layer::Hypervisor, {"device", "event", "intid", "hw"},
    "an MSI injected: a forwarded LPI made pending in hardware, any other in software", "vgic_its_trigger_msi"};
inline constexpr Op<Int, Int, Int, Bool, Str> kKvmSetForwardingUnresolved{
    "KVM.set_forwarding", Layer::Hypervisor, {"irq", "device", "event", "resolved", "why"},
    "the irq bypass asks to forward a host IRQ whose DeviceID/EventID resolves to no LPI: nothing is forwarded",
    "kvm_vgic_v4_set_forwarding"};
inline constexpr Op<Int, Int, Int, Int, Int, Bool> kKvmSetForwarding{
    "KVM.set_forwarding", Layer::Hypervisor, {"irq", "device", "event", "intid", "vpe", "pending_latch"},
    "a host IRQ forwarded as a vLPI (its_map_vlpi, hw = true)", "kvm_vgic_v4_set_forwarding"};
inline constexpr Op<Int, Int> kKvmUnsetForwarding{"KVM.unset_forwarding", Layer::Hypervisor, {"irq", "intid"},
    "a vLPI unmapped in hardware, hw = false; nothing is read back", "kvm_vgic_v4_unset_forwarding; 05b9405f2fa1"};
inline constexpr Op<Int, Bool> kKvmIrqfdDeassign{"KVM.irqfd_deassign", Layer::Hypervisor, {"irq", "teardown"},
    "KVM_IRQFD deassign: the bypass producer goes; teardown=false when the clobbered routing type made "
    "kvm_arch_irq_bypass_del_producer skip unset_forwarding (arm.irqfd_deassign=clobber)",
    "kvm_irqfd_deassign, kvm_arch_irq_bypass_del_producer; X3 (Jan 2026)"};
inline constexpr Op<Int, Int, Bool> kKvmSetGsiRouting{"KVM.set_gsi_routing", Layer::Hypervisor,
    {"device", "event", "present"}, "the VMM's routing table with / without an MSI route", "KVM_SET_GSI_ROUTING"};
inline constexpr Op<Int, Bool> kKvmUpdateIrqfdRouting{"KVM.update_irqfd_routing", Layer::Hypervisor,
    {"irq", "present"}, "a forwarded irqfd's route changed: unmap the vLPI, fall back to software injection",
    "kvm_arch_update_irqfd_routing (arm64, 2025; kernel_history A3)"};
inline constexpr GuestError<Int, Int> kKvmIrqfdNoRouteError{"KVM.irqfd_inject", Layer::Hypervisor,
    {"device", "event"}, "an irqfd whose GSI has no route injects nothing", "irqfd_wakeup -> kvm_set_irq"};
inline constexpr Op<Int> kKvmDoorbell{"KVM.doorbell", Layer::Hypervisor, {"vpe"},
    "a vPE's doorbell taken: its vCPU is kicked", "vgic_v4_doorbell_handler"};
inline constexpr Refused<Int, Int, Int> kKvmItsSaveTablesError{
    "KVM.its_save_tables", Layer::Hypervisor, {"device", "event", "intid"},
    "a forwarded vLPI whose state KVM cannot read (no GICv4.1, or Linux < 5.13): -EACCES, the save stops",
    "vgic_its_save_itt; bd94e7aea403, 8082d50f4817; arm-vgic-its.rst -EACCES"};
inline constexpr Op<Int, Int> kKvmItsSaveTables{"KVM.its_save_tables", Layer::Hypervisor, {"devices", "collections"},
    "KVM_DEV_ARM_ITS_SAVE_TABLES: the vITS state into the guest's tables", "vgic_its_save_tables_v0"};
inline constexpr GuestError<> kKvmItsRestoreTablesCollectionError{"KVM.its_restore_tables", Layer::Hypervisor, {},
    "a restored collection names no vCPU: -EINVAL", "vgic_its_restore_collection_table"};
inline constexpr GuestError<Int, Int> kKvmItsRestoreTablesIteError{
    "KVM.its_restore_tables", Layer::Hypervisor, {"device", "event"},
    "a restored ITE with an unknown collection or a non-LPI INTID: -EINVAL", "vgic_its_restore_ite"};
inline constexpr GuestError<Int, Int> kKvmItsRestoreTablesDteError{
    "KVM.its_restore_tables", Layer::Hypervisor, {"device", "bits"},
    "a restored DTE with more EventID bits than the vITS has (VITS_TYPER_IDBITS, 16): -EINVAL",
    "vgic_its_restore_dte; 9ce754ed8e7a"};
inline constexpr GuestError<Hex> kKvmItsRestoreTablesReadError{
    "KVM.its_restore_tables", Layer::Hypervisor, {"address"},
    "a table entry KVM cannot read (outside guest RAM): -EFAULT, the restore stops",
    "scan_its_table: kvm_read_guest_lock's error is returned"};
inline constexpr Op<Int, Int, Int> kKvmItsRestoreTables{
    "KVM.its_restore_tables", Layer::Hypervisor, {"collections", "devices", "lpis"},
    "KVM_DEV_ARM_ITS_RESTORE_TABLES: each ITE becomes an LPI with pending_latch from the pending table",
    "vgic_its_restore_tables_v0"};

// ---- the host: its ITS driver and CPUs (arm_gic/host/its_driver.cc, arm_gic/host/cpu.cc) ---------------
inline constexpr GuestError<Int, Hex> kHostItsQueueTimeoutError{
    "HOST.its_queue_timeout", Layer::Hypervisor, {"its", "opcode"},
    "the host ITS stalled on a driver command", "its_wait_for_range_completion"};
inline constexpr Op<Int, Int> kHostItsAddDevice{"HOST.its_add_device", Layer::Hypervisor, {"device", "vectors"},
    "the host ITS driver maps a passthrough device", "its_msi_prepare"};
inline constexpr Op<Int, Int, Int, Int> kHostRequestIrq{
    "HOST.request_irq", Layer::Hypervisor, {"irq", "device", "event", "lpi"},
    "a host IRQ for one of a device's MSIs (an LPI through MAPTI)", "its_irq_domain_alloc, request_irq"};
inline constexpr Op<Int, Int> kHostFreeIrq{"HOST.free_irq", Layer::Hypervisor, {"irq", "lpi"},
    "a host IRQ released", "free_irq"};
inline constexpr Op<Int, Int, Hex, Int> kHostVpeInit{
    "HOST.vpe_init", Layer::Hypervisor, {"vpe", "rd", "vpt", "doorbell"},
    "a vPE with its VPT and doorbell LPI", "its_vpe_init"};
inline constexpr Op<Int, Int, Int, Int> kHostItsMapVlpi{
    "HOST.its_map_vlpi", Layer::Hypervisor, {"irq", "lpi", "vpe", "vintid"},
    "a host IRQ's LPI remapped as a vLPI of a vPE (VMAPTI)", "its_map_vlpi"};
inline constexpr Op<Int, Int, Int> kHostItsUnmapVlpi{"HOST.its_unmap_vlpi", Layer::Hypervisor, {"irq", "lpi", "vintid"},
    "a vLPI mapped back to its host LPI (MAPTI)", "its_unmap_vlpi"};
inline constexpr Op<Int, Int, Int> kHostVpeSetAffinity{
    "HOST.vpe_set_affinity", Layer::Hypervisor, {"vpe", "from", "to"},
    "the vPE's redistributor follows the CPU that loads it (col_idx); a change is a VMOVP",
    "its_vpe_set_affinity (af9acbfc2c4b, e6c24e2d05bb), its_send_vmovp"};
inline constexpr Op<Int, Int> kHostItsMapVm{"HOST.its_map_vm", Layer::Hypervisor, {"its", "vpes"},
    "GICv4.0 with an ITSList: the VM's vPEs mapped on an ITS at its first vLPI (VMAPP, VINVALL)",
    "its_map_vm, gic_requires_eager_mapping"};
inline constexpr Op<Int, Int> kHostItsUnmapVm{"HOST.its_unmap_vm", Layer::Hypervisor, {"its", "vpes"},
    "GICv4.0 with an ITSList: the VM's vPEs unmapped from an ITS at its last vLPI (VMAPP V=0)",
    "its_unmap_vm, gic_requires_eager_mapping"};
inline constexpr GuestError<Int> kHostItsCommitVpeError{"HOST.its_commit_vpe", Layer::Hypervisor, {"vpe"},
    "VPENDBASER.Dirty never cleared: the VPT is not parsed", "its_vpe_4_1_commit"};
inline constexpr GuestError<Int> kHostItsDescheduleVpeError{"HOST.its_clear_vpend_valid", Layer::Hypervisor,
    {"vpe"}, "ITS virtual pending table not cleaning: VPENDBASER.Dirty never cleared after Valid 1 -> 0, "
    "PendingLast taken as 1", "its_clear_vpend_valid"};
inline constexpr GuestError<Int, Int> kHostSpuriousLpiError{"HOST.spurious_lpi", Layer::Hypervisor, {"rd", "intid"},
    "a host LPI no driver requested"};

// ---- QEMU's ARM steps and the guest (arm_gic/backend.cc, arm_gic/guest/) ------------------------------
inline constexpr Op<Str, Int, Str> kQemuBoot{"QEMU.boot", Layer::Vmm, {"gic", "vcpus", "transfer"},
    "the source machine boots the VM"};
inline constexpr Op<Str, Int, Str> kQemuIncoming{"QEMU.incoming", Layer::Vmm, {"gic", "vcpus", "transfer"},
    "the destination machine is made for the incoming VM"};
inline constexpr Op<> kQemuSaveItsTables{"QEMU.save_its_tables", Layer::Vmm, {},
    "save: KVM_DEV_ARM_ITS_SAVE_TABLES", "kvm_arm_its vm_change_state_handler"};
inline constexpr Op<Int, Bool> kQemuItsSaveFailed{"QEMU.its_save_failed", Layer::Vmm, {"rc", "fatal"},
    "SAVE_TABLES failed: QEMU reports it and migrates the tables written so far, or (arm.its_save_error=abort, "
    "its first handler) aborts", "hw/intc/arm_gicv3_its_kvm.c vm_change_state_handler"};
inline constexpr Op<> kQemuSavePendingTables{"QEMU.save_pending_tables", Layer::Vmm, {},
    "save: KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES", "vgic_v3_save_pending_tables"};
inline constexpr Unquiesced<Str, Int> kKvmSavePendingUnquiesced{"KVM.save_pending_unquiesced", Layer::Hypervisor,
    {"device", "vector"},
    "SAVE_PENDING_TABLES while a passthrough device still generates interrupts: outside the kernel's contract "
    "(what the vector then loses is undefined)",
    "Oliver Upton 2025-07-02 <aGVN8_hmeSKdHGfG@linux.dev>: \"The expectation for this ioctl is that userspace has "
    "already quiesced the interrupt generator\" (kernel_history A2)"};
inline constexpr GuestError<Int> kQemuSavePendingTablesError{"QEMU.save_pending_tables", Layer::Vmm, {"rc"},
    "SAVE_PENDING_TABLES failed: QEMU aborts", "vm_change_state_handler"};
inline constexpr Op<> kQemuSaveGicState{"QEMU.save_gic_state", Layer::Vmm, {},
    "save: GICR, GITS and CPU interface registers into the stream", "kvm_arm_gicv3_get, kvm_arm_its_pre_save"};
inline constexpr Op<> kQemuRestoreGicrPendbaser{"QEMU.restore_gicr_pendbaser", Layer::Vmm, {},
    "restore: GICR_PROPBASER and GICR_PENDBASER of every vCPU", "kvm_arm_gicv3_put"};
inline constexpr Op<> kQemuRestoreGicrCtlr{"QEMU.restore_gicr_ctlr", Layer::Vmm, {},
    "restore: GICR_CTLR.EnableLPIs and the CPU interfaces", "kvm_arm_gicv3_put"};
inline constexpr Op<> kQemuRestoreItsRegs{"QEMU.restore_its_regs", Layer::Vmm, {},
    "restore: GITS_IIDR, CBASER, CREADR, CWRITER, BASER<n>", "kvm_arm_its_post_load"};
inline constexpr Op<> kQemuRestoreItsTables{"QEMU.restore_its_tables", Layer::Vmm, {},
    "restore: KVM_DEV_ARM_ITS_RESTORE_TABLES", "kvm_arm_its_post_load"};
inline constexpr GuestError<Int> kQemuItsRestoreTablesError{"QEMU.its_restore_tables", Layer::Vmm, {"rc"},
    "RESTORE_TABLES failed: the migration fails", "kvm_arm_its_post_load"};
inline constexpr Op<> kQemuEnableIts{"QEMU.enable_its", Layer::Vmm, {},
    "restore: GITS_CTLR, last", "kvm_arm_its_post_load"};
inline constexpr Op<Int> kGuestWfi{"GUEST.wfi", Layer::Guest, {"vcpu"},
    "the guest waits for an interrupt (WFI)"};
inline constexpr Op<Int, Int> kGuestBoot{"GUEST.boot", Layer::Guest, {"vcpus", "sources"},
    "the guest's drivers set up the GIC and their devices' MSIs"};
inline constexpr Op<Int, Int, Str> kGuestTake{"GUEST.take", Layer::Guest, {"vcpu", "intid", "path"},
    "the guest takes an interrupt of a source (IAR1, handler, EOIR1)"};
inline constexpr GuestError<Int, Int> kGuestTakeError{"GUEST.take", Layer::Guest, {"vcpu", "intid"},
    "the guest took an interrupt it mapped to no source"};
inline constexpr Op<Int, Int> kGuestRetarget{"GUEST.retarget", Layer::Guest, {"intid", "vcpu"},
    "the guest moves an LPI to another vCPU (MOVI on its vITS)"};
inline constexpr Op<Int> kGuestToggleLpis{"GUEST.toggle_lpis", Layer::Guest, {"vcpu"},
    "the guest writes GICR_CTLR.EnableLPIs 1 -> 0 -> 1"};

// clang-format on

/// This file's declarations, in order (the registry's catalogue lists them after core's).
TracePointList trace_points();

}  // namespace irqdiff::arm::tp
