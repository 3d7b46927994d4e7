// ITS commands: the 32-byte packet, every command's fields as [hi:lo] of doubleword DWn, the
// opcode table rows (its_cmd_phys.cc, its_cmd_virt.cc) and packet builders for the hypervisor
// model and tests. Field positions are those the Linux ITS driver encodes (reference/arm §1.2,
// irq-gic-v3-its.c :: its_encode_*); GICv4.1 additions are marked.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "core/bits.h"
#include "core/trace_point.h"

namespace irqdiff::arm {

class Its;

/// One 32-byte command, as four little-endian doublewords.
struct ItsCommand {
    static constexpr uint64_t kBytes = 32;
    std::array<uint64_t, 4> dw{};

    uint8_t opcode() const { return static_cast<uint8_t>(dw[0] & 0xFF); }
    static ItsCommand decode(std::span<const uint8_t, kBytes> bytes);
    void encode(std::span<uint8_t, kBytes> bytes) const;
    bool operator==(const ItsCommand&) const = default;
};

/// Field [Hi:Lo] of doubleword `Dw` of a command.
template <unsigned Dw, unsigned Hi, unsigned Lo = Hi>
struct CmdField {
    static_assert(Dw < 4);
    using F = Field<Hi, Lo>;
    static constexpr uint64_t get(const ItsCommand& c) { return F::get(c.dw[Dw]); }
    static constexpr void set(ItsCommand& c, uint64_t v) { c.dw[Dw] = F::set(c.dw[Dw], v); }
};

/// Opcodes. [reference/arm §1.2; arm-gic-v3.h :: GITS_CMD_*]
enum class Opcode : uint8_t {
    MOVI = 0x01,
    INT = 0x03,
    CLEAR = 0x04,
    SYNC = 0x05,
    MAPD = 0x08,
    MAPC = 0x09,
    MAPTI = 0x0a,
    MAPI = 0x0b,
    INV = 0x0c,
    INVALL = 0x0d,
    MOVALL = 0x0e,
    DISCARD = 0x0f,
    VMOVI = 0x21,
    VMOVP = 0x22,
    VSGI = 0x23,  // GICv4.1
    VSYNC = 0x25,
    VMAPP = 0x29,
    VMAPTI = 0x2a,
    VMAPI = 0x2b,
    VINVALL = 0x2d,
    INVDB = 0x2e,  // GICv4.1
};

/// Command fields. Common: opcode DW0[7:0], DeviceID DW0[63:32], EventID DW1[31:0], ICID
/// DW2[15:0], RDbase DW2[51:16] (the processor number, as GITS_TYPER.PTA = 0), Valid DW2[63],
/// vPEID DW1[47:32]. [reference/arm §1.2]
namespace cmd {
using Opcode = CmdField<0, 7, 0>;
using DeviceID = CmdField<0, 63, 32>;
using EventID = CmdField<1, 31, 0>;
using pINTID = CmdField<1, 63, 32>;  // MAPTI
using ICID = CmdField<2, 15, 0>;
using RDbase = CmdField<2, 51, 16>;
using Valid = CmdField<2, 63>;
using vPEID = CmdField<1, 47, 32>;
// MAPD
using Size = CmdField<1, 4, 0>;       // EventID bits - 1
using ITT_addr = CmdField<2, 51, 8>;  // 256-byte aligned
// MOVALL
using RDbase2 = CmdField<3, 51, 16>;
// VMAPP
using Alloc = CmdField<0, 8>;                // GICv4.1
using PTZ = CmdField<0, 9>;                  // GICv4.1
using VCONF_addr = CmdField<0, 51, 16>;      // GICv4.1
using DefaultDoorbell = CmdField<1, 31, 0>;  // GICv4.1 (VMAPP)
using VPT_addr = CmdField<3, 51, 16>;
using VPT_size = CmdField<3, 7, 0>;  // vINTID bits - 1; GICv4.0 uses [4:0], [7:6] RES0
// VMAPTI / VMAPI / VMOVI
using vINTID = CmdField<2, 31, 0>;
using DbellPINTID = CmdField<2, 63, 32>;
using D = CmdField<2, 0>;  // VMOVI: the doorbell field is valid
// VMOVP
using SEQ_NUM = CmdField<0, 47, 32>;
using ITSList = CmdField<1, 15, 0>;
using DB = CmdField<2, 63>;                       // GICv4.1: Default_Doorbell is valid
using VmovpDefaultDoorbell = CmdField<3, 31, 0>;  // GICv4.1
// VSGI (GICv4.1)
using SgiIntid = CmdField<0, 35, 32>;
using SgiPriority = CmdField<0, 23, 20>;  // priority[7:4]
using SgiGroup = CmdField<0, 10>;
using SgiClear = CmdField<0, 9>;
using SgiEnable = CmdField<0, 8>;
}  // namespace cmd

/// What a command, or a lookup inside one, comes to (STYLE.md: each handler is a short pipeline
/// of lookups). Continue: the command could not be carried out; it was dropped (logged) and the
/// queue goes on. Stall: the queue stops at this command (GITS_CREADR.Stalled).
enum class CmdResult : uint8_t { Ok, Continue, Stall };

using CommandHandler = CmdResult (*)(Its& its, const ItsCommand& c);

/// One row of the command table.
struct CommandInfo {
    Opcode opcode;
    const char* name;
    CommandHandler handler;
    bool needs_v4;   // a virtual (GICv4) command: needs GITS_TYPER.Virtual
    bool needs_v41;  // exists only on GICv4.1
    const char* spec_ref;
    const GuestError<Int, Hex>* error;  // its command error (arm_gic/trace_points.h: ITS.<name>)
    const GuestError<Int, Hex>* fault;  // its table fault, or nullptr when it walks no table
};

/// The rows, defined next to their handlers.
std::span<const CommandInfo> physical_commands();  // its_cmd_phys.cc
std::span<const CommandInfo> virtual_commands();   // its_cmd_virt.cc
/// The row for an opcode, or nullptr for an opcode no GIC version defines.
const CommandInfo* find_command(uint8_t opcode);

/// Packet builders, field by field as the Linux driver encodes them (reference/arm §1.2).
namespace build {
ItsCommand mapd(uint32_t device_id, uint8_t size, uint64_t itt_addr, bool valid);
ItsCommand mapc(uint16_t icid, uint16_t rdbase, bool valid);
ItsCommand mapti(uint32_t device_id, uint32_t event_id, uint32_t pintid, uint16_t icid);
ItsCommand mapi(uint32_t device_id, uint32_t event_id, uint16_t icid);
ItsCommand movi(uint32_t device_id, uint32_t event_id, uint16_t icid);
ItsCommand discard(uint32_t device_id, uint32_t event_id);
ItsCommand inv(uint32_t device_id, uint32_t event_id);
ItsCommand invall(uint16_t icid);
ItsCommand int_(uint32_t device_id, uint32_t event_id);
ItsCommand clear(uint32_t device_id, uint32_t event_id);
ItsCommand sync(uint16_t rdbase);
ItsCommand movall(uint16_t rdbase1, uint16_t rdbase2);

struct Vmapp {
    uint32_t vpeid = 0;
    bool valid = true;
    uint16_t rdbase = 0;
    uint64_t vpt_addr = 0;
    uint8_t vpt_size = 15;  // vINTID bits - 1
    // GICv4.1 only:
    bool alloc = true;
    bool ptz = false;
    uint64_t vconf_addr = 0;
    uint32_t default_doorbell = 1023;
};
ItsCommand vmapp(const Vmapp& v);
ItsCommand vmapti(uint32_t device_id, uint32_t event_id, uint32_t vpeid, uint32_t vintid, uint32_t doorbell);
ItsCommand vmapi(uint32_t device_id, uint32_t event_id, uint32_t vpeid, uint32_t doorbell);
ItsCommand vmovi(uint32_t device_id, uint32_t event_id, uint32_t vpeid, bool d, uint32_t doorbell);
ItsCommand vmovp(uint32_t vpeid, uint16_t rdbase, uint16_t seq_num, uint16_t its_list, bool db,
                 uint32_t default_doorbell);
ItsCommand vsync(uint32_t vpeid);
ItsCommand vinvall(uint32_t vpeid);
ItsCommand invdb(uint32_t vpeid);
ItsCommand vsgi(uint32_t vpeid, uint8_t sgi, uint8_t priority, bool group, bool clear, bool enable);
}  // namespace build

}  // namespace irqdiff::arm
