// The host CPUs' interrupt entry on x86: the vectors the host kernel has a handler for on each pCPU,
// and the host's side of a VM exit. Handlers are data (a copied machine keeps them):
//   - system vectors, the same on every pCPU (arch/x86/include/asm/irq_vectors.h, idt.c's
//     apic_idts): POSTED_INTR_VECTOR (sysvec_kvm_posted_intr_ipi) and RESCHEDULE_VECTOR
//     (sysvec_reschedule_ipi) are the kernel's; POSTED_INTR_WAKEUP_VECTOR's handler is KVM's
//     (kvm_set_posted_intr_wakeup_handler(pi_wakeup_handler), registered by Kvm::init);
//   - device vectors, per pCPU (vector_irq): the vector the allocator gave a VFIO host IRQ, whose
//     handler VFIO requested (vfio_msi_set_vector_signal -> request_irq(vfio_msihandler)).
// Which code a handler runs, and the exit path itself, are the machine's (x86_pi/machine.cc); the
// backend only steps the host CPUs (Machine::service), and the guests only leave the guest
// (ExitPath) — they never handle an exit.
#pragma once

#include <cstdint>
#include <vector>

namespace irqdiff::x86 {
struct Machine;
}

namespace irqdiff::x86::host {

/// Host system vectors [reference §1.3, arch/x86/include/asm/irq_vectors.h]. RESCHEDULE_VECTOR
/// (the IPI kvm_vcpu_kick sends) is from the same header, not in reference/.
inline constexpr uint8_t kPostedIntrVector = 0xF2;
inline constexpr uint8_t kPostedIntrWakeupVector = 0xF1;
inline constexpr uint8_t kRescheduleVector = 0xFD;

/// The handler a vector has.
enum class Handler : uint8_t {
    None,              // no handler: a spurious vector (HOST.spurious_vector)
    PostedIntrIpi,     // sysvec_kvm_posted_intr_ipi: EOI only
    PostedIntrWakeup,  // pi_wakeup_handler (KVM)
    Reschedule,        // sysvec_reschedule_ipi
    VfioMsi,           // vfio_msihandler; the argument is the host IRQ
};

struct IrqAction {
    Handler handler = Handler::None;
    int32_t irq = -1;  // VfioMsi: the host IRQ (an index into IrqRemapping's IRQs)
    bool operator==(const IrqAction&) const = default;
};

/// Every pCPU's vectors and their handlers.
class Vectors {
   public:
    /// At boot: the kernel's own system vectors on every pCPU.
    Vectors();
    /// A system vector's handler on every pCPU (alloc_intr_gate; KVM's wakeup handler).
    void set_system(uint8_t vector, Handler handler);
    /// request_irq for a device IRQ the vector allocator put at `vector` on pCPU `cpu`. A vector
    /// that already has a handler there is a model error (the allocator gives each one once).
    void request_irq(unsigned cpu, uint8_t vector, IrqAction action);
    /// The handler `vector` has on pCPU `cpu` (Handler::None if it has none).
    IrqAction action(unsigned cpu, uint8_t vector) const;

   private:
    struct Entry {
        uint32_t cpu;  // kAllCpus: a system vector
        uint8_t vector;
        IrqAction action;
    };
    static constexpr uint32_t kAllCpus = UINT32_MAX;
    std::vector<Entry> entries_;  // few: three system vectors and one per VFIO host IRQ
};

/// What a pCPU does when it leaves the guest (a VM exit): the host's exit path runs on it (KVM's
/// exit handler; for an external interrupt, the host's handler for the acknowledged vector) and,
/// if the vCPU still runs, re-enters the guest. The guests call it when their access left the
/// guest, as the CPU transfers control to the host: Machine::vm_exit.
class ExitPath {
   public:
    explicit ExitPath(Machine& machine) : m_(&machine) {}
    /// False if the pCPU had no exit for the host.
    bool operator()(unsigned cpu) const;

   private:
    Machine* m_;
};

}  // namespace irqdiff::x86::host
