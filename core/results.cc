#include "core/results.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace irqdiff {

namespace {

Json to_json(const ArgValue& v) {
    struct Visitor {
        Json operator()(int64_t x) const { return x; }
        Json operator()(Hex x) const { return to_string(ArgValue{x}); }
        Json operator()(bool x) const { return x; }
        Json operator()(const std::string& x) const { return x; }
    };
    return std::visit(Visitor{}, v);
}

}  // namespace

Json to_json(const AccessStats& a) {
    return Json{{"reads", a.reads}, {"writes", a.writes}, {"bytes_read", a.bytes_read}, {"bytes_written", a.bytes_written}};
}

Json to_json(const SideMetrics& m) {
    return Json{{"actions", m.actions},         {"events", m.events},   {"hypervisor_ops", m.hypervisor_ops},
                {"vmm_ops", m.vmm_ops},         {"hw_ops", m.hw_ops},   {"hw_commands", m.hw_commands},
                {"host_memory", to_json(m.host)}, {"guest_memory", to_json(m.guest)}};
}

Json to_json(const std::vector<Location>& places, std::span<const std::string> device_names) {
    Json out = Json::array();
    for (const Location& l : places) out.push_back(Json{{"place", to_string(l, device_names)}, {"live", l.live}});
    return out;
}

Json to_json(const Event& e) {
    Json args = Json::object();
    for (const EventArg& a : e.args) args[a.key] = to_json(a.value);
    Json j{{"seq", e.seq}, {"action", e.action}, {"layer", to_string(e.layer)}, {"kind", to_string(e.kind)},
           {"op", e.op},   {"args", args},       {"sources", e.sources}};
    if (!e.rule.empty()) j["rule"] = e.rule;
    return j;
}

Json to_json(const RunResult& r) {
    Json policy = Json::object();
    for (const auto& [k, v] : r.policy.entries()) policy[k] = v;

    std::string order;
    for (const std::string& o : r.order_names) order += (order.empty() ? "" : ",") + o;

    Json outcomes = Json::object(), details = Json::object();
    for (const SourceOutcome& o : r.outcomes) {
        const std::string& name = r.source_names[o.source];
        outcomes[name] = to_string(o.outcome);
        Json d{{"fired", o.fired},
               {"coalesced", o.coalesced},
               {"expected", o.expected},
               {"delivered", o.delivered},
               {"late", o.late},
               {"forwarded", nullptr},
               {"held", to_json(o.held, r.device_names)}};
        if (o.forwarded) d["forwarded"] = *o.forwarded;
        if (o.vanished_at) d["vanished_at"] = {{"action", *o.vanished_at}, {"after", r.schedule.at(*o.vanished_at)}};
        details[name] = std::move(d);
    }

    Json expectations = Json::array();
    for (const ExpectationResult& e : r.expectations) {
        Json x{{"source", e.key},
               {"expected", e.expected},
               {"actual", e.actual ? Json(*e.actual) : Json(nullptr)},
               {"met", e.met},
               {"at", e.loc.to_string()}};
        if (!e.actual_source.empty()) x["actual_source"] = e.actual_source;
        expectations.push_back(std::move(x));
    }

    Json violations = Json::array();
    for (const Event& e : r.violations) violations.push_back(to_json(e));

    Json by_layer = Json::object();
    for (int l = 0; l < kLayerCount; ++l) by_layer[to_string(static_cast<Layer>(l))] = r.metrics.events_by_layer[l];
    Json sources = Json::object();
    for (SourceId s = 0; s < r.metrics.sources.size(); ++s) {
        const SourceMetrics& m = r.metrics.sources[s];
        if (m.path.empty() && m.window() == 0) continue;
        Json path = Json::array();
        for (const Hop& h : m.path) {
            Json hop{{"action", h.action},
                     {"after", r.schedule.at(h.action)},
                     {"places", to_json(h.places, r.device_names)}};
            if (h.places.empty()) hop["delivered"] = h.delivered;
            path.push_back(std::move(hop));
        }
        sources[r.source_names[s]] = Json{{"hops", m.hops()},
                                          {"path", path},
                                          {"window", {{"save", m.window_save},
                                                      {"restore", m.window_restore},
                                                      {"outside", m.window_outside},
                                                      {"total", m.window()}}}};
    }
    Json metrics{{"actions", r.metrics.actions},
                 {"events", r.metrics.events},
                 {"deliveries", r.metrics.deliveries},
                 {"events_by_layer", by_layer},
                 {"save", to_json(r.metrics.save)},
                 {"restore", to_json(r.metrics.restore)},
                 {"sources", sources}};

    Json identities = Json::object();
    for (size_t s = 0; s < r.source_names.size(); ++s) identities[r.source_names[s]] = r.identities[s];

    Json deliveries = Json::array();
    for (const Delivery& d : r.deliveries)
        deliveries.push_back(Json{
            {"action", d.action}, {"vcpu", d.vcpu}, {"source", r.source_names[d.source]}, {"path", to_string(d.path)}});

    Json guest_log = Json::array();
    for (const GuestRecord& g : r.guest_records)
        guest_log.push_back(
            Json{{"action", g.action}, {"vcpu", g.vcpu}, {"id", g.id}, {"timestamp", g.timestamp}, {"pc", g.pc}});

    Json locations = Json::array();
    for (const LocationChange& c : r.locations) {
        Json sources = Json::object();
        for (const auto& [s, places] : c.sources) sources[r.source_names[s]] = to_json(places, r.device_names);
        locations.push_back(Json{{"action", c.action}, {"after", r.schedule[c.action]}, {"sources", sources}});
    }

    Json events = Json::array();
    for (const Event& e : r.events) events.push_back(to_json(e));

    return Json{{"arch", r.arch},
                {"guest", to_string(r.guest)},
                {"policy", policy},
                {"order", order.empty() ? Json(nullptr) : Json(order)},
                {"restore_orders", r.restore_orders},
                {"outcomes", outcomes},
                {"outcome_details", details},
                {"expectations_met", r.expectations_met},
                {"expectations", expectations},
                {"violations", violations},
                {"metrics", metrics},
                {"identities", identities},
                {"schedule", r.schedule},
                {"deliveries", deliveries},
                {"guest_log", guest_log},
                {"locations", locations},
                {"events", events}};
}

