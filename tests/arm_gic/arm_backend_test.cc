// The `arm` backend (arm_gic/backend.cc) end to end through run_scenario: the seed scenario under
// every transfer point on GICv4.1 and GICv4.0, where nic.0's pending state lives during the
// migration, the restore DAG's orders, determinism, and snapshot/restore of the backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <set>

#include "arm_gic/backend.h"
#include "arm_gic/places.h"
#include "arm_gic/trace_points.h"
#include "core/errors.h"
#include "core/oracle.h"
#include "core/runner.h"
#include "core/trace_points.h"
#include "registry/builtin_backends.h"
#include "tests/run_harness.h"

namespace irqdiff {

/// gtest prints outcomes by name.
static void PrintTo(Outcome o, std::ostream* os) { *os << to_string(o); }

namespace {

const std::string kSeed = std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/seed/pending_across_migration.yaml";

/// The backend the registry lists as "arm", with its policies (scenario files are checked against
/// the registry's whole catalogue, so this program links irqdiff_builtin).
const BackendInfo& arm_info() { return *builtin_backends().find("arm"); }

RunResult run_seed(const std::string& transfer, const std::string& gic) {
    RunOptions options;
    options.policy = {PolicySetting{"arm.transfer", transfer, {}, {}}, PolicySetting{"arm.gic", gic, {}, {}}};
    return run_scenario(load_scenario(kSeed, builtin_backends().catalogue()), arm_info(), options);
}

TEST(ArmBackendInfo, IsTheVirtualizingArmBackend) {
    EXPECT_EQ(arm_info().name, "arm");
    EXPECT_TRUE(arm_info().virtualizing);
    ASSERT_NE(arm_info().plan, nullptr);
}

// ---- the seed scenario under every transfer point, GICv4.1 and GICv4.0 ---------------------------

struct Expected {
    Outcome outcome;
    std::optional<bool> forwarded;  // every delivery direct? (empty: never delivered)
};

struct Cell {
    const char* transfer;
    const char* gic;
    Expected nic0;
    Expected nic1;
    bool lr_violation;  // VCPU.write_LR: a list register with HW=1 for a vLPI
};

class ArmSeedTransfer : public ::testing::TestWithParam<Cell> {};

// reference/arm §4–§6 (the lead's analysis in scenarios/arm/seed_transfer_*.yaml and gicv4_0.yaml):
// each cell's outcome, forwarded flag and violations; the mechanism is stated with each row below.
TEST_P(ArmSeedTransfer, OutcomesForwardedFlagsAndViolations) {
    const Cell& c = GetParam();
    RunResult r = run_seed(c.transfer, c.gic);
    ASSERT_EQ(r.policy.get("arm.transfer"), c.transfer);
    ASSERT_EQ(r.policy.get("arm.gic"), c.gic);
    for (const auto& [name, want] : {std::pair{"nic.0", c.nic0}, std::pair{"nic.1", c.nic1}}) {
        SCOPED_TRACE(name);
        const SourceOutcome* o = r.outcome(name);
        ASSERT_NE(o, nullptr);
        EXPECT_EQ(o->outcome, want.outcome);
        EXPECT_EQ(o->forwarded, want.forwarded);
        EXPECT_EQ(o->fired, 1u);
        EXPECT_TRUE(o->held.empty());
    }
    std::set<const TracePointInfo*> broken;
    for (const Event& e : r.violations) broken.insert(e.point);
    EXPECT_EQ(broken, c.lr_violation ? std::set<const TracePointInfo*>{&arm::tp::kVcpuWriteLrHwViolation}
                                     : std::set<const TracePointInfo*>{});
    EXPECT_EQ(r.violations.size(), c.lr_violation ? 1u : 0u);
}

constexpr Expected kDirect{Outcome::DeliveredOnce, true};
constexpr Expected kThroughAnLr{Outcome::DeliveredOnce, false};
constexpr Expected kRefused{Outcome::SaveRefused, std::nullopt};

const Cell kCells[] = {
    // v4.1 set_forwarding (12df7429213a): nic.0 VPT -> guest pending table (SAVE_PENDING_TABLES with
    // the vPEs unmapped) -> pending_latch (RESTORE_TABLES, bit consumed) -> VPT (INT in
    // kvm_vgic_v4_set_forwarding): taken directly. nic.1 waits in the RESUMING device and goes to
    // the forwarded vLPI after start_devices.
    {"set_forwarding", "v4.1", kDirect, kDirect, false},
    // v4.1 vm_start: in QEMU's order the bypass connects before the VM starts, so the call at
    // start_vcpus finds the LPI forwarded with pending_latch and INTs it into the VPT: direct.
    {"vm_start", "v4.1", kDirect, kDirect, false},
    // v4.1 none (the 5.13 control without the transfer): set_forwarding leaves pending_latch on the hw LPI; at entry
    // vgic_v3_populate_lr puts it in a list register with HW=1 (pINTID 0): the guest takes it
    // through the LR (forwarded: false) and the LR rule is broken once. nic.1 is direct.
    {"none", "v4.1", kThroughAnLr, kDirect, true},
    // v4.1 its_restore: at RESTORE_TABLES every LPI was just created, none forwarded yet, so nothing
    // moves (Shenming Lu's circular dependency): as with none.
    {"its_restore", "v4.1", kThroughAnLr, kDirect, true},
    // v4.1 enable_lpis: EnableLPIs is restored before the ITS, so no LPI exists yet and nothing
    // moves: as with none.
    {"enable_lpis", "v4.1", kThroughAnLr, kDirect, true},
    // v4.0, every transfer point: ITS SAVE_TABLES fails with -EACCES at the forwarded ITE
    // (bd94e7aea403), leaving the device and collection tables unwritten, and SAVE_PENDING_TABLES
    // records pending_latch (0) for nic.0. The destination's vITS is empty: nic.0's state was never
    // saved, and nic.1 (sent at start_devices, not forwarded since set_forwarding could not
    // resolve) does not translate in trigger_msi: both lost, after KVM refused the save and said
    // so (arm-vgic-its.rst: -EACCES "the state is not available without GICv4.1"): save-refused.
    {"set_forwarding", "v4.0", kRefused, kRefused, false},
    {"vm_start", "v4.0", kRefused, kRefused, false},
    {"none", "v4.0", kRefused, kRefused, false},
    {"its_restore", "v4.0", kRefused, kRefused, false},
    {"enable_lpis", "v4.0", kRefused, kRefused, false},
};

void PrintTo(const Cell& c, std::ostream* os) { *os << "arm.transfer=" << c.transfer << " arm.gic=" << c.gic; }

INSTANTIATE_TEST_SUITE_P(AllTransferPointsBothVersions, ArmSeedTransfer, ::testing::ValuesIn(kCells),
                         [](const ::testing::TestParamInfo<Cell>& info) {
                             std::string name = std::string(info.param.transfer) + "_" + info.param.gic;
                             for (char& ch : name)
                                 if (ch == '.') ch = '_';
                             return name;
                         });

// ---- the save side before Linux 5.13 (issue 15 §1.1) --------------------------------------------

RunResult run_file(const std::string& name, std::vector<PolicySetting> policy = {}) {
    RunOptions options;
    options.policy = std::move(policy);
    return run_scenario(load_scenario(std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/" + name,
                                      builtin_backends().catalogue()),
                        arm_info(), options);
}

std::vector<const Event*> of(const RunResult& r, const TracePointInfo& point) {
    std::vector<const Event*> out;
    for (const Event& e : r.events)
        if (e.point == &point) out.push_back(&e);
    return out;
}

// bd94e7aea403 ("KVM: arm64: GICv4: Prevent a VM using GICv4 from being saved"), before the 5.13
// series relaxed it (8082d50f4817) and added the VPT read (80317fe4a653, f66b7b151e00): on GICv4.1
// too, KVM_DEV_ARM_ITS_SAVE_TABLES fails with -EACCES at the first forwarded ITE, and
// SAVE_PENDING_TABLES neither unmaps the vPEs nor reads a VPT, so nic.0's bit (in the VPT, its
// pending_latch clear) is never written. Current QEMU reports the error and goes on; both sources
// are lost after the refusal: save-refused, not lost.
TEST(ArmSaveSide, Before513TheItsSaveRefusesAForwardedIteOnGicv41_bd94e7aea403) {
    RunResult r = run_file("arm/pre_5_13.yaml");
    std::vector<const Event*> refused = of(r, arm::tp::kKvmItsSaveTablesError);
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(refused[0]->kind, EventKind::Refusal);
    EXPECT_NE(refused[0]->rule.find("bd94e7aea403"), std::string::npos) << refused[0]->rule;
    std::vector<const Event*> failed = of(r, arm::tp::kQemuItsSaveFailed);
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0]->args, (std::vector<EventArg>{{"rc", ArgValue(int64_t{-13})}, {"fatal", ArgValue(false)}}));
    EXPECT_TRUE(of(r, arm::tp::kKvmSavePendingBit).empty()) << "no forwarded LPI's bit is read from a VPT";
    EXPECT_EQ(of(r, irqdiff::tp::kQemuSwitchOver).size(), 1u) << "the migration goes on";
    for (const char* name : {"nic.0", "nic.1"}) EXPECT_EQ(r.outcome(name)->outcome, Outcome::SaveRefused) << name;

