// The irqdiff command: run scenarios on the backends, list the vocabulary, explore schedules.
// Exit codes (README "Exit codes"): 0 every expectation holds, 1 one does not, 2 bad input or
// usage (one line, "PLACE: what was expected", on stderr) or an output that could not be written
// (cli/output.h), 3 an internal error (a bug: report it).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/generate_cmd.h"
#include "cli/machine_cmd.h"
#include "cli/output.h"
#include "cli/table.h"
#include "cli/workers.h"
#include "core/backend.h"
#include "core/explorer.h"
#include "core/migration.h"
#include "core/policy.h"
#include "core/results.h"
#include "core/runner.h"
#include "core/scenario.h"
#include "core/trace.h"
#include "core/trace_points.h"
#include "core/versions.h"
#include "registry/builtin_backends.h"

namespace irqdiff::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitExpectationFailed = 1;
constexpr int kExitBadInput = 2;

std::vector<PolicySetting> parse_policies(const std::vector<std::string>& texts) {
    std::vector<PolicySetting> out;
    for (const std::string& t : texts) {
        PolicySetting s = parse_policy_assignment(builtin_backends().policies(), t, "--policy");
        validate_policy_setting(builtin_backends().policies(), s);
        out.push_back(std::move(s));
    }
    return out;
}

std::string flags_of(const RunResult& r, const SourceOutcome& o) {
    std::vector<std::string> flags;
    if (o.late) flags.push_back("late");
    if (o.forwarded && !*o.forwarded) flags.push_back("forwarded=false");
    for (const Location& l : o.held)
        flags.push_back("held:" + to_string(l, r.device_names) + (l.live ? "" : "(not live)"));
    return flags.empty() ? "" : fmt::format("{}", fmt::join(flags, " "));
}

std::string expected_for(const Scenario& s, SourceId source) {
    std::string all;
    for (const Expectation& x : s.expect) {
        if (x.source == source) return to_string(x.outcome);
        if (!x.source) all = to_string(x.outcome);
    }
    return all.empty() ? "-" : all;
}

/// "arm", or "arm/unicorn" for a run with the Unicorn guest.
std::string run_label(const RunResult& r) { return r.guest == GuestKind::Unicorn ? r.arch + "/unicorn" : r.arch; }

