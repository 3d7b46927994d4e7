// The VMM side of the x86 stack (QEMU with VFIO, reference/x86_posted_interrupts_kvm_migration.md
// §5.4, "reference §5.4"): the core VFIO logic (core/vfio.h: device states, MSI-X enable, irqfds,
// held MSIs, the bypass) over one x86 machine. Its port says how a passthrough MSI enters the host
// (a remappable-format message to the IOMMU with the device's requester ID; a vector without a
// host IRQ sends nothing), that each vector has a KVM GSI route from its guest-programmed MSI-X
// entry (kvm_irqchip_add_msi_route, KVM_SET_GSI_ROUTING) with an irqfd, that KVM injects from the
// irqfd (irqfd_wakeup -> kvm_set_msi) or QEMU with KVM_SIGNAL_MSI, and that the irq bypass lets
// KVM post it (kvm_arch_irq_bypass_add_producer -> kvm_pi_update_irte).
#pragma once

#include <cstdint>

#include "core/policy.h"
#include "core/vfio.h"
#include "x86_pi/machine.h"

namespace irqdiff::x86::vmm {

/// x86.vfio_vector_enable: how QEMU enables MSI-X vectors on restore (x86_pi/vmm/qemu.cc), the
/// counterpart of arm.vfio_vector_enable (arm_gic/vmm/qemu.cc) with the same values.
extern const Policy<VectorEnable> kVectorEnablePolicy;

/// x86.cpr_detach: when a live update detaches the devices' interrupts (core/vfio.h CprDetach).
extern const Policy<CprDetach> kCprDetachPolicy;

class QemuPort {
   public:
    explicit QemuPort(Machine& machine) : m_(machine) {}
    void send_to_host(PciDevice& d, uint32_t v);
    void inject(PciDevice& d, uint32_t v, bool irqfd) {
        if (irqfd)
            m_.kvm().irqfd_signal(gsi(d, v));
        else
            m_.kvm().set_msi(message(d.msix.at(v)), "KVM_SIGNAL_MSI");
    }
    void route(PciDevice& d, uint32_t v) {
        d.vectors[v].gsi = static_cast<int>(m_.qemu.next_gsi++);
        m_.kvm().set_route(gsi(d, v), message(d.msix[v]));
        m_.kvm().irqfd_assign(gsi(d, v));
    }
    void update_route(PciDevice& d, uint32_t v) { m_.kvm().set_route(gsi(d, v), message(d.msix[v])); }
    /// vfio_msi_set_vector_signal: the interrupt-remapping driver gives the vector a host IRQ (an
    /// IRTE and a host vector on a pCPU) and the IRQ gets vfio_msihandler there. -1: no vector left.
    int request_host_irq(PciDevice& d, uint32_t) {
        int irq = m_.iommu().request_irq(static_cast<uint16_t>(d.host_id));
        if (irq >= 0) {
            const host::HostIrq& h = m_.iommu().irq(irq);
            m_.vectors.request_irq(h.cpu, h.vector, host::IrqAction{host::Handler::VfioMsi, irq});
        }
        return irq;
    }
    void add_producer(PciDevice& d, uint32_t v) { m_.kvm().irq_bypass_add_producer(gsi(d, v), d.vectors[v].host_irq); }
    /// The VFIO producer unregisters (vfio_msi_set_vector_signal -> irq_bypass_unregister_producer
    /// -> kvm_arch_irq_bypass_del_producer), as QEMU < 6.0's one-by-one vector enable does for every
    /// connected vector at each VFIO_DEVICE_SET_IRQS (x86.vfio_vector_enable=one_by_one). The irqfd
    /// keeps its MSI routing type (no deassign), so KVM tears the IRTE down to remapped mode.
    void del_producer(PciDevice& d, uint32_t v) { m_.kvm().irq_bypass_del_producer(gsi(d, v)); }
    void deassign(PciDevice& d, uint32_t v) {  // the bypass disconnects with the irqfd
        if (d.vectors.at(v).irqfd) m_.kvm().irqfd_deassign(gsi(d, v));
    }
    void assign(PciDevice& d, uint32_t v) { m_.kvm().irqfd_assign(gsi(d, v)); }
    /// KVM_SET_GSI_ROUTING without the vector's route, or with it again from its MSI-X entry.
    void set_route(PciDevice& d, uint32_t v, bool present) {
        if (present)
            m_.kvm().set_route(gsi(d, v), message(d.msix[v]));
        else
            m_.kvm().remove_route(gsi(d, v));
    }
    const char* bypassed(const PciDevice& d, uint32_t v) {
        const int irq = d.vectors.at(v).host_irq;
        return irq >= 0 && m_.iommu().irq(irq).posted ? "posted IRTE" : nullptr;
    }

   private:
    static uint32_t gsi(const PciDevice& d, uint32_t v) { return static_cast<uint32_t>(d.vectors[v].gsi); }
    static kvm::MsiMessage message(const MsixEntry& e) { return kvm::MsiMessage{e.address, e.data}; }
    Machine& m_;
};

}  // namespace irqdiff::x86::vmm

namespace irqdiff::x86 {
inline vmm::Qemu Machine::vmm() { return vmm::Qemu(qemu.devices, vmm::QemuPort(*this), *log); }
}  // namespace irqdiff::x86
