#include "core/runner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

namespace irqdiff {

namespace {

OrderSpec override_spec(const RunOptions& options) {
    OrderSpec spec;
    spec.loc = SourceLoc{options.order_place, 0, 0};
    const std::string& text = *options.order;
    if (text.find(',') == std::string::npos) {
        spec.kind = text == "all" ? OrderSpec::Kind::All : OrderSpec::Kind::Named;
        spec.name = text;
        return spec;
    }
    spec.kind = OrderSpec::Kind::Explicit;
    spec.name = "explicit";
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = std::min(text.find(',', start), text.size());
        spec.steps.push_back(text.substr(start, comma - start));
        spec.step_locs.push_back(spec.loc);
        start = comma + 1;
    }
    return spec;
}

}  // namespace

Schedule lower(const Scenario& scenario, const MigrationPlan& plan, std::string_view backend,
               const RunOptions& options) {
    Schedule out;
    std::optional<OrderSpec> forced;
    if (options.order) forced = override_spec(options);
    for (uint32_t i = 0; i < scenario.steps.size(); ++i) {
        const Step& st = scenario.steps[i];
        if (st.kind != StepKind::Migrate) {
            out.actions.push_back(Action{st.kind, st.vcpu, st.source, Side::Save, 0, i});
            continue;
        }
        const OrderSpec& spec = forced ? *forced : st.order;
        RestoreOrder order = plan.resolve(spec, backend);
        std::vector<std::string> names = plan.schedule_names(order);
        std::vector<std::vector<SourceId>> fires_before(names.size());
        for (const MigrationFire& f : st.fires) {
            if (f.before == kAnyStep)
                throw InputError(f.before_loc, fmt::format("'any' stands for every one of the {} arrival points; "
                                                           "explore them with 'irqdiff explore', or name one step",
                                                           names.size()));
            std::optional<size_t> p = plan.position_of(f.before, order);
            if (!p)
                throw InputError(f.before_loc,
                                 fmt::format("'{}' is not a migration step of backend {} (expected one of: {}, or any)",
                                             f.before, backend, fmt::join(plan.point_names(), ", ")));
            fires_before[*p].push_back(f.source);
        }
        for (size_t p = 0; p < names.size(); ++p) {
            for (SourceId s : fires_before[p]) out.actions.push_back(Action{StepKind::Fire, -1, s, Side::Save, 0, i});
            bool save = p < plan.save_steps().size();
            uint16_t index = save ? static_cast<uint16_t>(p) : order[p - plan.save_steps().size()];
            out.actions.push_back(Action{StepKind::Migrate, -1, 0, save ? Side::Save : Side::Restore, index, i});
        }
        out.order_names.push_back(spec.kind == OrderSpec::Kind::Named ? spec.name : "explicit");
        out.orders.push_back(std::move(order));
    }
    return out;
}

const SourceOutcome* RunResult::outcome(std::string_view source) const {
    for (const SourceOutcome& o : outcomes)
        if (source_names[o.source] == source) return &o;
    return nullptr;
}

bool ScenarioResult::expectations_met() const {
    return std::all_of(runs.begin(), runs.end(), [](const RunResult& r) { return r.expectations_met; });
}

