// The two-machine life cycle of a live migration, once for every backend (DESIGN "Migration"):
// the source machine runs the VM until the save steps end with the switch-over, which makes the
// destination machine (a copy of guest RAM, the stream beside it); the restore steps run on the
// destination in the chosen order; once the VM runs there the source is retired (its counters
// kept); a later migration starts from the last destination. Snapshots for the explorer are
// plain copies of the state (both machines, the stream, the VM's guest-side state) plus the
// Unicorn guest's machine.
//
// A backend derives from MigrationDriver<Derived, Machine, Transit, Vm> and provides
//   static const PlanTable& plan_table()       its save and restore steps with their handlers, the
//                                              restore DAG and the named orders: the table IS the
//                                              restore sequence and its code
//   std::unique_ptr<Machine> make_machine(bool destination)
//   void run_vcpu(uint32_t)                     the guest runs on one vCPU until nothing is left
//   void apply_step(const Action&)              every other action (mask, fire, block, ...)
//   Transit fresh_transit() const               an empty stream for the next migration
//   void resume_vcpus()                         a cancelled migration: the source's vCPUs run again
// and its Machine provides `Memory mem`, `vmm()` (the core VFIO logic over its devices),
// `service()` (its host CPUs take their pending work) and `add_counters(BackendCounters&) const`.
#pragma once

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "core/deep_ptr.h"
#include "core/guest_program.h"
#include "core/trace_points.h"
#include "core/vfio.h"

namespace irqdiff {

template <class Derived, class Machine, class Transit, class Vm, class UnicornGuest>
class MigrationDriver : public Backend {
   public:
    using Handler = void (Derived::*)();
    /// One row of a plan table: the step as `irqdiff list steps` shows it, the code it runs, and
    /// the event logged as it starts (QEMU.<name>, declared in core/ or the backend's stack).
    struct StepRow {
        MigrationStep step;
        Handler handler;
        const Op<>* point;
    };
    struct PlanTable {
        std::vector<StepRow> save;     // in QEMU's order (the save side is fixed)
        std::vector<StepRow> restore;  // the DAG's nodes; `orders` says in which orders they run
        std::vector<Dependency> deps;  // the restore DAG, each edge with its rule
        std::vector<std::pair<std::string, std::vector<std::string>>> orders;  // named orders, `qemu` first
        std::vector<VmmOrderSet> sets;  // the orders named VMMs produce (docs/design.md "Order sets")
    };

    /// The MigrationPlan (step vocabulary, DAG, orders) a plan table describes.
    static std::shared_ptr<const MigrationPlan> make_plan(const PlanTable& t) {
        std::vector<MigrationStep> save, restore;
        for (const auto* rows : {&t.save, &t.restore})
            for (const StepRow& r : *rows)
                if (!r.point || r.point->op != "QEMU." + r.step.name)
                    throw std::logic_error("plan table: step " + r.step.name + " does not log QEMU." + r.step.name);
        for (const StepRow& r : t.save) save.push_back(r.step);
        for (const StepRow& r : t.restore) restore.push_back(r.step);
        return std::make_shared<const MigrationPlan>(std::move(save), std::move(restore), t.deps, t.orders, t.sets);
    }

    /// Migration steps run their plan-table handler; `run` runs each vCPU it names
    /// (Derived::run_vcpu); `unassign` / `assign` are KVM_IRQFD deassign / assign and `unroute` /
    /// `reroute` KVM_SET_GSI_ROUTING without / with the route, through the VMM; the rest is the
    /// backend's (Derived::apply_step). Then the host CPUs take their work.
    void apply(const Action& a) final {
        if (s_.vm_gone) {
            log_.emit(tp::kVmGone);
            return;
        }
        switch (a.kind) {
            case StepKind::Migrate: migrate(a); break;
            case StepKind::Cancel: cancel(a); break;
            case StepKind::Run:
                for (uint32_t v = 0; v < scenario_.vcpus; ++v)
                    if (a.vcpu < 0 || static_cast<uint32_t>(a.vcpu) == v) self().run_vcpu(v);
                break;
            case StepKind::Unassign: {
                const Source& src = scenario_.sources[a.source];
                active().vmm().irqfd_deassign(src.device, src.vector);
                break;
            }
            case StepKind::Assign: {
                const Source& src = scenario_.sources[a.source];
                active().vmm().irqfd_assign(src.device, src.vector);
                break;
            }
            case StepKind::Unroute:
            case StepKind::Reroute: {
                const Source& src = scenario_.sources[a.source];
                active().vmm().set_route(src.device, src.vector, a.kind == StepKind::Reroute);
                break;
            }
            default: self().apply_step(a);
        }
        service();
        retire_source();
    }

