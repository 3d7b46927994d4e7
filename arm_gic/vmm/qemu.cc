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

const Policy<ItsSaveError> kItsSaveErrorPolicy{
    "arm.its_save_error",
    "arm",
    {{"report", ItsSaveError::Report}, {"abort", ItsSaveError::Abort}},
    ItsSaveError::Report,
    "what QEMU does when KVM refuses the ITS save: report it and migrate the tables written so far, or abort",
    "hw/intc/arm_gicv3_its_kvm.c vm_change_state_handler: report = current QEMU (error_report_err only); abort = "
    "the handler as first merged with ITS migration in QEMU 2.10 (abort() unless -EFAULT)"};

}  // namespace irqdiff::arm::vmm
