// The Interrupt Translation Service: its registers, the command queue it consumes from host
// memory, and the translation of an MSI (EventID written to GITS_TRANSLATER, DeviceID from the
// bus; Gic::msi decodes the address) through the device table, the device's ITT and the
// collection or vPE table to a redistributor. Command handlers live in its_cmd_phys.cc and
// its_cmd_virt.cc; the lookups are here, one pipeline for the handlers and the translation alike
// (reference/arm §1.1: INT, TRANSLATER, CLEAR and DISCARD share one path). Each returns a
// CmdResult, so a handler reads as a short pipeline (STYLE.md), and takes an error context that
// says how a failed stage is reported: as a command error, or as a dropped MSI.
//
// ITS frame (64 KiB control + 64 KiB translation + 64 KiB vSGI on GICv4.1), reference/arm §1.1:
//   0x0000  GITS_CTLR        Enabled[0] (RW), Quiescent[31] (RO: 1 while disabled; commands and
//                            translations complete synchronously, so nothing is ever in flight)
//   0x0004  GITS_IIDR        0: no implementer code (RO)
//   0x0008  GITS_TYPER       Physical, Virtual, ITT_entry_size, IDbits, Devbits, VMOVP, VMAPP (RO)
//   0x0080  GITS_CBASER      Valid, PhysAddr[51:12], Size (4 KiB pages - 1); writes reset CREADR
//   0x0088  GITS_CWRITER     Offset[19:5]; Retry[0] restarts a stalled queue
//   0x0090  GITS_CREADR      Offset[19:5] (RO), Stalled[0] (RO)
//   0x0100  GITS_BASER<n>    BASER0 device table, BASER1 collection table, BASER2 vPE table
//                            (Type and Entry_Size read-only); BASER3..7 unimplemented (RAZ/WI)
//   0x10040 GITS_TRANSLATER  MSI doorbell: write EventID, DeviceID from the bus
//   0x20020 GITS_SGIR        (GICv4.1) vPEID[47:32] vINTID[3:0]: make a vSGI pending
// Registers take 32- and 64-bit accesses; an access to an offset not listed is RAZ/WI and logged.
#pragma once

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string_view>

#include "arm_gic/hw/config.h"
#include "arm_gic/hw/its_command.h"
#include "arm_gic/hw/tables.h"
#include "core/event_log.h"
#include "core/memory.h"

namespace irqdiff::arm {

class Gic;
class Redistributor;

/// A device's ITT entry, with the addresses it came from.
struct IteRef {
    uint32_t device_id = 0;
    uint32_t event_id = 0;
    Dte dte;
    uint64_t addr = 0;  // of the ITE
    Ite ite;
};

/// A vPE table entry and its address.
struct VpteRef {
    uint32_t vpeid = 0;
    uint64_t addr = 0;
    Vpte vpte;
};

/// Where an event's interrupt goes: its valid ITE and the redistributor of the ITE's collection
/// (physical) or vPE (virtual).
struct EventRoute {
    IteRef ref;
    Redistributor* rd = nullptr;
};

/// The stages of the lookups, in the order the ITS walks them for an event (reference/arm §1.1:
/// DeviceID -> device table entry -> ITE for the EventID -> collection, or vPE -> redistributor).
/// A lookup that fails stops at one of them, whether a command or an MSI asked.
enum class LookupStage : uint8_t {
    DeviceId,     // the DeviceID is beyond GITS_TYPER.Devbits
    DeviceTable,  // the device table has no entry for it (base not valid, beyond, level 2 missing)
    Device,       // the DTE cannot be read or is not valid (no MAPD)
    EventId,      // the EventID is beyond the device's ITT
    Ite,          // the ITE cannot be read or is not valid
    Collection,   // the ICID is out of range, or its CTE unreadable, not valid or naming no redistributor
    Vpe,          // this ITS does not map the vPE (VMAPP) or no redistributor holds it; for a
                  // command also: the vPEID is out of range, has no vPE table entry or it cannot be read
    Vintid,       // an MSI only: the vINTID is beyond the vPE's VPT (a command's INT leaves that to
                  // the redistributor, which drops it)
};
/// The reason an MSI that fails at `stage` is dropped with ("translation error: ..., MSI dropped").
const char* translation_error(LookupStage stage);

/// The error context of a lookup: who asked, and so how a failed stage is reported. A command
/// reports a command error (or a table fault) and continues or stalls as policy says; the
/// translation of an MSI drops it with an Ignored event ITS.translate naming the stage. The
/// context also remembers the stage a lookup under it stopped at.
class LookupContext {
   public:
    /// A command's lookups (implicit, so a handler passes its command).
    LookupContext(const ItsCommand& command) : command_(&command) {}
    /// The translation of an MSI (its DeviceID and EventID name it in the log).
    static LookupContext msi(uint32_t device_id, uint32_t event_id) { return LookupContext(device_id, event_id); }

