// The `x86` backend (x86_pi/backend.cc) end to end: its migration plan (QEMU's save steps, the
// restore sub-steps, the DAG and the named orders), the seed scenario and where its sources live,
// every admissible restore order under every x86 policy, the liveness of each place, determinism,
// snapshots, and the errors for input it cannot run
// [reference/x86_posted_interrupts_kvm_migration.md §4.5, §5.2-§5.4, §7, §8, §9 ("reference §N")].
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <numeric>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/results.h"
#include "core/runner.h"
#include "registry/builtin_backends.h"
#include "tests/event_match.h"
#include "tests/run_harness.h"
#include "x86_pi/places.h"
#include "x86_pi/trace_points.h"

namespace irqdiff {

/// gtest prints outcomes by name, and locations as PLACE or PLACE (not live).
static void PrintTo(Outcome o, std::ostream* os) { *os << to_string(o); }
static void PrintTo(const Location& l, std::ostream* os) {
    *os << (l.place ? l.place->name : "?") << "[" << l.index << "]" << (l.live ? "" : " (not live)");
}

namespace {

std::string path_of(const std::string& file) { return std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/" + file; }
const std::string kSeed = path_of("seed/pending_across_migration.yaml");

/// The backend the registry lists as "x86".
const BackendInfo& x86_info() {
    const BackendInfo* info = builtin_backends().find("x86");
    if (!info) throw std::logic_error("this build has no x86 backend");
    return *info;
}
const MigrationPlan& plan() { return *x86_info().plan; }

PolicySetting setting(std::string key, std::string value) {
    return PolicySetting{std::move(key), std::move(value), {"--policy", 0, 0}, {"--policy", 0, 0}};
}

RunResult run(const Scenario& scenario, std::vector<PolicySetting> policy = {},
              std::optional<std::string> order = std::nullopt) {
    RunOptions options;
    options.policy = std::move(policy);
    options.order = std::move(order);
    return run_scenario(scenario, x86_info(), options);
}
RunResult run_file(const std::string& file, std::vector<PolicySetting> policy = {}) {
    return run(load_scenario(file, builtin_backends().catalogue()), std::move(policy));
}

const SourceOutcome& outcome(const RunResult& r, std::string_view source) {
    const SourceOutcome* o = r.outcome(source);
    if (!o) throw std::logic_error("no outcome for " + std::string(source));
    return *o;
}

std::string show(const RunResult& r, const std::vector<Location>& places) {
    if (places.empty()) return "nowhere";
    std::string out;
    for (const Location& l : places)
        out += (out.empty() ? "" : " ") + to_string(l, r.device_names) + (l.live ? "" : " (not live)");
    return out;
}

/// "ACTION -> PLACES" each time `source`'s places changed during the run.
std::vector<std::string> timeline(const RunResult& r, std::string_view source) {
    SourceId id =
        static_cast<SourceId>(std::find(r.source_names.begin(), r.source_names.end(), source) - r.source_names.begin());
    return run_harness::timeline(r, id);
}

size_t action_index(const RunResult& r, std::string_view what) {
    auto it = std::find(r.schedule.begin(), r.schedule.end(), what);
    if (it == r.schedule.end()) throw std::logic_error("no action " + std::string(what));
    return static_cast<size_t>(it - r.schedule.begin());
}

std::optional<ArgValue> arg_of(const Event& e, std::string_view key) {
    for (const EventArg& a : e.args)
        if (a.key == key) return a.value;
    return std::nullopt;
}

/// Events of `points` whose arguments include (key, value) for each given pair.
std::vector<const Event*> events(const RunResult& r, const Points& points, std::vector<EventArg> with = {}) {
    return find_events(r.events, points, with);
}
EventArg iarg(std::string key, int64_t v) { return EventArg{std::move(key), ArgValue(v)}; }
EventArg sarg(std::string key, std::string v) { return EventArg{std::move(key), ArgValue(std::move(v))}; }

/// Drives one X86Backend through a scenario's schedule an action at a time (as run_scenario does),
/// so a test can look at where() and identity() between any two actions.
class Stepper {
   public:
    explicit Stepper(Scenario scenario, std::vector<PolicySetting> overrides = {})
        : scenario_(std::move(scenario)),
          policy_(resolve_policy(builtin_backends().find("x86")->policies, scenario_.policy, overrides)),
          backend_(x86_info().make(BackendContext{scenario_, policy_, log_, guest_})),
          schedule_(lower(scenario_, plan(), "x86", {})) {}

    /// Applies the actions up to and including the next one described as `what`.
    void through(std::string_view what) {
        while (next_ < schedule_.actions.size()) {
            std::string done = describe(schedule_.actions[next_], scenario_, plan());
            apply_next();
            if (done == what) return;
        }
        FAIL() << "the schedule has no action " << what << " left";
    }
    void finish() {
        while (next_ < schedule_.actions.size()) apply_next();
    }
    std::vector<Location> where(std::string_view source) const {
        std::vector<Location> out;
        backend_->where(id(source), out);
        return out;
    }
    std::string identity(std::string_view source) const { return backend_->identity(id(source)); }

    Backend& backend() { return *backend_; }
    GuestLog& guest() { return guest_; }
    size_t next() const { return next_; }
    void rewind(size_t to) { next_ = to; }

   private:
    SourceId id(std::string_view source) const {
        std::optional<SourceId> s = scenario_.find_source(source);
        if (!s) throw std::logic_error("no source " + std::string(source));
        return *s;
    }
    void apply_next() {
        log_.set_action(static_cast<uint32_t>(next_));
        guest_.set_action(static_cast<uint32_t>(next_));
        backend_->apply(schedule_.actions[next_++]);
    }

    Scenario scenario_;
    PolicyValues policy_;
    EventLog log_;
    GuestLog guest_;
    std::unique_ptr<Backend> backend_;
    Schedule schedule_;
    size_t next_ = 0;
};

const std::vector<Location> kNowhere{};

// ---- the backend and its migration plan ------------------------------------------------------------

// core/builtin_backends.cc registers the x86 backend; it virtualizes (it is compared with the oracle
// for forwarded flags) and carries its migration plan.
TEST(X86BackendInfo, IsTheRegisteredVirtualizingX86Backend) {
    const BackendInfo& info = x86_info();
    EXPECT_EQ(info.name, "x86");
    EXPECT_TRUE(info.virtualizing);
    ASSERT_NE(info.plan, nullptr);
    EXPECT_EQ(builtin_backends().expand_arch("x86", "--arch"), std::vector<std::string>{"x86"});
    EXPECT_EQ(builtin_backends().expand_arch("both", "--arch"), (std::vector<std::string>{"arm", "x86"}));
}

std::vector<std::pair<std::string, std::string>> names_and_neutrals(const std::vector<MigrationStep>& steps) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const MigrationStep& s : steps) out.emplace_back(s.name, s.neutral);
    return out;
}

// QEMU's stop sequence [reference §5.2: do_vm_stop pauses the vCPUs, then the VFIO state-change
// notifiers stop the devices, then cpu_synchronize_all_states (KVM_GET_LAPIC), then the device state
// and RAM]: each source sub-step is its own neutral step.
TEST(X86BackendPlan, SaveStepsAreQemusStopSequence) {
    using P = std::pair<std::string, std::string>;
    EXPECT_EQ(names_and_neutrals(plan().save_steps()), (std::vector<P>{{"stop_vcpus", "stop_vcpus"},
                                                                       {"stop_devices", "stop_devices"},
                                                                       {"get_lapic", "save_irqchip"},
                                                                       {"copy_memory", "copy_memory"}}));
    for (const MigrationStep& s : plan().save_steps()) {
        EXPECT_EQ(s.side, Side::Save) << s.name;
        EXPECT_FALSE(s.doc.empty()) << s.name;
    }
}

// The destination's sub-steps [reference §5.4]: KVM_SET_LAPIC is the irqchip; vfio_pci_load_config
// and the irq bypass are the devices; vfio_msix_enable (routes, irqfds, host IRQs and IRTEs) is the
// translation; then the devices and the vCPUs start (vm_start). Every neutral restore step has a sub-step.
TEST(X86BackendPlan, RestoreSubStepsMapToTheirNeutralSteps) {
    using P = std::pair<std::string, std::string>;
    EXPECT_EQ(names_and_neutrals(plan().restore_steps()), (std::vector<P>{{"set_lapic", "restore_irqchip"},
                                                                          {"vfio_load_config", "restore_devices"},
                                                                          {"msix_enable", "restore_translation"},
                                                                          {"irq_bypass_connect", "restore_devices"},
                                                                          {"set_msrs", "restore_irqchip"},
                                                                          {"start_devices", "start_devices"},
                                                                          {"start_vcpus", "start_vcpus"}}));
    for (const NeutralStep& n : neutral_steps()) {
        const auto& steps = n.side == Side::Save ? plan().save_steps() : plan().restore_steps();
        EXPECT_TRUE(std::any_of(steps.begin(), steps.end(), [&](const MigrationStep& s) {
            return s.neutral == n.name;
        })) << n.name;
    }
}

// The restore DAG: the MSI-X table comes with the config (vfio_pci_load_config before
// vfio_msix_enable), the bypass producer exists once SET_IRQS gave the eventfd, a vCPU runs once its
// LAPIC and MSRs are loaded, a device runs once its state is loaded. Nothing orders set_lapic against
// the VFIO steps: that freedom is the LAPIC-after-VFIO question [reference §5.4, §8 invariant 8].
// set_lapic -> set_msrs is the kernel ABI's rule only (Kata #13798; Cloud Hypervisor
// KvmVcpu::set_state: "SET_LAPIC must come before SET_MSRS"): KVM refuses nothing the other way.
TEST(X86BackendPlan, DagEdgesAreTheFiveDataRulesAndTheLapicBeforeMsrsAbiRule) {
    std::set<std::pair<std::string, std::string>> edges;
    for (const Dependency& d : plan().dependencies()) {
        edges.emplace(d.before, d.after);
        EXPECT_FALSE(d.reason.empty()) << d.before << " -> " << d.after;
    }
    EXPECT_EQ(edges, (std::set<std::pair<std::string, std::string>>{{"vfio_load_config", "msix_enable"},
                                                                    {"msix_enable", "irq_bypass_connect"},
                                                                    {"set_lapic", "start_vcpus"},
                                                                    {"vfio_load_config", "start_devices"},
                                                                    {"set_msrs", "start_vcpus"},
                                                                    {"set_lapic", "set_msrs"}}));
    EXPECT_EQ(plan().dependencies().size(), 6u);
    for (const Dependency& d : plan().dependencies())
        EXPECT_EQ(d.rule, d.before == "set_lapic" && d.after == "set_msrs" ? Rule::Abi : Rule::Data)
            << d.before << " -> " << d.after;
    auto reason = [](const std::string& before, const std::string& after) {
        for (const Dependency& d : plan().dependencies())
            if (d.before == before && d.after == after) return d.reason;
        return std::string();
    };
    EXPECT_NE(reason("vfio_load_config", "msix_enable").find("vfio_pci_load_config"), std::string::npos);
    EXPECT_NE(reason("vfio_load_config", "start_devices").find("vfio_load_state"), std::string::npos);
    EXPECT_NE(reason("set_lapic", "set_msrs").find("Kata #13798"), std::string::npos);
}

std::vector<std::string> step_names(const RestoreOrder& order) {
    std::vector<std::string> out;
    for (uint16_t i : order) out.push_back(plan().restore_steps()[i].name);
    return out;
}

// QEMU's order (MIG_PRI_APIC: the APIC section loads before PCI devices) is the first named order,
// what `migrate:` without `order:` runs, a linear extension of the DAG, and order 0 of `order: all`.
TEST(X86BackendPlan, QemuOrderIsTheDefaultAndAdmissible) {
    ASSERT_FALSE(plan().named_orders().empty());
    EXPECT_EQ(plan().named_orders().front().first, "qemu");
    EXPECT_EQ(step_names(plan().qemu_order()),
              (std::vector<std::string>{"set_lapic", "vfio_load_config", "msix_enable", "irq_bypass_connect",
                                        "set_msrs", "start_devices", "start_vcpus"}));
    EXPECT_EQ(plan().first_violation(plan().qemu_order()), nullptr);
    EXPECT_EQ(plan().resolve(OrderSpec{}, "x86"), plan().qemu_order());
    EXPECT_EQ(plan().order_at(0), plan().qemu_order());
    RunResult r = run_file(kSeed);
    EXPECT_EQ(r.order_names, std::vector<std::string>{"qemu"});
    EXPECT_EQ(r.restore_orders, std::vector<std::vector<std::string>>{step_names(plan().qemu_order())});
}

// MigrationPlan::count_orders / order_at over the DAG above: the VFIO chain vfio_load_config ->
// msix_enable -> irq_bypass_connect with start_devices after vfio_load_config (3 ways), merged with
// set_lapic and set_msrs (either way round: 2) before start_vcpus (C(7,3) = 35 ways): 210, as
// `irqdiff list steps` says. Every order_at(i) keeps every data edge, they are all different, and a
// brute force over all 5040 permutations finds the same 210. The `abi` set also keeps set_lapic ->
// set_msrs: half of them, 105 (docs/design.md "Order sets": x86's first narrowing rule).
TEST(X86BackendPlan, OrderAllIs210LinearExtensionsOfTheDataDagAndAbiKeeps105) {
    ASSERT_EQ(plan().count_orders(), 210u);
    std::set<RestoreOrder> seen;
    for (uint64_t i = 0; i < plan().count_orders(); ++i) {
        RestoreOrder order = plan().order_at(i);
        SCOPED_TRACE(::testing::Message() << "order " << i);
        ASSERT_EQ(order.size(), 7u);
        for (const Dependency& d : plan().dependencies()) {
            if (d.rule == Rule::Abi) continue;
            auto pos = [&](const std::string& n) {
                return std::find(order.begin(), order.end(), static_cast<uint16_t>(*plan().find_restore(n))) -
                       order.begin();
            };
            EXPECT_LT(pos(d.before), pos(d.after)) << d.reason;
        }
        seen.insert(order);
    }
    EXPECT_EQ(seen.size(), 210u);

    RestoreOrder perm(7);
    std::iota(perm.begin(), perm.end(), uint16_t{0});
    std::set<RestoreOrder> admissible;
    do {
        if (!plan().first_violation(perm)) admissible.insert(perm);
    } while (std::next_permutation(perm.begin(), perm.end()));
    EXPECT_EQ(admissible, seen);

    const OrderSet* abi = plan().find_order_set("abi");
    ASSERT_NE(abi, nullptr);
    EXPECT_EQ(abi->count(), 105u);
    const auto lapic = static_cast<uint16_t>(*plan().find_restore("set_lapic"));
    const auto msrs = static_cast<uint16_t>(*plan().find_restore("set_msrs"));
    uint64_t lapic_first = 0;
    for (const RestoreOrder& o : seen) {
        const bool keeps = std::find(o.begin(), o.end(), lapic) < std::find(o.begin(), o.end(), msrs);
        lapic_first += keeps;
        EXPECT_EQ(abi->why_not(o).empty(), keeps);
        if (!keeps) {
            EXPECT_NE(abi->why_not(o).find("set_lapic before set_msrs"), std::string::npos);
        }
    }
    EXPECT_EQ(lapic_first, 105u);
}

// The pre-2025 QEMU order is a named order and admissible: the VFIO config, MSI-X and bypass before
// KVM_SET_LAPIC [reference §5.4, §7 item 8]. So is the order that starts the device before the LAPIC
// is loaded (scenarios/x86/post_before_set_lapic.yaml): the DAG does not forbid it.
TEST(X86BackendPlan, VfioAndBypassBeforeSetLapicAreExpressible) {
    OrderSpec named;
    named.name = "lapic_after_vfio";
    EXPECT_EQ(step_names(plan().resolve(named, "x86")),
              (std::vector<std::string>{"vfio_load_config", "msix_enable", "irq_bypass_connect", "set_lapic",
                                        "set_msrs", "start_devices", "start_vcpus"}));
    OrderSpec early_device;
    early_device.kind = OrderSpec::Kind::Explicit;
    early_device.steps = {"vfio_load_config", "msix_enable", "irq_bypass_connect", "start_devices",
                          "set_lapic",        "set_msrs",    "start_vcpus"};
    EXPECT_EQ(step_names(plan().resolve(early_device, "x86")), early_device.steps);
}

// ---- the seed scenario under the defaults ----------------------------------------------------------

// scenarios/seed: nic.0 is pending for the masked vCPU 0 when the VM stops; KVM_GET_LAPIC carries it
// in the saved vIRR and KVM_SET_LAPIC restores it [reference §5.2, §5.3]. nic.1 is raised while
// the destination restores and waits in the RESUMING device. Both delivered once, both posted by
// VT-d (forwarded), and the IRTEs on the destination are posted (QEMU's order loads the APIC first).
TEST(X86BackendSeed, DefaultsDeliverEverySourceOnceByPosting) {
    RunResult r = run_file(kSeed);
    EXPECT_EQ(r.arch, "x86");
    EXPECT_EQ(r.policy.to_string(),
              "x86.set_lapic_clears_pir=before_load,x86.posting=on,x86.ipiv=off,x86.guest_apic_dest=logical,"
              "x86.sn_on_put=always,x86.irqfd_deassign=fixed,x86.vfio_vector_enable=all_at_once,"
              "x86.cpr_detach=before_save,x86.vcpu_events_nmi=count");
    for (std::string_view s : {"nic.0", "nic.1"}) {
        SCOPED_TRACE(s);
        const SourceOutcome& o = outcome(r, s);
        EXPECT_EQ(o.outcome, Outcome::DeliveredOnce);
        EXPECT_EQ(o.fired, 1u);
        EXPECT_EQ(o.delivered, 1u);
        EXPECT_EQ(o.forwarded, std::optional<bool>(true));
        EXPECT_TRUE(o.held.empty());
    }
    EXPECT_TRUE(r.violations.empty());
    EXPECT_TRUE(r.expectations_met);
    EXPECT_EQ(r.identities, (std::vector<std::string>{"MSI 0xfee01004/0x21 -> IRTE 0 posted -> vector 0x21 (vcpu0)",
                                                      "MSI 0xfee02004/0x21 -> IRTE 1 posted -> vector 0x21 (vcpu1)"}));
}

// Where nic.0 lives [reference §3.1, §5.2, §5.3]: vCPU 0 is in guest mode with RFLAGS.IF=0, so the
// notification is recognised at once and posted-interrupt processing moves PIR into vIRR (no PIR
// stop; post_while_preempted below shows one). KVM_GET_LAPIC copies vIRR into the image (saved_lapic,
// read by nobody until KVM_SET_LAPIC), the switch-over leaves only the image, KVM_SET_LAPIC puts it in
// the destination's vIRR, and the unmasked vCPU takes it.
TEST(X86BackendSeed, Nic0TravelsVirrSavedLapicVirr) {
    RunResult r = run_file(kSeed);
    EXPECT_EQ(timeline(r, "nic.0"), (std::vector<std::string>{
                                        "fire nic.0 -> x86.virr[vcpu0]",
                                        "save:get_lapic -> x86.virr[vcpu0] x86.saved_lapic[vcpu0] (not live)",
                                        "save:copy_memory -> x86.saved_lapic[vcpu0] (not live)",
                                        "restore:set_lapic -> x86.virr[vcpu0]",
                                        "run all -> nowhere",
                                    }));
    ASSERT_EQ(r.deliveries.size(), 2u);
    EXPECT_EQ(r.deliveries[0].source, 0u);
    EXPECT_EQ(r.deliveries[0].vcpu, 0u);
    EXPECT_EQ(r.deliveries[0].action, r.schedule.size() - 1);  // the last `run all`, after the unmask
    EXPECT_EQ(r.deliveries[0].path, DeliveryPath::Direct);
}

// nic.1 [reference §5.4; QEMU vm_start]: raised `before: start_vcpus`. QEMU's vm_prepare_start sets
// the devices RUNNING (vfio_vmstate_change) before resume_all_vcpus, so the device is already
// running: it sends the MSI at once through the posted IRTE into vCPU 1's PIR (the vCPU is not
// loaded yet, so no notification is processed), and start_vcpus' vmx_vcpu_pi_load / PIR sync moves
// it into vIRR.
TEST(X86BackendSeed, Nic1IsPostedIntoThePirOfTheStoppedVcpuAfterStartDevices) {
    RunResult r = run_file(kSeed);
    EXPECT_EQ(timeline(r, "nic.1"), (std::vector<std::string>{
                                        "fire nic.1 -> x86.pir[vcpu1]",
                                        "restore:start_vcpus -> x86.virr[vcpu1]",
                                        "run all -> nowhere",
                                    }));
    const size_t started = action_index(r, "restore:start_devices");
    const size_t fired = action_index(r, "fire nic.1");
    EXPECT_LT(started, fired) << "the devices run before the vCPUs (vm_prepare_start)";
    EXPECT_TRUE(events(r, x86::tp::kDeviceHold, {iarg("vector", 1)}).empty()) << "a running device holds nothing";
    std::vector<const Event*> sent =
        events(r, {x86::tp::kDeviceMsi, x86::tp::kDeviceMsiLostError}, {iarg("vector", 1)});
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0]->action, fired);
    std::vector<const Event*> posts = events(r, x86::tp::kIommuPost);
    EXPECT_EQ(std::count_if(posts.begin(), posts.end(), [&](const Event* e) { return e->action == fired; }), 1);
}

