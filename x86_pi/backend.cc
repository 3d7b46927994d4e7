#include "x86_pi/backend.h"

#include <fmt/format.h>

#include <memory>
#include <optional>

#include "core/deep_ptr.h"
#include "x86_pi/guest/guest.h"
#include "x86_pi/guest/unicorn_guest.h"
#include "x86_pi/host.h"

namespace irqdiff::x86 {

namespace {

// ---- the migration plan ----------------------------------------------------------------------

std::shared_ptr<const MigrationPlan> make_x86_plan() {
    using S = Side;
    std::vector<MigrationStep> save = {
        {"stop_vcpus", S::Save, "stop_vcpus",
         "pause_all_vcpus: every vCPU leaves KVM_RUN and is put (vmx_vcpu_pi_put: PID.SN=1)"},
        {"stop_devices", S::Save, "stop_devices",
         "VFIO devices to STOP (vfio_vmstate_change): a stopped device posts nothing"},
        {"get_lapic", S::Save, "save_irqchip",
         "cpu_synchronize_all_states: KVM_GET_REGS, KVM_GET_VCPU_EVENTS and KVM_GET_LAPIC per vCPU "
         "(kvm_get_apic): vcpu_load re-sets ON for a non-empty PIR, vmx_sync_pir_to_irr folds PIR into vIRR, the "
         "register page is copied"},
        {"copy_memory", S::Save, "copy_memory", "the final RAM pass with the device state, and the switch-over"},
    };
    std::vector<MigrationStep> restore = {
        {"set_lapic", S::Restore, "restore_irqchip",
         "MSR_IA32_APICBASE then KVM_SET_LAPIC per vCPU (apic post_load -> kvm_apic_put): PIR/ON dropped "
         "(x86.set_lapic_clears_pir), registers, APIC map, PPR, timer restart, SVI"},
        {"vfio_load_config", S::Restore, "restore_devices", "VFIO PCI config and MSI-X table (vfio_pci_load_config)"},
        {"msix_enable", S::Restore, "restore_translation",
         "vfio_msix_enable: KVM MSI routes (KVM_SET_GSI_ROUTING), irqfds, VFIO_DEVICE_SET_IRQS (host IRQs, "
         "remapped IRTEs)"},
        {"irq_bypass_connect", S::Restore, "restore_devices",
         "irq bypass producer meets consumer: kvm_pi_update_irte per vector, posted iff the APIC map resolves "
         "the route to one vCPU"},
        {"start_vcpus", S::Restore, "start_vcpus",
         "cpu_synchronize_all_post_init (KVM_SET_REGS, KVM_SET_VCPU_EVENTS), then resume_all_vcpus: vCPUs loaded "
         "(vmx_vcpu_pi_load) and entered"},
        {"start_devices", S::Restore, "start_devices", "VFIO devices to RUNNING (vfio_vmstate_change)"},
    };
    std::vector<Dependency> deps = {
        {"vfio_load_config", "msix_enable", "the MSI-X table comes with the device config (vfio_pci_load_config)"},
        {"msix_enable", "irq_bypass_connect", "the bypass producer exists once SET_IRQS has set the eventfd"},
        {"set_lapic", "start_vcpus", "a vCPU runs once its state is loaded (vm_start after the incoming load)"},
        {"vfio_load_config", "start_devices", "a device runs once its state is loaded (vfio_load_state)"},
    };
    return std::make_shared<const MigrationPlan>(
        std::move(save), std::move(restore), std::move(deps),
        std::vector<std::pair<std::string, std::vector<std::string>>>{
            // MIG_PRI_APIC: the APIC section loads before PCI devices (QEMU 2025, "migration: ensure
            // APIC is loaded prior to VFIO PCI devices").
            {"qemu",
             {"set_lapic", "vfio_load_config", "msix_enable", "irq_bypass_connect", "start_vcpus", "start_devices"}},
            // QEMU before that fix: VFIO's config (and so irq bypass) loads first, while the APIC map
            // still has its reset values [reference §5.4].
            {"lapic_after_vfio",
             {"vfio_load_config", "msix_enable", "irq_bypass_connect", "set_lapic", "start_vcpus", "start_devices"}},
        });
}

/// What the source writes into the migration stream besides RAM.
struct Stream {
    struct Device {
        bool msix_programmed = false;
        std::vector<bool> held;
        std::vector<MsixEntry> msix;
    };
    std::vector<kvm::LapicImage> lapic;  // per vCPU, from KVM_GET_LAPIC
    std::vector<kvm::VcpuRegs> regs;     // per vCPU, from KVM_GET_REGS / KVM_GET_VCPU_EVENTS
    bool lapic_saved = false;
    std::vector<Device> devices;
};

class X86Backend final : public Backend {
   public:
    X86Backend(const BackendContext& ctx, std::shared_ptr<const MigrationPlan> plan)
        : scenario_(ctx.scenario),
          log_(ctx.log),
          guest_log_(ctx.guest),
          plan_(std::move(plan)),
          config_(kvm::KvmConfig::from_policy(ctx.policy)),
          logical_(kGuestApicDestPolicy.read(ctx.policy) == GuestApicDest::Logical) {
        for (size_t i = 0; i < scenario_.steps.size(); ++i)
            if (scenario_.steps[i].kind == StepKind::ToggleLpis)
                throw InputError(scenario_.steps[i].loc,
                                 fmt::format("steps[{}].toggle_lpis: an ARM step (GICR_CTLR.EnableLPIs): the x86 "
                                             "backend has no LPIs (give the scenario 'arch: arm')",
                                             i));
        if (ctx.guest_options.kind == GuestKind::Unicorn)
            unicorn_ = std::make_unique<UnicornGuest>(scenario_.vcpus, ctx.guest_options, log_);
        boot();
    }