Json to_json(const ScenarioResult& result) {
    Json runs = Json::array();
    for (const RunResult& r : result.runs) runs.push_back(to_json(r));
    Json differences = Json::array();
    // Every run is of the one scenario, so any run's device names name the places of a difference.
    const std::vector<std::string> no_devices;
    const std::vector<std::string>& devices = result.runs.empty() ? no_devices : result.runs.front().device_names;
    for (const Difference& d : result.differences)
        differences.push_back(Json{{"source", d.source},
                                   {"archs", {d.arch_a, d.arch_b}},
                                   {"outcomes", {d.outcome_a, d.outcome_b}},
                                   {"first_divergence", d.phase.empty() ? Json(nullptr) : Json(d.phase)},
                                   {"places", {to_json(d.places_a, devices), to_json(d.places_b, devices)}}});
    Json guest_differences = Json::array();
    for (const GuestDifference& d : result.guest_differences)
        guest_differences.push_back(Json{{"arch", d.arch},
                                         {"vcpu", d.vcpu},
                                         {"index", d.index},
                                         {"abstract", d.abstract},
                                         {"unicorn", d.unicorn}});
    return Json{{"scenario", result.scenario},
                {"file", result.file},
                {"expectations_met", result.expectations_met()},
                {"runs", runs},
                {"differences", differences},
                {"guest_differences", guest_differences}};
}

std::string delivery_trace(const RunResult& r) {
    // The policy is the scenario's (its file says it); printing every key's value would re-gold
    // every trace when a policy is added.
    std::string out = fmt::format("arch {} guest {}", r.arch, to_string(r.guest));
    for (size_t m = 0; m < r.order_names.size(); ++m)
        out += fmt::format("\norder {}: {}", r.order_names[m], fmt::join(r.restore_orders.at(m), ","));
    out += '\n';
    auto places = [&](const std::vector<Location>& held) {
        if (held.empty()) return std::string("nowhere");
        std::string s;
        for (const Location& l : held) s += (s.empty() ? "" : ", ") + to_string(l, r.device_names);
        return s;
    };
    for (uint32_t a = 0; a < r.schedule.size(); ++a) {
        out += fmt::format("a{} {}\n", a, r.schedule[a]);
        for (const Delivery& d : r.deliveries)
            if (d.action == a)
                out += fmt::format("  deliver {} vcpu{} {}\n", r.source_names[d.source], d.vcpu, to_string(d.path));
        for (Event e : r.violations) {
            if (e.action != a) continue;
            e.seq = 0;  // "#0 aN LAYER ...": drop the log position and the action
            std::string line = to_string(e);
            out += "  violation " + line.substr(line.find(' ', line.find(' ') + 1) + 1) + "\n";
        }
        for (const LocationChange& c : r.locations)
            if (c.action == a)
                for (const auto& [s, held] : c.sources)
                    out += fmt::format("  at {}: {}\n", r.source_names[s], places(held));
    }
    for (const SourceOutcome& o : r.outcomes) {
        out += fmt::format("outcome {} {} fired={} coalesced={} expected={} delivered={} late={}", r.source_names[o.source],
                           to_string(o.outcome), o.fired, o.coalesced, o.expected, o.delivered, o.late);
        if (o.forwarded) out += fmt::format(" forwarded={}", *o.forwarded);
        if (o.vanished_at) out += fmt::format(" vanished_at=a{}", *o.vanished_at);
        out += fmt::format(" held: {}\n", places(o.held));
    }
    out += fmt::format("expectations {}\n", r.expectations_met ? "met" : "not met");
    return out;
}

}  // namespace irqdiff
