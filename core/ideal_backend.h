// The `ideal` reference backend: the oracle's semantics as a backend, with no virtualization. It
// gives `irqdiff run` an end-to-end path before the ARM and x86 backends exist, and stays as the
// baseline every other backend is compared with: on every scenario its outcomes are the oracle's.
// Migration moves the pending state whole: save_irqchip puts it in the migration stream,
// restore_irqchip takes it out; a fire while the devices are stopped waits in the device until
// start_devices (a stopped VFIO device raises no MSIs, reference/arm §4.1 on VFIO STOP).
#pragma once

#include <memory>

#include "core/backend.h"

namespace irqdiff {

BackendInfo ideal_backend_info();

/// The places the ideal backend's where() answers with.
namespace ideal_places {
inline constexpr Place kPending{"ideal.pending", IndexKind::Vcpu, "pending at the ideal controller's vCPU (live)"};
inline constexpr Place kStream{"ideal.stream", IndexKind::Vcpu,
                               "in the migration stream, between save_irqchip and restore_irqchip"};
inline constexpr Place kDevice{"ideal.device", IndexKind::Device, "held by a stopped device until start_devices"};
}  // namespace ideal_places

}  // namespace irqdiff
