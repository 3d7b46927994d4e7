#include "x86_pi/policies.h"

#include "x86_pi/guest/guest.h"
#include "x86_pi/kvm/kvm.h"
#include "x86_pi/vmm/qemu.h"

namespace irqdiff::x86 {

std::vector<PolicySpec> x86_policies() {
    // The order is the product's (JSON lists policies in catalogue order): new keys go last.
    return {kvm::kSetLapicClearPolicy.spec(), kvm::kPostingPolicy.spec(), kvm::kIpivPolicy.spec(),
            kGuestApicDestPolicy.spec(), kvm::kSnOnPutPolicy.spec(), kvm::kIrqfdDeassignPolicy.spec(),
            vmm::kVectorEnablePolicy.spec(), vmm::kCprDetachPolicy.spec(), kvm::kNmiPendingAbiPolicy.spec()};
}

}  // namespace irqdiff::x86
