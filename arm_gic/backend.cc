#include "arm_gic/backend.h"

#include <fmt/format.h>

#include <memory>

#include "arm_gic/guest/guest.h"
#include "arm_gic/guest/unicorn_guest.h"
#include "arm_gic/machine.h"
#include "arm_gic/places.h"
#include "arm_gic/policies.h"
#include "arm_gic/trace_points.h"
#include "arm_gic/vmm/qemu.h"
#include "core/byte_stream.h"
#include "core/migration_driver.h"

namespace irqdiff::arm {

namespace {

/// What the source writes into the migration stream besides RAM and the devices' state, and how
/// far the restore has come.
struct Stream {
    struct Gicr {
        uint64_t propbaser = 0, pendbaser = 0, ctlr = 0;
        // The SGI_base frame (kvm_arm_gicv3_get): SGI enables, pending (GICR_ISPENDR0, a vSGI's
        // from GICR_VSGIPENDR) and priorities (GICR_IPRIORITYR0..3). No active state: vSGIs have none.
        uint32_t isenabler0 = 0, ispendr0 = 0;
        std::array<uint32_t, 4> ipriorityr{};
    };
    struct CpuIf {
        uint8_t pmr = 0;
        bool grp0 = false, grp1 = false;
    };
    uint32_t gicd_ctlr = 0;  // with nASSGIreq
    std::vector<Gicr> gicr;
    std::vector<CpuIf> cpuif;
    uint64_t its_ctlr = 0, its_cbaser = 0, its_creadr = 0, its_cwriter = 0, its_baser0 = 0, its_baser1 = 0;
    // Machine mode only (docs/machine.md "Migration"): what else kvm_arm_gicv3_get saves, for the
    // PPIs and SPIs a real guest uses (scenarios have none). Per vCPU: GICR IGROUPR0, ISACTIVER0,
    // ICFGR1, IPRIORITYR4..7 (PPI bytes); the distributor's SPI registers, one entry per 32 SPIs.
    struct MachineGicr {
        uint32_t igroupr0 = 0, isactiver0 = 0, icfgr1 = 0;
        uint32_t ppi_enable = 0, ppi_pending = 0;  // GICR_ISENABLER0 / ISPENDR0 bits 16..31
        std::array<uint32_t, 4> ppi_priority{};
    };
    struct SpiWord {
        uint32_t igroupr = 0, isenabler = 0, ispendr = 0, isactiver = 0;
        std::array<uint32_t, 2> icfgr{};
        std::array<uint32_t, 8> ipriorityr{};
        std::array<uint64_t, 32> irouter{};
    };
    std::vector<MachineGicr> machine_gicr;
    std::vector<SpiWord> spis;
    bool written = false;  // the GIC's registers are in the stream
    bool started = false;  // a start step ran on the destination
    bool sgis_restored = false;  // restore_gicr_ctlr wrote the SGI_base registers on the destination
};

class ArmBackend final : public MigrationDriver<ArmBackend, Machine, Stream, GuestState, UnicornGuest> {
   public:
    // ---- the migration plan: each step with the code it runs ---------------------------------
    static const PlanTable& plan_table() {
        using S = Side;
        using B = ArmBackend;
        static const PlanTable table{
            {
                {{"stop_vcpus", S::Save, "stop_vcpus", "pause_all_vcpus: every vCPU is put (its vPE non-resident)"},
                 &B::stop_vcpus,
                 &tp::kQemuStopVcpus},
                {{"stop_devices", S::Save, "stop_devices",
                  "VFIO devices to STOP before the GIC handlers run (vfio_vmstate_change; QEMU 8ce1ff990eff)"},
                 &B::stop_devices,
                 &tp::kQemuStopDevices},
                {{"save_its_tables", S::Save, "save_irqchip",
                  "KVM_DEV_ARM_ITS_SAVE_TABLES (kvm_arm_its vm_change_state_handler; errors only reported)"},
                 &B::save_its_tables,
                 &tp::kQemuSaveItsTables},
                {{"save_pending_tables", S::Save, "save_irqchip",
                  "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES (vgic_v3_save_pending_tables; 4.1 reads the VPT with the vPEs "
                  "unmapped)"},
                 &B::save_pending_tables,
                 &tp::kQemuSavePendingTables},
                {{"save_gic_state", S::Save, "save_irqchip",
                  "pre_save: GICR, GITS and CPU interface registers into the stream (kvm_arm_gicv3_get, "
                  "kvm_arm_its_pre_save)"},
                 &B::save_gic_state_step,
                 &tp::kQemuSaveGicState},
                {{"copy_memory", S::Save, "copy_memory",
                  "the final RAM pass, with the pending and ITS tables just written"},
                 &B::copy_memory,
                 &tp::kQemuCopyMemory},
            },
            {
                {{"restore_gicr_pendbaser", S::Restore, "restore_irqchip",
                  "GICR_PROPBASER and GICR_PENDBASER of every vCPU (kvm_arm_gicv3_put)"},
                 &B::restore_gicr_pendbaser,
                 &tp::kQemuRestoreGicrPendbaser},
                {{"restore_gicr_ctlr", S::Restore, "restore_irqchip",
                  "GICR_CTLR.EnableLPIs -> vgic_enable_lpis (pending table -> pending_latch, no clear); CPU "
                  "interface"},
                 &B::restore_gicr_ctlr,
                 &tp::kQemuRestoreGicrCtlr},
                {{"restore_its_regs", S::Restore, "restore_translation",
                  "GITS_IIDR, CBASER, CREADR, CWRITER, BASER<n> (kvm_arm_its_post_load)"},
                 &B::restore_its_regs,
                 &tp::kQemuRestoreItsRegs},
                {{"restore_its_tables", S::Restore, "restore_translation",
                  "KVM_DEV_ARM_ITS_RESTORE_TABLES: each ITE -> vgic_add_lpi, pending_latch from the table, bit "
                  "cleared"},
                 &B::restore_its_tables,
                 &tp::kQemuRestoreItsTables},
                {{"enable_its", S::Restore, "restore_translation", "GITS_CTLR (kvm_arm_its_post_load, last)"},
                 &B::enable_its,
                 &tp::kQemuEnableIts},
                {{"vfio_load_config", S::Restore, "restore_devices",
                  "VFIO PCI config and MSI-X table (vfio_pci_load_config)"},
                 &B::vfio_load_config,
                 &tp::kQemuVfioLoadConfig},
                {{"msix_enable", S::Restore, "restore_devices",
                  "vfio_msix_enable: KVM MSI routes, irqfds, VFIO_DEVICE_SET_IRQS (host IRQs)"},
                 &B::msix_enable,
                 &tp::kQemuMsixEnable},
                {{"irq_bypass_connect", S::Restore, "restore_devices",
                  "irq bypass producer meets consumer: kvm_vgic_v4_set_forwarding per vector"},
                 &B::irq_bypass_connect,
                 &tp::kQemuIrqBypassConnect},
                // vm_start: vm_prepare_start runs the change-state handlers first (vfio_vmstate_change
                // sets the devices RUNNING), then resume_all_vcpus (QEMU system/cpus.c).
                {{"start_devices", S::Restore, "start_devices",
                  "VFIO devices to RUNNING (vm_prepare_start -> vfio_vmstate_change)"},
                 &B::start_devices,
                 &tp::kQemuStartDevices},
                {{"start_vcpus", S::Restore, "start_vcpus", "resume_all_vcpus: vCPUs loaded, vPEs resident"},
                 &B::start_vcpus,
                 &tp::kQemuStartVcpus},
            },
            {
                {"restore_gicr_pendbaser", "restore_gicr_ctlr",
                 "PROPBASER/PENDBASER writes are ignored once EnableLPIs is set (vgic_mmio_write_pendbase)", Rule::Data},
                {"restore_gicr_ctlr", "restore_its_regs",
                 "arm-vgic-its.rst ITS Restore Sequence: all redistributors before the ITS", Rule::DataAbi},
                {"restore_its_regs", "restore_its_tables",
                 "arm-vgic-its.rst: GITS_CBASER and the other GITS_* registers before RESTORE_TABLES", Rule::DataAbi},
                {"restore_its_tables", "enable_its", "arm-vgic-its.rst: GITS_CTLR last", Rule::DataAbi},
                {"enable_its", "msix_enable",
                 "VFIO_DEVICE_SET_IRQS depends on the VM's interrupt set-up (QEMU d329f5032e17; MIG_PRI_GICV3_ITS "
                 "\"must happen before PCI devices\")",
                 Rule::Data},
                {"vfio_load_config", "msix_enable",
                 "the MSI-X table comes with the device config (vfio_pci_load_config)", Rule::Data},
                {"msix_enable", "irq_bypass_connect", "the bypass producer exists once SET_IRQS has set the eventfd",
                 Rule::Data},
                {"restore_its_tables", "irq_bypass_connect",
                 "d766d87cf4a0 (6.15): the vITS is restored before the irqbypass mapping is created, else KVM "
                 "falls back to software injection (5c57533eb8c1); implied here by the data dependencies",
                 Rule::Abi},
                {"enable_its", "start_vcpus", "arm-vgic-its.rst: then vcpus can be started", Rule::DataAbi},
                {"vfio_load_config", "start_devices",
                 "a device runs once its state is loaded (vfio_load_state; VFIO uAPI: RESUMING, data, RUNNING)", Rule::Data},
            },
            {
                {"qemu",
                 {"restore_gicr_pendbaser", "restore_gicr_ctlr", "restore_its_regs", "restore_its_tables", "enable_its",
                  "vfio_load_config", "msix_enable", "irq_bypass_connect", "start_devices", "start_vcpus"}},
                // An order in which the devices run before the bypass connects: their MSIs take the
                // irqfd path first.
                {"devices_before_bypass",
                 {"restore_gicr_pendbaser", "restore_gicr_ctlr", "restore_its_regs", "restore_its_tables", "enable_its",
                  "vfio_load_config", "msix_enable", "start_vcpus", "start_devices", "irq_bypass_connect"}},
                // Cloud Hypervisor: Vm::restore restores the vCPUs, then the vGIC (redistributors, ITS
                // registers, tables, GITS_CTLR in one set_state [inference: in arm-vgic-its.rst's
                // sequence]), then restore_devices (VFIO blob, PCI_COMMAND, MSI-X eventfds rearmed, the
                // device left RESUMING: #8303, #8528); Vm::resume resumes the vCPUs before the devices.
                {"cloud_hypervisor",
                 {"restore_gicr_pendbaser", "restore_gicr_ctlr", "restore_its_regs", "restore_its_tables", "enable_its",
                  "vfio_load_config", "msix_enable", "irq_bypass_connect", "start_vcpus", "start_devices"}},
            },
            {
                {"qemu",
                 "QEMU today: sections load by MigrationPriority (MIG_PRI_GICV3 > MIG_PRI_GICV3_ITS > PCI devices), "
                 "then vm_start runs vfio_vmstate_change (RUNNING) before resume_all_vcpus",
                 {"qemu"}},
                {"qemu-7.2",
                 "QEMU 7.2 (Debian 12): the same GICv3 and ITS priorities, so the same order",
                 {"qemu"}},
                {"cloud-hypervisor",
                 "Cloud Hypervisor with VFIO migration (#8303, #8528, 2026): vm.rs Vm::restore then Vm::resume",
                 {"cloud_hypervisor"}},
            },
        };
        return table;
    }