// vfio_pci_load_config restores the MSI-X table the source's guest programmed, and the later
// sub-steps build the host side from it [reference §5.1 (IRTEs are not migrated), §5.4]: after the
// switch-over the destination's table is empty, vfio_load_config brings the guest's message back,
// msix_enable gives it a host IRQ with a remapped IRTE, and irq_bypass_connect posts it.
TEST(X86BackendDevice, RestoreSubStepsRebuildTheIrteFromTheLoadedMsixTable) {
    Stepper t(load_scenario(kSeed, builtin_backends().catalogue()));
    t.through("restore:set_lapic");
    EXPECT_EQ(t.identity("nic.0"), "MSI 0x0/0x0 -> no host IRQ yet -> vector 0x21 (vcpu0)");
    t.through("restore:vfio_load_config");
    EXPECT_EQ(t.identity("nic.0"), "MSI 0xfee01004/0x21 -> no host IRQ yet -> vector 0x21 (vcpu0)");
    t.through("restore:msix_enable");
    EXPECT_EQ(t.identity("nic.0"),
              "MSI 0xfee01004/0x21 -> IRTE 0 remapped to host vector 0x30 -> kvm_set_msi -> "
              "vector 0x21 (vcpu0)");
    t.through("restore:irq_bypass_connect");
    EXPECT_EQ(t.identity("nic.0"), "MSI 0xfee01004/0x21 -> IRTE 0 posted -> vector 0x21 (vcpu0)");
    EXPECT_EQ(t.identity("nic.1"), "MSI 0xfee02004/0x21 -> IRTE 1 posted -> vector 0x21 (vcpu1)");
}

