#include "core/backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "core/trace_points.h"

namespace irqdiff {

std::unique_ptr<Backend> make_backend(const BackendInfo& info, const BackendContext& ctx) {
    const Scenario& s = ctx.scenario;
    for (const Refusal& r : info.refuses) {
        if (r.guest && *r.guest != ctx.guest_options.kind) continue;
        for (size_t d = 0; r.device && d < s.devices.size(); ++d)
            if (s.devices[d].kind == *r.device)
                throw InputError(s.devices[d].kind_loc, fmt::format("devices[{}].kind: {}", d, r.why));
        for (size_t i = 0; r.step && i < s.steps.size(); ++i)
            if (s.steps[i].kind == *r.step)
                throw InputError(s.steps[i].loc, fmt::format("steps[{}].{}: {}", i, to_string(*r.step), r.why));
    }
    return info.make(ctx);
}

std::string describe(const Action& a, const Scenario& scenario, const MigrationPlan& plan) {
    auto src = [&] { return scenario.sources[a.source].name; };
    switch (a.kind) {
        case StepKind::Run: return a.vcpu < 0 ? "run all" : fmt::format("run vcpu{}", a.vcpu);
        case StepKind::Mask:
        case StepKind::Unmask:
        case StepKind::Block:
        case StepKind::Preempt:
        case StepKind::ToggleLpis: return fmt::format("{} vcpu{}", to_string(a.kind), a.vcpu);
        case StepKind::Fire: return "fire " + src();
        case StepKind::Retarget: return fmt::format("retarget {} vcpu{}", src(), a.vcpu);
        case StepKind::Unassign: return "unassign " + src();
        case StepKind::Assign: return "assign " + src();
        case StepKind::Unroute: return "unroute " + src();
        case StepKind::Reroute: return "reroute " + src();
        case StepKind::Migrate: {
            const auto& steps = a.side == Side::Save ? plan.save_steps() : plan.restore_steps();
            return fmt::format("{}:{}", to_string(a.side), steps.at(a.step).name);
        }
        case StepKind::Cancel: return "save:cancel";
    }
    return "?";
}

const char* to_string(DeliveryPath path) {
    switch (path) {
        case DeliveryPath::Ideal: return "ideal";
        case DeliveryPath::Direct: return "direct";
        case DeliveryPath::Software: return "software";
    }
    return "?";
}

void Registry::add(BackendInfo info) {
    if (find(info.name)) throw std::logic_error("Registry: backend registered twice: " + info.name);
    auto catalog = std::make_shared<std::vector<PolicySpec>>(*policies_);
    for (const PolicySpec& spec : info.policies) {
        if (find_policy(*catalog, spec.key))
            throw std::logic_error("Registry: policy registered twice: " + std::string(spec.key));
        catalog->push_back(spec);
    }
    policies_ = catalog;
    for (const TracePointInfo* e : info.events) {
        if (std::find(events_.begin(), events_.end(), e) != events_.end())
            throw std::logic_error("Registry: event declared twice: " + std::string(e->op));
        events_.push_back(e);
    }
    if (info.plan) {
        for (const MigrationStep& st : info.plan->save_steps()) steps_.push_back(StepName{st.name, true, info.name});
        for (const MigrationStep& st : info.plan->restore_steps())
            steps_.push_back(StepName{st.name, false, info.name});
    }
    backends_.push_back(std::move(info));
    for (BackendInfo& b : backends_) b.catalog = policies_;
}

std::vector<StepName> Registry::initial_steps() {
    std::vector<StepName> out;
    for (const NeutralStep& n : neutral_steps()) out.push_back(StepName{std::string(n.name), n.side == Side::Save, ""});
    return out;
}

std::vector<const TracePointInfo*> Registry::initial_events() {
    TracePointList core = tp::core_trace_points();
    return {core.begin(), core.end()};
}

const BackendInfo* Registry::find(std::string_view name) const {
    for (const BackendInfo& b : backends_)
        if (b.name == name) return &b;
    return nullptr;
}

std::vector<std::string> Registry::default_arches() const {
    std::vector<std::string> names;
    for (const BackendInfo& b : backends_)
        if (b.virtualizing) names.push_back(b.name);
    if (names.empty() && find("ideal")) names.push_back("ideal");
    return names;
}

std::vector<std::string> Registry::expand_arch(std::string_view arch, const std::string& place) const {
    std::vector<std::string> wanted;
    if (arch == "both")
        wanted = {"arm", "x86"};
    else
        wanted = {std::string(arch)};
    std::vector<std::string> built;
    for (const BackendInfo& b : backends_) built.push_back(b.name);
    for (const std::string& w : wanted) {
        if (find(w)) continue;
        bool planned = w == "arm" || w == "x86";
        throw InputError(place, fmt::format("{} '{}' (this build has: {}{})",
                                            planned ? "this build has no backend" : "unknown backend", w,
                                            fmt::join(built, ", "), planned ? "" : "; 'both' means arm and x86"));
    }
    return wanted;
}

std::vector<std::string> Registry::arches_for(const Scenario& scenario, const std::vector<std::string>* requested,
                                              const std::string& place) const {
    const std::vector<std::string>& meant = scenario.arches;
    if (requested) {
        for (const std::string& r : *requested)
            if (r != "ideal" && !meant.empty() && std::find(meant.begin(), meant.end(), r) == meant.end())
                throw InputError(scenario.arch_loc,
                                 fmt::format("arch: the scenario is meant for {} only, but {} asks for {}",
                                             fmt::join(meant, " and "), place, r));
        return *requested;
    }
    if (meant.empty()) return default_arches();
    std::vector<std::string> out;
    for (const std::string& m : meant)
        if (find(m)) out.push_back(m);
    if (out.empty()) {
        std::vector<std::string> built;
        for (const BackendInfo& b : backends_) built.push_back(b.name);
        throw InputError(scenario.arch_loc, fmt::format("arch: the scenario is meant for {}, and this build has no "
                                                        "backend for it (this build has: {})",
                                                        fmt::join(meant, " and "), fmt::join(built, ", ")));
    }
    return out;
}

}  // namespace irqdiff