void print_table(const Scenario& s, const ScenarioResult& result, bool events) {
    fmt::print("scenario {} ({})\n", result.scenario, result.file);
    if (!s.description.empty()) {
        std::string d = s.description;
        while (!d.empty() && d.back() == '\n') d.pop_back();
        size_t start = 0;
        while (start <= d.size()) {
            size_t nl = std::min(d.find('\n', start), d.size());
            fmt::print("  {}\n", d.substr(start, nl - start));
            start = nl + 1;
        }
    }
    fmt::print("\n");
    Table table({"arch", "policy", "order", "source", "outcome", "expected", "fired", "delivered", "flags"});
    for (const RunResult& r : result.runs) {
        // The table names only the policy values that differ from the catalogue's defaults.
        std::vector<std::string> changed;
        for (const auto& [key, value] : r.policy.entries())
            if (!r.policy.is_default(key)) changed.push_back(key + "=" + value);
        std::string policy = changed.empty() ? (r.policy.entries().empty() ? "-" : "defaults")
                                             : fmt::format("{}", fmt::join(changed, ","));
        std::string order = r.order_names.empty() ? "-" : fmt::format("{}", fmt::join(r.order_names, ","));
        for (const SourceOutcome& o : r.outcomes)
            table.add({run_label(r), policy, order, r.source_names[o.source], to_string(o.outcome),
                       expected_for(s, o.source), std::to_string(o.fired), std::to_string(o.delivered),
                       flags_of(r, o)});
    }
    if (table.empty())
        fmt::print("  no source was fired\n");
    else
        fmt::print("{}", table.render("  "));
    // Every run is of scenario `s`: its devices name the places.
    std::vector<std::string> devices;
    for (const Device& d : s.devices) devices.push_back(d.name);
    for (const Difference& d : result.differences) {
        auto places = [&](const std::vector<Location>& ps) {
            std::vector<std::string> out;
            for (const Location& l : ps) out.push_back(to_string(l, devices) + (l.live ? "" : " (not live)"));
            return out.empty() ? std::string("nowhere") : fmt::format("{}", fmt::join(out, " + "));
        };
        fmt::print("  differs: {} is {} on {} but {} on {}", d.source, d.outcome_a, d.arch_a, d.outcome_b, d.arch_b);
        if (d.phase.empty())
            fmt::print("; its pending state was live on both sides at every step\n");
        else
            fmt::print("; first live on one side only after {}: {}: {}; {}: {}\n", d.phase, d.arch_a,
                       places(d.places_a), d.arch_b, places(d.places_b));
    }
    for (const GuestDifference& d : result.guest_differences)
        fmt::print("  guest differs: {} vCPU {} delivery #{}: abstract guest {}, unicorn guest {}\n", d.arch, d.vcpu,
                   d.index, d.abstract, d.unicorn);
    // A difference between the guests is shown with both event logs (the traces of both runs).
    const bool show_events = events || !result.guest_differences.empty();
    for (const RunResult& r : result.runs) {
        const std::string label = run_label(r);
        const bool violations_expected = s.expect_violations.has_value();
        for (const Event& v : r.violations)
            fmt::print("  {}: violation{}: {}\n", label, violations_expected ? " (expected)" : "", to_string(v));
        size_t unmet = std::count_if(r.expectations.begin(), r.expectations.end(),
                                     [](const ExpectationResult& e) { return !e.met; });
        bool unexpected_violations = !violations_expected && !r.violations.empty();
        if (r.expectations.empty())
            fmt::print("  {}: no expectations{}\n", label, unexpected_violations ? ", but violations" : "");
        else if (r.expectations_met)
            fmt::print("  {}: every expectation holds ({} of {})\n", label, r.expectations.size(),
                       r.expectations.size());
        else
            fmt::print("  {}: EXPECTATIONS NOT MET ({} of {} hold{})\n", label, r.expectations.size() - unmet,
                       r.expectations.size(),
                       unexpected_violations ? fmt::format(", {} violations", r.violations.size()) : "");
        for (const ExpectationResult& e : r.expectations) {
            if (e.met) continue;
            fmt::print("    {}: expected {} {}, got {}{}\n", e.loc.to_string(), e.key, e.expected,
                       e.actual ? *e.actual : "no outcome", e.actual_source.empty() ? "" : " for " + e.actual_source);
        }
        if (show_events) {
            fmt::print("\n  events ({}):\n", label);
            for (const Event& e : r.events) fmt::print("    {}\n", to_string(e));
        }
    }
}

/// An --order-set value: one of kOrderSetNames (or `each`, where `each` is allowed).
std::optional<std::string> checked_order_set(const std::optional<std::string>& name, bool each_allowed) {
    if (!name || (each_allowed && *name == "each")) return name;
    if (!is_order_set_name(*name))
        throw InputError("--order-set", fmt::format("'{}': expected one of {}{}", one_line(*name),
                                                    fmt::join(kOrderSetNames, ", "), each_allowed ? " or each" : ""));
    return name;
}

struct RunArgs {
    std::vector<std::string> files;
    std::optional<std::string> arch;
    std::vector<std::string> policies;
    std::optional<std::string> order;
    std::optional<std::string> order_set;
    bool json = false;
    bool events = false;
    std::optional<std::string> trace;  // --trace FILE: Chrome trace-event JSON of the runs
    std::optional<std::string> guest;  // --guest abstract|unicorn|both
    bool trace_guest = false;
};