    // The same scenario on the 5.13 save side saves nic.0 from the VPT (and, without the transfer,
    // delivers it through a list register: the `none` control).
    RunResult vpt = run_file("arm/pre_5_13.yaml", {PolicySetting{"arm.save", "vpt_read", {}, {}}});
    EXPECT_TRUE(of(vpt, arm::tp::kKvmItsSaveTablesError).empty());
    EXPECT_EQ(vpt.outcome("nic.0")->outcome, Outcome::DeliveredOnce);
}

// QEMU's ITS vm_change_state_handler as first merged with ITS migration (QEMU 2.10,
// hw/intc/arm_gicv3_its_kvm.c) called abort() for any SAVE_TABLES error but -EFAULT; current QEMU
// only reports it. With arm.its_save_error=abort the refusal ends the VM at save_its_tables: no
// switch-over, every later action finds no VM (VM.gone), and both sources are save-refused.
TEST(ArmSaveSide, QemusFirstItsHandlerAbortsOnTheRefusal_Qemu2_10) {
    RunResult r = run_file("arm/pre_5_13_qemu_abort.yaml");
    std::vector<const Event*> failed = of(r, arm::tp::kQemuItsSaveFailed);
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0]->args.at(1).value, ArgValue(true));
    EXPECT_TRUE(of(r, irqdiff::tp::kQemuSwitchOver).empty());
    const auto save = std::find(r.schedule.begin(), r.schedule.end(), "save:save_its_tables");
    ASSERT_NE(save, r.schedule.end());
    const size_t after = r.schedule.end() - save - 1;
    EXPECT_EQ(of(r, irqdiff::tp::kVmGone).size(), after);
    EXPECT_TRUE(r.deliveries.empty());
    for (const char* name : {"nic.0", "nic.1"}) {
        SCOPED_TRACE(name);
        EXPECT_EQ(r.outcome(name)->outcome, Outcome::SaveRefused);
        EXPECT_TRUE(r.outcome(name)->held.empty());
    }
}

