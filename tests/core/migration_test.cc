// The migration vocabulary: neutral steps, a backend's restore DAG, named orders, and every
// linear extension addressable by index.
#include "core/migration.h"

#include <gtest/gtest.h>

#include <set>

#include "core/backend.h"
#include "core/ideal_backend.h"

namespace irqdiff {
namespace {

MigrationStep step(const std::string& name, const std::string& neutral) {
    return MigrationStep{name, find_neutral_step(neutral)->side, neutral, ""};
}

/// A small backend-like plan: a -> b, a -> c, and d free.
MigrationPlan diamond() {
    return MigrationPlan({step("stop", "stop_vcpus"), step("save", "save_irqchip")},
                         {step("a", "restore_irqchip"), step("b", "restore_translation"), step("c", "restore_devices"),
                          step("d", "start_vcpus")},
                         {{"a", "b", "b reads a"}, {"a", "c", "c reads a"}},
                         {{"qemu", {"a", "b", "c", "d"}}, {"late_a", {"d", "a", "c", "b"}}});
}

TEST(NeutralSteps, SaveSideThenRestoreSideInQemuOrder) {
    std::vector<std::string> names;
    for (const NeutralStep& n : neutral_steps()) names.push_back(std::string(n.name));
    EXPECT_EQ(names,
              (std::vector<std::string>{"stop_vcpus", "stop_devices", "save_irqchip", "copy_memory", "restore_irqchip",
                                        "restore_translation", "restore_devices", "start_vcpus", "start_devices"}));
    EXPECT_EQ(find_neutral_step("copy_memory")->side, Side::Save);
    EXPECT_EQ(find_neutral_step("start_devices")->side, Side::Restore);
    EXPECT_EQ(find_neutral_step("set_lapic"), nullptr);
}

TEST(MigrationPlan, CountsAndEnumeratesEveryLinearExtensionOnce) {
    MigrationPlan p = diamond();
    // a first, then b, c, d in any order: 3! = 6; or d before a: then a, then b/c: 2 -> 8 in all.
    ASSERT_EQ(p.count_orders(), 8u);
    std::set<RestoreOrder> seen;
    RestoreOrder previous;
    for (uint64_t i = 0; i < p.count_orders(); ++i) {
        RestoreOrder o = p.order_at(i);
        EXPECT_EQ(p.first_violation(o), nullptr) << i;
        if (i > 0) {
            EXPECT_LT(previous, o) << "orders are numbered in lexicographic order";
        }
        previous = o;
        seen.insert(o);
    }
    EXPECT_EQ(seen.size(), 8u);
    EXPECT_THROW(p.order_at(8), std::out_of_range);
}

// docs/design.md "Order sets": a rule only the kernel documents (Rule::Abi) narrows the `abi` set,
// not the `data` stress set the model can run; a VMM's set lists the named orders it produces.
TEST(MigrationPlan, OrderSetsKeepTheirRules) {
    MigrationPlan p({step("stop", "stop_vcpus")},
                    {step("a", "restore_irqchip"), step("b", "restore_translation"), step("c", "restore_devices"),
                     step("d", "start_vcpus")},
                    {{"a", "b", "b reads a"}, {"a", "c", "c reads a"}, {"c", "d", "the doc says so", Rule::Abi}},
                    {{"qemu", {"a", "b", "c", "d"}}, {"late_a", {"d", "a", "c", "b"}}},
                    {{"qemu", "the VMM", {"qemu"}}, {"cloud-hypervisor", "another VMM", {"qemu", "late_a"}}});
    ASSERT_EQ(p.order_sets().size(), 4u);
    EXPECT_EQ(p.data_set().name(), "data");
    EXPECT_EQ(p.count_orders(), 8u);  // the Abi rule is not a data dependency
    const OrderSet& abi = *p.find_order_set("abi");
    EXPECT_EQ(abi.count(), 3u);  // a first, d after c: a b c d, a c b d, a c d b
    EXPECT_EQ(p.first_violation(RestoreOrder{3, 0, 2, 1}), nullptr);
    EXPECT_EQ(abi.why_not(RestoreOrder{3, 0, 2, 1}), "order set abi keeps c before d (abi: the doc says so)");
    EXPECT_EQ(abi.why_not(RestoreOrder{0, 1, 2, 3}), "");
    for (uint64_t i = 0; i < abi.count(); ++i) EXPECT_EQ(abi.why_not(abi.at(i)), "") << i;
    const OrderSet& vmm = *p.find_order_set("qemu");
    ASSERT_TRUE(vmm.listed());
    EXPECT_EQ(vmm.count(), 1u);
    EXPECT_EQ(vmm.at(0), p.qemu_order());
    EXPECT_EQ(vmm.why_not(RestoreOrder{3, 0, 2, 1}), "order set qemu holds only the order qemu (the VMM)");
    EXPECT_EQ(p.find_order_set("cloud-hypervisor")->count(), 2u);
    EXPECT_EQ(p.find_order_set("qemu-7.2"), nullptr);
    EXPECT_THROW(p.order_set("qemu-7.2", SourceLoc{"--order-set", 0, 0}, "t"), InputError);
    // A VMM set must be one of kOrderSetNames and name known orders.
    auto plan_with = [](VmmOrderSet v) {
        return MigrationPlan({}, {step("a", "restore_irqchip")}, {}, {{"qemu", {"a"}}}, {std::move(v)});
    };
    EXPECT_THROW(plan_with({"libvirt", "", {"qemu"}}), std::logic_error);
    EXPECT_THROW(plan_with({"qemu", "", {"fastest"}}), std::logic_error);
    EXPECT_THROW(plan_with({"data", "", {"qemu"}}), std::logic_error);
}

TEST(MigrationPlan, FirstViolationNamesTheBrokenDependency) {
    MigrationPlan p = diamond();
    const Dependency* d = p.first_violation(RestoreOrder{1, 0, 2, 3});
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->before, "a");
    EXPECT_EQ(d->after, "b");
}

TEST(MigrationPlan, ResolvesNamedAndExplicitOrders) {
    MigrationPlan p = diamond();
    OrderSpec named;
    named.name = "late_a";
    EXPECT_EQ(p.resolve(named, "t"), (RestoreOrder{3, 0, 2, 1}));
    OrderSpec list;
    list.kind = OrderSpec::Kind::Explicit;
    list.steps = {"a", "d", "c", "b"};
    EXPECT_EQ(p.resolve(list, "t"), (RestoreOrder{0, 3, 2, 1}));
    // A neutral name stands for its sub-steps in QEMU's order.
    list.steps = {"restore_irqchip", "start_vcpus", "restore_devices", "restore_translation"};
    EXPECT_EQ(p.resolve(list, "t"), (RestoreOrder{0, 3, 2, 1}));
}

std::string resolve_error(const MigrationPlan& p, const OrderSpec& spec) {
    try {
        p.resolve(spec, "t");
    } catch (const InputError& e) {
        return e.what();
    }
    return "no error";
}

TEST(MigrationPlan, RejectsBadOrdersWithTheirLocation) {
    MigrationPlan p = diamond();
    OrderSpec s;
    s.loc = SourceLoc{"f.yaml", 3, 7};
    s.name = "fastest";
    EXPECT_EQ(resolve_error(p, s),
              "f.yaml:3:7: 'fastest' is not an order of backend t (expected one of: all, qemu, late_a, {set: NAME} or a "
              "list of steps)");
    s.kind = OrderSpec::Kind::All;
    EXPECT_EQ(resolve_error(p, s),
              "f.yaml:3:7: order 'all' stands for 8 restore orders of backend t; run one with --order NAME, or "
              "explore them with 'irqdiff explore'");
    s.kind = OrderSpec::Kind::Explicit;
    s.steps = {"a", "b", "x"};
    s.step_locs = {{"f.yaml", 3, 8}, {"f.yaml", 3, 11}, {"f.yaml", 3, 14}};
    EXPECT_EQ(resolve_error(p, s), "f.yaml:3:14: 'x' is not a restore step of backend t (expected one of: a, b, c, d)");
    s.steps = {"a", "b", "d"};
    EXPECT_EQ(resolve_error(p, s), "f.yaml:3:7: the order leaves out restore step c of backend t");
    s.steps = {"b", "a", "c", "d"};
    s.step_locs.push_back({"f.yaml", 3, 17});
    EXPECT_EQ(resolve_error(p, s), "f.yaml:3:8: b must come after a on backend t (b reads a)");
    s.steps = {"a", "restore_irqchip", "b", "c", "d"};
    s.step_locs.push_back({"f.yaml", 3, 20});
    EXPECT_EQ(resolve_error(p, s), "f.yaml:3:11: step a of backend t is already in the order");
}

TEST(MigrationPlan, PositionsOfArrivalPoints) {
    MigrationPlan p = diamond();
    RestoreOrder o{0, 3, 1, 2};
    EXPECT_EQ(p.schedule_names(o), (std::vector<std::string>{"stop", "save", "a", "d", "b", "c"}));
    EXPECT_EQ(p.position_of("save", o), 1u);
    EXPECT_EQ(p.position_of("d", o), 3u);
    EXPECT_EQ(p.position_of("start_vcpus", o), 3u);  // the neutral name of d
    EXPECT_EQ(p.position_of("restore_irqchip", o), 2u);
    EXPECT_EQ(p.position_of("stop_devices", o), std::nullopt);  // no sub-step maps onto it
    EXPECT_EQ(p.position_of("nowhere", o), std::nullopt);
    // Only neutral steps some sub-step maps onto are offered as arrival points.
    EXPECT_EQ(p.point_names(),
              (std::vector<std::string>{"stop", "save", "a", "b", "c", "d", "stop_vcpus", "save_irqchip",
                                        "restore_irqchip", "restore_translation", "restore_devices", "start_vcpus"}));
}

TEST(MigrationPlan, InconsistentPlansAreBackendBugs) {
    auto make = [](std::vector<Dependency> deps, std::vector<std::pair<std::string, std::vector<std::string>>> orders) {
        return MigrationPlan({}, {step("a", "restore_irqchip"), step("b", "start_vcpus")}, std::move(deps),
                             std::move(orders));
    };
    EXPECT_THROW(make({{"a", "b", ""}, {"b", "a", ""}}, {{"qemu", {"a", "b"}}}), std::logic_error);  // cycle
    EXPECT_THROW(make({{"a", "b", ""}}, {{"qemu", {"b", "a"}}}), std::logic_error);   // qemu breaks a -> b
    EXPECT_THROW(make({}, {{"fast", {"a", "b"}}}), std::logic_error);                 // no qemu order
    EXPECT_THROW(make({}, {{"qemu", {"a"}}}), std::logic_error);                      // not a permutation
    EXPECT_THROW(make({{"a", "zz", ""}}, {{"qemu", {"a", "b"}}}), std::logic_error);  // unknown step
    EXPECT_THROW(MigrationPlan({}, {step("a", "copy_memory")}, {}, {{"qemu", {"a"}}}), std::logic_error);  // wrong side
}

TEST(MigrationPlan, IdealPlanIsTheNeutralVocabulary) {
    BackendInfo ideal = ideal_backend_info();
    const MigrationPlan& p = *ideal.plan;
    EXPECT_EQ(p.save_steps().size(), 4u);
    EXPECT_EQ(p.restore_steps().size(), 5u);
    // restore_irqchip first; start_vcpus may take any of 4 places in the chain
    // restore_translation -> restore_devices -> start_devices.
    EXPECT_EQ(p.count_orders(), 4u);
    EXPECT_EQ(p.schedule_names(p.qemu_order()).back(), "start_devices");
}

}  // namespace
}  // namespace irqdiff