    const ItsCommand* command() const { return command_; }  // nullptr for an MSI
    uint32_t device_id() const { return device_id_; }
    uint32_t event_id() const { return event_id_; }
    /// The stage a lookup under this context failed at, if one did.
    std::optional<LookupStage> failed() const { return failed_; }

   private:
    friend class Its;
    LookupContext(uint32_t device_id, uint32_t event_id) : device_id_(device_id), event_id_(event_id) {}
    const ItsCommand* command_ = nullptr;
    uint32_t device_id_ = 0;
    uint32_t event_id_ = 0;
    // Reporting a failure records it: the lookups take the context by const reference so that a
    // handler can pass its command, and the record is all they change in it.
    mutable std::optional<LookupStage> failed_;
};

class Its {
   public:
    static constexpr uint64_t kIidr = 0;  // no implementer code: this is a model, not a product
    static constexpr unsigned kBaserDevice = 0, kBaserCollection = 1, kBaserVpe = 2;

    Its(Gic* gic, unsigned index);

    unsigned index() const { return index_; }
    uint64_t read(uint64_t offset, unsigned bytes);
    void write(uint64_t offset, uint64_t value, unsigned bytes);
    uint64_t read64(uint64_t offset) { return read(offset, 8); }
    void write64(uint64_t offset, uint64_t value) { write(offset, value, 8); }

    bool enabled() const { return enabled_; }
    bool stalled() const { return stalled_; }
    uint64_t creadr() const { return creadr_; }
    /// Commands taken from the queue and executed (or failed), for the asymmetry metrics.
    uint64_t commands_executed() const { return commands_executed_; }
    uint64_t cwriter() const { return cwriter_; }
    uint64_t typer() const;
    const TableDesc& table(unsigned baser) const { return tables_.at(baser); }
    /// Whether a VMAPP V=1 on this ITS mapped `vpeid` (and no V=0 unmapped it since).
    bool maps_vpe(uint32_t vpeid) const { return mapped_vpes_.count(vpeid) != 0; }
    const std::set<uint32_t>& mapped_vpes() const { return mapped_vpes_; }

    // ---- for the command handlers (its_cmd_phys.cc, its_cmd_virt.cc) ----------------------
    Gic& gic() { return *gic_; }
    const GicConfig& config() const;
    AddressSpace& memory();
    EventLog& log();
    /// A command error: logs a GuestError naming the command and the problem, and answers
    /// Continue or Stall as policy arm.its_command_error says.
    CmdResult command_error(const ItsCommand& c, std::string_view problem);
    /// A table or queue access that faulted: the same under policy arm.its_table_fault.
    CmdResult table_fault(const ItsCommand& c, std::string_view problem, uint64_t addr);
    /// The same, logged as `point` (a command's table fault, or the command queue's).
    CmdResult fault_response(const GuestError<Int, Hex>& point, std::string_view problem, uint64_t addr);

