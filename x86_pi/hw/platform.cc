// The MSI bus into the IOMMU and the interrupt bus between the IOMMU and the pCPUs' local APICs
// (platform.h).
#include "x86_pi/hw/platform.h"

#include "x86_pi/trace_points.h"

namespace irqdiff::x86 {

Platform::Platform(unsigned cpus, AddressSpace& host_memory, EventLog& log) : log_(&log), iommu_(host_memory, log) {
    cpus_.reserve(cpus);
    for (unsigned n = 0; n < cpus; ++n) cpus_.emplace_back(n, host_memory, log);
}

void Platform::attach(AddressSpace& host_memory, EventLog& log) {
    log_ = &log;
    iommu_.attach(host_memory, log);
    for (Cpu& c : cpus_) c.attach(host_memory, log);
}

IrResult Platform::msi(const MsiWrite& write) {
    IrResult r = iommu_.request(MsiRequest{write.address, write.data, static_cast<uint16_t>(write.requester_id)});
    if (r.message) send(*r.message);
    return r;
}

void Platform::send(const InterruptMessage& message) {
    if (message.apic_id >= cpus_.size()) {
        // No local APIC accepts it: the message is dropped on the bus.
        log_->emit(tp::kBusNoDestinationError, "an interrupt message for an APIC ID no CPU has", message.apic_id,
                   Hex{message.vector});
        return;
    }
    log_->emit(tp::kBusInterrupt, message.apic_id, Hex{message.vector});
    cpus_[message.apic_id].interrupt(message.vector);
}

int Platform::next_host_work() const {
    for (unsigned n = 0; n < cpus_.size(); ++n)
        if (cpus_[n].host_work()) return static_cast<int>(n);
    return -1;
}

}  // namespace irqdiff::x86
