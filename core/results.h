// Results as JSON (nlohmann), in the schema of DESIGN.md "Interfaces":
//   {"scenario", "file", "runs": [{"arch", "policy", "order", "outcomes": {SOURCE: OUTCOME},
//    "expectations_met", "violations", "metrics", "locations", "events", ...}]}
// Keys keep insertion order so documents read in scenario order and are byte-identical per run.
// docs/results.md describes every key.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/runner.h"

namespace irqdiff {

using Json = nlohmann::ordered_json;

Json to_json(const Event& event);
Json to_json(const AccessStats& stats);
Json to_json(const SideMetrics& metrics);
/// [{"place": "arm.vpt[vpe0]", "live": true}, ...]; `device_names` names the scenario's devices.
Json to_json(const std::vector<Location>& places, std::span<const std::string> device_names);
Json to_json(const RunResult& run);
Json to_json(const ScenarioResult& result);

/// The normalized delivery-and-location trace of one run, the form tests/golden/ keeps for every
/// library scenario: the run's key (arch, guest, restore orders), then per schedule
/// action its text, the deliveries during it (`deliver SOURCE vcpuN PATH`), the violations it
/// logged (without their log position) and where each source whose places changed is now
/// (`at SOURCE: PLACE, ...` or `nowhere`), then each source's outcome. It names no event other than
/// violations, so adding or renaming an ordinary event leaves it unchanged.
std::string delivery_trace(const RunResult& run);

}  // namespace irqdiff