    std::unique_ptr<BackendSnapshot> snapshot() const final {
        auto snap = std::make_unique<Snapshot>(s_);
        if (unicorn_) snap->guest = unicorn_->snapshot();
        return snap;
    }
    void restore(const BackendSnapshot& snap) final {
        const auto* s = dynamic_cast<const Snapshot*>(&snap);
        if (!s) throw std::logic_error(fmt::format("{} backend: restore from a snapshot of another backend", arch()));
        if (static_cast<bool>(unicorn_) != s->guest.has_value())
            throw std::logic_error(fmt::format("{} backend: restore from a snapshot taken with another guest", arch()));
        s_ = s->state;
        if (unicorn_) unicorn_->restore(*s->guest);
    }

    GuestMachine* unicorn_machine_for_testing() final { return unicorn_ ? &unicorn_->machine() : nullptr; }

    /// Totals over every machine of the migration, retired ones included.
    BackendCounters counters() const final {
        BackendCounters c = s_.retired;
        for (const Machine* m : {s_.src.get(), s_.dst.get()})
            if (m) m->add_counters(c);
        return c;
    }

   protected:
    /// With `guest: unicorn` each vCPU runs the architecture's guest program (docs/guests.md).
    explicit MigrationDriver(const BackendContext& ctx)
        : scenario_(ctx.scenario), log_(ctx.log), guest_log_(ctx.guest) {
        if (ctx.guest_options.kind == GuestKind::Unicorn)
            unicorn_ = std::make_unique<UnicornGuest>(scenario_.vcpus, ctx.guest_options, log_);
    }

    struct State {
        DeepPtr<Machine> src, dst;         // copied with the state (snapshots)
        bool on_dst = false;               // the switch-over happened: the VM's home is the destination
        bool devices_loaded = false;       // vfio_load_config ran on the destination
        std::vector<DeviceImage> devices;  // the devices' part of the stream
        Transit transit;                   // the rest of the stream and the restore's progress
        Vm vm;                             // the guest's own state (drivers, vectors, masks)
        BackendCounters retired;           // of source machines earlier migrations left behind
        bool vm_gone = false;              // the VMM process exited (abort): no VM is left
        bool cpr = false;                  // this migration is a same-host live update (`kind: cpr`)
    };

    /// The VMM process exits (QEMU's abort()): the VM and everything pending in it is gone, and
    /// every later action finds no VM (VM.gone).
    void vmm_exits() { s_.vm_gone = true; }
    bool vm_gone() const { return s_.vm_gone; }

    /// The machine the VM runs on now (or is being restored onto).
    Machine& active() { return *(s_.on_dst ? s_.dst : s_.src); }
    const Machine& active() const { return *(s_.on_dst ? s_.dst : s_.src); }
    Machine& source() { return *s_.src; }
    Machine& destination() { return *s_.dst; }
    Machine* source_if_any() { return s_.src.get(); }
    bool on_destination() const { return s_.on_dst; }
    Transit& transit() { return s_.transit; }
    const Transit& transit() const { return s_.transit; }
    Vm& vm() { return s_.vm; }
    const Vm& vm() const { return s_.vm; }

    /// The host CPUs of every machine take their pending work (the source's first), after each
    /// action and wherever a backend lets the host run between guest steps.
    void service() {
        for (Machine* m : {s_.src.get(), s_.dst.get()})
            if (m) m->service();
    }

    /// The VM boots on a new source machine.
    void boot_machine() { s_.src = self().make_machine(false); }

    // ---- machine mode (docs/machine.md "Migration") --------------------------------------------
    // The stream leaves the process between the two sides: the switch-over makes no destination
    // (guest RAM travels in machine mode's stream), the source is destroyed once the stream is
    // taken, and the destination comes up from the stream (adopt_destination).
    bool external_stream_ = false;
    /// The VM machine mode booted becomes the source.
    void adopt_source(std::unique_ptr<Machine> m) { s_.src = std::move(m); }
    /// The devices' part of the stream (what save_devices read).
    const std::vector<DeviceImage>& device_images() const { return s_.devices; }
    /// The source is destroyed (its counters kept).
    void destroy_source() {
        if (s_.src) s_.src->add_counters(s_.retired);
        s_.src = {};
    }
    /// An incoming VM: `m` is the fresh destination, `devices` and `transit` the stream's parts.
    void adopt_destination(std::unique_ptr<Machine> m, std::vector<DeviceImage> devices, Transit transit) {
        s_.src = {};
        s_.dst = std::move(m);
        s_.on_dst = true;
        s_.devices_loaded = false;
        s_.devices = std::move(devices);
        s_.transit = std::move(transit);
        log_.emit(tp::kQemuSwitchOver, 0);
    }
    /// The destination machine once the VM runs there.
    std::unique_ptr<Machine> release_destination() { return s_.dst.release(); }