// ---- every admissible restore order under every x86 policy -------------------------------------------

/// nic.0 pending for the masked vCPU 0 across the migration (the seed's), nic.1 raised on the
/// destination right after start_devices (the step is set per order: before it the device is
/// RESUMING and raises nothing, issue 15 §1.5), and vCPU 0's
/// armed LAPIC timer whose deadline passes before KVM_SET_LAPIC.
const std::string kSweep =
    "name: sweep\n"
    "arch: x86\n"
    "vm: {vcpus: 2}\n"
    "devices:\n"
    "  - {name: nic, vectors: 2, passthrough: true}\n"
    "  - {name: timer, kind: timer}\n"
    "routes:\n"
    "  - {source: nic.0, vcpu: 0}\n"
    "  - {source: nic.1, vcpu: 1}\n"
    "  - {source: timer.0, vcpu: 0}\n"
    "steps:\n"
    "  - run: all\n"
    "  - mask: {vcpu: 0}\n"
    "  - fire: nic.0\n"
    "  - migrate:\n"
    "      fire:\n"
    "        - {source: nic.1, before: start_devices}\n"
    "        - {source: timer.0, before: set_lapic}\n"
    "  - unmask: {vcpu: 0}\n"
    "  - run: all\n";

struct PolicyCell {
    const char* clear;    // x86.set_lapic_clears_pir
    const char* posting;  // x86.posting
    const char* dest;     // x86.guest_apic_dest
};

void PrintTo(const PolicyCell& c, std::ostream* os) { *os << c.clear << "/" << c.posting << "/" << c.dest; }

class X86BackendEveryOrder : public ::testing::TestWithParam<PolicyCell> {};

