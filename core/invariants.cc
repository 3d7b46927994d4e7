#include "core/invariants.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "core/errors.h"
#include "core/explorer.h"
#include "core/policy.h"
#include "core/results.h"
#include "core/runner.h"
#include "core/scenario_generator.h"
#include "core/trace.h"

namespace irqdiff {
namespace {

/// FNV-1a: a stable seed for the sampled cut points and windows (std::hash is not stable).
uint64_t fnv(const std::string& s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

/// The same run, field by field: what the JSON holds (schedule, outcomes, deliveries, the guest's
/// own log, every location change, every event) and the metrics' JSON. Cheaper than comparing two
/// JSON texts, which the determinism check does once per scenario.
bool same_run(const RunResult& a, const RunResult& b) {
    return a.arch == b.arch && a.guest == b.guest && a.schedule == b.schedule && a.phases == b.phases &&
           a.order_names == b.order_names && a.restore_orders == b.restore_orders && a.outcomes == b.outcomes &&
           a.expectations_met == b.expectations_met && a.violations == b.violations && a.deliveries == b.deliveries &&
           a.guest_records == b.guest_records && a.locations == b.locations && a.events == b.events &&
           to_json(a.metrics.save) == to_json(b.metrics.save) && to_json(a.metrics.restore) == to_json(b.metrics.restore) &&
           a.metrics.actions == b.metrics.actions && a.metrics.events == b.metrics.events &&
           a.metrics.deliveries == b.metrics.deliveries;
}

class Checker {
   public:
    Checker(const Scenario& s, const Registry& r, const InvariantOptions& o, InvariantReport& out)
        : s_(s), registry_(r), o_(o), out_(out), choices_(fnv(s.text.empty() ? s.name : s.text)) {}

    void fail(const std::string& line) { out_.violations.push_back(line); }
    void check(bool ok, const std::string& invariant, const std::string& what) {
        ++out_.checks;
        if (!ok) fail(invariant + ": " + what);
    }

    std::string who(const RunResult& r) const {
        return r.guest == GuestKind::Unicorn ? r.arch + "/unicorn" : r.arch;
    }

    /// Per source, the action of each `fire SOURCE` in the schedule (migration fires too).
    static std::vector<std::vector<uint32_t>> fires_of(const RunResult& r) {
        std::vector<std::vector<uint32_t>> out(r.source_names.size());
        for (uint32_t a = 0; a < r.schedule.size(); ++a) {
            const std::string& d = r.schedule[a];
            if (d.rfind("fire ", 0) != 0) continue;
            for (SourceId s = 0; s < r.source_names.size(); ++s)
                if (d.compare(5, std::string::npos, r.source_names[s]) == 0) out[s].push_back(a);
        }
        return out;
    }

    bool at_least_once(SourceId s) const { return s_.devices[s_.sources[s].device].delivery == DeliveryMode::AtLeastOnce; }

    void run_invariants(const RunResult& r) {
        const auto fires = fires_of(r);
        const size_t n = r.source_names.size();
        for (const Delivery& d : r.deliveries) {
            if (d.source >= n) {
                fail(fmt::format("fire-first: {}: a delivery of source id {} the scenario does not have", who(r), d.source));
                continue;
            }
            const bool fired_before = !fires[d.source].empty() && fires[d.source].front() <= d.action;
            if (!fired_before) {
                // Only two deliveries come without a fire: an at-least-once device's extra one,
                // which the run must report (spurious or duplicated), and the x86 LAPIC timer's
                // early tick (KVM_SET_LAPIC restarts an armed one-shot: QEMU migrates no TMCCT),
                // which with its deadline's later fire (finding no timer) is delivered-once by the
                // documented rule: the oracle counts one tick per deadline and has no notion of an
                // early one (scenarios/x86/timer_deadline_ahead.yaml); without that fire it is
                // duplicated (x86_2025/timer_early_tick_exactly_once.yaml).
                const SourceOutcome* o = r.outcome(d.source);
                const bool reported = o && (o->outcome == Outcome::Duplicated || o->outcome == Outcome::Spurious);
                const DeviceKind kind = s_.devices[s_.sources[d.source].device].kind;
                check(kind == DeviceKind::Timer || (at_least_once(d.source) && reported), "fire-first",
                      fmt::format("{}: {} delivered at action {} ({}) before any fire, and the run calls it {}",
                                  who(r), r.source_names[d.source], d.action,
                                  d.action < r.schedule.size() ? r.schedule[d.action] : "?",
                                  o ? to_string(o->outcome) : "nothing"));
            }
        }
        // Conservation: each source is outstanding from a fire until the guest takes it. While
        // outstanding it must be held somewhere after every action; if it is held nowhere after
        // action v and then delivered with no fire in between, the run must not call it
        // delivered-once. A fire after v coalesces with the interrupt the oracle still counts as
        // pending (an edge MSI sets the same pending bit), so the later fire's delivery is the
        // one the guest takes either way: such a vanish is counted (masked_by_refire), not broken.
        std::vector<const std::vector<Location>*> now(n, nullptr);
        std::vector<bool> outstanding(n, false);
        std::vector<std::optional<uint32_t>> vanish(n), unreported(n);
        std::vector<std::vector<uint32_t>> delivered_at(n);
        for (const Delivery& d : r.deliveries)
            if (d.source < n) delivered_at[d.source].push_back(d.action);
        std::vector<size_t> next_fire(n, 0), next_delivery(n, 0);
        std::vector<uint32_t> early_ticks(n, 0);  // timer ticks taken before their deadline's fire
        std::vector<bool> ever_vanished(n, false);
        size_t c = 0;
        for (uint32_t a = 0; a < r.schedule.size(); ++a) {
            for (; c < r.locations.size() && r.locations[c].action == a; ++c)
                for (const auto& [src, places] : r.locations[c].sources)
                    if (src < n) now[src] = &places;
            for (SourceId s = 0; s < n; ++s) {
                if (next_fire[s] < fires[s].size() && fires[s][next_fire[s]] == a) {
                    while (next_fire[s] < fires[s].size() && fires[s][next_fire[s]] == a) ++next_fire[s];
                    if (vanish[s]) {
                        ++out_.masked_by_refire;
                        vanish[s].reset();
                    }
                    // A deadline that finds no timer because its tick came early is the early
                    // tick's, not a new interrupt (timer_deadline_ahead.yaml).
                    if (early_ticks[s] > 0 && (!now[s] || now[s]->empty()))
                        --early_ticks[s];
                    else
                        outstanding[s] = true;
                }
                if (next_delivery[s] < delivered_at[s].size() && delivered_at[s][next_delivery[s]] == a) {
                    if (!outstanding[s] && s_.devices[s_.sources[s].device].kind == DeviceKind::Timer) ++early_ticks[s];
                    while (next_delivery[s] < delivered_at[s].size() && delivered_at[s][next_delivery[s]] == a)
                        ++next_delivery[s];
                    if (vanish[s] && !unreported[s]) unreported[s] = vanish[s];
                    vanish[s].reset();
                    outstanding[s] = false;
                }
                if (outstanding[s] && !vanish[s] && (!now[s] || now[s]->empty())) {
                    vanish[s] = a;
                    ever_vanished[s] = true;
                }
            }
        }
        for (SourceId s = 0; s < n; ++s) {
            const SourceOutcome* o = r.outcome(s);
            if (unreported[s] && o)
                check(o->outcome != Outcome::DeliveredOnce, "conservation",
                      fmt::format("{}: {} was held nowhere after action {} ({}) and then delivered with no fire in "
                                  "between, yet is delivered-once",
                                  who(r), r.source_names[s], *unreported[s], r.schedule[*unreported[s]]));
            if (vanish[s] && outstanding[s] && o && o->outcome == Outcome::DeliveredOnce && o->coalesced > 0 &&
                o->delivered == o->expected) {
                // The oracle coalesced a fire with an interrupt it still counted as pending, while
                // the backend had already delivered that one (a masked vCPU still takes an event
                // already injected): the fire held nowhere is the coalesced one (gen-8169).
                ++out_.masked_by_refire;
            } else if (vanish[s] && outstanding[s]) {
                // Held nowhere at the end: a loss the run must report, at or after the first fire.
                check(o != nullptr && o->outcome != Outcome::DeliveredOnce && o->outcome != Outcome::Pending, "conservation",
                      fmt::format("{}: {} was fired and held nowhere after action {} ({}) to the end, yet is {}",
                                  who(r), r.source_names[s], *vanish[s], r.schedule[*vanish[s]],
                                  o ? to_string(o->outcome) : "without an outcome"));
            }
            // A lost source held nowhere names where it vanished, if it did: the checker saw it
            // held nowhere while outstanding. A loss with no such point is a coalescing one — the
            // backend merged fires the oracle counted apart (KVM keeps one pending NMI and one
            // injected, an MSI sets one pending bit) — counted, not broken.
            const bool seen_vanish = vanish[s].has_value() || unreported[s].has_value() || ever_vanished[s];
            if (o && o->outcome == Outcome::Lost && (!now[s] || now[s]->empty()) && !seen_vanish) {
                ++out_.coalescing_losses;
            } else if (o && o->outcome == Outcome::Lost && (!now[s] || now[s]->empty())) {
                check(o->vanished_at.has_value(), "conservation",
                      fmt::format("{}: {} is lost and held nowhere, but the run does not say where it vanished",
                                  who(r), r.source_names[s]));
                if (o->vanished_at && !fires[s].empty())
                    check(*o->vanished_at >= fires[s].front(), "conservation",
                          fmt::format("{}: {} vanished at action {}, before its first fire (action {})", who(r),
                                      r.source_names[s], *o->vanished_at, fires[s].front()));
            }
        }
        if (r.arch == "ideal")
            for (const SourceOutcome& o : r.outcomes)
                check(o.outcome == Outcome::DeliveredOnce || o.outcome == Outcome::Pending ||
                          o.outcome == Outcome::Impossible,
                      "reference",
                      fmt::format("ideal: {} is {}", o.source < n ? r.source_names[o.source] : "?", to_string(o.outcome)));
    }

    /// Snapshot identity on one backend: checkpoint after a sampled action k, finish; rewind,
    /// checkpoint again, finish; rewind to the second checkpoint, finish. All three equal the run
    /// without checkpoints.
    void snapshot_identity(const BackendInfo& info, GuestKind guest, const RunResult& whole) {
        RunOptions options;
        options.guest = guest;
        const Schedule schedule = lower(s_, *info.plan, info.name, options);
        const size_t n = schedule.actions.size();
        if (n == 0) return;
        const size_t k = choices_.below(static_cast<uint32_t>(n));
        Execution run(s_, info, resolve_policy(info.policies, s_.policy, options.policy), true, true,
                      guest_options(s_, options));
        for (size_t i = 0; i < k; ++i) run.step(schedule.actions[i], static_cast<uint32_t>(i));
        auto finish = [&] {
            for (size_t i = k; i < n; ++i) run.step(schedule.actions[i], static_cast<uint32_t>(i));
            ++out_.runs;
            return run.result(schedule);
        };
        const std::unique_ptr<Execution::Checkpoint> first = run.checkpoint();
        const RunResult a = finish();
        run.rewind(*first);
        const std::unique_ptr<Execution::Checkpoint> second = run.checkpoint();
        const RunResult b = finish();
        run.rewind(*second);
        const RunResult c = finish();
        const std::string label = fmt::format("{}{}: checkpoint after action {} of {}", info.name,
                                              guest == GuestKind::Unicorn ? "/unicorn" : "", k, n);
        check(same_run(a, whole), "snapshot", label + ": the run through the checkpoint differs from the run without it");
        check(same_run(b, whole), "snapshot", label + ": the rest of the run after a rewind differs");
        check(same_run(c, whole), "snapshot", label + ": the rest of the run after a second checkpoint and rewind differs");
    }

    /// The explorer's prefix sharing against each schedule on its own, over two sampled windows
    /// of the space of every order (`all`) and, with migration fires, every arrival point.
    void explorer(const std::vector<std::string>& arches) {
        bool migrates = false, fires = false;
        for (const Step& st : s_.steps)
            if (st.kind == StepKind::Migrate) {
                migrates = true;
                fires = fires || !st.fires.empty();
            }
        ExploreOptions eo;
        eo.arches = arches;
        eo.any_arrival = fires;
        if (migrates) eo.order = "all";
        std::optional<ExploreSpace> space;
        try {
            space.emplace(s_, registry_, eo);
        } catch (const InputError&) {
            // `order: all` does not apply to every migration (a cancelled one has no order): the
            // scenario's own orders, every arrival point.
            eo.order.reset();
            space.emplace(s_, registry_, eo);
        }
        const uint64_t size = space->size();
        const uint64_t w = std::max<uint32_t>(1, o_.explore_window);
        std::vector<uint64_t> starts{0};
        if (size > w) starts.push_back(w + choices_.below(static_cast<uint32_t>(std::min<uint64_t>(size - w, 1u << 30))));
        for (uint64_t lo : starts) {
            const uint64_t hi = std::min(size, lo + w);
            const std::vector<ScheduleRow> shared = space->explore(lo, hi);
            out_.runs += shared.size();
            for (uint64_t i = lo; i < hi; ++i) {
                const std::vector<ScheduleRow> alone = space->explore(i, i + 1);
                ++out_.runs;
                check(alone.size() == 1 && i - lo < shared.size() && alone[0] == shared[i - lo], "explorer",
                      fmt::format("schedule {} of {}: its row with prefix sharing differs from the row run alone", i,
                                  size));
            }
        }
    }

   private:
    const Scenario& s_;
    const Registry& registry_;
    const InvariantOptions& o_;
    InvariantReport& out_;
    SeededChoices choices_;  // the sampled cut points and windows, seeded by the scenario's text
};

}  // namespace

InvariantReport check_invariants(const Scenario& scenario, const Registry& registry,
                                 std::span<const std::string> arches, const InvariantOptions& options) {
    InvariantReport report;
    Checker c(scenario, registry, options, report);
    RunOptions ro;
    ro.record_events = true;
    ro.compare_guests = options.compare_guests;
    const ScenarioResult a = run_scenario(scenario, registry, arches, ro);
    const ScenarioResult b = run_scenario(scenario, registry, arches, ro);
    report.runs += a.runs.size() + b.runs.size();
    const std::string ja = to_json(a).dump();
    c.check(ja == to_json(b).dump(), "determinism", "two runs of the scenario give different JSON");
    c.check(chrome_trace_text(a) == chrome_trace_text(b), "determinism",
            "two runs of the scenario give different traces");
    for (const GuestDifference& d : a.guest_differences)
        c.fail(fmt::format("guests: {} vCPU {} delivery {}: abstract {}, unicorn {}", d.arch, d.vcpu, d.index,
                           d.abstract, d.unicorn));
    for (const RunResult& r : a.runs) c.run_invariants(r);
    for (size_t i = 0; i + 1 < a.runs.size(); ++i) {
        const RunResult& x = a.runs[i];
        const RunResult& y = a.runs[i + 1];
        if (x.arch != y.arch || x.guest == y.guest) continue;
        c.check(x.outcomes.size() == y.outcomes.size(), "guests",
                fmt::format("{}: {} sources with an outcome with the abstract guest, {} with the Unicorn guest", x.arch,
                            x.outcomes.size(), y.outcomes.size()));
        for (size_t k = 0; k < std::min(x.outcomes.size(), y.outcomes.size()); ++k)
            c.check(x.outcomes[k].source == y.outcomes[k].source && x.outcomes[k].outcome == y.outcomes[k].outcome,
                    "guests",
                    fmt::format("{}: {}: {} with the abstract guest, {} with the Unicorn guest", x.arch,
                                x.source_names[x.outcomes[k].source], to_string(x.outcomes[k].outcome),
                                to_string(y.outcomes[k].outcome)));
    }
    // Snapshot identity, per run of the scenario (each backend and guest).
    for (const RunResult& r : a.runs) {
        const BackendInfo* info = registry.find(r.arch);
        if (!info) continue;
        c.snapshot_identity(*info, r.guest, r);
    }
    if (options.explorer) {
        std::vector<std::string> virt;
        for (const std::string& arch : arches)
            if (const BackendInfo* info = registry.find(arch); info && info->virtualizing) virt.push_back(arch);
        if (!virt.empty()) c.explorer(virt);
    }
    return report;
}

}  // namespace irqdiff