// A loss before the refusal stays a loss (core/oracle.h classify): only what the oracle delivers
// after the refused save is the refusal's.
TEST(ArmSaveSide, ALossBeforeTheRefusalIsStillLost) {
    Oracle::Tally t;
    t.fired = 1;
    t.deliveries = {2};
    Verdicts v;
    v.refused_at = 5;
    EXPECT_EQ(classify(0, t, {}, {}, true, true, v)->outcome, Outcome::Lost);
    t.deliveries = {7};
    EXPECT_EQ(classify(0, t, {}, {}, true, true, v)->outcome, Outcome::SaveRefused);
}

// ---- where nic.0 is during the migration --------------------------------------------------------

// reference/arm appendix B and §8.8 (one place at a time): under GICv4.1 and
// arm.transfer=set_forwarding nic.0 moves rd_cache -> (VPT memory, guest pending table) -> guest
// pending table -> pending_latch -> rd_cache -> taken.
TEST(ArmBackendLocations, Nic0TimelineUnderGicv41SetForwarding) {
    RunResult r = run_seed("set_forwarding", "v4.1");
    EXPECT_EQ(run_harness::timeline(r, 0), (std::vector<std::string>{
                       // the MSI for the masked vCPU 0 waits in the redistributor's cache of vPE 0
                       "fire nic.0 -> arm.rd_cache[vpe0]",
                       // VMAPP {V,Alloc}={0,1} cleans the cache into the VPT; KVM copies the bit into
                       // the guest's pending table; map_all_vpes maps vPE 0 again (PTZ=0), so the
                       // VPT is live, and the guest table is read by nobody
                       "save:save_pending_tables -> arm.vpt[vpe0] arm.guest_pending_table[vcpu0] (not live)",
                       // the switch-over: only the guest RAM copy travels
                       "save:copy_memory -> arm.guest_pending_table[vcpu0] (not live)",
                       // vgic_add_lpi -> vgic_v3_lpi_sync_pending_status: pending_latch, bit consumed
                       "restore:restore_its_tables -> arm.pending_latch[vcpu0]",
                       // kvm_vgic_v4_set_forwarding: INT into the VPT, pending_latch cleared
                       "restore:irq_bypass_connect -> arm.rd_cache[vpe0]",
                       // the unmasked vCPU 0 takes the vLPI directly
                       "run all -> nowhere",
                   }));
}

