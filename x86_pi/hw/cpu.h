// One physical CPU with VMX: its physical local APIC (IRR/ISR for host vectors), the current
// VMCS, and APIC virtualization in VMX non-root operation: notification-vector recognition and
// posted-interrupt processing (SDM §29.6), virtual-interrupt evaluation and delivery (§29.2), EOI
// and TPR virtualization (§29.1.2-§29.1.5), APIC-write emulation, and the VM exits the guest's
// actions cause [reference/x86_posted_interrupts_kvm_migration.md §1.4, §3 ("reference §3")].
//
// The model pins vCPU n to pCPU n, so a pCPU's current VMCS is always its vCPU's: the VMCS lives
// here and the hypervisor reads and writes it in place (VMREAD/VMWRITE), also while the vCPU is
// not running. A notification or device interrupt that arrives in root mode waits in the physical
// IRR until the host takes it (acknowledge/eoi) or, if it is the notification vector, until the
// next VM entry, where it is recognized at once and processed as a posted interrupt (reference
// §3.2: "this is why KVM may IPI a vCPU that is about to enter").
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "core/bits.h"
#include "core/event_log.h"
#include "core/memory.h"
#include "x86_pi/hw/apic_page.h"

namespace irqdiff::x86 {

/// The VMCS fields this model uses [reference §1.4; SDM ch. 24].
struct Vmcs {
    // Pin-based VM-execution controls.
    bool external_interrupt_exiting = false;  // bit 0
    bool process_posted_interrupts = false;   // bit 7
    // Processor-based controls.
    bool interrupt_window_exiting = false;      // primary bit 2
    bool apic_register_virtualization = false;  // secondary bit 8 (with "virtualize APIC accesses")
    bool virtual_interrupt_delivery = false;    // secondary bit 9
    // Tertiary processor-based controls.
    bool ipi_virtualization = false;  // bit 4 (IPIv, Linux 5.19 d588bb9be1da)
    // VM-exit controls.
    bool ack_interrupt_on_exit = false;  // bit 15
    // Control fields.
    uint16_t pinv = 0;  // posted-interrupt notification vector; bits 15:8 must be 0
    uint64_t pid_addr = 0;
    uint64_t virtual_apic_addr = 0;
    // IPI virtualization: the PID-pointer table (entry i: the PID address of the vCPU with APIC ID
    // i | valid bit 0) and its last index [reference/x86 §1.4; init_vmcs, PID_TABLE_ENTRY_VALID].
    uint64_t pid_pointer_table = 0;
    uint16_t last_pid_pointer_index = 0;
    BitArray<256> eoi_exit_bitmap{};
    // Guest interrupt status: RVI (low byte), SVI (high byte).
    uint8_t rvi = 0;
    uint8_t svi = 0;
    // VM-entry interruption information (event injection) and IDT-vectoring information (an
    // injected event a VM exit interrupted before the guest took it).
    std::optional<uint8_t> entry_interruption;
    std::optional<uint8_t> idt_vectoring;
    // NMI injection [SDM Vol. 3C §24.8.3, §27.6.1 "VM-entry interruption-information" type 2 (NMI),
    // vector 2; §24.9.3 IDT-vectoring information; not in reference/]. The model keeps the NMI apart
    // from `entry_interruption` (type 0, an external interrupt) and carries, as model provenance, the
    // vector field of the MSI that raised it: an NMI carries no vector, and the guest's handler is
    // always IDT vector 2. KVM injects at most one event per entry (kvm_check_and_inject_events).
    std::optional<uint8_t> entry_nmi;
    std::optional<uint8_t> idt_vectoring_nmi;
    // "NMI-window exiting" (primary processor-based control bit 22, §25.3): a VM exit at the first
    // instruction boundary without virtual-NMI blocking. KVM sets it while an NMI waits behind one in
    // service (vmx_enable_nmi_window).
    bool nmi_window_exiting = false;
    // Guest-state area.
    bool guest_if = false;  // RFLAGS.IF
    // Interruptibility state bit 3, "blocking by NMI" (with the "virtual NMIs" pin-based control KVM
    // sets, virtual-NMI blocking, §25.3): set when an NMI is delivered, cleared by the guest's IRET
    // (§26.4 / SDM Vol. 3A §6.7.1 "Handling Multiple NMIs").
    bool blocking_by_nmi = false;

