// One ARM machine at the hypervisor level, driven the way ArmBackend drives it (arm_gic/backend.cc)
// but one call at a time: the host ITS driver, KVM's vgic with its virtual ITS, QEMU's devices
// (as ArmBackend::make_machine creates them) and the abstract guest. Host IRQs (vPE doorbells,
// VFIO vectors' physical LPIs) wait in the machine's host CPUs (arm_gic/host/cpu.h) and drain()
// runs their handlers, as Machine::service does. Shared by the tests of arm_gic/kvm, arm_gic/vmm
// and the backend.
//
// Guest layout (GuestLayout, arm_gic/guest/guest.h): device d is DeviceID 0x10 + 8 d, vector v is
// EventID v, the n-th routed source gets LPI 8192 + n, collection c targets vCPU c.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <concepts>
#include <deque>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "arm_gic/guest/guest.h"
#include "arm_gic/kvm/its_abi.h"
#include "arm_gic/machine.h"
#include "arm_gic/policies.h"
#include "arm_gic/trace_points.h"
#include "arm_gic/vmm/qemu.h"
#include "core/scenario.h"
#include "tests/event_match.h"

namespace irqdiff {
// gtest prints the model's enums by name.
inline void PrintTo(DeviceRunState s, std::ostream* os) { *os << to_string(s); }
}  // namespace irqdiff

namespace irqdiff::arm {

inline void PrintTo(GicVersion v, std::ostream* os) { *os << to_string(v); }
namespace kvm {
inline void PrintTo(TransferPoint t, std::ostream* os) { *os << to_string(t); }
inline void PrintTo(VcpuRun r, std::ostream* os) { *os << to_string(r); }
}  // namespace kvm
namespace vmm {
inline void PrintTo(VectorEnable e, std::ostream* os) {
    *os << (e == VectorEnable::AllAtOnce ? "all_at_once" : "one_by_one");
}
}  // namespace vmm

}  // namespace irqdiff::arm

namespace irqdiff::arm::testing {

/// Two vCPUs, one passthrough device with two vectors: nic.0 -> vCPU 0 (LPI 8192),
/// nic.1 -> vCPU 1 (LPI 8193).
inline const std::string kNic =
    "vm: {vcpus: 2}\n"
    "devices: [{name: nic, vectors: 2, passthrough: true}]\n"
    "routes: [{source: nic.0, vcpu: 0}, {source: nic.1, vcpu: 1}]\n";

/// Two vCPUs, one emulated device with four vectors: emu.0 -> vCPU 0 (LPI 8192), emu.1 -> vCPU 0
/// (LPI 8193), emu.2 -> vCPU 1 (LPI 8194); emu.3 is not routed (no ITE for EventID 3).
inline const std::string kEmu =
    "vm: {vcpus: 2}\n"
    "devices: [{name: emu, vectors: 4}]\n"
    "routes: [{source: emu.0, vcpu: 0}, {source: emu.1, vcpu: 0}, {source: emu.2, vcpu: 1}]\n";

inline constexpr uint32_t kLpi0 = 8192;  // the first routed source's LPI
inline constexpr uint32_t kLpi1 = 8193;
inline constexpr uint32_t kLpi2 = 8194;
inline constexpr uint32_t kDev0 = 0x10;  // GuestLayout::device_id(0)
inline constexpr uint32_t kDev1 = 0x18;  // GuestLayout::device_id(1)

struct KvmConfig {
    GicVersion version = GicVersion::V4_1;
    kvm::TransferPoint transfer = kvm::TransferPoint::SetForwarding;
    unsigned dirty_reads = 0;     // GICR_VPENDBASER reads that see Dirty after a schedule
    unsigned list_registers = 4;  // ICH_LR<n>_EL2 per CPU interface
    unsigned its_count = 1;       // host ITSs (the devices sit behind ITS 0)
    bool vmovp_direct = true;     // GITS_TYPER.VMOVP; false: the host driver needs an ITSList
};

class KvmHarness {
   public:
    Scenario scenario;
    EventLog log;
    Machine h;
    GuestState gs;
    GuestLog glog;
    std::vector<uint32_t> doorbells;  // vPEs whose doorbell drain() dispatched
    std::vector<int> vfio_irqs;       // VFIO host IRQs drain() dispatched

    /// `machine`: the vm, devices and routes keys of a scenario.
    explicit KvmHarness(const std::string& machine = kNic, KvmConfig config = {})
        : scenario(parse_scenario("name: harness\n" + machine + "steps: [{run: all}]\n", arm::arm_policies(),
                                  "harness.yaml")),
          h(gic_config(scenario, config), log, config.transfer) {
        h.its.init(h.gic);
        kvm().init(scenario.vcpus);
        // ArmBackend::make_host: the devices, running, their vectors not yet set up.
        for (uint32_t d = 0; d < scenario.devices.size(); ++d) {
            const Device& dev = scenario.devices[d];
            PciDevice state(dev.name, dev.passthrough, dev.vectors);
            state.guest_id = GuestLayout::device_id(d);
            if (dev.passthrough) state.host_id = h.its.add_device(h.gic, dev.vectors);
            h.qemu.devices.push_back(std::move(state));
        }
    }
    KvmHarness(const KvmHarness&) = delete;
    KvmHarness& operator=(const KvmHarness&) = delete;

