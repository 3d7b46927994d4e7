// MSI routes, irqfds, the software interrupt path and irq bypass (arch/x86/kvm/irq.c,
// virt/kvm/eventfd.c, vmx/posted_intr.c :: vmx_pi_update_irte) [reference/
// x86_posted_interrupts_kvm_migration.md §4.5, §6 ("reference §4.5")].
#include "x86_pi/kvm/kvm.h"
#include "x86_pi/trace_points.h"

namespace irqdiff::x86::kvm {

// kvm_set_msi -> kvm_irq_delivery_to_apic: every destination's LAPIC accepts it; an MSI that
// names no APIC is dropped.
void Kvm::set_msi(const MsiMessage& msi, const char* via) {
    std::vector<uint32_t> targets = msi_destinations(msi);
    log_.emit(tp::kKvmSetMsi, Hex{msi.address}, Hex{msi.data}, via, targets.size());
    if (targets.empty()) {
        if (const uint64_t mode = MsiData::DeliveryMode.get(msi.data); mode > 1 && mode != 4)
            log_.emit(tp::kKvmSetMsiError, "an MSI with delivery mode SMI, INIT or ExtINT: not modelled, dropped",
                      Hex{msi.address}, Hex{msi.data});
        else
            log_.emit(tp::kKvmSetMsiError,
                      "an MSI whose destination matches no local APIC is dropped (kvm_irq_delivery_to_apic)",
                      Hex{msi.address}, Hex{msi.data});
        return;
    }
    const uint8_t vector = static_cast<uint8_t>(MsiData::Vector.get(msi.data));
    if (MsiData::DeliveryMode.get(msi.data) == 4) {  // NMI: the vector field is ignored (here: provenance)
        for (uint32_t v : targets) inject_nmi(v, vector, via);
        return;
    }
    const bool level = MsiData::TriggerMode.get(msi.data) != 0;
    for (uint32_t v : targets) accept_irq(v, vector, level, via);
}

void Kvm::set_route(uint32_t gsi, const MsiMessage& msi) {
    auto [it, added] = s_.routes.try_emplace(gsi, msi);
    const bool changed = added || it->second != msi;
    it->second = msi;
    log_.emit(tp::kKvmSetGsiRouting, gsi, Hex{msi.address}, Hex{msi.data});
    // kvm_irq_routing_update -> kvm_arch_update_irqfd_routing: only when the MSI changed.
    if (auto f = s_.irqfds.find(gsi); changed && f != s_.irqfds.end() && f->second.host_irq >= 0) pi_update_irte(gsi);
}

void Kvm::irqfd_assign(uint32_t gsi) {
    s_.irqfds.try_emplace(gsi);
    log_.emit(tp::kKvmIrqfdAssign, gsi);
}

const Policy<IrqfdDeassign> kIrqfdDeassignPolicy{
    "x86.irqfd_deassign",
    "x86",
    {{"fixed", IrqfdDeassign::Fixed}, {"clobber", IrqfdDeassign::Clobber}},
    IrqfdDeassign::Fixed,
    "whether KVM_IRQFD deassign puts the IRTE back to remapped mode (fixed), or zeroes the routing type so that "
    "kvm_arch_irq_bypass_del_producer skips kvm_pi_update_irte and the device keeps posting (clobber)",
    "clobber: virt/kvm/eventfd.c kvm_irqfd_deassign (irq_entry.type = 0) with the MSI check of cb210737675e "
    "(6.17, X1 03/62); fixed: \"KVM: Don't clobber irqfd routing type when deassigning irqfd\", Sean "
    "Christopherson, 13 Jan 2026, Message-ID <20260113174606.104978-2-seanjc@google.com> (kernel_history X3)"};

void Kvm::irqfd_deassign(uint32_t gsi) {
    auto it = s_.irqfds.find(gsi);
    if (it == s_.irqfds.end()) return;
    const bool teardown = s_.config.deassign == IrqfdDeassign::Fixed;
    if (it->second.host_irq >= 0) irq_bypass_del_producer(gsi, teardown);
    s_.irqfds.erase(it);
    log_.emit(tp::kKvmIrqfdDeassign, gsi, teardown);
}

void Kvm::remove_route(uint32_t gsi) {
    if (s_.routes.erase(gsi) == 0) return;
    log_.emit(tp::kKvmRemoveGsiRoute, gsi);
    if (auto f = s_.irqfds.find(gsi); f != s_.irqfds.end() && f->second.host_irq >= 0) pi_update_irte(gsi);
}

// irqfd_wakeup -> kvm_set_msi with the irqfd's route.
void Kvm::irqfd_signal(uint32_t gsi) {
    auto route = s_.routes.find(gsi);
    if (route == s_.routes.end()) {
        log_.emit(tp::kKvmIrqfdSignalError, "an irqfd whose GSI has no route injects nothing", gsi);
        return;
    }
    set_msi(route->second, "irqfd");
}

// kvm_arch_irq_bypass_add_producer. The first bypass IRQ of the VM makes posting able to target
// its vCPUs (nr_possible_bypass_irqs), and blocked vCPUs are unblocked (KVM_REQ_UNBLOCK) so they
// block again with the wakeup vector [reference §4.3 vmx_can_use_vtd_pi, vmx_pi_start_bypass].
void Kvm::irq_bypass_add_producer(uint32_t gsi, int host_irq) {
    auto it = s_.irqfds.find(gsi);
    if (it == s_.irqfds.end()) throw std::logic_error("Kvm::irq_bypass_add_producer: no irqfd for the GSI");
    it->second.host_irq = host_irq;
    log_.emit(tp::kKvmIrqBypassAddProducer, gsi, host_irq);
    if (s_.bypass_irqs++ == 0)
        for (uint32_t v = 0; v < s_.vcpus.size(); ++v)
            if (s_.vcpus[v].run == VcpuRun::Blocked && !s_.vcpus[v].loaded) {
                vcpu_load(v);
                vcpu_put(v, false);
            }
    pi_update_irte(gsi);
}

// kvm_arch_irq_bypass_del_producer: the IRTE goes back to host (remapped) mode.
void Kvm::irq_bypass_del_producer(uint32_t gsi, bool teardown) {
    Irqfd& f = s_.irqfds.at(gsi);
    if (f.host_irq < 0) return;
    log_.emit(tp::kKvmIrqBypassDelProducer, gsi, f.host_irq);
    // `if (irqfd->irq_entry.type == KVM_IRQ_ROUTING_MSI)`: a clobbered type skips the IRTE update.
    if (teardown) iommu_.set_vcpu_affinity(f.host_irq, std::nullopt);
    f.posted_vcpu = -1;
    f.host_irq = -1;
    --s_.bypass_irqs;
}

// kvm_pi_update_irte / vmx_pi_update_irte [reference §4.5]: posted iff APICv is on, the route is
// an MSI with a postable delivery mode (fixed, lowest priority) and its destination resolves to
// exactly one vCPU through the APIC map *now*; otherwise host mode (kvm_set_msi path). An entry
// that was not posted and still is not is left alone.
void Kvm::pi_update_irte(uint32_t gsi) {
    Irqfd& f = s_.irqfds.at(gsi);
    auto route = s_.routes.find(gsi);
    int target = -1;
    const char* why = "single vCPU";
    uint8_t vector = 0;
    if (!s_.config.apicv)
        why = "APICv off";
    else if (route == s_.routes.end())
        why = "no MSI route";
    else if (MsiData::DeliveryMode.get(route->second.data) > 1)
        why = "delivery mode not postable";
    else if ((target = single_vcpu(route->second)) < 0)
        why = "destination is not one vCPU in the APIC map";
    if (route != s_.routes.end()) vector = static_cast<uint8_t>(MsiData::Vector.get(route->second.data));
    log_.emit(tp::kKvmPiUpdateIrte, gsi, f.host_irq, target >= 0, target, Hex{vector}, why);
    if (target >= 0) {
        iommu_.set_vcpu_affinity(f.host_irq, host::PostedTarget{HostLayout::pid(static_cast<uint32_t>(target)), vector});
        f.posted_vcpu = target;
    } else if (f.posted_vcpu >= 0) {
        iommu_.set_vcpu_affinity(f.host_irq, std::nullopt);
        f.posted_vcpu = -1;
    }
}

}  // namespace irqdiff::x86::kvm