    /// The devices' migration data is read into the stream (vfio_save_state). An emulated device
    /// QEMU had not stopped before the irqchip save stops now, its state read with the others.
    void save_devices(Machine& m) {
        for (uint32_t d = 0; d < m.qemu.devices.size(); ++d)
            if (scenario_.devices[d].kind == DeviceKind::Msi &&
                scenario_.devices[d].stops_at == DeviceStop::CopyMemory &&
                m.qemu.devices[d].state == DeviceRunState::Running) {
                log_.emit(tp::kQemuStopLateDevice, scenario_.devices[d].name);
                m.vmm().set_state(d, DeviceRunState::Stopped);
            }
        s_.devices = m.vmm().save();
    }
    /// vfio_load_config on the destination.
    void load_devices() {
        destination().vmm().load(s_.devices);
        s_.devices_loaded = true;
    }
    /// The MSIs a device's state in the stream holds, while it is not loaded yet (else nullptr).
    const std::vector<bool>* held_in_stream(size_t device) const {
        return s_.on_dst && !s_.devices_loaded ? &s_.devices.at(device).held : nullptr;
    }

    /// A machine's VFIO devices as QEMU finds them: running on a booting VM, RESUMING on an
    /// incoming one (vfio_load_setup) until the VM starts. `make(d)` gives device d's PciDevice.
    template <class Make>
    void plug_devices(Machine& m, bool destination, Make make) {
        for (uint32_t d = 0; d < scenario_.devices.size(); ++d) {
            PciDevice dev = make(d);
            dev.state = destination ? DeviceRunState::Resuming : DeviceRunState::Running;
            m.qemu.devices.push_back(std::move(dev));
        }
    }

    // ---- the VFIO steps, the same on every backend (plan-table handlers) ---------------------
    /// vfio_vmstate_change to STOP on the source: a stopped device sends nothing. An emulated
    /// device with `stops_at: copy_memory` keeps running (and injecting) until stop-and-copy.
    /// In a live update the passthrough devices are preserved and keep running (only emulated
    /// devices stop); with arm/x86.cpr_detach=before_save their vectors are detached from the
    /// old VM here, before the irqchip save.
    void stop_devices() {
        if (!s_.cpr) {
            set_devices(source(), DeviceRunState::Stopped, DeviceStop::StopDevices);
            return;
        }
        Machine& m = source();
        log_.emit(tp::kQemuCprPreserveDevices);
        for (uint32_t d = 0; d < m.qemu.devices.size(); ++d) {
            const Device& dev = scenario_.devices[d];
            if (dev.kind != DeviceKind::Msi) continue;
            if (!dev.passthrough && dev.stops_at == DeviceStop::StopDevices)
                m.vmm().set_state(d, DeviceRunState::Stopped);
            else if (dev.passthrough && cpr_detach_ == CprDetach::BeforeSave)
                m.vmm().cpr_detach(d);
        }
    }
    /// vfio_pci_load_config on the destination.
    void vfio_load_config() { load_devices(); }
    /// vfio_msix_enable for every device on the destination; in a live update the preserved
    /// devices' eventfds are attached to the new VM instead (cpr_attach).
    void msix_enable() {
        Machine& m = destination();
        for (uint32_t d = 0; d < m.qemu.devices.size(); ++d)
            if (s_.cpr && scenario_.devices[d].passthrough)
                m.vmm().cpr_attach(d);
            else
                m.vmm().msix_enable(d);
    }
    /// The irq bypass connects every device's vectors on the destination.
    void irq_bypass_connect() {
        Machine& m = destination();
        for (uint32_t d = 0; d < m.qemu.devices.size(); ++d) m.vmm().connect_bypass(d, vector_enable_);
    }
    /// vfio_vmstate_change to RUNNING on the destination: held MSIs are sent. A live update's
    /// preserved devices never stopped.
    void start_devices() {
        Machine& m = destination();
        for (uint32_t d = 0; d < m.qemu.devices.size(); ++d)
            if (scenario_.devices[d].kind == DeviceKind::Msi && !(s_.cpr && scenario_.devices[d].passthrough))
                m.vmm().set_state(d, DeviceRunState::Running);
    }

    /// Every MSI-capable device of `m` to `state` (a timer is the vCPU's own, not a VFIO device),
    /// or only those that stop at `only`.
    void set_devices(Machine& m, DeviceRunState state, std::optional<DeviceStop> only = std::nullopt) {
        for (uint32_t d = 0; d < m.qemu.devices.size(); ++d)
            if (scenario_.devices[d].kind == DeviceKind::Msi && (!only || scenario_.devices[d].stops_at == *only))
                m.vmm().set_state(d, state);
    }

