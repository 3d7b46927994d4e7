// The oracle (DESIGN.md "Oracle"): a fired source is pending for its vCPU, is delivered once when
// that vCPU runs unmasked, and two fires before one delivery coalesce.
#include "core/oracle.h"

#include <gtest/gtest.h>

namespace irqdiff {
namespace {

Scenario two_vcpus() {
    return parse_scenario(
        "name: t\nvm: {vcpus: 2}\ndevices: [{name: nic, vectors: 2, passthrough: true}]\n"
        "routes: [{source: nic.0, vcpu: 0}, {source: nic.1, vcpu: 1}]\nsteps: [{run: all}]\n",
        {});
}

Action fire(SourceId s) { return Action{StepKind::Fire, -1, s}; }
Action run(int vcpu = -1) { return Action{StepKind::Run, vcpu}; }
Action on(StepKind kind, int vcpu) { return Action{kind, vcpu}; }

TEST(Oracle, TwoFiresBeforeOneDeliveryCoalesce) {
    Oracle o(two_vcpus());
    o.apply(fire(0), 0);
    o.apply(fire(0), 1);
    o.apply(run(), 2);
    const Oracle::Tally& t = o.tally(0);
    EXPECT_EQ(t.fired, 2u);
    EXPECT_EQ(t.coalesced, 1u);
    EXPECT_EQ(t.deliveries, (std::vector<uint32_t>{2}));
    EXPECT_FALSE(t.pending);
}

TEST(Oracle, FiresSeparatedByADeliveryAreDeliveredTwice) {
    Oracle o(two_vcpus());
    o.apply(fire(0), 0);
    o.apply(run(), 1);
    o.apply(fire(0), 2);
    o.apply(run(), 3);
    EXPECT_EQ(o.tally(0).coalesced, 0u);
    EXPECT_EQ(o.tally(0).deliveries, (std::vector<uint32_t>{1, 3}));
}

TEST(Oracle, MaskedVcpuKeepsItPendingUntilItRunsUnmasked) {
    Oracle o(two_vcpus());
    o.apply(on(StepKind::Mask, 0), 0);
    o.apply(fire(0), 1);
    o.apply(fire(1), 2);
    o.apply(run(), 3);
    EXPECT_TRUE(o.tally(0).pending);
    EXPECT_TRUE(o.tally(0).deliveries.empty());
    EXPECT_EQ(o.tally(1).deliveries, (std::vector<uint32_t>{3}));  // vCPU 1 was not masked
    o.apply(on(StepKind::Unmask, 0), 4);
    EXPECT_TRUE(o.tally(0).pending);  // unmasking alone delivers nothing: the vCPU must run
    o.apply(run(1), 5);
    EXPECT_TRUE(o.tally(0).pending);  // running another vCPU does not deliver it either
    o.apply(run(0), 6);
    EXPECT_EQ(o.tally(0).deliveries, (std::vector<uint32_t>{6}));
}

TEST(Oracle, PendingStateFollowsARetarget) {
    Oracle o(two_vcpus());
    o.apply(on(StepKind::Mask, 0), 0);
    o.apply(fire(0), 1);
    o.apply(Action{StepKind::Retarget, 1, 0}, 2);
    EXPECT_EQ(o.route(0), 1u);
    o.apply(run(1), 3);
    EXPECT_EQ(o.tally(0).deliveries, (std::vector<uint32_t>{3}));
}

TEST(Oracle, MigrationBlockingAndUnassignDoNotChangeTheIdealController) {
    Oracle o(two_vcpus());
    o.apply(fire(0), 0);
    o.apply(on(StepKind::Block, 0), 1);
    o.apply(Action{StepKind::Migrate, -1, 0, Side::Restore, 0}, 2);
    o.apply(Action{StepKind::Unassign, -1, 0}, 3);
    EXPECT_TRUE(o.tally(0).pending);
    o.apply(run(), 4);
    EXPECT_EQ(o.tally(0).deliveries, (std::vector<uint32_t>{4}));
}

// X3 (kernel_history_2021_2026.md, "KVM: Don't clobber irqfd routing type when deassigning irqfd",
// 13 Jan 2026): an MSI that took a deassigned irqfd's stale bypass (a Stale event at action 3) and
// that the guest then took is delivered-after-deassign, though the count matches the oracle's; a
// delivery before the Stale event is not.
TEST(OracleClassify, ADeliveryAfterAStaleBypassIsDeliveredAfterDeassign_X3_Jan2026) {
    Oracle::Tally t;
    t.fired = 1;
    t.deliveries = {4};
    Verdicts v;
    v.stale = {{0, 3}};
    auto o = classify(0, t, {{4, 0, 0, DeliveryPath::Direct}}, {}, true, true, v);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->outcome, Outcome::DeliveredAfterDeassign);
    auto before = classify(0, t, {{2, 0, 0, DeliveryPath::Direct}}, {}, true, true, v);
    ASSERT_TRUE(before);
    EXPECT_EQ(before->outcome, Outcome::DeliveredOnce);
    EXPECT_EQ(parse_outcome("delivered-after-deassign"), Outcome::DeliveredAfterDeassign);
}

// classify(): the backend's deliveries and end-state places against the oracle's.
Oracle::Tally tally(uint32_t fired, std::vector<uint32_t> deliveries, bool pending = false) {
    Oracle::Tally t;
    t.fired = fired;
    t.deliveries = std::move(deliveries);
    t.pending = pending;
    return t;
}

Outcome outcome_of(const Oracle::Tally& t, std::vector<Delivery> d, std::vector<Location> held = {}) {
    auto o = classify(0, t, d, held, false, true);
    EXPECT_TRUE(o.has_value());
    return o ? o->outcome : Outcome::Lost;
}

TEST(Classify, ComparesDeliveryCountsWithTheOracle) {
    EXPECT_EQ(outcome_of(tally(1, {5}), {{5, 0, 0}}), Outcome::DeliveredOnce);
    EXPECT_EQ(outcome_of(tally(1, {5}), {}), Outcome::Lost);
    EXPECT_EQ(outcome_of(tally(1, {5}), {{5, 0, 0}, {7, 0, 0}}), Outcome::Duplicated);
    // Deliveries of other sources do not count.
    EXPECT_EQ(outcome_of(tally(1, {5}), {{5, 0, 1}}), Outcome::Lost);
}

TEST(Classify, EndStatePlacesDecideWhatIsStillPending) {
    static constexpr Place kPending{"x.pending", IndexKind::Vcpu, "a live place"};
    static constexpr Place kStream{"x.stream", IndexKind::Vcpu, "a place nothing delivers from"};
    Location live{&kPending, 0, true}, dead{&kStream, 0, false};
    EXPECT_EQ(outcome_of(tally(1, {}, true), {}, {live}), Outcome::Pending);
    EXPECT_EQ(outcome_of(tally(1, {}, true), {}, {dead}), Outcome::Lost);  // held only where nothing reads it
    EXPECT_EQ(outcome_of(tally(1, {}, true), {}, {}), Outcome::Lost);
    EXPECT_EQ(outcome_of(tally(1, {}, true), {}, {live, live}), Outcome::Duplicated);  // two live copies
    EXPECT_EQ(outcome_of(tally(1, {4}), {{4, 0, 0}}, {live}), Outcome::Duplicated);    // a copy left behind
    EXPECT_EQ(outcome_of(tally(1, {4}), {{4, 0, 0}}, {dead}), Outcome::DeliveredOnce);
}

TEST(Classify, FlagsLateAndSoftwareDeliveries) {
    auto o = classify(0, tally(1, {4}), {{9, 0, 0, DeliveryPath::Software}}, {}, true, true);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->outcome, Outcome::DeliveredOnce);
    EXPECT_TRUE(o->late);
    ASSERT_TRUE(o->forwarded.has_value());
    EXPECT_FALSE(*o->forwarded);
    auto direct = classify(0, tally(1, {4}), {{4, 0, 0, DeliveryPath::Direct}}, {}, true, true);
    EXPECT_FALSE(direct->late);
    EXPECT_TRUE(*direct->forwarded);
    // Not passthrough, or the ideal backend: the flag does not apply.
    EXPECT_FALSE(classify(0, tally(1, {4}), {{4, 0, 0}}, {}, false, true)->forwarded.has_value());
    EXPECT_FALSE(classify(0, tally(1, {4}), {{4, 0, 0}}, {}, true, false)->forwarded.has_value());
}

