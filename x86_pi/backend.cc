#include "x86_pi/backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "core/migration_driver.h"
#include "x86_pi/guest/guest.h"
#include "x86_pi/guest/unicorn_guest.h"
#include "x86_pi/machine.h"
#include "x86_pi/places.h"
#include "x86_pi/policies.h"
#include "x86_pi/trace_points.h"
#include "x86_pi/vmm/apic.h"
#include "x86_pi/vmm/qemu.h"

namespace irqdiff::x86 {

namespace {

/// What the source writes into the migration stream besides RAM and the devices' state, and how
/// far the restore has come.
struct Stream {
    std::vector<vmm::ApicState> apic;  // per vCPU: QEMU's APIC state from KVM_GET_LAPIC (kvm_get_apic_state)
    std::vector<kvm::VcpuRegs> regs;   // per vCPU: KVM_GET_REGS / KVM_GET_VCPU_EVENTS / KVM_GET_MP_STATE
    std::vector<kvm::MsrImage> msrs;   // per vCPU: KVM_GET_MSRS (kvm_get_msrs: env->tsc_deadline)
    bool lapic_saved = false;
    bool vcpus_started = false;      // start_vcpus ran on the destination
    bool regs_loaded = false;        // set_msrs put the vCPU registers and events on the destination
    std::vector<bool> lapic_loaded;  // set_lapic ran for the vCPU on the destination
    bool msrs_loaded = false;        // set_msrs ran on the destination
    /// The model's clock, not the stream's content: the saved one-shot timer was still armed at
    /// KVM_GET_LAPIC and its deadline (the scenario's `fire`) has not come since.
    std::vector<bool> deadline_ahead;
};

class X86Backend final : public MigrationDriver<X86Backend, Machine, Stream, GuestState, UnicornGuest> {
   public:
    // ---- the migration plan: each step with the code it runs ---------------------------------
    static const PlanTable& plan_table() {
        using S = Side;
        using B = X86Backend;
        static const PlanTable table{
            {
                {{"stop_vcpus", S::Save, "stop_vcpus",
                  "pause_all_vcpus: every vCPU leaves KVM_RUN and is put (vmx_vcpu_pi_put: PID.SN=1)"},
                 &B::stop_vcpus,
                 &tp::kQemuStopVcpus},
                {{"stop_devices", S::Save, "stop_devices",
                  "VFIO devices to STOP (vfio_vmstate_change): a stopped device posts nothing"},
                 &B::stop_devices,
                 &tp::kQemuStopDevices},
                {{"get_lapic", S::Save, "save_irqchip",
                  "cpu_synchronize_all_states: KVM_GET_REGS, KVM_GET_VCPU_EVENTS and KVM_GET_LAPIC per vCPU "
                  "(kvm_get_apic): vcpu_load re-sets ON for a non-empty PIR, vmx_sync_pir_to_irr folds PIR into "
                  "vIRR, the register page is copied"},
                 &B::get_lapic,
                 &tp::kQemuGetLapic},
                {{"copy_memory", S::Save, "copy_memory",
                  "the final RAM pass with the device state, and the switch-over"},
                 &B::copy_memory,
                 &tp::kQemuCopyMemory},
            },
            {
                {{"set_lapic", S::Restore, "restore_irqchip",
                  "MSR_IA32_APICBASE then KVM_SET_LAPIC per vCPU (apic post_load -> kvm_apic_put): PIR/ON dropped "
                  "(x86.set_lapic_clears_pir), registers, APIC map, PPR, timer restart, SVI"},
                 &B::set_lapic,
                 &tp::kQemuSetLapic},
                {{"vfio_load_config", S::Restore, "restore_devices",
                  "VFIO PCI config and MSI-X table (vfio_pci_load_config)"},
                 &B::vfio_load_config,
                 &tp::kQemuVfioLoadConfig},
                {{"msix_enable", S::Restore, "restore_translation",
                  "vfio_msix_enable: KVM MSI routes (KVM_SET_GSI_ROUTING), irqfds, VFIO_DEVICE_SET_IRQS (host IRQs, "
                  "remapped IRTEs)"},
                 &B::msix_enable,
                 &tp::kQemuMsixEnable},
                {{"irq_bypass_connect", S::Restore, "restore_devices",
                  "irq bypass producer meets consumer: kvm_pi_update_irte per vector, posted iff the APIC map "
                  "resolves the route to one vCPU"},
                 &B::irq_bypass_connect,
                 &tp::kQemuIrqBypassConnect},
                {{"set_msrs", S::Restore, "restore_irqchip",
                  "cpu_synchronize_all_post_init -> kvm_arch_put_registers per vCPU: KVM_SET_REGS, KVM_SET_VCPU_EVENTS "
                  "(the injected event, the NMI state), KVM_SET_MP_STATE, then kvm_put_tscdeadline_msr: KVM_SET_MSRS of "
                  "MSR_IA32_TSCDEADLINE; kvm_set_lapic_tscdeadline_msr drops the deadline, reporting success, unless "
                  "KVM_SET_LAPIC already put LVTT in TSC-deadline mode (Kata #13798)"},
                 &B::set_msrs,
                 &tp::kQemuSetMsrs},
                // vm_start: vm_prepare_start runs the change-state handlers first (vfio_vmstate_change
                // sets the devices RUNNING), then resume_all_vcpus (QEMU system/cpus.c).
                {{"start_devices", S::Restore, "start_devices",
                  "VFIO devices to RUNNING (vm_prepare_start -> vfio_vmstate_change)"},
                 &B::start_devices,
                 &tp::kQemuStartDevices},
                {{"start_vcpus", S::Restore, "start_vcpus",
                  "resume_all_vcpus: vCPUs loaded (vmx_vcpu_pi_load) and entered"},
                 &B::start_vcpus,
                 &tp::kQemuStartVcpus},
            },
            {
                {"vfio_load_config", "msix_enable",
                 "the MSI-X table comes with the device config (vfio_pci_load_config)", Rule::Data},
                {"msix_enable", "irq_bypass_connect", "the bypass producer exists once SET_IRQS has set the eventfd",
                 Rule::Data},
                {"set_lapic", "start_vcpus", "a vCPU runs once its state is loaded (vm_start after the incoming load)",
                 Rule::Data},
                {"vfio_load_config", "start_devices",
                 "a device runs once its state is loaded (vfio_load_state; VFIO uAPI: RESUMING, data, RUNNING)", Rule::Data},
                {"set_msrs", "start_vcpus", "a vCPU runs once its MSRs are loaded (cpu_synchronize_all_post_init)",
                 Rule::Data},
                // Kata #13798 and Cloud Hypervisor's KvmVcpu::set_state doc ("SET_LAPIC must come before
                // SET_MSRS, because the TSC deadline MSR only restores successfully, when the LAPIC is
                // correctly configured"; Firecracker documents sregs -> LAPIC -> MSRs): a rule of KVM's
                // ABI, not a data dependency. KVM refuses nothing the other way round
                // (kvm_set_lapic_tscdeadline_msr drops the deadline and KVM_SET_MSRS reports success),
                // so the `data` set keeps the losing orders for the explorer to show, and `abi` drops
                // them: the first rule that makes x86's `abi` a strict subset of `data`.
                {"set_lapic", "set_msrs",
                 "the TSC-deadline MSR is taken only once KVM_SET_LAPIC put LVTT in TSC-deadline mode "
                 "(kvm_set_lapic_tscdeadline_msr; Kata #13798, Cloud Hypervisor KvmVcpu::set_state)",
                 Rule::Abi},
            },
            {
                // MIG_PRI_APIC: the APIC section loads before PCI devices (QEMU 2025, "migration:
                // ensure APIC is loaded prior to VFIO PCI devices").
                // set_msrs: cpu_synchronize_all_post_init runs at the end of qemu_loadvm_state, after
                // every section (the APIC's post_load KVM_SET_LAPIC, VFIO's config) has loaded, before
                // vm_start; its kvm_arch_put_registers writes MSR_IA32_TSCDEADLINE by itself
                // (kvm_put_tscdeadline_msr, after kvm_put_msrs and the vCPU events: target/i386/kvm/kvm.c),
                // so QEMU keeps the LAPIC -> MSR rule whichever section loads first.
                {"qemu",
                 {"set_lapic", "vfio_load_config", "msix_enable", "irq_bypass_connect", "set_msrs", "start_devices",
                  "start_vcpus"}},
                // QEMU before that fix: the APIC and VFIO share the default priority, so the load
                // order follows registration and VFIO's config (and so irq bypass) can load first,
                // while the APIC map still has its reset values [reference §5.4].
                {"lapic_after_vfio",
                 {"vfio_load_config", "msix_enable", "irq_bypass_connect", "set_lapic", "set_msrs", "start_devices",
                  "start_vcpus"}},
                // Cloud Hypervisor: Vm::restore restores the vCPUs (hypervisor/src/kvm/mod.rs
                // KvmVcpu::set_state: ... set_sregs, set_xsave, set_xcrs, set_lapic, set_fpu, then set_msrs,
                // "SET_LAPIC must come before SET_MSRS"), then restore_devices (VFIO blob, PCI_COMMAND,
                // MSI-X eventfds rearmed, the device left RESUMING: #8303, #8528); Vm::resume resumes the
                // vCPUs before the devices.
                {"cloud_hypervisor",
                 {"set_lapic", "set_msrs", "vfio_load_config", "msix_enable", "irq_bypass_connect", "start_vcpus",
                  "start_devices"}},
            },
            {
                {"qemu",
                 "QEMU with MIG_PRI_APIC (\"migration: ensure APIC is loaded prior to VFIO PCI devices\", queued "
                 "Sep 2025): the APIC loads before PCI devices; vm_start runs vfio_vmstate_change (RUNNING) before "
                 "resume_all_vcpus",
                 {"qemu"}},
                {"qemu-7.2",
                 "QEMU 7.2 (Debian 12), before MIG_PRI_APIC: the APIC and VFIO share the default priority, so either "
                 "loads first (registration order)",
                 {"qemu", "lapic_after_vfio"}},
                {"cloud-hypervisor",
                 "Cloud Hypervisor with VFIO migration (#8303, #8528, 2026): vm.rs Vm::restore then Vm::resume",
                 {"cloud_hypervisor"}},
            },
        };
        return table;
    }