RunResult run_scenario(const Scenario& scenario, const BackendInfo& info, const RunOptions& options) {
    const MigrationPlan& plan = *info.plan;
    RunResult r;
    r.arch = info.name;
    r.policy = resolve_policy(info.name, scenario.policy, options.policy);
    Schedule schedule = lower(scenario, plan, info.name, options);
    r.order_names = schedule.order_names;
    for (const RestoreOrder& o : schedule.orders) {
        std::vector<std::string> names;
        for (uint16_t i : o) names.push_back(plan.restore_steps()[i].name);
        r.restore_orders.push_back(std::move(names));
    }

    EventLog log(options.record_events);
    GuestLog guest;
    std::unique_ptr<Backend> backend = info.make(BackendContext{scenario, r.policy, log, guest});
    Oracle oracle(scenario);

    const size_t n = scenario.sources.size();
    for (SourceId s = 0; s < n; ++s) {
        r.source_names.push_back(scenario.sources[s].name);
        r.identities.push_back(backend->identity(s));
    }
    std::vector<std::vector<Location>> last(n), now(n);
    for (uint32_t i = 0; i < schedule.actions.size(); ++i) {
        const Action& a = schedule.actions[i];
        std::string text = describe(a, scenario, plan);
        r.schedule.push_back(text);
        log.set_action(i);
        guest.set_action(i);
        uint64_t before = log.total();
        log.op(Layer::Scenario, "STEP", {{"do", text}});
        backend->apply(a);
        oracle.apply(a, i);
        if (a.kind == StepKind::Migrate) {
            bool save = a.side == Side::Save;
            ++(save ? r.metrics.save_actions : r.metrics.restore_actions);
            (save ? r.metrics.save_events : r.metrics.restore_events) += log.total() - before;
        }
        LocationChange change{i, {}};
        for (SourceId s = 0; s < n; ++s) {
            now[s].clear();
            backend->where(s, now[s]);
            if (now[s] != last[s]) {
                change.sources.emplace_back(s, now[s]);
                last[s] = now[s];
            }
        }
        if (!change.sources.empty()) r.locations.push_back(std::move(change));
    }

    r.deliveries = guest.deliveries();
    for (SourceId s = 0; s < n; ++s) {
        std::optional<SourceOutcome> o =
            classify(s, oracle.tally(s), r.deliveries, last[s], scenario.device_of(s).passthrough, info.virtualizing);
        if (o) r.outcomes.push_back(std::move(*o));
    }

    for (const Expectation& x : scenario.expect) {
        ExpectationResult e;
        e.expected = to_string(x.outcome);
        e.loc = x.loc;
        if (x.source) {
            e.key = scenario.sources[*x.source].name;
            if (const SourceOutcome* o = r.outcome(e.key)) e.actual = to_string(o->outcome);
            e.met = e.actual == e.expected;
        } else {
            // `all`: every source with an outcome and no expectation of its own.
            e.key = "all";
            e.met = true;
            for (const SourceOutcome& o : r.outcomes) {
                bool own = std::any_of(scenario.expect.begin(), scenario.expect.end(),
                                       [&](const Expectation& y) { return y.source == o.source; });
                if (own) continue;
                if (!e.actual || (e.met && to_string(o.outcome) != e.expected)) {
                    e.actual = to_string(o.outcome);
                    e.actual_source = r.source_names[o.source];
                }
                if (to_string(o.outcome) != e.expected) e.met = false;
            }
        }
        r.expectations.push_back(std::move(e));
    }

    for (const Event& e : log.events())
        if (e.kind == EventKind::Violation) r.violations.push_back(e);
    // Violations: none allowed, unless `expect: {violations: [...]}` names exactly the rules broken
    // (by operation), which pins a known bug.
    std::set<std::string> broken;
    for (const Event& e : r.violations) broken.insert(e.op);
    auto listed = [](const auto& ops) {
        return ops.empty() ? std::string("none") : fmt::format("{}", fmt::join(ops, ", "));
    };
    if (scenario.expect_violations) {
        std::set<std::string> wanted(scenario.expect_violations->ops.begin(), scenario.expect_violations->ops.end());
        r.expectations.push_back(ExpectationResult{"violations", listed(wanted), listed(broken), "", wanted == broken,
                                                   scenario.expect_violations->loc});
    }
    r.expectations_met =
        (scenario.expect_violations || r.violations.empty()) &&
        std::all_of(r.expectations.begin(), r.expectations.end(), [](const ExpectationResult& e) { return e.met; });
    r.metrics.actions = static_cast<uint32_t>(schedule.actions.size());
    r.metrics.events = log.total();
    r.metrics.deliveries = r.deliveries.size();
    for (int l = 0; l < kLayerCount; ++l) r.metrics.events_by_layer[l] = log.count(static_cast<Layer>(l));
    r.events = log.events();
    return r;
}

ScenarioResult run_scenario(const Scenario& scenario, const Registry& registry, std::span<const std::string> arches,
                            const RunOptions& options) {
    ScenarioResult result{scenario.name, scenario.file, {}};
    for (const std::string& arch : arches) {
        const BackendInfo* info = registry.find(arch);
        if (!info) throw std::logic_error("run_scenario: unexpanded arch " + arch);
        result.runs.push_back(run_scenario(scenario, *info, options));
    }
    return result;
}

}  // namespace irqdiff
