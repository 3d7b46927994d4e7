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

void Scenario::index() {
    sources_by_name.resize(sources.size());
    for (SourceId i = 0; i < sources.size(); ++i) sources_by_name[i] = i;
    std::sort(sources_by_name.begin(), sources_by_name.end(),
              [&](SourceId a, SourceId b) { return sources[a].name < sources[b].name; });
    devices_by_name.resize(devices.size());
    for (uint32_t i = 0; i < devices.size(); ++i) devices_by_name[i] = i;
    std::sort(devices_by_name.begin(), devices_by_name.end(),
              [&](uint32_t a, uint32_t b) { return devices[a].name < devices[b].name; });
}

std::optional<SourceId> Scenario::find_source(std::string_view name) const {
    if (sources_by_name.size() == sources.size()) {
        auto it = std::lower_bound(sources_by_name.begin(), sources_by_name.end(), name,
                                   [&](SourceId id, std::string_view n) { return sources[id].name < n; });
        if (it != sources_by_name.end() && sources[*it].name == name) return *it;
        return std::nullopt;
    }
    for (SourceId i = 0; i < sources.size(); ++i)
        if (sources[i].name == name) return i;
    return std::nullopt;
}

std::optional<uint32_t> Scenario::find_device(std::string_view name) const {
    if (devices_by_name.size() == devices.size()) {
        auto it = std::lower_bound(devices_by_name.begin(), devices_by_name.end(), name,
                                   [&](uint32_t d, std::string_view n) { return devices[d].name < n; });
        if (it != devices_by_name.end() && devices[*it].name == name) return *it;
        return std::nullopt;
    }
    for (uint32_t i = 0; i < devices.size(); ++i)
        if (devices[i].name == name) return i;
    return std::nullopt;
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