// ---- the restore DAG --------------------------------------------------------------------------------

// MigrationPlan::count_orders: the linear extensions of the arm restore DAG (arm-vgic-its.rst's
// restore sequence, QEMU d329f5032e17); each order_at(i) respects every dependency and they are
// all different; order 0 is QEMU's.
TEST(ArmBackendPlan, OrderAllIs120LinearExtensionsOfTheDag) {
    const MigrationPlan& plan = *arm_info().plan;
    ASSERT_EQ(plan.restore_steps().size(), 10u);
    ASSERT_EQ(plan.count_orders(), 120u);
    std::set<RestoreOrder> seen;
    for (uint64_t i = 0; i < plan.count_orders(); ++i) {
        RestoreOrder order = plan.order_at(i);
        SCOPED_TRACE(::testing::Message() << "order " << i);
        ASSERT_EQ(order.size(), plan.restore_steps().size());
        EXPECT_EQ(std::set<uint16_t>(order.begin(), order.end()).size(), order.size());
        const Dependency* broken = plan.first_violation(order);
        EXPECT_EQ(broken, nullptr) << broken->before << " before " << broken->after;
        for (const Dependency& d : plan.dependencies()) {
            auto pos = [&](const std::string& name) {
                return std::find(order.begin(), order.end(), static_cast<uint16_t>(*plan.find_restore(name))) -
                       order.begin();
            };
            EXPECT_LT(pos(d.before), pos(d.after)) << d.reason;
        }
        seen.insert(order);
    }
    EXPECT_EQ(seen.size(), 120u);
    EXPECT_EQ(plan.order_at(0), plan.qemu_order());
}

