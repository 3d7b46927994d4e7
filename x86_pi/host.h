// One x86 machine of a migration (the source or the destination): host memory, the platform
// (pCPUs and the VT-d IOMMU), the host's interrupt-remapping driver state, KVM's state for the VM
// and QEMU's device state. Copying a Host is a snapshot: the copy's platform uses the copy's
// memory.
#pragma once

#include "x86_pi/hw/platform.h"
#include "x86_pi/kvm/host_iommu.h"
#include "x86_pi/kvm/kvm.h"
#include "x86_pi/vmm/qemu.h"

namespace irqdiff::x86 {

struct Host {
    Memory mem;
    Platform hw;
    kvm::HostIommuState iommu_state;
    kvm::KvmState kvm_state;
    vmm::QemuState qemu;
    EventLog* log;

    Host(unsigned cpus, EventLog& events) : hw(cpus, mem.host, events), log(&events) {}
    Host(const Host& o)
        : mem(o.mem), hw(o.hw), iommu_state(o.iommu_state), kvm_state(o.kvm_state), qemu(o.qemu), log(o.log) {
        hw.attach(mem.host, *log);
    }
    Host& operator=(const Host&) = delete;

    kvm::HostIommu iommu() { return kvm::HostIommu(iommu_state, hw, mem.host, *log); }
    kvm::Kvm kvm() { return kvm::Kvm(kvm_state, hw, iommu(), mem.host, *log); }
    vmm::Qemu vmm() { return vmm::Qemu(*this, *log); }
};

}  // namespace irqdiff::x86
