#include "core/explorer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <set>

namespace irqdiff {

namespace {

/// Every combination of the swept keys' values, the last key varying fastest.
std::vector<std::vector<PolicySetting>> combinations(const std::vector<const PolicySpec*>& swept) {
    std::vector<std::vector<PolicySetting>> out{{}};
    for (const PolicySpec* spec : swept) {
        std::vector<std::vector<PolicySetting>> next;
        for (const std::vector<PolicySetting>& prefix : out)
            for (std::string_view v : spec->values) {
                std::vector<PolicySetting> c = prefix;
                c.push_back(
                    PolicySetting{std::string(spec->key), std::string(v), {"--policy", 0, 0}, {"--policy", 0, 0}});
                next.push_back(std::move(c));
            }
        out = std::move(next);
    }
    return out;
}

[[noreturn]] void too_many(const std::string& place) {
    throw InputError(place,
                     "the exploration has more than 2^64 schedules; narrow it (fewer swept policies, or "
                     "a named order)");
}

uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& place) {
    if (b != 0 && a > UINT64_MAX / b) too_many(place);
    return a * b;
}

size_t common_prefix(const std::vector<Action>& a, const std::vector<Action>& b) {
    size_t n = std::min(a.size(), b.size()), i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

}  // namespace

bool ScheduleRow::failing() const {
    if (!violations.empty()) return true;
    return std::any_of(sources.begin(), sources.end(), [](const ScheduleSource& s) {
        // A refused save fails the migration too, announced rather than silent; so does an MSI the
        // guest took through the bypass of a deassigned irqfd (X3).
        return s.outcome == Outcome::Lost || s.outcome == Outcome::Duplicated || s.outcome == Outcome::SaveRefused ||
               s.outcome == Outcome::DeliveredAfterDeassign;
    });
}

ExploreSpace::ExploreSpace(const Scenario& scenario, const Registry& registry, ExploreOptions options)
    : scenario_(scenario), options_(std::move(options)) {
    // Split --policy into fixed settings and swept keys; validate both against the catalogue.
    const std::span<const PolicySpec> catalog = registry.policies();
    std::vector<PolicySetting> fixed;
    std::vector<const PolicySpec*> swept_all;
    for (const PolicySetting& s : options_.policy) {
        if (s.value == "all") {
            const PolicySpec* spec = find_policy(catalog, s.key);
            if (!spec) validate_policy_setting(catalog, s);  // reports the unknown key with the catalogue
            if (std::find(swept_all.begin(), swept_all.end(), spec) == swept_all.end()) swept_all.push_back(spec);
        } else {
            validate_policy_setting(catalog, s);
            fixed.push_back(s);
        }
    }
    for (const PolicySpec* spec : swept_all)
        for (const PolicySetting& s : fixed)
            if (s.key == spec->key)
                throw InputError(s.key_loc, fmt::format("{} is both swept (=all) and fixed (={})", s.key, s.value));
    std::sort(swept_all.begin(), swept_all.end(),
              [&](const PolicySpec* a, const PolicySpec* b) { return a - catalog.data() < b - catalog.data(); });

    for (const std::string& arch : options_.arches) {
        const BackendInfo* info = registry.find(arch);
        if (!info) throw std::logic_error("ExploreSpace: unexpanded arch " + arch);
        ExploreBlock b;
        b.backend = info;
        b.options.policy = fixed;
        b.options.record_events = false;
        b.options.guest = options_.guest;
        // `--order all` too: lowering then takes every step's orders from the `data` set (or --order-set).
        b.options.order = options_.order;
        b.options.order_place = options_.order_place;
        b.options.order_set = options_.order_set;
        b.options.order_set_place = options_.order_set_place;
        std::vector<const PolicySpec*> swept;
        for (const PolicySpec* spec : swept_all)
            if (spec->arch == arch) {
                swept.push_back(spec);
                b.swept.emplace_back(spec->key);
            }
        for (const std::vector<PolicySetting>& combo : combinations(swept)) {
            std::vector<PolicySetting> overrides = fixed;
            overrides.insert(overrides.end(), combo.begin(), combo.end());
            b.policies.push_back(resolve_policy(info->policies, scenario_.policy, overrides));
        }
        const MigrationPlan& plan = *info->plan;
        const std::string place = "explore " + arch;
        b.per_policy = 1;
        const std::optional<OrderSpec> forced =
            b.options.order ? std::optional<OrderSpec>(order_override(b.options)) : std::nullopt;
        for (const Step& st : scenario_.steps) {
            if (st.kind != StepKind::Migrate) continue;
            const OrderSpec& spec = forced ? *forced : st.order;  // as lower() sees it
            const bool all_orders = spec.kind == OrderSpec::Kind::All || spec.kind == OrderSpec::Kind::Set;
            const OrderSet& set = order_set_of(plan, spec, b.options, arch);
            b.orders.push_back(all_orders ? set.count() : 1);
            b.order_explored.push_back(all_orders);
            b.order_sets.push_back(set.name());
            std::vector<uint16_t> fires;
            std::vector<bool> explored;
            for (const MigrationFire& f : st.fires) {
                bool any = options_.any_arrival || f.before == kAnyStep;
                fires.push_back(any ? static_cast<uint16_t>(arrival_points(plan)) : 1);
                explored.push_back(any);
                b.per_policy = checked_mul(b.per_policy, fires.back(), place);
            }
            b.arrivals.push_back(std::move(fires));
            b.arrival_explored.push_back(std::move(explored));
            b.per_policy = checked_mul(b.per_policy, b.orders.back(), place);
        }
        b.first = size_;
        b.count = checked_mul(b.per_policy, b.policies.size(), place);
        if (size_ > UINT64_MAX - b.count) too_many(place);
        size_ += b.count;
        blocks_.push_back(std::move(b));
    }
    // Lower one schedule per block now, so that a bad order or step name is reported before any
    // exploration starts (at the scenario place or the option).
    for (size_t i = 0; i < blocks_.size(); ++i)
        if (blocks_[i].count) lower(decode(blocks_[i].first));
}

ScheduleCoord ExploreSpace::decode(uint64_t index) const {
    if (index >= size_) throw std::out_of_range(fmt::format("schedule {} of {}", index, size_));
    ScheduleCoord c;
    while (index >= blocks_[c.block].first + blocks_[c.block].count) ++c.block;
    const ExploreBlock& b = blocks_[c.block];
    uint64_t rest = index - b.first;
    c.policy = static_cast<size_t>(rest / b.per_policy);
    rest %= b.per_policy;
    // Digits from the least significant: the last migration's order, then its fires' arrivals
    // (last fire fastest), then the migration before it.
    const size_t migrations = b.orders.size();
    c.choice.order.assign(migrations, std::nullopt);
    c.choice.arrival.resize(migrations);
    for (size_t m = 0; m < migrations; ++m) c.choice.arrival[m].assign(b.arrivals[m].size(), std::nullopt);
    for (size_t m = migrations; m-- > 0;) {
        if (b.order_explored[m]) c.choice.order[m] = rest % b.orders[m];
        rest /= b.orders[m];
        for (size_t f = b.arrivals[m].size(); f-- > 0;) {
            if (b.arrival_explored[m][f]) c.choice.arrival[m][f] = static_cast<uint16_t>(rest % b.arrivals[m][f]);
            rest /= b.arrivals[m][f];
        }
    }
    return c;
}

Schedule ExploreSpace::lower(const ScheduleCoord& c) const {
    const ExploreBlock& b = blocks_[c.block];
    return irqdiff::lower(scenario_, *b.backend->plan, b.backend->name, b.options, &c.choice);
}

std::vector<ScheduleRow> ExploreSpace::explore(uint64_t lo, uint64_t hi,
                                               const std::function<void(uint64_t)>& progress) const {
    hi = std::min(hi, size_);
    std::vector<ScheduleRow> rows;
    if (lo >= hi) return rows;
    rows.reserve(hi - lo);

    struct Lowered {
        uint64_t index;
        ScheduleCoord coord;
        Schedule schedule;
    };
    std::deque<Lowered> ahead;  // lowered schedules from the current one on
    uint64_t next = lo;
    auto same_run = [](const ScheduleCoord& a, const ScheduleCoord& b) {
        return a.block == b.block && a.policy == b.policy;
    };
    // How far ahead to look when choosing where to take checkpoints.
    constexpr size_t kLookahead = 64;
    auto fill = [&] {
        while (ahead.size() < kLookahead && next < hi) {
            ScheduleCoord c = decode(next);
            Schedule s = lower(c);
            ahead.push_back(Lowered{next++, std::move(c), std::move(s)});
        }
    };

    std::unique_ptr<Execution> run;
    struct Saved {
        size_t position;  // the state before action `position`
        std::unique_ptr<Execution::Checkpoint> checkpoint;
    };
    std::vector<Saved> stack;         // checkpoints along the current schedule's prefix, positions increasing
    std::optional<Lowered> previous;  // the schedule explored last
    fill();
    while (!ahead.empty()) {
        Lowered cur = std::move(ahead.front());
        ahead.pop_front();
        fill();
        const ExploreBlock& block = blocks_[cur.coord.block];
        const std::vector<Action>& actions = cur.schedule.actions;

        bool fresh = !previous || !same_run(previous->coord, cur.coord);
        size_t start = 0;
        if (fresh) {
            run = std::make_unique<Execution>(scenario_, *block.backend, block.policies[cur.coord.policy], false, false,
                                              guest_options(scenario_, block.options));
            stack.clear();
            stack.push_back(Saved{0, run->checkpoint()});
        } else {
            size_t shared = common_prefix(previous->schedule.actions, actions);
            while (stack.back().position > shared) stack.pop_back();
            run->rewind(*stack.back().checkpoint);
            start = stack.back().position;
        }
        // Checkpoints worth taking: where a later schedule of this run (within the lookahead)
        // leaves this one's prefix, nearest first, while that point lies ahead of `start`.
        std::vector<size_t> wanted;
        {
            size_t bound = actions.size();
            const std::vector<Action>* prev = &actions;
            for (const Lowered& l : ahead) {
                if (!same_run(l.coord, cur.coord)) break;
                size_t p = std::min(bound, common_prefix(*prev, l.schedule.actions));
                if (p <= start) break;
                if (p < bound || wanted.empty()) wanted.push_back(p);
                bound = p;
                prev = &l.schedule.actions;
            }
            std::sort(wanted.begin(), wanted.end());
            wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
        }
        size_t w = 0;
        for (size_t i = start; i < actions.size(); ++i) {
            while (w < wanted.size() && wanted[w] < i) ++w;
            if (w < wanted.size() && wanted[w] == i && stack.back().position < i)
                stack.push_back(Saved{i, run->checkpoint()});
            run->step(actions[i], static_cast<uint32_t>(i));
        }

        ScheduleRow row;
        row.index = cur.index;
        std::vector<SourceOutcome> outcomes = run->outcomes();
        const RunMetrics& m = run->metrics();
        for (const SourceOutcome& o : outcomes) {
            const SourceMetrics& sm = m.sources[o.source];
            row.sources.push_back(ScheduleSource{o.source, o.outcome, o.forwarded, o.late, sm.window(), sm.hops()});
        }
        std::vector<const TracePointInfo*> broken = broken_rules(run->log().events());
        std::set<std::string> names = broken_names(broken);
        row.violations.assign(names.begin(), names.end());
        row.expectations_met = expectations_hold(scenario_, outcomes, broken);
        row.events = run->log().total();
        row.save_events = m.save.events;
        row.restore_events = m.restore.events;
        rows.push_back(std::move(row));
        previous = std::move(cur);
        if (progress) progress(rows.size());
    }
    return rows;
}

RunResult ExploreSpace::run(uint64_t index) const {
    ScheduleCoord c = decode(index);
    const ExploreBlock& b = blocks_[c.block];
    Schedule schedule = lower(c);
    Execution run(scenario_, *b.backend, b.policies[c.policy], true, true, guest_options(scenario_, b.options));
    for (uint32_t i = 0; i < schedule.actions.size(); ++i) run.step(schedule.actions[i], i);
    return run.result(schedule);
}

std::string swept_policy(const ExploreBlock& block, size_t policy) {
    std::vector<std::string> parts;
    for (const std::string& key : block.swept) parts.push_back(key + "=" + block.policies.at(policy).get(key));
    return parts.empty() ? "-" : fmt::format("{}", fmt::join(parts, ","));
}

std::vector<std::string> order_names(const ExploreSpace& space, const ScheduleCoord& coord) {
    return space.lower(coord).order_names;
}

std::vector<std::string> arrival_names(const ExploreSpace& space, const ScheduleCoord& coord) {
    const MigrationPlan& plan = *space.blocks()[coord.block].backend->plan;
    std::vector<std::string> out;
    size_t m = 0;
    for (const Step& st : space.scenario().steps) {
        if (st.kind != StepKind::Migrate) continue;
        for (size_t f = 0; f < st.fires.size(); ++f) {
            const std::optional<uint16_t>& p = coord.choice.arrival[m][f];
            out.push_back(p ? arrival_point_name(plan, *p) : st.fires[f].before);
        }
        ++m;
    }
    return out;
}

bool Exploration::all_expectations_met() const {
    return std::all_of(rows.begin(), rows.end(), [](const ScheduleRow& r) { return r.expectations_met; });
}

Exploration summarize(const ExploreSpace& space, std::vector<ScheduleRow> rows, uint64_t lo, uint64_t hi, bool traces) {
    Exploration x;
    x.lo = lo;
    x.hi = hi;
    std::sort(rows.begin(), rows.end(), [](const ScheduleRow& a, const ScheduleRow& b) { return a.index < b.index; });
    rows.erase(std::unique(rows.begin(), rows.end(),
                           [](const ScheduleRow& a, const ScheduleRow& b) { return a.index == b.index; }),
               rows.end());
    x.rows = std::move(rows);

    auto key_of = [](const ScheduleRow& r) {
        std::string k;
        for (const ScheduleSource& s : r.sources)
            k += fmt::format("{}:{}:{};", s.source, static_cast<int>(s.outcome),
                             s.forwarded ? (*s.forwarded ? 1 : 0) : 2);
        return fmt::format("{}|{}", k, fmt::join(r.violations, ","));
    };
    std::map<std::tuple<size_t, size_t, std::string>, size_t> cell_of;
    std::map<std::pair<size_t, size_t>, size_t> summary_of;
    std::map<std::pair<size_t, size_t>, std::map<std::vector<uint64_t>, bool>> orders_seen;  // -> failing
    for (const ScheduleRow& r : x.rows) {
        ScheduleCoord c = space.decode(r.index);
        std::vector<uint64_t> orders;
        for (const auto& o : c.choice.order) orders.push_back(o.value_or(0));
        std::vector<uint16_t> arrivals;
        for (const auto& fires : c.choice.arrival)
            for (const auto& a : fires) arrivals.push_back(a.value_or(0));

        auto [it, added] = cell_of.try_emplace({c.block, c.policy, key_of(r)}, x.cells.size());
        if (added) {
            ExploreCell cell;
            cell.block = c.block;
            cell.policy = c.policy;
            cell.sources = r.sources;
            cell.violations = r.violations;
            cell.failing = r.failing();
            cell.example = r.index;
            cell.example_events = r.events;
            x.cells.push_back(std::move(cell));
        }
        ExploreCell& cell = x.cells[it->second];
        ++cell.schedules;
        cell.expectations_met += r.expectations_met;
        if (std::find(cell.orders.begin(), cell.orders.end(), orders) == cell.orders.end())
            cell.orders.push_back(orders);
        if (std::find(cell.arrivals.begin(), cell.arrivals.end(), arrivals) == cell.arrivals.end())
            cell.arrivals.push_back(arrivals);
        if (r.events < cell.example_events) {
            cell.example = r.index;
            cell.example_events = r.events;
            cell.sources = r.sources;
        }

        auto [st, fresh] = summary_of.try_emplace({c.block, c.policy}, x.policies.size());
        if (fresh) x.policies.push_back(PolicySummary{c.block, c.policy, 0, 0, 0, 0, {}});
        PolicySummary& p = x.policies[st->second];
        ++p.schedules;
        p.failing_schedules += r.failing();
        bool& order_fails = orders_seen[{c.block, c.policy}][orders];
        order_fails = order_fails || r.failing();
        for (const ScheduleSource& s : r.sources) {
            auto o =
                std::find_if(p.outcomes.begin(), p.outcomes.end(), [&](const auto& e) { return e.first == s.source; });
            if (o == p.outcomes.end()) o = p.outcomes.insert(p.outcomes.end(), {s.source, {}});
            ++o->second[to_string(s.outcome)];
        }
    }
    for (PolicySummary& p : x.policies) {
        const auto& seen = orders_seen[{p.block, p.policy}];
        p.orders = seen.size();
        p.failing_orders =
            static_cast<uint64_t>(std::count_if(seen.begin(), seen.end(), [](const auto& e) { return e.second; }));
        std::sort(p.outcomes.begin(), p.outcomes.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    for (ExploreCell& cell : x.cells) {
        std::sort(cell.orders.begin(), cell.orders.end());
        std::sort(cell.arrivals.begin(), cell.arrivals.end());
        if (traces && cell.failing) cell.trace = space.run(cell.example);
    }
    return x;
}

// ---- JSON ------------------------------------------------------------------------------------

namespace {

Json policy_json(const PolicyValues& p) {
    Json j = Json::object();
    for (const auto& [k, v] : p.entries()) j[k] = v;
    return j;
}

Json sources_json(const Scenario& s, const std::vector<ScheduleSource>& sources, bool details) {
    Json j = Json::object();
    for (const ScheduleSource& src : sources) {
        Json e{{"outcome", to_string(src.outcome)},
               {"forwarded", src.forwarded ? Json(*src.forwarded) : Json(nullptr)}};
        if (details) {
            e["late"] = src.late;
            e["window"] = src.window;
            e["hops"] = src.hops;
        }
        j[s.sources[src.source].name] = std::move(e);
    }
    return j;
}

}  // namespace

Json row_to_json(const ExploreSpace& space, const ScheduleRow& r) {
    return Json{{"index", r.index},
                {"sources", sources_json(space.scenario(), r.sources, true)},
                {"violations", r.violations},
                {"expectations_met", r.expectations_met},
                {"events", r.events},
                {"save_events", r.save_events},
                {"restore_events", r.restore_events}};
}

namespace {

/// A count field of a schedule row: an integer in [0, max]. nlohmann's get<uint64_t>() would cast
/// a bool, a negative number or a float (NaN or 1e300: undefined behaviour), so each is refused.
uint64_t count_field(const Json& j, const std::string& field, uint64_t max, const std::string& place) {
    bool ok = j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0);
    if (!ok || j.get<uint64_t>() > max) {
        // dump() writes NaN and infinities as null
        bool finite = !j.is_number_float() || std::isfinite(j.get<double>());
        std::string value = finite ? j.dump() : fmt::format("{}", j.get<double>());
        throw InputError(place, fmt::format("{}: {}: expected an integer from 0 to {}", field, value, max));
    }
    return j.get<uint64_t>();
}

}  // namespace

ScheduleRow row_from_json(const ExploreSpace& space, const Json& j, const std::string& place) {
    try {
        constexpr uint64_t kU32 = std::numeric_limits<uint32_t>::max(), kU64 = std::numeric_limits<uint64_t>::max();
        ScheduleRow r;
        r.index = count_field(j.at("index"), "index", kU64, place);
        if (r.index >= space.size())
            throw InputError(
                place, fmt::format("schedule {} is outside this exploration ({} schedules)", r.index, space.size()));
        for (const auto& item : j.at("sources").items()) {
            // Not a structured binding: the lambda below uses both, and clang 14 (the fuzz
            // preset) cannot capture a structured binding (P1091R3).
            const std::string& name = item.key();
            const Json& e = item.value();
            std::optional<SourceId> id = space.scenario().find_source(name);
            if (!id)
                throw InputError(place,
                                 fmt::format("'{}' is not a source of scenario {}", name, space.scenario().name));
            std::optional<Outcome> o = parse_outcome(e.at("outcome").get<std::string>());
            if (!o) throw InputError(place, fmt::format("'{}' is not an outcome", e.at("outcome").get<std::string>()));
            auto u32 = [&](const char* key) {
                std::string field = fmt::format("sources['{}'].{}", name, key);
                return static_cast<uint32_t>(count_field(e.at(key), field, kU32, place));
            };
            ScheduleSource s{*id, *o, std::nullopt, e.at("late").get<bool>(), u32("window"), u32("hops")};
            if (!e.at("forwarded").is_null()) s.forwarded = e.at("forwarded").get<bool>();
            r.sources.push_back(s);
        }
        r.violations = j.at("violations").get<std::vector<std::string>>();
        r.expectations_met = j.at("expectations_met").get<bool>();
        r.events = count_field(j.at("events"), "events", kU64, place);
        r.save_events = count_field(j.at("save_events"), "save_events", kU64, place);
        r.restore_events = count_field(j.at("restore_events"), "restore_events", kU64, place);
        return r;
    } catch (const nlohmann::json::exception& e) {
        throw InputError(place, fmt::format("not a schedule row written by this irqdiff: {}", e.what()));
    }
}

Json to_json(const ExploreSpace& space, const Exploration& x) {
    const Scenario& sc = space.scenario();
    Json blocks = Json::array();
    for (const ExploreBlock& b : space.blocks()) {
        const MigrationPlan& plan = *b.backend->plan;
        Json migrations = Json::array();
        size_t m = 0;
        for (const Step& st : sc.steps) {
            if (st.kind != StepKind::Migrate) continue;
            Json fires = Json::array();
            for (size_t f = 0; f < st.fires.size(); ++f)
                fires.push_back(Json{{"source", sc.sources[st.fires[f].source].name},
                                     {"before", b.arrival_explored[m][f] ? "any" : st.fires[f].before},
                                     {"arrival_points", b.arrivals[m][f]}});
            migrations.push_back(
                Json{{"orders", b.orders[m]},
                     {"order", b.order_explored[m] ? "all" : space.lower(space.decode(b.first)).order_names[m]},
                     {"admissible_orders", plan.count_orders()},
                     {"order_set", b.order_sets[m]},
                     {"fires", fires}});
            ++m;
        }
        Json policies = Json::array();
        for (size_t p = 0; p < b.policies.size(); ++p) policies.push_back(swept_policy(b, p));
        blocks.push_back(Json{{"arch", b.backend->name},
                              {"first", b.first},
                              {"schedules", b.count},
                              {"swept", b.swept},
                              {"policies", policies},
                              {"migrations", migrations}});
    }

    auto describe_coord = [&](uint64_t index) {
        ScheduleCoord c = space.decode(index);
        Schedule s = space.lower(c);
        const MigrationPlan& plan = *space.blocks()[c.block].backend->plan;
        Json restore = Json::array();
        for (const RestoreOrder& o : s.orders) {
            Json names = Json::array();
            for (uint16_t i : o) names.push_back(plan.restore_steps()[i].name);
            restore.push_back(std::move(names));
        }
        return Json{{"index", index},
                    {"order", s.order_names},
                    {"restore_orders", restore},
                    {"arrivals", arrival_names(space, c)}};
    };

    Json policies = Json::array();
    for (const PolicySummary& p : x.policies) {
        const ExploreBlock& b = space.blocks()[p.block];
        Json outcomes = Json::object();
        for (const auto& [source, counts] : p.outcomes) {
            Json c = Json::object();
            for (const auto& [o, n] : counts) c[o] = n;
            outcomes[sc.sources[source].name] = std::move(c);
        }
        policies.push_back(Json{{"arch", b.backend->name},
                                {"swept", swept_policy(b, p.policy)},
                                {"policy", policy_json(b.policies[p.policy])},
                                {"schedules", p.schedules},
                                {"failing_schedules", p.failing_schedules},
                                {"orders", p.orders},
                                {"failing_orders", p.failing_orders},
                                {"fragility", p.fragility()},
                                {"outcomes", outcomes}});
    }

    Json cells = Json::array();
    for (const ExploreCell& c : x.cells) {
        const ExploreBlock& b = space.blocks()[c.block];
        Json arrivals = Json::array();
        for (const std::vector<uint16_t>& a : c.arrivals) {
            Json names = Json::array();
            size_t k = 0, m = 0;
            for (const Step& st : sc.steps) {
                if (st.kind != StepKind::Migrate) continue;
                for (size_t f = 0; f < st.fires.size(); ++f, ++k)
                    names.push_back(b.arrival_explored[m][f] ? arrival_point_name(*b.backend->plan, a[k])
                                                             : st.fires[f].before);
                ++m;
            }
            arrivals.push_back(std::move(names));
        }
        Json example = describe_coord(c.example);
        example["events"] = c.example_events;
        example["sources"] = sources_json(sc, c.sources, true);
        if (c.trace) example["run"] = to_json(*c.trace);
        cells.push_back(Json{{"arch", b.backend->name},
                             {"swept", swept_policy(b, c.policy)},
                             {"outcomes", sources_json(sc, c.sources, false)},
                             {"violations", c.violations},
                             {"failing", c.failing},
                             {"schedules", c.schedules},
                             {"expectations_met", c.expectations_met},
                             {"orders", c.orders.size()},
                             {"order_indices", c.orders},
                             {"arrivals", arrivals},
                             {"example", example}});
    }

    Json matrix = Json::array();
    for (const ScheduleRow& r : x.rows) {
        ScheduleCoord c = space.decode(r.index);
        const ExploreBlock& b = space.blocks()[c.block];
        Json order = Json::array();
        for (const auto& o : c.choice.order) order.push_back(o ? Json(*o) : Json(nullptr));
        Json row = row_to_json(space, r);
        row["arch"] = b.backend->name;
        row["swept"] = swept_policy(b, c.policy);
        row["order"] = space.lower(c).order_names;
        row["order_index"] = order;
        row["arrivals"] = arrival_names(space, c);
        matrix.push_back(std::move(row));
    }

    return Json{{"scenario", sc.name},   {"file", sc.file},           {"schedules", space.size()},
                {"range", {x.lo, x.hi}}, {"explored", x.rows.size()}, {"expectations_met", x.all_expectations_met()},
                {"space", blocks},       {"policies", policies},      {"cells", cells},
                {"matrix", matrix}};
}

}  // namespace irqdiff
