// The report convention of bare-metal test guests (reference/arm_virt_machine.md §8): `PASS:`,
// `FAIL:`, `SKIP:` lines, a `SUMMARY:` line and `EXIT: STATUS=n` (n = (code << 1) | 1), parsed
// from the UART text into a table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace irqdiff::arm::machine {

struct TestReport {
    struct Line {
        std::string status;  // "PASS", "FAIL", "SKIP"
        std::string text;    // the rest of the line, trimmed
    };
    std::vector<Line> results;
    std::optional<std::string> summary;   // the text after "SUMMARY:"
    std::optional<int> exit_code;         // from EXIT: STATUS=n: n >> 1 when n is odd
    size_t count(std::string_view status) const;
    /// Every result passed or skipped, there was at least one, and the exit code (if any) is 0.
    bool passed() const;
};

TestReport parse_test_report(std::string_view uart);

}  // namespace irqdiff::arm::machine
