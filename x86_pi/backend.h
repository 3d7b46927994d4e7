// The `x86` backend: a VM with passthrough (VFIO) devices whose MSIs are posted by VT-d into the
// vCPUs' posted-interrupt descriptors and delivered by APICv, driven through boot, guest runs and
// live migration. The source and destination are separate machines (Host); QEMU's save steps run
// on the source and its restore sub-steps, in the chosen order, on the destination
// (reference/x86_posted_interrupts_kvm_migration.md §5).
#pragma once

#include "core/backend.h"

namespace irqdiff::x86 {

BackendInfo x86_backend_info();

}  // namespace irqdiff::x86
