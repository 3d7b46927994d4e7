// One ARM machine of a migration (the source or the destination): host memory with this
// machine's copy of guest RAM, the GIC, the host layer (its CPUs' interrupt entry and the ITS
// driver, arm_gic/host/), KVM's vgic for the VM and QEMU's device state. Copying a Machine is a
// snapshot: the copy's GIC uses the copy's memory and signals the copy's CPUs.
#pragma once

#include "arm_gic/host/cpu.h"
#include "arm_gic/host/its_driver.h"
#include "arm_gic/hw/gic.h"
#include "arm_gic/kvm/kvm.h"
#include "core/backend.h"
#include "core/vfio.h"

namespace irqdiff::arm {

namespace vmm {
struct QemuState {
    std::vector<PciDevice> devices;  // guest_id: the PCI requester ID the guest's ITS sees (DeviceID)
};
class QemuPort;
/// QEMU's device logic over one Machine (a view; the state lives in Machine::qemu): arm_gic/vmm/qemu.h.
using Qemu = Vfio<QemuPort>;
}  // namespace vmm

struct Machine {
    Memory mem;
    Gic gic;
    host::Cpus cpus;
    host::ItsDriver its;
    kvm::VgicState vgic;
    vmm::QemuState qemu;
    kvm::TransferPoint transfer;
    kvm::SaveSide save;
    EventLog* log;

    Machine(const GicConfig& config, EventLog& events, kvm::TransferPoint point,
            kvm::SaveSide save_side = kvm::SaveSide::VptRead)
        : gic(config, mem.host, events), transfer(point), save(save_side), log(&events) {
        listen();
    }
    Machine(const Machine& o)
        : mem(o.mem),
          gic(o.gic),
          cpus(o.cpus),
          its(o.its),
          vgic(o.vgic),
          qemu(o.qemu),
          transfer(o.transfer),
          save(o.save),
          log(o.log) {
        gic.attach(mem.host, *log);
        listen();
    }
    Machine& operator=(const Machine&) = delete;

    kvm::Kvm kvm() { return kvm::Kvm(vgic, gic, its, cpus, mem.guest, *log, transfer, save); }
    vmm::Qemu vmm();  // arm_gic/vmm/qemu.h

    /// The host CPUs take their pending physical LPIs and run the handler each one's host IRQ was
    /// requested with (host::Cpus): a vPE doorbell's vgic_v4_doorbell_handler, a VFIO vector's
    /// vfio_msihandler. Interrupts raised by a handler are taken after it returns, as a CPU
    /// takes them.
    void service();

    void add_counters(BackendCounters& c) const {
        for (unsigned i = 0; i < gic.its_count(); ++i) c.hw_commands += gic.its(i).commands_executed();
        c.host += mem.host.stats();
        c.guest += mem.guest.stats();
    }

   private:
    void listen() {
        gic.set_host_irq_handler([this](unsigned rd, uint32_t intid) { cpus.signal(rd, intid); });
    }
};

}  // namespace irqdiff::arm
