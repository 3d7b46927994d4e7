#include "core/runner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>
#include <unordered_map>

#include "core/trace_points.h"

namespace irqdiff {

OrderSpec order_override(const RunOptions& options) {
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

namespace {

/// A `migrate` step with `cancel_after`: the save steps up to and including that one, each after
/// the fires that precede it, then the cancellation (QEMU migration/migration.c
/// migration_iteration_finish: a CANCELLED or FAILED migration of a running VM runs vm_start on the
/// source). The last save step is the switch-over and cannot be cancelled after. A fire the
/// explorer places at a later point arrives once the VM runs on the source again; a `before:`
/// naming such a step is an error.
void lower_cancelled(const Step& st, uint32_t i, const MigrationPlan& plan, std::string_view backend,
                     const std::vector<std::optional<uint16_t>>* arrival, Schedule& out) {
    const auto& saves = plan.save_steps();
    std::optional<size_t> last;
    if (std::optional<size_t> k = plan.find_save(st.cancel_after))
        last = *k;
    else
        for (size_t k = 0; k < saves.size(); ++k)
            if (saves[k].neutral == st.cancel_after) last = k;  // a neutral step: after its last sub-step
    if (!last) {
        std::vector<std::string> names;
        for (size_t k = 0; k + 1 < saves.size(); ++k) names.push_back(saves[k].name);
        throw InputError(st.cancel_loc, fmt::format("'{}' is not a save step of backend {} (expected one of: {})",
                                                    st.cancel_after, backend, fmt::join(names, ", ")));
    }
    if (*last + 1 >= saves.size())
        throw InputError(st.cancel_loc,
                         fmt::format("'{}' ends with the switch-over ({}): a migration is cancelled before its last "
                                     "save step",
                                     st.cancel_after, saves.back().name));
    const size_t points = *last + 1;
    std::vector<std::vector<SourceId>> fires_before(points);
    std::vector<SourceId> after;
    for (size_t k = 0; k < st.fires.size(); ++k) {
        const MigrationFire& f = st.fires[k];
        std::optional<size_t> p;
        if (arrival && k < arrival->size() && (*arrival)[k]) {
            p = *(*arrival)[k];
        } else if (f.before == kAnyStep) {
            throw InputError(f.before_loc,
                             "'any' stands for every arrival point; explore them with 'irqdiff "
                             "explore', or name one step");
        } else {
            p = plan.find_save(f.before);
            if (!p)
                for (size_t s = 0; s < saves.size() && !p; ++s)
                    if (saves[s].neutral == f.before) p = s;
            if (!p || *p >= points)
                throw InputError(f.before_loc,
                                 fmt::format("'{}' is not a save step the migration reaches: it is cancelled after "
                                             "'{}'",
                                             f.before, st.cancel_after));
        }
        if (*p < points)
            fires_before[*p].push_back(f.source);
        else
            after.push_back(f.source);
    }
    for (size_t p = 0; p < points; ++p) {
        for (SourceId s : fires_before[p]) out.actions.push_back(Action{StepKind::Fire, -1, s, Side::Save, 0, i, true});
        out.actions.push_back(Action{StepKind::Migrate, -1, 0, Side::Save, static_cast<uint16_t>(p), i, true});
    }
    out.actions.push_back(Action{StepKind::Cancel, -1, 0, Side::Save, static_cast<uint16_t>(*last), i, true});
    for (SourceId s : after) out.actions.push_back(Action{StepKind::Fire, -1, s, Side::Save, 0, i, false});
}

}  // namespace

const OrderSet& order_set_of(const MigrationPlan& plan, const OrderSpec& spec, const RunOptions& options,
                             std::string_view backend) {
    if (options.order_set)
        return plan.order_set(*options.order_set, SourceLoc{options.order_set_place, 0, 0}, backend);
    if (spec.kind == OrderSpec::Kind::Set) return plan.order_set(spec.name, spec.loc, backend);
    return plan.data_set();
}

size_t arrival_points(const MigrationPlan& plan) { return plan.save_steps().size() + plan.restore_steps().size(); }

const std::string& arrival_point_name(const MigrationPlan& plan, size_t point) {
    size_t saves = plan.save_steps().size();
    return point < saves ? plan.save_steps().at(point).name : plan.restore_steps().at(point - saves).name;
}

Schedule lower(const Scenario& scenario, const MigrationPlan& plan, std::string_view backend, const RunOptions& options,
               const ScheduleChoice* choice) {
    Schedule out;
    std::optional<OrderSpec> forced;
    if (options.order) forced = order_override(options);
    const size_t saves = plan.save_steps().size();
    size_t migration = 0;
    for (uint32_t i = 0; i < scenario.steps.size(); ++i) {
        const Step& st = scenario.steps[i];
        if (st.kind != StepKind::Migrate) {
            out.actions.push_back(Action{st.kind, st.vcpu, st.source, Side::Save, 0, i});
            continue;
        }
        if (!st.cancel_after.empty()) {
            lower_cancelled(st, i, plan, backend,
                            choice && migration < choice->arrival.size() ? &choice->arrival[migration] : nullptr, out);
            out.order_names.push_back("cancelled after " + st.cancel_after);
            out.orders.emplace_back();
            ++migration;
            continue;
        }
        const OrderSpec& spec = forced ? *forced : st.order;
        const OrderSet& set = order_set_of(plan, spec, options, backend);  // `all` without a set: data
        std::optional<uint64_t> chosen;
        if (choice && migration < choice->order.size()) chosen = choice->order[migration];
        RestoreOrder order;
        std::string order_name;
        if (chosen) {  // the explorer's digit: this step explores its set (the scenario's or --order all)
            order = set.at(*chosen);
            if (const std::string* name = plan.order_name(order))
                order_name = *name;
            else
                order_name = set.name() == kDataOrderSet ? fmt::format("#{}", *chosen)
                                                         : fmt::format("{}#{}", set.name(), *chosen);
        } else {
            order = plan.resolve(spec, backend);  // throws for `all` and `{set: ...}`
            order_name = spec.kind == OrderSpec::Kind::Named ? spec.name : "explicit";
            if (options.order_set) {
                std::string why = set.why_not(order);
                if (!why.empty())
                    throw InputError(spec.loc, fmt::format("order {} of backend {} is not in the order set asked for "
                                                           "({}): {}",
                                                           order_name, backend, options.order_set_place, why));
            }
        }
        const size_t points = saves + order.size();
        std::vector<std::vector<SourceId>> fires_before(points);
        for (size_t k = 0; k < st.fires.size(); ++k) {
            const MigrationFire& f = st.fires[k];
            std::optional<uint16_t> point;
            if (choice && migration < choice->arrival.size() && k < choice->arrival[migration].size())
                point = choice->arrival[migration][k];
            std::optional<size_t> p;
            if (point) {
                if (*point < saves)
                    p = *point;
                else
                    p = saves +
                        static_cast<size_t>(std::find(order.begin(), order.end(), *point - saves) - order.begin());
            } else if (f.before == kAnyStep) {
                throw InputError(f.before_loc, fmt::format("'any' stands for every one of the {} arrival points; "
                                                           "explore them with 'irqdiff explore', or name one step",
                                                           points));
            } else {
                p = plan.position_of(f.before, order);
                if (!p)
                    throw InputError(
                        f.before_loc,
                        fmt::format("'{}' is not a migration step of backend {} (expected one of: {}, or any)",
                                    f.before, backend, fmt::join(plan.point_names(), ", ")));
            }
            fires_before[*p].push_back(f.source);
        }
        for (size_t p = 0; p < points; ++p) {
            bool save = p < saves;
            Side side = save ? Side::Save : Side::Restore;
            for (SourceId s : fires_before[p]) out.actions.push_back(Action{StepKind::Fire, -1, s, side, 0, i, true});
            uint16_t index = save ? static_cast<uint16_t>(p) : order[p - saves];
            out.actions.push_back(Action{StepKind::Migrate, -1, 0, side, index, i, true});
        }
        out.order_names.push_back(std::move(order_name));
        out.orders.push_back(std::move(order));
        ++migration;
    }
    return out;
}

const SourceOutcome* RunResult::outcome(std::string_view source) const {
    for (const SourceOutcome& o : outcomes)
        if (source_names[o.source] == source) return &o;
    return nullptr;
}

const SourceOutcome* RunResult::outcome(SourceId source) const {
    // `outcomes` is in scenario order (ascending ids): a binary search.
    auto it = std::lower_bound(outcomes.begin(), outcomes.end(), source,
                               [](const SourceOutcome& o, SourceId id) { return o.source < id; });
    return it != outcomes.end() && it->source == source ? &*it : nullptr;
}

bool ScenarioResult::expectations_met() const {
    return guest_differences.empty() &&
           std::all_of(runs.begin(), runs.end(), [](const RunResult& r) { return r.expectations_met; });
}

uint32_t SourceMetrics::hops() const {
    // The path's first entry is where the state was when tracking began; a final empty entry is
    // its delivery or its loss. Everything between is a place set it was moved into.
    if (path.empty()) return 0;
    size_t n = path.size() - 1;
    if (path.back().places.empty() && n > 0) --n;
    return static_cast<uint32_t>(n);
}

void check_guest_override(const Registry& registry, std::span<const std::string> arches,
                          std::optional<GuestKind> guest, const std::string& place, const std::string& arch_place) {
    if (guest != GuestKind::Unicorn) return;
    for (const std::string& arch : arches)
        if (const BackendInfo* info = registry.find(arch); info && !info->virtualizing)
            throw InputError(place, fmt::format("'unicorn': backend {} has no guest program (it is the reference "
                                                "model: its vCPUs run no code); choose a virtualizing backend (arm, "
                                                "x86) with {}, or the abstract guest",
                                                arch, arch_place));
}

GuestOptions guest_options(const Scenario& scenario, const RunOptions& options) {
    GuestOptions g;
    g.kind = options.guest ? *options.guest : scenario.guest.value_or(GuestKind::Abstract);
    g.trace_instructions = options.trace_guest;
    return g;
}

Execution::Execution(const Scenario& scenario, const BackendInfo& info, PolicyValues policy, bool record_events,
                     bool keep_locations, GuestOptions guest)
    : scenario_(scenario),
      info_(info),
      policy_(std::move(policy)),
      keep_locations_(keep_locations),
      guest_options_(guest),
      log_(record_events),
      backend_(make_backend(info, BackendContext{scenario_, policy_, log_, guest_, guest_options_})),
      oracle_(scenario) {
    progress_.last.resize(scenario.sources.size());
    progress_.vanished.resize(scenario.sources.size());
    progress_.refired.resize(scenario.sources.size(), false);
    progress_.metrics.sources.resize(scenario.sources.size());
}

std::unique_ptr<Execution::Checkpoint> Execution::checkpoint() const {
    return std::make_unique<Checkpoint>(
        Checkpoint{backend_->snapshot(), oracle_, progress_, log_.mark(), guest_.mark()});
}

void Execution::rewind(const Checkpoint& c) {
    backend_->restore(*c.backend);
    oracle_ = c.oracle;
    progress_ = c.progress;
    log_.rewind(c.log);
    guest_.rewind(c.guest);
}

namespace {

void add_difference(SideMetrics& m, const EventLog::Mark& before, const EventLog& log, const BackendCounters& b0,
                    const BackendCounters& b1) {
    ++m.actions;
    m.events += log.total() - before.total;
    auto layer = [&](Layer l) { return log.count(l) - before.per_layer[static_cast<size_t>(l)]; };
    m.hypervisor_ops += layer(Layer::Hypervisor);
    m.vmm_ops += layer(Layer::Vmm);
    m.hw_ops += layer(Layer::Hardware);
    m.hw_commands += b1.hw_commands - b0.hw_commands;
    auto diff = [](AccessStats& out, const AccessStats& x0, const AccessStats& x1) {
        out.reads += x1.reads - x0.reads;
        out.writes += x1.writes - x0.writes;
        out.bytes_read += x1.bytes_read - x0.bytes_read;
        out.bytes_written += x1.bytes_written - x0.bytes_written;
    };
    diff(m.host, b0.host, b1.host);
    diff(m.guest, b0.guest, b1.guest);
}

bool only_not_live(const std::vector<Location>& places) {
    return !places.empty() && std::none_of(places.begin(), places.end(), [](const Location& l) { return l.live; });
}

}  // namespace

void Execution::step(const Action& a, uint32_t i) {
    log_.set_action(i);
    guest_.set_action(i);
    const size_t delivered_before = guest_.size();
    // Counted the same whether recorded or not, so metrics do not depend on recording.
    if (log_.recording())
        log_.emit(tp::kStep, describe(a, scenario_, *info_.plan));
    else
        log_.emit(tp::kStepUnrecorded);
    const EventLog::Mark before = log_.mark();
    BackendCounters counters_before;
    if (a.kind == StepKind::Migrate) counters_before = backend_->counters();
    backend_->apply(a);
    oracle_.apply(a, i);
    RunMetrics& m = progress_.metrics;
    if (a.kind == StepKind::Migrate)
        add_difference(a.side == Side::Save ? m.save : m.restore, before, log_, counters_before, backend_->counters());

    LocationChange change{i, {}};
    for (SourceId s = 0; s < progress_.last.size(); ++s) {
        now_.clear();
        backend_->where(s, now_);
        SourceMetrics& sm = m.sources[s];
        std::vector<Location>& last = progress_.last[s];
        bool delivered = false;
        for (size_t k = delivered_before; k < guest_.size(); ++k) delivered |= guest_.deliveries()[k].source == s;
        // A source's path starts where it is after the first migration action that finds it
        // pending and ends at its delivery, or where it is held nowhere any more.
        if (sm.path.empty() && a.migrating && !now_.empty()) {
            sm.path.push_back(Hop{i, now_});
        } else if (sm.tracking()) {
            if (!now_.empty() && now_ != last) sm.path.push_back(Hop{i, now_});
            if (delivered || now_.empty()) sm.path.push_back(Hop{i, {}, delivered});
        }
        if (only_not_live(now_)) {
            uint32_t& w = !a.migrating ? sm.window_outside : a.side == Side::Save ? sm.window_save : sm.window_restore;
            ++w;
        }
        std::optional<uint32_t>& vanished = progress_.vanished[s];
        const bool fired_here = a.kind == StepKind::Fire && a.source == s;
        // Held again: the state went through a place no where() names and came back, not a
        // loss; but held again after a fire since the vanish is new pending state, and the old
        // one stays lost where it vanished (issue 17 §2, core/invariants.h "conservation").
        if (vanished && fired_here) progress_.refired[s] = true;
        if (!now_.empty()) {
            if (!progress_.refired[s]) vanished.reset();
        } else if (!delivered && (!last.empty() || fired_here)) {
            vanished = i;
            progress_.refired[s] = false;
        }
        if (now_ != last) {
            if (keep_locations_) change.sources.emplace_back(s, now_);
            last = now_;
        }
    }
    if (!change.sources.empty()) progress_.locations.push_back(std::move(change));
}

std::vector<SourceOutcome> Execution::outcomes() const {
    std::vector<SourceOutcome> out;
    const Verdicts verdicts = Verdicts::from(log_.events(), scenario_);
    for (SourceId s = 0; s < progress_.last.size(); ++s) {
        std::optional<SourceOutcome> o = classify(s, oracle_.tally(s), guest_.deliveries(), progress_.last[s],
                                                  scenario_.device_of(s).passthrough, info_.virtualizing, verdicts,
                                                  scenario_.device_of(s).delivery);
        if (o && o->outcome == Outcome::Lost) o->vanished_at = progress_.vanished[s];
        if (o) out.push_back(std::move(*o));
    }
    return out;
}

std::vector<const TracePointInfo*> broken_rules(const std::vector<Event>& events) {
    std::vector<const TracePointInfo*> out;
    for (const Event& e : events)
        if (e.kind == EventKind::Violation && std::find(out.begin(), out.end(), e.point) == out.end())
            out.push_back(e.point);
    return out;
}

std::set<std::string> broken_names(const std::vector<const TracePointInfo*>& broken) {
    std::set<std::string> names;
    for (const TracePointInfo* p : broken) names.insert(std::string(p->op));
    return names;
}

std::vector<ExpectationResult> evaluate_expectations(const Scenario& scenario,
                                                     const std::vector<SourceOutcome>& outcomes,
                                                     const std::vector<const TracePointInfo*>& broken) {
    std::vector<ExpectationResult> out;
    // A source the schedule fired where it cannot be raised (outcome `impossible`) meets any
    // expectation: that schedule cannot happen, so it says nothing about the source.
    auto meets = [](Outcome got, Outcome want) { return got == want || got == Outcome::Impossible; };
    for (const Expectation& x : scenario.expect) {
        ExpectationResult e;
        e.expected = to_string(x.outcome);
        e.loc = x.loc;
        if (x.source) {
            e.key = scenario.sources[*x.source].name;
            for (const SourceOutcome& o : outcomes)
                if (o.source == *x.source) {
                    e.actual = to_string(o.outcome);
                    e.met = meets(o.outcome, x.outcome);
                }
        } else {
            // `all`: every source with an outcome and no expectation of its own.
            e.key = "all";
            e.met = true;
            for (const SourceOutcome& o : outcomes) {
                bool own = std::any_of(scenario.expect.begin(), scenario.expect.end(),
                                       [&](const Expectation& y) { return y.source == o.source; });
                if (own) continue;
                if (!e.actual || (e.met && !meets(o.outcome, x.outcome))) {
                    e.actual = to_string(o.outcome);
                    e.actual_source = scenario.sources[o.source].name;
                }
                if (!meets(o.outcome, x.outcome)) e.met = false;
            }
        }
        out.push_back(std::move(e));
    }
    // Violations: none allowed, unless `expect: {violations: [...]}` names exactly the rules broken,
    // which pins a known bug: every violation reported is one of the declarations the names
    // resolved to, and every name is matched by one.
    auto listed = [](const auto& ops) {
        return ops.empty() ? std::string("none") : fmt::format("{}", fmt::join(ops, ", "));
    };
    if (const auto& x = scenario.expect_violations) {
        bool met = std::all_of(broken.begin(), broken.end(), [&](const TracePointInfo* p) {
            return std::find(x->points.begin(), x->points.end(), p) != x->points.end();
        });
        for (const std::string& op : x->ops)
            met =
                met && std::any_of(broken.begin(), broken.end(), [&](const TracePointInfo* p) { return p->op == op; });
        std::set<std::string> wanted(x->ops.begin(), x->ops.end());
        out.push_back(ExpectationResult{"violations", listed(wanted), listed(broken_names(broken)), "", met, x->loc});
    }
    return out;
}

bool expectations_hold(const Scenario& scenario, const std::vector<SourceOutcome>& outcomes,
                       const std::vector<const TracePointInfo*>& broken) {
    if (!scenario.expect_violations && !broken.empty()) return false;
    for (const ExpectationResult& e : evaluate_expectations(scenario, outcomes, broken))
        if (!e.met) return false;
    return true;
}

RunResult Execution::result(const Schedule& schedule) const {
    const MigrationPlan& plan = *info_.plan;
    const Scenario& scenario = scenario_;
    RunResult r;
    r.arch = info_.name;
    r.policy = policy_;
    r.guest = info_.virtualizing ? guest_options_.kind : GuestKind::Abstract;  // the ideal controller has no guest code
    r.order_names = schedule.order_names;
    for (const RestoreOrder& o : schedule.orders) {
        std::vector<std::string> names;
        for (uint16_t i : o) names.push_back(plan.restore_steps()[i].name);
        r.restore_orders.push_back(std::move(names));
    }
    for (SourceId s = 0; s < scenario.sources.size(); ++s) {
        r.source_names.push_back(scenario.sources[s].name);
        r.identities.push_back(backend_->identity(s));
    }
    for (const Device& d : scenario.devices) r.device_names.push_back(d.name);
    for (const Action& a : schedule.actions) r.schedule.push_back(describe(a, scenario, plan));
    for (size_t i = 0; i < schedule.actions.size(); ++i) {
        const Action& a = schedule.actions[i];
        std::string phase = fmt::format("steps[{}]", a.scenario_step);
        if (a.migrating) {
            // A fire during a migration belongs to the step it precedes.
            size_t k = i;
            while (k < schedule.actions.size() && schedule.actions[k].kind != StepKind::Migrate &&
                   schedule.actions[k].kind != StepKind::Cancel)
                ++k;
            const Action& m = schedule.actions.at(k);
            const auto& steps = m.side == Side::Save ? plan.save_steps() : plan.restore_steps();
            phase += m.kind == StepKind::Cancel ? std::string(".cancel") : "." + steps.at(m.step).neutral;
        }
        r.phases.push_back(std::move(phase));
    }
    r.locations = progress_.locations;
    r.deliveries = guest_.deliveries();
    r.guest_records = guest_.records();
    r.outcomes = outcomes();
    for (const Event& e : log_.events())
        if (e.kind == EventKind::Violation) r.violations.push_back(e);
    r.expectations = evaluate_expectations(scenario, r.outcomes, broken_rules(r.violations));
    r.expectations_met =
        (scenario.expect_violations || r.violations.empty()) &&
        std::all_of(r.expectations.begin(), r.expectations.end(), [](const ExpectationResult& e) { return e.met; });
    r.metrics = progress_.metrics;
    r.metrics.actions = static_cast<uint32_t>(schedule.actions.size());
    r.metrics.events = log_.total();
    r.metrics.deliveries = r.deliveries.size();
    for (int l = 0; l < kLayerCount; ++l) r.metrics.events_by_layer[l] = log_.count(static_cast<Layer>(l));
    r.events = log_.events();
    return r;
}

RunResult run_scenario(const Scenario& scenario, const BackendInfo& info, const RunOptions& options,
                       const ScheduleChoice* choice) {
    // Overrides are checked against the whole catalogue: resolve_policy leaves other backends' keys out.
    if (info.catalog)
        for (const PolicySetting& s : options.policy) validate_policy_setting(*info.catalog, s);
    Schedule schedule = lower(scenario, *info.plan, info.name, options, choice);
    Execution run(scenario, info, resolve_policy(info.policies, scenario.policy, options.policy), options.record_events,
                  true, guest_options(scenario, options));
    for (uint32_t i = 0; i < schedule.actions.size(); ++i) run.step(schedule.actions[i], i);
    return run.result(schedule);
}

ScenarioResult run_scenario(const Scenario& scenario, const Registry& registry, std::span<const std::string> arches,
                            const RunOptions& options) {
    ScenarioResult result{scenario.name, scenario.file, {}, {}, {}};
    std::vector<bool> compared;  // per run: takes part in the cross-backend differences
    for (const std::string& arch : arches) {
        const BackendInfo* info = registry.find(arch);
        if (!info) throw std::logic_error("run_scenario: unexpanded arch " + arch);
        if (options.compare_guests && info->virtualizing) {
            RunOptions each = options;
            each.guest = GuestKind::Abstract;
            result.runs.push_back(run_scenario(scenario, *info, each));
            compared.push_back(true);
            each.guest = GuestKind::Unicorn;
            result.runs.push_back(run_scenario(scenario, *info, each));
            compared.push_back(false);  // the abstract runs stand for their backend
            for (GuestDifference& d : compare_guests(result.runs[result.runs.size() - 2], result.runs.back()))
                result.guest_differences.push_back(std::move(d));
            continue;
        }
        result.runs.push_back(run_scenario(scenario, *info, options));
        compared.push_back(info->virtualizing);
    }
    for (size_t i = 0; i < result.runs.size(); ++i)
        for (size_t j = i + 1; j < result.runs.size(); ++j)
            if (compared[i] && compared[j])
                for (Difference& d : differences(result.runs[i], result.runs[j]))
                    result.differences.push_back(std::move(d));
    return result;
}

std::vector<GuestDifference> compare_guests(const RunResult& a, const RunResult& b) {
    uint32_t vcpus = 0;
    for (const RunResult* r : {&a, &b})
        for (const Delivery& d : r->deliveries) vcpus = std::max(vcpus, d.vcpu + 1);
    auto of = [](const RunResult& r, uint32_t vcpu) {
        std::vector<const Delivery*> out;
        for (const Delivery& d : r.deliveries)
            if (d.vcpu == vcpu) out.push_back(&d);
        return out;
    };
    auto show = [](const RunResult& r, const std::vector<const Delivery*>& seq, size_t k) -> std::string {
        if (k >= seq.size()) return "nothing";
        const Delivery& d = *seq[k];
        return fmt::format("{} ({}) during '{}' (action {})", r.source_names.at(d.source), to_string(d.path),
                           r.schedule.at(d.action), d.action);
    };
    std::vector<GuestDifference> out;
    for (uint32_t v = 0; v < vcpus; ++v) {
        std::vector<const Delivery*> x = of(a, v), y = of(b, v);
        for (size_t k = 0; k < std::max(x.size(), y.size()); ++k) {
            if (k < x.size() && k < y.size() && x[k]->source == y[k]->source && x[k]->path == y[k]->path &&
                x[k]->action == y[k]->action)
                continue;
            out.push_back(GuestDifference{a.arch, v, k, show(a, x, k), show(b, y, k)});
            break;
        }
    }
    return out;
}

namespace {

/// The scenario points in order (steps; a migration's neutral steps in their neutral order), and
/// after each, where each of `sources` was: the state after the last action of that point.
/// Linear in actions and location changes (issue 17 §5: this was quadratic in actions and copied
/// every source's places after every action), and only the sources asked for are followed.
struct PhaseStates {
    std::vector<std::string> phases;                       // in order
    std::unordered_map<std::string, size_t> index;         // phase -> position in `phases`
    std::vector<std::vector<std::vector<Location>>> places;  // [phase][k]: places of sources[k]
};

PhaseStates states_by_phase(const RunResult& r, const std::vector<size_t>& sources) {
    PhaseStates out;
    std::unordered_map<std::string, size_t> last;  // phase -> its last action
    for (size_t i = 0; i < r.phases.size(); ++i) {
        auto [it, fresh] = last.emplace(r.phases[i], i);
        if (fresh)
            out.phases.push_back(r.phases[i]);
        else
            it->second = i;
    }
    // Neutral steps of one migration in the neutral order, whatever order the sub-steps ran in.
    auto rank = [](const std::string& p) {
        size_t dot = p.find('.');
        if (dot == std::string::npos) return size_t{0};
        size_t k = 1;
        for (const NeutralStep& n : neutral_steps()) {
            if (n.name == std::string_view(p).substr(dot + 1)) return k;
            ++k;
        }
        return k;
    };
    auto step_of = [](const std::string& p) { return std::stoul(p.substr(6, p.find(']') - 6)); };
    std::vector<std::pair<size_t, size_t>> keys(out.phases.size());  // (step, rank) per phase
    for (size_t k = 0; k < out.phases.size(); ++k) keys[k] = {step_of(out.phases[k]), rank(out.phases[k])};
    std::vector<size_t> perm(out.phases.size());
    for (size_t k = 0; k < perm.size(); ++k) perm[k] = k;
    std::stable_sort(perm.begin(), perm.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
    std::vector<std::string> sorted;
    for (size_t k : perm) sorted.push_back(std::move(out.phases[k]));
    out.phases = std::move(sorted);
    for (size_t k = 0; k < out.phases.size(); ++k) out.index.emplace(out.phases[k], k);

    // One sweep over the actions: the followed sources' places, recorded at each phase's last action.
    std::unordered_map<SourceId, size_t> followed;  // source -> k
    for (size_t k = 0; k < sources.size(); ++k) followed.emplace(static_cast<SourceId>(sources[k]), k);
    std::vector<std::vector<size_t>> ends_at(r.phases.size());  // action -> phases ending there
    for (size_t k = 0; k < out.phases.size(); ++k) ends_at[last.at(out.phases[k])].push_back(k);
    std::vector<std::vector<Location>> now(sources.size());
    out.places.assign(out.phases.size(), {});
    size_t c = 0;
    for (size_t i = 0; i < r.phases.size(); ++i) {
        for (; c < r.locations.size() && r.locations[c].action == i; ++c)
            for (const auto& [s, places] : r.locations[c].sources)
                if (auto f = followed.find(s); f != followed.end()) now[f->second] = places;
        for (size_t k : ends_at[i]) out.places[k] = now;
    }
    return out;
}

/// Held in some place a path delivers from. Not pending at all counts as not live: before its fire
/// and after its delivery both sides agree, and in between "nowhere" is a loss.
bool live_somewhere(const std::vector<Location>& places) {
    return std::any_of(places.begin(), places.end(), [](const Location& l) { return l.live; });
}

std::string outcome_text(const RunResult& r, size_t source) {
    const SourceOutcome* o = r.outcome(static_cast<SourceId>(source));
    if (!o) return "none";
    return std::string(to_string(o->outcome)) + (o->forwarded && !*o->forwarded ? ",forwarded=false" : "");
}

}  // namespace

std::vector<Difference> differences(const RunResult& a, const RunResult& b) {
    std::vector<Difference> out;
    std::vector<size_t> differing;  // usually none or a few: only their places are followed
    for (size_t s = 0; s < a.source_names.size(); ++s)
        if (outcome_text(a, s) != outcome_text(b, s)) differing.push_back(s);
    if (differing.empty()) return out;
    const PhaseStates sa = states_by_phase(a, differing), sb = states_by_phase(b, differing);
    for (size_t k = 0; k < differing.size(); ++k) {
        const size_t s = differing[k];
        Difference d{a.source_names[s], a.arch, b.arch, outcome_text(a, s), outcome_text(b, s), "", {}, {}};
        for (size_t p = 0; p < sa.phases.size(); ++p) {
            auto it = sb.index.find(sa.phases[p]);
            if (it == sb.index.end()) continue;
            const std::vector<Location>& pa = sa.places[p][k];
            const std::vector<Location>& pb = sb.places[it->second][k];
            if (live_somewhere(pa) != live_somewhere(pb)) {
                d.phase = sa.phases[p];
                d.places_a = pa;
                d.places_b = pb;
                break;
            }
        }
        out.push_back(std::move(d));
    }
    return out;
}

}  // namespace irqdiff