    explicit X86Backend(const BackendContext& ctx)
        : MigrationDriver(ctx),
          config_(kvm::KvmConfig::from_policy(ctx.policy)),
          logical_(kGuestApicDestPolicy.read(ctx.policy) == GuestApicDest::Logical) {
        vector_enable_ = vmm::kVectorEnablePolicy.read(ctx.policy);
        cpr_detach_ = vmm::kCprDetachPolicy.read(ctx.policy);
        // Unicorn 2.0.1 has no WRMSR hook (reference/unicorn_2_0_1.md, x86-64 item 3): the program
        // cannot hand IA32_TSC_DEADLINE to the model.
        if (unicorn_)
            for (size_t d = 0; d < scenario_.devices.size(); ++d)
                if (scenario_.devices[d].kind == DeviceKind::Timer &&
                    scenario_.devices[d].timer_mode == TimerMode::TscDeadline)
                    throw InputError(scenario_.devices[d].timer_mode_loc,
                                     fmt::format("devices[{}].timer_mode: the x86 Unicorn guest program arms no "
                                                 "TSC-deadline timer (Unicorn has no WRMSR hook): run this scenario "
                                                 "with the abstract guest",
                                                 d));
        // Nor does the guest program have an NMI handler (IDT vector 2), and Unicorn 2.0.1 delivers no
        // NMI (reference/unicorn_2_0_1.md item 4).
        if (std::optional<Scenario::KeyUse> use = unicorn_ ? scenario_.first_nmi() : std::nullopt)
            throw InputError(use->loc, use->path + ": the x86 Unicorn guest program has no NMI handler: run this "
                                                   "scenario with the abstract guest");
        boot();
    }