// QEMU's vm_start (system/cpus.c): vm_prepare_start notifies the change-state handlers — VFIO's
// vfio_vmstate_change sets each device RUNNING — and only then resume_all_vcpus runs the vCPUs. So
// the named order `qemu` ends start_devices, start_vcpus, after every device's config and bypass.
TEST(ArmBackendPlan, QemuVmStartSetsTheDevicesRunningBeforeResumeAllVcpus) {
    const MigrationPlan& plan = *arm_info().plan;
    std::vector<std::string> names;
    for (size_t i : plan.qemu_order()) names.push_back(plan.restore_steps().at(i).name);
    EXPECT_EQ(names, (std::vector<std::string>{"restore_gicr_pendbaser", "restore_gicr_ctlr", "restore_its_regs",
                                               "restore_its_tables", "enable_its", "vfio_load_config", "msix_enable",
                                               "irq_bypass_connect", "start_devices", "start_vcpus"}));
}

// ---- determinism ---------------------------------------------------------------------------------

// DESIGN.md "Event log": the same scenario and options give a byte-identical log.
TEST(ArmBackendDeterminism, SeedRunTwiceGivesByteIdenticalEvents) {
    RunResult a = run_seed("set_forwarding", "v4.1");
    RunResult b = run_seed("set_forwarding", "v4.1");
    ASSERT_FALSE(a.events.empty());
    EXPECT_EQ(a.events, b.events);
    std::string ta, tb;
    for (const Event& e : a.events) ta += to_string(e) + "\n";
    for (const Event& e : b.events) tb += to_string(e) + "\n";
    EXPECT_EQ(ta, tb);
    EXPECT_EQ(a.deliveries, b.deliveries);
    EXPECT_EQ(a.locations.size(), b.locations.size());
}

// ---- blocking --------------------------------------------------------------------------------------

/// vCPU 0 is preempted (put without a doorbell request), then the guest executes WFI, then nic.0
/// fires. A vCPU executes WFI only while it runs, so the WFI puts it again with need_db.
const std::string kPreemptThenBlock =
    "name: preempt-then-block\n"
    "vm: {vcpus: 1}\n"
    "devices: [{name: nic, vectors: 1, passthrough: true}]\n"
    "routes: [{source: nic.0, vcpu: 0}]\n"
    "steps: [{preempt: {vcpu: 0}}, {block: {vcpu: 0}}, {fire: nic.0}, {run: all}]\n"
    "expect: {nic.0: delivered-once}\n";

class ArmBackendBlock : public ::testing::TestWithParam<std::string> {};

// reference/arm §3.7 (kvm_vcpu_wfi -> vgic_v4_put with need_db): "Blocking in WFI does
// put(need_db) then relies on the doorbell", whatever happened to the vCPU before; the vLPI rings
// the doorbell and vgic_v4_doorbell_handler wakes the vCPU, which takes it directly.
TEST_P(ArmBackendBlock, PreemptedVcpuThatBlocksIsWokenByItsVlpi) {
    RunOptions options;
    options.policy = {PolicySetting{"arm.gic", GetParam(), {}, {}}};
    RunResult r =
        run_scenario(parse_scenario(kPreemptThenBlock, builtin_backends().catalogue(), "preempt_then_block.yaml"),
                     arm_info(), options);
    const SourceOutcome* o = r.outcome("nic.0");
    ASSERT_NE(o, nullptr);
    bool doorbell_requested = false;
    for (const Event& e : r.events)
        if (e.point == &arm::tp::kKvmVcpuPut)
            for (const EventArg& a : e.args)
                if (a.key == "doorbell" && a.value == ArgValue(true)) doorbell_requested = true;
    EXPECT_TRUE(doorbell_requested) << "the WFI after the preemption did not put the vCPU with need_db";
    EXPECT_EQ(o->outcome, Outcome::DeliveredOnce)
        << "the vCPU sleeps with no doorbell armed and the vLPI waits in "
        << (o->held.empty() ? std::string("nowhere") : std::string(o->held[0].place->name));
    EXPECT_EQ(o->forwarded, std::optional<bool>(true));
}

