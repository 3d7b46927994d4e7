#include "cli/table.h"

#include <algorithm>

namespace irqdiff::cli {

std::string Table::render(const std::string& indent) const {
    std::vector<size_t> width(headers_.size(), 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
    };
    measure(headers_);
    for (const auto& row : rows_) measure(row);
    std::string out;
    auto line = [&](const std::vector<std::string>& row) {
        std::string text = indent;
        for (size_t c = 0; c < width.size(); ++c) {
            const std::string cell = c < row.size() ? row[c] : "";
            text += cell;
            if (c + 1 < width.size()) text += std::string(width[c] - cell.size() + 2, ' ');
        }
        while (!text.empty() && text.back() == ' ') text.pop_back();
        out += text + "\n";
    };
    line(headers_);
    for (const auto& row : rows_) line(row);
    return out;
}

}  // namespace irqdiff::cli
