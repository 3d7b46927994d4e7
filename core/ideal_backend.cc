#include "core/ideal_backend.h"

#include <fmt/format.h>

#include <stdexcept>

#include "core/trace_points.h"

namespace irqdiff {

namespace {

std::shared_ptr<const MigrationPlan> make_ideal_plan() {
    std::vector<MigrationStep> save, restore;
    for (const NeutralStep& n : neutral_steps()) {
        MigrationStep s{std::string(n.name), n.side, std::string(n.name), std::string(n.doc)};
        (n.side == Side::Save ? save : restore).push_back(std::move(s));
    }
    std::vector<Dependency> deps = {
        {"restore_irqchip", "restore_translation", "translations target the restored controller"},
        {"restore_translation", "restore_devices", "device MSIs need their routes"},
        {"restore_devices", "start_devices", "a device runs only once its state is loaded"},
        {"restore_irqchip", "start_vcpus", "vCPUs take interrupts from the restored controller"},
    };
    return std::make_shared<const MigrationPlan>(
        std::move(save), std::move(restore), std::move(deps),
        std::vector<std::pair<std::string, std::vector<std::string>>>{
            {"qemu", {"restore_irqchip", "restore_translation", "restore_devices", "start_vcpus", "start_devices"}}});
}

class IdealBackend final : public Backend {
   public:
    IdealBackend(const BackendContext& ctx, std::shared_ptr<const MigrationPlan> plan)
        : scenario_(ctx.scenario), log_(ctx.log), guest_(ctx.guest), plan_(std::move(plan)) {
        s_.sources.resize(scenario_.sources.size());
        for (SourceId i = 0; i < scenario_.sources.size(); ++i) {
            s_.sources[i].vcpu = scenario_.sources[i].vcpu.value_or(0);
            s_.sources[i].nmi = scenario_.sources[i].nmi;
        }
        s_.vcpus.resize(scenario_.vcpus);
    }

    std::string_view arch() const override { return "ideal"; }

    void apply(const Action& a) override {
        switch (a.kind) {
            case StepKind::Fire: fire(a.source); break;
            case StepKind::Run: run(a.vcpu); break;
            case StepKind::Mask:
            case StepKind::Unmask:
                s_.vcpus[a.vcpu].masked = a.kind == StepKind::Mask;
                log_.emit(a.kind == StepKind::Mask ? tp::kGuestMask : tp::kGuestUnmask, a.vcpu);
                break;
            case StepKind::Block:
                s_.vcpus[a.vcpu].blocked = true;
                log_.emit(tp::kGuestWaitForInterrupt, a.vcpu);
                break;
            case StepKind::Preempt:
                s_.vcpus[a.vcpu].preempted = true;
                log_.emit(tp::kHostPreempt, a.vcpu);
                break;
            case StepKind::Retarget:
                s_.sources[a.source].vcpu = static_cast<uint32_t>(a.vcpu);
                if (const std::optional<bool>& nmi = scenario_.steps.at(a.scenario_step).nmi) s_.sources[a.source].nmi = *nmi;
                log_.emit(tp::kIdealRetarget.touching(name(a.source)), a.vcpu);
                break;
            case StepKind::Unassign:
            case StepKind::Assign:
            case StepKind::Unroute:
            case StepKind::Reroute:
                log_.emit(tp::kIdealUnassignIgnored.touching(name(a.source)),
                          "the ideal controller forwards nothing, so there is "
                          "nothing to tear down");
                break;
            case StepKind::ToggleLpis:
                log_.emit(tp::kGuestToggleLpisIgnored,
                          "an ARM step (GICR_CTLR.EnableLPIs 1 -> 0 -> 1): the ideal controller has no counterpart",
                          a.vcpu);
                break;
            case StepKind::Migrate: migrate(a); break;
            case StepKind::Cancel: cancel(a); break;
        }
    }

    void where(SourceId source, std::vector<Location>& out) const override {
        const SourceState& st = s_.sources[source];
        uint32_t v = st.vcpu;
        if (st.pending) out.push_back({&ideal_places::kPending, v, true});
        if (st.in_stream) out.push_back({&ideal_places::kStream, v, false});
        if (st.in_device) out.push_back({&ideal_places::kDevice, scenario_.sources[source].device, false});
    }

    std::string identity(SourceId source) const override {
        return fmt::format("vcpu{} source {}", s_.sources[source].vcpu, source);
    }

    std::unique_ptr<BackendSnapshot> snapshot() const override { return std::make_unique<Snapshot>(s_); }
    void restore(const BackendSnapshot& snap) override {
        const auto* s = dynamic_cast<const Snapshot*>(&snap);
        if (!s) throw std::logic_error("IdealBackend::restore: snapshot of another backend");
        s_ = s->state;
    }

   private:
    struct SourceState {
        uint32_t vcpu = 0;
        bool pending = false;    // in the controller, for `vcpu`
        bool in_stream = false;  // saved, between save_irqchip and restore_irqchip
        bool in_device = false;  // raised while the device was stopped
        bool nmi = false;        // a non-maskable interrupt: taken whatever the vCPU's mask (route key `nmi`)
    };
    struct VcpuState {
        bool masked = false;
        bool blocked = false;
        bool preempted = false;
        bool stopped = false;  // paused by migration
    };
    struct State {
        std::vector<SourceState> sources;
        std::vector<VcpuState> vcpus;
        bool devices_stopped = false;
    };
    struct Snapshot final : BackendSnapshot {
        explicit Snapshot(State s) : state(std::move(s)) {}
        State state;
    };

