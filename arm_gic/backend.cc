#include "arm_gic/backend.h"

#include <fmt/format.h>

#include <deque>
#include <memory>
#include <optional>

#include "arm_gic/guest/guest.h"
#include "arm_gic/guest/unicorn_guest.h"
#include "arm_gic/host.h"
#include "core/deep_ptr.h"

namespace irqdiff::arm {

namespace {

// ---- the migration plan ----------------------------------------------------------------------

std::shared_ptr<const MigrationPlan> make_arm_plan() {
    using S = Side;
    std::vector<MigrationStep> save = {
        {"stop_vcpus", S::Save, "stop_vcpus", "pause_all_vcpus: every vCPU is put (its vPE non-resident)"},
        {"stop_devices", S::Save, "stop_devices",
         "VFIO devices to STOP before the GIC handlers run (vfio_vmstate_change; QEMU 8ce1ff990eff)"},
        {"save_its_tables", S::Save, "save_irqchip",
         "KVM_DEV_ARM_ITS_SAVE_TABLES (kvm_arm_its vm_change_state_handler; errors only reported)"},
        {"save_pending_tables", S::Save, "save_irqchip",
         "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES (vgic_v3_save_pending_tables; 4.1 reads the VPT with the vPEs "
         "unmapped)"},
        {"save_gic_state", S::Save, "save_irqchip",
         "pre_save: GICR, GITS and CPU interface registers into the stream (kvm_arm_gicv3_get, kvm_arm_its_pre_save)"},
        {"copy_memory", S::Save, "copy_memory", "the final RAM pass, with the pending and ITS tables just written"},
    };
    std::vector<MigrationStep> restore = {
        {"restore_gicr_pendbaser", S::Restore, "restore_irqchip",
         "GICR_PROPBASER and GICR_PENDBASER of every vCPU (kvm_arm_gicv3_put)"},
        {"restore_gicr_ctlr", S::Restore, "restore_irqchip",
         "GICR_CTLR.EnableLPIs -> vgic_enable_lpis (pending table -> pending_latch, no clear); CPU interface"},
        {"restore_its_regs", S::Restore, "restore_translation",
         "GITS_IIDR, CBASER, CREADR, CWRITER, BASER<n> (kvm_arm_its_post_load)"},
        {"restore_its_tables", S::Restore, "restore_translation",
         "KVM_DEV_ARM_ITS_RESTORE_TABLES: each ITE -> vgic_add_lpi, pending_latch from the table, bit cleared"},
        {"enable_its", S::Restore, "restore_translation", "GITS_CTLR (kvm_arm_its_post_load, last)"},
        {"vfio_load_config", S::Restore, "restore_devices", "VFIO PCI config and MSI-X table (vfio_pci_load_config)"},
        {"msix_enable", S::Restore, "restore_devices",
         "vfio_msix_enable: KVM MSI routes, irqfds, VFIO_DEVICE_SET_IRQS (host IRQs)"},
        {"irq_bypass_connect", S::Restore, "restore_devices",
         "irq bypass producer meets consumer: kvm_vgic_v4_set_forwarding per vector"},
        {"start_vcpus", S::Restore, "start_vcpus", "resume_all_vcpus: vCPUs loaded, vPEs resident"},
        {"start_devices", S::Restore, "start_devices", "VFIO devices to RUNNING (vfio_vmstate_change)"},
    };
    std::vector<Dependency> deps = {
        {"restore_gicr_pendbaser", "restore_gicr_ctlr",
         "PROPBASER/PENDBASER writes are ignored once EnableLPIs is set (vgic_mmio_write_pendbase)"},
        {"restore_gicr_ctlr", "restore_its_regs",
         "arm-vgic-its.rst ITS Restore Sequence: all redistributors before the ITS"},
        {"restore_its_regs", "restore_its_tables",
         "arm-vgic-its.rst: GITS_CBASER and the other GITS_* registers before RESTORE_TABLES"},
        {"restore_its_tables", "enable_its", "arm-vgic-its.rst: GITS_CTLR last"},
        {"enable_its", "msix_enable", "VFIO_DEVICE_SET_IRQS depends on the VM's interrupt set-up (QEMU d329f5032e17)"},
        {"vfio_load_config", "msix_enable", "the MSI-X table comes with the device config (vfio_pci_load_config)"},
        {"msix_enable", "irq_bypass_connect", "the bypass producer exists once SET_IRQS has set the eventfd"},
        {"enable_its", "start_vcpus", "arm-vgic-its.rst: then vcpus can be started"},
        {"vfio_load_config", "start_devices", "a device runs once its state is loaded (vfio_load_state)"},
    };
    return std::make_shared<const MigrationPlan>(
        std::move(save), std::move(restore), std::move(deps),
        std::vector<std::pair<std::string, std::vector<std::string>>>{
            {"qemu",
             {"restore_gicr_pendbaser", "restore_gicr_ctlr", "restore_its_regs", "restore_its_tables", "enable_its",
              "vfio_load_config", "msix_enable", "irq_bypass_connect", "start_vcpus", "start_devices"}},
            // An order in which the devices run before the bypass connects: their MSIs take the
            // irqfd path first.
            {"devices_before_bypass",
             {"restore_gicr_pendbaser", "restore_gicr_ctlr", "restore_its_regs", "restore_its_tables", "enable_its",
              "vfio_load_config", "msix_enable", "start_vcpus", "start_devices", "irq_bypass_connect"}},
        });
}

/// What the source writes into the migration stream besides RAM.
struct Stream {
    struct Gicr {
        uint64_t propbaser = 0, pendbaser = 0, ctlr = 0;
    };
    struct CpuIf {
        uint8_t pmr = 0;
        bool grp0 = false, grp1 = false;
    };
    struct Device {
        bool msix_programmed = false;
        std::vector<bool> held;
    };
    std::vector<Gicr> gicr;
    std::vector<CpuIf> cpuif;
    uint64_t its_ctlr = 0, its_cbaser = 0, its_creadr = 0, its_cwriter = 0, its_baser0 = 0, its_baser1 = 0;
    std::vector<Device> devices;
    bool written = false;
};

class ArmBackend final : public Backend {
   public:
    ArmBackend(const BackendContext& ctx, std::shared_ptr<const MigrationPlan> plan)
        : scenario_(ctx.scenario),
          log_(ctx.log),
          guest_log_(ctx.guest),
          plan_(std::move(plan)),
          config_(GicConfig::from_policy(ctx.policy)),
          transfer_(kvm::transfer_point(ctx.policy)),
          vector_enable_(vmm::kVectorEnablePolicy.read(ctx.policy)) {
        config_.redistributor_count = scenario_.vcpus;  // vCPU v runs on pCPU v
        for (size_t d = 0; d < scenario_.devices.size(); ++d)
            if (scenario_.devices[d].kind == DeviceKind::Timer)
                throw InputError(scenario_.devices[d].kind_loc,
                                 fmt::format("devices[{}].kind: timer is the x86 local-APIC timer; the arm backend "
                                             "models no timer (give the scenario 'arch: x86')",
                                             d));
        if (ctx.guest_options.kind == GuestKind::Unicorn)
            unicorn_ = std::make_unique<UnicornGuest>(scenario_.vcpus, ctx.guest_options, log_);
        boot();
    }

