// The GICv4.1 (or GICv4.0) as the hypervisor sees it: ITSs, one redistributor and one virtual CPU
// interface per physical CPU, tables in host memory, and the event log every operation reports
// to. The hypervisor layer (arm_gic/kvm/) drives it through register accesses and command
// queues, and hears about physical LPIs (doorbells) through a handler; devices reach it with MSI
// writes on the bus (core/bus.h), which the GIC decodes to an ITS's GITS_TRANSLATER.
//
// A Gic is copyable: a copy is a snapshot that keeps using the same host memory and event log
// (the caller snapshots those; STYLE.md "state snapshots are plain copies").
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string_view>
#include <vector>

#include "arm_gic/hw/config.h"
#include "arm_gic/hw/cpu_interface.h"
#include "arm_gic/hw/its.h"
#include "arm_gic/hw/redistributor.h"
#include "core/bus.h"
#include "core/event_log.h"
#include "core/location.h"
#include "core/memory.h"

namespace irqdiff::arm {

class Gic {
   public:
    /// Called when a physical LPI becomes pending, enabled, on a redistributor with EnableLPIs:
    /// the host CPU `rd` takes an interrupt (for the hypervisor: a vPE doorbell).
    using HostIrqHandler = std::function<void(unsigned rd, uint32_t intid)>;

    Gic(const GicConfig& config, AddressSpace& host_memory, EventLog& log);
    Gic(const Gic& other);
    Gic& operator=(const Gic& other);

    /// Points a Gic copied into another machine at that machine's memory and log.
    void attach(AddressSpace& host_memory, EventLog& log) {
        memory_ = &host_memory;
        log_ = &log;
    }

    const GicConfig& config() const { return config_; }
    AddressSpace& memory() const { return *memory_; }
    EventLog& log() const { return *log_; }

    unsigned its_count() const { return static_cast<unsigned>(its_.size()); }
    unsigned rd_count() const { return static_cast<unsigned>(rds_.size()); }
    Its& its(unsigned i = 0) { return its_.at(i); }
    const Its& its(unsigned i = 0) const { return its_.at(i); }
    Redistributor& rd(unsigned i) { return rds_.at(i); }
    const Redistributor& rd(unsigned i) const { return rds_.at(i); }
    CpuInterface& cpu(unsigned i) { return cpus_.at(i); }
    const CpuInterface& cpu(unsigned i) const { return cpus_.at(i); }

    /// The physical address of ITS `i`'s GITS_TRANSLATER, the doorbell a driver programs as a
    /// device's MSI address (its_base[i] + 0x10040, reference/arm §1.1).
    uint64_t translater_address(unsigned i) const;
    /// A device's MSI on the bus (core/bus.h): a write to an ITS's GITS_TRANSLATER is translated
    /// by that ITS, EventID = the data, DeviceID = the requester id (reference/arm §1.1: "an MSI
    /// write of EventID to GITS_TRANSLATER, tagged with the DeviceID"). A write that hits no
    /// GITS_TRANSLATER reaches no ITS and raises no interrupt (on hardware it is an ordinary
    /// memory write, or a decode error, which the model does not carry): it is dropped with a
    /// GuestError event BUS.no_translater, the model's policy.
    void msi(const MsiWrite& write) {  // inline: every device interrupt takes this path
        for (Its& its : its_)
            if (write.address == config_.its_base[its.index()] + GITS_TRANSLATER)
                return its.translate(write.requester_id, write.data);
        no_translater(write);
    }

    /// The redistributor that holds vPE `vpeid`, or nullptr.
    Redistributor* rd_of_vpe(uint32_t vpeid);
    const Redistributor* rd_of_vpe(uint32_t vpeid) const;

    void set_host_irq_handler(HostIrqHandler handler) { host_irq_ = std::move(handler); }
    /// A redistributor signals physical LPI `intid` to its CPU.
    void signal_host(unsigned rd, uint32_t intid);