int cmd_run(const RunArgs& a) {
    const Registry& registry = builtin_backends();
    RunOptions options;
    std::vector<std::string> requested;
    try {
        options.policy = parse_policies(a.policies);
        options.order = a.order;
        options.order_set = checked_order_set(a.order_set, false);
        if (a.arch) requested = registry.expand_arch(*a.arch, "--arch");
        if (a.trace && a.files.size() != 1)
            throw InputError("--trace", fmt::format("one scenario file at a time (got {})", a.files.size()));
        options.record_events = true;  // the trace is built from the event log
        if (a.guest) {
            if (*a.guest == "both")
                options.compare_guests = true;
            else if (!(options.guest = parse_guest_kind(*a.guest)))
                throw InputError("--guest",
                                 fmt::format("'{}': expected abstract, unicorn or both", one_line(*a.guest)));
        }
        options.trace_guest = a.trace_guest;
        if (a.arch) check_guest_override(registry, requested, options.guest, "--guest", "--arch");
        if (a.trace) {
            std::vector<NamedPath> inputs;
            for (const std::string& f : a.files) inputs.push_back({"FILE", f});
            refuse_overwriting({"--trace", *a.trace}, inputs);
        }
    } catch (const InputError& e) {
        fmt::print(stderr, "{}\n", e.what());
        return kExitBadInput;
    }
    int code = kExitOk;
    for (const std::string& file : a.files) {
        try {
            Scenario s = load_scenario(file, registry.catalogue());
            std::vector<std::string> arches = registry.arches_for(s, a.arch ? &requested : nullptr, "--arch");
            check_guest_override(registry, arches, options.guest, "--guest", "--arch");
            ScenarioResult result = run_scenario(s, registry, arches, options);
            if (a.trace) {
                // Written before any output, so a bad path is reported like other bad input.
                try {
                    write_chrome_trace(result, *a.trace);
                } catch (const InputError& e) {
                    throw InputError("--trace", e.what());
                }
            }
            if (a.json) {
                // One document per file: with several files the output is JSON Lines.
                fmt::print("{}\n", to_json(result).dump(a.files.size() == 1 ? 2 : -1));
            } else {
                if (&file != &a.files.front()) fmt::print("\n");
                print_table(s, result, a.events);
            }
            if (!result.expectations_met()) code = std::max(code, kExitExpectationFailed);
        } catch (const InputError& e) {
            flush_stdout();
            fmt::print(stderr, "{}\n", e.what());
            code = kExitBadInput;
        }
    }
    return code;
}

struct ExploreArgs {
    std::string file;
    std::optional<std::string> arch;
    std::vector<std::string> policies;
    std::optional<std::string> order;
    std::optional<std::string> order_set;
    std::optional<std::string> before;
    std::optional<std::string> guest;
    int jobs = 1;
    std::optional<std::string> range;
    bool json = false;
    bool events = false;
};

std::pair<uint64_t, uint64_t> parse_range(const std::string& text, uint64_t size) {
    unsigned long long lo = 0, hi = 0;
    char tail = 0;
    if (std::sscanf(text.c_str(), "%llu:%llu%c", &lo, &hi, &tail) != 2 || lo > hi ||
        text.find('-') != std::string::npos)
        throw InputError("--range", fmt::format("'{}': expected LO:HI with 0 <= LO <= HI", text));
    if (hi > size)
        throw InputError("--range", fmt::format("'{}': this exploration has {} schedules (0:{})", text, size, size));
    return {lo, hi};
}

/// Explores [lo, hi) in `jobs` child processes (cli/workers.h), each a contiguous slice; rows come
/// back as JSON Lines and are merged in index order; a worker's bad input is rethrown as
/// `--jobs 1` would have met it.
std::vector<ScheduleRow> explore_in_processes(const ExploreSpace& space, uint64_t lo, uint64_t hi, int jobs) {
    const std::vector<std::string> slices = run_in_processes(
        lo, hi, jobs,
        [&](uint64_t a, uint64_t b) {
            std::string out;
            for (const ScheduleRow& r : space.explore(a, b)) out += row_to_json(space, r).dump() + "\n";
            return out;
        },
        "explore");
    std::vector<ScheduleRow> rows;
    for (const Json& line : json_lines(slices)) rows.push_back(row_from_json(space, line, "worker"));
    return rows;
}

std::string outcome_counts(const std::map<std::string, uint64_t>& counts) {
    std::vector<std::string> parts;
    for (const auto& [o, n] : counts) parts.push_back(fmt::format("{} {}", o, n));
    return fmt::format("{}", fmt::join(parts, ", "));
}