    static GicConfig gic_config(const Scenario& s, const KvmConfig& c) {
        GicConfig g;
        g.version = c.version;
        g.redistributor_count = s.vcpus;  // vCPU v runs on pCPU v
        g.dirty_reads = c.dirty_reads;
        g.list_registers = c.list_registers;
        g.its_count = c.its_count;
        g.vmovp_direct = c.vmovp_direct;
        return g;
    }

    kvm::Kvm kvm() { return h.kvm(); }
    vmm::Qemu vmm() { return h.vmm(); }
    Guest guest() { return Guest(gs, h.kvm(), h.gic, h.mem.guest, log); }
    const kvm::VgicState& vgic() const { return h.vgic; }

    // ---- set-up, in ArmBackend::boot's order ---------------------------------------------------
    /// The guest's GIC and ITS drivers: tables, EnableLPIs, MAPC, MAPD, MAPTI.
    void boot_guest() { guest().boot(scenario); }
    /// The guest enables MSI-X on device d and QEMU sets up its routes, irqfds and host IRQs.
    void enable_msix(size_t d) {
        h.qemu.devices.at(d).msix_programmed = true;
        vmm().msix_enable(d);
        drain();
    }
    void connect(size_t d, VectorEnable how = VectorEnable::AllAtOnce) {
        vmm().connect_bypass(d, how);
        drain();
    }
    void load_all() {
        for (uint32_t v = 0; v < scenario.vcpus; ++v) kvm().vcpu_load(v);
    }
    /// Everything ArmBackend::boot does: guest boot, MSI-X, bypass, vCPUs loaded.
    void boot(VectorEnable how = VectorEnable::AllAtOnce) {
        boot_guest();
        for (size_t d = 0; d < h.qemu.devices.size(); ++d) {
            enable_msix(d);
            connect(d, how);
        }
        load_all();
        drain();
    }
    /// QEMU's stop_vcpus: every vCPU put (vPE non-resident) and held by the VMM.
    void stop_vcpus() {
        for (uint32_t v = 0; v < scenario.vcpus; ++v) {
            kvm().vcpu_put(v, false);
            h.vgic.cpus[v].run = kvm::VcpuRun::Stopped;
        }
    }

    // ---- interrupts --------------------------------------------------------------------------
    /// Device d raises vector v; host IRQs it causes are taken.
    void fire(size_t d, uint32_t v) {
        vmm().fire(d, v);
        drain();
    }
    /// The host CPUs take their pending LPIs and run the registered handlers, as
    /// Machine::service does, recording which ones ran.
    void drain() {
        while (std::optional<host::IrqAction> a = h.cpus.take(h.gic, log)) {
            if (a->handler == host::Handler::VpeDoorbell) {
                doorbells.push_back(a->arg);
                kvm().doorbell(a->arg);
            } else {
                vfio_irqs.push_back(static_cast<int>(a->arg));
                vmm().host_irq(static_cast<int>(a->arg));
            }
        }
    }
    /// ArmBackend::run_vcpu: load, then enter / take / exit until the guest takes nothing.
    /// Returns how many interrupts the guest took.
    unsigned run(uint32_t v) {
        if (h.vgic.cpus.at(v).run == kvm::VcpuRun::Blocked) return 0;
        kvm().vcpu_load(v);
        unsigned total = 0;
        for (unsigned round = 0; round < 64; ++round) {
            kvm().vcpu_enter(v);
            unsigned taken = guest().take_interrupts(v, scenario, glog);
            kvm().vcpu_exit(v);
            drain();
            total += taken;
            if (!taken) return total;
        }
        ADD_FAILURE() << "vCPU " << v << " kept taking interrupts";
        return total;
    }
    void mask(uint32_t v, bool masked = true) { gs.masked.at(v) = masked; }

    /// A guest ITS command through the guest's command queue and GITS_CWRITER.
    void cmd(const ItsCommand& c) {
        uint8_t bytes[ItsCommand::kBytes];
        c.encode(bytes);
        h.mem.guest.write_bytes(GuestLayout::kCmdQueue + gs.cwriter, bytes);
        gs.cwriter = (gs.cwriter + ItsCommand::kBytes) % GuestLayout::kTableBytes;
        kvm().its_write(GITS_CWRITER, gs.cwriter);
    }