    /// Where vINTID `vintid` of vPE `vpeid` is pending: `arm.rd_cache[vpeN]` (the redistributor's
    /// cache), `arm.vpt[vpeN]` (VPT memory the redistributor has not parsed, or of an unmapped
    /// vPE), `arm.list_register[cpuN]`. A place is live when a path that exists now delivers
    /// from it: the cache or VPT of a mapped vPE, a list register.
    void where_vlpi(uint32_t vpeid, uint32_t vintid, std::vector<Location>& out) const;

    /// The hypervisor is about to write host memory [addr, addr + len). Writing the VPT of a mapped
    /// vPE is a violation: pending state enters only through the ITS (reference/arm §1.5).
    void check_software_write(uint64_t addr, uint64_t len);

    /// Remembers a vPE's VPT (from VMAPP), so its memory can still be reported after an unmap.
    void note_vpt(uint32_t vpeid, uint64_t vpt_addr, unsigned id_bits);

    /// GICv4.1: a vPE's vSGI state (configuration and pending) outlives VMAPP {V,Alloc} = {0,1}
    /// and comes back with the next VMAPP V=1 Alloc=1 PTZ=0 (IHI 0069 keeps it with the vPE's
    /// tables; Shenming Lu, <b837b832-7085-c74d-3f9b-08335081f702@huawei.com>: "the unmapping of
    /// the vPE would not affect the (already) stored vSGI states", which vgic_v3_save_pending_tables
    /// relies on; Marc Zyngier in that thread: once unmapped "only the memory state can be used").
    /// The model keeps it beside the noted VPT, standing for the VPT's IMPLEMENTATION DEFINED
    /// first 1 KiB. PTZ = 1 starts the vPE with none.
    void stash_vsgis(uint32_t vpeid, const std::array<VsgiState, 16>& sgis) { stashed_vsgis_[vpeid] = sgis; }
    std::array<VsgiState, 16> take_vsgis(uint32_t vpeid, bool ptz);
    /// Where vSGI `sgi` of vPE `vpeid` is pending: `arm.vsgi_pending[vpeN]` (the vPE's vSGI state,
    /// what GICR_VSGIPENDR reads: live while an ITS maps the vPE) and `arm.list_register[cpuN]`.
    void where_vsgi(uint32_t vpeid, unsigned sgi, std::vector<Location>& out) const;

    /// VMOVP bookkeeping across ITSs when GITS_TYPER.VMOVP = 0: the move happens once every ITS
    /// in ITSList has seen the VMOVP with this SEQ_NUM. Returns true when it completed now.
    struct VmovpRequest {
        uint32_t vpeid = 0;
        uint16_t target = 0;
        uint16_t its_list = 0;
        bool db = false;
        uint32_t default_doorbell = kNoDoorbell;
    };
    bool vmovp_seen(unsigned its, uint16_t seq_num, const VmovpRequest& request);
    /// Carries out a VMOVP: the vPE's state moves to redistributor `target`.
    void move_vpe(const VmovpRequest& request);

   private:
    [[gnu::cold]] void no_translater(const MsiWrite& write);
    void rebind();

    GicConfig config_;
    AddressSpace* memory_;
    EventLog* log_;
    HostIrqHandler host_irq_;
    std::vector<Its> its_;
    std::vector<Redistributor> rds_;
    std::vector<CpuInterface> cpus_;
    std::map<uint32_t, std::pair<uint64_t, unsigned>> known_vpts_;  // vPEID -> (VPT, ID bits)
    std::map<uint32_t, std::array<VsgiState, 16>> stashed_vsgis_;   // vPEID -> vSGI state of an unmapped vPE
    struct PendingVmovp {
        VmovpRequest request;
        uint16_t seen = 0;  // ITSs that processed it
    };
    std::map<uint16_t, PendingVmovp> vmovps_;  // by SEQ_NUM
};

}  // namespace irqdiff::arm