    explicit ArmBackend(const BackendContext& ctx) : ArmBackend(ctx, Policies{}) {
        refuse_nmi_routes();
        boot();
    }

    /// Machine mode (docs/machine.md "Migration"): the VM machine mode built is the source
    /// (`source` nullptr: an incoming VM, `--restore`); `device_ids` are its assigned devices'
    /// guest DeviceIDs, in scenario device order; the machines have `nr_spis` SPIs.
    ArmBackend(const BackendContext& ctx, std::unique_ptr<Machine> source, std::vector<uint32_t> device_ids,
               uint32_t nr_spis)
        : ArmBackend(ctx, Policies{}) {
        machine_mode_ = true;
        nr_spis_ = nr_spis;
        device_ids_ = std::move(device_ids);
        external_stream_ = true;
        if (source) adopt_source(std::move(source));
    }

    // ---- machine mode's stream (docs/machine_stream.md, section GIC_ and DEVS) -----------------
    void write_stream(ByteWriter& w) const {
        const Stream& st = transit();
        size_t at = w.begin_section("GIC_");
        w.u32(st.gicd_ctlr);
        w.u32(static_cast<uint32_t>(st.gicr.size()));
        for (size_t v = 0; v < st.gicr.size(); ++v) {
            const Stream::Gicr& g = st.gicr[v];
            w.u64(g.propbaser), w.u64(g.pendbaser), w.u64(g.ctlr), w.u32(g.isenabler0), w.u32(g.ispendr0);
            for (uint32_t p : g.ipriorityr) w.u32(p);
            w.u8(st.cpuif[v].pmr), w.boolean(st.cpuif[v].grp0), w.boolean(st.cpuif[v].grp1);
            const Stream::MachineGicr& m = st.machine_gicr.at(v);
            w.u32(m.igroupr0), w.u32(m.isactiver0), w.u32(m.icfgr1), w.u32(m.ppi_enable), w.u32(m.ppi_pending);
            for (uint32_t p : m.ppi_priority) w.u32(p);
        }
        w.u32(static_cast<uint32_t>(st.spis.size()));
        for (const Stream::SpiWord& x : st.spis) {
            w.u32(x.igroupr), w.u32(x.isenabler), w.u32(x.ispendr), w.u32(x.isactiver);
            for (uint32_t c : x.icfgr) w.u32(c);
            for (uint32_t p : x.ipriorityr) w.u32(p);
            for (uint64_t r : x.irouter) w.u64(r);
        }
        for (uint64_t r : {st.its_ctlr, st.its_cbaser, st.its_creadr, st.its_cwriter, st.its_baser0, st.its_baser1})
            w.u64(r);
        w.end_section(at);
        at = w.begin_section("DEVS");
        w.u32(static_cast<uint32_t>(device_images().size()));
        for (const DeviceImage& d : device_images()) {
            w.boolean(d.msix_programmed);
            w.u32(static_cast<uint32_t>(d.held.size()));
            for (bool h : d.held) w.boolean(h);
            w.u32(static_cast<uint32_t>(d.msix.size()));
            for (const MsixEntry& e : d.msix) w.u64(e.address), w.u32(e.data);
        }
        w.end_section(at);
    }
    static Stream read_gic_section(ByteReader& in, uint32_t vcpus, uint32_t nr_spis) {
        ByteReader r = in.section("GIC_");
        Stream st;
        st.gicd_ctlr = r.u32("GICD_CTLR");
        r.u32_in("redistributor count", vcpus, vcpus);
        for (uint32_t v = 0; v < vcpus; ++v) {
            Stream::Gicr g;
            g.propbaser = r.u64("GICR_PROPBASER");
            g.pendbaser = r.u64("GICR_PENDBASER");
            g.ctlr = r.u64("GICR_CTLR");
            g.isenabler0 = r.u32("GICR_ISENABLER0");
            g.ispendr0 = r.u32("GICR_ISPENDR0");
            for (uint32_t& p : g.ipriorityr) p = r.u32("GICR_IPRIORITYR0..3");
            st.gicr.push_back(g);
            Stream::CpuIf c;
            c.pmr = r.u8("ICC_PMR_EL1");
            c.grp0 = r.boolean("ICC_IGRPEN0_EL1");
            c.grp1 = r.boolean("ICC_IGRPEN1_EL1");
            st.cpuif.push_back(c);
            Stream::MachineGicr m;
            m.igroupr0 = r.u32("GICR_IGROUPR0");
            m.isactiver0 = r.u32("GICR_ISACTIVER0");
            m.icfgr1 = r.u32("GICR_ICFGR1");
            m.ppi_enable = r.u32("GICR_ISENABLER0 (PPIs)");
            m.ppi_pending = r.u32("GICR_ISPENDR0 (PPIs)");
            for (uint32_t& p : m.ppi_priority) p = r.u32("GICR_IPRIORITYR4..7");
            st.machine_gicr.push_back(m);
        }
        r.u32_in("SPI register words", nr_spis / 32, nr_spis / 32);
        for (uint32_t i = 0; i < nr_spis / 32; ++i) {
            Stream::SpiWord x;
            x.igroupr = r.u32("GICD_IGROUPR");
            x.isenabler = r.u32("GICD_ISENABLER");
            x.ispendr = r.u32("GICD_ISPENDR");
            x.isactiver = r.u32("GICD_ISACTIVER");
            for (uint32_t& c : x.icfgr) c = r.u32("GICD_ICFGR");
            for (uint32_t& p : x.ipriorityr) p = r.u32("GICD_IPRIORITYR");
            for (uint64_t& a : x.irouter) a = r.u64("GICD_IROUTER");
            st.spis.push_back(x);
        }
        for (uint64_t* reg : {&st.its_ctlr, &st.its_cbaser, &st.its_creadr, &st.its_cwriter, &st.its_baser0,
                              &st.its_baser1})
            *reg = r.u64("GITS register");
        r.finish("the GIC_ section");
        st.written = true;
        return st;
    }
    static std::vector<DeviceImage> read_devices_section(ByteReader& in, const std::vector<uint32_t>& events) {
        ByteReader r = in.section("DEVS");
        const uint32_t n = static_cast<uint32_t>(events.size());
        r.u32_in("device count", n, n);
        std::vector<DeviceImage> out;
        for (uint32_t d = 0; d < n; ++d) {
            DeviceImage img;
            img.msix_programmed = r.boolean("msix_programmed");
            r.u32_in("held vector count", events[d], events[d]);
            for (uint32_t v = 0; v < events[d]; ++v) img.held.push_back(r.boolean("held"));
            r.u32_in("MSI-X entry count", events[d], events[d]);
            for (uint32_t v = 0; v < events[d]; ++v) {
                MsixEntry e;
                e.address = r.u64("MSI-X address");
                e.data = r.u32("MSI-X data");
                img.msix.push_back(e);
            }
            out.push_back(std::move(img));
        }
        r.finish("the DEVS section");
        return out;
    }
    /// The save side is over and its stream written: the source machine is destroyed.
    void drop_source() { destroy_source(); }
    /// An incoming VM: a fresh destination machine (prepared by `prepare`: its guest memory the
    /// destination board's RAM) with the stream's GIC and device parts.
    void incoming(ByteReader& in, const std::function<void(Machine&)>& prepare,
                  const std::vector<uint32_t>& events) {
        Stream st = read_gic_section(in, scenario_.vcpus, nr_spis_);
        std::vector<DeviceImage> devices = read_devices_section(in, events);
        std::unique_ptr<Machine> m = make_machine(true);
        prepare(*m);
        adopt_destination(std::move(m), std::move(devices), std::move(st));
    }
    using MigrationDriver::release_destination;
    using MigrationDriver::vm_gone;
    Machine& active_machine() { return active(); }
    void run_step(Side side, uint16_t step) {
        Action a;
        a.kind = StepKind::Migrate;
        a.side = side;
        a.step = step;
        a.migrating = true;
        apply(a);
    }