    // ---- the lookups: one pipeline for the command handlers and the translation of an MSI ----
    /// The device's DTE, which must be valid.
    CmdResult lookup_device(const LookupContext& ctx, uint32_t device_id, Dte& out, uint64_t* dte_addr = nullptr);
    /// The address of (DeviceID, EventID)'s ITE and its current contents (which may be invalid);
    /// the device must be mapped and EventID within its ITT.
    CmdResult locate_ite(const LookupContext& ctx, uint32_t device_id, uint32_t event_id, IteRef& out);
    /// As locate_ite, and the ITE must be valid.
    CmdResult lookup_ite(const LookupContext& ctx, uint32_t device_id, uint32_t event_id, IteRef& out);
    /// The collection's CTE, which must be valid (mapped to a redistributor).
    CmdResult lookup_collection(const LookupContext& ctx, uint16_t icid, Cte& out);
    /// The entry of `vpeid` in the vPE table, which this ITS must map (VMAPP V=1).
    CmdResult lookup_vpe(const LookupContext& ctx, uint32_t vpeid, VpteRef& out);
    /// The address of `vpeid`'s vPE-table entry (no mapping required).
    CmdResult locate_vpe(const LookupContext& ctx, uint32_t vpeid, uint64_t& addr);
    /// This ITS must map the vPE (VMAPP V=1).
    CmdResult require_mapped_vpe(const LookupContext& ctx, uint32_t vpeid);
    /// The redistributor a collection is mapped to.
    CmdResult collection_rd(const LookupContext& ctx, uint16_t icid, Redistributor*& rd);
    /// The redistributor holding a vPE that this ITS maps (a command also walks to its entry and
    /// reads it).
    CmdResult vpe_rd(const LookupContext& ctx, uint32_t vpeid, Redistributor*& rd);
    /// (DeviceID, EventID)'s valid ITE and the redistributor its interrupt lives on: the whole
    /// walk, as INT, CLEAR, DISCARD, INV and the translation of an MSI take it.
    CmdResult lookup_event(const LookupContext& ctx, uint32_t device_id, uint32_t event_id, EventRoute& out);

    CmdResult write_ite(const ItsCommand& c, const IteRef& ref);
    CmdResult write_vpte(const ItsCommand& c, uint64_t addr, const Vpte& vpte);

    void note_vpe_mapped(uint32_t vpeid, bool mapped) {
        if (mapped)
            mapped_vpes_.insert(vpeid);
        else
            mapped_vpes_.erase(vpeid);
    }
    /// Applies one command (also used directly by tests); the queue calls it for each slot.
    CmdResult execute(const ItsCommand& c);

   private:
    friend class Gic;
    /// An MSI (Gic::msi): a device wrote `event_id` to GITS_TRANSLATER and the bus supplied
    /// `device_id`. A write that does not translate is discarded and logged (the architecture
    /// drops it).
    void translate(uint32_t device_id, uint32_t event_id);
    /// A lookup stage failed: for a command, a command error naming the problem (formatted only
    /// then); for an MSI, the MSI is dropped with the stage's translation error (`id`: the ICID or
    /// vPEID that the event log names at the Collection, Vpe and Vintid stages). Cold: lookups
    /// fail rarely, and an MSI's translation is the hot path.
    template <typename... Args>
    [[gnu::cold]] CmdResult lookup_error(const LookupContext& ctx, LookupStage stage, uint32_t id,
                                         fmt::format_string<Args...> problem, Args&&... args);
    /// A table read of a lookup stage faulted: for a command, a table fault; for an MSI, as
    /// lookup_error.
    [[gnu::cold]] CmdResult lookup_fault(const LookupContext& ctx, LookupStage stage, uint32_t id,
                                         std::string_view problem, uint64_t addr);
    /// An MSI's failed lookup stage: the MSI is dropped with an Ignored event naming the stage.
    CmdResult drop_msi(const LookupContext& ctx, LookupStage stage, uint32_t id);
    void process_queue();
    uint64_t queue_bytes() const;

    Gic* gic_;
    unsigned index_;
    bool enabled_ = false;
    bool stalled_ = false;
    uint64_t cbaser_ = 0;
    uint64_t cwriter_ = 0;  // byte offset, 32-byte aligned
    uint64_t creadr_ = 0;
    uint64_t commands_executed_ = 0;
    std::array<uint64_t, 8> baser_{};
    std::array<TableDesc, 8> tables_{};  // baser_ decoded, kept with it: every lookup walks a table
    std::set<uint32_t> mapped_vpes_;
};

}  // namespace irqdiff::arm