    std::string_view arch() const override { return "arm"; }

    void apply(const Action& a) override {
        switch (a.kind) {
            case StepKind::Run:
                for (uint32_t v = 0; v < scenario_.vcpus; ++v)
                    if (a.vcpu < 0 || static_cast<uint32_t>(a.vcpu) == v) run_vcpu(v);
                break;
            case StepKind::Mask:
            case StepKind::Unmask:
                if (unicorn_) {
                    // The guest's own code sets PSTATE.I from its mailbox; the model reads it back.
                    const auto v = static_cast<uint32_t>(a.vcpu);
                    unicorn_->set_mask(v, a.kind == StepKind::Mask, active().gic.cpu(v));
                    s_.guest.masked.at(v) = unicorn_->masked(v);
                } else {
                    s_.guest.masked.at(a.vcpu) = a.kind == StepKind::Mask;
                }
                log_.op(Layer::Guest, a.kind == StepKind::Mask ? "GUEST.mask" : "GUEST.unmask", {{"vcpu", a.vcpu}});
                break;
            case StepKind::Block:
                log_.op(Layer::Guest, "GUEST.wfi", {{"vcpu", a.vcpu}});
                active().kvm().vcpu_block(static_cast<uint32_t>(a.vcpu));
                break;
            case StepKind::Preempt:
                log_.op(Layer::Hypervisor, "HOST.preempt", {{"vcpu", a.vcpu}});
                active().kvm().vcpu_put(static_cast<uint32_t>(a.vcpu), false);
                break;
            case StepKind::Fire: {
                const Source& src = scenario_.sources[a.source];
                active().vmm().fire(src.device, src.vector);
                break;
            }
            case StepKind::Retarget: guest().retarget(a.source, static_cast<uint32_t>(a.vcpu)); break;
            case StepKind::Unassign: {
                const Source& src = scenario_.sources[a.source];
                active().vmm().irqfd_deassign(src.device, src.vector);
                break;
            }
            case StepKind::ToggleLpis: guest().toggle_lpis(static_cast<uint32_t>(a.vcpu)); break;
            case StepKind::Migrate: migrate(a); break;
        }
        drain_host_irqs();
        retire_source();
    }