TEST(Classify, UntouchedSourceHasNoOutcome) {
    EXPECT_FALSE(classify(0, tally(0, {}), {}, {}, false, true).has_value());
    // Never fired but delivered: a spurious delivery is a duplicate.
    EXPECT_EQ(classify(0, tally(0, {}), {{3, 0, 0}}, {}, false, true)->outcome, Outcome::Duplicated);
}

// Issue 15 §2.6, at-least-once (Firecracker #5568's unconditional post-restore interrupt; Oliver
// Upton, "a spurious interrupt doesn't seem that bad", 2025-07-02; reference/kernel_history U4, A2):
// an extra delivery, a live copy left behind, or a delivery never fired is `spurious`, accepted;
// the same runs are `duplicated` under exactly-once (the default).
TEST(Classify, AtLeastOnceAcceptsADuplicateAsSpurious_Firecracker5568) {
    static constexpr Place kPending{"x.pending", IndexKind::Vcpu, "a live place"};
    const Location live{&kPending, 0, true};
    auto at_least_once = [](const Oracle::Tally& t, std::vector<Delivery> d, std::vector<Location> held = {}) {
        return classify(0, t, d, held, false, true, {}, DeliveryMode::AtLeastOnce)->outcome;
    };
    EXPECT_EQ(at_least_once(tally(1, {5}), {{5, 0, 0}, {7, 0, 0}}), Outcome::Spurious);
    EXPECT_EQ(at_least_once(tally(1, {4}), {{4, 0, 0}}, {live}), Outcome::Spurious);
    EXPECT_EQ(at_least_once(tally(0, {}), {{3, 0, 0}}), Outcome::Spurious);  // an early tick, never fired
    EXPECT_EQ(at_least_once(tally(1, {}, true), {}, {live, live}), Outcome::Spurious);
    EXPECT_EQ(outcome_of(tally(1, {5}), {{5, 0, 0}, {7, 0, 0}}), Outcome::Duplicated);
}

