// The x86 backend's policies, in catalogue order (each declared next to the code that reads it:
// kvm/lapic.cc, guest/guest.cc). registry/builtin_backends.cc gives them to the backend's
// BackendInfo.
#pragma once

#include <vector>

#include "core/policy.h"

namespace irqdiff::x86 {

std::vector<PolicySpec> x86_policies();

}  // namespace irqdiff::x86
