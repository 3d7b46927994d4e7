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
        kvm::Kvm k = kvm();
        if (std::optional<VmExit> exit = pcpu.take_exit()) {
            k.handle_exit(cpu, *exit);
            if (exit->reason == ExitReason::ExternalInterrupt) {  // handle_external_interrupt_irqoff
                std::optional<uint8_t> v = exit->acknowledged ? exit->vector : pcpu.acknowledge();
                if (v) {
                    dispatch(cpu, *v);
                    pcpu.eoi();
                }
            }
            k.resume(cpu);
        } else if (std::optional<uint8_t> v = pcpu.acknowledge()) {
            dispatch(cpu, *v);
            pcpu.eoi();
        }
    }
}

void Machine::dispatch(unsigned cpu, uint8_t vector) {
    if (vector == kvm::kPostedIntrVector) {
        // sysvec_kvm_posted_intr_ipi: EOI only; PIR and ON wait for the next entry's sync.
        log->emit(tp::kHostPostedIntrIpi, cpu);
    } else if (vector == kvm::kPostedIntrWakeupVector) {
        kvm().pi_wakeup_handler(cpu);
    } else if (vector == kvm::kRescheduleVector) {
        log->emit(tp::kHostRescheduleIpi, cpu);
    } else if (int irq = iommu().irq_of_vector(cpu, vector); irq >= 0) {
        vmm().host_irq(irq);
    } else {
        log->emit(tp::kHostSpuriousVectorError, "a host vector no handler is registered for", cpu, Hex{vector});
    }
}

}  // namespace irqdiff::x86
