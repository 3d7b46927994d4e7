// The policy QEMU's VFIO code reads on ARM (its logic is core/vfio.h; the port arm_gic/vmm/qemu.h).
#include "arm_gic/vmm/qemu.h"

namespace irqdiff::arm::vmm {

const Policy<VectorEnable> kVectorEnablePolicy{
    "arm.vfio_vector_enable",
    "arm",
    {{"all_at_once", VectorEnable::AllAtOnce}, {"one_by_one", VectorEnable::OneByOne}},
    VectorEnable::AllAtOnce,
    "how QEMU enables MSI-X vectors on restore: together, or one by one with each SET_IRQS re-registering every "
    "vector",
    "QEMU < 6.0 vfio_msix_enable (unset/set_forwarding per step: reference/arm §4.2, §9 lost.2); ecebe53fe993, then "
    "\"vfio: defer to commit kvm irq routing when enable msi/msix\""};

}  // namespace irqdiff::arm::vmm
