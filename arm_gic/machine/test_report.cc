#include "arm_gic/machine/test_report.h"

namespace irqdiff::arm::machine {

namespace {
std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}
}  // namespace

size_t TestReport::count(std::string_view status) const {
    size_t n = 0;
    for (const Line& l : results) n += l.status == status;
    return n;
}

bool TestReport::passed() const {
    return !results.empty() && count("FAIL") == 0 && (!exit_code || *exit_code == 0);
}

TestReport parse_test_report(std::string_view uart) {
    TestReport r;
    while (!uart.empty()) {
        const size_t nl = uart.find('\n');
        std::string_view line = trim(uart.substr(0, nl));
        uart = nl == std::string_view::npos ? std::string_view{} : uart.substr(nl + 1);
        for (const char* status : {"PASS", "FAIL", "SKIP"}) {
            const std::string_view s(status);
            if (line.size() > s.size() && line.substr(0, s.size()) == s && line[s.size()] == ':') {
                r.results.push_back({std::string(s), std::string(trim(line.substr(s.size() + 1)))});
                break;
            }
        }
        if (line.substr(0, 8) == "SUMMARY:") r.summary = std::string(trim(line.substr(8)));
        if (line.substr(0, 13) == "EXIT: STATUS=") {
            int n = 0;
            bool digits = line.size() > 13;
            for (char c : line.substr(13)) {
                if (c < '0' || c > '9' || n > 1'000'000) {
                    digits = false;
                    break;
                }
                n = n * 10 + (c - '0');
            }
            if (digits && (n & 1)) r.exit_code = n >> 1;
        }
    }
    return r;
}

}  // namespace irqdiff::arm::machine