    void where(SourceId source, std::vector<Location>& out) const override {
        const GuestLpi& lpi = s_.guest.lpis.at(source);
        if (!lpi.routed) return;
        const Host& h = *(s_.on_dst ? s_.dst : s_.src);
        const Source& src = scenario_.sources[source];
        const std::string& dev = scenario_.devices[src.device].name;
        // In the device: the live machine's device, or the migration stream until it is loaded.
        const std::vector<bool>* saved =
            s_.on_dst && !s_.device_loaded ? &s_.stream.devices.at(src.device).held : nullptr;
        if (h.qemu.devices.at(src.device).holds(src.vector, saved))
            out.push_back({fmt::format("arm.device[{}]", dev), false});
        h.gic.where_vlpi(lpi.vcpu, lpi.intid, out);
        auto it = h.vgic.lpis.find(lpi.intid);
        if (it != h.vgic.lpis.end() && it->second.pending_latch) {
            const kvm::VgicIrq& irq = it->second;
            // Live when KVM's software path will inject it: not forwarded (a forwarded LPI's
            // pending_latch has no legal way out: an LR with HW=1 for a vLPI names pINTID 0),
            // enabled, and with a target vCPU that has LPIs enabled.
            bool live = !irq.hw && irq.enabled && irq.target_vcpu != kvm::kNoVcpu &&
                        h.vgic.cpus.at(irq.target_vcpu).enable_lpis;
            out.push_back({fmt::format("arm.pending_latch[vcpu{}]", irq.target_vcpu), live});
        }
        uint64_t byte = GuestLayout::pending_table(lpi.vcpu) + lpi.intid / 8;
        if ((h.mem.guest.read8(byte).value >> (lpi.intid % 8)) & 1)
            out.push_back({fmt::format("arm.guest_pending_table[vcpu{}]", lpi.vcpu), false});
    }

    std::string identity(SourceId source) const override {
        const GuestLpi& lpi = s_.guest.lpis.at(source);
        if (!lpi.routed) return "not routed";
        return fmt::format("DeviceID {:#x} EventID {} -> LPI {} (vcpu{}, vPE {})", lpi.devid, lpi.event, lpi.intid,
                           lpi.vcpu, lpi.vcpu);
    }

    std::unique_ptr<BackendSnapshot> snapshot() const override {
        auto snap = std::make_unique<Snapshot>(s_);
        if (unicorn_) snap->unicorn = unicorn_->snapshot();
        return snap;
    }
    void restore(const BackendSnapshot& snap) override {
        const auto* s = dynamic_cast<const Snapshot*>(&snap);
        if (!s) throw std::logic_error("ArmBackend::restore: snapshot of another backend");
        if (unicorn_) {
            if (!s->unicorn) throw std::logic_error("ArmBackend::restore: a snapshot without the Unicorn guest");
            unicorn_->restore(*s->unicorn);
        }
        s_ = s->state;
    }

    BackendCounters counters() const override {
        BackendCounters c = s_.retired;
        for (const Host* h : {s_.src.get(), s_.dst.get()})
            if (h) add_counters(c, *h);
        return c;
    }

   private:
    struct HostIrqEvent {
        bool on_dst;
        unsigned rd;
        uint32_t intid;
    };
    struct State {
        DeepPtr<Host> src, dst;  // copied with the state (snapshots)
        bool on_dst = false;
        bool device_loaded = false;  // vfio_load_config ran on the destination
        bool started = false;        // a start step ran on the destination
        GuestState guest;
        Stream stream;
        std::deque<HostIrqEvent> irqs;
        BackendCounters retired;  // of source machines earlier migrations left behind
    };
    struct Snapshot final : BackendSnapshot {
        explicit Snapshot(const State& s) : state(s) {}
        State state;
        std::optional<GuestMachine::Snapshot> unicorn;  // the Unicorn guest's RAM and vCPU registers
    };

