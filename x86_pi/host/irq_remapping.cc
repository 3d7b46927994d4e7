// The host's interrupt-remapping driver (irq_remapping.h).
#include "x86_pi/host/irq_remapping.h"

#include <array>
#include <stdexcept>

#include "x86_pi/hw/pi_desc.h"
#include "x86_pi/trace_points.h"

namespace irqdiff::x86::host {

void IrqRemapping::init() {
    Iommu& iommu = hw_->iommu();
    iommu.write_irta(IrtaReg::IRTA.set(0, kIrt >> 12) | IrtaReg::S.make(kIrtaS));
    iommu.set_irtp();
    iommu.enable(true);
}

IrteWords IrqRemapping::read_irte(uint32_t index) const {
    std::array<uint8_t, 16> bytes{};
    if (mem_->read_bytes(hw_->iommu().entry_address(index), bytes) != MemFault::None)
        throw std::logic_error("IrqRemapping: IRT outside host memory");
    IrteWords w;
    for (unsigned i = 8; i-- > 0;) w.low = (w.low << 8) | bytes[i];
    for (unsigned i = 16; i-- > 8;) w.high = (w.high << 8) | bytes[i];
    return w;
}

void IrqRemapping::modify_irte(uint32_t index, const IrteWords& entry) {
    std::array<uint8_t, 16> bytes{};
    for (unsigned i = 0; i < 8; ++i) {
        bytes[i] = static_cast<uint8_t>(entry.low >> (8 * i));
        bytes[8 + i] = static_cast<uint8_t>(entry.high >> (8 * i));
    }
    if (mem_->write_bytes(hw_->iommu().entry_address(index), bytes) != MemFault::None)
        throw std::logic_error("IrqRemapping: IRT outside host memory");
    hw_->iommu().invalidate_iec(index, 0);
}

int IrqRemapping::request_irq(uint16_t sid) {
    size_t n = s_->irqs.size();
    if (n >= size_t{kVectorsPerCpu} * hw_->cpu_count() || n >= hw_->iommu().table_entries()) return -1;
    HostIrq irq;
    irq.index = static_cast<uint32_t>(n);
    irq.vector = static_cast<uint8_t>(kFirstVector + n % kVectorsPerCpu);
    irq.cpu = static_cast<uint32_t>((n / kVectorsPerCpu) % hw_->cpu_count());
    irq.sid = sid;
    RemappedIrte& e = irq.remapped;
    e.present = true;
    e.vector = irq.vector;
    e.dst = ndst_for_apic_id(irq.cpu, hw_->iommu().x2apic());  // physical, fixed, edge
    e.svt = 1;                                                 // verify the full requester ID
    e.sid = sid;
    modify_irte(irq.index, e.encode());
    s_->irqs.push_back(irq);
    log_->emit(tp::kHostRequestIrq, n, irq.index, Hex{irq.vector}, irq.cpu, Hex{sid});
    return static_cast<int>(n);
}

MsiRequest IrqRemapping::physical_msi(int n) const {
    const HostIrq& h = irq(n);
    return MsiRequest{RemappableMsi::address(static_cast<uint16_t>(h.index)), 0, h.sid};
}

// Posted: the fields both formats share are copied from the host-mode entry, then IM=1, URG=0
// (KVM never sets it), VV = the guest vector, PDA = the PID [reference §1.2,
// intel_ir_set_vcpu_affinity, dmar_copy_shared_irte]. nullopt restores the host-mode entry.
void IrqRemapping::set_vcpu_affinity(int n, std::optional<PostedTarget> target) {
    HostIrq& h = s_->irqs.at(static_cast<size_t>(n));
    if (!target) {
        modify_irte(h.index, h.remapped.encode());
        h.posted = false;
        log_->emit(tp::kHostIrteRemapped, n, h.index, Hex{h.vector});
        return;
    }
    PostedIrte p;
    p.present = h.remapped.present;
    p.fpd = h.remapped.fpd;
    p.avail = h.remapped.avail;
    p.sid = h.remapped.sid;
    p.sq = h.remapped.sq;
    p.svt = h.remapped.svt;
    p.urg = false;
    p.vv = target->vector;
    p.pda = target->pid;
    modify_irte(h.index, p.encode());
    h.posted = true;
    log_->emit(tp::kHostIrtePosted, n, h.index, Hex{target->vector}, Hex{target->pid});
}

}  // namespace irqdiff::x86::host