void print_exploration(const ExploreSpace& space, const Exploration& x, bool events) {
    const Scenario& sc = space.scenario();
    fmt::print("scenario {} ({})\n", sc.name, sc.file);
    std::vector<std::string> blocks;
    for (const ExploreBlock& b : space.blocks()) {
        std::vector<std::string> axes{
            fmt::format("{} polic{}", b.policies.size(), b.policies.size() == 1 ? "y" : "ies")};
        for (size_t m = 0; m < b.orders.size(); ++m) {
            axes.push_back(fmt::format("{} order{}", b.orders[m], b.orders[m] == 1 ? "" : "s"));
            for (uint16_t a : b.arrivals[m]) axes.push_back(fmt::format("{} arrival point{}", a, a == 1 ? "" : "s"));
        }
        blocks.push_back(fmt::format("{} {} = {}", b.backend->name, b.count, fmt::join(axes, " x ")));
    }
    fmt::print("  {} schedules ({}); explored {} ({}:{})\n\n", space.size(), fmt::join(blocks, "; "), x.rows.size(),
               x.lo, x.hi);

    std::vector<std::string> header{"arch", "policy", "schedules", "orders", "failing orders", "fragility"};
    for (const Source& s : sc.sources) header.push_back(s.name);
    Table summary(header);
    for (const PolicySummary& p : x.policies) {
        const ExploreBlock& b = space.blocks()[p.block];
        std::vector<std::string> row{
            b.backend->name,          swept_policy(b, p.policy),        std::to_string(p.schedules),
            std::to_string(p.orders), std::to_string(p.failing_orders), fmt::format("{:.2f}", p.fragility())};
        for (SourceId s = 0; s < sc.sources.size(); ++s) {
            auto it = std::find_if(p.outcomes.begin(), p.outcomes.end(), [&](const auto& e) { return e.first == s; });
            row.push_back(it == p.outcomes.end() ? "-" : outcome_counts(it->second));
        }
        summary.add(row);
    }
    fmt::print("{}", summary.render("  "));

    fmt::print("\n  cells (schedules of one backend and policy with the same outcomes):\n");
    Table cells({"arch", "policy", "outcomes", "schedules", "orders", "example"});
    for (const ExploreCell& c : x.cells) {
        const ExploreBlock& b = space.blocks()[c.block];
        std::vector<std::string> outs;
        for (const ScheduleSource& s : c.sources)
            outs.push_back(fmt::format("{} {}{}", sc.sources[s.source].name, to_string(s.outcome),
                                       s.forwarded && !*s.forwarded ? " (forwarded=false)" : ""));
        for (const std::string& v : c.violations) outs.push_back("violation " + v);
        cells.add({b.backend->name, swept_policy(b, c.policy), fmt::format("{}", fmt::join(outs, ", ")),
                   std::to_string(c.schedules), std::to_string(c.orders.size()),
                   fmt::format("#{}{}", c.example, c.failing ? " FAILS" : "")});
    }
    fmt::print("{}", cells.render("    "));

    bool any_failing = false;
    for (const ExploreCell& c : x.cells) {
        if (!c.failing) continue;
        if (!any_failing) fmt::print("\n  failing cells, each with its shortest failing schedule:\n");
        any_failing = true;
        ScheduleCoord coord = space.decode(c.example);
        Schedule s = space.lower(coord);
        const MigrationPlan& plan = *space.blocks()[c.block].backend->plan;
        std::vector<std::string> orders;
        for (size_t m = 0; m < s.orders.size(); ++m) {
            std::vector<std::string> names;
            for (uint16_t i : s.orders[m]) names.push_back(plan.restore_steps()[i].name);
            orders.push_back(fmt::format("{} [{}]", s.order_names[m], fmt::join(names, ", ")));
        }
        std::vector<std::string> arrivals = arrival_names(space, coord);
        fmt::print("    #{} {} {}: order {}{}; {} events\n", c.example, space.blocks()[c.block].backend->name,
                   swept_policy(space.blocks()[c.block], c.policy), fmt::join(orders, "; "),
                   arrivals.empty() ? "" : fmt::format("; fires before {}", fmt::join(arrivals, ", ")),
                   c.example_events);
        if (c.trace)
            for (const Event& v : c.trace->violations) fmt::print("      violation: {}\n", to_string(v));
        if (events && c.trace)
            for (const Event& e : c.trace->events) fmt::print("      {}\n", to_string(e));
    }
    if (any_failing && !events)
        fmt::print(
            "  (--events prints each one's event log; --json has them, and 'irqdiff explore FILE --range I:I+1 "
            "--json' any schedule's)\n");
    fmt::print("\n  {}\n", x.all_expectations_met()
                               ? "every explored schedule meets the scenario's expectations"
                               : fmt::format("{} of {} explored schedules do not meet the scenario's expectations",
                                             std::count_if(x.rows.begin(), x.rows.end(),
                                                           [](const ScheduleRow& r) { return !r.expectations_met; }),
                                             x.rows.size()));
}