    std::string_view arch() const override { return "arm"; }

    void apply_step(const Action& a) {
        switch (a.kind) {
            case StepKind::Mask:
            case StepKind::Unmask:
                if (unicorn_) {
                    // The guest's own code sets PSTATE.I from its mailbox; the model reads it back.
                    const auto v = static_cast<uint32_t>(a.vcpu);
                    unicorn_->set_mask(v, a.kind == StepKind::Mask, active().gic.cpu(v));
                    vm().masked.at(v) = unicorn_->masked(v);
                } else {
                    vm().masked.at(a.vcpu) = a.kind == StepKind::Mask;
                }
                log_.emit(a.kind == StepKind::Mask ? tp::kGuestMask : tp::kGuestUnmask, a.vcpu);
                break;
            case StepKind::Block:
                log_.emit(tp::kGuestWfi, a.vcpu);
                active().kvm().vcpu_block(static_cast<uint32_t>(a.vcpu));
                break;
            case StepKind::Preempt:
                log_.emit(tp::kHostPreempt, a.vcpu);
                active().kvm().vcpu_put(static_cast<uint32_t>(a.vcpu), false);
                break;
            case StepKind::Fire: {
                const Source& src = scenario_.sources[a.source];
                if (scenario_.devices[src.device].kind == DeviceKind::Ipi)
                    send_sgi(a.source);
                else
                    active().vmm().fire(src.device, src.vector);
                break;
            }
            case StepKind::Retarget: guest().retarget(a.source, static_cast<uint32_t>(a.vcpu)); break;
            case StepKind::ToggleLpis: guest().toggle_lpis(static_cast<uint32_t>(a.vcpu)); break;
            default: throw std::logic_error("ArmBackend: an action the migration driver handles");
        }
    }