// reference §8 invariants 2, 3 and 8, §9, over the 210 linear extensions of the restore DAG (the `data`
// set; set_msrs anywhere before start_vcpus: a one-shot timer has no TSC deadline to lose):
//  - no source is ever delivered twice, no violation, no crash;
//  - nic.0 travels in the saved vIRR, which KVM_SET_LAPIC's PIR clear never touches: delivered once
//    in every order, posted by VT-d iff x86.posting=on;
//  - nic.1 (raised right after start_devices; orders that end with start_devices leave no such
//    point and are skipped) is lost exactly when it is sent before KVM_SET_LAPIC (raised, and
//    msix_enable done, before set_lapic): its MSI then lands in the reset PID (zeroed by SET_LAPIC under
//    either clear point) or, remapped, reaches a LAPIC that is still software-disabled or matches no
//    logical ID. Otherwise it is held and sent after SET_LAPIC: delivered once, and posted by VT-d iff
//    posting is on, the bypass connected before the MSI was sent, and the APIC map resolved the route
//    at connect time (physical IDs at reset do; flat logical ones only after SET_LAPIC);
//  - timer.0 fires inside KVM_SET_LAPIC (8e6ed96cdd50) into PIR: lost iff posting is on and PIR is
//    cleared after the load (967235d32032; fixed by 9cfec6d097c6), whatever the order.
TEST_P(X86BackendEveryOrder, OutcomesFollowWhatEachOrderLetsTheMechanismsDo) {
    const PolicyCell& p = GetParam();
    const bool posting = std::string_view(p.posting) == "on";
    const bool after_load = std::string_view(p.clear) == "after_load";
    const bool physical = std::string_view(p.dest) == "physical";
    const Scenario base = parse_scenario(kSweep, builtin_backends().catalogue(), "sweep.yaml");
    const size_t migrate = 3;
    ASSERT_EQ(base.steps[migrate].kind, StepKind::Migrate);
    ASSERT_EQ(plan().count_orders(), 210u);

    uint64_t checked = 0;
    for (uint64_t i = 0; i < plan().count_orders(); ++i) {
        const std::vector<std::string> names = step_names(plan().order_at(i));
        auto pos = [&](std::string_view n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
        std::string joined;
        for (const std::string& n : names) joined += (joined.empty() ? "" : ",") + n;
        SCOPED_TRACE(joined);
        const auto raised = pos("start_devices") + 1;  // nic.1 is raised before this step
        if (static_cast<size_t>(raised) >= names.size()) continue;
        ++checked;
        Scenario s = base;
        s.steps[migrate].fires[0].before = names.at(static_cast<size_t>(raised));
        RunResult r = run(s,
                          {setting("x86.set_lapic_clears_pir", p.clear), setting("x86.posting", p.posting),
                           setting("x86.guest_apic_dest", p.dest)},
                          joined);
        ASSERT_EQ(r.restore_orders.at(0), names);

        EXPECT_TRUE(r.violations.empty());
        for (const SourceOutcome& o : r.outcomes) {
            SCOPED_TRACE(r.source_names[o.source]);
            EXPECT_NE(o.outcome, Outcome::Duplicated);
            EXPECT_LE(o.delivered, 1u);
            EXPECT_EQ(o.fired, 1u);
        }

        const SourceOutcome& nic0 = outcome(r, "nic.0");
        EXPECT_EQ(nic0.outcome, Outcome::DeliveredOnce);
        EXPECT_EQ(nic0.forwarded, std::optional<bool>(posting));

        const auto set_lapic = static_cast<uint32_t>(action_index(r, "restore:set_lapic"));
        // Sent where it is raised once msix_enable has run, else at msix_enable.
        const bool enabled_first = pos("msix_enable") < raised;
        const auto sent_at = enabled_first ? raised : pos("msix_enable");
        const bool sent_before_set_lapic = enabled_first ? raised <= pos("set_lapic") : sent_at < pos("set_lapic");
        std::vector<const Event*> sent =
            events(r, {x86::tp::kDeviceMsi, x86::tp::kDeviceMsiLostError}, {iarg("vector", 1)});
        ASSERT_EQ(sent.size(), 1u);
        EXPECT_EQ(sent[0]->action < set_lapic, sent_before_set_lapic);
        const SourceOutcome& nic1 = outcome(r, "nic.1");
        if (sent_before_set_lapic) {
            EXPECT_EQ(nic1.outcome, Outcome::Lost);
            EXPECT_TRUE(nic1.held.empty());
            // Posted: SET_LAPIC zeroed vCPU 1's PIR. Remapped: kvm_set_msi found no APIC to take it.
            auto at = [&](const std::vector<const Event*>& es, uint32_t action, std::optional<EventKind> kind) {
                return std::any_of(es.begin(), es.end(), [&](const Event* e) {
                    return e->action == action && (!kind || e->kind == *kind) &&
                           arg_of(*e, "dropped") != ArgValue(int64_t{0});
                });
            };
            const bool zeroed = at(events(r, x86::tp::kKvmApicvPreStateRestore, {iarg("vcpu", 1)}), set_lapic, {}) ||
                                at(events(r, x86::tp::kKvmApicvPostStateRestore, {iarg("vcpu", 1)}), set_lapic, {});
            const bool refused =
                at(events(r, {x86::tp::kKvmAcceptIrqIgnored, x86::tp::kKvmAcceptIrq}), sent[0]->action,
                   EventKind::Ignored) ||
                at(events(r, {x86::tp::kKvmSetMsi, x86::tp::kKvmSetMsiError}), sent[0]->action, EventKind::GuestError);
            EXPECT_NE(zeroed, refused);
        } else {
            const bool posted_at_connect = posting && (physical || pos("set_lapic") < pos("irq_bypass_connect"));
            EXPECT_EQ(nic1.outcome, Outcome::DeliveredOnce);
            EXPECT_EQ(nic1.forwarded, std::optional<bool>(posted_at_connect && pos("irq_bypass_connect") < sent_at));
        }
        // kvm_pi_update_irte at irq_bypass_connect posts both IRTEs or neither [reference §4.5].
        const bool irte_posted = posting && (physical || pos("set_lapic") < pos("irq_bypass_connect"));
        const size_t connect = action_index(r, "restore:irq_bypass_connect");
        std::vector<const Event*> updates = events(r, x86::tp::kKvmPiUpdateIrte, {EventArg{"posted", ArgValue(true)}});
        EXPECT_EQ(std::count_if(updates.begin(), updates.end(), [&](const Event* e) { return e->action == connect; }),
                  irte_posted ? 2 : 0);

        const SourceOutcome& timer = outcome(r, "timer.0");
        const bool timer_lost = posting && after_load;
        EXPECT_EQ(timer.outcome, timer_lost ? Outcome::Lost : Outcome::DeliveredOnce);
        std::vector<const Event*> dropped = events(r, x86::tp::kKvmApicvPostStateRestore, {iarg("vcpu", 0)});
        bool timer_dropped = std::any_of(dropped.begin(), dropped.end(), [&](const Event* e) {
            return e->action == set_lapic && arg_of(*e, "dropped") != ArgValue(int64_t{0});
        });
        EXPECT_EQ(timer_dropped, timer_lost);
    }
    EXPECT_GT(checked, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    ClearPointsPostingAndGuestDestinations, X86BackendEveryOrder,
    ::testing::Values(PolicyCell{"before_load", "on", "logical"}, PolicyCell{"before_load", "on", "physical"},
                      PolicyCell{"before_load", "off", "logical"}, PolicyCell{"before_load", "off", "physical"},
                      PolicyCell{"after_load", "on", "logical"}, PolicyCell{"after_load", "on", "physical"},
                      PolicyCell{"after_load", "off", "logical"}, PolicyCell{"after_load", "off", "physical"}),
    [](const ::testing::TestParamInfo<PolicyCell>& info) {
        return std::string(info.param.clear) + "_" + info.param.posting + "_" + info.param.dest;
    });

// ---- the known cases, scenario by scenario ------------------------------------------------------------

class X86BackendClearPoint : public ::testing::TestWithParam<const char*> {};

// 9cfec6d097c6 ("KVM: x86: Fix lapic timer interrupt lost after loading a snapshot", reference §7
// item 2, §8 invariant 3): the armed timer's deadline passes while its state travels (saved_timer,
// not live: no LAPIC runs it); KVM_SET_LAPIC restarts it and fires it at once, posting into PIR. With
// the clear after the load (967235d32032) apicv_post_state_restore then drops that bit: lost; with
// the clear before the load it survives, and the first entry moves it to vIRR.
TEST_P(X86BackendClearPoint, TimerExpiringInsideSetLapicSurvivesOnlyTheBeforeLoadClear) {
    const bool after = std::string_view(GetParam()) == "after_load";
    RunResult r = run_file(path_of("x86/timer_after_load.yaml"), {setting("x86.set_lapic_clears_pir", GetParam())});
    const size_t set_lapic = action_index(r, "restore:set_lapic");
    std::vector<const Event*> expired = events(r, {x86::tp::kKvmTimerExpired, x86::tp::kKvmTimerExpiredMaskedIgnored});
    ASSERT_FALSE(expired.empty());
    EXPECT_EQ(expired.back()->action, set_lapic);
    std::vector<const Event*> clears =
        events(r, after ? x86::tp::kKvmApicvPostStateRestore : x86::tp::kKvmApicvPreStateRestore, {iarg("vcpu", 0)});
    ASSERT_EQ(clears.size(), 1u);
    EXPECT_EQ(clears[0]->action, set_lapic);
    EXPECT_EQ(arg_of(*clears[0], "dropped"), ArgValue(int64_t{after ? 1 : 0}));
    const SourceOutcome& o = outcome(r, "timer.0");
    EXPECT_EQ(o.outcome, after ? Outcome::Lost : Outcome::DeliveredOnce);
    std::vector<std::string> want = {"fire timer.0 -> x86.saved_timer[vcpu0] (not live)"};
    if (after) {
        want.push_back("restore:set_lapic -> nowhere");
    } else {
        want.push_back("restore:set_lapic -> x86.pir[vcpu0]");
        want.push_back("restore:start_vcpus -> x86.virr[vcpu0]");
        want.push_back("run all -> nowhere");
    }
    EXPECT_EQ(timeline(r, "timer.0"), want);
}

// scenarios/x86/timer_deadline_ahead.yaml (issue 15 §1.4): the one-shot is armed and its deadline is
// still ahead when the VM migrates. QEMU's kvm_put_apic_state writes no TMCCT, so kvm_apic_set_state's
// restart (set_target_expiration, 8e6ed96cdd50) gives it deadline 0 and it expires inside
// KVM_SET_LAPIC, posting into PIR. Before-load (9cfec6d097c6) it survives and the guest takes it at its
// first run on the destination, before the deadline; the deadline then finds no timer
// (TIMER.deadline ignored) and the oracle's one delivery, at the last run, is matched: delivered-once,
// early (the oracle has no "early" flag). After-load (967235d32032) it is dropped: lost for good.
TEST_P(X86BackendClearPoint, TimerWhoseDeadlineHasNotPassedFiresEarlyAtSetLapic_8e6ed96cdd50) {
    const bool after = std::string_view(GetParam()) == "after_load";
    RunResult r = run_file(path_of("x86/timer_deadline_ahead.yaml"), {setting("x86.set_lapic_clears_pir", GetParam())});
    const size_t set_lapic = action_index(r, "restore:set_lapic");
    const size_t fire = action_index(r, "fire timer.0");
    std::vector<const Event*> restart =
        events(r, x86::tp::kKvmTimerRestart, {sarg("restart", "expired"), iarg("tmcct", 0)});
    ASSERT_EQ(restart.size(), 1u);
    EXPECT_EQ(restart[0]->action, set_lapic);
    std::vector<const Event*> expired = events(r, x86::tp::kKvmTimerExpired);
    ASSERT_EQ(expired.size(), 1u);
    EXPECT_EQ(expired[0]->action, set_lapic);
    std::vector<const Event*> deadline = events(r, {x86::tp::kTimerDeadline, x86::tp::kTimerDeadlineEarlyIgnored});
    ASSERT_EQ(deadline.size(), 1u);
    EXPECT_EQ(deadline[0]->action, fire);
    EXPECT_EQ(deadline[0]->kind, EventKind::Ignored);

    const SourceOutcome& o = outcome(r, "timer.0");
    EXPECT_EQ(o.fired, 1u);
    EXPECT_EQ(o.expected, 1u);
    EXPECT_FALSE(o.late);
    if (after) {
        EXPECT_EQ(o.outcome, Outcome::Lost);
        EXPECT_TRUE(r.deliveries.empty());
        EXPECT_TRUE(timeline(r, "timer.0").empty());  // posted and dropped inside one action
    } else {
        EXPECT_EQ(o.outcome, Outcome::DeliveredOnce);
        ASSERT_EQ(r.deliveries.size(), 1u);
        EXPECT_EQ(r.deliveries[0].action, action_index(r, "restore:start_vcpus") + 1);  // before the deadline
        EXPECT_LT(r.deliveries[0].action, fire);
        EXPECT_EQ(timeline(r, "timer.0"),
                  (std::vector<std::string>{"restore:set_lapic -> x86.pir[vcpu0]",
                                            "restore:start_vcpus -> x86.virr[vcpu0]", "run all -> nowhere"}));
    }
}

// scenarios/x86/timer_while_paused.yaml (issue 15 §1.4): the deadline passes after stop_vcpus. The
// hrtimer's apic_timer_expired finds the vCPU out of KVM_RUN and only counts the tick in
// lapic_timer.pending (live on the source: its next KVM_RUN would inject it). KVM_GET_LAPIC's image
// has no tick in its IRR (the stream holds only the one-shot's TMICT: saved_timer) and nothing
// migrates the pending count, so the source's tick is gone with the source; KVM_SET_LAPIC's restart
// from QEMU's zero TMCCT fires the one-shot again (8e6ed96cdd50): on time, delivered once before-load,
// dropped after-load.
TEST_P(X86BackendClearPoint, DeadlineWhilePausedIsOnlyPendingAndSetLapicFiresItAgain_apic_timer_expired) {
    const bool after = std::string_view(GetParam()) == "after_load";
    RunResult r = run_file(path_of("x86/timer_while_paused.yaml"), {setting("x86.set_lapic_clears_pir", GetParam())});
    const size_t fire = action_index(r, "fire timer.0");
    std::vector<const Event*> pending = events(r, x86::tp::kKvmTimerPending, {sarg("run", "stopped")});
    ASSERT_EQ(pending.size(), 1u);
    EXPECT_EQ(pending[0]->action, fire);
    EXPECT_TRUE(events(r, x86::tp::kKvmInjectPendingTimer).empty());  // the source never runs again
    EXPECT_EQ(events(r, x86::tp::kKvmTimerExpired).size(), 2u);       // on the source, then in SET_LAPIC
    std::vector<std::string> want = {
        "fire timer.0 -> x86.timer_pending[vcpu0]",
        "save:get_lapic -> x86.timer_pending[vcpu0] x86.saved_timer[vcpu0] (not live)",
        "save:copy_memory -> x86.saved_timer[vcpu0] (not live)",
    };
    if (after) {
        want.push_back("restore:set_lapic -> nowhere");
    } else {
        want.push_back("restore:set_lapic -> x86.pir[vcpu0]");
        want.push_back("restore:start_vcpus -> x86.virr[vcpu0]");
        want.push_back("run all -> nowhere");
    }
    EXPECT_EQ(timeline(r, "timer.0"), want);
    const SourceOutcome& o = outcome(r, "timer.0");
    EXPECT_EQ(o.outcome, after ? Outcome::Lost : Outcome::DeliveredOnce);
    EXPECT_FALSE(o.late);
}

// The deadline passes while the vCPU runs, before the VM stops: the hrtimer's tick is pending, the
// kick's exit injects it (vcpu_run -> kvm_inject_pending_timer_irqs) and the re-entry syncs it into
// vIRR, where KVM_GET_LAPIC saves it; TMICT is unchanged, so KVM_SET_LAPIC's restart from QEMU's
// zero TMCCT expires the same one-shot again (8e6ed96cdd50), but that second expiry is the same
// vector: before-load it lands in PIR and the first entry's sync merges it with the restored vIRR
// bit, after-load it is dropped and the restored bit remains. One tick either way, and no early one
// (the arming's deadline had passed).
TEST_P(X86BackendClearPoint, TimerExpiredBeforeTheStopCoalescesWithSetLapicsSecondExpiry_8e6ed96cdd50) {
    const std::string yaml =
        "name: timer-before-stop\n"
        "arch: x86\n"
        "vm: {vcpus: 1}\n"
        "devices:\n"
        "  - {name: timer, kind: timer}\n"
        "routes:\n"
        "  - {source: timer.0, vcpu: 0}\n"
        "steps:\n"
        "  - run: all\n"
        "  - fire: timer.0\n"
        "  - migrate:\n"
        "  - run: all\n";
    RunResult r = run(parse_scenario(yaml, builtin_backends().catalogue(), "timer_before_stop.yaml"),
                      {setting("x86.set_lapic_clears_pir", GetParam())});
    EXPECT_EQ(events(r, x86::tp::kKvmInjectPendingTimer).size(), 1u);
    std::vector<const Event*> expired = events(r, x86::tp::kKvmTimerExpired);
    ASSERT_EQ(expired.size(), 2u);
    EXPECT_EQ(expired[1]->action, action_index(r, "restore:set_lapic"));
    EXPECT_TRUE(events(r, x86::tp::kTimerDeadlineEarlyIgnored).empty());
    const SourceOutcome& o = outcome(r, "timer.0");
    EXPECT_EQ(o.outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(o.delivered, 1u);
    EXPECT_TRUE(o.held.empty());
}

// scenarios/x86/post_before_set_lapic.yaml [reference §8 invariant 2, §9]: with physical
// destinations the reset APIC map resolves the route, so irq_bypass_connect posts the IRTE; the
// device, started before KVM_SET_LAPIC, posts into the reset PID (SN=1: PIR only, no notification),
// a place nothing will harvest (the LAPIC is not loaded: not live); KVM_SET_LAPIC zeroes PIR under
// either clear point, so the interrupt is lost.
TEST_P(X86BackendClearPoint, PostBetweenBypassAndSetLapicIsLost) {
    RunResult r =
        run_file(path_of("x86/post_before_set_lapic.yaml"), {setting("x86.set_lapic_clears_pir", GetParam())});
    EXPECT_EQ(outcome(r, "nic.0").outcome, Outcome::Lost);
    EXPECT_EQ(timeline(r, "nic.0"),
              (std::vector<std::string>{"fire nic.0 -> x86.pir[vcpu0] (not live)", "restore:set_lapic -> nowhere"}));
    std::vector<const Event*> post =
        events(r, x86::tp::kIommuPost, {EventArg{"sn", ArgValue(true)}, EventArg{"notify", ArgValue(false)}});
    ASSERT_EQ(post.size(), 1u);
    EXPECT_EQ(post[0]->action, action_index(r, "fire nic.0"));
    const bool after = std::string_view(GetParam()) == "after_load";
    std::vector<const Event*> clears =
        events(r, after ? x86::tp::kKvmApicvPostStateRestore : x86::tp::kKvmApicvPreStateRestore, {iarg("dropped", 1)});
    ASSERT_EQ(clears.size(), 1u);
    EXPECT_EQ(clears[0]->action, action_index(r, "restore:set_lapic"));
}

INSTANTIATE_TEST_SUITE_P(BothClearPoints, X86BackendClearPoint, ::testing::Values("before_load", "after_load"));

// scenarios/x86/lapic_after_vfio.yaml [reference §5.4, §7 item 8]: in the pre-2025 QEMU order the
// bypass connects while the LAPICs have their reset LDR 0, so the flat logical routes stay remapped;
// nic.1 goes host vector -> vfio_msihandler -> irqfd -> kvm_set_msi and is delivered once but not by
// VT-d. The same run in QEMU's order posts it.
TEST(X86BackendKnownCases, LapicAfterVfioLosesPostingNotInterrupts) {
    RunResult old_qemu = run_file(path_of("x86/lapic_after_vfio.yaml"));
    EXPECT_EQ(outcome(old_qemu, "nic.0").outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(outcome(old_qemu, "nic.0").forwarded, std::optional<bool>(true));  // posted on the source
    EXPECT_EQ(outcome(old_qemu, "nic.1").outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(outcome(old_qemu, "nic.1").forwarded, std::optional<bool>(false));
    EXPECT_EQ(events(old_qemu, x86::tp::kKvmPiUpdateIrte,
                     {EventArg{"posted", ArgValue(false)}, sarg("why", "destination is not one vCPU in the APIC map")})
                  .size(),
              2u);
    const size_t fired = action_index(old_qemu, "fire nic.1");
    std::vector<const Event*> soft = events(old_qemu, x86::tp::kKvmSetMsi, {sarg("via", "irqfd")});
    EXPECT_EQ(std::count_if(soft.begin(), soft.end(), [&](const Event* e) { return e->action == fired; }), 1);

    RunResult fixed =
        run(load_scenario(path_of("x86/lapic_after_vfio.yaml"), builtin_backends().catalogue()), {}, "qemu");
    EXPECT_EQ(outcome(fixed, "nic.1").outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(outcome(fixed, "nic.1").forwarded, std::optional<bool>(true));
}

// scenarios/x86/halted_across_migration.yaml (issue 15 §1.6; QEMU kvm_get_mp_state, vmstate_x86_cpu
// env.mp_state, kvm_put_mp_state): vCPU 0 halted at the save is HALTED on the destination, so its
// first KVM_RUN blocks (vcpu_block) with the wakeup vector in its PID; the run before the post finds
// it still waiting, and nic.0's post wakes it through pi_wakeup_handler.
TEST(X86BackendKnownCases, HaltedVcpuIsRestoredHalted_kvm_put_mp_state) {
    RunResult r = run_file(path_of("x86/halted_across_migration.yaml"));
    const size_t start = action_index(r, "restore:start_vcpus");
    const size_t fire = action_index(r, "fire nic.0");
    std::vector<const Event*> mp = events(r, x86::tp::kKvmSetMpState, {iarg("vcpu", 0), sarg("mp_state", "halted")});
    ASSERT_EQ(mp.size(), 1u);
    // KVM_SET_MP_STATE comes with the other registers from kvm_arch_put_registers (set_msrs).
    EXPECT_EQ(mp[0]->action, action_index(r, "restore:set_msrs"));
    std::vector<const Event*> waiting = events(r, x86::tp::kGuestStillWaiting, {iarg("vcpu", 0)});
    ASSERT_EQ(waiting.size(), 1u);
    EXPECT_EQ(waiting[0]->action, start + 1);
    std::vector<const Event*> wakeup = events(r, x86::tp::kKvmPiWakeupHandler, {iarg("cpu", 0)});
    ASSERT_EQ(wakeup.size(), 1u);
    EXPECT_EQ(wakeup[0]->action, fire);
    EXPECT_EQ(events(r, x86::tp::kKvmWakeUp, {iarg("vcpu", 0)}).size(), 1u);
    EXPECT_EQ(outcome(r, "nic.0").outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(outcome(r, "nic.0").forwarded, std::optional<bool>(true));
}

// ---- liveness of each place ------------------------------------------------------------------------

// A PIR bit posted under SN=1 [reference §4.3, §8 invariant 5]: the preempted vCPU's PID suppresses
// the notification (ON stays 0), but the next vmx_vcpu_pi_load re-sets ON, so the bit is live; that
// load is KVM_GET_LAPIC's, which folds it into the saved vIRR.
TEST(X86BackendLiveness, PirPostedUnderSnIsLive) {
    RunResult r = run_file(path_of("x86/post_while_preempted.yaml"));
    EXPECT_EQ(timeline(r, "nic.0"), (std::vector<std::string>{
                                        "fire nic.0 -> x86.pir[vcpu0]",
                                        "save:get_lapic -> x86.virr[vcpu0] x86.saved_lapic[vcpu0] (not live)",
                                        "save:copy_memory -> x86.saved_lapic[vcpu0] (not live)",
                                        "restore:set_lapic -> x86.virr[vcpu0]",
                                        "run all -> nowhere",
                                    }));
    EXPECT_EQ(
        events(r, x86::tp::kIommuPost, {EventArg{"sn", ArgValue(true)}, EventArg{"notify", ArgValue(false)}}).size(),
        1u);
    EXPECT_EQ(outcome(r, "nic.0").outcome, Outcome::DeliveredOnce);
}

// A blocked vCPU's PID has NV = POSTED_INTR_WAKEUP_VECTOR [reference §4.3]: the post sets ON and
// notifies, pi_wakeup_handler wakes the vCPU, whose kvm_vcpu_check_block harvests PIR into vIRR
// (reference §4.2): live there until the entry delivers it. A post after the VM paused (SN=1) stays
// in PIR, live because the next vmx_vcpu_pi_load re-sets ON.
TEST(X86BackendLiveness, PostToABlockedVcpuIsLiveFromTheWakeOn) {
    RunResult r = run_file(path_of("x86/post_while_blocked.yaml"));
    std::vector<std::string> nic0 = timeline(r, "nic.0");
    ASSERT_GE(nic0.size(), 2u);
    EXPECT_EQ(nic0[0], "fire nic.0 -> x86.virr[vcpu0]");
    EXPECT_EQ(nic0[1], "run vcpu0 -> nowhere");
    std::vector<std::string> nic1 = timeline(r, "nic.1");
    ASSERT_FALSE(nic1.empty());
    EXPECT_EQ(nic1[0], "fire nic.1 -> x86.pir[vcpu1]");
    EXPECT_EQ(events(r, x86::tp::kIommuPost, {EventArg{"notify", ArgValue(true)}}).size(), 1u);
    EXPECT_EQ(events(r, {x86::tp::kKvmWakeUpStillBlocked, x86::tp::kKvmWakeUp}, {iarg("vcpu", 0)}).size(), 1u);
    EXPECT_EQ(outcome(r, "nic.0").outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(outcome(r, "nic.1").outcome, Outcome::DeliveredOnce);
}

// A PIR bit whose vector is already in vIRR is not a second interrupt [reference §9 "Duplicated":
// PIR and IRR are bitmaps]: the harvest merges them, so only vIRR is live. vCPU 0 runs masked (the
// first post goes straight to vIRR), is preempted (SN=1), and the second post stays in PIR.
TEST(X86BackendLiveness, PirOfAVectorAlreadyInVirrIsNotLive) {
    Scenario s = parse_scenario(
        "name: pir-and-virr\n"
        "arch: x86\n"
        "vm: {vcpus: 1}\n"
        "devices: [{name: nic, vectors: 1, passthrough: true}]\n"
        "routes: [{source: nic.0, vcpu: 0}]\n"
        "steps: [{run: all}, {mask: {vcpu: 0}}, {fire: nic.0}, {preempt: {vcpu: 0}}, {fire: nic.0},\n"
        "        {unmask: {vcpu: 0}}, {run: all}]\n",
        builtin_backends().catalogue(), "pir_and_virr.yaml");
    RunResult r = run(s);
    EXPECT_EQ(timeline(r, "nic.0"), (std::vector<std::string>{
                                        "fire nic.0 -> x86.virr[vcpu0]",
                                        "fire nic.0 -> x86.pir[vcpu0] (not live) x86.virr[vcpu0]",
                                        "run all -> nowhere",
                                    }));
    const SourceOutcome& o = outcome(r, "nic.0");
    EXPECT_EQ(o.outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(o.fired, 2u);
    EXPECT_EQ(o.coalesced, 1u);
    EXPECT_EQ(o.delivered, 1u);
}

// A post into the destination PID after KVM_SET_LAPIC but before the first KVM_RUN [reference §5.4
// last item]: SET_LAPIC's vcpu_put left SN=1, so PIR only; the LAPIC is loaded, so the bit is live,
// and the first vcpu_load (ON re-set) and entry sync move it to vIRR.
TEST(X86BackendLiveness, PirPostedAfterSetLapicBeforeTheFirstRunIsLive) {
    Scenario s = parse_scenario(
        "name: post-after-set-lapic\n"
        "arch: x86\n"
        "vm: {vcpus: 1}\n"
        "devices: [{name: nic, vectors: 1, passthrough: true}]\n"
        "routes: [{source: nic.0, vcpu: 0}]\n"
        "steps:\n"
        "  - run: all\n"
        "  - migrate:\n"
        "      order: [set_lapic, vfio_load_config, msix_enable, irq_bypass_connect, set_msrs, start_devices, "
        "start_vcpus]\n"
        "      fire: [{source: nic.0, before: start_vcpus}]\n"
        "  - run: all\n",
        builtin_backends().catalogue(), "post_after_set_lapic.yaml");
    RunResult r = run(s);
    EXPECT_EQ(timeline(r, "nic.0"), (std::vector<std::string>{
                                        "fire nic.0 -> x86.pir[vcpu0]",
                                        "restore:start_vcpus -> x86.virr[vcpu0]",
                                        "run all -> nowhere",
                                    }));
    EXPECT_EQ(outcome(r, "nic.0").outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(outcome(r, "nic.0").forwarded, std::optional<bool>(true));
}

// vIRR is live iff the LAPIC holds the VM's state; the saved image is read by nobody until
// KVM_SET_LAPIC. In the pre-2025 order three sub-steps run between the switch-over and SET_LAPIC,
// and nic.0 is only in the saved image (not live) throughout, then live again in vIRR.
TEST(X86BackendLiveness, SavedLapicIsNotLiveUntilSetLapicLoadsIt) {
    Stepper t(load_scenario(path_of("x86/lapic_after_vfio.yaml"), builtin_backends().catalogue()));
    t.through("save:get_lapic");
    EXPECT_EQ(t.where("nic.0"),
              (std::vector<Location>{{&x86::places::kVirr, 0, true}, {&x86::places::kSavedLapic, 0, false}}));
    const std::vector<Location> saved_only{{&x86::places::kSavedLapic, 0, false}};
    for (const char* step :
         {"save:copy_memory", "restore:vfio_load_config", "restore:msix_enable", "restore:irq_bypass_connect"}) {
        t.through(step);
        EXPECT_EQ(t.where("nic.0"), saved_only) << step;
    }
    t.through("restore:set_lapic");
    EXPECT_EQ(t.where("nic.0"), (std::vector<Location>{{&x86::places::kVirr, 0, true}}));
    t.finish();
    EXPECT_EQ(t.where("nic.0"), kNowhere);
}

// With x86.posting=off KVM injects at VM entry (IRR -> ISR, the VMCS entry-interruption field), and
// the guest takes the interrupt at its next `run`: until then it is live in x86.injected (not a
// not-live x86.visr), so a scenario that ends there leaves it `pending`, as the oracle does. While the
// state travels it is KVM_GET_VCPU_EVENTS' injected event (x86.saved_regs), never nowhere.
TEST(X86BackendLiveness, InjectedInterruptNotYetTakenIsLive) {
    const std::string head =
        "name: injected\n"
        "arch: x86\n"
        "vm: {vcpus: 1}\n"
        "devices: [{name: nic, vectors: 1, passthrough: true}]\n"
        "routes: [{source: nic.0, vcpu: 0}]\n"
        "policy: {x86.posting: \"off\"}\n";
    RunResult ends_injected = run(
        parse_scenario(head + "steps: [{run: all}, {fire: nic.0}]\n", builtin_backends().catalogue(), "injected.yaml"));
    const SourceOutcome& o = outcome(ends_injected, "nic.0");
    EXPECT_EQ(o.expected, 0u);
    EXPECT_EQ(o.outcome, Outcome::Pending) << "held: " << show(ends_injected, o.held);

    RunResult migrated = run(parse_scenario(head + "steps: [{run: all}, {fire: nic.0}, {migrate: {}}, {run: all}]\n",
                                            builtin_backends().catalogue(), "injected.yaml"));
    EXPECT_EQ(outcome(migrated, "nic.0").outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(timeline(migrated, "nic.0"), (std::vector<std::string>{
                                               "fire nic.0 -> x86.injected[vcpu0]",
                                               "save:get_lapic -> x86.injected[vcpu0] x86.saved_regs[vcpu0] (not live)",
                                               "save:copy_memory -> x86.saved_regs[vcpu0] (not live)",
                                               "restore:set_msrs -> x86.injected[vcpu0]",
                                               "run all -> nowhere",
                                           }));
}

// core/device.h, issue 15 §1.5: a stopped device's pending MSIs are part of its migration data,
// read in stop-and-copy (copy_memory). Raised after stop_devices and before copy_memory, nic.1 is
// held in the device (x86.device[nic]), travels in the stream and is sent after start_devices:
// delivered once. Raised after copy_memory (the data was read) or on the destination before
// start_devices (RESUMING) it cannot be raised at all: impossible, not lost.
TEST(X86BackendDevice, MsiRaisedBeforeTheDeviceDataIsReadTravelsWithTheDevice) {
    Scenario s = load_scenario(kSeed, builtin_backends().catalogue());
    ASSERT_EQ(s.steps[3].kind, StepKind::Migrate);
    s.steps[3].fires.at(0).before = "copy_memory";
    Stepper t(s);
    t.through("fire nic.1");  // device 0 is nic
    EXPECT_EQ(t.where("nic.1"), (std::vector<Location>{{&x86::places::kDevice, 0, false}}));
    t.through("restore:vfio_load_config");
    EXPECT_EQ(t.where("nic.1"), (std::vector<Location>{{&x86::places::kDevice, 0, false}}));
    EXPECT_EQ(outcome(run(s), "nic.1").outcome, Outcome::DeliveredOnce);

    for (const char* late : {"set_lapic", "vfio_load_config"}) {
        SCOPED_TRACE(late);
        s.steps[3].fires.at(0).before = late;
        RunResult r = run(s);
        EXPECT_EQ(outcome(r, "nic.1").outcome, Outcome::Impossible);
        EXPECT_EQ(events(r, x86::tp::kDeviceImpossibleMsi, {}).size(), 1u);
    }
}

// Linux keeps an interrupt's vector when its current CPU is in the new affinity
// (arch/x86/kernel/apic/vector.c assign_vector_locked): a retarget to the same vCPU moves nothing,
// so a second fire while the first is pending coalesces with it, as on the oracle. A retarget to
// another vCPU takes a new vector there, and the pending old vector is still the source's.
TEST(X86BackendGuest, RetargetToTheSameVcpuKeepsTheVectorAndCoalesces) {
    const std::string head =
        "name: same\narch: x86\nvm: {vcpus: 2}\n"
        "devices: [{name: nic, vectors: 1, passthrough: true}]\n"
        "routes: [{source: nic.0, vcpu: 0}]\n";
    RunResult same = run(parse_scenario(head + "steps: [{run: all}, {mask: {vcpu: 0}}, {fire: nic.0}, "
                                               "{retarget: {source: nic.0, vcpu: 0}}, {fire: nic.0}, "
                                               "{unmask: {vcpu: 0}}, {run: all}]\n",
                                        builtin_backends().catalogue(), "same.yaml"));
    EXPECT_EQ(outcome(same, "nic.0").outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(outcome(same, "nic.0").coalesced, 1u);
    EXPECT_EQ(events(same, x86::tp::kGuestRetarget,
                     {iarg("from_vcpu", 0), iarg("to_vcpu", 0), EventArg{"vector", ArgValue(Hex{0x21})}})
                  .size(),
              1u);
}

// ---- determinism and snapshots ---------------------------------------------------------------------

// DESIGN.md "Event log": the same scenario and options give a byte-identical log, and the same JSON
// document (core/results.h: ordered keys), with and without posting.
TEST(X86BackendDeterminism, SameRunTwiceGivesByteIdenticalJsonAndEventLog) {
    for (const char* posting : {"on", "off"}) {
        SCOPED_TRACE(posting);
        RunResult a = run_file(kSeed, {setting("x86.posting", posting)});
        RunResult b = run_file(kSeed, {setting("x86.posting", posting)});
        ASSERT_FALSE(a.events.empty());
        std::string ta, tb;
        for (const Event& e : a.events) ta += to_string(e) + "\n";
        for (const Event& e : b.events) tb += to_string(e) + "\n";
        EXPECT_EQ(ta, tb);
        EXPECT_EQ(to_json(a).dump(), to_json(b).dump());
        EXPECT_EQ(a.deliveries, b.deliveries);
    }
}

// Backend::snapshot / restore (State copies both Hosts, and a copied Host's platform uses the copy's
// memory): taken mid-restore, it brings back where every source is and how it is named, and the
// rest of the run replays the same deliveries to the same end state.
TEST(X86BackendSnapshot, RestoreReplaysTheRestOfTheMigration) {
    Stepper t(load_scenario(kSeed, builtin_backends().catalogue()));
    t.through("restore:msix_enable");
    const size_t k = t.next();
    const std::vector<Location> nic0_at_k = t.where("nic.0"), nic1_at_k = t.where("nic.1");
    const std::string name_at_k = t.identity("nic.0");
    std::unique_ptr<BackendSnapshot> snap = t.backend().snapshot();
    const GuestLog::Mark delivered_at_k = t.guest().mark();

    t.finish();
    std::vector<Delivery> first(t.guest().deliveries().begin() + static_cast<std::ptrdiff_t>(delivered_at_k.deliveries),
                                t.guest().deliveries().end());
    ASSERT_EQ(first.size(), 2u);
    const std::string name_at_end = t.identity("nic.0");
    ASSERT_NE(name_at_end, name_at_k);  // irq_bypass_connect posted the IRTE

    t.backend().restore(*snap);
    EXPECT_EQ(t.where("nic.0"), nic0_at_k);
    EXPECT_EQ(t.where("nic.1"), nic1_at_k);
    EXPECT_EQ(t.identity("nic.0"), name_at_k);

    t.guest().rewind(delivered_at_k);
    t.rewind(k);
    t.finish();
    std::vector<Delivery> second(
        t.guest().deliveries().begin() + static_cast<std::ptrdiff_t>(delivered_at_k.deliveries),
        t.guest().deliveries().end());
    EXPECT_EQ(second, first);
    EXPECT_EQ(t.identity("nic.0"), name_at_end);
    EXPECT_EQ(t.where("nic.0"), kNowhere);
    EXPECT_EQ(t.where("nic.1"), kNowhere);
}

// ---- input the x86 backend cannot run -----------------------------------------------------------------

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const InputError& e) {
        return e.what();
    }
    return "no error";
}

const std::string kOneNic =
    "name: t\n"
    "vm: {vcpus: 1}\n"
    "devices: [{name: nic, vectors: 1, passthrough: true}]\n"
    "routes: [{source: nic.0, vcpu: 0}]\n";

// STYLE.md "three kinds of error": a policy value outside the catalogue is user input, reported at
// the scenario's value (FILE:LINE:COL) or at the option, with the values x86 accepts.
TEST(X86BackendBadInput, UnknownPolicyValueNamesThePlaceAndTheValues) {
    EXPECT_EQ(error_of([] {
                  parse_scenario(kOneNic + "policy: {x86.posting: maybe}\nsteps: [{run: all}]\n",
                                 builtin_backends().catalogue(), "p.yaml");
              }),
              "p.yaml:5:23: 'maybe' is not a value of policy x86.posting (expected one of: on, off)");
    EXPECT_EQ(error_of([] {
                  run(parse_scenario(kOneNic + "steps: [{run: all}]\n", builtin_backends().catalogue(), "p.yaml"),
                      {setting("x86.set_lapic_clears_pir", "never")});
              }),
              "--policy: 'never' is not a value of policy x86.set_lapic_clears_pir (expected one of: before_load, "
              "after_load)");
}

// X86Backend: toggle_lpis is GICR_CTLR.EnableLPIs, an ARM step; a scenario for every backend that uses
// it cannot run on x86, and the error points at the step.
TEST(X86BackendBadInput, ArmOnlyStepIsRejectedAtItsStep) {
    Scenario s = parse_scenario(kOneNic + "steps:\n  - run: all\n  - toggle_lpis: {vcpu: 0}\n",
                                builtin_backends().catalogue(), "lpis.yaml");
    EXPECT_EQ(error_of([&] { run(s); }),
              "lpis.yaml:7:5: steps[1].toggle_lpis: an ARM step (GICR_CTLR.EnableLPIs): the x86 backend has no "
              "LPIs (give the scenario 'arch: arm')");
}

// MigrationPlan::resolve: an order name x86 does not define is reported at the scenario's `order:` or
// at --order, with the orders it has.
TEST(X86BackendBadInput, UnknownOrderNameNamesThePlaceAndTheOrders) {
    const std::string steps = "steps: [{migrate: {order: lapic_before_vfio}}]\n";
    EXPECT_EQ(error_of([&] { run(parse_scenario(kOneNic + steps, builtin_backends().catalogue(), "o.yaml")); }),
              "o.yaml:5:27: 'lapic_before_vfio' is not an order of backend x86 (expected one of: all, qemu, "
              "lapic_after_vfio, cloud_hypervisor, {set: NAME} or a list of steps)");
    EXPECT_EQ(error_of([&] {
                  run(parse_scenario(kOneNic + "steps: [{migrate: {}}]\n", builtin_backends().catalogue(), "o.yaml"),
                      {}, "nonsense");
              }),
              "--order: 'nonsense' is not an order of backend x86 (expected one of: all, qemu, lapic_after_vfio, "
              "cloud_hypervisor, {set: NAME} or a list of steps)");
}

// An ARM restore step in an x86 order or arrival point, and an order that breaks the DAG, are
// rejected with the steps x86 has, or with the dependency's reason.
TEST(X86BackendBadInput, ArmStepsAndDagViolationsInOrdersAreRejected) {
    const Scenario s = parse_scenario(kOneNic + "steps: [{migrate: {}}]\n", builtin_backends().catalogue(), "o.yaml");
    EXPECT_EQ(error_of([&] {
                  run(s, {},
                      "set_lapic,restore_its_tables,vfio_load_config,msix_enable,irq_bypass_connect,"
                      "set_msrs,start_vcpus,start_devices");
              }),
              "--order: 'restore_its_tables' is not a restore step of backend x86 (expected one of: set_lapic, "
              "vfio_load_config, msix_enable, irq_bypass_connect, set_msrs, start_devices, start_vcpus)");
    EXPECT_EQ(error_of([&] {
                  run(s, {},
                      "set_lapic,msix_enable,vfio_load_config,irq_bypass_connect,set_msrs,start_vcpus,start_devices");
              }),
              "--order: msix_enable must come after vfio_load_config on backend x86 (the MSI-X table comes with the "
              "device config (vfio_pci_load_config))");
    const std::string arm_point = "steps: [{migrate: {fire: [{source: nic.0, before: restore_its_tables}]}}]\n";
    std::string e =
        error_of([&] { run(parse_scenario(kOneNic + arm_point, builtin_backends().catalogue(), "f.yaml")); });
    EXPECT_EQ(e.rfind("f.yaml:5:", 0), 0u) << e;
    EXPECT_NE(e.find("'restore_its_tables' is not a migration step of backend x86"), std::string::npos) << e;
}

// ---- interrupts between vCPUs (issue 15 §2.1) ----------------------------------------------------

const std::string kIpiPending = path_of("ipi/x86_pending_across_migration_ipiv.yaml");

// KVM 5.19 "KVM: VMX: enable IPI virtualization" (d588bb9be1da; reference/kernel_history X4): with
// IPIv the sender's ICR write is posted by the CPU through the PID-pointer table (no VM exit, no
// kvm_apic_send_ipi), and KVM_GET_LAPIC saves the pending vector like a posted MSI.
TEST(X86Ipi, WithIpivTheIcrWriteIsPostedByTheCpuAndSavedByGetLapic_Ipiv5_19) {
    RunResult r = run_file(kIpiPending);
    EXPECT_EQ(count_events(r.events, x86::tp::kCpuIpivPost), 1u);
    EXPECT_EQ(count_events(r.events, x86::tp::kKvmSendIpi), 0u);
    EXPECT_EQ(r.outcome("ipi.0")->outcome, Outcome::DeliveredOnce);
}

// kvm_apic_send_ipi (reference/x86 §4.1): with IPIv off the ICR write traps (APIC-write exit) and KVM
// posts the vector in software into the same PIR; the outcome is the same.
TEST(X86Ipi, WithoutIpivTheIcrWriteTrapsAndKvmSendsIt_Ipiv5_19) {
    RunResult r = run_file(kIpiPending, {setting("x86.ipiv", "off")});
    EXPECT_EQ(count_events(r.events, x86::tp::kCpuIpivPost), 0u);
    EXPECT_EQ(count_events(r.events, x86::tp::kKvmSendIpi), 1u);
    EXPECT_EQ(r.outcome("ipi.0")->outcome, Outcome::DeliveredOnce);
}

// reference/kernel_history X4: "IPI virtualization can only virtualize physical-addressing ... unicast
// IPIs": a flat-logical ICR write traps even with IPIv on.
TEST(X86Ipi, ALogicalDestinationIsNotVirtualizedEvenWithIpiv_Ipiv5_19) {
    RunResult r = run_file(kIpiPending, {setting("x86.guest_apic_dest", "logical")});
    EXPECT_EQ(count_events(r.events, x86::tp::kCpuIpivPost), 0u);
    EXPECT_EQ(count_events(r.events, x86::tp::kKvmSendIpi), 1u);
    EXPECT_EQ(r.outcome("ipi.0")->outcome, Outcome::DeliveredOnce);
}

// A paused sender executes no ICR write: the schedule asks for the impossible (GUEST.impossible_ipi),
// which is not a loss.
TEST(X86Ipi, AnIpiFromAPausedSenderIsImpossibleNotLost) {
    RunResult r = run_file(path_of("ipi/x86_blocked_target_ipiv.yaml"));
    EXPECT_EQ(r.outcome("ipi.0")->outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(r.outcome("ipi.1")->outcome, Outcome::Impossible);
    EXPECT_EQ(count_events(r.events, x86::tp::kGuestImpossibleIpi), 1u);
}

// The Unicorn guest programs write no ICR / ICC_SGI1R_EL1: an ipi scenario is refused at the device's
// kind, not run on another path.
TEST(X86Ipi, TheUnicornGuestRefusesIpiScenarios) {
    RunOptions options;
    options.guest = GuestKind::Unicorn;
    Scenario s = load_scenario(kIpiPending, builtin_backends().catalogue());
    EXPECT_THROW(run_scenario(s, x86_info(), options), InputError);
}


// ---- TSC-deadline timers and set_msrs (issue 15 §2.5, Kata #13798) ---------------------------------

const std::string kDeadlineAfter = path_of("x86_2025/tsc_deadline_msrs_after_lapic.yaml");
const std::string kDeadlineBefore = path_of("x86_2025/tsc_deadline_msrs_before_lapic.yaml");
const std::string kDeadlineInTransit = path_of("x86_2025/tsc_deadline_passes_in_transit.yaml");
EventArg barg(std::string key, bool v) { return EventArg{std::move(key), ArgValue(v)}; }

// The guest arms its TSC-deadline timer with WRMSR (a VM exit KVM takes: kvm_set_msr_common ->
// kvm_set_lapic_tscdeadline_msr), KVM_GET_MSRS carries the deadline, and QEMU's
// kvm_put_tscdeadline_msr (after KVM_SET_LAPIC: cpu_synchronize_all_post_init) hands it to a LAPIC
// already in TSC-deadline mode: taken, and the deadline fires once on the destination.
TEST(X86TscDeadline, QemuWritesTheDeadlineAfterSetLapicAndItFiresOnce_kvm_put_tscdeadline_msr) {
    RunResult r = run_file(kDeadlineAfter);
    EXPECT_EQ(outcome(r, "timer.0").outcome, Outcome::DeliveredOnce);
    EXPECT_FALSE(events(r, x86::tp::kKvmTscDeadlineMsr, {sarg("via", "WRMSR"), barg("taken", true)}).empty());
    const size_t set_lapic = action_index(r, "restore:set_lapic");
    const size_t set_msrs = action_index(r, "restore:set_msrs");
    EXPECT_LT(set_lapic, set_msrs);
    auto restored = events(r, x86::tp::kKvmTscDeadlineMsr, {sarg("via", "KVM_SET_MSRS")});
    ASSERT_EQ(restored.size(), 1u);
    EXPECT_EQ(restored[0]->action, set_msrs);
    EXPECT_EQ(arg_of(*restored[0], "taken"), ArgValue(true));
}

// Kata #13798: KVM_SET_MSRS before KVM_SET_LAPIC. The destination's LVTT is still in its reset mode,
// so kvm_set_lapic_tscdeadline_msr drops the deadline and KVM_SET_MSRS still reports it processed;
// KVM_SET_LAPIC then puts LVTT in TSC-deadline mode with no deadline, and the guest's tick never
// comes: lost.
TEST(X86TscDeadline, SetMsrsBeforeSetLapicSilentlyLosesTheDeadline_Kata13798) {
    RunResult r = run_file(kDeadlineBefore);
    EXPECT_EQ(outcome(r, "timer.0").outcome, Outcome::Lost);
    auto restored = events(r, x86::tp::kKvmTscDeadlineMsr, {sarg("via", "KVM_SET_MSRS")});
    ASSERT_EQ(restored.size(), 1u);
    EXPECT_EQ(arg_of(*restored[0], "taken"), ArgValue(false));
    auto set = events(r, x86::tp::kKvmSetMsrs);
    ASSERT_EQ(set.size(), 1u);
    EXPECT_EQ(arg_of(*set[0], "nmsrs"), ArgValue(int64_t{1}));  // "reports success rather than an error"
    EXPECT_TRUE(events(r, x86::tp::kQemuSetLapicError).empty());
}

// start_sw_tscdeadline: a deadline the guest's TSC is already past when KVM_SET_MSRS takes it expires
// inside the ioctl (apic_timer_expired(apic, false)); the tick waits in the stream meanwhile
// (x86.saved_timer, not live) and is posted by set_msrs.
TEST(X86TscDeadline, ADeadlinePassedInTransitFiresInsideSetMsrs_start_sw_tscdeadline) {
    RunResult r = run_file(kDeadlineInTransit);
    EXPECT_EQ(outcome(r, "timer.0").outcome, Outcome::DeliveredOnce);
    const size_t set_msrs = action_index(r, "restore:set_msrs");
    auto expired = events(r, x86::tp::kKvmTimerExpired);
    ASSERT_FALSE(expired.empty());
    EXPECT_EQ(expired.back()->action, set_msrs);
    Stepper st(load_scenario(kDeadlineInTransit, builtin_backends().catalogue()));
    st.through("fire timer.0");
    EXPECT_EQ(show(r, st.where("timer.0")), "x86.saved_timer[vcpu0] (not live)");
    st.through("restore:set_msrs");
    EXPECT_EQ(show(r, st.where("timer.0")), "x86.pir[vcpu0]");
}

// The explorer's view: over the `data` set the deadline is lost exactly in the orders that put
// set_msrs before set_lapic, which the `abi` set (Rule::Abi set_lapic -> set_msrs) leaves out; every
// VMM set keeps the rule.
TEST(X86TscDeadline, DataOrdersLoseTheDeadlineExactlyWhereAbiForbidsThem_Kata13798) {
    Scenario s = load_scenario(kDeadlineAfter, builtin_backends().catalogue());
    const auto lapic = static_cast<uint16_t>(*plan().find_restore("set_lapic"));
    const auto msrs = static_cast<uint16_t>(*plan().find_restore("set_msrs"));
    const OrderSet& abi = *plan().find_order_set("abi");
    size_t lost = 0;
    for (uint64_t i = 0; i < plan().count_orders(); ++i) {
        RestoreOrder order = plan().order_at(i);
        std::vector<std::string> names = step_names(order);
        std::string list;
        for (const std::string& n : names) list += (list.empty() ? "" : ",") + n;
        RunOptions options;
        options.order = list;
        RunResult r = run_scenario(s, x86_info(), options);
        const bool msrs_first = std::find(order.begin(), order.end(), msrs) < std::find(order.begin(), order.end(), lapic);
        EXPECT_EQ(outcome(r, "timer.0").outcome, msrs_first ? Outcome::Lost : Outcome::DeliveredOnce) << list;
        EXPECT_EQ(abi.why_not(order).empty(), !msrs_first) << list;
        lost += msrs_first;
    }
    EXPECT_EQ(lost, 105u);
    for (const char* vmm : {"qemu", "qemu-7.2", "cloud-hypervisor"}) {
        const OrderSet& set = *plan().find_order_set(vmm);
        for (uint64_t i = 0; i < set.count(); ++i) {
            RestoreOrder o = set.at(i);
            EXPECT_LT(std::find(o.begin(), o.end(), lapic), std::find(o.begin(), o.end(), msrs)) << vmm;
        }
    }
}

// Unicorn 2.0.1 has no WRMSR hook (reference/unicorn_2_0_1.md): the Unicorn guest refuses a
// TSC-deadline timer at its `timer_mode`, and still runs a one-shot one.
TEST(X86TscDeadline, TheUnicornGuestRefusesTscDeadlineTimers) {
    RunOptions options;
    options.guest = GuestKind::Unicorn;
    Scenario s = load_scenario(kDeadlineAfter, builtin_backends().catalogue());
    try {
        run_scenario(s, x86_info(), options);
        ADD_FAILURE() << "no InputError";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("devices[0].timer_mode"), std::string::npos) << e.what();
    }
    s.devices[0].timer_mode = TimerMode::OneShot;
    EXPECT_NO_THROW(run_scenario(s, x86_info(), options));
}


// ---- NMI-mode MSIs (issue 15 §2.2, vfio_irq_test -n: kernel_history X2) ---------------------------

namespace nmi {

const std::string kPending = path_of("nmi/x86_pending_across_migration.yaml");
const std::string kTwoPending = path_of("nmi/x86_two_pending_across_migration.yaml");
const std::string kTwoPendingFlag = path_of("nmi/x86_two_pending_before_ab2ee212a57b.yaml");
const std::string kClobber = path_of("nmi/x86_set_vcpu_events_after_start_devices.yaml");

// An NMI raised while the vCPUs are paused: kvm_inject_nmi queues it (the IRTE is remapped: NMIs are
// not postable), KVM_GET_VCPU_EVENTS' process_nmi makes it pending and reports it in nmi.pending, and
// KVM_SET_VCPU_EVENTS queues it again on the destination (set_msrs: kvm_arch_put_registers), which
// injects it at the first entry.
TEST(X86Nmi, AnNmiPendingInAPausedVcpuTravelsInTheVcpuEvents_kvm_vcpu_ioctl_x86_get_vcpu_events) {
    RunResult r = run_file(kPending);
    EXPECT_EQ(outcome(r, "nic.0").outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(timeline(r, "nic.0"),
              (std::vector<std::string>{
                  "fire nic.0 -> x86.nmi_queued[vcpu0]",
                  "save:get_lapic -> x86.nmi_pending[vcpu0] x86.saved_regs[vcpu0] (not live)",
                  "save:copy_memory -> x86.saved_regs[vcpu0] (not live)",
                  "restore:set_msrs -> x86.nmi_queued[vcpu0]",
                  "restore:start_vcpus -> x86.injected[vcpu0]",
                  "run all -> nowhere",
              }));
    EXPECT_TRUE(run_harness::logged(r, x86::tp::kGuestNmi));
    EXPECT_FALSE(run_harness::logged(r, x86::tp::kIommuPost));
}

// Two NMIs pending in a paused vCPU (process_nmi lets two pend while NMIs are unblocked): since
// ab2ee212a57b both are migrated and injected, the second after an NMI window; before it
// (`nmi.pending = nmi_pending != 0`) one is, and the other is lost with the source.
TEST(X86Nmi, TwoPendingNmisBothMigrateSinceAb2ee212a57bAndOneIsLostBefore) {
    RunResult count = run_file(kTwoPending);
    EXPECT_EQ(outcome(count, "nic.0").outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(outcome(count, "nic.1").outcome, Outcome::DeliveredOnce);
    EXPECT_TRUE(run_harness::logged(count, x86::tp::kKvmNmiWindow));
    RunResult flag = run_file(kTwoPendingFlag);
    EXPECT_EQ(outcome(flag, "nic.0").outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(outcome(flag, "nic.1").outcome, Outcome::Lost);
    EXPECT_FALSE(run_harness::logged(flag, x86::tp::kKvmNmiWindow));
}

// KVM_SET_VCPU_EVENTS overwrites nmi_queued: an NMI the destination's device raised before it is
// lost. QEMU and Cloud Hypervisor put the vCPU events before the devices run; the `abi` set admits
// the order that loses it.
TEST(X86Nmi, SetVcpuEventsOverwritesAnNmiQueuedBeforeIt_kvm_vcpu_ioctl_x86_set_vcpu_events) {
    RunResult r = run_file(kClobber);
    EXPECT_EQ(outcome(r, "nic.0").outcome, Outcome::Lost);
    EXPECT_EQ(timeline(r, "nic.0"),
              (std::vector<std::string>{"fire nic.0 -> x86.nmi_queued[vcpu0] (not live)", "restore:set_msrs -> nowhere"}));
    for (const char* vmm : {"qemu", "qemu-7.2", "cloud-hypervisor"}) {
        const OrderSet& set = *plan().find_order_set(vmm);
        const auto msrs = static_cast<uint16_t>(*plan().find_restore("set_msrs"));
        const auto start = static_cast<uint16_t>(*plan().find_restore("start_devices"));
        for (uint64_t i = 0; i < set.count(); ++i) {
            RestoreOrder o = set.at(i);
            EXPECT_LT(std::find(o.begin(), o.end(), msrs), std::find(o.begin(), o.end(), start)) << vmm;
        }
    }
}

// A masked vCPU (RFLAGS.IF=0) still takes an NMI: injection ignores IF (SDM Vol. 3A §6.7.1), and so
// does the ideal controller for an `nmi` source.
TEST(X86Nmi, AMaskedVcpuStillTakesAnNmi_SDM_6_7_1) {
    Scenario s = parse_scenario(
        "name: nmi-masked\narch: x86\nvm: {vcpus: 1}\ndevices:\n  - {name: nic, vectors: 2, passthrough: true}\n"
        "routes:\n  - {source: nic.0, vcpu: 0, nmi: true}\n  - {source: nic.1, vcpu: 0}\n"
        "steps:\n  - mask: {vcpu: 0}\n  - fire: nic.0\n  - fire: nic.1\n  - run: all\n"
        "expect:\n  nic.0: delivered-once\n  nic.1: pending\n",
        builtin_backends().catalogue());
    RunResult r = run(s);
    EXPECT_EQ(outcome(r, "nic.0").outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(outcome(r, "nic.1").outcome, Outcome::Pending);
}

// The Unicorn guest program has no NMI handler (and Unicorn 2.0.1 delivers no NMI): refused at `nmi`.
TEST(X86Nmi, TheUnicornGuestRefusesNmiRoutes) {
    RunOptions options;
    options.guest = GuestKind::Unicorn;
    Scenario s = load_scenario(kPending, builtin_backends().catalogue());
    try {
        run_scenario(s, x86_info(), options);
        ADD_FAILURE() << "no InputError";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("nic.0: nmi: the x86 Unicorn guest program has no NMI handler"),
                  std::string::npos)
            << e.what();
    }
}

}  // namespace nmi

}  // namespace
}  // namespace irqdiff