    std::string_view arch() const override { return "x86"; }

    void apply(const Action& a) override {
        switch (a.kind) {
            case StepKind::Run:
                for (uint32_t v = 0; v < scenario_.vcpus; ++v)
                    if (a.vcpu < 0 || static_cast<uint32_t>(a.vcpu) == v) run_vcpu(v);
                break;
            case StepKind::Mask:
            case StepKind::Unmask:
                if (unicorn_)  // the program executes CLI or STI itself
                    unicorn_->set_mask(unicorn_host(), static_cast<uint32_t>(a.vcpu), a.kind == StepKind::Mask);
                else
                    active().hw.cpu(static_cast<unsigned>(a.vcpu)).guest_set_if(a.kind == StepKind::Unmask);
                log_.op(Layer::Guest, a.kind == StepKind::Mask ? "GUEST.cli" : "GUEST.sti", {{"vcpu", a.vcpu}});
                break;
            case StepKind::Block: block(static_cast<uint32_t>(a.vcpu)); break;
            case StepKind::Preempt: preempt(static_cast<uint32_t>(a.vcpu)); break;
            case StepKind::Fire: fire(a.source); break;
            case StepKind::Retarget: {
                const Source& src = scenario_.sources[a.source];
                MsixEntry entry = guest().retarget(a.source, static_cast<uint32_t>(a.vcpu));
                active().vmm().write_msix(src.device, src.vector, entry);
                break;
            }
            case StepKind::Unassign: {
                const Source& src = scenario_.sources[a.source];
                active().vmm().irqfd_deassign(src.device, src.vector);
                break;
            }
            case StepKind::ToggleLpis: throw std::logic_error("X86Backend: toggle_lpis reached the backend");
            case StepKind::Migrate: migrate(a); break;
        }
        service();
        retire_source();
    }