    Stream fresh_transit() const { return Stream{}; }

    /// A cancelled migration's resume_all_vcpus on the source: each vCPU is loaded again, its vPE
    /// made resident (vgic_v4_load), so a vLPI left pending in the VPT is delivered from there.
    void resume_vcpus() {
        Machine& h = source();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
            h.vgic.cpus[v].run = kvm::VcpuRun::Runnable;
            h.kvm().vcpu_load(v);
        }
    }

    void where(SourceId source, std::vector<Location>& out) const override {
        if (vm_gone()) return;
        const GuestLpi& lpi = vm().lpis.at(source);
        if (!lpi.routed) return;
        const Machine& h = active();
        const Source& src = scenario_.sources[source];
        if (lpi.sgi) {
            where_sgi(h, lpi, out);
            return;
        }
        // In the device: the live machine's device, or the migration stream until it is loaded.
        if (h.qemu.devices.at(src.device).holds(src.vector, held_in_stream(src.device)))
            out.push_back({&places::kDevice, src.device, false});
        // Live update: kvm_irqfd_assign on the new VM will inject what the eventfd counted.
        if (h.qemu.devices.at(src.device).vectors.at(src.vector).eventfd)
            out.push_back({&places::kEventfd, src.device, true});
        h.gic.where_vlpi(lpi.vcpu, lpi.intid, out);
        auto it = h.vgic.lpis.find(lpi.intid);
        if (it != h.vgic.lpis.end() && it->second.pending_latch) {
            const kvm::VgicIrq& irq = it->second;
            // Live when KVM's software path will inject it: not forwarded (a forwarded LPI's
            // pending_latch has no legal way out: an LR with HW=1 for a vLPI names pINTID 0),
            // enabled, and with a target vCPU that has LPIs enabled.
            bool live = !irq.hw && irq.enabled && irq.target_vcpu != kvm::kNoVcpu &&
                        h.vgic.cpus.at(irq.target_vcpu).enable_lpis;
            out.push_back({&places::kPendingLatch, irq.target_vcpu, live});
        }
        // The guest pending tables: the vCPU's own (where the guest put it), and the one its
        // redistributor uses if that is another — KVM's GICR_PENDBASER, or on a destination not
        // yet given one the stream's, which the restore will write (with arm.vmm_gicr_save=vcpu0
        // every vCPU gets vCPU 0's table, so SAVE_PENDING_TABLES on such a machine writes vCPU
        // 1's LPIs there). Each is named by the vCPU whose table it is.
        const uint64_t own = GuestLayout::pending_table(lpi.vcpu);
        uint64_t used = own;
        if (const uint64_t pb = h.vgic.cpus.at(lpi.vcpu).pendbaser)
            used = GicrPendbaser::PhysAddr.get_in_place(pb);
        else if (transit().written && lpi.vcpu < transit().gicr.size() && transit().gicr[lpi.vcpu].pendbaser)
            used = GicrPendbaser::PhysAddr.get_in_place(transit().gicr[lpi.vcpu].pendbaser);
        auto look_in = [&](uint64_t table) {
            if (!((h.mem.guest.read8(table + lpi.intid / 8).value >> (lpi.intid % 8)) & 1)) return;
            uint32_t owner = lpi.vcpu;
            for (uint32_t v = 0; v < scenario_.vcpus; ++v)
                if (GuestLayout::pending_table(v) == table) owner = v;
            out.push_back({&places::kGuestPendingTable, owner, false});
        };
        look_in(own);
        if (used != own) look_in(used);
    }

    /// An SGI's places: the target vPE's vSGI state and a list register (the hardware), the
    /// target's pending_latch (KVM's software SGI: live when KVM will inject it, not for an SGI the
    /// vPE owns, whose latch only reaches an LR with HW=1 naming pINTID 0), and GICR_ISPENDR0 in the
    /// stream until the destination's restore writes it. The sender's trapped ICC_SGI1R_EL1 write
    /// is handled within the `fire` step (vgic_v3_dispatch_sgi), so no step boundary sees it.
    void where_sgi(const Machine& h, const GuestLpi& lpi, std::vector<Location>& out) const {
        h.gic.where_vsgi(lpi.vcpu, lpi.intid, out);
        const kvm::VgicIrq& irq = h.vgic.cpus.at(lpi.vcpu).sgis.at(lpi.intid);
        if (irq.pending_latch) out.push_back({&places::kPendingLatch, lpi.vcpu, !irq.hw && irq.enabled});
        const Stream& st = transit();
        if (st.written && !st.sgis_restored && lpi.vcpu < st.gicr.size() && ((st.gicr[lpi.vcpu].ispendr0 >> lpi.intid) & 1))
            out.push_back({&places::kSavedIspendr0, lpi.vcpu, false});
    }

    std::string identity(SourceId source) const override {
        const GuestLpi& lpi = vm().lpis.at(source);
        if (!lpi.routed) return "not routed";
        if (lpi.sgi) {
            const kvm::VgicIrq& irq = active().vgic.cpus.at(lpi.vcpu).sgis.at(lpi.intid);
            return fmt::format("ICC_SGI1R_EL1 from vcpu{} -> trap -> vgic_v3_dispatch_sgi -> SGI {} (vcpu{}): {}",
                               scenario_.device_of(source).from, lpi.intid, lpi.vcpu,
                               irq.hw ? "vSGI through GITS_SGIR (vPE " + std::to_string(lpi.vcpu) + ")"
                                      : std::string("pending_latch -> list register"));
        }
        return fmt::format("DeviceID {:#x} EventID {} -> LPI {} (vcpu{}, vPE {})", lpi.devid, lpi.event, lpi.intid,
                           lpi.vcpu, lpi.vcpu);
    }

