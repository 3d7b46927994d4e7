// One x86 machine of a migration (the source or the destination): host memory, the platform
// (pCPUs and the VT-d IOMMU), the host's interrupt-remapping driver state, KVM's state for the VM
// and QEMU's device state. Copying a Machine is a snapshot: the copy's platform uses the copy's
// memory.
#pragma once

#include <cstdint>

#include "core/backend.h"
#include "core/vfio.h"
#include "x86_pi/hw/platform.h"
#include "x86_pi/host/cpu.h"
#include "x86_pi/host/irq_remapping.h"
#include "x86_pi/kvm/kvm.h"

namespace irqdiff::x86 {

namespace vmm {
struct QemuState {
    std::vector<PciDevice> devices;  // guest_id: the requester ID the guest sees; host_id: the host's
    uint32_t next_gsi = 0;           // kvm_irqchip_add_msi_route allocates GSIs in order
};
class QemuPort;
/// QEMU's device logic over one Machine (a view; the state lives in Machine::qemu): x86_pi/vmm/qemu.h.
using Qemu = Vfio<QemuPort>;
}  // namespace vmm

struct Machine {
    Memory mem;
    Platform hw;
    host::Vectors vectors;
    host::IrqRemappingState iommu_state;
    kvm::KvmState kvm_state;
    vmm::QemuState qemu;
    EventLog* log;

    Machine(unsigned cpus, EventLog& events) : hw(cpus, mem.host, events), log(&events) {}
    Machine(const Machine& o)
        : mem(o.mem),
          hw(o.hw),
          vectors(o.vectors),
          iommu_state(o.iommu_state),
          kvm_state(o.kvm_state),
          qemu(o.qemu),
          log(o.log) {
        hw.attach(mem.host, *log);
    }
    Machine& operator=(const Machine&) = delete;

    host::IrqRemapping iommu() { return host::IrqRemapping(iommu_state, hw, mem.host, *log); }
    kvm::Kvm kvm() { return kvm::Kvm(kvm_state, hw, iommu(), vectors, mem.host, *log); }
    vmm::Qemu vmm();  // x86_pi/vmm/qemu.h

    /// The host CPUs take what they have for the host until none has any: a VM exit (vm_exit), or
    /// an interrupt in root mode (its vector's handler, host::Vectors).
    void service();
    /// pCPU `cpu` left the guest: KVM's exit handler, for an external interrupt the handler of
    /// the acknowledged vector, then back into the guest if the vCPU still runs
    /// (vcpu_enter_guest's exit path: handle_exit_irqoff, vmx_handle_exit). False (and nothing
    /// done) if the pCPU has no exit for the host.
    bool vm_exit(unsigned cpu);

    void add_counters(BackendCounters& c) const {
        c.hw_commands += hw.iommu().invalidations();
        c.host += mem.host.stats();
        c.guest += mem.guest.stats();
    }

   private:
    /// The handler `vector` has on pCPU `cpu` runs [reference §3.2].
    void dispatch(unsigned cpu, uint8_t vector);
};

}  // namespace irqdiff::x86