/// vCPU 0 waits in WFI when the migration stops the vCPUs; nic.0 is raised on the destination
/// while its device is RESUMING.
const std::string kBlockedAtStop =
    "name: blocked-at-stop\n"
    "vm: {vcpus: 1}\n"
    "devices: [{name: nic, vectors: 1, passthrough: true}]\n"
    "routes: [{source: nic.0, vcpu: 0}]\n"
    "steps: [{block: {vcpu: 0}}, {migrate: {order: qemu, fire: [{source: nic.0, before: stop_devices}]}},\n"
    "        {run: all}]\n"
    "expect: {nic.0: delivered-once}\n";

// issue 15 §1.6 (kvm_vcpu_wfi, reference/arm §3.7 / kernel_history A1): QEMU's pause_all_vcpus
// kicks a vCPU blocked in WFI; kvm_vcpu_wfi returns, clears IN_WFI and kvm_vgic_load makes the vPE
// resident, and the exit to userspace puts it without a doorbell (vgic_v4_put asks for one only
// IN_WFI). So at stop_vcpus the blocked vCPU is kicked, loaded and put with doorbell=false. On
// GICv4.1 the migrated VM gets nic.0 once; on GICv4.0 the ITS save fails at the forwarded entry
// (vgic_its_save_itt: -EACCES for irq->hw without GICv4.1), the destination's vITS has no device
// and the MSI is dropped after KVM's refusal (save-refused), as scenarios/arm/gicv4_0.yaml shows.
TEST_P(ArmBackendBlock, StopVcpusWakesABlockedVcpuAndPutsItWithoutADoorbell) {
    RunOptions options;
    options.policy = {PolicySetting{"arm.gic", GetParam(), {}, {}}};
    RunResult r = run_scenario(parse_scenario(kBlockedAtStop, builtin_backends().catalogue(), "blocked_at_stop.yaml"),
                               arm_info(), options);
    const auto stop = std::find(r.schedule.begin(), r.schedule.end(), "save:stop_vcpus");
    ASSERT_NE(stop, r.schedule.end());
    const uint32_t action = static_cast<uint32_t>(stop - r.schedule.begin());
    std::vector<const TracePointInfo*> seen;
    std::optional<bool> last_put_doorbell;
    for (const Event& e : r.events) {
        if (e.action != action) continue;
        if (e.point == &arm::tp::kKvmVcpuKick || e.point == &arm::tp::kKvmVcpuLoad) seen.push_back(e.point);
        if (e.point == &arm::tp::kKvmVcpuPut) {
            seen.push_back(e.point);
            for (const EventArg& a : e.args)
                if (a.key == "doorbell") last_put_doorbell = a.value == ArgValue(true);
        }
    }
    EXPECT_EQ(seen, (std::vector<const TracePointInfo*>{&arm::tp::kKvmVcpuKick, &arm::tp::kKvmVcpuLoad,
                                                         &arm::tp::kKvmVcpuPut}));
    EXPECT_EQ(last_put_doorbell, std::optional<bool>(false)) << "a stopped vCPU keeps no doorbell armed";
    const SourceOutcome* o = r.outcome("nic.0");
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->outcome, GetParam() == "v4.1" ? Outcome::DeliveredOnce : Outcome::SaveRefused);
}

INSTANTIATE_TEST_SUITE_P(BothVersions, ArmBackendBlock, ::testing::Values("v4.1", "v4.0"),
                         [](const auto& info) { return info.param == "v4.1" ? "V4_1" : "V4_0"; });

// ---- snapshot and restore ----------------------------------------------------------------------------

std::vector<std::vector<Location>> where_all(const Backend& b, size_t sources) {
    std::vector<std::vector<Location>> out(sources);
    for (SourceId s = 0; s < sources; ++s) b.where(s, out[s]);
    return out;
}

std::vector<std::string> identity_all(const Backend& b, size_t sources) {
    std::vector<std::string> out;
    for (SourceId s = 0; s < sources; ++s) out.push_back(b.identity(s));
    return out;
}