    std::unique_ptr<Machine> make_machine(bool destination) {
        auto h = std::make_unique<Machine>(config_, log_, transfer_, save_);
        log_.emit(destination ? tp::kQemuIncoming : tp::kQemuBoot, to_string(config_.version), scenario_.vcpus,
                  to_string(transfer_));
        h->its.init(h->gic);
        h->kvm().init(scenario_.vcpus);
        if (nr_spis_) h->kvm().init_spis(nr_spis_);
        h->vgic.irqfd_deassign = irqfd_deassign_;
        h->vgic.vsgi_ispendr = vsgi_ispendr_;
        plug_devices(*h, destination, [&](uint32_t d) {
            const Device& dev = scenario_.devices[d];
            // An IPI device is a sending vCPU: its entry here is an empty placeholder.
            PciDevice state(dev.name, dev.passthrough, dev.kind == DeviceKind::Msi ? dev.vectors : 0);
            state.guest_id = machine_mode_ ? device_ids_.at(d) : GuestLayout::device_id(d);
            if (dev.passthrough) state.host_id = h->its.add_device(h->gic, dev.vectors);
            return state;
        });
        return h;
    }

   private:
    struct Policies {};
    /// Both constructors: the run's policies, read once.
    ArmBackend(const BackendContext& ctx, Policies)
        : MigrationDriver(ctx),
          config_(GicConfig::from_policy(ctx.policy)),
          transfer_(kvm::transfer_point(ctx.policy)),
          save_(kvm::kSavePolicy.read(ctx.policy)),
          its_save_error_(vmm::kItsSaveErrorPolicy.read(ctx.policy)),
          gicr_save_(vmm::kGicrSavePolicy.read(ctx.policy)),
          irqfd_deassign_(kvm::kIrqfdDeassignPolicy.read(ctx.policy)),
          its_regs_order_(vmm::kItsRegsPolicy.read(ctx.policy)),
          vsgi_ispendr_(kvm::kVsgiIspendrPolicy.read(ctx.policy)),
          guest_nassgireq_(kGuestNassgireqPolicy.read(ctx.policy)) {
        vector_enable_ = vmm::kVectorEnablePolicy.read(ctx.policy);
        cpr_detach_ = vmm::kCprDetachPolicy.read(ctx.policy);
        config_.redistributor_count = scenario_.vcpus;  // vCPU v runs on pCPU v
    }

    /// An NMI-mode MSI (route or retarget key `nmi`, issue 15 §2.2's vfio_irq_test -n) has no ARM
    /// counterpart in the modelled system: a device MSI is an LPI, which the GICv4.1 model and KVM's
    /// vgic forward or inject with a priority and no NMI property; Linux's arm64 pseudo-NMIs are
    /// priority-masked SPIs and PPIs, and its gic_irq_nmi_setup refuses LPIs (drivers/irqchip/
    /// irq-gic-v3.c; not in reference/). The scenario is refused where it says `nmi: true`.
    void refuse_nmi_routes() const {
        if (std::optional<Scenario::KeyUse> use = scenario_.first_nmi())
            throw InputError(use->loc, use->path +
                                           ": ARM has no NMI-mode MSI: a device MSI is an LPI, and neither the GICv4.1 "
                                           "vLPI nor KVM's vgic gives an LPI an NMI property (arm64 pseudo-NMIs are SPIs "
                                           "and PPIs only); run it with --arch x86");
    }

    Guest guest() {
        Machine& h = active();
        return Guest(vm(), h.kvm(), h.gic, h.mem.guest, log_);
    }