    /// The final RAM pass ends with the switch-over: the destination machine comes up with a
    /// copy of guest RAM, and from now on the VM's home is the destination.
    ///
    /// A live update instead ends with the old QEMU exiting: KVM destroys the old VM, releasing the
    /// irqfds still assigned (arm/x86.cpr_detach=at_destroy), and the new QEMU's VM (the
    /// destination machine: guest RAM is the same shared memory) takes over the running passthrough
    /// devices and their eventfds.
    void switch_over() {
        if (external_stream_) return;  // machine mode: adopt_destination brings the destination up
        Machine& src = source();
        if (s_.cpr) {
            log_.emit(tp::kQemuCprOldVmExit);
            for (uint32_t d = 0; d < src.qemu.devices.size(); ++d)
                if (scenario_.devices[d].passthrough) src.vmm().cpr_detach(d);
        }
        s_.dst = self().make_machine(true);
        s_.dst->mem.guest = src.mem.guest;
        s_.dst->mem.guest.reset_stats();  // the copy is transport; the source counted the writes
        s_.on_dst = true;
        log_.emit(tp::kQemuSwitchOver, src.mem.guest.pages_allocated());
        if (s_.cpr)
            for (uint32_t d = 0; d < src.qemu.devices.size(); ++d)
                if (scenario_.devices[d].passthrough) s_.dst->vmm().cpr_adopt(d, src.qemu.devices[d]);
    }

    const Scenario& scenario_;
    EventLog& log_;
    GuestLog& guest_log_;
    std::unique_ptr<UnicornGuest> unicorn_;                 // guest: unicorn (its machine is snapshotted beside State)
    VectorEnable vector_enable_ = VectorEnable::AllAtOnce;  // how QEMU enables MSI-X vectors
    CprDetach cpr_detach_ = CprDetach::BeforeSave;          // when a live update detaches the devices' interrupts

   private:
    struct Snapshot final : BackendSnapshot {
        explicit Snapshot(const State& s) : state(s) {}
        State state;
        std::optional<GuestMachine::Snapshot> guest;
    };

    Derived& self() { return static_cast<Derived&>(*this); }

    void migrate(const Action& a) {
        const bool save = a.side == Side::Save;
        const PlanTable& table = Derived::plan_table();
        const StepRow& row = (save ? table.save : table.restore).at(a.step);
        if (save && s_.on_dst) next_migration();
        if (save) s_.cpr = scenario_.steps.at(a.scenario_step).migration == MigrationKind::Cpr;
        log_.emit(*row.point);
        (self().*row.handler)();
    }

    /// The migration is cancelled after save step `a.step` (`migrate: {cancel_after: STEP}`): QEMU's
    /// migration_iteration_finish (migration/migration.c) runs vm_start on the source for a VM that
    /// was running, so vm_prepare_start's change-state handlers set the devices RUNNING (held MSIs
    /// are sent) and resume_all_vcpus runs the vCPUs again (Derived::resume_vcpus). Nothing the save
    /// steps wrote is undone: the stream is dropped, guest RAM (the pending tables the GIC save
    /// wrote) and the KVM state (a vIRR KVM_GET_LAPIC filled from the PIR) stay as they are. The
    /// irqchip's change-state handlers do nothing on the way to running (arm_gicv3_kvm.c,
    /// arm_gicv3_its_kvm.c vm_change_state_handler act on stop only; QEMU puts the LAPIC only
    /// from the APIC's post_load, kvm_apic_post_load, which a cancelled migration never runs).
    void cancel(const Action& a) {
        if (s_.on_dst) throw std::logic_error("MigrationDriver: cancel after the switch-over");
        log_.emit(tp::kQemuMigrationCancelled, Derived::plan_table().save.at(a.step).step.name);
        set_devices(source(), DeviceRunState::Running);
        self().resume_vcpus();
        s_.devices.clear();
        s_.transit = self().fresh_transit();
    }

    /// Once the VM runs on the destination nothing reaches the source machine again: it is
    /// dropped (its counters kept), so snapshots copy one machine, not two.
    void retire_source() {
        if (!s_.on_dst || !s_.src) return;
        s_.src->add_counters(s_.retired);
        s_.src = {};
    }

    /// A later migration starts where the VM runs now: the destination becomes the source, and
    /// the stream and the restore's progress start afresh.
    void next_migration() {
        retire_source();
        s_.src = std::move(s_.dst);
        s_.on_dst = false;
        s_.devices_loaded = false;
        s_.devices.clear();
        s_.transit = self().fresh_transit();
        log_.emit(tp::kQemuNextMigration);
    }

    State s_;
};

}  // namespace irqdiff
