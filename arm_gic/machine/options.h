// The option values machine mode's front ends share (the CLI's `irqdiff machine` options and
// `irqdiff.Machine`'s arguments), parsed once with the same errors (InputError naming `place`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arm_gic/machine/board.h"
#include "core/scenario.h"

namespace irqdiff::arm::machine {

/// "128", "128M", "1G", "65536K": a size in bytes (no suffix: MiB, as QEMU's -m).
uint64_t parse_mem_size(const std::string& text, const std::string& place);
/// A restore order: a named order, or STEP,STEP,... (MigrationPlan::resolve checks names and rules).
OrderSpec parse_order(const std::string& text, const std::string& place);
/// DEVID[:EVENTS] (hex 0x.. or decimal; EVENTS default 32, at most 2048) or `all`, each.
std::vector<Assignment> parse_assignments(const std::vector<std::string>& items, const std::string& place);

}  // namespace irqdiff::arm::machine