    void boot() {
        boot_machine();
        Machine& h = source();
        vm().want_nassgireq = guest_nassgireq_;
        guest().boot(scenario_, /*open_cpu_interfaces=*/!unicorn_);
        if (unicorn_)
            for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
                unicorn_->boot(v, h.gic.cpu(v));  // the program opens its CPU interface with MSR
                vm().masked.at(v) = unicorn_->masked(v);
            }
        for (uint32_t d = 0; d < scenario_.devices.size(); ++d) {
            if (scenario_.devices[d].kind != DeviceKind::Msi) continue;
            h.qemu.devices[d].msix_programmed = true;  // the guest's driver enables MSI-X
            h.vmm().msix_enable(d);
            h.vmm().connect_bypass(d, vector_enable_);
        }
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) h.kvm().vcpu_load(v);
        service();
    }

   public:
    void run_vcpu(uint32_t v) {
        Machine& h = active();
        kvm::VgicCpu& c = h.vgic.cpus.at(v);
        if (c.run == kvm::VcpuRun::Stopped) throw std::logic_error("ArmBackend: run while the VMM holds the vCPUs");
        if (c.run == kvm::VcpuRun::Blocked) {
            log_.emit(tp::kGuestStillWaiting, v);
            return;
        }
        kvm::Kvm kvm = h.kvm();
        kvm.vcpu_load(v);
        const bool masked = unicorn_ ? unicorn_->masked(v) : static_cast<bool>(vm().masked[v]);
        log_.emit(tp::kGuestRun, v, masked);
        // Rounds of entry (vcpu_flush fills the list registers), the guest taking what is
        // deliverable, exit (vcpu_fold), until a round takes nothing: more software-injected
        // interrupts than list registers take several rounds. Each round and each interrupt
        // spend one step of the run's budget (core/backend.h RunBudget).
        RunBudget budget;
        while (budget.spend()) {
            kvm.vcpu_enter(v);
            unsigned taken = unicorn_ ? unicorn_->take_interrupts(v, h.gic.cpu(v), vm(), scenario_, guest_log_, &budget)
                                      : guest().take_interrupts(v, scenario_, guest_log_, &budget);
            kvm.vcpu_exit(v);
            service();
            if (!taken) return;
        }
        log_.emit(tp::kGuestRunBudget, "the run's step budget is spent: the rest stays pending", v, budget.used());
    }

   private:
    /// The sender executes its ICC_SGI1R_EL1 write: it must be running guest code, so it is loaded
    /// first; a vCPU the VMM stopped (paused for the migration, not yet started on the destination)
    /// or one blocked in WFI executes nothing: the schedule asks for the impossible.
    void send_sgi(SourceId source) {
        const uint32_t from = scenario_.device_of(source).from;
        const std::string& name = scenario_.sources[source].name;
        if (vm_gone()) {
            log_.emit(tp::kGuestImpossibleIpi.touching(name), "the sender executes no instruction now", from,
                      "the VM is gone");
            return;
        }
        Machine& h = active();
        const kvm::VcpuRun run = h.vgic.cpus.at(from).run;
        if (run == kvm::VcpuRun::Stopped || run == kvm::VcpuRun::Blocked) {
            log_.emit(tp::kGuestImpossibleIpi.touching(name), "the sender executes no instruction now", from,
                      kvm::to_string(run));
            return;
        }
        h.kvm().vcpu_load(from);
        guest().send_sgi(source, from);
        service();
    }

    // ---- save steps (on the source) ----------------------------------------------------------
    /// pause_all_vcpus kicks every vCPU out of KVM_RUN. One blocked in WFI is woken first:
    /// kvm_vcpu_wfi returns from kvm_vcpu_halt, clears IN_WFI and kvm_vgic_load makes its vPE
    /// resident again; the exit to userspace then puts it without a doorbell (vgic_v4_put asks for
    /// one only IN_WFI), so no doorbell stays armed for a stopped vCPU (issue 15 §1.6).
    void stop_vcpus() {
        Machine& h = source();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
            kvm::Kvm k = h.kvm();
            if (h.vgic.cpus[v].run == kvm::VcpuRun::Blocked) {
                k.kick(v);
                k.vcpu_load(v);
            }
            k.vcpu_put(v, false);
            h.vgic.cpus[v].run = kvm::VcpuRun::Stopped;
        }
    }
    /// The ITS's vm_change_state_handler: a failed save is reported and the migration goes on
    /// with the tables written so far, or (arm.its_save_error=abort) QEMU aborts.
    void save_its_tables() {
        int rc = source().kvm().its_save_tables();
        if (rc == kvm::kOk) return;
        const bool fatal = its_save_error_ == vmm::ItsSaveError::Abort && rc != kvm::kEfault;
        log_.emit(tp::kQemuItsSaveFailed, rc, fatal);
        if (fatal) vmm_exits();
    }
    /// The GIC's vm_change_state_handler aborts QEMU on any error but -EFAULT. A passthrough device
    /// still running now (a live update preserves its devices) breaks the call's contract: "The
    /// expectation for this ioctl is that userspace has already quiesced the interrupt generator",
    /// and ITS mapping updates "are non-atomic and a poorly timed MSI will get dropped on the floor.
    /// Or generate an SError" (Oliver Upton, 2025-07-02, <aGVN8_hmeSKdHGfG@linux.dev>; reference
    /// kernel_history A2): what the device's sources then lose is `undefined`, not a bug.
    void save_pending_tables() {
        Machine& m = source();
        for (uint32_t d = 0; d < m.qemu.devices.size(); ++d) {
            const PciDevice& dev = m.qemu.devices[d];
            if (!dev.passthrough || dev.state != DeviceRunState::Running) continue;
            for (uint32_t v = 0; v < dev.vectors.size(); ++v)
                log_.emit(tp::kKvmSavePendingUnquiesced.touching(fmt::format("{}.{}", dev.name, v)),
                          "SAVE_PENDING_TABLES with the interrupt generator not quiesced (Oliver Upton, 2025-07-02)",
                          dev.name, v);
        }
        int rc = m.kvm().save_pending_tables();
        if (rc == kvm::kOk) return;
        log_.emit(tp::kQemuSavePendingTablesError,
                  "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES failed: QEMU aborts (arm_gicv3_kvm.c vm_change_state_handler)",
                  rc);
        if (rc != kvm::kEfault) vmm_exits();
    }
    void save_gic_state_step() { save_gic_state(source()); }
    /// Stop-and-copy: the final RAM pass and the devices' migration data
    /// (vfio_save_complete_precopy), then the switch-over (issue 15 §1.5: a stopped device's
    /// pending MSIs travel in its own data, read here).
    void copy_memory() {
        if (!transit().written) save_gic_state(source());
        save_devices(source());
        switch_over();
    }

    /// QEMU's pre_save hooks: the registers the GIC and ITS vmstate carry (PTZ reads 0).
    void save_gic_state(Machine& h) {
        kvm::Kvm kvm = h.kvm();
        Stream& st = transit();
        st.gicr.clear();
        st.cpuif.clear();
        st.gicd_ctlr = kvm.gicd_read(GICD_CTLR);
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
            // arm.vmm_gicr_save=vcpu0: the attribute names vCPU 0's affinity for every vCPU
            // (Cloud Hypervisor before #8638).
            const uint32_t r = gicr_save_ == vmm::GicrSave::Vcpu0 ? 0 : v;
            Stream::Gicr g{kvm.gicr_read(r, GICR_PROPBASER), kvm.gicr_read(r, GICR_PENDBASER),
                           kvm.gicr_read(r, GICR_CTLR)};
            g.isenabler0 = kvm.sgi_uaccess_read(r, kGicrSgiFrame + GICR_ISENABLER0);
            g.ispendr0 = kvm.sgi_uaccess_read(r, kGicrSgiFrame + GICR_ISPENDR0);
            for (unsigned w = 0; w < g.ipriorityr.size(); ++w)
                g.ipriorityr[w] = kvm.sgi_uaccess_read(r, kGicrSgiFrame + GICR_IPRIORITYR0 + 4 * w);
            st.gicr.push_back(g);
            const CpuInterface& cpu = h.gic.cpu(r);
            st.cpuif.push_back({cpu.read_pmr(), cpu.read_igrpen0(), cpu.read_igrpen1()});
        }
        if (machine_mode_) save_machine_gic_state(kvm);
        st.its_ctlr = kvm.its_read(GITS_CTLR);
        st.its_cbaser = kvm.its_read(GITS_CBASER);
        st.its_creadr = kvm.its_read(GITS_CREADR);
        st.its_cwriter = kvm.its_read(GITS_CWRITER);
        st.its_baser0 = kvm.its_read(gits_baser(0));
        st.its_baser1 = kvm.its_read(gits_baser(1));
        st.written = true;
    }

    /// Machine mode: the rest of kvm_arm_gicv3_get for PPIs and SPIs (QEMU hw/intc/arm_gicv3_kvm.c:
    /// the redistributors' IGROUPR0, ISACTIVER0, ICFGR1, IPRIORITYR; the distributor's SPI
    /// IGROUPR, ISENABLER, ISPENDR, ISACTIVER, ICFGR, IPRIORITYR, IROUTER), read as the guest reads them.
    void save_machine_gic_state(kvm::Kvm& kvm) {
        Stream& st = transit();
        st.machine_gicr.clear();
        st.spis.clear();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
            Stream::MachineGicr m;
            m.igroupr0 = static_cast<uint32_t>(kvm.redist_read(v, kGicrSgiFrame + 0x80, 4, false));
            m.isactiver0 = static_cast<uint32_t>(kvm.redist_read(v, kGicrSgiFrame + 0x300, 4, false));
            m.icfgr1 = static_cast<uint32_t>(kvm.redist_read(v, kGicrSgiFrame + 0xC04, 4, false));
            // The SGI bits travel in Gicr (sgi_uaccess_*); these registers' PPI bits here.
            m.ppi_enable = static_cast<uint32_t>(kvm.redist_read(v, kGicrSgiFrame + GICR_ISENABLER0, 4, false)) & 0xFFFF'0000u;
            m.ppi_pending = static_cast<uint32_t>(kvm.redist_read(v, kGicrSgiFrame + GICR_ISPENDR0, 4, false)) & 0xFFFF'0000u;
            for (unsigned w = 0; w < 4; ++w)
                m.ppi_priority[w] = static_cast<uint32_t>(kvm.redist_read(v, kGicrSgiFrame + GICR_IPRIORITYR0 + 16 + 4 * w, 4, false));
            st.machine_gicr.push_back(m);
        }
        for (uint32_t i = 0; i < nr_spis_ / 32; ++i) {
            const uint64_t n = i + 1;  // register word n covers INTIDs 32n..32n+31
            Stream::SpiWord x;
            x.igroupr = static_cast<uint32_t>(kvm.dist_read(0, 0x080 + 4 * n, 4));
            x.isenabler = static_cast<uint32_t>(kvm.dist_read(0, 0x100 + 4 * n, 4));
            x.ispendr = static_cast<uint32_t>(kvm.dist_read(0, 0x200 + 4 * n, 4));
            x.isactiver = static_cast<uint32_t>(kvm.dist_read(0, 0x300 + 4 * n, 4));
            for (unsigned c = 0; c < 2; ++c) x.icfgr[c] = static_cast<uint32_t>(kvm.dist_read(0, 0xC00 + 8 * n + 4 * c, 4));
            for (unsigned p = 0; p < 8; ++p)
                x.ipriorityr[p] = static_cast<uint32_t>(kvm.dist_read(0, 0x400 + 32 * n + 4 * p, 4));
            for (unsigned r = 0; r < 32; ++r) x.irouter[r] = kvm.dist_read(0, 0x6000 + 8 * (32 * n + r), 8);
            st.spis.push_back(x);
        }
    }
    /// kvm_arm_gicv3_put's order for the same registers: the redistributors' after their SGI
    /// state, then the distributor's SPIs (groups, enables cleared then set, pending cleared then
    /// set, active, configuration, priorities, routing).
    void restore_machine_gic_state(kvm::Kvm& kvm) {
        const Stream& st = transit();
        for (uint32_t v = 0; v < scenario_.vcpus && v < st.machine_gicr.size(); ++v) {
            const Stream::MachineGicr& m = st.machine_gicr[v];
            kvm.redist_write(v, kGicrSgiFrame + 0x80, m.igroupr0, 4);
            kvm.redist_write(v, kGicrSgiFrame + 0xC04, m.icfgr1, 4);
            for (unsigned w = 0; w < 4; ++w)
                kvm.redist_write(v, kGicrSgiFrame + GICR_IPRIORITYR0 + 16 + 4 * w, m.ppi_priority[w], 4);
            kvm.redist_write(v, kGicrSgiFrame + GICR_ICENABLER0, 0xFFFF'0000u, 4);
            kvm.redist_write(v, kGicrSgiFrame + GICR_ISENABLER0, m.ppi_enable, 4);
            kvm.redist_write(v, kGicrSgiFrame + GICR_ICPENDR0, 0xFFFF'0000u, 4);
            kvm.redist_write(v, kGicrSgiFrame + GICR_ISPENDR0, m.ppi_pending, 4);
            kvm.redist_write(v, kGicrSgiFrame + 0x380, 0xFFFF'0000u, 4);  // ICACTIVER0 (PPIs)
            kvm.redist_write(v, kGicrSgiFrame + 0x300, m.isactiver0 & 0xFFFF'0000u, 4);
        }
        for (uint32_t i = 0; i < st.spis.size(); ++i) {
            const uint64_t n = i + 1;
            const Stream::SpiWord& x = st.spis[i];
            kvm.dist_write(0, 0x080 + 4 * n, x.igroupr, 4);
            kvm.dist_write(0, 0x180 + 4 * n, ~0u, 4);
            kvm.dist_write(0, 0x100 + 4 * n, x.isenabler, 4);
            kvm.dist_write(0, 0x280 + 4 * n, ~0u, 4);
            kvm.dist_write(0, 0x200 + 4 * n, x.ispendr, 4);
            kvm.dist_write(0, 0x380 + 4 * n, ~0u, 4);
            kvm.dist_write(0, 0x300 + 4 * n, x.isactiver, 4);
            for (unsigned c = 0; c < 2; ++c) kvm.dist_write(0, 0xC00 + 8 * n + 4 * c, x.icfgr[c], 4);
            for (unsigned p = 0; p < 8; ++p) kvm.dist_write(0, 0x400 + 32 * n + 4 * p, x.ipriorityr[p], 4);
            for (unsigned r = 0; r < 32; ++r) kvm.dist_write(0, 0x6000 + 8 * (32 * n + r), x.irouter[r], 8);
        }
    }

    // ---- restore steps (on the destination) --------------------------------------------------
    void restore_gicr_pendbaser() {
        kvm::Kvm kvm = destination().kvm();
        // kvm_arm_gicv3_put writes GICD_CTLR first (its nASSGIreq only recorded by KVM's uaccess).
        kvm.gicd_uaccess_write(GICD_CTLR, transit().gicd_ctlr);
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
            kvm.gicr_write(v, GICR_PROPBASER, transit().gicr[v].propbaser);
            kvm.gicr_write(v, GICR_PENDBASER, transit().gicr[v].pendbaser);
        }
    }
    void restore_gicr_ctlr() {
        Machine& h = destination();
        kvm::Kvm kvm = h.kvm();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
            const Stream::Gicr& g = transit().gicr[v];
            kvm.gicr_write(v, GICR_CTLR, g.ctlr);
            // kvm_arm_gicv3_put's redistributor state, after GICR_CTLR: enables (ICENABLER0 ~0,
            // then ISENABLER0), pending (ICPENDR0 ~0, then ISPENDR0), then priorities.
            kvm.sgi_uaccess_write(v, kGicrSgiFrame + GICR_ICENABLER0, ~0u);
            kvm.sgi_uaccess_write(v, kGicrSgiFrame + GICR_ISENABLER0, g.isenabler0);
            kvm.sgi_uaccess_write(v, kGicrSgiFrame + GICR_ICPENDR0, ~0u);
            kvm.sgi_uaccess_write(v, kGicrSgiFrame + GICR_ISPENDR0, g.ispendr0);
            for (unsigned w = 0; w < g.ipriorityr.size(); ++w)
                kvm.sgi_uaccess_write(v, kGicrSgiFrame + GICR_IPRIORITYR0 + 4 * w, g.ipriorityr[w]);
            CpuInterface& cpu = h.gic.cpu(v);
            cpu.write_pmr(transit().cpuif[v].pmr);
            cpu.write_igrpen0(transit().cpuif[v].grp0);
            cpu.write_igrpen1(transit().cpuif[v].grp1);
        }
        if (machine_mode_) restore_machine_gic_state(kvm);
        transit().sgis_restored = true;
    }
    /// kvm_arm_its_post_load's register writes, in arm.vmm_its_regs's order.
    void restore_its_regs() {
        const Stream& st = transit();
        const vmm::ItsRegs regs{st.its_cbaser, st.its_creadr, st.its_cwriter, st.its_baser0, st.its_baser1};
        destination().kvm().restore_its_registers(vmm::its_register_writes(regs, its_regs_order_));
    }
    void restore_its_tables() {
        if (int rc = destination().kvm().its_restore_tables(); rc != kvm::kOk)
            log_.emit(tp::kQemuItsRestoreTablesError, "RESTORE_TABLES failed: the migration fails", rc);
    }
    void enable_its() { destination().kvm().its_write(GITS_CTLR, transit().its_ctlr & GitsCtlr::Enabled.kMask); }
    /// The first start step starts the VM: arm.transfer=vm_start transfers there, before anything runs.
    void vm_start() {
        if (transit().started) return;
        transit().started = true;
        destination().kvm().vm_start_transfer();
    }
    void start_vcpus() {
        vm_start();
        Machine& h = destination();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
            h.vgic.cpus[v].run = kvm::VcpuRun::Runnable;
            h.kvm().vcpu_load(v);
        }
    }
    void start_devices() {
        vm_start();
        MigrationDriver::start_devices();
    }

    GicConfig config_;
    kvm::TransferPoint transfer_;
    kvm::SaveSide save_;
    vmm::ItsSaveError its_save_error_;
    vmm::GicrSave gicr_save_;
    IrqfdDeassign irqfd_deassign_;
    vmm::ItsRegsOrder its_regs_order_;
    kvm::VsgiIspendr vsgi_ispendr_;
    bool guest_nassgireq_;
    bool machine_mode_ = false;         // docs/machine.md "Migration"
    uint32_t nr_spis_ = 0;              // machine mode's SPIs (scenarios have none)
    std::vector<uint32_t> device_ids_;  // machine mode: the assigned devices' guest DeviceIDs
};

}  // namespace

