// The x86 stack's declared events (core/trace_point.h): the platform (VT-d interrupt remapping
// and posting, the VMX CPU, the bus), KVM's local APIC, posted interrupts and exits, the host's
// IOMMU driver and vectors, QEMU's x86 steps and the guest. Each code path emits through these,
// and tests name them, so a rename is a compile error. Core's own declarations (the scenario, the
// migration driver, VFIO, shared guest steps) are visible here too (core/trace_points.h).
// trace_points() lists this file's declarations for the registry's catalogue, in this order.
#pragma once

#include "core/trace_points.h"

namespace irqdiff::x86::tp {

using namespace ::irqdiff::tp;  // core's declarations, as tp::kStep etc.

// One declaration per entry: op, layer and keys first, then the doc and its source.
// clang-format off

// ---- VT-d interrupt remapping (x86_pi/hw/iommu.cc) --------------------------------------------------
inline constexpr Op<Hex, Int, Bool> kIommuSetIrtp{"IOMMU.set_irtp", Layer::Hardware, {"irta", "entries", "eime"},
    "the interrupt remapping table's address, size and mode", "VT-d §10.4.29 IRTA_REG, SIRTP"};
inline constexpr Ignored<Str, Int, Hex, Hex, Hex> kIommuFaultIgnored{
    "IOMMU.fault", Layer::Hardware, {"reason", "index", "address", "data", "sid"},
    "an interrupt request blocked; the IRTE's FPD=1 suppresses the fault record", "VT-d §9.10"};
inline constexpr GuestError<Str, Int, Hex, Hex, Hex> kIommuFaultError{
    "IOMMU.fault", Layer::Hardware, {"reason", "index", "address", "data", "sid"},
    "an interrupt request blocked and a fault recorded", "VT-d §5.1"};
inline constexpr Op<Int, Hex, Int> kIommuRemap{"IOMMU.remap", Layer::Hardware, {"index", "vector", "apic_id"},
    "a remappable MSI translated by its IRTE to a vector and APIC ID", "VT-d §5.1.4"};
inline constexpr Op<Int, Hex, Hex, Bool, Bool, Bool, Bool, Bool> kIommuPost{
    "IOMMU.post", Layer::Hardware, {"index", "pda", "vector", "coalesced", "on", "sn", "urg", "notify"},
    "a posted IRTE sets the vector in the PI descriptor's PIR, notifying unless ON or SN say not", "VT-d §5.2.3"};

// ---- the bus and the VMX CPU (x86_pi/hw/platform.cc, x86_pi/hw/cpu.cc) ------------------------------
inline constexpr GuestError<Int, Hex> kBusNoDestinationError{
    "BUS.no_destination", Layer::Hardware, {"apic_id", "vector"},
    "an interrupt message for an APIC ID no CPU has"};
inline constexpr Op<Int, Hex> kBusInterrupt{"BUS.interrupt", Layer::Hardware, {"apic_id", "vector"},
    "an interrupt message delivered to a physical CPU"};
inline constexpr GuestError<Int, Str> kCpuVmEntryFailedError{"CPU.vm_entry_failed", Layer::Hardware, {"cpu", "check"},
    "VM entry fails a check on the VM-execution control fields", "SDM §26.2.1.1"};
inline constexpr Op<Int, Hex, Hex, Bool> kCpuVmEntry{"CPU.vm_entry", Layer::Hardware, {"cpu", "rvi", "svi", "if"},
    "VM entry: the guest runs with its virtual-interrupt state", "SDM §26.3.2.5"};
inline constexpr Op<Int, Str, Hex, Bool> kCpuVmExitApicRead{
    "CPU.vm_exit", Layer::Hardware, {"cpu", "reason", "offset", "read"},
    "VM exit for an APIC read the CPU does not virtualize", "SDM §29.4"};
inline constexpr Op<Int, Str, Hex, Hex> kCpuVmExit{
    "CPU.vm_exit", Layer::Hardware, {"cpu", "reason", "vector", "offset"},
    "VM exit (external interrupt, HLT, EOI-induced, APIC write, ...)", "SDM §27"};
inline constexpr Op<Int, Int, Hex, Hex> kCpuPiProcess{
    "CPU.pi_process", Layer::Hardware, {"cpu", "moved", "highest", "rvi"},
    "posted-interrupt processing: ON cleared, PIR into VIRR, RVI updated", "SDM §29.6; reference §3.1"};
inline constexpr Op<Int, Hex, Hex> kCpuEoiVirtualization{
    "CPU.eoi_virtualization", Layer::Hardware, {"cpu", "vector", "svi"},
    "a virtualized EOI: VISR[SVI] cleared, SVI = the next highest", "SDM §29.1.4; reference §3.4"};
inline constexpr Op<Int, Hex> kCpuInject{"CPU.inject", Layer::Hardware, {"cpu", "vector"},
    "an event injected at VM entry is delivered to the guest", "SDM §26.6"};
inline constexpr Op<Int, Hex> kCpuInjectNmi{"CPU.inject_nmi", Layer::Hardware, {"cpu", "tag"},
    "an NMI injected at VM entry is delivered through IDT vector 2 (RFLAGS.IF does not block it) and blocks "
    "NMIs until IRET; `tag` is the raising MSI's vector field (model provenance)",
    "SDM Vol. 3C §26.6, §25.3 virtual-NMI blocking"};
inline constexpr Op<Int, Hex, Hex> kCpuVidDeliver{"CPU.vid_deliver", Layer::Hardware, {"cpu", "vector", "rvi"},
    "virtual-interrupt delivery: the guest takes RVI", "SDM §29.2.2"};

inline constexpr Op<Int, Int, Hex, Bool, Bool, Bool> kCpuIpivPost{
    "CPU.ipiv_post", Layer::Hardware, {"cpu", "dest", "vector", "on", "sn", "notify"},
    "IPI virtualization: the ICR write posts the vector into the target's PID (found through the PID-pointer "
    "table), notifying unless ON or SN say not", "SDM §30.1.6; KVM 5.19 \"KVM: VMX: enable IPI virtualization\""};

// ---- KVM: exits, injection and vCPU state (x86_pi/kvm/vmx.cc) -----------------------------------------
inline constexpr Op<Int, Hex> kKvmReinject{"KVM.reinject", Layer::Hypervisor, {"vcpu", "vector"},
    "an event whose delivery an exit interrupted is injected again", "vmx_complete_interrupts"};
inline constexpr Op<Int, Hex> kKvmInject{"KVM.inject", Layer::Hypervisor, {"vcpu", "vector"},
    "KVM injects a vector at the next VM entry (APICv off)", "kvm_check_and_inject_events"};
inline constexpr Op<Int, Int, Hex, Str> kKvmInjectNmi{"KVM.inject_nmi", Layer::Hypervisor,
    {"vcpu", "queued", "tag", "via"},
    "an NMI-mode MSI reaches the vCPU: nmi_queued is counted up, KVM_REQ_NMI, kick", "__apic_accept_irq APIC_DM_NMI -> "
    "kvm_inject_nmi, kvm_vcpu_kick"};
inline constexpr Op<Int, Int, Int, Int> kKvmProcessNmi{"KVM.process_nmi", Layer::Hypervisor,
    {"vcpu", "pending", "limit", "coalesced"},
    "queued NMIs become pending, at most two while NMIs are unblocked and none is being injected, one otherwise; "
    "the rest coalesce (x86 holds one NMI pending behind one in service)",
    "arch/x86/kvm/x86.c process_nmi; SDM Vol. 3A §6.7.1"};
inline constexpr Op<Int, Hex> kKvmVmxInjectNmi{"KVM.vmx_inject_nmi", Layer::Hypervisor, {"vcpu", "tag"},
    "a pending NMI is injected at the next VM entry (nmi_pending--, nmi_injected)",
    "kvm_check_and_inject_events, vmx_inject_nmi"};
inline constexpr Op<Int, Hex> kKvmReinjectNmi{"KVM.reinject_nmi", Layer::Hypervisor, {"vcpu", "tag"},
    "an NMI whose injection an exit interrupted (or KVM_SET_VCPU_EVENTS nmi.injected) is injected again",
    "__vmx_complete_interrupts (nmi_injected), kvm_check_and_inject_events"};
inline constexpr Op<Int, Int, Bool, Bool> kKvmSetVcpuEventsNmi{"KVM.set_vcpu_events_nmi", Layer::Hypervisor,
    {"vcpu", "pending", "injected", "masked"},
    "KVM_SET_VCPU_EVENTS puts the NMI state: the pending NMIs queued again (KVM_REQ_NMI), the injected one "
    "re-injected, the NMI mask (logged when there is NMI state)",
    "kvm_vcpu_ioctl_x86_set_vcpu_events, KVM_VCPUEVENT_VALID_NMI_PENDING; ab2ee212a57b"};
inline constexpr Op<Int, Int> kKvmNmiWindow{"KVM.enable_nmi_window", Layer::Hypervisor, {"vcpu", "pending"},
    "an NMI waits while NMIs are blocked: NMI-window exiting", "vmx_enable_nmi_window"};
inline constexpr Op<Int, Hex> kKvmEoiInduced{"KVM.eoi_induced", Layer::Hypervisor, {"vcpu", "vector"},
    "an EOI-induced exit for a vector in the EOI-exit bitmap", "handle_apic_eoi_induced"};
inline constexpr Op<Int, Bool> kKvmHalt{"KVM.halt", Layer::Hypervisor, {"vcpu", "blocks"},
    "HLT: mp_state HALTED; the vCPU blocks unless it has an event", "kvm_emulate_halt, vcpu_block"};
inline constexpr Op<Int, Bool, Hex> kKvmSetRegs{"KVM.set_regs", Layer::Hypervisor, {"vcpu", "if", "injected"},
    "KVM_SET_REGS / KVM_SET_VCPU_EVENTS on the destination", "kvm_arch_vcpu_ioctl_set_regs"};
inline constexpr Op<Int, Str> kKvmSetMpState{"KVM.set_mp_state", Layer::Hypervisor, {"vcpu", "mp_state"},
    "KVM_SET_MP_STATE on the destination: a vCPU halted at the save is halted again (QEMU kvm_put_mp_state)",
    "kvm_arch_vcpu_ioctl_set_mpstate"};

// ---- KVM: MSIs, routes, irqfds and the bypass (x86_pi/kvm/irq.cc) ---------------------------------------
inline constexpr Op<Hex, Hex, Str, Int> kKvmSetMsi{
    "KVM.set_msi", Layer::Hypervisor, {"address", "data", "via", "targets"},
    "an MSI delivered to every local APIC it names", "kvm_set_msi -> kvm_irq_delivery_to_apic"};
inline constexpr GuestError<Hex, Hex> kKvmSetMsiError{"KVM.set_msi", Layer::Hypervisor, {"address", "data"},
    "an MSI dropped: a delivery mode not modelled, or no local APIC matches", "kvm_irq_delivery_to_apic"};
inline constexpr Op<Int, Hex, Hex> kKvmSetGsiRouting{
    "KVM.set_gsi_routing", Layer::Hypervisor, {"gsi", "address", "data"},
    "a GSI's MSI route", "KVM_SET_GSI_ROUTING"};
inline constexpr Op<Int> kKvmIrqfdAssign{"KVM.irqfd_assign", Layer::Hypervisor, {"gsi"},
    "an irqfd assigned to a GSI", "kvm_irqfd_assign"};
inline constexpr Op<Int, Bool> kKvmIrqfdDeassign{"KVM.irqfd_deassign", Layer::Hypervisor, {"gsi", "teardown"},
    "an irqfd deassigned (its bypass producer goes); teardown=false when the clobbered routing type left the IRTE "
    "posting (x86.irqfd_deassign=clobber)",
    "kvm_irqfd_deassign; X3 (Jan 2026)"};
inline constexpr Op<Int> kKvmRemoveGsiRoute{"KVM.set_gsi_routing", Layer::Hypervisor, {"gsi"},
    "a routing table without the GSI's route (its irqfd injects nothing; a posted IRTE goes back to remapped)",
    "KVM_SET_GSI_ROUTING -> kvm_irq_routing_update -> kvm_arch_update_irqfd_routing"};
inline constexpr GuestError<Int> kKvmIrqfdSignalError{"KVM.irqfd_signal", Layer::Hypervisor, {"gsi"},
    "an irqfd whose GSI has no route injects nothing", "irqfd_wakeup"};
inline constexpr Op<Int, Int> kKvmIrqBypassAddProducer{"KVM.irq_bypass_add_producer", Layer::Hypervisor, {"gsi", "irq"},
    "a host IRQ's producer meets the irqfd: the IRTE may be posted", "kvm_arch_irq_bypass_add_producer"};
inline constexpr Op<Int, Int> kKvmIrqBypassDelProducer{"KVM.irq_bypass_del_producer", Layer::Hypervisor, {"gsi", "irq"},
    "the IRTE goes back to remapped (host) mode", "kvm_arch_irq_bypass_del_producer"};
inline constexpr Op<Int, Int, Bool, Int, Hex, Str> kKvmPiUpdateIrte{
    "KVM.pi_update_irte", Layer::Hypervisor, {"gsi", "irq", "posted", "vcpu", "vector", "why"},
    "the IRTE posted to one vCPU, or remapped when the route does not resolve to exactly one",
    "kvm_pi_update_irte, vmx_pi_update_irte; reference §4.5"};

// ---- KVM: posted interrupts (x86_pi/kvm/posted_intr.cc) ---------------------------------------------------
inline constexpr Op<Int, Int, Hex> kKvmApicvPreStateRestore{
    "KVM.apicv_pre_state_restore", Layer::Hypervisor, {"vcpu", "dropped", "highest"},
    "KVM_SET_LAPIC, before the load: the PI descriptor's ON and PIR zeroed", "reference §5.3 step 1, §7"};
inline constexpr Op<Int, Int, Hex> kKvmApicvPostStateRestore{
    "KVM.apicv_post_state_restore", Layer::Hypervisor, {"vcpu", "dropped", "highest"},
    "KVM_SET_LAPIC, after the load (older kernels): ON and PIR zeroed", "reference §7 items 1-2"};
inline constexpr Op<Int, Hex, Bool, Bool, Bool> kKvmPiLoad{
    "KVM.pi_load", Layer::Hypervisor, {"vcpu", "ndst", "on", "pir", "on_from_pir"},
    "vcpu_load: NDST to this pCPU, SN cleared", "vmx_vcpu_pi_load; reference §4.3"};
inline constexpr Op<Int, Bool, Bool, Bool, Bool> kKvmPiPut{
    "KVM.pi_put", Layer::Hypervisor, {"vcpu", "preempted", "wakeup", "sn", "on"},
    "vcpu_put: SN set when preempted, the wakeup vector when blocking", "vmx_vcpu_pi_put; reference §4.3"};
inline constexpr Op<Int, Int, Hex> kKvmSyncPirToIrr{
    "KVM.sync_pir_to_irr", Layer::Hypervisor, {"vcpu", "harvested", "highest"},
    "ON set: clear it and harvest PIR into IRR", "vmx_sync_pir_to_irr; reference §4.2"};
inline constexpr Op<Int> kKvmPiWakeupHandler{"KVM.pi_wakeup_handler", Layer::Hypervisor, {"cpu"},
    "the wakeup vector: every vCPU on this pCPU's list with ON set wakes", "pi_wakeup_handler"};
inline constexpr Op<Int, Bool> kKvmWakeUpStillBlocked{"KVM.wake_up", Layer::Hypervisor, {"vcpu", "still_blocked"},
    "a woken vCPU has nothing deliverable over PPR and sleeps again", "kvm_vcpu_check_block"};
inline constexpr Op<Int> kKvmWakeUp{"KVM.wake_up", Layer::Hypervisor, {"vcpu"},
    "a blocked vCPU wakes", "kvm_vcpu_wake_up"};
inline constexpr Op<Int, Hex, Bool> kKvmDeliverPostedCoalesced{
    "KVM.deliver_posted", Layer::Hypervisor, {"vcpu", "vector", "coalesced"},
    "a software post of a vector already in PIR coalesces", "vmx_deliver_posted_interrupt"};
inline constexpr Op<Int, Hex, Bool, Bool, Bool> kKvmDeliverPosted{
    "KVM.deliver_posted", Layer::Hypervisor, {"vcpu", "vector", "coalesced", "notify", "ipi"},
    "KVM posts a vector in software: PIR, ON, and a notification IPI or a kick",
    "vmx_deliver_posted_interrupt, kvm_vcpu_trigger_posted_interrupt"};
inline constexpr Ignored<Int, Hex, Str> kKvmAcceptIrqIgnored{
    "KVM.accept_irq", Layer::Hypervisor, {"vcpu", "vector", "via"},
    "a software-disabled local APIC accepts no fixed interrupt", "__apic_accept_irq"};
inline constexpr Op<Int, Hex, Str> kKvmAcceptIrq{"KVM.accept_irq", Layer::Hypervisor, {"vcpu", "vector", "via"},
    "a local APIC accepts a fixed interrupt (posted, or set in IRR)", "__apic_accept_irq"};

// ---- KVM: the local APIC (x86_pi/kvm/lapic.cc) ----------------------------------------------------------
inline constexpr Op<Int, Bool> kKvmCreateVcpus{"KVM.create_vcpus", Layer::Hypervisor, {"vcpus", "apicv"},
    "KVM_CREATE_VCPU for every vCPU", "kvm_vm_ioctl_create_vcpu"};
inline constexpr Ignored<Int> kKvmEoiIgnored{"KVM.eoi", Layer::Hypervisor, {"vcpu"},
    "an EOI with no interrupt in service does nothing", "apic_set_eoi"};
inline constexpr Op<Int, Hex> kKvmEoi{"KVM.eoi", Layer::Hypervisor, {"vcpu", "vector"},
    "an EOI clears the highest in-service vector", "apic_set_eoi"};
inline constexpr Op<Int, Hex, Hex> kKvmLapicWrite{"KVM.lapic_write", Layer::Hypervisor, {"vcpu", "reg", "value"},
    "the guest writes a local APIC register", "kvm_lapic_reg_write"};
inline constexpr GuestError<Int, Hex> kKvmLapicWriteIpiError{"KVM.lapic_write", Layer::Hypervisor, {"vcpu", "icr"},
    "an ICR write the model does not send: a shorthand or a delivery mode other than fixed"};
inline constexpr Op<Int, Hex, Hex, Int> kKvmSendIpi{"KVM.send_ipi", Layer::Hypervisor, {"vcpu", "icr", "icr2", "targets"},
    "a trapped ICR write: kvm_apic_send_ipi delivers it in software (kvm_irq_delivery_to_apic -> __apic_accept_irq)",
    "kvm_apic_send_ipi; reference/x86 §4.1"};
inline constexpr GuestError<Int, Hex> kKvmLapicWriteTimerModeError{
    "KVM.lapic_write", Layer::Hypervisor, {"vcpu", "lvtt"},
    "the periodic timer mode is not modelled: the timer runs one-shot"};
inline constexpr Op<Int, Hex, Int, Bool, Str> kKvmTscDeadlineMsr{
    "KVM.tsc_deadline_msr", Layer::Hypervisor, {"vcpu", "deadline", "lvtt_mode", "taken", "via"},
    "a write of IA32_TSC_DEADLINE (guest WRMSR or KVM_SET_MSRS); not taken, without an error, unless LVTT is in "
    "TSC-deadline mode (Kata #13798)",
    "kvm_set_lapic_tscdeadline_msr"};
inline constexpr Op<Int, Hex, Int> kKvmSetMsrs{
    "KVM.set_msrs", Layer::Hypervisor, {"vcpu", "tsc_deadline", "nmsrs"},
    "KVM_SET_MSRS on the destination (QEMU kvm_put_msrs): returns the MSRs processed, a discarded deadline included",
    "kvm_vcpu_ioctl_set_msrs -> kvm_set_msr_common"};
inline constexpr Ignored<Int, Hex> kKvmLapicWriteIgnored{"KVM.lapic_write", Layer::Hypervisor, {"vcpu", "reg"},
    "a write to a read-only or reserved APIC register", "kvm_lapic_reg_write"};
inline constexpr Op<Int, Hex, Bool> kKvmLapicReadUnreadable{
    "KVM.lapic_read", Layer::Hypervisor, {"vcpu", "reg", "readable"},
    "the guest reads an APIC register that is not readable", "kvm_lapic_reg_read"};
inline constexpr Op<Int, Hex, Hex> kKvmLapicRead{"KVM.lapic_read", Layer::Hypervisor, {"vcpu", "reg", "value"},
    "the guest reads a local APIC register", "kvm_lapic_reg_read"};
inline constexpr Op<Int, Hex> kKvmTimerExpired{"KVM.timer_expired", Layer::Hypervisor, {"vcpu", "lvtt"},
    "the LAPIC timer expires: its hrtimer's deadline, or at once when KVM_SET_LAPIC restarts a one-shot from "
    "TMCCT 0", "apic_timer_expired"};
inline constexpr Ignored<Int> kKvmTimerPendingIgnored{"KVM.timer_pending", Layer::Hypervisor, {"vcpu"},
    "a tick already in lapic_timer.pending is not counted again", "apic_timer_expired"};
inline constexpr Op<Int, Str> kKvmTimerPending{"KVM.timer_pending", Layer::Hypervisor, {"vcpu", "run"},
    "the expiry is counted in lapic_timer.pending (not in the IRR) and the vCPU kicked; vcpu_run injects it",
    "apic_timer_expired: atomic_inc(&lapic_timer.pending), KVM_REQ_UNBLOCK, kvm_vcpu_kick"};
inline constexpr Op<Int> kKvmInjectPendingTimer{"KVM.inject_pending_timer", Layer::Hypervisor, {"vcpu"},
    "vcpu_run injects the pending timer tick", "kvm_inject_pending_timer_irqs -> kvm_inject_apic_timer_irqs"};
inline constexpr Ignored<Int> kKvmTimerExpiredMaskedIgnored{"KVM.timer_expired", Layer::Hypervisor, {"vcpu"},
    "a masked LVT timer entry sends no interrupt", "kvm_apic_local_deliver"};
inline constexpr Op<Int, Hex, Hex, Int> kKvmGetLapic{
    "KVM.get_lapic", Layer::Hypervisor, {"vcpu", "irr", "isr", "tmcct"},
    "KVM_GET_LAPIC: PIR synced into IRR, then the register page", "kvm_vcpu_ioctl_get_lapic; reference §5.2"};
inline constexpr GuestError<Int, Hex> kKvmSetLapicError{"KVM.set_lapic", Layer::Hypervisor, {"vcpu", "apic_base"},
    "KVM_SET_LAPIC of a disabled or x2APIC-mode APIC", "kvm_apic_set_state"};
inline constexpr Op<Int, Hex, Hex, Str> kKvmSetLapic{
    "KVM.set_lapic", Layer::Hypervisor, {"vcpu", "irr", "isr", "clear"},
    "KVM_SET_LAPIC: the register page loaded (PIR cleared before or after, policy x86.set_lapic_clears_pir)",
    "kvm_apic_set_state; reference §5.3"};
inline constexpr Op<Int, Int, Int, Str> kKvmTimerRestart{
    "KVM.timer_restart", Layer::Hypervisor, {"vcpu", "tmict", "tmcct", "restart"},
    "KVM_SET_LAPIC restarts the timer from TMICT and TMCCT: a one-shot with TMCCT 0 expires at once",
    "kvm_apic_set_state -> __start_apic_timer(APIC_TMCCT) -> set_target_expiration (8e6ed96cdd50)"};

// ---- the host: IRQ-remapping driver and vectors (x86_pi/host/irq_remapping.cc, x86_pi/machine.cc) ------
inline constexpr Op<Int, Int, Hex, Int, Hex> kHostRequestIrq{
    "HOST.request_irq", Layer::Hypervisor, {"irq", "irte", "vector", "cpu", "sid"},
    "a host IRQ for a device's MSI with its remapped IRTE", "intel_irq_remapping_alloc, request_irq"};
inline constexpr Op<Int, Int, Hex> kHostIrteRemapped{"HOST.irte_remapped", Layer::Hypervisor, {"irq", "irte", "vector"},
    "an IRTE back in remapped mode", "intel_ir_set_vcpu_affinity"};
inline constexpr Op<Int, Int, Hex, Hex> kHostIrtePosted{
    "HOST.irte_posted", Layer::Hypervisor, {"irq", "irte", "vv", "pda"},
    "an IRTE in posted mode for a vCPU's vector and PI descriptor", "intel_ir_set_vcpu_affinity"};
inline constexpr Op<Int> kHostPostedIntrIpi{"HOST.posted_intr_ipi", Layer::Hypervisor, {"cpu"},
    "the posted-interrupt notification vector reached the host (the vCPU was not in the guest)", "kvm_posted_intr_ipi"};
inline constexpr Op<Int> kHostRescheduleIpi{"HOST.reschedule_ipi", Layer::Hypervisor, {"cpu"},
    "a reschedule IPI (a kick) reached the host"};
inline constexpr GuestError<Int, Hex> kHostSpuriousVectorError{
    "HOST.spurious_vector", Layer::Hypervisor, {"cpu", "vector"},
    "a host vector no handler is registered for"};

// ---- QEMU's x86 steps, the timer and the guest (x86_pi/backend.cc, x86_pi/vmm/, x86_pi/guest/) -----------
inline constexpr Op<Int, Bool, Str> kQemuBoot{"QEMU.boot", Layer::Vmm, {"vcpus", "apicv", "set_lapic_clears_pir"},
    "the source machine boots the VM"};
inline constexpr Op<Int, Bool, Str> kQemuIncoming{
    "QEMU.incoming", Layer::Vmm, {"vcpus", "apicv", "set_lapic_clears_pir"},
    "the destination machine is made for the incoming VM"};
inline constexpr Op<> kQemuGetLapic{"QEMU.get_lapic", Layer::Vmm, {},
    "save: KVM_GET_LAPIC of every vCPU", "kvm_get_apic"};
inline constexpr Op<> kQemuSetLapic{"QEMU.set_lapic", Layer::Vmm, {},
    "restore: KVM_SET_LAPIC of every vCPU", "kvm_put_apic"};
inline constexpr Op<> kQemuSetMsrs{"QEMU.set_msrs", Layer::Vmm, {},
    "restore: KVM_SET_MSRS of every vCPU (MSR_IA32_TSCDEADLINE)", "kvm_arch_put_registers -> kvm_put_tscdeadline_msr"};
inline constexpr GuestError<Int, Int> kQemuSetLapicError{"QEMU.set_lapic", Layer::Vmm, {"vcpu", "rc"},
    "KVM_SET_LAPIC failed: the migration fails", "kvm_put_apic"};
inline constexpr GuestError<Str, Int> kDeviceMsiLostError{"DEVICE.msi", Layer::Vmm, {"device", "vector"},
    "a vector with no host IRQ (VFIO_DEVICE_SET_IRQS failed): the MSI is lost"};
inline constexpr Op<Int> kTimerDeadline{"TIMER.deadline", Layer::Hypervisor, {"vcpu"},
    "a LAPIC timer's deadline passes (its hrtimer fires)"};
inline constexpr Ignored<Int> kTimerDeadlineEarlyIgnored{"TIMER.deadline", Layer::Hypervisor, {"vcpu"},
    "the deadline of a one-shot KVM_SET_LAPIC already fired: no timer has it"};
inline constexpr Op<Int> kGuestCli{"GUEST.cli", Layer::Guest, {"vcpu"},
    "the guest clears RFLAGS.IF (CLI)"};
inline constexpr Op<Int> kGuestSti{"GUEST.sti", Layer::Guest, {"vcpu"},
    "the guest sets RFLAGS.IF (STI)"};
inline constexpr Op<Int, Bool> kGuestRun{"GUEST.run", Layer::Guest, {"vcpu", "if"},
    "the guest runs on a vCPU (with RFLAGS.IF)"};
inline constexpr Op<Int> kGuestHlt{"GUEST.hlt", Layer::Guest, {"vcpu"},
    "the guest halts (HLT)"};
inline constexpr Op<Int, Str> kHostPreempt{"HOST.preempt", Layer::Hypervisor, {"vcpu", "state"},
    "the host preempts a vCPU's thread (in its run state)"};
inline constexpr Op<Int> kGuestMsiDestPhysical{"GUEST.msi_dest_physical", Layer::Guest, {"vcpus"},
    "more than 8 vCPUs: the guest uses physical MSI destinations"};
inline constexpr Op<Int, Str> kGuestBoot{"GUEST.boot", Layer::Guest, {"vcpus", "msi_dest"},
    "the guest's drivers set up the local APICs and their devices' MSIs"};
inline constexpr Op<Int, Hex, Str> kGuestInterrupt{"GUEST.interrupt", Layer::Guest, {"vcpu", "vector", "path"},
    "the guest takes an interrupt of a source (handler, EOI)"};
inline constexpr Op<Int, Hex, Str> kGuestMsiDeliveryMode{"GUEST.msi_delivery_mode", Layer::Guest,
    {"vcpu", "vector", "mode"},
    "the driver rewrites the MSI's delivery mode (fixed or NMI; vfio_irq_test -n)",
    "SDM Vol. 3A \"Message Data Register Format\"; kernel_history X2"};
inline constexpr Op<Int, Hex> kGuestNmi{"GUEST.nmi", Layer::Guest, {"vcpu", "tag"},
    "the guest takes an NMI of a source (IDT vector 2 handler, IRET; no EOI)"};
inline constexpr GuestError<Int, Hex> kGuestInterruptError{"GUEST.interrupt", Layer::Guest, {"vcpu", "vector"},
    "an interrupt on a vector no driver requested"};
inline constexpr Op<Int, Int, Hex> kGuestRetarget{"GUEST.retarget", Layer::Guest, {"from_vcpu", "to_vcpu", "vector"},
    "the guest moves a source to another vCPU (a new vector there)"};
inline constexpr GuestError<Int> kGuestRetargetError{"GUEST.retarget", Layer::Guest, {"vcpu"},
    "no free vector on the new vCPU: the interrupt stays"};

// clang-format on

/// This file's declarations, in order (the registry's catalogue lists them after ARM's).
TracePointList trace_points();

}  // namespace irqdiff::x86::tp