    Host& active() { return *(s_.on_dst ? s_.dst : s_.src); }

    static void add_counters(BackendCounters& c, const Host& h) {
        for (unsigned i = 0; i < h.gic.its_count(); ++i) c.hw_commands += h.gic.its(i).commands_executed();
        c.host += h.mem.host.stats();
        c.guest += h.mem.guest.stats();
    }
    Guest guest() {
        Host& h = active();
        return Guest(s_.guest, h.kvm(), h.gic, h.mem.guest, log_);
    }

    /// The host IRQs of machine `h` (the source's or the destination's) queue for service().
    void route_host_irqs(Host& h, bool destination) {
        h.gic.set_host_irq_handler([this, destination](unsigned rd, uint32_t intid) {
            s_.irqs.push_back(HostIrqEvent{destination, rd, intid});
        });
    }

    /// Once the VM runs on the destination nothing reaches the source machine again: it is
    /// dropped (its counters kept), so snapshots copy one machine, not two.
    void retire_source() {
        if (!s_.on_dst || !s_.src) return;
        add_counters(s_.retired, *s_.src);
        s_.src = {};
    }

    /// A later migration starts where the VM runs now: the destination becomes the source, and
    /// the stream and the restore's progress start afresh.
    void next_migration() {
        if (!s_.irqs.empty()) throw std::logic_error("ArmBackend: host IRQs left unserviced between actions");
        retire_source();
        s_.src = std::move(s_.dst);
        route_host_irqs(*s_.src, false);
        s_.on_dst = false;
        s_.device_loaded = false;
        s_.started = false;
        s_.stream = Stream{};
        log_.op(Layer::Vmm, "QEMU.next_migration");
    }

    std::unique_ptr<Host> make_host(bool destination) {
        auto h = std::make_unique<Host>(config_, log_, transfer_);
        log_.op(Layer::Vmm, destination ? "QEMU.incoming" : "QEMU.boot",
                {{"gic", to_string(config_.version)}, {"vcpus", scenario_.vcpus}, {"transfer", to_string(transfer_)}});
        route_host_irqs(*h, destination);
        h->its.init(h->gic);
        h->kvm().init(scenario_.vcpus);
        for (uint32_t d = 0; d < scenario_.devices.size(); ++d) {
            const Device& dev = scenario_.devices[d];
            PciDevice state(dev.name, dev.passthrough, dev.vectors);
            state.guest_id = GuestLayout::device_id(d);
            if (dev.passthrough) state.host_id = h->its.add_device(h->gic, dev.vectors);
            // A device on an incoming VM is RESUMING (vfio_load_setup) until the VM starts.
            state.state = destination ? DeviceRunState::Resuming : DeviceRunState::Running;
            h->qemu.devices.push_back(std::move(state));
        }
        return h;
    }

    void boot() {
        s_.src = make_host(false);
        Host& h = *s_.src;
        guest().boot(scenario_, /*open_cpu_interfaces=*/!unicorn_);
        if (unicorn_)
            for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
                unicorn_->boot(v, h.gic.cpu(v));  // the program opens its CPU interface with MSR
                s_.guest.masked.at(v) = unicorn_->masked(v);
            }
        for (uint32_t d = 0; d < scenario_.devices.size(); ++d) {
            h.qemu.devices[d].msix_programmed = true;  // the guest's driver enables MSI-X
            h.vmm().msix_enable(d);
            h.vmm().connect_bypass(d, vector_enable_);
        }
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) h.kvm().vcpu_load(v);
        drain_host_irqs();
    }

