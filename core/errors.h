// User-input errors (STYLE.md "three kinds of error"): a scenario file, a CLI argument or a Python
// argument that is not what irqdiff expects. They carry the place (FILE:LINE:COL) and what was
// expected; the CLI prints what() as one line and exits 2, pybind11 turns them into ValueError.
// Guest-visible outcomes are never exceptions (they are GuestError events), and broken internal
// invariants are std::logic_error.
#pragma once

#include <stdexcept>
#include <string>

namespace irqdiff {

/// A place in a user-supplied text: file name, 1-based line and column (0 = unknown).
struct SourceLoc {
    std::string file;
    int line = 0;
    int column = 0;

    /// "FILE:LINE:COL", or as much of it as is known.
    std::string to_string() const {
        if (line <= 0) return file;
        return file + ":" + std::to_string(line) + ":" + std::to_string(column);
    }
};

/// `text` with control characters escaped (\n, \t, \xNN), so a message quoting user input stays
/// on one line.
inline std::string one_line(const std::string& text) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : text) {
        if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else if (c == '\r')
            out += "\\r";
        else if (c < 0x20 || c == 0x7f)
            out += std::string("\\x") + kHex[c >> 4] + kHex[c & 15];
        else
            out += static_cast<char>(c);
    }
    return out;
}

/// Bad input from a user. what() is "PLACE: message" on one line, ready to print.
class InputError : public std::runtime_error {
   public:
    InputError(const SourceLoc& where, const std::string& message)
        : std::runtime_error(one_line(where.file.empty() ? message : where.to_string() + ": " + message)),
          where_(where),
          message_(message) {}
    /// An error with no file position (a command-line or Python argument); `place` names it,
    /// e.g. "--policy" or "run(arch=...)".
    InputError(const std::string& place, const std::string& message) : InputError(SourceLoc{place, 0, 0}, message) {}

    const SourceLoc& where() const { return where_; }
    const std::string& message() const { return message_; }

   private:
    SourceLoc where_;
    std::string message_;
};

}  // namespace irqdiff