    std::string_view arch() const override { return "x86"; }

    void apply_step(const Action& a) {
        switch (a.kind) {
            case StepKind::Mask:
            case StepKind::Unmask:
                if (unicorn_)  // the program executes CLI or STI itself
                    unicorn_->set_mask(active_machine(), static_cast<uint32_t>(a.vcpu), a.kind == StepKind::Mask);
                else
                    active().hw.cpu(static_cast<unsigned>(a.vcpu)).guest_set_if(a.kind == StepKind::Unmask);
                log_.emit(a.kind == StepKind::Mask ? tp::kGuestCli : tp::kGuestSti, a.vcpu);
                break;
            case StepKind::Block: block(static_cast<uint32_t>(a.vcpu)); break;
            case StepKind::Preempt: preempt(static_cast<uint32_t>(a.vcpu)); break;
            case StepKind::Fire: fire(a.source); break;
            case StepKind::Retarget: {
                const Source& src = scenario_.sources[a.source];
                MsixEntry entry = guest().retarget(a.source, static_cast<uint32_t>(a.vcpu), scenario_.steps.at(a.scenario_step).nmi);
                active().vmm().write_msix(src.device, src.vector, entry);
                break;
            }
            default:
                throw std::logic_error("X86Backend: an action the migration driver handles or make_backend refuses");
        }
    }

