// The Interrupt Translation Service: its registers, the command queue it consumes from host
// memory, and the translation of an MSI (EventID written to GITS_TRANSLATER, DeviceID from the
// bus) through the device table, the device's ITT and the collection or vPE table to a
// redistributor. Command handlers live in its_cmd_phys.cc and its_cmd_virt.cc; the lookups they
// share are here and return CmdResult, so each handler reads as a short pipeline (STYLE.md).
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

#include <array>
#include <cstdint>
#include <set>
#include <string_view>

#include "arm_gic/hw/config.h"
#include "arm_gic/hw/its_command.h"
#include "arm_gic/hw/tables.h"
#include "core/event_log.h"
#include "core/memory.h"

namespace irqdiff::arm {

class Gic;

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

    /// An MSI: a device wrote `event_id` to GITS_TRANSLATER and the bus supplied `device_id`.
    /// A write that does not translate is discarded and logged (the architecture drops it).
    void translate(uint32_t device_id, uint32_t event_id);

    bool enabled() const { return enabled_; }
    bool stalled() const { return stalled_; }
    uint64_t creadr() const { return creadr_; }
    /// Commands taken from the queue and executed (or failed), for the asymmetry metrics.
    uint64_t commands_executed() const { return commands_executed_; }
    uint64_t cwriter() const { return cwriter_; }
    uint64_t typer() const;
    TableDesc table(unsigned baser) const { return TableDesc::from(GitsBaser::decode(baser_[baser])); }
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

    /// The device's DTE, which must be valid.
    CmdResult lookup_device(const ItsCommand& c, uint32_t device_id, Dte& out, uint64_t* dte_addr = nullptr);
    /// The address of (DeviceID, EventID)'s ITE and its current contents (which may be invalid);
    /// the device must be mapped and EventID within its ITT.
    CmdResult locate_ite(const ItsCommand& c, uint32_t device_id, uint32_t event_id, IteRef& out);
    /// As locate_ite, and the ITE must be valid.
    CmdResult lookup_ite(const ItsCommand& c, uint32_t device_id, uint32_t event_id, IteRef& out);
    /// The collection's CTE, which must be valid (mapped to a redistributor).
    CmdResult lookup_collection(const ItsCommand& c, uint16_t icid, Cte& out);
    /// The entry of `vpeid` in the vPE table, which this ITS must map (VMAPP V=1).
    CmdResult lookup_vpe(const ItsCommand& c, uint32_t vpeid, VpteRef& out);
    /// The address of `vpeid`'s vPE-table entry (no mapping required).
    CmdResult locate_vpe(const ItsCommand& c, uint32_t vpeid, uint64_t& addr);
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
    void process_queue();
    uint64_t queue_bytes() const;
    /// The translation an MSI or a doorbell-less lookup takes; logs and returns false when it fails.
    bool translate_to_ite(uint32_t device_id, uint32_t event_id, IteRef& out);

    Gic* gic_;
    unsigned index_;
    bool enabled_ = false;
    bool stalled_ = false;
    uint64_t cbaser_ = 0;
    uint64_t cwriter_ = 0;  // byte offset, 32-byte aligned
    uint64_t creadr_ = 0;
    uint64_t commands_executed_ = 0;
    std::array<uint64_t, 8> baser_{};
    std::set<uint32_t> mapped_vpes_;
};

}  // namespace irqdiff::arm