// At-least-once accepts extra interrupts, never missing ones: a loss is lost, exactly once is
// delivered-once, and a refused save stays save-refused (issue 15 §2.6: "a loss still fails").
TEST(Classify, AtLeastOnceStillFailsALoss_Firecracker5568) {
    auto at_least_once = [](const Oracle::Tally& t, std::vector<Delivery> d, const Verdicts& v = {}) {
        return classify(0, t, d, {}, false, true, v, DeliveryMode::AtLeastOnce)->outcome;
    };
    EXPECT_EQ(at_least_once(tally(1, {5}), {}), Outcome::Lost);
    EXPECT_EQ(at_least_once(tally(1, {5}), {{5, 0, 0}}), Outcome::DeliveredOnce);
    Verdicts refused;
    refused.refused_at = 2;
    EXPECT_EQ(at_least_once(tally(1, {5}), {}, refused), Outcome::SaveRefused);
}

// The outcome's name is what scenarios expect and JSON prints.
TEST(Classify, SpuriousHasItsOwnOutcomeName) {
    EXPECT_STREQ(to_string(Outcome::Spurious), "spurious");
    EXPECT_EQ(parse_outcome("spurious"), Outcome::Spurious);
}

// Issue 15 §2.3: "The expectation for this ioctl [SAVE_PENDING_TABLES] is that userspace has already
// quiesced the interrupt generator" (Oliver Upton, 2025-07-02, <aGVN8_hmeSKdHGfG@linux.dev>;
// reference/kernel_history A2). A source lost after an Unquiesced event at action u is `undefined`
// when the deliveries before u were intact; one lost before u, or not touched, stays `lost`, and a
// delivered one is never undefined.
TEST(Classify, LostAfterAnUnquiescedSaveIsUndefined_aGVN8_hmeSKdHGfG) {
    Verdicts unquiesced;
    unquiesced.unquiesced = {{0, 4}};
    auto with = [&](const Oracle::Tally& t, std::vector<Delivery> d) {
        return classify(0, t, d, {}, true, true, unquiesced)->outcome;
    };
    EXPECT_EQ(with(tally(1, {9}), {}), Outcome::Undefined);
    EXPECT_EQ(with(tally(1, {9}), {{9, 0, 0}}), Outcome::DeliveredOnce);
    EXPECT_EQ(with(tally(2, {2, 9}), {}), Outcome::Lost);  // the delivery at 2, before the save, is missing
    EXPECT_EQ(with(tally(2, {2, 9}), {{2, 0, 0}}), Outcome::Undefined);
    EXPECT_EQ(classify(1, tally(1, {9}), {}, {}, true, true, unquiesced)->outcome, Outcome::Lost);  // not touched
    EXPECT_STREQ(to_string(Outcome::Undefined), "undefined");
    EXPECT_EQ(parse_outcome("undefined"), Outcome::Undefined);
}

}  // namespace
}  // namespace irqdiff