    /// The host CPUs take their pending physical LPIs: a vPE doorbell goes to
    /// vgic_v4_doorbell_handler, a VFIO vector's LPI to vfio_msihandler. Interrupts raised by a
    /// handler are taken after it returns, as a CPU takes them.
    void drain_host_irqs() {
        for (unsigned guard = 0; !s_.irqs.empty(); ++guard) {
            if (guard > 100000) throw std::logic_error("ArmBackend: host interrupts never settle");
            HostIrqEvent e = s_.irqs.front();
            s_.irqs.pop_front();
            Host& h = *(e.on_dst ? s_.dst : s_.src);
            uint32_t intid = h.gic.rd(e.rd).acknowledge_lpi();
            if (intid == kSpuriousIntid) continue;
            if (int vpe = h.its.vpe_of_doorbell(intid); vpe >= 0)
                h.kvm().doorbell(static_cast<uint32_t>(vpe));
            else if (int irq = h.its.irq_of_lpi(intid); irq >= 0)
                h.vmm().host_irq(irq);
            else
                log_.guest_error(Layer::Hypervisor, "HOST.spurious_lpi", "a host LPI no driver requested",
                                 {{"rd", e.rd}, {"intid", intid}});
        }
    }

    void run_vcpu(uint32_t v) {
        Host& h = active();
        kvm::VgicCpu& c = h.vgic.cpus.at(v);
        if (c.run == kvm::VcpuRun::Stopped) throw std::logic_error("ArmBackend: run while the VMM holds the vCPUs");
        if (c.run == kvm::VcpuRun::Blocked) {
            log_.op(Layer::Guest, "GUEST.still_waiting", {{"vcpu", v}});
            return;
        }
        kvm::Kvm kvm = h.kvm();
        kvm.vcpu_load(v);
        const bool masked = unicorn_ ? unicorn_->masked(v) : static_cast<bool>(s_.guest.masked[v]);
        log_.op(Layer::Guest, "GUEST.run", {{"vcpu", v}, {"masked", masked}});
        for (unsigned round = 0; round < 64; ++round) {
            kvm.vcpu_enter(v);
            unsigned taken = unicorn_ ? unicorn_->take_interrupts(v, h.gic.cpu(v), s_.guest, scenario_, guest_log_)
                                      : guest().take_interrupts(v, scenario_, guest_log_);
            kvm.vcpu_exit(v);
            drain_host_irqs();
            if (!taken) return;
        }
        throw std::logic_error("ArmBackend: a vCPU kept taking interrupts");
    }

