// Core's declared events (core/trace_point.h): the scenario's steps, the migration driver's QEMU
// steps, the VFIO logic and devices, the Unicorn guest's handler entries, the guest steps every
// backend shares, and the ideal reference backend's own. The stacks' declarations
// (arm_gic/trace_points.h, x86_pi/trace_points.h) sit beside these in one namespace view each;
// the registry's catalogue lists core's first.
#pragma once

#include "core/trace_point.h"

namespace irqdiff::tp {

// One declaration per entry: op, layer and keys first, then the doc and its source.
// clang-format off

// ---- the runner (core/runner.cc) ---------------------------------------------------------------
inline constexpr Op<Str> kStep{"STEP", Layer::Scenario, {"do"},
    "a schedule action begins (what it does: run all, fire nic.0, save:stop_vcpus, ...)"};
inline constexpr Op<> kStepUnrecorded{"STEP", Layer::Scenario, {},
    "a schedule action begins (a log that does not record ops: no description)"};

// ---- the migration driver (core/migration_driver.h): QEMU's steps every backend shares ----------
inline constexpr Op<> kQemuStopVcpus{"QEMU.stop_vcpus", Layer::Vmm, {},
    "save: every vCPU is paused", "pause_all_vcpus"};
inline constexpr Op<> kQemuStopDevices{"QEMU.stop_devices", Layer::Vmm, {},
    "save: VFIO devices to STOP", "vfio_vmstate_change"};
inline constexpr Op<> kQemuCopyMemory{"QEMU.copy_memory", Layer::Vmm, {},
    "save: the final RAM pass, ending with the switch-over"};
inline constexpr Op<Int> kQemuSwitchOver{"QEMU.switch_over", Layer::Vmm, {"guest_pages"},
    "the destination machine comes up with a copy of guest RAM"};
inline constexpr Op<> kVmGone{"VM.gone", Layer::Vmm, {},
    "the VMM process has exited (abort()): the action finds no VM to act on"};
inline constexpr Op<> kQemuVfioLoadConfig{"QEMU.vfio_load_config", Layer::Vmm, {},
    "restore: VFIO PCI config and MSI-X table", "vfio_pci_load_config"};
inline constexpr Op<> kQemuMsixEnable{"QEMU.msix_enable", Layer::Vmm, {},
    "restore: MSI-X enabled on every device (routes, irqfds, host IRQs)", "vfio_msix_enable"};
inline constexpr Op<> kQemuIrqBypassConnect{"QEMU.irq_bypass_connect", Layer::Vmm, {},
    "restore: the irq bypass producers meet their consumers", "irq_bypass_register_producer"};
inline constexpr Op<> kQemuStartVcpus{"QEMU.start_vcpus", Layer::Vmm, {},
    "restore: the vCPUs run again", "resume_all_vcpus"};
inline constexpr Op<> kQemuStartDevices{"QEMU.start_devices", Layer::Vmm, {},
    "restore: VFIO devices to RUNNING", "vfio_vmstate_change"};
inline constexpr Op<> kQemuNextMigration{"QEMU.next_migration", Layer::Vmm, {},
    "a later migration starts from the machine the VM runs on"};
inline constexpr Op<Str> kQemuMigrationCancelled{"QEMU.migration_cancelled", Layer::Vmm, {"after"},
    "the migration is cancelled after a save step: the VM resumes on the source (devices RUNNING, then the "
    "vCPUs) with what the save steps left behind", "migration_iteration_finish -> vm_start"};
inline constexpr Op<Str> kQemuStopLateDevice{"QEMU.stop_late_device", Layer::Vmm, {"device"},
    "stop-and-copy: an emulated device QEMU stops only now, after the irqchip save, stops generating "
    "interrupts and its state is read (reference U2: virtio-blk dataplane stop after the GICv3 handler)",
    "virtio_vmstate_change"};

// ---- QEMU's VFIO logic and the devices (core/vfio.h, core/device.h) ------------------------------
inline constexpr Op<Str, Int, Hex, Hex> kQemuMsixWrite{
    "QEMU.msix_write", Layer::Vmm, {"device", "vector", "address", "data"},
    "the guest writes an MSI-X table entry; with MSI-X enabled the route follows", "vfio_update_kvm_msi_virq"};
inline constexpr GuestError<Str, Int> kQemuVfioSetIrqsError{"QEMU.vfio_set_irqs", Layer::Vmm, {"device", "vector"},
    "the host has no interrupt vector left (-ENOSPC)", "VFIO_DEVICE_SET_IRQS"};
inline constexpr Op<Str, Int> kQemuVfioMsixEnable{"QEMU.vfio_msix_enable", Layer::Vmm, {"device", "vectors"},
    "a KVM MSI route and an irqfd per vector (host IRQs for a passthrough device)", "vfio_msix_enable"};
inline constexpr Op<Str, Int> kQemuVfioSetIrqs{"QEMU.vfio_set_irqs", Layer::Vmm, {"device", "vectors"},
    "VFIO_DEVICE_SET_IRQS for the device's first vectors (QEMU < 6.0 enables them one by one)",
    "vfio_msix_vector_do_use"};
inline constexpr Op<Str, Int, Bool> kQemuIrqfdDeassign{
    "QEMU.irqfd_deassign", Layer::Vmm, {"device", "vector", "bypass"},
    "KVM_IRQFD deassign of one vector: the bypass disconnects", "KVM_IRQFD"};
inline constexpr Op<Str, Int, Bool> kQemuIrqfdAssign{
    "QEMU.irqfd_assign", Layer::Vmm, {"device", "vector", "assigned"},
    "KVM_IRQFD assign again after a deassign (the bypass reconnects)", "kvm_irqfd_assign"};
inline constexpr Op<Str, Int, Bool> kQemuSetGsiRouting{
    "QEMU.set_gsi_routing", Layer::Vmm, {"device", "vector", "present"},
    "the VMM installs a routing table without / with the vector's MSI route",
    "KVM_SET_GSI_ROUTING -> kvm_irq_routing_update; vfio_irq_test -e (X2)"};
// ---- same-host live update (migrate: {kind: cpr}; reference/kernel_history U3, A2) --------------------
inline constexpr Op<> kQemuCprPreserveDevices{"QEMU.cpr_preserve_devices", Layer::Vmm, {},
    "live update: the VFIO devices are preserved, not stopped (their interrupts are never quiesced); emulated "
    "devices stop as in a live migration",
    "QEMU CPR (docs/devel/migration/CPR.rst; \"vfio-pci: preserve MSI\", Steve Sistare 2025; \"Vfio PCI device "
    "reset is also suppressed\")"};
inline constexpr Op<Str> kQemuCprDetach{"QEMU.cpr_detach", Layer::Vmm, {"device"},
    "live update: the device's vectors are detached from the old VM (KVM_IRQFD deassign); what it signals "
    "now waits in its eventfds",
    "QEMU live update after Sistare <6f7b0581-e44b-4f07-bc7c-9d0a7c12140d@oracle.com> (deassign, then "
    "SAVE_PENDING_TABLES)"};
inline constexpr Op<> kQemuCprOldVmExit{"QEMU.cpr_old_vm_exit", Layer::Vmm, {},
    "live update: the old QEMU exits and KVM destroys its VM; irqfds still assigned are released "
    "(kvm_irqfd_release: the same teardown as a deassign), everything the old VM held is gone",
    "kvm_irqfd_release; <1751467297-201441-1-git-send-email-steven.sistare@oracle.com> (A2)"};
inline constexpr Op<Str, Int> kVfioCprAdopt{"VFIO.cpr_adopt", Layer::Vmm, {"device", "vectors"},
    "live update: the new QEMU takes over the running device, its MSI-X set-up and its eventfds",
    "\"vfio-pci: preserve MSI\" (post_load finds the eventfds in CPR state)"};
inline constexpr Op<Str, Int, Int> kVfioEventfdSignal{"VFIO.eventfd_signal", Layer::Vmm, {"device", "vector", "count"},
    "a detached vector's host IRQ fired: vfio_msihandler signals the eventfd and no irqfd reads it",
    "vfio_msihandler; eventfd_signal"};
inline constexpr Op<Str, Int> kQemuCprAttach{"QEMU.cpr_attach", Layer::Vmm, {"device", "vectors"},
    "live update: the new QEMU attaches the preserved eventfds to the new VM (KVM MSI routes, KVM_IRQFD "
    "assign); no VFIO_DEVICE_SET_IRQS",
    "\"vfio-pci: preserve MSI\" (rebuilds vector data structures, attaches the interrupts to the new KVM)"};
inline constexpr Op<Str, Int, Int> kVfioEventfdPending{"VFIO.eventfd_pending", Layer::Vmm, {"device", "vector", "count"},
    "kvm_irqfd_assign polls an eventfd that was signalled while detached: the irqfd injects once (the read "
    "takes the whole count)",
    "virt/kvm/eventfd.c kvm_irqfd_assign (vfs_poll, EPOLLIN -> schedule the inject); irqfd_wakeup"};
inline constexpr Op<Str, Int, Bool> kVfioMsihandler{"VFIO.msihandler", Layer::Vmm, {"device", "vector", "irqfd"},
    "a VFIO host IRQ fired: its eventfd is signalled", "vfio_msihandler"};
inline constexpr GuestError<Int> kHostSpuriousIrqError{"HOST.spurious_irq", Layer::Hypervisor, {"irq"},
    "a host IRQ that no driver requested"};
inline constexpr Op<Str, Str> kVfioSetState{"VFIO.set_state", Layer::Vmm, {"device", "state"},
    "a VFIO device to RUNNING, STOP or RESUMING (RUNNING sends held MSIs)", "vfio_vmstate_change"};
inline constexpr Op<Str, Int, Bool> kDeviceMsi{"DEVICE.msi", Layer::Vmm, {"device", "vector", "passthrough"},
    "a device sends an MSI"};
inline constexpr Op<Str, Int, Str, Bool> kDeviceHold{"DEVICE.hold", Layer::Vmm, {"device", "vector", "state", "msix"},
    "a device that cannot send now holds the MSI (stopped, or MSI-X not enabled)"};
inline constexpr Impossible<Str, Int, Str> kDeviceImpossibleMsi{"DEVICE.impossible_msi", Layer::Vmm,
    {"device", "vector", "state"},
    "the schedule fires a device that can raise nothing (its migration data was read, or it is RESUMING)",
    "include/uapi/linux/vfio.h migration FSM; QEMU vfio_save_complete_precopy"};
/// X3 (kernel_history_2021_2026.md; "KVM: Don't clobber irqfd routing type when deassigning irqfd",
/// Sean Christopherson, 13 Jan 2026): KVM_IRQFD deassign left the bypass in place, so "the device
/// keeps posting IRQs to the vCPU even after it's been deassigned". Emitted where the VMM's device
/// sends an MSI of a deassigned vector that the host still posts (x86 IRTE) or forwards (ARM vLPI).
inline constexpr Stale<Str, Int, Str> kDeviceMsiAfterDeassign{
    "DEVICE.msi_after_deassign", Layer::Vmm, {"device", "vector", "path"},
    "an MSI of a deassigned irqfd still posted / forwarded to the guest",
    "virt/kvm/eventfd.c kvm_irqfd_deassign before <20260113174606.104978-2-seanjc@google.com> (X3)"};

// ---- interrupts between vCPUs (issue 15 §2.1; both stacks' guests log them alike) -----------------------
inline constexpr Op<Int, Int, Int> kGuestSendIpi{"GUEST.send_ipi", Layer::Guest, {"from", "to", "vector"},
    "the sending vCPU writes ICC_SGI1R_EL1 (ARM: vector = the SGI) or ICR (x86: the vector)"};
inline constexpr Impossible<Int, Str> kGuestImpossibleIpi{"GUEST.impossible_ipi", Layer::Guest, {"from", "state"},
    "the schedule fires an IPI whose sender runs no guest code now (stopped by the VMM for the migration, "
    "blocked in WFI/HLT, or not started on the destination): it cannot execute the write"};

// ---- the Unicorn guest's handlers (core/guest_program.cc) ---------------------------------------------
inline constexpr Op<Int, Hex, Str> kGuestIrqEntry{"GUEST.irq_entry", Layer::Guest, {"vcpu", "pc", "insn"},
    "a Unicorn guest enters its interrupt handler (the instruction it interrupted)"};
inline constexpr Op<Int, Hex> kGuestIrqEntryUnrecorded{"GUEST.irq_entry", Layer::Guest, {"vcpu", "pc"},
    "a Unicorn guest enters its interrupt handler (a log that does not record ops: no disassembly)"};
inline constexpr Op<Int, Int> kGuestIrqReturn{"GUEST.irq_return", Layer::Guest, {"vcpu", "taken"},
    "a Unicorn guest returns from its interrupt handler"};
inline constexpr Op<Int, Int, Str> kGuestIrqReturnTraced{"GUEST.irq_return", Layer::Guest, {"vcpu", "taken", "handler"},
    "a Unicorn guest returns from its interrupt handler (--trace-guest: with the handler's instructions)"};

// ---- guest steps the ARM and ideal backends log alike --------------------------------------------------
inline constexpr Op<Int> kGuestMask{"GUEST.mask", Layer::Guest, {"vcpu"},
    "the guest masks interrupts on a vCPU"};
inline constexpr Op<Int> kGuestUnmask{"GUEST.unmask", Layer::Guest, {"vcpu"},
    "the guest unmasks interrupts on a vCPU"};
inline constexpr Op<Int> kGuestStillWaiting{"GUEST.still_waiting", Layer::Guest, {"vcpu"},
    "a blocked vCPU has nothing to wake it: it keeps waiting"};
inline constexpr Op<Int, Bool> kGuestRun{"GUEST.run", Layer::Guest, {"vcpu", "masked"},
    "the guest runs on a vCPU"};
inline constexpr GuestError<Int, Int> kGuestRunBudget{"GUEST.run_budget", Layer::Guest, {"vcpu", "steps"},
    "a run stopped after its step budget (RunBudget::kSteps interrupts taken and exits handled) with "
    "interrupts still deliverable: they stay pending for the next run"};
inline constexpr Op<Int> kHostPreempt{"HOST.preempt", Layer::Hypervisor, {"vcpu"},
    "the host preempts a vCPU's thread"};

// ---- the ideal reference backend (core/ideal_backend.cc) ------------------------------------------------
inline constexpr Op<Int> kGuestWaitForInterrupt{"GUEST.wait_for_interrupt", Layer::Guest, {"vcpu"},
    "the guest blocks until an interrupt"};
inline constexpr Op<Int> kIdealRetarget{"IDEAL.retarget", Layer::Hardware, {"vcpu"},
    "a source retargeted to another vCPU"};
inline constexpr Ignored<> kIdealUnassignIgnored{"IDEAL.unassign", Layer::Hardware, {},
    "unassign: the ideal controller forwards nothing"};
inline constexpr Ignored<Int> kGuestToggleLpisIgnored{"GUEST.toggle_lpis", Layer::Guest, {"vcpu"},
    "an ARM step the ideal controller has no counterpart for"};
inline constexpr Op<Str> kIdealDeviceHold{"DEVICE.hold", Layer::Vmm, {"device"},
    "a stopped device holds the interrupt until start_devices"};
inline constexpr Op<Int> kIdealCoalesce{"IDEAL.coalesce", Layer::Hardware, {"vcpu"},
    "a fire of a source already pending coalesces"};
inline constexpr Op<Int> kIdealPend{"IDEAL.pend", Layer::Hardware, {"vcpu"},
    "a source becomes pending for its vCPU"};
inline constexpr Op<Int> kIdealWake{"IDEAL.wake", Layer::Hardware, {"vcpu"},
    "a blocked vCPU wakes for a pending source"};
inline constexpr Op<Int> kHostResume{"HOST.resume", Layer::Hypervisor, {"vcpu"},
    "a preempted vCPU runs again"};
inline constexpr Op<Int> kIdealGuestTake{"GUEST.take", Layer::Guest, {"vcpu"},
    "the guest takes a pending source's interrupt"};
inline constexpr Op<Int> kVmmStopVcpus{"VMM.stop_vcpus", Layer::Vmm, {"vcpus"},
    "save: the vCPUs pause"};
inline constexpr Op<Int> kVmmStartVcpus{"VMM.start_vcpus", Layer::Vmm, {"vcpus"},
    "restore: the vCPUs run again"};
inline constexpr Op<Int> kVmmStopDevices{"VMM.stop_devices", Layer::Vmm, {"devices"},
    "save: the devices stop raising interrupts"};
inline constexpr Op<Int> kVmmStartDevices{"VMM.start_devices", Layer::Vmm, {"devices"},
    "restore: the devices raise interrupts again"};
inline constexpr Op<Str> kDeviceRaiseHeld{"DEVICE.raise_held", Layer::Vmm, {"device"},
    "a started device raises the interrupt it held"};
inline constexpr Op<Int> kIdealSavePending{"IDEAL.save_pending", Layer::Hardware, {"count"},
    "save_irqchip: the pending sources move into the migration stream"};
inline constexpr Op<Int> kIdealRestorePending{"IDEAL.restore_pending", Layer::Hardware, {"count"},
    "restore_irqchip: the pending sources move out of the stream"};
inline constexpr Op<> kVmmCopyMemory{"VMM.copy_memory", Layer::Vmm, {},
    "save: guest RAM (the ideal controller keeps nothing there)"};
inline constexpr Op<> kVmmRestoreTranslation{"VMM.restore_translation", Layer::Vmm, {},
    "restore: translation tables (the ideal controller has none)"};
inline constexpr Op<> kVmmRestoreDevices{"VMM.restore_devices", Layer::Vmm, {},
    "restore: device state (the ideal controller keeps none)"};

// clang-format on

/// Core's declarations but the ideal backend's, in order.
TracePointList core_trace_points();
/// The ideal backend's declarations (its BackendInfo lists them).
TracePointList ideal_trace_points();

}  // namespace irqdiff::tp
