// The abstract ARM guest: what a Linux guest's GICv3 and ITS drivers do with the virtual GIC,
// without running guest code (issue 7 adds real AArch64 code in Unicorn). At boot it lays out its
// LPI configuration and pending tables and its ITS tables in guest RAM, programs the
// redistributors and the virtual ITS, and maps each routed interrupt source to an LPI with
// MAPD/MAPC/MAPTI. When it runs unmasked it acknowledges interrupts with ICV_IAR1 and ends them
// with ICV_EOIR1, through the modelled CPU interface.
//
// Guest physical layout (GuestLayout):
//   0x1000'0000  LPI configuration table (GICR_PROPBASER, 16 ID bits)
//   0x1100'0000  LPI pending table of vCPU v at + v * 64 KiB (GICR_PENDBASER)
//   0x1200'0000  ITS device table (64 KiB, flat)      0x1210'0000  collection table (64 KiB)
//   0x1220'0000  ITS command queue (64 KiB)           0x1300'0000  ITT of device d at + d * 64 KiB
// Device d's DeviceID is 0x10 + 8 d (a PCI requester ID); vector v is EventID v; the n-th routed
// source gets LPI 8192 + n; collection c targets vCPU c.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "arm_gic/hw/gic.h"
#include "arm_gic/kvm/kvm.h"
#include "core/backend.h"
#include "core/policy.h"
#include "core/scenario.h"

namespace irqdiff::arm {

/// How an acknowledged interrupt reached the guest, in the oracle's terms: a vLPI or vSGI the CPU
/// interface took from the resident vPE (its VPT, its vSGI state) is direct injection; one from a
/// list register is KVM's software path. The one place the ARM stack classifies a delivery (both
/// guests use it).
inline DeliveryPath delivery_path(std::optional<CpuInterface::Source> acked) {
    return acked == CpuInterface::Source::Vlpi || acked == CpuInterface::Source::Vsgi ? DeliveryPath::Direct
                                                                                       : DeliveryPath::Software;
}

struct GuestLayout {
    static constexpr uint64_t kPropTable = 0x1000'0000;
    static constexpr uint64_t kPendTables = 0x1100'0000;
    static constexpr uint64_t kDeviceTable = 0x1200'0000;
    static constexpr uint64_t kCollectionTable = 0x1210'0000;
    static constexpr uint64_t kCmdQueue = 0x1220'0000;
    static constexpr uint64_t kItts = 0x1300'0000;
    static constexpr uint64_t kTableBytes = 0x1'0000;
    static constexpr uint8_t kPriority = 0xA0;
    static uint32_t device_id(uint32_t device) { return 0x10 + 8 * device; }
    static uint64_t pending_table(uint32_t vcpu) { return kPendTables + uint64_t{vcpu} * 0x1'0000; }
};

/// arm.guest_nassgireq: whether the guest asks for SGIs without an active state (GICD_CTLR.nASSGIreq)
/// when its distributor offers them (guest.cc).
extern const Policy<bool> kGuestNassgireqPolicy;

/// How the guest maps one interrupt source: a device vector to an LPI, or (an `ipi` source) SGI K
/// of the route's vCPU.
struct GuestLpi {
    bool routed = false;
    uint32_t devid = 0;
    uint32_t event = 0;
    uint32_t intid = 0;
    uint32_t vcpu = 0;  // the collection (and so the vCPU) it targets now; an SGI's target
    bool sgi = false;   // an IPI: INTID = the SGI number, private to `vcpu`
};

struct GuestState {
    std::vector<bool> masked;    // PSTATE.I per vCPU (with the Unicorn guest: read back from its PSTATE)
    std::vector<GuestLpi> lpis;  // by SourceId
    uint64_t cwriter = 0;        // the guest's own copy of its command queue's write offset
    /// Set GICD_CTLR.nASSGIreq at boot when GICD_TYPER2.nASSGIcap says the distributor can
    /// (policy arm.guest_nassgireq, guest.cc).
    bool want_nassgireq = true;

    /// The source an INTID taken on vCPU `vcpu` belongs to, if any (SGIs are per vCPU).
    std::optional<SourceId> source_of(uint32_t intid, uint32_t vcpu) const;
};

/// The guest's drivers over the virtual GIC of the machine it runs on (a view).
class Guest {
   public:
    Guest(GuestState& state, kvm::Kvm kvm, Gic& gic, AddressSpace& ram, EventLog& log)
        : s_(state), kvm_(kvm), gic_(gic), ram_(ram), log_(log) {}

    /// Boot: tables, redistributors, the ITS, MAPC per vCPU, MAPD per device, MAPTI per routed
    /// source, the CPU interfaces opened (PMR 0xFF, Group 1 enabled) unless `open_cpu_interfaces`
    /// is false (the Unicorn guest's own code opens them with MSR, arm_gic/guest/unicorn_guest.h).
    void boot(const Scenario& scenario, bool open_cpu_interfaces = true);
    /// The vCPU runs: if unmasked it takes every interrupt the CPU interface signals, reporting
    /// each to `guest`. Returns how many it took.
    /// Each interrupt taken spends a step of `budget` (nullptr: a budget of its own); it stops
    /// when the budget is spent.
    unsigned take_interrupts(uint32_t vcpu, const Scenario& scenario, GuestLog& guest, RunBudget* budget = nullptr);
    /// MOVI the source's LPI to vCPU `vcpu`'s collection, then SYNC.
    void retarget(SourceId source, uint32_t vcpu);
    /// GICR_CTLR.EnableLPIs 1 -> 0 -> 1 on vCPU `vcpu`.
    void toggle_lpis(uint32_t vcpu);
    /// vCPU `from` sends the IPI `source` (gic_ipi_send_mask -> gic_send_sgi): an ICC_SGI1R_EL1
    /// write naming the SGI and the target's Aff0 bit, which traps to KVM.
    void send_sgi(SourceId source, uint32_t from);

    /// The source an INTID taken on vCPU `vcpu` belongs to, if any.
    std::optional<SourceId> source_of(uint32_t intid, uint32_t vcpu) const { return s_.source_of(intid, vcpu); }

   private:
    void command(const ItsCommand& c);

    GuestState& s_;
    kvm::Kvm kvm_;
    Gic& gic_;
    AddressSpace& ram_;
    EventLog& log_;
};

}  // namespace irqdiff::arm