    void migrate(const Action& a) {
        const bool save = a.side == Side::Save;
        const std::string& n = (save ? plan_->save_steps() : plan_->restore_steps())[a.step].name;
        if (save && s_.on_dst) next_migration();
        log_.op(Layer::Vmm, "QEMU." + n);
        if (save) {
            Host& h = *s_.src;
            kvm::Kvm kvm = h.kvm();
            if (n == "stop_vcpus") {
                for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
                    kvm.vcpu_put(v, false);
                    h.vgic.cpus[v].run = kvm::VcpuRun::Stopped;
                }
            } else if (n == "stop_devices") {
                for (uint32_t d = 0; d < h.qemu.devices.size(); ++d) h.vmm().set_state(d, DeviceRunState::Stopped);
            } else if (n == "save_its_tables") {
                if (int rc = kvm.its_save_tables(); rc != kvm::kOk)
                    log_.op(Layer::Vmm, "QEMU.its_save_failed", {{"rc", rc}, {"fatal", false}});
            } else if (n == "save_pending_tables") {
                if (int rc = kvm.save_pending_tables(); rc != kvm::kOk)
                    log_.guest_error(
                        Layer::Vmm, "QEMU.save_pending_tables",
                        "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES failed: QEMU aborts (vm_change_state_handler)",
                        {{"rc", rc}});
            } else if (n == "save_gic_state") {
                save_gic_state(h);
            } else if (n == "copy_memory") {
                if (!s_.stream.written) save_gic_state(h);
                s_.dst = make_host(true);
                s_.dst->mem.guest = h.mem.guest;
                s_.dst->mem.guest.reset_stats();  // the copy is transport; the source counted the writes
                s_.on_dst = true;
                log_.op(Layer::Vmm, "QEMU.switch_over", {{"guest_pages", h.mem.guest.pages_allocated()}});
            }
            return;
        }
        Host& h = *s_.dst;
        kvm::Kvm kvm = h.kvm();
        if (n == "restore_gicr_pendbaser") {
            for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
                kvm.gicr_write(v, GICR_PROPBASER, s_.stream.gicr[v].propbaser);
                kvm.gicr_write(v, GICR_PENDBASER, s_.stream.gicr[v].pendbaser);
            }
        } else if (n == "restore_gicr_ctlr") {
            for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
                kvm.gicr_write(v, GICR_CTLR, s_.stream.gicr[v].ctlr);
                CpuInterface& cpu = h.gic.cpu(v);
                cpu.write_pmr(s_.stream.cpuif[v].pmr);
                cpu.write_igrpen0(s_.stream.cpuif[v].grp0);
                cpu.write_igrpen1(s_.stream.cpuif[v].grp1);
            }
        } else if (n == "restore_its_regs") {
            kvm.restore_its_registers(s_.stream.its_cbaser, s_.stream.its_creadr, s_.stream.its_cwriter,
                                      s_.stream.its_baser0, s_.stream.its_baser1);
        } else if (n == "restore_its_tables") {
            if (int rc = kvm.its_restore_tables(); rc != kvm::kOk)
                log_.guest_error(Layer::Vmm, "QEMU.its_restore_tables", "RESTORE_TABLES failed: the migration fails",
                                 {{"rc", rc}});
        } else if (n == "enable_its") {
            kvm.its_write(GITS_CTLR, s_.stream.its_ctlr & GitsCtlr::Enabled.kMask);
        } else if (n == "vfio_load_config") {
            for (uint32_t d = 0; d < h.qemu.devices.size(); ++d) {
                h.qemu.devices[d].msix_programmed = s_.stream.devices[d].msix_programmed;
                h.qemu.devices[d].load_held(s_.stream.devices[d].held);
            }
            s_.device_loaded = true;
        } else if (n == "msix_enable") {
            for (uint32_t d = 0; d < h.qemu.devices.size(); ++d) h.vmm().msix_enable(d);
        } else if (n == "irq_bypass_connect") {
            for (uint32_t d = 0; d < h.qemu.devices.size(); ++d) h.vmm().connect_bypass(d, vector_enable_);
        } else if (n == "start_vcpus" || n == "start_devices") {
            if (!s_.started) {
                s_.started = true;
                kvm.vm_start_transfer();  // arm.transfer=vm_start: at VM start, before anything runs
            }
            if (n == "start_vcpus") {
                for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
                    h.vgic.cpus[v].run = kvm::VcpuRun::Runnable;
                    kvm.vcpu_load(v);
                }
            } else {
                for (uint32_t d = 0; d < h.qemu.devices.size(); ++d) h.vmm().set_state(d, DeviceRunState::Running);
            }
        }
    }

    /// QEMU's pre_save hooks: the registers the GIC and ITS vmstate carry (PTZ reads 0).
    void save_gic_state(Host& h) {
        kvm::Kvm kvm = h.kvm();
        Stream& st = s_.stream;
        st.gicr.clear();
        st.cpuif.clear();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
            st.gicr.push_back(
                {kvm.gicr_read(v, GICR_PROPBASER), kvm.gicr_read(v, GICR_PENDBASER), kvm.gicr_read(v, GICR_CTLR)});
            const CpuInterface& cpu = h.gic.cpu(v);
            st.cpuif.push_back({cpu.read_pmr(), cpu.read_igrpen0(), cpu.read_igrpen1()});
        }
        st.its_ctlr = kvm.its_read(GITS_CTLR);
        st.its_cbaser = kvm.its_read(GITS_CBASER);
        st.its_creadr = kvm.its_read(GITS_CREADR);
        st.its_cwriter = kvm.its_read(GITS_CWRITER);
        st.its_baser0 = kvm.its_read(gits_baser(0));
        st.its_baser1 = kvm.its_read(gits_baser(1));
        st.devices.clear();
        for (const PciDevice& d : h.qemu.devices) st.devices.push_back({d.msix_programmed, d.held});
        st.written = true;
    }

    const Scenario& scenario_;
    EventLog& log_;
    GuestLog& guest_log_;
    std::shared_ptr<const MigrationPlan> plan_;
    GicConfig config_;
    kvm::TransferPoint transfer_;
    vmm::VectorEnable vector_enable_;
    std::unique_ptr<UnicornGuest> unicorn_;  // guest: unicorn (outside State: snapshots copy its machine)
    State s_;
};

}  // namespace

BackendInfo arm_backend_info() {
    auto plan = make_arm_plan();
    return BackendInfo{"arm", "Linux KVM + QEMU on a GICv4.1 (or 4.0) host, passthrough MSIs forwarded as vLPIs", true,
                       plan, [plan](const BackendContext& ctx) { return std::make_unique<ArmBackend>(ctx, plan); }};
}

}  // namespace irqdiff::arm
