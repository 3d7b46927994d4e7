#include "arm_gic/policies.h"

#include "arm_gic/guest/guest.h"
#include "arm_gic/hw/config.h"
#include "arm_gic/kvm/kvm.h"
#include "arm_gic/kvm/transfer.h"
#include "arm_gic/vmm/qemu.h"

namespace irqdiff::arm {

std::vector<PolicySpec> arm_policies() {
    // The order is the product's (JSON lists policies in catalogue order): new keys go last.
    return {kvm::kTransferPolicy.spec(), kGicVersionPolicy.spec(),     kCommandErrorPolicy.spec(),
            kTableFaultPolicy.spec(),    kVptWritebackPolicy.spec(),   vmm::kVectorEnablePolicy.spec(),
            kListRegistersPolicy.spec(), kVpendbaserDirtyPolicy.spec(), kvm::kSavePolicy.spec(),
            vmm::kItsSaveErrorPolicy.spec(), vmm::kGicrSavePolicy.spec(), kvm::kIrqfdDeassignPolicy.spec(),
            vmm::kItsRegsPolicy.spec(),     kvm::kVsgiIspendrPolicy.spec(),  kGuestNassgireqPolicy.spec(),
            vmm::kCprDetachPolicy.spec()};
}

}  // namespace irqdiff::arm