    void where(SourceId source, std::vector<Location>& out) const override {
        const GuestSource& g = s_.guest.sources.at(source);
        if (!g.routed) return;
        const Host& h = *(s_.on_dst ? s_.dst : s_.src);
        const Source& src = scenario_.sources[source];
        const Device& dev = scenario_.devices[src.device];
        if (dev.kind == DeviceKind::Msi) {
            const std::vector<bool>* saved =
                s_.on_dst && !s_.device_loaded ? &s_.stream.devices.at(src.device).held : nullptr;
            if (h.qemu.devices.at(src.device).holds(src.vector, saved))
                out.push_back({fmt::format("x86.device[{}]", dev.name), false});
        } else if (s_.deadline_passed.at(g.vcpu) && s_.stream.lapic_saved && !lapic_valid(g.vcpu) &&
                   s_.stream.lapic.at(g.vcpu).reg(apic::TMCCT) != 0) {
            // The deadline passed while the armed timer's state travelled: it fires when restored.
            out.push_back({fmt::format("x86.saved_timer[vcpu{}]", g.vcpu), false});
        }
        for (uint32_t c = 0; c < scenario_.vcpus; ++c) {
            for (unsigned vec = 0; vec < 256; ++vec) {
                if (s_.guest.owner[c][vec] != static_cast<int32_t>(source)) continue;
                const uint8_t v = static_cast<uint8_t>(vec);
                ConstApicPage page(h.mem.host, kvm::HostLayout::apic_page(c));
                const bool valid = lapic_valid(c);
                const bool in_irr = page.test(apic::IRR, v);
                if (config_.apicv) {
                    PiDesc d = read_pi_desc(h.mem.host, kvm::HostLayout::pid(c)).value;
                    if (d.pir.test(v)) {
                        // Live when something will harvest it: ON set, SN set (the next vmx_vcpu_pi_load
                        // re-sets ON), or the wakeup vector (its notification wakes the vCPU); not when
                        // KVM_SET_LAPIC is still to come (it drops PIR), nor when the same vector is
                        // already in vIRR (the harvest merges them: one interrupt).
                        bool live = valid && !in_irr && (d.on || d.sn || d.nv == kvm::kPostedIntrWakeupVector);
                        out.push_back({fmt::format("x86.pir[vcpu{}]", c), live});
                    }
                }
                if (in_irr) out.push_back({fmt::format("x86.virr[vcpu{}]", c), valid});
                // An interrupt KVM injected (IRR -> ISR, the VMCS event-injection field, or the
                // IDT-vectoring information an exit saved it in) is the guest's at the next entry:
                // live. While the state travels it is the injected event of KVM_GET_VCPU_EVENTS, until
                // start_vcpus sets it again. Its ISR bit is that injection's, not a second place.
                const Vmcs& vm = h.hw.cpu(c).vmcs();
                const bool injected = vm.entry_interruption == v || vm.idt_vectoring == v;
                const bool in_stream =
                    s_.stream.lapic_saved && !(s_.on_dst && s_.vcpus_started) && s_.stream.regs.at(c).injected == v;
                if (injected) out.push_back({fmt::format("x86.injected[vcpu{}]", c), valid});
                if (in_stream) out.push_back({fmt::format("x86.saved_regs[vcpu{}]", c), false});
                if (page.test(apic::ISR, v) && !injected && !in_stream)
                    out.push_back({fmt::format("x86.visr[vcpu{}]", c), false});
                if (s_.stream.lapic_saved && !lapic_valid_on_dst(c) && s_.stream.lapic.at(c).test(apic::IRR, v))
                    out.push_back({fmt::format("x86.saved_lapic[vcpu{}]", c), false});
            }
        }
    }

    std::string identity(SourceId source) const override {
        const GuestSource& g = s_.guest.sources.at(source);
        if (!g.routed) return "not routed";
        if (g.timer) return fmt::format("LVTT -> vector {:#04x} (vcpu{})", g.vector, g.vcpu);
        const Source& src = scenario_.sources[source];
        const Host& h = *(s_.on_dst ? s_.dst : s_.src);
        const PciDevice& d = h.qemu.devices.at(src.device);
        MsixEntry e = d.msix.at(src.vector);
        std::string path;
        if (!d.passthrough) {
            path = "KVM_SIGNAL_MSI";
        } else if (int irq = d.vectors.at(src.vector).host_irq; irq < 0) {
            path = "no host IRQ yet";
        } else {
            const kvm::HostIrq& hi = h.iommu_state.irqs.at(static_cast<size_t>(irq));
            path = hi.posted
                       ? fmt::format("IRTE {} posted", hi.index)
                       : fmt::format("IRTE {} remapped to host vector {:#04x} -> kvm_set_msi", hi.index, hi.vector);
        }
        return fmt::format("MSI {:#x}/{:#x} -> {} -> vector {:#04x} (vcpu{})", e.address, e.data, path, g.vector,
                           g.vcpu);
    }

