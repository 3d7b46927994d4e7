#include "core/scenario.h"

#include <algorithm>

namespace irqdiff {

const char* to_string(Outcome outcome) {
    switch (outcome) {
        case Outcome::DeliveredOnce: return "delivered-once";
        case Outcome::Lost: return "lost";
        case Outcome::Duplicated: return "duplicated";
        case Outcome::Pending: return "pending";
        case Outcome::SaveRefused: return "save-refused";
        case Outcome::Impossible: return "impossible";
        case Outcome::Spurious: return "spurious";
        case Outcome::DeliveredAfterDeassign: return "delivered-after-deassign";
        case Outcome::Undefined: return "undefined";
    }
    return "?";
}

std::optional<Outcome> parse_outcome(std::string_view text) {
    for (Outcome o : {Outcome::DeliveredOnce, Outcome::Lost, Outcome::Duplicated, Outcome::Pending,
                      Outcome::SaveRefused, Outcome::Impossible, Outcome::Spurious,
                      Outcome::DeliveredAfterDeassign, Outcome::Undefined})
        if (text == to_string(o)) return o;
    return std::nullopt;
}

const char* to_string(MigrationKind kind) { return kind == MigrationKind::Cpr ? "cpr" : "live"; }

const char* to_string(GuestKind kind) { return kind == GuestKind::Unicorn ? "unicorn" : "abstract"; }

std::optional<GuestKind> parse_guest_kind(std::string_view text) {
    if (text == "abstract") return GuestKind::Abstract;
    if (text == "unicorn") return GuestKind::Unicorn;
    return std::nullopt;
}

const char* to_string(DeviceKind kind) {
    switch (kind) {
        case DeviceKind::Msi: return "msi";
        case DeviceKind::Timer: return "timer";
        case DeviceKind::Ipi: return "ipi";
    }
    return "?";
}

const char* to_string(TimerMode mode) { return mode == TimerMode::TscDeadline ? "tsc-deadline" : "one-shot"; }

const char* to_string(DeliveryMode mode) {
    return mode == DeliveryMode::AtLeastOnce ? "at-least-once" : "exactly-once";
}

const char* to_string(StepKind kind) {
    switch (kind) {
        case StepKind::Run: return "run";
        case StepKind::Mask: return "mask";
        case StepKind::Unmask: return "unmask";
        case StepKind::Block: return "block";
        case StepKind::Preempt: return "preempt";
        case StepKind::Fire: return "fire";
        case StepKind::Retarget: return "retarget";
        case StepKind::Unassign: return "unassign";
        case StepKind::ToggleLpis: return "toggle_lpis";
        case StepKind::Migrate: return "migrate";
        case StepKind::Assign: return "assign";
        case StepKind::Unroute: return "unroute";
        case StepKind::Reroute: return "reroute";
        case StepKind::Cancel: return "cancel";
    }
    return "?";
}

const char* to_string(DeviceStop stop) {
    switch (stop) {
        case DeviceStop::StopDevices: return "stop_devices";
        case DeviceStop::CopyMemory: return "copy_memory";
    }
    return "?";
}

namespace {

/// Indexes 0..items.size()-1 ordered by the items' names.
template <class T>
std::vector<uint32_t> order_by_name(const std::vector<T>& items) {
    std::vector<uint32_t> order(items.size());
    for (uint32_t i = 0; i < items.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return items[a].name < items[b].name; });
    return order;
}

/// The item named `name`: a binary search in `order` when it indexes `items`, else a scan.
template <class T>
std::optional<uint32_t> find_by_name(const std::vector<T>& items, const std::vector<uint32_t>& order,
                                     std::string_view name) {
    if (order.size() == items.size()) {
        auto it = std::lower_bound(order.begin(), order.end(), name,
                                   [&](uint32_t i, std::string_view n) { return items[i].name < n; });
        if (it != order.end() && items[*it].name == name) return *it;
        return std::nullopt;
    }
    for (uint32_t i = 0; i < items.size(); ++i)
        if (items[i].name == name) return i;
    return std::nullopt;
}

}  // namespace

void Scenario::index() {
    sources_by_name = order_by_name(sources);
    devices_by_name = order_by_name(devices);
}

std::optional<SourceId> Scenario::find_source(std::string_view name) const {
    return find_by_name(sources, sources_by_name, name);
}

std::optional<uint32_t> Scenario::find_device(std::string_view name) const {
    return find_by_name(devices, devices_by_name, name);
}

std::optional<Scenario::KeyUse> Scenario::first_nmi() const {
    for (const Source& s : sources)
        if (s.nmi) return KeyUse{s.nmi_loc, "routes: " + s.name + ": nmi"};
    for (size_t i = 0; i < steps.size(); ++i)
        if (steps[i].nmi.value_or(false))
            return KeyUse{steps[i].nmi_loc, "steps[" + std::to_string(i) + "].retarget.nmi"};
    return std::nullopt;
}

}  // namespace irqdiff
