// User-input errors (STYLE.md "three kinds of error"): a scenario file, a CLI argument or a Python
// argument that is not what irqdiff expects. They carry the place (FILE:LINE:COL) and what was
// expected; the CLI prints what() as one line and exits 2, pybind11 turns them into ValueError.
// Guest-visible outcomes are never exceptions (they are GuestError events), and broken internal
// invariants are std::logic_error.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

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

/// The length of the UTF-8 sequence that starts at `s[i]`, or 0 when none does (RFC 3629 §4: no
/// overlong forms, no surrogates, nothing above U+10FFFF); its code point in `*cp`.
inline size_t utf8_sequence(std::string_view s, size_t i, uint32_t* cp = nullptr) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    const size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    uint32_t v = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; k < n; ++k) {
        if ((b(i + k) & 0xc0) != 0x80) return 0;
        v = v << 6 | (b(i + k) & 0x3f);
    }
    if ((n == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) || (n == 4 && (v < 0x10000 || v > 0x10ffff))) return 0;
    if (cp) *cp = v;
    return n;
}

/// `text` with control characters escaped (\n, \t, \xNN), so a message quoting user input stays
/// on one line, and bytes that are not UTF-8 escaped as \xNN, so it is valid UTF-8 (a Python
/// ValueError, a JSON string).
inline std::string one_line(const std::string& text) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < text.size();) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        const size_t n = utf8_sequence(text, i);
        if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else if (c == '\r')
            out += "\\r";
        else if (n == 0 || c < 0x20 || c == 0x7f)
            out += std::string("\\x") + kHex[c >> 4] + kHex[c & 15];
        else
            out.append(text, i, n);
        i += n == 0 ? 1 : n;
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