// Backend::snapshot / restore (STYLE.md: snapshots are plain copies): mid-migration, with both
// machines alive, a snapshot brings back where every source is and how it is named, and the run
// from there is the same as the first time.
TEST(ArmBackendSnapshot, RestoreBringsBackWhereAndIdentity) {
    Scenario scenario = load_scenario(kSeed, builtin_backends().catalogue());
    const BackendInfo& info = arm_info();
    PolicyValues policy = resolve_policy(arm_info().policies, scenario.policy, {});
    EventLog log;
    GuestLog guest;
    std::unique_ptr<Backend> backend = info.make(BackendContext{scenario, policy, log, guest});
    Schedule schedule = lower(scenario, *info.plan, "arm", {});
    const size_t n = scenario.sources.size();

    size_t k = 0;
    while (k < schedule.actions.size() &&
           describe(schedule.actions[k], scenario, *info.plan) != "restore:restore_its_tables")
        backend->apply(schedule.actions[k++]);
    ASSERT_LT(k, schedule.actions.size());
    backend->apply(schedule.actions[k++]);
    auto where_at_k = where_all(*backend, n);
    auto names_at_k = identity_all(*backend, n);
    ASSERT_EQ(where_at_k[0], (std::vector<Location>{{&arm::places::kPendingLatch, 0, true}}));
    std::unique_ptr<BackendSnapshot> snap = backend->snapshot();
    const GuestLog::Mark delivered_at_k = guest.mark();

    for (size_t i = k; i < schedule.actions.size(); ++i) backend->apply(schedule.actions[i]);
    std::vector<Delivery> first(guest.deliveries().begin() + static_cast<std::ptrdiff_t>(delivered_at_k.deliveries),
                                guest.deliveries().end());
    auto where_at_end = where_all(*backend, n);
    ASSERT_EQ(first.size(), 2u);
    backend->apply(Action{StepKind::Retarget, 1, 0});  // the guest moves nic.0 to vCPU 1
    ASSERT_NE(identity_all(*backend, n), names_at_k);
    ASSERT_NE(where_all(*backend, n), where_at_k);

    backend->restore(*snap);
    EXPECT_EQ(where_all(*backend, n), where_at_k);
    EXPECT_EQ(identity_all(*backend, n), names_at_k);

    guest.rewind(delivered_at_k);
    for (size_t i = k; i < schedule.actions.size(); ++i) backend->apply(schedule.actions[i]);
    std::vector<Delivery> second(guest.deliveries().begin() + static_cast<std::ptrdiff_t>(delivered_at_k.deliveries),
                                 guest.deliveries().end());
    EXPECT_EQ(second, first);
    EXPECT_EQ(where_all(*backend, n), where_at_end);
}


// An NMI-mode MSI (route or retarget key `nmi`, vfio_irq_test -n) has no ARM counterpart: a device MSI
// is an LPI, with no NMI property in the GICv4.1 model or KVM's vgic (issue 15 §2.2). The arm backend
// refuses the scenario at the key, naming the source.
TEST(ArmBackendNmi, RefusesNmiRoutesAndRetargets) {
    const char* base =
        "name: nmi\nvm: {vcpus: 2}\ndevices:\n  - {name: nic, vectors: 1, passthrough: true}\n";
    Scenario route = parse_scenario(std::string(base) + "routes: [{source: nic.0, vcpu: 0, nmi: true}]\n"
                                                        "steps:\n  - fire: nic.0\n  - run: all\n",
                                    builtin_backends().catalogue());
    Scenario retarget = parse_scenario(std::string(base) + "routes: [{source: nic.0, vcpu: 0}]\n"
                                                           "steps:\n  - retarget: {source: nic.0, vcpu: 1, nmi: true}\n",
                                       builtin_backends().catalogue());
    for (const auto& [s, text] : {std::pair{&route, "routes: nic.0: nmi: ARM has no NMI-mode MSI"},
                                  std::pair{&retarget, "steps[0].retarget.nmi: ARM has no NMI-mode MSI"}}) {
        try {
            run_scenario(*s, arm_info(), RunOptions{});
            ADD_FAILURE() << "no InputError for " << text;
        } catch (const InputError& e) {
            EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
        }
    }
    // `nmi: false` is a fixed MSI: accepted.
    route.sources[0].nmi = false;
    EXPECT_NO_THROW(run_scenario(route, arm_info(), RunOptions{}));
}

