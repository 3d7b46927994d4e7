// The VMM side of the ARM stack (QEMU with VFIO, reference/arm §4): the core VFIO logic
// (core/vfio.h: device states, MSI-X enable, irqfds, held MSIs, the bypass) over one ARM machine.
// Its port says how a passthrough MSI enters the host (a bus write to the host ITS's
// GITS_TRANSLATER, EventID = the vector, DeviceID = the host's), how KVM injects an MSI
// (vgic_its_trigger_msi by DeviceID/EventID, from the irqfd or KVM_SIGNAL_MSI alike: ARM needs no
// GSI routes), and that the irq bypass forwards a vector as a vLPI (kvm_vgic_v4_set_forwarding /
// unset_forwarding).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "arm_gic/machine.h"
#include "core/policy.h"
#include "core/vfio.h"

namespace irqdiff::arm::vmm {

/// arm.vfio_vector_enable: how QEMU enables MSI-X vectors on restore (arm_gic/vmm/qemu.cc).
extern const Policy<VectorEnable> kVectorEnablePolicy;

/// What QEMU does when KVM_DEV_ARM_ITS_SAVE_TABLES fails in the ITS's vm_change_state_handler.
enum class ItsSaveError : uint8_t {
    Report,  // error_report_err, and the migration goes on with the tables written so far (today)
    Abort,   // abort() for any error but -EFAULT (the handler as first merged, QEMU 2.10)
};
/// arm.its_save_error (arm_gic/vmm/qemu.cc).
extern const Policy<ItsSaveError> kItsSaveErrorPolicy;

/// Whose redistributor state the VMM reads for each vCPU when it snapshots the GIC. The
/// redistributor and CPU-interface attributes are device ioctls on the vGIC fd addressed by the
/// vCPU's affinity (KVM_DEV_ARM_VGIC_GRP_REDIST_REGS / CPU_SYSREGS, MPIDR in attr[63:32],
/// arm-vgic-v3.rst), which the VMM takes from each vCPU's GICR_TYPER.
enum class GicrSave : uint8_t {
    PerVcpu,  // each vCPU's own (QEMU kvm_arm_gicv3_get; Cloud Hypervisor since #8638)
    Vcpu0,    // every vCPU with vCPU 0's (Cloud Hypervisor before #8638: gicr_typers left zero)
};
/// arm.vmm_gicr_save (arm_gic/vmm/qemu.cc).
extern const Policy<GicrSave> kGicrSavePolicy;

/// The order in which the VMM writes the vITS registers it restores before RESTORE_TABLES.
enum class ItsRegsOrder : uint8_t {
    Abi,                 // GITS_IIDR, CBASER, CREADR, CWRITER, BASER<n> (QEMU kvm_arm_its_post_load)
    CreadrBeforeCbaser,  // GITS_CREADR first: the CBASER write then resets it (arm-vgic-its.rst forbids this)
};
/// arm.vmm_its_regs (arm_gic/vmm/qemu.cc).
extern const Policy<ItsRegsOrder> kItsRegsPolicy;

/// The vITS registers a VMM saves (kvm_arm_its_pre_save) and restores before GITS_CTLR.
struct ItsRegs {
    uint64_t cbaser = 0, creadr = 0, cwriter = 0, baser0 = 0, baser1 = 0;
};
/// The uaccess writes of `regs` in the order `order` names (kvm_arm_its_post_load for Abi),
/// made through KVM_DEV_ARM_VGIC_GRP_ITS_REGS (Kvm::restore_its_registers).
std::vector<std::pair<uint64_t, uint64_t>> its_register_writes(const ItsRegs& regs, ItsRegsOrder order);

/// arm.cpr_detach: when a live update detaches the devices' interrupts (core/vfio.h CprDetach).
extern const Policy<CprDetach> kCprDetachPolicy;

class QemuPort {
   public:
    explicit QemuPort(Machine& machine) : m_(machine) {}
    /// The device writes the vector's EventID to GITS_TRANSLATER of ITS 0 (the host driver puts
    /// every device behind it, host::ItsDriver::add_device); the bus tags the write with its DeviceID.
    void send_to_host(PciDevice& d, uint32_t v) { m_.gic.msi(MsiWrite{m_.gic.translater_address(0), v, d.host_id}); }
    void inject(PciDevice& d, uint32_t v, bool irqfd) {
        if (irqfd)
            m_.kvm().irqfd_inject(d.guest_id, v);
        else
            m_.kvm().trigger_msi(d.guest_id, v);
    }
    void route(PciDevice&, uint32_t) {}  // KVM_IRQFD only: the vITS translates by DeviceID/EventID
    void update_route(PciDevice&, uint32_t) {}
    /// vfio_msi_set_vector_signal: the ITS driver maps the vector to a new LPI (MAPTI) and the
    /// host IRQ gets vfio_msihandler.
    int request_host_irq(PciDevice& d, uint32_t v) {
        int irq = m_.its.request_irq(m_.gic, d.host_id, v);
        m_.cpus.request_irq(m_.its.irq(irq).lpi, host::IrqAction{host::Handler::VfioMsi, static_cast<uint32_t>(irq)});
        return irq;
    }
    void add_producer(PciDevice& d, uint32_t v) { m_.kvm().set_forwarding(d.vectors[v].host_irq, d.guest_id, v); }
    void del_producer(PciDevice& d, uint32_t v) { m_.kvm().unset_forwarding(d.vectors[v].host_irq); }
    /// KVM_IRQFD deassign: a connected producer goes (kvm_arch_irq_bypass_del_producer).
    void deassign(PciDevice& d, uint32_t v) {
        const VfioVector& vec = d.vectors.at(v);
        m_.kvm().irqfd_deassign(vec.bypass ? vec.host_irq : -1);
    }
    void assign(PciDevice&, uint32_t) {}  // KVM_IRQFD assign; the vITS still translates by DeviceID/EventID
    /// KVM_SET_GSI_ROUTING: kvm_irq_routing_update walks the assigned irqfds only, so a deassigned
    /// one is never updated (X3's second bug).
    void set_route(PciDevice& d, uint32_t v, bool present) {
        const VfioVector& vec = d.vectors.at(v);
        m_.kvm().set_msi_route(d.guest_id, v, present, vec.irqfd && vec.bypass ? vec.host_irq : -1);
    }
    const char* bypassed(const PciDevice& d, uint32_t v) const {
        const int irq = d.vectors.at(v).host_irq;
        return irq >= 0 && m_.its.irq(irq).forwarded ? "forwarded vLPI" : nullptr;
    }

   private:
    Machine& m_;
};

}  // namespace irqdiff::arm::vmm

namespace irqdiff::arm {
inline vmm::Qemu Machine::vmm() { return vmm::Qemu(qemu.devices, vmm::QemuPort(*this), *log); }
}  // namespace irqdiff::arm
