// One ARM machine of a migration (the source or the destination): host memory with this
// machine's copy of guest RAM, the GIC, the host's ITS driver state, KVM's vgic for the VM and
// QEMU's device state. Copying a Host is a snapshot: the copy's GIC uses the copy's memory.
#pragma once

#include "arm_gic/hw/gic.h"
#include "arm_gic/kvm/host_its.h"
#include "arm_gic/kvm/vgic.h"
#include "arm_gic/vmm/qemu.h"

namespace irqdiff::arm {

struct Host {
    Memory mem;
    Gic gic;
    kvm::HostIts its;
    kvm::VgicState vgic;
    vmm::QemuState qemu;
    kvm::TransferPoint transfer;
    EventLog* log;

    Host(const GicConfig& config, EventLog& events, kvm::TransferPoint point)
        : gic(config, mem.host, events), transfer(point), log(&events) {}
    Host(const Host& o)
        : mem(o.mem), gic(o.gic), its(o.its), vgic(o.vgic), qemu(o.qemu), transfer(o.transfer), log(o.log) {
        gic.attach(mem.host, *log);
    }
    Host& operator=(const Host&) = delete;

    kvm::Kvm kvm() { return kvm::Kvm(vgic, gic, its, mem.guest, *log, transfer); }
    vmm::Qemu vmm() { return vmm::Qemu(*this, *log); }
};

}  // namespace irqdiff::arm
