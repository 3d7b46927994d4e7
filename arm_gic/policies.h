// The arm backend's policies, in catalogue order (each declared next to the code that reads it:
// kvm/transfer.cc, hw/config.cc, vmm/qemu.cc). arm_backend_info() gives them to its BackendInfo.
#pragma once

#include <vector>

#include "core/policy.h"

namespace irqdiff::arm {

std::vector<PolicySpec> arm_policies();

}  // namespace irqdiff::arm
