#include "cli/output.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "core/errors.h"

namespace irqdiff::cli {

void reserve_standard_streams() {
    for (int fd = 0; fd <= 2; ++fd) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        const int null = open("/dev/null", O_RDONLY);  // the lowest free descriptor: `fd` itself
        if (null >= 0 && null != fd) {
            dup2(null, fd);
            close(null);
        }
    }
}

namespace {
int first_stdout_errno = 0;  // of the first failed flush_stdout()
}  // namespace

void flush_stdout() {
    errno = 0;
    if (std::fflush(stdout) != 0 && !first_stdout_errno) first_stdout_errno = errno ? errno : EIO;
}

int lost_write_error(std::FILE* f) {
    errno = 0;
    if (::write(fileno(f), "", 0) < 0 && errno) return errno;
    return EIO;
}

bool standard_stream_failed() { return std::ferror(stdout) || std::ferror(stderr); }

int finish_stdout(int code, int err) {
    if (!err) err = first_stdout_errno;
    errno = 0;
    if (std::fflush(stdout) != 0 && !err) err = errno ? errno : EIO;
    // CLI11's --help and --version go through std::cout, synchronized with stdio (its flush is an
    // fflush(stdout), so it comes after ours, which keeps the errno).
    std::cout.flush();
    if ((std::cout.fail() || std::ferror(stdout)) && !err) err = lost_write_error(stdout);
    if (std::ferror(stdout) && !err) err = lost_write_error(stdout);  // an earlier write failed
    errno = 0;
    if (std::fclose(stdout) != 0 && !err) err = errno ? errno : EIO;
    if (!err) return code;
    fmt::print(stderr, "irqdiff: writing the results to stdout failed: {}\n", std::strerror(err));
    return kExitOutputFailed;
}

namespace {

namespace fs = std::filesystem;

/// `a` and `b` are one file: both exist and are the same regular file, or neither exists yet
/// and both resolve to the same path. Devices (/dev/null, a terminal) may be named twice.
bool same_file(const std::string& a, const std::string& b) {
    std::error_code ec;
    const bool a_exists = fs::exists(a, ec), b_exists = fs::exists(b, ec);
    if (a_exists && b_exists) return fs::equivalent(a, b, ec) && !ec && fs::is_regular_file(a, ec);
    if (a_exists || b_exists) return false;
    const fs::path ca = fs::weakly_canonical(a, ec);
    if (ec) return false;
    const fs::path cb = fs::weakly_canonical(b, ec);
    return !ec && ca == cb;
}

}  // namespace

void refuse_overwriting(const NamedPath& output, const std::vector<NamedPath>& inputs,
                        const std::vector<NamedPath>& other_outputs) {
    for (const NamedPath& in : inputs) {
        std::error_code ec;
        if (fs::is_regular_file(in.path, ec) && fs::equivalent(output.path, in.path, ec) && !ec)
            throw InputError(output.place, fmt::format("'{}' is the input {} ('{}'): refusing to overwrite an input",
                                                       output.path, in.place, in.path));
    }
    for (const NamedPath& other : other_outputs)
        if (same_file(output.path, other.path))
            throw InputError(output.place, fmt::format("'{}' is also the output of {}: give each output its own file",
                                                       output.path, other.place));
}

}  // namespace irqdiff::cli
