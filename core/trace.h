// Chrome trace-event JSON ("JSON Object Format") for the runs of one scenario, which Perfetto
// (ui.perfetto.dev) and speedscope open (DESIGN.md "Interfaces" -> Traces): one process per run,
// one track per vCPU and per piece of interrupt hardware, KVM and QEMU; a slice per schedule
// action and per logged event; an async slice per interrupt lifetime, from its fire to its
// delivery, marked with the places it passed through; counters of where pending state lives.
// The model has no clock, so time is synthetic: event `seq` k is at k us. Nothing depends on wall
// time, host addresses or hash order, so the same result gives a byte-identical file.
// docs/traces.md describes the tracks, the op -> track mapping and the time convention.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/results.h"

namespace irqdiff {

/// The trace of every run in `result` (pid 1, 2, ... in run order). Runs recorded without events
/// (RunOptions::record_events false) still give a valid trace from what they kept; otherData says
/// which runs are partial.
Json chrome_trace(const ScenarioResult& result);

/// chrome_trace(result) as text: the top-level keys on their own lines and one trace event per line.
std::string chrome_trace_text(const ScenarioResult& result);

/// Writes chrome_trace_text(result) to `path`. Throws InputError "cannot write PATH: reason".
void write_chrome_trace(const ScenarioResult& result, const std::string& path);

/// The ops and op prefixes the track rules name (docs/traces.md "Which track an event goes to"):
/// each must be a declared event's (a test checks them against the event catalogue).
std::vector<std::string_view> track_rule_ops();
std::vector<std::string_view> track_rule_prefixes();

}  // namespace irqdiff