    bool operator==(const Vmcs&) const = default;
};

/// VM-entry checks on the control fields this model uses [reference §1.4].
enum class VmEntryFailure : uint8_t {
    None,
    PostedNeedsVid,         // process posted interrupts requires virtual-interrupt delivery
    PostedNeedsAckOnExit,   // ... and acknowledge interrupt on exit
    VidNeedsExtIntExiting,  // virtual-interrupt delivery requires external-interrupt exiting
    PinvHighBits,           // PINV bits 15:8 must be 0
    PidMisaligned,          // the PID address must be 64-byte aligned
};
const char* to_string(VmEntryFailure f);

enum class ExitReason : uint8_t {
    ExternalInterrupt,  // a host interrupt other than the notification vector (vector acknowledged)
    InterruptWindow,    // the guest can take an interrupt now (IF=1)
    ApicAccess,         // an APIC register write that is not virtualized (offset, value)
    ApicWrite,          // trap-like: APIC-write emulation stored the value in the virtual-APIC page
    EoiInduced,         // trap-like: EOI virtualization of a vector in the EOI-exit bitmap
    Hlt,
    NmiWindow,  // NMI-window exiting: virtual-NMI blocking has ended (the guest's IRET)
    /// WRMSR of an MSR the MSR bitmap intercepts (SDM Vol. 3C §25.1.3; exit reason 32, ECX the
    /// index, EDX:EAX the value). KVM intercepts IA32_TSC_DEADLINE: vmx_possible_passthrough_msrs
    /// does not list it, so every guest write goes to kvm_set_msr_common.
    MsrWrite,
};
const char* to_string(ExitReason r);

struct VmExit {
    ExitReason reason = ExitReason::ExternalInterrupt;
    uint8_t vector = 0;   // ExternalInterrupt (when acknowledged), EoiInduced
    uint32_t offset = 0;  // ApicAccess, ApicWrite
    uint32_t value = 0;   // ApicAccess (a write)
    /// ExternalInterrupt: the CPU took the vector from the APIC (acknowledge interrupt on exit);
    /// otherwise it is still requested there and the host takes it with interrupts enabled.
    bool acknowledged = true;
    /// ApicAccess: the guest read the register (exit qualification access type 0, a linear read;
    /// SDM Vol. 3C "Exit Qualification for APIC-Access VM Exits"); the hypervisor emulates it
    /// (Kvm::handle_apic_read).
    bool read = false;
    /// MsrWrite: the MSR index (ECX) is in `offset`, the 64-bit value (EDX:EAX) here.
    uint64_t msr_value = 0;
};

class Cpu {
   public:
    Cpu(uint32_t apic_id, AddressSpace& host_memory, EventLog& log)
        : apic_id_(apic_id), mem_(&host_memory), log_(&log) {}
    void attach(AddressSpace& host_memory, EventLog& log) {
        mem_ = &host_memory;
        log_ = &log;
    }

    uint32_t apic_id() const { return apic_id_; }

    // ---- the physical local APIC ----------------------------------------------------------------
    /// A fixed, edge-triggered interrupt message for this CPU (a notification, a remapped device
    /// interrupt, an IPI). In non-root operation it is recognized at once.
    void interrupt(uint8_t vector);
    bool irr(uint8_t vector) const { return irr_.test(vector); }
    bool isr(uint8_t vector) const { return isr_.test(vector); }
    /// Root mode, host interrupts enabled: the highest pending vector whose priority class is
    /// above the highest in-service one moves from IRR to ISR (INTA).
    std::optional<uint8_t> acknowledge();
    /// The host writes the EOI register: the highest in-service vector is done.
    void eoi();
    /// Root mode with something for the host: an interrupt to take, or a VM exit to handle.
    bool host_work() const { return !non_root_ && (exit_.has_value() || deliverable() >= 0); }

