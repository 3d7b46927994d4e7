// The `arm` backend: a VM with passthrough (VFIO) devices whose MSIs are forwarded as vLPIs on a
// GICv4.1 (or GICv4.0) host, driven through boot, guest runs and live migration. The source and
// destination are separate machines (Host); QEMU's save steps run on the source and its restore
// sub-steps, in the chosen order, on the destination (reference/arm §4).
#pragma once

#include "core/backend.h"

namespace irqdiff::arm {

BackendInfo arm_backend_info();

}  // namespace irqdiff::arm