int cmd_explore(const ExploreArgs& a) {
    const Registry& registry = builtin_backends();
    try {
        Scenario s = load_scenario(a.file, registry.catalogue());
        ExploreOptions options;
        std::vector<std::string> requested;
        if (a.arch) requested = registry.expand_arch(*a.arch, "--arch");
        options.arches = registry.arches_for(s, a.arch ? &requested : nullptr, "--arch");
        for (const std::string& t : a.policies)
            options.policy.push_back(parse_policy_assignment(registry.policies(), t, "--policy"));
        options.order = a.order;
        if (a.before) {
            if (*a.before != kAnyStep)
                throw InputError("--before", fmt::format("'{}': expected any (to name one step, write it in the "
                                                         "scenario's migrate.fire)",
                                                         *a.before));
            options.any_arrival = true;
        }
        if (a.guest && !(options.guest = parse_guest_kind(*a.guest)))
            throw InputError("--guest", fmt::format("'{}': expected abstract or unicorn", one_line(*a.guest)));
        check_guest_override(registry, options.arches, options.guest, "--guest", "--arch");
        if (a.jobs < 1 || a.jobs > 1024)
            throw InputError("--jobs", fmt::format("{}: expected a number of processes from 1 to 1024", a.jobs));
        std::vector<std::optional<std::string>> sets{checked_order_set(a.order_set, true)};
        const bool each = sets.front() && *sets.front() == "each";
        if (each) {
            if (a.range) throw InputError("--range", "one order set at a time (--order-set each explores them all)");
            sets.clear();
            for (std::string_view n : kOrderSetNames) sets.emplace_back(std::string(n));
        }
        Json docs = Json::array();
        std::vector<std::pair<std::string, Exploration>> done;
        std::vector<std::unique_ptr<ExploreSpace>> spaces;
        bool met = true;
        for (const std::optional<std::string>& set : sets) {
            options.order_set = set;
            spaces.push_back(std::make_unique<ExploreSpace>(s, registry, options));
            const ExploreSpace& space = *spaces.back();
            auto [lo, hi] =
                a.range ? parse_range(*a.range, space.size()) : std::pair<uint64_t, uint64_t>{0, space.size()};
            int jobs =
                static_cast<int>(std::min<uint64_t>(static_cast<uint64_t>(a.jobs), std::max<uint64_t>(hi - lo, 1)));
            std::vector<ScheduleRow> rows =
                jobs > 1 ? explore_in_processes(space, lo, hi, jobs) : space.explore(lo, hi);
            Exploration x = summarize(space, std::move(rows), lo, hi, true);
            met = met && x.all_expectations_met();
            if (a.json) {
                docs.push_back(to_json(space, x));
            } else {
                if (each) fmt::print("{}order set {}\n", done.empty() ? "" : "\n", *set);
                print_exploration(space, x, a.events);
            }
            done.emplace_back(set.value_or(""), std::move(x));
        }
        if (a.json) {
            fmt::print("{}\n", (each ? Json{{"order_sets", docs}} : docs.front()).dump(2));
        } else if (each) {
            // The study table: fragility per order set, backend and policy.
            fmt::print("\nfragility by order set (failing orders / orders of the set):\n");
            Table t({"order set", "arch", "policy", "orders", "failing orders", "fragility"});
            for (size_t k = 0; k < done.size(); ++k)
                for (const PolicySummary& p : done[k].second.policies) {
                    const ExploreBlock& b = spaces[k]->blocks()[p.block];
                    t.add({done[k].first, b.backend->name, swept_policy(b, p.policy), std::to_string(p.orders),
                           std::to_string(p.failing_orders), fmt::format("{:.2f}", p.fragility())});
                }
            fmt::print("{}", t.render("  "));
        }
        return met ? kExitOk : kExitExpectationFailed;
    } catch (const InputError& e) {
        flush_stdout();
        fmt::print(stderr, "{}\n", e.what());
        return kExitBadInput;
    }
}