// Found by `irqdiff generate --check` (gen-1092): two IPI devices sending IPI 0 to vCPU 0 are one
// interrupt on ARM, SGI 0 of vCPU 0 (one GICR_ISPENDR0 bit per SGI, not per sender), so the guest
// cannot tell them apart and the backend credited every delivery to the first. Refused instead.
TEST(ArmIpiRoutes, TwoIpisWithTheSameSgiToOneVcpuAreRefused) {
    const char* text =
        "name: t\narch: arm\nvm: {vcpus: 2}\n"
        "devices:\n  - {name: a, kind: ipi, vectors: 1, from: 1}\n  - {name: b, kind: ipi, vectors: 1, from: 1}\n"
        "routes:\n  - {source: a.0, vcpu: 0}\n  - {source: b.0, vcpu: 0}\nsteps:\n  - fire: b.0\n  - run: all\n";
    const Scenario s = parse_scenario(text, builtin_backends().catalogue(), "two_ipis.yaml");
    try {
        run_scenario(s, arm_info(), RunOptions{});
        FAIL() << "expected an InputError";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("two_ipis.yaml:9:5: routes: a.0 and b.0 are both SGI 0 of vCPU 0"),
                  std::string::npos)
            << e.what();
    }
    // Different targets or numbers are different SGIs.
    const Scenario other = parse_scenario(
        "name: t\narch: arm\nvm: {vcpus: 3}\n"
        "devices:\n  - {name: a, kind: ipi, vectors: 1, from: 1}\n  - {name: b, kind: ipi, vectors: 1, from: 1}\n"
        "routes:\n  - {source: a.0, vcpu: 0}\n  - {source: b.0, vcpu: 2}\nsteps:\n  - fire: b.0\n  - run: all\n",
        builtin_backends().catalogue(), "two_targets.yaml");
    const RunResult r = run_scenario(other, arm_info(), RunOptions{});
    ASSERT_NE(r.outcome("b.0"), nullptr);
    EXPECT_EQ(r.outcome("b.0")->outcome, Outcome::DeliveredOnce);
}

// Found by `irqdiff generate --check` (gen-1210): a pending forwarded vLPI dropped by the irqfd
// deassign (unset_forwarding reads no VPT) and then fired again: the second fire is delivered, the
// first stays lost, and the run says where it vanished. Before, the place the second fire made
// cleared `vanished_at`.
TEST(ArmBackendLocations, ALossFiredAgainKeepsWhereItVanished) {
    const char* text =
        "name: t\narch: arm\nvm: {vcpus: 1}\ndevices:\n  - {name: d, vectors: 1, passthrough: true}\n"
        "routes:\n  - {source: d.0, vcpu: 0}\n"
        "steps:\n  - fire: d.0\n  - unassign: {source: d.0}\n  - run: all\n  - fire: d.0\n  - run: all\n";
    const RunResult r = run_scenario(parse_scenario(text, builtin_backends().catalogue(), "refire.yaml"), arm_info(),
                                     RunOptions{});
    const SourceOutcome* o = r.outcome("d.0");
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->outcome, Outcome::Lost);
    EXPECT_EQ(o->expected, 2u);
    EXPECT_EQ(o->delivered, 1u);
    ASSERT_TRUE(o->vanished_at.has_value());
    EXPECT_EQ(r.schedule.at(*o->vanished_at), "unassign d.0");
}

}  // namespace
}  // namespace irqdiff