    std::unique_ptr<BackendSnapshot> snapshot() const override {
        auto snap = std::make_unique<Snapshot>(s_);
        if (unicorn_) snap->guest = unicorn_->snapshot();
        return snap;
    }
    void restore(const BackendSnapshot& snap) override {
        const auto* s = dynamic_cast<const Snapshot*>(&snap);
        if (!s) throw std::logic_error("X86Backend::restore: snapshot of another backend");
        if (static_cast<bool>(unicorn_) != s->guest.has_value())
            throw std::logic_error("X86Backend::restore: snapshot taken with another guest");
        s_ = s->state;
        if (unicorn_) unicorn_->restore(*s->guest);
    }

    BackendCounters counters() const override {
        BackendCounters c = s_.retired;
        for (const Host* h : {s_.src.get(), s_.dst.get()})
            if (h) add_counters(c, *h);
        return c;
    }

   private:
    struct State {
        DeepPtr<Host> src, dst;  // copied with the state (snapshots)
        bool on_dst = false;
        bool device_loaded = false;         // vfio_load_config ran on the destination
        bool vcpus_started = false;         // start_vcpus ran on the destination (registers set)
        std::vector<bool> lapic_loaded;     // set_lapic ran for the vCPU on the destination
        std::vector<bool> deadline_passed;  // the timer's deadline passed after its state was saved
        GuestState guest;
        Stream stream;
        BackendCounters retired;  // of source machines earlier migrations left behind
    };
    struct Snapshot final : BackendSnapshot {
        explicit Snapshot(const State& s) : state(s) {}
        State state;
        std::optional<UnicornGuest::Snapshot> guest;  // the Unicorn guest's RAM and vCPU registers
    };

    Host& active() { return *(s_.on_dst ? s_.dst : s_.src); }
    kvm::Kvm kvm() { return active().kvm(); }
    Guest guest() {
        Host& h = active();
        return Guest(s_.guest, h.kvm(), h.hw, log_);
    }
    /// The machine the VM runs on now, for the Unicorn guest's glue.
    UnicornHost unicorn_host() {
        Host& h = active();
        return UnicornHost{h.hw, h.kvm(), guest(), [this] { service(); }};
    }
    /// The active machine's LAPIC of vCPU `c` holds the VM's state: always on the source, on the
    /// destination once KVM_SET_LAPIC loaded it.
    bool lapic_valid(uint32_t c) const { return !s_.on_dst || s_.lapic_loaded.at(c); }
    bool lapic_valid_on_dst(uint32_t c) const { return s_.on_dst && s_.lapic_loaded.at(c); }

    std::unique_ptr<Host> make_host(bool destination) {
        auto h = std::make_unique<Host>(scenario_.vcpus, log_);
        log_.op(
            Layer::Vmm, destination ? "QEMU.incoming" : "QEMU.boot",
            {{"vcpus", scenario_.vcpus},
             {"apicv", config_.apicv},
             {"set_lapic_clears_pir", config_.clear == kvm::SetLapicClear::BeforeLoad ? "before_load" : "after_load"}});
        h->iommu().init();
        h->kvm().init(scenario_.vcpus, config_);
        for (uint32_t d = 0; d < scenario_.devices.size(); ++d) {
            const Device& dev = scenario_.devices[d];
            // A timer is the vCPU's own LAPIC: its entry here is an empty placeholder.
            PciDevice state(dev.name, dev.passthrough, dev.kind == DeviceKind::Msi ? dev.vectors : 0);
            state.guest_id = 0x10 + 8 * d;  // bus 0, device 2 + d
            state.host_id = 0x100 + 8 * d;  // the host's bus 1
            // A device on an incoming VM is RESUMING (vfio_load_setup) until the VM starts.
            state.state = destination ? DeviceRunState::Resuming : DeviceRunState::Running;
            h->qemu.devices.push_back(std::move(state));
        }
        return h;
    }