    // ---- VMX ------------------------------------------------------------------------------------
    Vmcs& vmcs() { return vmcs_; }
    const Vmcs& vmcs() const { return vmcs_; }
    bool in_guest() const { return non_root_; }
    /// VMLAUNCH/VMRESUME with the current VMCS: the checks, then (with virtual-interrupt delivery)
    /// evaluation of pending virtual interrupts, then any external interrupt already pending is
    /// recognized (posted-interrupt processing, or an immediate VM exit).
    VmEntryFailure vm_entry();
    /// The VM exit that returned this CPU to root mode, once.
    std::optional<VmExit> take_exit();
    /// A pending virtual interrupt is recognized (RVI[7:4] > VPPR[7:4] at the last evaluation).
    bool recognized() const { return recognized_; }

    // ---- the guest's instruction stream (non-root) ----------------------------------------------
    /// At an instruction boundary: the event injected at entry, or (RFLAGS.IF=1) a recognized
    /// virtual interrupt (virtual-interrupt delivery, SDM §29.2.2). With interrupt-window exiting
    /// and IF=1 the CPU exits instead. Returns the vector the guest's IDT handler runs for.
    std::optional<uint8_t> guest_interrupt();
    /// At an instruction boundary, before guest_interrupt: an NMI injected at entry is delivered
    /// through IDT vector 2 whatever RFLAGS.IF says, and blocks further NMIs until IRET. Returns the
    /// model's provenance tag of the NMI (the raising MSI's vector field), or nullopt.
    std::optional<uint8_t> guest_nmi();
    /// IRET from the guest's NMI handler: virtual-NMI blocking ends; with NMI-window exiting the
    /// CPU exits (ExitReason::NmiWindow).
    void guest_iret();
    /// CLI / STI.
    void guest_set_if(bool enabled) { vmcs_.guest_if = enabled; }
    /// A write to the xAPIC page: EOI and TPR are virtualized (with APIC-register virtualization
    /// and virtual-interrupt delivery), other registers are stored and cause an APIC-write exit;
    /// without APIC virtualization every write is an APIC-access exit.
    void guest_apic_write(uint32_t offset, uint32_t value);
    /// A 32-bit read of the xAPIC page at `offset`. With APIC-register virtualization, a read of
    /// a register SDM Vol. 3C §29.4.2 lists returns the virtual-APIC page's value at that offset;
    /// any other read (PPR, the current count, no APIC virtualization) is an APIC-access VM exit:
    /// returns nullopt and the hypervisor supplies the value (Kvm::handle_apic_read).
    std::optional<uint32_t> guest_apic_read(uint32_t offset);
    void guest_hlt();
    /// WRMSR: the model's KVM intercepts every MSR a guest writes (only IA32_TSC_DEADLINE is
    /// modelled), so it is always a VM exit (ExitReason::MsrWrite).
    void guest_wrmsr(uint32_t msr, uint64_t value);
    /// An interrupt message this CPU sends on the bus (IPI virtualization's notification), once:
    /// {destination APIC ID, vector}. Whoever runs the CPU's instruction puts it on the bus
    /// (Platform::send).
    std::optional<std::pair<uint32_t, uint8_t>> take_sent() {
        auto m = sent_;
        sent_.reset();
        return m;
    }

    /// The pending-virtual-interrupt evaluation (SDM §29.2.1), for the hypervisor's tests.
    void evaluate();

   private:
    ApicPage vapic() { return ApicPage(*mem_, vmcs_.virtual_apic_addr); }
    int deliverable() const;
    void recognize_external();
    void posted_interrupt_processing();
    void ppr_virtualization();
    void eoi_virtualization();
    void exit(VmExit e);
    bool ipi_virtualization(uint32_t icr_lo);

    uint32_t apic_id_;
    AddressSpace* mem_;
    EventLog* log_;
    BitArray<256> irr_{};
    BitArray<256> isr_{};
    Vmcs vmcs_;
    bool non_root_ = false;
    bool recognized_ = false;
    std::optional<VmExit> exit_;
    std::optional<std::pair<uint32_t, uint8_t>> sent_;
};

}  // namespace irqdiff::x86
