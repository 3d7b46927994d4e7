#include "x86_pi/host/cpu.h"

#include <stdexcept>
#include <string>

namespace irqdiff::x86::host {

Vectors::Vectors() {
    set_system(kPostedIntrVector, Handler::PostedIntrIpi);
    set_system(kRescheduleVector, Handler::Reschedule);
}

void Vectors::set_system(uint8_t vector, Handler handler) {
    for (Entry& e : entries_)
        if (e.cpu == kAllCpus && e.vector == vector) {
            e.action = IrqAction{handler, -1};
            return;
        }
    entries_.push_back(Entry{kAllCpus, vector, IrqAction{handler, -1}});
}

void Vectors::request_irq(unsigned cpu, uint8_t vector, IrqAction action) {
    if (this->action(cpu, vector).handler != Handler::None)
        throw std::logic_error("host::Vectors::request_irq: vector " + std::to_string(vector) + " on pCPU " +
                               std::to_string(cpu) + " already has a handler");
    entries_.push_back(Entry{cpu, vector, action});
}

IrqAction Vectors::action(unsigned cpu, uint8_t vector) const {
    for (const Entry& e : entries_)
        if (e.vector == vector && (e.cpu == kAllCpus || e.cpu == cpu)) return e.action;
    return IrqAction{};
}

}  // namespace irqdiff::x86::host