    void boot() {
        s_.src = make_host(false);
        s_.lapic_loaded.assign(scenario_.vcpus, false);
        s_.deadline_passed.assign(scenario_.vcpus, false);
        Host& h = *s_.src;
        kvm::Kvm kvm = h.kvm();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) {  // KVM_RUN
            h.kvm_state.vcpus[v].run = kvm::VcpuRun::Runnable;
            kvm.vcpu_load(v);
            kvm.vcpu_enter(v);
        }
        service();
        if (unicorn_) {
            // The drivers' part stays the abstract guest's; each vCPU's program sets up its own
            // xAPIC and enables interrupts.
            guest().allocate_vectors(scenario_, logical_);
            unicorn_->boot(unicorn_host());
            guest().booted(scenario_.vcpus);
        } else {
            guest().boot(scenario_, logical_);
        }
        for (uint32_t d = 0; d < scenario_.devices.size(); ++d) {
            if (scenario_.devices[d].kind != DeviceKind::Msi) continue;
            vmm::Qemu qemu = h.vmm();
            for (SourceId id = 0; id < scenario_.sources.size(); ++id)
                if (scenario_.sources[id].device == d && s_.guest.sources[id].routed)
                    qemu.write_msix(d, scenario_.sources[id].vector, guest().msi(id));
            h.qemu.devices[d].msix_programmed = true;  // the guest's driver enables MSI-X
            qemu.msix_enable(d);
            qemu.connect_bypass(d);
        }
        service();
    }

    /// The host handles what its pCPUs have for it: a VM exit (KVM's handler, the host's for an
    /// external interrupt, then back into the guest), or an interrupt in root mode.
    void service() {
        Host& h = active();
        for (unsigned guard = 0;; ++guard) {
            if (guard > 100000) throw std::logic_error("X86Backend: host interrupts never settle");
            int c = h.hw.next_host_work();
            if (c < 0) return;
            const unsigned cpu = static_cast<unsigned>(c);
            Cpu& pcpu = h.hw.cpu(cpu);
            kvm::Kvm kvm = h.kvm();
            if (std::optional<VmExit> exit = pcpu.take_exit()) {
                kvm.handle_exit(cpu, *exit);
                if (exit->reason == ExitReason::ExternalInterrupt) {  // handle_external_interrupt_irqoff
                    std::optional<uint8_t> v = exit->acknowledged ? exit->vector : pcpu.acknowledge();
                    if (v) {
                        dispatch(cpu, *v);
                        pcpu.eoi();
                    }
                }
                kvm.resume(cpu);
            } else if (std::optional<uint8_t> v = pcpu.acknowledge()) {
                dispatch(cpu, *v);
                pcpu.eoi();
            }
        }
    }

    /// The host's handler for a vector on pCPU `cpu` [reference §3.2].
    void dispatch(unsigned cpu, uint8_t vector) {
        Host& h = active();
        if (vector == kvm::kPostedIntrVector) {
            // sysvec_kvm_posted_intr_ipi: EOI only; PIR and ON wait for the next entry's sync.
            log_.op(Layer::Hypervisor, "HOST.posted_intr_ipi", {{"cpu", cpu}});
        } else if (vector == kvm::kPostedIntrWakeupVector) {
            h.kvm().pi_wakeup_handler(cpu);
        } else if (vector == kvm::kRescheduleVector) {
            log_.op(Layer::Hypervisor, "HOST.reschedule_ipi", {{"cpu", cpu}});
        } else if (int irq = h.iommu().irq_of_vector(cpu, vector); irq >= 0) {
            h.vmm().host_irq(irq);
        } else {
            log_.guest_error(Layer::Hypervisor, "HOST.spurious_vector", "a host vector no handler is registered for",
                             {{"cpu", cpu}, {"vector", Hex{vector}}});
        }
    }