    Stream fresh_transit() const {
        Stream t;
        t.lapic_loaded.assign(scenario_.vcpus, false);
        t.deadline_ahead.assign(scenario_.vcpus, false);
        return t;
    }

    /// A cancelled migration's resume_all_vcpus on the source: KVM_RUN again (QEMU puts the dirty
    /// registers, KVM_PUT_RUNTIME_STATE, but not the LAPIC: kvm_apic_put runs only from the APIC's
    /// post_load). What KVM_GET_LAPIC folded from PIR into vIRR is delivered from the vIRR.
    void resume_vcpus() {
        kvm::Kvm kvm = source().kvm();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) kvm.run(v);
    }

    void where(SourceId source, std::vector<Location>& out) const override {
        if (vm_gone()) return;
        const GuestSource& g = vm().sources.at(source);
        if (!g.routed) return;
        const Machine& h = active();
        const Source& src = scenario_.sources[source];
        const Device& dev = scenario_.devices[src.device];
        if (dev.kind == DeviceKind::Msi) {
            if (h.qemu.devices.at(src.device).holds(src.vector, held_in_stream(src.device)))
                out.push_back({&places::kDevice, src.device, false});
            // Live update: kvm_irqfd_assign on the new VM will inject what the eventfd counted.
            if (h.qemu.devices.at(src.device).vectors.at(src.vector).eventfd)
                out.push_back({&places::kEventfd, src.device, true});
        } else if (dev.kind == DeviceKind::Timer) {
            // A tick KVM counted in lapic_timer.pending (the deadline passed while the vCPU was out of
            // the guest): vcpu_run injects it at the vCPU's next pass, on this machine only (KVM_GET_LAPIC
            // does not see it and nothing migrates it).
            if (lapic_valid(g.vcpu) && h.kvm_state.vcpus.at(g.vcpu).timer_pending)
                out.push_back({&places::kTimerPending, g.vcpu, true});
            // The stream's one-shot (TMICT != 0, unmasked) whose deadline has passed, and whose tick is
            // not in the saved IRR: KVM_SET_LAPIC fires it from the zero TMCCT QEMU puts.
            if (transit().lapic_saved && !lapic_valid_on_dst(g.vcpu) && !transit().deadline_ahead.at(g.vcpu)) {
                const vmm::ApicState& a = transit().apic.at(g.vcpu);
                const kvm::LapicImage put = vmm::kvm_put_apic_state(a);
                if (kvm::Kvm::timer_restart(put) == kvm::TimerRestart::Expired &&
                    !apic::LvtTimer::Mask.get(put.reg(apic::LVT_TIMER)) && !a.irr_test(g.vector))
                    out.push_back({&places::kSavedTimer, g.vcpu, false});
            }
            // The stream's TSC deadline (KVM_GET_MSRS) whose time has passed, until KVM_SET_MSRS
            // (after KVM_SET_LAPIC) fires it; dropped, it is nowhere.
            if (transit().lapic_saved && !transit().msrs_loaded && !transit().deadline_ahead.at(g.vcpu) &&
                transit().msrs.at(g.vcpu).tsc_deadline != 0 && !transit().apic.at(g.vcpu).irr_test(g.vector))
                out.push_back({&places::kSavedTimer, g.vcpu, false});
        }
        for (uint32_t c = 0; c < scenario_.vcpus; ++c) {
            for (unsigned vec = 0; vec < 256; ++vec) {
                if (vm().owner[c][vec] != static_cast<int32_t>(source)) continue;
                const uint8_t v = static_cast<uint8_t>(vec);
                nmi_where(c, v, out);
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
                        out.push_back({&places::kPir, c, live});
                    }
                }
                if (in_irr) out.push_back({&places::kVirr, c, valid});
                // An interrupt KVM injected (IRR -> ISR, the VMCS event-injection field, or the
                // IDT-vectoring information an exit saved it in) is the guest's at the next entry:
                // live. While the state travels it is the injected event of KVM_GET_VCPU_EVENTS, until
                // set_msrs sets it again. Its ISR bit is that injection's, not a second place.
                const Vmcs& vm = h.hw.cpu(c).vmcs();
                const bool injected = vm.entry_interruption == v || vm.idt_vectoring == v;
                const bool in_stream = transit().lapic_saved && !(on_destination() && transit().regs_loaded) &&
                                       transit().regs.at(c).injected == v;
                if (injected) out.push_back({&places::kInjected, c, valid});
                if (in_stream) out.push_back({&places::kSavedRegs, c, false});
                if (page.test(apic::ISR, v) && !injected && !in_stream) out.push_back({&places::kVisr, c, false});
                if (transit().lapic_saved && !lapic_valid_on_dst(c) && transit().apic.at(c).irr_test(v))
                    out.push_back({&places::kSavedLapic, c, false});
            }
        }
    }

    /// The NMIs whose provenance tag is vector `v` of vCPU `c` (an NMI-mode source's, or what is
    /// left of one the guest retargeted or switched back to fixed). KVM's NMI state is the VM's on the
    /// source, and on the destination once set_msrs put the vCPU events.
    void nmi_where(uint32_t c, uint8_t v, std::vector<Location>& out) const {
        const Machine& h = active();
        const kvm::Vcpu& k = h.kvm_state.vcpus.at(c);
        const bool valid = !on_destination() || transit().regs_loaded;
        auto count = [v](const std::vector<uint8_t>& tags) { return std::count(tags.begin(), tags.end(), v); };
        for (auto n = count(k.nmi_queued); n > 0; --n) out.push_back({&places::kNmiQueued, c, valid});
        for (auto n = count(k.nmi_pending); n > 0; --n) out.push_back({&places::kNmiPending, c, valid});
        const Vmcs& vm = h.hw.cpu(c).vmcs();
        if (vm.entry_nmi == v || vm.idt_vectoring_nmi == v) out.push_back({&places::kInjected, c, valid});
        if (transit().lapic_saved && !(on_destination() && transit().regs_loaded)) {
            const kvm::VcpuRegs& r = transit().regs.at(c);
            for (auto n = count(r.nmi_pending) + (r.nmi_injected == v ? 1 : 0); n > 0; --n)
                out.push_back({&places::kSavedRegs, c, false});
        }
    }

    std::string identity(SourceId source) const override {
        const GuestSource& g = vm().sources.at(source);
        if (!g.routed) return "not routed";
        if (g.timer) return fmt::format("LVTT -> vector {:#04x} (vcpu{})", g.vector, g.vcpu);
        const Source& src = scenario_.sources[source];
        if (const Device& dev = scenario_.devices[src.device]; dev.kind == DeviceKind::Ipi) {
            const bool virtualizable = config_.ipiv && !vm().logical;
            return fmt::format("ICR {} from vcpu{} -> {} -> vector {:#04x} (vcpu{})",
                               vm().logical ? "logical" : "physical", dev.from,
                               virtualizable ? "IPIv posted (PID-pointer table)"
                                             : "APIC-write exit -> kvm_apic_send_ipi",
                               g.vector, g.vcpu);
        }
        const Machine& h = active();
        const PciDevice& d = h.qemu.devices.at(src.device);
        MsixEntry e = d.msix.at(src.vector);
        std::string path;
        if (!d.passthrough) {
            path = "KVM_SIGNAL_MSI";
        } else if (int irq = d.vectors.at(src.vector).host_irq; irq < 0) {
            path = "no host IRQ yet";
        } else {
            const host::HostIrq& hi = h.iommu_state.irqs.at(static_cast<size_t>(irq));
            path = hi.posted
                       ? fmt::format("IRTE {} posted", hi.index)
                       : fmt::format("IRTE {} remapped to host vector {:#04x} -> kvm_set_msi", hi.index, hi.vector);
        }
        return fmt::format("MSI {:#x}/{:#x} -> {} -> {} {:#04x} (vcpu{})", e.address, e.data, path,
                           g.nmi ? "NMI, tag" : "vector", g.vector, g.vcpu);
    }

    std::unique_ptr<Machine> make_machine(bool destination) {
        auto h = std::make_unique<Machine>(scenario_.vcpus, log_);
        log_.emit(destination ? tp::kQemuIncoming : tp::kQemuBoot, scenario_.vcpus, config_.apicv,
                  config_.clear == kvm::SetLapicClear::BeforeLoad ? "before_load" : "after_load");
        h->iommu().init();
        h->kvm().init(scenario_.vcpus, config_);
        plug_devices(*h, destination, [&](uint32_t d) {
            const Device& dev = scenario_.devices[d];
            // A timer is the vCPU's own LAPIC: its entry here is an empty placeholder.
            PciDevice state(dev.name, dev.passthrough, dev.kind == DeviceKind::Msi ? dev.vectors : 0);
            state.guest_id = 0x10 + 8 * d;  // bus 0, device 2 + d
            state.host_id = 0x100 + 8 * d;  // the host's bus 1
            return state;
        });
        return h;
    }

   private:
    kvm::Kvm kvm() { return active().kvm(); }
    Guest guest() {
        Machine& h = active();
        return Guest(vm(), h.kvm(), host::ExitPath(h), h.hw, log_);
    }
    /// The machine the VM runs on now, for the Unicorn guest's glue.
    ActiveMachine active_machine() {
        Machine& h = active();
        return ActiveMachine{h.hw, h.kvm(), guest(), host::ExitPath(h), [this] { service(); }};
    }
    /// The active machine's LAPIC of vCPU `c` holds the VM's state: always on the source, on the
    /// destination once KVM_SET_LAPIC loaded it.
    bool lapic_valid(uint32_t c) const { return !on_destination() || transit().lapic_loaded.at(c); }
    bool lapic_valid_on_dst(uint32_t c) const { return on_destination() && transit().lapic_loaded.at(c); }

    void boot() {
        boot_machine();
        transit() = fresh_transit();
        Machine& h = source();
        kvm::Kvm kvm = h.kvm();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) kvm.run(v);  // KVM_RUN
        service();
        if (unicorn_) {
            // The drivers' part stays the abstract guest's; each vCPU's program sets up its own
            // xAPIC and enables interrupts.
            guest().allocate_vectors(scenario_, logical_);
            unicorn_->boot(active_machine());
            guest().booted(scenario_.vcpus);
        } else {
            guest().boot(scenario_, logical_);
        }
        for (uint32_t d = 0; d < scenario_.devices.size(); ++d) {
            if (scenario_.devices[d].kind != DeviceKind::Msi) continue;
            vmm::Qemu qemu = h.vmm();
            for (SourceId id = 0; id < scenario_.sources.size(); ++id)
                if (scenario_.sources[id].device == d && vm().sources[id].routed)
                    qemu.write_msix(d, scenario_.sources[id].vector, guest().msi(id));
            h.qemu.devices[d].msix_programmed = true;  // the guest's driver enables MSI-X
            qemu.msix_enable(d);
            qemu.connect_bypass(d, vector_enable_);
        }
        service();
    }

    /// The vCPU gets to run guest code: loaded and entered if it was put.
    bool enter(uint32_t v) {
        Machine& h = active();
        kvm::Vcpu& c = h.kvm_state.vcpus.at(v);
        if (c.run == kvm::VcpuRun::Stopped) throw std::logic_error("X86Backend: run while the VMM holds the vCPUs");
        if (c.run == kvm::VcpuRun::Blocked) {
            log_.emit(tp::kGuestStillWaiting, v);
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

   public:
    void run_vcpu(uint32_t v) {
        if (!enter(v)) return;
        Machine& h = active();
        log_.emit(tp::kGuestRun, v, h.hw.cpu(v).vmcs().guest_if);
        // Until a round takes nothing and ends in the guest: each round, each interrupt taken
        // and each exit handled spend a step of the run's budget (core/backend.h RunBudget).
        RunBudget budget;
        while (budget.spend()) {
            unsigned taken = unicorn_ ? unicorn_->take_interrupts(active_machine(), v, scenario_, guest_log_, &budget)
                                      : guest().take_interrupts(v, scenario_, guest_log_, &budget);
            bool exited = !h.hw.cpu(v).in_guest();
            service();
            if (!taken && !exited) return;
        }
        log_.emit(tp::kGuestRunBudget, "the run's step budget is spent: the rest stays pending", v, budget.used());
    }

   private:
    void block(uint32_t v) {
        if (!enter(v)) return;
        Machine& h = active();
        log_.emit(tp::kGuestHlt, v);
        Cpu& cpu = h.hw.cpu(v);
        cpu.guest_hlt();
        std::optional<VmExit> exit = cpu.take_exit();
        kvm::Kvm kvm = h.kvm();
        kvm.handle_exit(v, *exit);
        kvm.resume(v);
    }

    void preempt(uint32_t v) {
        Machine& h = active();
        kvm::VcpuRun run = h.kvm_state.vcpus.at(v).run;
        log_.emit(tp::kHostPreempt, v, kvm::to_string(run));
        if (run == kvm::VcpuRun::InGuest) h.kvm().leave_guest(v, true);
    }

    /// A device raises a vector, or a LAPIC timer's deadline passes.
    void fire(SourceId source) {
        const Source& src = scenario_.sources[source];
        if (scenario_.devices[src.device].kind == DeviceKind::Msi) {
            active().vmm().fire(src.device, src.vector);
            return;
        }
        if (scenario_.devices[src.device].kind == DeviceKind::Ipi) {
            send_ipi(source);
            return;
        }
        GuestSource& g = vm().sources.at(source);
        const uint32_t v = g.vcpu;
        if (g.early_ticks > 0) {
            // KVM_SET_LAPIC already fired the one-shot this deadline belonged to; the guest's next
            // arming (if it took the tick) has a later deadline.
            --g.early_ticks;
            log_.emit(tp::kTimerDeadlineEarlyIgnored,
                      "the deadline of a one-shot KVM_SET_LAPIC already fired (QEMU migrates no TMCCT)", v);
            return;
        }
        log_.emit(tp::kTimerDeadline, v);
        // The deadline is wall-clock time: the LAPIC holding the VM's state fires its armed timer
        // (apic_timer_fn); the saved state's deadline has now passed.
        // Until KVM_SET_MSRS the stream's TSC deadline has not reached a LAPIC either.
        if (transit().lapic_saved && (!lapic_valid_on_dst(v) || !transit().msrs_loaded))
            transit().deadline_ahead[v] = false;
        if (lapic_valid(v) && active().kvm_state.vcpus[v].timer_armed) kvm().timer_expired(v);
    }

    /// The sender executes the ICR write: it must be running guest code, so it is entered first (a
    /// runnable vCPU is loaded and enters); a vCPU stopped by the VMM or blocked in HLT executes
    /// nothing, so the schedule asks for the impossible.
    void send_ipi(SourceId source) {
        const uint32_t from = scenario_.device_of(source).from;
        const std::string& name = scenario_.sources[source].name;
        if (vm_gone() || (on_destination() && !transit().vcpus_started)) {
            log_.emit(tp::kGuestImpossibleIpi.touching(name), "the sender executes no instruction now", from,
                      "not started on the destination (or the VM is gone)");
            return;
        }
        const kvm::VcpuRun run = active().kvm_state.vcpus.at(from).run;
        if (run == kvm::VcpuRun::Stopped || run == kvm::VcpuRun::Blocked) {
            log_.emit(tp::kGuestImpossibleIpi.touching(name), "the sender executes no instruction now", from,
                      kvm::to_string(run));
            return;
        }
        if (!enter(from)) return;
        guest().send_ipi(source, from);
        service();
    }

    /// The timer source routed to vCPU `v` (a vCPU has at most one), if any.
    std::optional<SourceId> timer_source(uint32_t v) const {
        for (SourceId id = 0; id < vm().sources.size(); ++id)
            if (vm().sources[id].routed && vm().sources[id].timer && vm().sources[id].vcpu == v) return id;
        return std::nullopt;
    }

    // ---- save steps (on the source) ----------------------------------------------------------
    void stop_vcpus() {
        kvm::Kvm kvm = source().kvm();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) kvm.leave_guest(v, false);
    }
    void get_lapic() { save_lapic(source()); }
    void copy_memory() {
        if (!transit().lapic_saved) save_lapic(source());
        save_devices(source());
        switch_over();
    }

    void save_lapic(Machine& h) {
        kvm::Kvm kvm = h.kvm();
        Stream& st = transit();
        st.apic.clear();
        st.regs.clear();
        st.msrs.clear();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
            st.regs.push_back(kvm.get_regs(v));
            st.msrs.push_back(kvm.get_msrs(v));  // kvm_get_msrs
            st.apic.push_back(vmm::kvm_get_apic_state(kvm.get_lapic(v)));  // kvm_get_apic
            st.deadline_ahead[v] = h.kvm_state.vcpus[v].timer_armed;
        }
        st.lapic_saved = true;
    }

    // ---- restore steps (on the destination) --------------------------------------------------
    void set_lapic() {
        kvm::Kvm kvm = destination().kvm();
        Stream& st = transit();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
            const kvm::LapicImage image = vmm::kvm_put_apic_state(st.apic.at(v));  // kvm_apic_put
            if (int rc = kvm.set_lapic(v, image); rc != kvm::kOk) {
                log_.emit(tp::kQemuSetLapicError, "KVM_SET_LAPIC failed: the migration fails", v, rc);
            } else if (kvm::Kvm::timer_restart(image) == kvm::TimerRestart::Expired && st.deadline_ahead[v]) {
                // The one-shot fired inside KVM_SET_LAPIC before its deadline (8e6ed96cdd50 with
                // QEMU's zero TMCCT): an early tick; its deadline, when it comes, finds no timer.
                if (std::optional<SourceId> id = timer_source(v)) ++vm().sources[*id].early_ticks;
            }
            st.lapic_loaded[v] = true;
        }
    }
    // cpu_synchronize_all_post_init -> kvm_arch_put_registers (target/i386/kvm/kvm.c), per vCPU in
    // its order: KVM_SET_REGS, KVM_SET_MSRS, KVM_SET_VCPU_EVENTS, KVM_SET_MP_STATE, then the
    // TSC-deadline MSR by itself. Until issue 15 §2.2 the model put the registers and events at
    // start_vcpus, after the devices run: harmless for fixed vectors (their state is the LAPIC's), but
    // KVM_SET_VCPU_EVENTS overwrites nmi_queued, which would drop an NMI a running device raised before it.
    void set_msrs() {
        Machine& h = destination();
        kvm::Kvm kvm = h.kvm();
        Stream& st = transit();
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) kvm.set_regs(v, st.regs.at(v));
        st.regs_loaded = true;
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) {
            // kvm_put_tscdeadline_msr. The model's clock says whether the saved deadline (the
            // scenario's `fire`) came while the state travelled: then KVM fires a taken deadline at once.
            kvm.set_msrs(v, st.msrs.at(v), !st.deadline_ahead[v]);
        }
        st.msrs_loaded = true;
    }
    void start_vcpus() {
        Machine& h = destination();
        kvm::Kvm kvm = h.kvm();
        transit().vcpus_started = true;
        // KVM_RUN: a vCPU halted at the save is halted again (mp_state), and blocks until woken.
        for (uint32_t v = 0; v < scenario_.vcpus; ++v) kvm.run(v);
    }
    kvm::KvmConfig config_;
    bool logical_;
};

}  // namespace

BackendInfo x86_backend_info() {
    auto plan = X86Backend::make_plan(X86Backend::plan_table());
    return BackendInfo{"x86",
                       "Linux KVM + QEMU on VT-d with posted interrupts and APICv (VMX)",
                       true,
                       plan,
                       [](const BackendContext& ctx) { return std::make_unique<X86Backend>(ctx); },
                       {{std::nullopt, StepKind::ToggleLpis,
                         "an ARM step (GICR_CTLR.EnableLPIs): the x86 backend has no LPIs (give the scenario "
                         "'arch: arm')"},
                        {DeviceKind::Ipi, std::nullopt,
                         "the x86 Unicorn guest program sends no IPIs (it has no ICR-writing code): run this "
                         "scenario with the abstract guest",
                         GuestKind::Unicorn}},
                       x86_policies(),
                       tp::trace_points()};
}

}  // namespace irqdiff::x86
