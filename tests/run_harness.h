// What backend tests share when they read a whole run (tests/arm_gic/arm_backend_test.cc and the
// live-update tests of both stacks): run a scenarios/live_update/ file on one backend, and read a
// source's location timeline, its outcome and whether a declared event was logged.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/oracle.h"
#include "core/runner.h"
#include "registry/builtin_backends.h"

namespace irqdiff::run_harness {

inline RunResult run_library(std::string_view arch, const std::string& file) {
    const std::string path = std::string(IRQDIFF_SOURCE_DIR) + "/scenarios/live_update/" + file;
    return run_scenario(load_scenario(path, builtin_backends().catalogue()), *builtin_backends().find(arch),
                        RunOptions{});
}

/// "ACTION -> PLACE ..." for each change of `source`'s locations.
inline std::vector<std::string> timeline(const RunResult& r, SourceId source) {
    std::vector<std::string> got;
    for (const LocationChange& c : r.locations)
        for (const auto& [s, places] : c.sources) {
            if (s != source) continue;
            std::string line = r.schedule[c.action] + " ->";
            if (places.empty()) line += " nowhere";
            for (const Location& l : places) line += " " + to_string(l, r.device_names) + (l.live ? "" : " (not live)");
            got.push_back(line);
        }
    return got;
}

/// The Unicorn guest programs send no IPIs, the x86 one arms no TSC-deadline timer (no WRMSR hook)
/// and has no NMI handler: the backends refuse such a scenario with them (X86Ipi, X86TscDeadline,
/// X86Nmi tests), so the guest differentials skip it.
inline bool needs_abstract_guest(const Scenario& s) {
    for (const Device& d : s.devices)
        if (d.kind == DeviceKind::Ipi || d.timer_mode == TimerMode::TscDeadline) return true;
    return s.first_nmi().has_value();
}

inline Outcome outcome_of(const RunResult& r, SourceId source) {
    for (const SourceOutcome& o : r.outcomes)
        if (o.source == source) return o.outcome;
    ADD_FAILURE() << "no outcome for source " << source;
    return Outcome::DeliveredOnce;
}

/// Whether the run logged an event of declaration `point` (named by declaration, tests/event_match.h).
inline bool logged(const RunResult& r, const TracePointInfo& point) {
    for (const Event& e : r.events)
        if (e.point == &point) return true;
    return false;
}

}  // namespace irqdiff::run_harness