    /// The vCPU gets to run guest code: loaded and entered if it was put.
    bool enter(uint32_t v) {
        Host& h = active();
        kvm::Vcpu& c = h.kvm_state.vcpus.at(v);
        if (c.run == kvm::VcpuRun::Stopped) throw std::logic_error("X86Backend: run while the VMM holds the vCPUs");
        if (c.run == kvm::VcpuRun::Blocked) {
            log_.op(Layer::Guest, "GUEST.still_waiting", {{"vcpu", v}});
            return false;
        }
        if (c.run == kvm::VcpuRun::Runnable) {
            kvm::Kvm kvm = h.kvm();
            if (!c.loaded) kvm.vcpu_load(v);
            kvm.vcpu_enter(v);
        }
        service();
        return c.run == kvm::VcpuRun::InGuest;
    }

    void run_vcpu(uint32_t v) {
        if (!enter(v)) return;
        Host& h = active();
        log_.op(Layer::Guest, "GUEST.run", {{"vcpu", v}, {"if", h.hw.cpu(v).vmcs().guest_if}});
        for (unsigned round = 0; round < 64; ++round) {
            unsigned taken = unicorn_ ? unicorn_->take_interrupts(unicorn_host(), v, scenario_, guest_log_)
                                      : guest().take_interrupts(v, scenario_, guest_log_);
            bool exited = !h.hw.cpu(v).in_guest();
            service();
            if (!taken && !exited) return;
        }
        throw std::logic_error("X86Backend: a vCPU kept taking interrupts");
    }

    void block(uint32_t v) {
        if (!enter(v)) return;
        Host& h = active();
        log_.op(Layer::Guest, "GUEST.hlt", {{"vcpu", v}});
        Cpu& cpu = h.hw.cpu(v);
        cpu.guest_hlt();
        std::optional<VmExit> exit = cpu.take_exit();
        kvm::Kvm kvm = h.kvm();
        kvm.handle_exit(v, *exit);
        kvm.resume(v);
    }

    void preempt(uint32_t v) {
        Host& h = active();
        kvm::VcpuRun run = h.kvm_state.vcpus.at(v).run;
        log_.op(Layer::Hypervisor, "HOST.preempt", {{"vcpu", v}, {"state", kvm::to_string(run)}});
        if (run == kvm::VcpuRun::InGuest) h.kvm().leave_guest(v, true);
    }

