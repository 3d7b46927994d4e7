#include "core/migration.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <bit>
#include <stdexcept>

namespace irqdiff {

namespace {

const std::vector<NeutralStep> kNeutral = {
    {"stop_vcpus", Side::Save, "pause every vCPU (vCPUs are put, vPEs non-resident / SN set)"},
    {"stop_devices", Side::Save, "stop the passthrough devices so they raise no more interrupts (VFIO STOP)"},
    {"save_irqchip", Side::Save, "save the interrupt controller's state into guest RAM and the migration stream"},
    {"copy_memory", Side::Save, "final pass of guest RAM to the destination"},
    {"restore_irqchip", Side::Restore, "load the interrupt controller's CPU-side state"},
    {"restore_translation", Side::Restore, "load the interrupt translation state (ITS tables, routes)"},
    {"restore_devices", Side::Restore, "load device config and re-establish MSI delivery (VFIO, irqfd, bypass)"},
    {"start_vcpus", Side::Restore, "let the vCPUs run again"},
    {"start_devices", Side::Restore, "let the devices raise interrupts again (VFIO RUNNING)"},
};

}  // namespace

const char* to_string(Side side) { return side == Side::Save ? "save" : "restore"; }

std::span<const NeutralStep> neutral_steps() { return kNeutral; }

const NeutralStep* find_neutral_step(std::string_view name) {
    for (const NeutralStep& n : kNeutral)
        if (n.name == name) return &n;
    return nullptr;
}

const char* to_string(Rule rule) {
    switch (rule) {
        case Rule::Data: return "data";
        case Rule::DataAbi: return "data+abi";
        case Rule::Abi: return "abi";
    }
    return "?";
}

RestoreOrder OrderSet::at(uint64_t index) const {
    if (index >= count())
        throw std::out_of_range(fmt::format("order index {} >= {} orders of set {}", index, count(), name_));
    if (listed()) return listed_[index];
    RestoreOrder order;
    uint32_t placed = 0;
    const size_t n = steps_.size();
    while (order.size() < n) {
        for (size_t i = 0; i < n; ++i) {
            uint32_t bit = uint32_t{1} << i;
            if ((placed & bit) || (preds_[i] & ~placed)) continue;
            uint64_t below = counts_[placed | bit];
            if (index < below) {
                order.push_back(static_cast<uint16_t>(i));
                placed |= bit;
                break;
            }
            index -= below;
        }
    }
    return order;
}

std::string OrderSet::why_not(std::span<const uint16_t> order) const {
    if (listed()) {
        for (const RestoreOrder& o : listed_)
            if (std::equal(o.begin(), o.end(), order.begin(), order.end())) return {};
        return fmt::format("order set {} holds only the order{} {} ({})", name_, listed_.size() == 1 ? "" : "s",
                           fmt::join(listed_names_, ", "), doc_);
    }
    std::vector<size_t> pos(steps_.size(), SIZE_MAX);
    for (size_t p = 0; p < order.size(); ++p) pos[order[p]] = p;
    for (const Dependency& d : rules_) {
        auto index = [&](const std::string& name) {
            return static_cast<size_t>(std::find(steps_.begin(), steps_.end(), name) - steps_.begin());
        };
        size_t b = pos[index(d.before)], a = pos[index(d.after)];
        if (a != SIZE_MAX && (b == SIZE_MAX || b > a))
            return fmt::format("order set {} keeps {} before {} ({}: {})", name_, d.before, d.after, to_string(d.rule),
                               d.reason);
    }
    return {};
}

OrderSet MigrationPlan::dag_set(std::string name, std::string doc, bool abi) const {
    OrderSet set;
    set.name_ = std::move(name);
    set.doc_ = std::move(doc);
    for (const MigrationStep& s : restore_) set.steps_.push_back(s.name);
    set.preds_.assign(restore_.size(), 0);
    for (const Dependency& d : deps_) {
        if (d.rule == Rule::Abi && !abi) continue;
        set.rules_.push_back(d);
        set.preds_[*find_restore(d.after)] |= uint32_t{1} << *find_restore(d.before);
    }
    // counts_[placed] = number of ways to order the steps not in `placed`; a cycle leaves 0.
    const uint32_t full = (uint32_t{1} << restore_.size()) - 1;
    set.counts_.assign(size_t{full} + 1, 0);
    set.counts_[full] = 1;
    for (uint32_t placed = full; placed-- > 0;) {
        uint64_t n = 0;
        for (size_t i = 0; i < restore_.size(); ++i) {
            uint32_t bit = uint32_t{1} << i;
            if (!(placed & bit) && (set.preds_[i] & ~placed) == 0) n += set.counts_[placed | bit];
        }
        set.counts_[placed] = n;
    }
    return set;
}

MigrationPlan::MigrationPlan(std::vector<MigrationStep> save, std::vector<MigrationStep> restore,
                             std::vector<Dependency> deps,
                             std::vector<std::pair<std::string, std::vector<std::string>>> orders,
                             std::vector<VmmOrderSet> vmm_sets)
    : save_(std::move(save)), restore_(std::move(restore)), deps_(std::move(deps)) {
    auto bug = [](const std::string& what) { throw std::logic_error("MigrationPlan: " + what); };
    if (restore_.empty() || restore_.size() > kMaxRestoreSteps) bug("needs 1..20 restore steps");
    std::vector<std::string> seen;
    for (const auto* steps : {&save_, &restore_}) {
        const Side side = steps == &save_ ? Side::Save : Side::Restore;
        for (const MigrationStep& s : *steps) {
            const NeutralStep* n = find_neutral_step(s.neutral);
            if (s.side != side || !n || n->side != side)
                bug(fmt::format("step {} maps to no neutral step of its side", s.name));
            if (std::find(seen.begin(), seen.end(), s.name) != seen.end()) bug("duplicate step " + s.name);
            seen.push_back(s.name);
        }
    }
    for (const Dependency& d : deps_) {
        auto b = find_restore(d.before), a = find_restore(d.after);
        if (!b || !a || *a == *b) bug(fmt::format("bad dependency {} -> {}", d.before, d.after));
    }
    sets_.push_back(dag_set(std::string(kDataOrderSet),
                            "the stress set: every order the model's data dependencies admit (order: all), "
                            "including orders no VMM produces",
                            false));
    if (sets_.front().count() == 0) bug("the restore dependencies form a cycle");
    sets_.push_back(dag_set("abi",
                            "the data orders that also keep every restore rule the kernel documents (the rules marked abi)",
                            true));
    if (sets_.back().count() == 0) bug("the documented rules form a cycle with the data dependencies");
    for (auto& [name, names] : orders) {
        RestoreOrder order;
        for (const std::string& n : names) {
            auto i = find_restore(n);
            if (!i) bug(fmt::format("order {} names unknown step {}", name, n));
            order.push_back(static_cast<uint16_t>(*i));
        }
        std::vector<uint16_t> sorted = order;
        std::sort(sorted.begin(), sorted.end());
        if (sorted.size() != restore_.size() || std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
            bug(fmt::format("order {} is not a permutation of the restore steps", name));
        if (const Dependency* d = first_violation(order))
            bug(fmt::format("order {} breaks {} -> {}", name, d->before, d->after));
        orders_.emplace_back(name, std::move(order));
    }
    if (orders_.empty() || orders_.front().first != "qemu") bug("the first named order must be qemu");
    for (VmmOrderSet& v : vmm_sets) {
        // data and abi are already in sets_: a VMM set may be neither, nor named twice.
        if (!is_order_set_name(v.name) || find_order_set(v.name))
            bug(fmt::format("order set {} is not a new VMM set of kOrderSetNames", v.name));
        if (v.orders.empty()) bug("order set " + v.name + " holds no order");
        OrderSet set;
        set.name_ = v.name;
        set.doc_ = std::move(v.doc);
        for (const MigrationStep& s : restore_) set.steps_.push_back(s.name);
        for (const std::string& o : v.orders) {
            auto it = std::find_if(orders_.begin(), orders_.end(), [&](const auto& e) { return e.first == o; });
            if (it == orders_.end()) bug(fmt::format("order set {} names unknown order {}", v.name, o));
            set.listed_.push_back(it->second);
            set.listed_names_.push_back(o);
        }
        sets_.push_back(std::move(set));
    }
}

const OrderSet* MigrationPlan::find_order_set(std::string_view name) const {
    for (const OrderSet& s : sets_)
        if (s.name() == name) return &s;
    return nullptr;
}

const OrderSet& MigrationPlan::order_set(std::string_view name, const SourceLoc& loc, std::string_view backend) const {
    if (const OrderSet* s = find_order_set(name)) return *s;
    std::vector<std::string> names;
    for (const OrderSet& s : sets_) names.push_back(s.name());
    throw InputError(loc, fmt::format("backend {} has no order set '{}' (it has: {})", backend, name,
                                      fmt::join(names, ", ")));
}

const std::string* MigrationPlan::order_name(std::span<const uint16_t> order) const {
    for (const auto& [name, named] : orders_)
        if (std::equal(named.begin(), named.end(), order.begin(), order.end())) return &name;
    return nullptr;
}

std::optional<size_t> MigrationPlan::find_restore(std::string_view name) const {
    for (size_t i = 0; i < restore_.size(); ++i)
        if (restore_[i].name == name) return i;
    return std::nullopt;
}

std::optional<size_t> MigrationPlan::find_save(std::string_view name) const {
    for (size_t i = 0; i < save_.size(); ++i)
        if (save_[i].name == name) return i;
    return std::nullopt;
}

const Dependency* MigrationPlan::first_violation(std::span<const uint16_t> order) const {
    std::vector<size_t> pos(restore_.size(), SIZE_MAX);
    for (size_t p = 0; p < order.size(); ++p) pos[order[p]] = p;
    for (const Dependency& d : deps_) {
        if (d.rule == Rule::Abi) continue;
        size_t b = pos[*find_restore(d.before)], a = pos[*find_restore(d.after)];
        if (a != SIZE_MAX && (b == SIZE_MAX || b > a)) return &d;
    }
    return nullptr;
}

RestoreOrder MigrationPlan::resolve(const OrderSpec& spec, std::string_view backend) const {
    if (spec.kind == OrderSpec::Kind::All)
        throw InputError(spec.loc, fmt::format("order 'all' stands for {} restore orders of backend {}; run one "
                                               "with --order NAME, or explore them with 'irqdiff explore'",
                                               count_orders(), backend));
    if (spec.kind == OrderSpec::Kind::Set) {
        const uint64_t n = order_set(spec.name, spec.loc, backend).count();
        throw InputError(spec.loc, fmt::format("{{set: {}}} stands for the {} restore order{} of that set on backend "
                                               "{}; run one with --order NAME, or explore {} with 'irqdiff explore'",
                                               spec.name, n, n == 1 ? "" : "s", backend, n == 1 ? "it" : "them"));
    }
    if (spec.kind == OrderSpec::Kind::Named) {
        for (const auto& [name, order] : orders_)
            if (name == spec.name) return order;
        std::vector<std::string> names{"all"};
        for (const auto& [name, _] : orders_) names.push_back(name);
        throw InputError(spec.loc, fmt::format("'{}' is not an order of backend {} (expected one of: {}, {{set: "
                                               "NAME}} or a list of steps)",
                                               spec.name, backend, fmt::join(names, ", ")));
    }
    RestoreOrder order;
    std::vector<SourceLoc> where;
    for (size_t i = 0; i < spec.steps.size(); ++i) {
        const std::string& name = spec.steps[i];
        const SourceLoc& loc = i < spec.step_locs.size() ? spec.step_locs[i] : spec.loc;
        std::vector<uint16_t> expanded;
        if (auto r = find_restore(name)) {
            expanded.push_back(static_cast<uint16_t>(*r));
        } else if (const NeutralStep* n = find_neutral_step(name); n && n->side == Side::Restore) {
            for (uint16_t s : qemu_order())
                if (restore_[s].neutral == name) expanded.push_back(s);
        } else {
            std::vector<std::string> names;
            for (const MigrationStep& s : restore_) names.push_back(s.name);
            throw InputError(loc, fmt::format("'{}' is not a restore step of backend {} (expected one of: {})", name,
                                              backend, fmt::join(names, ", ")));
        }
        for (uint16_t s : expanded) {
            if (std::find(order.begin(), order.end(), s) != order.end())
                throw InputError(
                    loc, fmt::format("step {} of backend {} is already in the order", restore_[s].name, backend));
            order.push_back(s);
            where.push_back(loc);
        }
    }
    if (order.size() != restore_.size()) {
        std::vector<std::string> missing;
        for (size_t i = 0; i < restore_.size(); ++i)
            if (std::find(order.begin(), order.end(), i) == order.end()) missing.push_back(restore_[i].name);
        throw InputError(spec.loc, fmt::format("the order leaves out restore step{} {} of backend {}",
                                               missing.size() == 1 ? "" : "s", fmt::join(missing, ", "), backend));
    }
    if (const Dependency* d = first_violation(order)) {
        size_t at = std::find(order.begin(), order.end(), *find_restore(d->after)) - order.begin();
        throw InputError(where[at], fmt::format("{} must come after {} on backend {} ({})", d->after, d->before,
                                                backend, d->reason));
    }
    return order;
}

std::vector<std::string> MigrationPlan::schedule_names(const RestoreOrder& order) const {
    std::vector<std::string> names;
    for (const MigrationStep& s : save_) names.push_back(s.name);
    for (uint16_t i : order) names.push_back(restore_[i].name);
    return names;
}

std::optional<size_t> MigrationPlan::position_of(std::string_view name, const RestoreOrder& order) const {
    for (size_t i = 0; i < save_.size(); ++i)
        if (save_[i].name == name || save_[i].neutral == name) return i;
    for (size_t p = 0; p < order.size(); ++p) {
        const MigrationStep& s = restore_[order[p]];
        if (s.name == name || s.neutral == name) return save_.size() + p;
    }
    return std::nullopt;
}

std::vector<std::string> MigrationPlan::point_names() const {
    std::vector<std::string> names;
    auto add = [&](const std::string& n) {
        if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    };
    for (const MigrationStep& s : save_) add(s.name);
    for (uint16_t i : qemu_order()) add(restore_[i].name);
    for (const NeutralStep& n : kNeutral) {
        auto maps_here = [&](const MigrationStep& s) { return s.neutral == n.name; };
        if (std::any_of(save_.begin(), save_.end(), maps_here) ||
            std::any_of(restore_.begin(), restore_.end(), maps_here))
            add(std::string(n.name));
    }
    return names;
}

}  // namespace irqdiff
