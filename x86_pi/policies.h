// The x86 backend's policies, in catalogue order (each declared next to the code that reads it:
// kvm/lapic.cc, guest/guest.cc). x86_backend_info() gives them to its BackendInfo.
#pragma once

#include <vector>

#include "core/policy.h"

namespace irqdiff::x86 {

std::vector<PolicySpec> x86_policies();

}  // namespace irqdiff::x86