BackendInfo arm_backend_info() {
    auto plan = ArmBackend::make_plan(ArmBackend::plan_table());
    return BackendInfo{"arm",
                       "Linux KVM + QEMU on a GICv4.1 (or 4.0) host, passthrough MSIs forwarded as vLPIs",
                       true,
                       plan,
                       [](const BackendContext& ctx) { return std::make_unique<ArmBackend>(ctx); },
                       {{DeviceKind::Timer, std::nullopt,
                         "timer is the x86 local-APIC timer; the arm backend models no timer (give the scenario "
                         "'arch: x86')"},
                        // The ARM Unicorn program (guest_aarch64.S) has no code that writes
                        // ICC_SGI1R_EL1, as the x86 one has none that writes the ICR.
                        {DeviceKind::Ipi, std::nullopt,
                         "the ARM Unicorn guest program sends no SGIs (it has no ICC_SGI1R_EL1-writing code): run "
                         "this scenario with the abstract guest",
                         GuestKind::Unicorn}},
                       arm_policies(),
                       tp::trace_points()};
}

}  // namespace irqdiff::arm

namespace irqdiff::arm {
namespace {

/// LiveMigration over an ArmBackend whose scenario describes the machine: its vCPUs, its
/// assigned devices (passthrough MSI devices) and one live migration.
class LiveMigrationImpl final : public LiveMigration {
   public:
    LiveMigrationImpl(const Options& o, const PolicyValues& policy, EventLog& log, std::unique_ptr<Machine> source)
        : scenario_(make_scenario(o)), policy_(policy) {
        std::vector<uint32_t> ids;
        for (const auto& [devid, events] : o.devices) {
            ids.push_back(devid);
            events_.push_back(events);
        }
        backend_ = std::make_unique<ArmBackend>(BackendContext{scenario_, policy_, log, guest_log_}, std::move(source),
                                                std::move(ids), o.nr_spis);
        plan_ = ArmBackend::make_plan(ArmBackend::plan_table());
    }
    const MigrationPlan& plan() const override { return *plan_; }
    void save_step(uint16_t step) override { backend_->run_step(Side::Save, step); }
    void write_stream(ByteWriter& out) override {
        backend_->write_stream(out);
        backend_->drop_source();
    }
    void incoming(ByteReader& in, const std::function<void(Machine&)>& prepare) override {
        backend_->incoming(in, prepare, events_);
    }
    void restore_step(uint16_t step) override { backend_->run_step(Side::Restore, step); }
    Machine& active() override { return backend_->active_machine(); }
    std::unique_ptr<Machine> release_destination() override { return backend_->release_destination(); }
    bool vm_gone() const override { return backend_->vm_gone(); }

   private:
    static Scenario make_scenario(const Options& o) {
        Scenario s;
        s.file = "<machine>";
        s.name = "machine";
        s.arches = {"arm"};
        s.vcpus = o.vcpus;
        for (const auto& [devid, events] : o.devices) {
            Device d;
            d.name = fmt::format("vfio{:#x}", devid);
            d.kind = DeviceKind::Msi;
            d.vectors = events;
            d.passthrough = true;
            s.devices.push_back(d);
        }
        Step m;
        m.kind = StepKind::Migrate;
        s.steps.push_back(m);
        return s;
    }

    Scenario scenario_;
    PolicyValues policy_;
    GuestLog guest_log_;
    std::vector<uint32_t> events_;
    std::unique_ptr<ArmBackend> backend_;
    std::shared_ptr<const MigrationPlan> plan_;
};

}  // namespace

std::unique_ptr<LiveMigration> make_live_migration(const LiveMigration::Options& options, const PolicyValues& policy,
                                                   EventLog& log, std::unique_ptr<Machine> source) {
    return std::make_unique<LiveMigrationImpl>(options, policy, log, std::move(source));
}

}  // namespace irqdiff::arm
