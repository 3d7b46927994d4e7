// The places of the x86 stack that can hold an interrupt's pending state (docs/x86_model.md), each
// declared once; the backend's where() answers with Locations naming them.
#pragma once

#include "core/location.h"

namespace irqdiff::x86::places {

// QEMU / VFIO: a stopped device (or the migration stream's device state) holds the MSI.
inline constexpr Place kDevice{"x86.device", IndexKind::Device, "held by the device or its saved state"};
// Live update: signalled on a detached vector's VFIO eventfd; kvm_irqfd_assign injects it on the new VM.
inline constexpr Place kEventfd{"x86.eventfd", IndexKind::Device,
                               "signalled on the VFIO eventfd of a vector detached for a live update"};
// The migration stream's LAPIC state: a one-shot timer (TMICT != 0) whose deadline has passed; KVM_SET_LAPIC
// fires it from QEMU's zero TMCCT.
inline constexpr Place kSavedTimer{"x86.saved_timer", IndexKind::Vcpu, "an expired LAPIC timer in the saved state"};
// KVM's lapic_timer.pending: a tick counted while the vCPU was out of the guest, injected at its next vcpu_run.
inline constexpr Place kTimerPending{"x86.timer_pending", IndexKind::Vcpu, "a timer tick in KVM's lapic_timer.pending"};
// The posted-interrupt descriptor's PIR.
inline constexpr Place kPir{"x86.pir", IndexKind::Vcpu, "the PI descriptor's posted-interrupt requests"};
// The vAPIC page.
inline constexpr Place kVirr{"x86.virr", IndexKind::Vcpu, "the virtual APIC page's IRR"};
inline constexpr Place kVisr{"x86.visr", IndexKind::Vcpu, "the virtual APIC page's ISR, not from an injection"};
// An event KVM injected: VMCS event injection or IDT-vectoring information.
inline constexpr Place kInjected{"x86.injected", IndexKind::Vcpu, "injected into the vCPU at its next entry"};
// NMIs (route key `nmi`): KVM's vcpu->arch.nmi_queued (kvm_inject_nmi) and nmi_pending (process_nmi). An
// injected NMI is kInjected; in the stream, KVM_GET_VCPU_EVENTS' nmi.pending / nmi.injected are kSavedRegs.
inline constexpr Place kNmiQueued{"x86.nmi_queued", IndexKind::Vcpu, "an NMI in KVM's nmi_queued (KVM_REQ_NMI)"};
inline constexpr Place kNmiPending{"x86.nmi_pending", IndexKind::Vcpu, "an NMI in KVM's nmi_pending, to be injected"};
// The migration stream: KVM_GET_VCPU_EVENTS' injected event (and NMI state), and KVM_GET_LAPIC's IRR.
inline constexpr Place kSavedRegs{"x86.saved_regs", IndexKind::Vcpu, "the injected event in the saved vCPU state"};
inline constexpr Place kSavedLapic{"x86.saved_lapic", IndexKind::Vcpu, "the IRR of the saved LAPIC state"};

}  // namespace irqdiff::x86::places
