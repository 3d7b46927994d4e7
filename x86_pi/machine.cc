#include "x86_pi/machine.h"

#include <optional>
#include <stdexcept>

#include "x86_pi/trace_points.h"
#include "x86_pi/vmm/qemu.h"

namespace irqdiff::x86 {

void Machine::service() {
    for (unsigned guard = 0;; ++guard) {
        if (guard > 100000) throw std::logic_error("x86 machine: host interrupts never settle");
        int c = hw.next_host_work();
        if (c < 0) return;
        const unsigned cpu = static_cast<unsigned>(c);
        Cpu& pcpu = hw.cpu(cpu);
        if (vm_exit(cpu)) continue;
        if (std::optional<uint8_t> v = pcpu.acknowledge()) {
            dispatch(cpu, *v);
            pcpu.eoi();
        }
    }
}

bool Machine::vm_exit(unsigned cpu) {
    Cpu& pcpu = hw.cpu(cpu);
    std::optional<VmExit> exit = pcpu.take_exit();
    if (!exit) return false;
    kvm::Kvm k = kvm();
    k.handle_exit(cpu, *exit);
    if (exit->reason == ExitReason::ExternalInterrupt) {  // handle_external_interrupt_irqoff
        std::optional<uint8_t> v = exit->acknowledged ? exit->vector : pcpu.acknowledge();
        if (v) {
            dispatch(cpu, *v);
            pcpu.eoi();
        }
    }
    k.resume(cpu);
    return true;
}

void Machine::dispatch(unsigned cpu, uint8_t vector) {
    const host::IrqAction a = vectors.action(cpu, vector);
    switch (a.handler) {
        case host::Handler::PostedIntrIpi:
            // sysvec_kvm_posted_intr_ipi: EOI only; PIR and ON wait for the next entry's sync.
            log->emit(tp::kHostPostedIntrIpi, cpu);
            break;
        case host::Handler::PostedIntrWakeup: kvm().pi_wakeup_handler(cpu); break;
        case host::Handler::Reschedule: log->emit(tp::kHostRescheduleIpi, cpu); break;
        case host::Handler::VfioMsi: vmm().host_irq(a.irq); break;
        case host::Handler::None:
            log->emit(tp::kHostSpuriousVectorError, "a host vector no handler is registered for", cpu, Hex{vector});
            break;
    }
}

}  // namespace irqdiff::x86

bool irqdiff::x86::host::ExitPath::operator()(unsigned cpu) const { return m_->vm_exit(cpu); }
