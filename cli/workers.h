// Local worker processes for the commands that split a range of work (`explore --jobs`,
// `generate --check --jobs`): one forked child per contiguous slice, its output back through a
// pipe, the slices' outputs in order. One mechanism for both, so both report a worker's bad input
// as `--jobs 1` would (issue 17 §5).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/results.h"

namespace irqdiff::cli {

/// Splits [lo, hi) into `jobs` contiguous slices and runs `work(a, b)` for each in a child process;
/// returns each slice's text, in slice order. A child whose work throws InputError sends it
/// instead, {"input_error": {file, line, column, message}}, and exits 2: the parent rethrows the
/// first slice's, the error one process would have stopped at. Any other failure of a child (an
/// exception, a signal, a failed write) is a std::runtime_error "a `what` worker process failed".
std::vector<std::string> run_in_processes(uint64_t lo, uint64_t hi, int jobs,
                                          const std::function<std::string(uint64_t, uint64_t)>& work,
                                          const std::string& what);

/// The JSON Lines of every slice's text, in order (what the workers of both commands send).
std::vector<Json> json_lines(const std::vector<std::string>& slices);

}  // namespace irqdiff::cli