int list_steps(const std::optional<std::string>& arch) {
    const Registry& registry = builtin_backends();
    std::vector<std::string> names;
    if (arch) {
        names = registry.expand_arch(*arch, "--arch");
    } else {
        for (const BackendInfo& b : registry.backends()) names.push_back(b.name);
    }
    fmt::print("neutral steps (every backend maps its sub-steps onto these):\n");
    Table neutral({"step", "side", "what"});
    for (const NeutralStep& n : neutral_steps())
        neutral.add({std::string(n.name), to_string(n.side), std::string(n.doc)});
    fmt::print("{}", neutral.render("  "));
    for (const std::string& name : names) {
        const BackendInfo& b = *registry.find(name);
        const MigrationPlan& p = *b.plan;
        fmt::print("\nbackend {}: {}\n", b.name, b.description);
        Table steps({"step", "side", "neutral", "what"});
        for (const MigrationStep& s : p.save_steps()) steps.add({s.name, "save", s.neutral, s.doc});
        for (uint16_t i : p.qemu_order()) {
            const MigrationStep& s = p.restore_steps()[i];
            steps.add({s.name, "restore", s.neutral, s.doc});
        }
        fmt::print("{}", steps.render("  "));
        fmt::print("  restore dependencies (data: the model needs it; abi: the kernel documents it):\n");
        for (const Dependency& d : p.dependencies())
            fmt::print("    {} -> {}  [{}] ({})\n", d.before, d.after, to_string(d.rule), d.reason);
        fmt::print("  named orders:\n");
        for (const auto& [order_name, order] : p.named_orders()) {
            std::vector<std::string> steps_in_order;
            for (uint16_t i : order) steps_in_order.push_back(p.restore_steps()[i].name);
            fmt::print("    {}: {}\n", order_name, fmt::join(steps_in_order, ", "));
        }
        fmt::print("  order sets (--order-set, order: {{set: NAME}}):\n");
        for (const OrderSet& set : p.order_sets()) {
            std::vector<std::string> outside;  // of a VMM's orders, those the documented ABI does not admit
            if (set.listed())
                for (uint64_t i = 0; i < set.count(); ++i) {
                    std::string why = p.find_order_set("abi")->why_not(set.at(i));
                    if (!why.empty()) outside.push_back(why);
                }
            fmt::print("    {}: {} order{}: {}{}\n", set.name(), set.count(), set.count() == 1 ? "" : "s", set.doc(),
                       outside.empty() ? "" : fmt::format(" (outside abi: {})", fmt::join(outside, "; ")));
        }
        fmt::print("  admissible restore orders (order: all): {}\n", p.count_orders());
    }
    return kExitOk;
}

int list_policies() {
    const Registry& registry = builtin_backends();
    Table t({"policy", "values (* default)", "backend", "what", "source"});
    for (const PolicySpec& p : registry.policies()) {
        std::vector<std::string> values;
        for (std::string_view v : p.values) values.push_back(std::string(v) + (v == p.default_value ? "*" : ""));
        std::string backend = std::string(p.arch) + (registry.find(p.arch) ? "" : " (not in this build)");
        t.add({std::string(p.key), fmt::format("{}", fmt::join(values, " ")), backend, std::string(p.doc),
               std::string(p.ref)});
    }
    fmt::print("{}", t.render());
    return kExitOk;
}

/// The groups of the event catalogue: core's declarations (every backend logs them), then each
/// backend's own, in registration order; `arch` keeps core's and that backend's.
std::vector<std::pair<std::string, TracePointList>> event_groups(const std::optional<std::string>& arch) {
    const Registry& registry = builtin_backends();
    std::vector<std::pair<std::string, TracePointList>> groups = {{"core (every backend)", tp::core_trace_points()}};
    std::vector<std::string> names;
    if (arch) names = registry.expand_arch(*arch, "--arch");
    for (const BackendInfo& b : registry.backends())
        if (!arch || std::find(names.begin(), names.end(), b.name) != names.end())
            groups.emplace_back(fmt::format("{}: {}", b.name, b.description), b.events);
    return groups;
}

std::string event_arguments(const TracePointInfo& e, bool markdown) {
    std::vector<std::string> args;
    for (const ArgSpec& a : e.args)
        args.push_back(markdown ? fmt::format("`{}` {}", a.key, to_string(a.type))
                                : fmt::format("{}:{}", a.key, to_string(a.type)));
    return fmt::format("{}", fmt::join(args, ", "));
}

