// Where the command's results go (issue 17 §5): stdout and the files named by --trace, --log,
// --serial, ... A write that fails is reported as such, "irqdiff: writing the results to stdout
// failed: No space left on device", exit 2 (README "Exit codes"), never as an internal error or an
// exit 0 that wrote nothing; and no output may be the same file as an input.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace irqdiff::cli {

inline constexpr int kExitOutputFailed = 2;

/// Keeps file descriptors 0, 1 and 2 taken: one the caller closed (`irqdiff run S >&-`) is opened
/// read-only on /dev/null, so writes to stdout fail (EBADF) instead of landing in the next file the
/// command opens (which would get descriptor 1). Call first thing in main.
void reserve_standard_streams();

/// Flushes stdout (before a fork, before stderr's message follows the results), keeping the errno
/// of the first failure for finish_stdout.
void flush_stdout();

/// Flushes and closes stdout. Returns `code`, or kExitOutputFailed after printing the failure on
/// stderr when any write to stdout failed (`err`: the errno of a failure seen earlier, 0 if none).
int finish_stdout(int code, int err = 0);

/// The errno of a write error `f` had that nobody kept (a writer that ignored it, such as the
/// UART's fputc): a zero-length write asks the descriptor again (ENOSPC from /dev/full, EBADF from a
/// closed stdout); EIO when it does not tell.
int lost_write_error(std::FILE* f);

/// True when stdout (or stderr) had a write error: a std::system_error thrown by fmt::print is then
/// the output failing, not a bug.
bool standard_stream_failed();

/// An input of a command, for refuse_overwriting: where it was given ("FILE", "--restore") and its path.
struct NamedPath {
    std::string place;
    std::string path;
};

/// Throws InputError at `output.place` when `output.path` names the same file as one of `inputs`
/// (std::filesystem::equivalent: hard links and other spellings too) or of `other_outputs`
/// (compared once both are resolved, as neither may exist yet). Paths that cannot be resolved are
/// left to the open that follows.
void refuse_overwriting(const NamedPath& output, const std::vector<NamedPath>& inputs,
                        const std::vector<NamedPath>& other_outputs = {});

}  // namespace irqdiff::cli
