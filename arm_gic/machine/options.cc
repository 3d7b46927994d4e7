#include "arm_gic/machine/options.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "core/errors.h"

namespace irqdiff::arm::machine {

uint64_t parse_mem_size(const std::string& text, const std::string& place) {
    size_t used = 0;
    uint64_t n = 0;
    try {
        if (text.empty() || text[0] == '-' || text[0] == '+') throw std::invalid_argument("sign");
        n = std::stoull(text, &used);
    } catch (const std::exception&) {
        throw InputError(place, fmt::format("'{}': expected a size such as 128, 128M, 1G or 65536K", one_line(text)));
    }
    const std::string suffix = text.substr(used);
    unsigned shift = 20;
    if (suffix == "K" || suffix == "k")
        shift = 10;
    else if (suffix == "G" || suffix == "g")
        shift = 30;
    else if (!suffix.empty() && suffix != "M" && suffix != "m")
        throw InputError(place, fmt::format("'{}': expected a size such as 128, 128M, 1G or 65536K", one_line(text)));
    if (n > (uint64_t{1} << (63 - shift)))
        throw InputError(place, fmt::format("'{}': too large (at most {} MiB)", one_line(text), kMaxMem >> 20));
    return n << shift;
}

/// --order: a named order, or STEP,STEP,... (MigrationPlan::resolve checks the names and rules).
OrderSpec parse_order(const std::string& text, const std::string& place) {
    OrderSpec spec;
    spec.loc = SourceLoc{place, 0, 0};
    if (text.find(',') == std::string::npos) {
        spec.kind = OrderSpec::Kind::Named;
        spec.name = text;
        return spec;
    }
    spec.kind = OrderSpec::Kind::Explicit;
    size_t from = 0;
    while (from <= text.size()) {
        const size_t comma = std::min(text.find(',', from), text.size());
        spec.steps.push_back(text.substr(from, comma - from));
        spec.step_locs.push_back(spec.loc);
        from = comma + 1;
    }
    return spec;
}

/// --assign DEVID[:EVENTS] (hex 0x.. or decimal; EVENTS default 32) or all.
std::vector<Assignment> parse_assignments(const std::vector<std::string>& items, const std::string& place) {
    std::vector<Assignment> out;
    for (const std::string& item : items) {
        if (item == "all") {
            out.push_back(Assignment{0, 32, true});
            continue;
        }
        const size_t colon = item.find(':');
        auto number = [&](const std::string& t, uint64_t max) {
            size_t used = 0;
            uint64_t v = 0;
            try {
                if (t.empty() || t[0] == '-' || t[0] == '+') throw std::invalid_argument("sign");
                v = std::stoull(t, &used, 0);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != t.size() || t.empty() || v > max)
                throw InputError(place, fmt::format("'{}': expected DEVID[:EVENTS] (DeviceID up to {:#x}, 1 to 2048 "
                                                         "events) or all", one_line(item), kMaxAssignDevid));
            return v;
        };
        Assignment as;
        as.devid = static_cast<uint32_t>(number(item.substr(0, colon), kMaxAssignDevid));
        if (colon != std::string::npos) as.events = static_cast<uint32_t>(number(item.substr(colon + 1), 2048));
        if (as.events == 0) throw InputError(place, fmt::format("'{}': a device has at least 1 event", item));
        out.push_back(as);
    }
    return out;
}

}  // namespace irqdiff::arm::machine
