// A plain-text table with left-aligned columns (Debian packages no C++ table library;
// reference/toolchain_debian.md §0).
#pragma once

#include <string>
#include <vector>

namespace irqdiff::cli {

class Table {
   public:
    explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    bool empty() const { return rows_.empty(); }
    /// Columns separated by two spaces, each line indented by `indent`, trailing spaces trimmed.
    std::string render(const std::string& indent = "") const;

   private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
};

}  // namespace irqdiff::cli
