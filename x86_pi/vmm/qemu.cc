#include "x86_pi/vmm/qemu.h"

#include "x86_pi/trace_points.h"

namespace irqdiff::x86::vmm {

// QEMU's vfio_msix_enable on restore (vfio_pci_load_config -> vfio_msix_enable), read by the x86
// backend for every connect_bypass (core/vfio.h); ARM's arm.vfio_vector_enable is the same
// mechanism over set/unset_forwarding.
const Policy<VectorEnable> kVectorEnablePolicy{
    "x86.vfio_vector_enable",
    "x86",
    {{"all_at_once", VectorEnable::AllAtOnce}, {"one_by_one", VectorEnable::OneByOne}},
    VectorEnable::AllAtOnce,
    "how QEMU enables MSI-X vectors on restore: together, or one by one with each SET_IRQS re-registering every "
    "vector (kvm_arch_irq_bypass_del_producer puts each connected vector's IRTE back to remapped mode, "
    "add_producer posts it again)",
    "QEMU < 6.0 vfio_msix_enable (reference/kernel_history U1: \"simply allocate all needed vectors first\"; "
    "eaadba6f9b14 \"vfio/pci: enable MSI-X in interrupt restoring on dynamic allocation\"); ecebe53fe993, then "
    "\"vfio: defer to commit kvm irq routing when enable msi/msix\"; the IRTE side: "
    "vmx_pi_update_irte -> irq_set_vcpu_affinity(NULL) (reference/x86 §1.2, §4.5)"};

const Policy<CprDetach> kCprDetachPolicy{
    "x86.cpr_detach",
    "x86",
    {{"before_save", CprDetach::BeforeSave}, {"at_destroy", CprDetach::AtDestroy}},
    CprDetach::BeforeSave,
    "live update (migrate kind cpr): when QEMU detaches the preserved VFIO devices' irqfds from the old VM: "
    "before KVM_GET_LAPIC, or only when the old VM is destroyed after it",
    "before_save = the QEMU live-update sequence of Steve Sistare 2025-07-14 "
    "<6f7b0581-e44b-4f07-bc7c-9d0a7c12140d@oracle.com> (kvm_irqfd_deassign before the interrupt-state save); "
    "at_destroy = KVM destroyed and recreated without quiescing the interrupts (A2's premise; kvm_irqfd_release "
    "at VM teardown)"};

void QemuPort::send_to_host(PciDevice& d, uint32_t v) {
    int irq = d.vectors.at(v).host_irq;
    if (irq < 0) {
        m_.log->emit(tp::kDeviceMsiLostError, "the vector has no host IRQ (VFIO_DEVICE_SET_IRQS failed): lost", d.name,
                     v);
        return;
    }
    const MsiRequest m = m_.iommu().physical_msi(irq);  // what the host driver programmed into the device
    m_.hw.msi(MsiWrite{m.address, m.data, m.sid});
}

}  // namespace irqdiff::x86::vmm