    // ---- observations ------------------------------------------------------------------------
    const kvm::VgicIrq* lpi(uint32_t intid) { return kvm().lpi(intid); }
    int host_irq(size_t d, uint32_t v) const { return h.qemu.devices.at(d).vectors.at(v).host_irq; }
    uint32_t host_id(size_t d) const { return h.qemu.devices.at(d).host_id; }
    /// Whether the redistributor holding vPE `vpe` has vINTID pending (its cache or the VPT).
    bool vlpi_pending(uint32_t vpe, uint32_t vintid) const {
        const Redistributor* rd = h.gic.rd_of_vpe(vpe);
        return rd && rd->vlpi_pending(vpe, vintid);
    }
    std::vector<Location> where_vlpi(uint32_t vpe, uint32_t vintid) const {
        std::vector<Location> out;
        h.gic.where_vlpi(vpe, vintid, out);
        return out;
    }
    /// The host ITE of passthrough device d's vector v, read from the host ITT the DTE names.
    Ite host_ite(size_t d, uint32_t v) const {
        Dte dte = read_dte(h.mem.host, host::HostLayout::kDeviceTable + uint64_t{host_id(d)} * Dte::kBytes).value;
        EXPECT_TRUE(dte.valid) << "host DeviceID " << host_id(d) << " is not mapped";
        return read_ite(h.mem.host, dte.itt_addr + uint64_t{v} * Ite::kBytes).value;
    }
    uint8_t vprop(uint32_t vintid) const {
        return h.mem.host.read8(host::HostLayout::kVprop + (vintid - kFirstLpiIntid)).value;
    }

    // The guest's LPI tables in guest RAM.
    bool guest_pending(uint32_t vcpu, uint32_t intid) const {
        return (h.mem.guest.read8(GuestLayout::pending_table(vcpu) + intid / 8).value >> (intid % 8)) & 1;
    }
    void set_guest_pending(uint32_t vcpu, uint32_t intid, bool pending) {
        uint64_t addr = GuestLayout::pending_table(vcpu) + intid / 8;
        uint8_t byte = h.mem.guest.read8(addr).value;
        uint8_t mask = static_cast<uint8_t>(1u << (intid % 8));
        h.mem.guest.write8(addr, static_cast<uint8_t>(pending ? byte | mask : byte & ~mask));
    }
    void set_guest_prop(uint32_t intid, uint8_t priority, bool enabled) {
        h.mem.guest.write8(GuestLayout::kPropTable + (intid - kFirstLpiIntid),
                           static_cast<uint8_t>((priority & 0xFC) | 2 | (enabled ? 1 : 0)));
    }
    uint64_t guest_word(uint64_t addr) const { return h.mem.guest.read64(addr).value; }

    // The event log.
    size_t count(const Points& points) const { return count_events(log.events(), points); }
    size_t count(EventKind kind) const {
        return static_cast<size_t>(
            std::count_if(log.events().begin(), log.events().end(), [&](const Event& e) { return e.kind == kind; }));
    }
    /// Events of `points` recorded from position `from` on whose arguments include every (key, value).
    std::vector<const Event*> find(const Points& points, std::vector<EventArg> with = {}, size_t from = 0) const {
        return find_events(log.events(), points, with, from);
    }
    size_t mark() const { return log.events().size(); }
    std::string text() const { return log.to_text(); }
};

/// One expected event argument, typed as EventLog stores it.
template <std::integral T>
EventArg arg(std::string key, T v) {
    if constexpr (std::is_same_v<T, bool>)
        return EventArg{std::move(key), ArgValue(v)};
    else
        return EventArg{std::move(key), ArgValue(static_cast<int64_t>(v))};
}
inline EventArg arg(std::string key, const char* v) { return EventArg{std::move(key), ArgValue(std::string(v))}; }

/// QEMU's restore of the vgic on a fresh destination from a source machine whose guest RAM holds
/// the saved tables (ArmBackend::migrate, QEMU order up to enable_its): RAM, GICR_PROPBASER and
/// GICR_PENDBASER, GICR_CTLR, the ITS registers (in `order`, arm.vmm_its_regs), RESTORE_TABLES, GITS_CTLR. Returns the
/// RESTORE_TABLES result.
inline int restore_vgic(KvmHarness& src, KvmHarness& dst, vmm::ItsRegsOrder order = vmm::ItsRegsOrder::Abi) {
    dst.h.mem.guest = src.h.mem.guest;
    kvm::Kvm from = src.kvm(), to = dst.kvm();
    for (uint32_t v = 0; v < src.scenario.vcpus; ++v) {
        to.gicr_write(v, GICR_PROPBASER, from.gicr_read(v, GICR_PROPBASER));
        to.gicr_write(v, GICR_PENDBASER, from.gicr_read(v, GICR_PENDBASER));
    }
    for (uint32_t v = 0; v < src.scenario.vcpus; ++v) to.gicr_write(v, GICR_CTLR, from.gicr_read(v, GICR_CTLR));
    const vmm::ItsRegs regs{from.its_read(GITS_CBASER), from.its_read(GITS_CREADR), from.its_read(GITS_CWRITER),
                            from.its_read(gits_baser(0)), from.its_read(gits_baser(1))};
    to.restore_its_registers(vmm::its_register_writes(regs, order));
    int rc = to.its_restore_tables();
    to.its_write(GITS_CTLR, from.its_read(GITS_CTLR) & GitsCtlr::Enabled.kMask);
    dst.gs = src.gs;
    return rc;
}

}  // namespace irqdiff::arm::testing
