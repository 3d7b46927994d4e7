#include "arm_gic/host/cpu.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "arm_gic/trace_points.h"

namespace irqdiff::arm::host {

namespace {
template <class Actions>
auto by_lpi(Actions& actions, uint32_t lpi) {
    return std::lower_bound(actions.begin(), actions.end(), lpi,
                            [](const std::pair<uint32_t, IrqAction>& e, uint32_t l) { return e.first < l; });
}
}  // namespace

void Cpus::request_irq(uint32_t lpi, IrqAction action) {
    auto it = by_lpi(actions_, lpi);
    if (it != actions_.end() && it->first == lpi)
        throw std::logic_error("host::Cpus::request_irq: LPI " + std::to_string(lpi) + " already has a handler");
    actions_.insert(it, {lpi, action});
}

void Cpus::free_irq(uint32_t lpi) {
    auto it = by_lpi(actions_, lpi);
    if (it != actions_.end() && it->first == lpi) actions_.erase(it);
}

std::optional<IrqAction> Cpus::action(uint32_t lpi) const {
    auto it = by_lpi(actions_, lpi);
    if (it == actions_.end() || it->first != lpi) return std::nullopt;
    return it->second;
}

std::optional<IrqAction> Cpus::take(Gic& gic, EventLog& log) {
    while (!signalled_.empty()) {
        Signal s = signalled_.front();
        signalled_.pop_front();
        uint32_t intid = gic.rd(s.rd).acknowledge_lpi();
        if (intid == kSpuriousIntid) continue;
        if (std::optional<IrqAction> a = action(intid)) return a;
        log.emit(tp::kHostSpuriousLpiError, "a host LPI no driver requested", s.rd, intid);
    }
    return std::nullopt;
}

}  // namespace irqdiff::arm::host
