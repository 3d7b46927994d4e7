#include "cli/workers.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "cli/output.h"
#include "core/errors.h"
#include "core/results.h"

namespace irqdiff::cli {
namespace {

constexpr int kChildBadInput = 2;  // the CLI's exit code for bad input
constexpr int kChildFailed = 3;

bool write_all(int fd, const std::string& text) {
    for (size_t done = 0; done < text.size();) {
        const ssize_t w = write(fd, text.data() + done, text.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        done += static_cast<size_t>(w);
    }
    return true;
}

}  // namespace

std::vector<std::string> run_in_processes(uint64_t lo, uint64_t hi, int jobs,
                                          const std::function<std::string(uint64_t, uint64_t)>& work,
                                          const std::string& what) {
    struct Child {
        pid_t pid;
        int fd;
    };
    std::vector<Child> children;
    const uint64_t n = hi - lo;
    const auto k_jobs = static_cast<uint64_t>(jobs);
    for (uint64_t k = 0; k < k_jobs; ++k) {
        const uint64_t a = lo + n * k / k_jobs, b = lo + n * (k + 1) / k_jobs;
        int fds[2];
        if (pipe(fds) != 0) throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
        flush_stdout();
        const pid_t pid = fork();
        if (pid < 0) throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
        if (pid == 0) {
            close(fds[0]);
            int code = 0;
            try {
                std::string out;
                try {
                    out = work(a, b);
                } catch (const InputError& e) {
                    const SourceLoc& w = e.where();
                    out = Json{{"input_error",
                                {{"file", w.file}, {"line", w.line}, {"column", w.column}, {"message", e.message()}}}}
                              .dump(-1, ' ', false, Json::error_handler_t::replace) +
                          "\n";
                    code = kChildBadInput;
                }
                if (!write_all(fds[1], out)) code = kChildFailed;
            } catch (const std::exception& e) {
                fmt::print(stderr, "irqdiff {}: worker for {}:{}: {}\n", what, a, b, e.what());
                code = kChildFailed;
            }
            close(fds[1]);
            _exit(code);
        }
        close(fds[1]);
        children.push_back(Child{pid, fds[0]});
    }
    std::vector<std::string> out;
    bool failed = false;
    std::optional<InputError> input_error;  // the first slice's
    for (const Child& c : children) {
        std::string text;
        char buf[65536];
        for (ssize_t r; (r = read(c.fd, buf, sizeof buf)) != 0;) {
            if (r < 0) {
                if (errno == EINTR) continue;
                failed = true;
                break;
            }
            text.append(buf, static_cast<size_t>(r));
        }
        close(c.fd);
        int status = 0;
        waitpid(c.pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == kChildBadInput) {
            const Json e = Json::parse(text).at("input_error");
            if (!input_error)
                input_error.emplace(SourceLoc{e.at("file").get<std::string>(), e.at("line").get<int>(),
                                              e.at("column").get<int>()},
                                    e.at("message").get<std::string>());
            continue;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = true;
        out.push_back(std::move(text));
    }
    if (input_error) throw *input_error;
    if (failed) throw std::runtime_error(fmt::format("a {} worker process failed", what));
    return out;
}

std::vector<Json> json_lines(const std::vector<std::string>& slices) {
    std::vector<Json> out;
    for (const std::string& text : slices)
        for (size_t start = 0; start < text.size();) {
            const size_t nl = text.find('\n', start);
            out.push_back(Json::parse(text.substr(start, nl - start)));
            start = nl == std::string::npos ? text.size() : nl + 1;
        }
    return out;
}

}  // namespace irqdiff::cli