/// `list events`: the declared events, as a table, or (`markdown`) as the tables docs/traces.md
/// holds (scripts/traces_doc.py writes them there).
int list_events(const std::optional<std::string>& arch, bool markdown) {
    auto cell = [](std::string_view s) {
        std::string out;
        for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
        return out;
    };
    bool first = true;
    for (const auto& [group, events] : event_groups(arch)) {
        if (markdown) {
            fmt::print("{}### {}\n\n", first ? "" : "\n", group);
            fmt::print("| event | kind | layer | arguments | what | source |\n|---|---|---|---|---|---|\n");
            for (const TracePointInfo* e : events)
                fmt::print("| `{}` | {} | {} | {} | {} | {} |\n", e->op, to_string(e->kind), to_string(e->layer),
                           event_arguments(*e, true), cell(e->doc), cell(e->source));
        } else {
            fmt::print("{}{}\n", first ? "" : "\n", group);
            Table t({"event", "kind", "layer", "arguments", "what", "source"});
            for (const TracePointInfo* e : events)
                t.add({std::string(e->op), to_string(e->kind), to_string(e->layer), event_arguments(*e, false),
                       std::string(e->doc), std::string(e->source)});
            fmt::print("{}", t.render("  "));
        }
        first = false;
    }
    return kExitOk;
}

int list_scenarios(const std::optional<std::string>& dir_arg) {
    namespace fs = std::filesystem;
    fs::path dir;
    if (dir_arg)
        dir = *dir_arg;
    else if (fs::is_directory("scenarios"))
        dir = "scenarios";
    else
        dir = fs::path(IRQDIFF_SOURCE_DIR) / "scenarios";
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        fmt::print(stderr, "{}: not a directory of scenarios\n", dir.string());
        return kExitBadInput;
    }
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
        if (it->is_regular_file() && (it->path().extension() == ".yaml" || it->path().extension() == ".yml"))
            files.push_back(it->path());
    std::sort(files.begin(), files.end());
    Table t({"file", "name", "description"});
    int code = kExitOk;
    for (const fs::path& f : files) {
        try {
            Scenario s = load_scenario(f.string(), builtin_backends().catalogue());
            std::string first = s.description.substr(0, s.description.find('\n'));
            t.add({fs::relative(f, dir).string(), s.name, first});
        } catch (const InputError& e) {
            fmt::print(stderr, "{}\n", e.what());
            code = kExitBadInput;
        }
    }
    fmt::print("scenarios in {}:\n{}", dir.string(), t.render("  "));
    return code;
}