    /// A device raises a vector, or a LAPIC timer's deadline passes.
    void fire(SourceId source) {
        const Source& src = scenario_.sources[source];
        if (scenario_.devices[src.device].kind == DeviceKind::Msi) {
            active().vmm().fire(src.device, src.vector);
            return;
        }
        const uint32_t v = s_.guest.sources.at(source).vcpu;
        log_.op(Layer::Hypervisor, "TIMER.deadline", {{"vcpu", v}});
        // The deadline is wall-clock time: a machine whose LAPIC timer is armed fires it; state that
        // is travelling will find the deadline passed when KVM_SET_LAPIC restarts the timer.
        if (s_.stream.lapic_saved && !lapic_valid_on_dst(v)) s_.deadline_passed[v] = true;
        if (lapic_valid(v) && active().kvm_state.vcpus[v].timer_armed) kvm().timer_expired(v);
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
                for (uint32_t v = 0; v < scenario_.vcpus; ++v) kvm.leave_guest(v, false);
            } else if (n == "stop_devices") {
                for (uint32_t d = 0; d < h.qemu.devices.size(); ++d)
                    if (scenario_.devices[d].kind == DeviceKind::Msi) h.vmm().set_state(d, DeviceRunState::Stopped);
            } else if (n == "get_lapic") {
                save_lapic(h);
            } else if (n == "copy_memory") {
                if (!s_.stream.lapic_saved) save_lapic(h);
                s_.stream.devices.clear();
                for (const PciDevice& d : h.qemu.devices)
                    s_.stream.devices.push_back({d.msix_programmed, d.held, d.msix});
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
        if (n == "set_lapic") {
            for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
                if (int rc = kvm.set_lapic(v, s_.stream.lapic.at(v), s_.deadline_passed[v]); rc != kvm::kOk)
                    log_.guest_error(Layer::Vmm, "QEMU.set_lapic", "KVM_SET_LAPIC failed: the migration fails",
                                     {{"vcpu", v}, {"rc", rc}});
                s_.lapic_loaded[v] = true;
                s_.deadline_passed[v] = false;
            }
        } else if (n == "vfio_load_config") {
            for (uint32_t d = 0; d < h.qemu.devices.size(); ++d) {
                h.qemu.devices[d].msix_programmed = s_.stream.devices[d].msix_programmed;
                h.qemu.devices[d].load_held(s_.stream.devices[d].held);
                h.qemu.devices[d].msix = s_.stream.devices[d].msix;
            }
            s_.device_loaded = true;
        } else if (n == "msix_enable") {
            for (uint32_t d = 0; d < h.qemu.devices.size(); ++d) h.vmm().msix_enable(d);
        } else if (n == "irq_bypass_connect") {
            for (uint32_t d = 0; d < h.qemu.devices.size(); ++d) h.vmm().connect_bypass(d);
        } else if (n == "start_vcpus") {
            for (uint32_t v = 0; v < scenario_.vcpus; ++v) kvm.set_regs(v, s_.stream.regs.at(v));
            s_.vcpus_started = true;
            for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
                h.kvm_state.vcpus[v].run = kvm::VcpuRun::Runnable;
                kvm.vcpu_load(v);
                kvm.vcpu_enter(v);
            }
        } else if (n == "start_devices") {
            for (uint32_t d = 0; d < h.qemu.devices.size(); ++d)
                if (scenario_.devices[d].kind == DeviceKind::Msi) h.vmm().set_state(d, DeviceRunState::Running);
        }
    }

    /// A later migration starts where the VM runs now: the destination becomes the source, and
    /// the stream and the restore's progress start afresh.
    static void add_counters(BackendCounters& c, const Host& h) {
        c.hw_commands += h.hw.iommu().invalidations();
        c.host += h.mem.host.stats();
        c.guest += h.mem.guest.stats();
    }

    /// Once the VM runs on the destination nothing reaches the source machine again: it is
    /// dropped (its counters kept), so snapshots copy one machine, not two.
    void retire_source() {
        if (!s_.on_dst || !s_.src) return;
        add_counters(s_.retired, *s_.src);
        s_.src = {};
    }

    void next_migration() {
        retire_source();
        s_.src = std::move(s_.dst);
        s_.on_dst = false;
        s_.device_loaded = false;
        s_.vcpus_started = false;
        s_.lapic_loaded.assign(scenario_.vcpus, false);
        s_.deadline_passed.assign(scenario_.vcpus, false);
        s_.stream = Stream{};
        log_.op(Layer::Vmm, "QEMU.next_migration");
    }

    void save_lapic(Host& h) {
        kvm::Kvm kvm = h.kvm();
        s_.stream.lapic.clear();
        s_.stream.regs.clear();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
            s_.stream.regs.push_back(kvm.get_regs(v));
            s_.stream.lapic.push_back(kvm.get_lapic(v));
        }
        s_.stream.lapic_saved = true;
        s_.deadline_passed.assign(scenario_.vcpus, false);
    }

    const Scenario& scenario_;
    EventLog& log_;
    GuestLog& guest_log_;
    std::shared_ptr<const MigrationPlan> plan_;
    kvm::KvmConfig config_;
    bool logical_;
    State s_;
    std::unique_ptr<UnicornGuest> unicorn_;  // guest: unicorn (its snapshots travel beside State's)
};

}  // namespace

BackendInfo x86_backend_info() {
    auto plan = make_x86_plan();
    return BackendInfo{"x86", "Linux KVM + QEMU on VT-d with posted interrupts and APICv (VMX)", true, plan,
                       [plan](const BackendContext& ctx) { return std::make_unique<X86Backend>(ctx, plan); }};
}

}  // namespace irqdiff::x86
