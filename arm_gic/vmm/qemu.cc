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

const Policy<GicrSave> kGicrSavePolicy{
    "arm.vmm_gicr_save",
    "arm",
    {{"per_vcpu", GicrSave::PerVcpu}, {"vcpu0", GicrSave::Vcpu0}},
    GicrSave::PerVcpu,
    "whose redistributor (GICR_PROPBASER, GICR_PENDBASER, GICR_CTLR) and CPU-interface state the VMM saves for "
    "each vCPU: its own, or vCPU 0's for every vCPU",
    "per_vcpu = QEMU kvm_arm_gicv3_get (each vCPU's affinity from its GICR_TYPER), Cloud Hypervisor since #8638; "
    "vcpu0 = Cloud Hypervisor before #8638 \"aarch64: Correctly snapshot GIC Redistributor and ICC states\" "
    "(gicr_typers left zero: every vCPU saved with vCPU 0's state, non-zero vCPUs get vCPU 0's GICR_PENDBASER and "
    "lose their pending LPIs)"};

const Policy<ItsRegsOrder> kItsRegsPolicy{
    "arm.vmm_its_regs",
    "arm",
    {{"abi", ItsRegsOrder::Abi}, {"creadr_before_cbaser", ItsRegsOrder::CreadrBeforeCbaser}},
    ItsRegsOrder::Abi,
    "the order in which the VMM restores the vITS registers: the documented one (GITS_CBASER, then GITS_CREADR), "
    "or GITS_CREADR before GITS_CBASER, whose write resets it to 0 so that GITS_CTLR re-runs the guest's command "
    "queue",
    "abi = QEMU hw/intc/arm_gicv3_its_kvm.c kvm_arm_its_post_load (IIDR, CBASER, CREADR, CWRITER, BASER<n>) and "
    "arm-vgic-its.rst ITS Restore Sequence (\"GITS_CREADR ... must be restored after GITS_CBASER ... otherwise "
    "commands in the queue will be re-executed\"); creadr_before_cbaser = the order the rule forbids (a policy: no "
    "VMM is known to use it), effect from vgic_mmio_write_its_cbaser (CREADR = CWRITER = 0)"};

std::vector<std::pair<uint64_t, uint64_t>> its_register_writes(const ItsRegs& r, ItsRegsOrder order) {
    // GITS_IIDR (the table ABI revision) is not modelled: KVM has one, rev 0 (arm_gic/kvm/its_abi.h).
    std::vector<std::pair<uint64_t, uint64_t>> w;
    if (order == ItsRegsOrder::CreadrBeforeCbaser) w.push_back({GITS_CREADR, r.creadr});
    w.push_back({GITS_CBASER, r.cbaser});
    if (order == ItsRegsOrder::Abi) w.push_back({GITS_CREADR, r.creadr});
    w.push_back({GITS_CWRITER, r.cwriter});
    w.push_back({gits_baser(0), r.baser0});
    w.push_back({gits_baser(1), r.baser1});
    return w;
}

const Policy<CprDetach> kCprDetachPolicy{
    "arm.cpr_detach",
    "arm",
    {{"before_save", CprDetach::BeforeSave}, {"at_destroy", CprDetach::AtDestroy}},
    CprDetach::BeforeSave,
    "live update (migrate kind cpr): when QEMU detaches the preserved VFIO devices' irqfds from the old VM: "
    "before SAVE_PENDING_TABLES, or only when the old VM is destroyed after it",
    "before_save = Steve Sistare 2025-07-14 <6f7b0581-e44b-4f07-bc7c-9d0a7c12140d@oracle.com> (QEMU live update: "
    "kvm_irqfd_deassign, then SAVE_PENDING_TABLES); at_destroy = the sequence of the rejected A2 patch "
    "<1751467297-201441-1-git-send-email-steven.sistare@oracle.com> (KVM destroyed and recreated, interrupts "
    "never quiesced; kvm_irqfd_release at VM teardown)"};

}  // namespace irqdiff::arm::vmm