int main_impl(int argc, char** argv) {
    CLI::App app{
        "irqdiff: a differential emulator of interrupt virtualization (ARM GICv4.1 vs x86 posted "
        "interrupts) across live migration"};
    app.set_version_flag("--version", version_line(), "Print the version of irqdiff, Unicorn and Capstone");
    app.require_subcommand(1);

    RunArgs run_args;
    CLI::App* run = app.add_subcommand("run", "Run scenarios on the backends and compare each source with the oracle");
    run->add_option("FILE", run_args.files, "Scenario files (YAML, format v1)")->required();
    run->add_option("--arch", run_args.arch,
                    "Backend: ideal, arm, x86 or both (= arm and x86); default: every virtualizing backend "
                    "in this build, else ideal");
    run->add_option("--policy", run_args.policies, "Override a policy, KEY=VALUE (repeatable); see 'list policies'");
    run->add_option("--order", run_args.order,
                    "Restore order for every migrate step: a named order (qemu, ...) or a comma-separated list "
                    "of steps");
    run->add_option("--order-set", run_args.order_set,
                    "Every migrate step's order must belong to this order set (data, abi, qemu, qemu-7.2, "
                    "cloud-hypervisor; docs/design.md \"Order sets\")");
    CLI::Option* json =
        run->add_flag("--json", run_args.json, "Print the results as one JSON document (JSON Lines for several files)");
    run->add_flag("--events", run_args.events, "Also print each run's event log under the table (--json has it)")
        ->excludes(json);
    run->add_option("--trace", run_args.trace,
                    "Also write the runs as a Chrome trace-event JSON file (open it in ui.perfetto.dev or "
                    "speedscope; see docs/traces.md); one scenario file at a time");
    run->add_option("--guest", run_args.guest,
                    "The guest on the vCPUs: abstract (the model's drivers), unicorn (AArch64/x86-64 code in Unicorn "
                    "Engine, docs/guests.md), or both (each backend with each guest; their deliveries must agree); "
                    "default: the scenario's 'guest', else abstract");
    run->add_flag("--trace-guest", run_args.trace_guest,
                  "With the Unicorn guest: record every instruction of each interrupt handler (Capstone) in the "
                  "GUEST.irq_return events and the trace");

    ExploreArgs explore_args;
    CLI::App* explore =
        app.add_subcommand("explore", "Run every restore order x arrival point x policy value of a scenario");
    explore->add_option("FILE", explore_args.file, "Scenario file")->required();
    explore->add_option("--arch", explore_args.arch, "Backend: ideal, arm, x86 or both (default as for run)");
    explore->add_option("--policy", explore_args.policies,
                        "KEY=VALUE fixes a policy, KEY=all explores every value of it (repeatable)");
    explore->add_option("--order", explore_args.order,
                        "Every migrate step's restore order: all (every admissible order), a named order, or a "
                        "comma-separated list (default: what the scenario says)");
    explore->add_option("--order-set", explore_args.order_set,
                        "The order set that order: all explores and fixed orders must belong to: data (every order "
                        "the data dependencies admit, the default), abi (those that keep the kernel's documented "
                        "rules), qemu, qemu-7.2, cloud-hypervisor (the orders those VMMs produce), or each (every "
                        "set in turn, then a fragility table per set)");
    explore->add_option("--before", explore_args.before,
                        "any: every interrupt fired during a migration arrives at every point (default: the "
                        "scenario's before:)");
    explore->add_option("--guest", explore_args.guest,
                        "The guest on the vCPUs: abstract or unicorn (default: the scenario's 'guest', else abstract)");
    explore->add_option("--jobs", explore_args.jobs, "Local worker processes (the schedules are split among them)");
    explore->add_option("--range", explore_args.range, "Explore schedules LO..HI-1 only (LO:HI)");
    CLI::Option* explore_json =
        explore->add_flag("--json", explore_args.json,
                          "Print one JSON document (space, policy summaries, cells, matrix; docs/results.md)");
    explore->add_flag("--events", explore_args.events, "Print each failing cell's event log")->excludes(explore_json);

    std::string what;
    std::optional<std::string> list_arch, list_dir;
    bool list_markdown = false;
    CLI::App* list =
        app.add_subcommand("list", "List migration steps, policies, declared events or the scenario library");
    list->add_option("WHAT", what, "steps, policies, events or scenarios")
        ->required()
        ->check(CLI::IsMember({"steps", "policies", "events", "scenarios"}));
    list->add_option("--arch", list_arch, "steps, events: only this backend (events: and core's)");
    list->add_flag("--markdown", list_markdown, "events: as the Markdown tables of docs/traces.md");
    list->add_option("--dir", list_dir,
                     "scenarios: the directory to list (default: ./scenarios, else the source tree's)");

    MachineArgs machine_args;
    CLI::App* machine = add_machine_command(app, machine_args);
    GenerateArgs generate_args;
    CLI::App* generate = add_generate_command(app, generate_args);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        fmt::print(stderr, "irqdiff: {} (see 'irqdiff --help')\n", e.what());
        return kExitBadInput;
    }

    try {
        if (*run) return cmd_run(run_args);
        if (*explore) return cmd_explore(explore_args);
        if (*machine) return cmd_machine(machine_args);
        if (*generate) return cmd_generate(generate_args);
        if (what == "steps") return list_steps(list_arch);
        if (what == "policies") return list_policies();
        if (what == "events") return list_events(list_arch, list_markdown);
        return list_scenarios(list_dir);
    } catch (const InputError& e) {
        fmt::print(stderr, "{}\n", e.what());
        return kExitBadInput;
    }
}

}  // namespace
}  // namespace irqdiff::cli

int main(int argc, char** argv) {
    irqdiff::cli::reserve_standard_streams();
    try {
        return irqdiff::cli::finish_stdout(irqdiff::cli::main_impl(argc, argv));
    } catch (const std::system_error& e) {
        // fmt::print throws when a write fails: stdout's failing is the output's fault, not a bug.
        if (irqdiff::cli::standard_stream_failed()) return irqdiff::cli::finish_stdout(0, e.code().value());
        fmt::print(stderr, "irqdiff: internal error (a bug, please report it with the command line): {}\n", e.what());
        return 3;
    } catch (const std::exception& e) {
        fmt::print(stderr, "irqdiff: internal error (a bug, please report it with the command line): {}\n", e.what());
        return 3;
    }
}
