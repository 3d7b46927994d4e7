#include "core/oracle.h"

#include <algorithm>

namespace irqdiff {

Oracle::Oracle(const Scenario& scenario)
    : tallies_(scenario.sources.size()), route_(scenario.sources.size(), 0), masked_(scenario.vcpus, false) {
    for (SourceId s = 0; s < scenario.sources.size(); ++s) route_[s] = scenario.sources[s].vcpu.value_or(0);
    for (const Source& s : scenario.sources) nmi_.push_back(s.nmi);
    for (const Step& s : scenario.steps) step_nmi_.push_back(s.nmi);
}

void Oracle::apply(const Action& a, uint32_t index) {
    switch (a.kind) {
        case StepKind::Fire: {
            Tally& t = tallies_[a.source];
            ++t.fired;
            if (t.pending)
                ++t.coalesced;
            else
                t.pending = true;
            break;
        }
        case StepKind::Run:
            for (uint32_t v = 0; v < masked_.size(); ++v) {
                if (a.vcpu >= 0 && static_cast<uint32_t>(a.vcpu) != v) continue;
                for (SourceId s = 0; s < tallies_.size(); ++s) {
                    if (tallies_[s].pending && route_[s] == v && (!masked_[v] || nmi_[s])) {
                        tallies_[s].pending = false;
                        tallies_[s].deliveries.push_back(index);
                    }
                }
            }
            break;
        case StepKind::Mask: masked_[a.vcpu] = true; break;
        case StepKind::Unmask: masked_[a.vcpu] = false; break;
        case StepKind::Retarget:  // pending follows
            route_[a.source] = static_cast<uint32_t>(a.vcpu);
            if (const std::optional<bool>& nmi = step_nmi_.at(a.scenario_step)) nmi_[a.source] = *nmi;
            break;
        case StepKind::Block:       // the ideal controller wakes a blocked vCPU for any pending interrupt
        case StepKind::Preempt:     // and a preempted one runs again at the next `run`
        case StepKind::Unassign:    // no forwarding to tear down
        case StepKind::Assign:      // (nor to set up again)
        case StepKind::Unroute:     // the ideal controller has no routing table: a device's MSI still
        case StepKind::Reroute:     // reaches its vCPU (a VMM that drops a route loses what it sends)
        case StepKind::ToggleLpis:  // an ideal controller neither drops nor makes up pending state
        case StepKind::Migrate:     // no migration
        case StepKind::Cancel:
            break;
    }
}

Verdicts Verdicts::from(const std::vector<Event>& events, const Scenario& scenario) {
    Verdicts v;
    auto first_touch = [&](const Event& e, std::vector<std::pair<SourceId, uint32_t>>& into) {
        for (const std::string& name : e.sources)
            if (std::optional<SourceId> s = scenario.find_source(name);
                s && std::none_of(into.begin(), into.end(), [&](const auto& p) { return p.first == *s; }))
                into.emplace_back(*s, e.action);
    };
    for (const Event& e : events) {
        if (e.kind == EventKind::Refusal && !v.refused_at) v.refused_at = e.action;
        if (e.kind == EventKind::Stale) first_touch(e, v.stale);
        if (e.kind == EventKind::Unquiesced) first_touch(e, v.unquiesced);
        if (e.kind != EventKind::Impossible) continue;
        for (const std::string& name : e.sources)
            if (std::optional<SourceId> s = scenario.find_source(name);
                s && std::find(v.impossible.begin(), v.impossible.end(), *s) == v.impossible.end())
                v.impossible.push_back(*s);
    }
    return v;
}

std::optional<SourceOutcome> classify(SourceId source, const Oracle::Tally& oracle,
                                      const std::vector<Delivery>& deliveries, const std::vector<Location>& held,
                                      bool passthrough, bool virtualizing, const Verdicts& verdicts,
                                      DeliveryMode mode) {
    SourceOutcome o;
    o.source = source;
    o.fired = oracle.fired;
    o.coalesced = oracle.coalesced;
    o.expected = static_cast<uint32_t>(oracle.deliveries.size());
    std::vector<uint32_t> at;
    bool all_direct = true;
    for (const Delivery& d : deliveries) {
        if (d.source != source) continue;
        at.push_back(d.action);
        all_direct = all_direct && d.path == DeliveryPath::Direct;
    }
    o.delivered = static_cast<uint32_t>(at.size());
    o.held = held;
    size_t live =
        static_cast<size_t>(std::count_if(held.begin(), held.end(), [](const Location& l) { return l.live; }));
    if (o.fired == 0 && o.delivered == 0 && held.empty()) return std::nullopt;

    for (size_t k = 0; k < std::min(at.size(), oracle.deliveries.size()); ++k)
        if (at[k] > oracle.deliveries[k]) o.late = true;
    if (passthrough && virtualizing && o.delivered > 0) o.forwarded = all_direct;

    if (o.delivered < o.expected)
        o.outcome = Outcome::Lost;
    else if (o.delivered > o.expected)
        o.outcome = Outcome::Duplicated;
    else if (oracle.pending)
        o.outcome = live == 1 ? Outcome::Pending : live == 0 ? Outcome::Lost : Outcome::Duplicated;
    else
        o.outcome = live == 0 ? Outcome::DeliveredOnce : Outcome::Duplicated;

    auto stale = std::find_if(verdicts.stale.begin(), verdicts.stale.end(),
                              [source](const auto& p) { return p.first == source; });
    auto unquiesced = std::find_if(verdicts.unquiesced.begin(), verdicts.unquiesced.end(),
                                   [source](const auto& p) { return p.first == source; });
    // Every oracle delivery before action r was made by the backend before r: what is missing
    // went missing at r or later.
    auto intact_before = [&](uint32_t r) {
        auto before = [r](uint32_t action) { return action < r; };
        return std::count_if(at.begin(), at.end(), before) ==
               std::count_if(oracle.deliveries.begin(), oracle.deliveries.end(), before);
    };
    if (std::find(verdicts.impossible.begin(), verdicts.impossible.end(), source) != verdicts.impossible.end()) {
        o.outcome = Outcome::Impossible;
    } else if (stale != verdicts.stale.end() &&
               std::any_of(at.begin(), at.end(), [&](uint32_t action) { return action >= stale->second; })) {
        o.outcome = Outcome::DeliveredAfterDeassign;
    } else if (o.outcome == Outcome::Lost && verdicts.refused_at && intact_before(*verdicts.refused_at)) {
        o.outcome = Outcome::SaveRefused;
    } else if (o.outcome == Outcome::Lost && unquiesced != verdicts.unquiesced.end() &&
               intact_before(unquiesced->second)) {
        o.outcome = Outcome::Undefined;
    } else if (o.outcome == Outcome::Duplicated && mode == DeliveryMode::AtLeastOnce) {
        o.outcome = Outcome::Spurious;  // at-least-once: the extra interrupt is accepted
    }
    return o;
}

}  // namespace irqdiff