    std::string name(SourceId s) const { return scenario_.sources[s].name; }

    void fire(SourceId source) {
        SourceState& st = s_.sources[source];
        if (s_.devices_stopped) {
            log_.emit(tp::kIdealDeviceHold.touching(name(source)), scenario_.device_of(source).name);
            st.in_device = true;
            return;
        }
        raise(source);
    }

    void raise(SourceId source) {
        SourceState& st = s_.sources[source];
        if (st.pending) {
            log_.emit(tp::kIdealCoalesce.touching(name(source)), st.vcpu);
            return;
        }
        st.pending = true;
        log_.emit(tp::kIdealPend.touching(name(source)), st.vcpu);
    }

    void run(int only) {
        for (uint32_t v = 0; v < s_.vcpus.size(); ++v) {
            if (only >= 0 && static_cast<uint32_t>(only) != v) continue;
            VcpuState& vc = s_.vcpus[v];
            if (vc.stopped) throw std::logic_error("IdealBackend: run while the migration holds the vCPUs");
            bool has_pending = false;
            for (const SourceState& st : s_.sources) has_pending = has_pending || (st.pending && st.vcpu == v);
            if (vc.blocked) {
                if (!has_pending) {
                    log_.emit(tp::kGuestStillWaiting, v);
                    continue;
                }
                vc.blocked = false;
                log_.emit(tp::kIdealWake, v);
            }
            if (vc.preempted) {
                vc.preempted = false;
                log_.emit(tp::kHostResume, v);
            }
            log_.emit(tp::kGuestRun, v, vc.masked);
            for (SourceId s = 0; s < s_.sources.size(); ++s) {
                SourceState& st = s_.sources[s];
                if (!st.pending || st.vcpu != v || (vc.masked && !st.nmi)) continue;
                st.pending = false;
                log_.emit(tp::kIdealGuestTake.touching(name(s)), v);
                guest_.take(v, s, DeliveryPath::Ideal);
            }
        }
    }

    void migrate(const Action& a) {
        const MigrationStep& step = a.side == Side::Save ? plan_->save_steps()[a.step] : plan_->restore_steps()[a.step];
        const std::string& n = step.name;
        if (n == "stop_vcpus" || n == "start_vcpus") {
            for (VcpuState& v : s_.vcpus) v.stopped = n == "stop_vcpus";
            log_.emit(n == "stop_vcpus" ? tp::kVmmStopVcpus : tp::kVmmStartVcpus, s_.vcpus.size());
        } else if (n == "stop_devices") {
            s_.devices_stopped = true;
            log_.emit(tp::kVmmStopDevices, scenario_.devices.size());
        } else if (n == "start_devices") {
            s_.devices_stopped = false;
            log_.emit(tp::kVmmStartDevices, scenario_.devices.size());
            for (SourceId s = 0; s < s_.sources.size(); ++s) {
                if (!s_.sources[s].in_device) continue;
                s_.sources[s].in_device = false;
                log_.emit(tp::kDeviceRaiseHeld.touching(name(s)), scenario_.device_of(s).name);
                raise(s);
            }
        } else if (n == "save_irqchip" || n == "restore_irqchip") {
            bool save = n == "save_irqchip";
            std::vector<std::string> moved;
            for (SourceId s = 0; s < s_.sources.size(); ++s) {
                SourceState& st = s_.sources[s];
                bool& from = save ? st.pending : st.in_stream;
                bool& to = save ? st.in_stream : st.pending;
                if (!from) continue;
                from = false;
                to = true;
                moved.push_back(name(s));
            }
            size_t count = moved.size();
            log_.emit((save ? tp::kIdealSavePending : tp::kIdealRestorePending).touching(moved), count);
        } else if (n == "copy_memory") {
            // The ideal controller keeps nothing in guest RAM, translation tables or device state.
            log_.emit(tp::kVmmCopyMemory);
        } else if (n == "restore_translation") {
            log_.emit(tp::kVmmRestoreTranslation);
        } else if (n == "restore_devices") {
            log_.emit(tp::kVmmRestoreDevices);
        } else {
            throw std::logic_error("IdealBackend: a migration step it does not know: " + n);
        }
    }

    /// A cancelled migration (migrate.cancel_after): what the save moved into the stream is pending
    /// again, the devices run (sending what they held) and so do the vCPUs.
    void cancel(const Action& a) {
        log_.emit(tp::kQemuMigrationCancelled, plan_->save_steps().at(a.step).name);
        for (SourceId s = 0; s < s_.sources.size(); ++s)
            if (s_.sources[s].in_stream) {
                s_.sources[s].in_stream = false;
                raise(s);
            }
        migrate_named("start_devices");
        migrate_named("start_vcpus");
    }
    void migrate_named(std::string_view name) {
        const auto& steps = plan_->restore_steps();
        for (uint16_t k = 0; k < steps.size(); ++k)
            if (steps[k].name == name) migrate(Action{StepKind::Migrate, -1, 0, Side::Restore, k, 0, true});
    }

    const Scenario& scenario_;
    EventLog& log_;
    GuestLog& guest_;
    std::shared_ptr<const MigrationPlan> plan_;
    State s_;
};

}  // namespace

BackendInfo ideal_backend_info() {
    auto plan = make_ideal_plan();
    return BackendInfo{"ideal",
                       "reference: the oracle's ideal controller, no virtualization",
                       false,
                       plan,
                       [plan](const BackendContext& ctx) { return std::make_unique<IdealBackend>(ctx, plan); },
                       {},
                       {},
                       tp::ideal_trace_points()};
}

}  // namespace irqdiff
