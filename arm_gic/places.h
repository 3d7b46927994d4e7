// The places of the ARM stack that can hold a vLPI's pending state (docs/arm_gic_model.md), each
// declared once; the hardware model, KVM and the backend answer where() with Locations naming
// them.
#pragma once

#include "core/location.h"

namespace irqdiff::arm::places {

// QEMU / VFIO: a stopped device (or the migration stream's device state) holds the MSI.
inline constexpr Place kDevice{"arm.device", IndexKind::Device, "held by the device or its saved state"};
// Live update: signalled on a detached vector's VFIO eventfd; kvm_irqfd_assign injects it on the new VM.
inline constexpr Place kEventfd{"arm.eventfd", IndexKind::Device,
                               "signalled on the VFIO eventfd of a vector detached for a live update"};
// GIC hardware.
inline constexpr Place kVpt{"arm.vpt", IndexKind::Vpe, "the vPE's virtual pending table in host memory"};
inline constexpr Place kRdCache{"arm.rd_cache", IndexKind::Vpe,
                                "the redistributor's cached pending bits of its resident vPE"};
inline constexpr Place kVsgiPending{"arm.vsgi_pending", IndexKind::Vpe,
                                    "the vPE's vSGI pending state (GICv4.1; GICR_VSGIPENDR reads it)"};
inline constexpr Place kListRegister{"arm.list_register", IndexKind::Cpu, "a pending list register of a CPU"};
// KVM's vgic: the software pending latch of a struct vgic_irq.
inline constexpr Place kPendingLatch{"arm.pending_latch", IndexKind::Vcpu, "KVM's vgic_irq pending_latch"};
// Guest RAM: the guest's own LPI pending table (written back by a save).
// QEMU: a vCPU's GICR_ISPENDR0 (its SGIs and PPIs) in the migration stream.
inline constexpr Place kSavedIspendr0{"arm.saved_ispendr0", IndexKind::Vcpu,
                                      "GICR_ISPENDR0 in the migration stream (kvm_arm_gicv3_get)"};
inline constexpr Place kGuestPendingTable{"arm.guest_pending_table", IndexKind::Vcpu,
                                          "the guest's LPI pending table in guest RAM"};

}  // namespace irqdiff::arm::places
