// KVM's vgic for one VM with GICv4 direct injection (torvalds/linux arch/arm64/kvm/vgic/,
// reference/arm §3): the guest-visible redistributors and virtual ITS, software LPIs
// (struct vgic_irq) with their pending_latch, list-register injection, the GICv4 parts
// (set/unset_forwarding, vPE load/put, doorbells), and the save/restore ioctls. Each function that
// mirrors a kernel function names it.
//
// State is plain data (VgicState) so a VM can be snapshotted by copying it; the logic (Kvm) is a
// view constructed over that state and the host it runs on.
//
// Guest-visible frames (offsets the guest driver uses through gicr_*/its_*):
//   vGICR of vCPU v: GICR_CTLR (EnableLPIs), GICR_PROPBASER, GICR_PENDBASER (PTZ reads 0)
//   vITS: GITS_CTLR (Enabled), GITS_IIDR, GITS_TYPER, GITS_CBASER, GITS_CWRITER, GITS_CREADR,
//         GITS_BASER0 (device table, 8-byte entries), GITS_BASER1 (collection table, 8-byte entries)
// Guest ITS commands run when the guest writes GITS_CWRITER (vgic_its_process_commands).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "arm_gic/hw/gic.h"
#include "arm_gic/kvm/host_its.h"
#include "arm_gic/kvm/transfer.h"
#include "core/policy.h"

namespace irqdiff::arm::kvm {

/// target_vcpu of an LPI whose collection is not mapped.
inline constexpr uint32_t kNoVcpu = UINT32_MAX;

/// struct vgic_irq, for LPIs.
struct VgicIrq {
    uint32_t intid = 0;
    uint32_t target_vcpu = kNoVcpu;
    bool pending_latch = false;
    bool enabled = false;
    uint8_t priority = 0xA0;
    bool hw = false;    // forwarded as a vLPI
    int host_irq = -1;  // the host IRQ it is forwarded from (stale after unset_forwarding, as in KVM)
    bool active = false;
    bool queued = false;  // on target_vcpu's ap_list
};

/// struct its_ite and struct its_device of the virtual ITS.
struct VitsIte {
    uint32_t intid = 0;
    uint16_t icid = 0;
    bool orphan = false;  // its collection was unmapped (vgic_its_free_collection): no target until MOVI
};
struct VitsDevice {
    uint64_t itt_addr = 0;
    uint8_t eventid_bits = 0;
    std::map<uint32_t, VitsIte> ites;  // by EventID
};

/// struct vgic_its: guest-visible registers, and the translation state KVM keeps in the kernel
/// (not in the guest's tables, which it writes only at SAVE_TABLES).
struct VirtualIts {
    bool enabled = false;
    uint64_t cbaser = 0;
    uint64_t cwriter = 0;
    uint64_t creadr = 0;
    uint64_t baser_device = 0;
    uint64_t baser_collection = 0;
    std::map<uint32_t, VitsDevice> devices;
    std::map<uint16_t, uint32_t> collections;  // ICID -> vCPU, kNoVcpu while allocated but not mapped
};

/// Where a vCPU is between guest runs.
enum class VcpuRun : uint8_t {
    Loaded,    // vcpu_load done: its vPE is resident
    Runnable,  // put (preempted, or woken after blocking): loaded again at its next run
    Blocked,   // waiting in WFI for a kick
    Stopped,   // paused by the VMM
};
const char* to_string(VcpuRun r);

/// struct vgic_cpu, plus the vCPU's run state.
struct VgicCpu {
    uint64_t pendbaser = 0;
    bool enable_lpis = false;
    std::vector<uint32_t> ap_list;        // queued LPIs
    std::array<uint32_t, 16> lr_intid{};  // the LPI each list register holds (0: none)
    VcpuRun run = VcpuRun::Stopped;
};

/// struct vgic_dist and the vCPUs, for one VM.
struct VgicState {
    bool initialized = false;
    uint64_t propbaser = 0;  // KVM keeps one PROPBASER per VM
    std::vector<VgicCpu> cpus;
    std::map<uint32_t, VgicIrq> lpis;
    VirtualIts its;
};

/// KVM's ioctl results, as the kernel returns them.
inline constexpr int kOk = 0;
inline constexpr int kEacces = -13;
inline constexpr int kEbusy = -16;
inline constexpr int kEnxio = -6;
inline constexpr int kEinval = -22;

class Kvm {
   public:
    Kvm(VgicState& state, Gic& gic, HostIts& host, AddressSpace& guest_memory, EventLog& log, TransferPoint transfer)
        : s_(state), gic_(gic), host_(host), guest_(guest_memory), log_(log), transfer_(transfer) {}

    /// kvm_vgic_create + vgic_init + vgic_v4_init: the vCPUs' vPEs with their doorbells; on
    /// GICv4.1 every vPE is mapped on every ITS at once (gic_requires_eager_mapping).
    void init(unsigned vcpus);

    // ---- guest MMIO -----------------------------------------------------------------------------
    uint64_t gicr_read(uint32_t vcpu, uint64_t offset);
    /// vgic_mmio_write_v3r_ctlr / _propbase / _pendbase.
    void gicr_write(uint32_t vcpu, uint64_t offset, uint64_t value);
    uint64_t its_read(uint64_t offset);
    void its_write(uint64_t offset, uint64_t value);

    // ---- MSIs ------------------------------------------------------------------------------------
    /// vgic_its_trigger_msi (kvm_set_msi from an irqfd, or KVM_SIGNAL_MSI): a forwarded LPI is
    /// made pending in hardware, any other one in software. Returns 0, or -EINVAL when it does not
    /// translate (the MSI is lost).
    int trigger_msi(uint32_t devid, uint32_t eventid);

    // ---- irq bypass (GICv4) ----------------------------------------------------------------------
    /// kvm_vgic_v4_set_forwarding: resolve DeviceID/EventID, map the vLPI in hardware, hw = true,
    /// and (arm.transfer=set_forwarding) push pending_latch into the VPT.
    void set_forwarding(int host_irq, uint32_t devid, uint32_t eventid);
    /// kvm_vgic_v4_unset_forwarding: unmap in hardware, hw = false; nothing is carried back.
    void unset_forwarding(int host_irq);

    // ---- vCPUs -------------------------------------------------------------------------------------
    /// kvm_arch_vcpu_load -> vgic_v4_load: the vPE becomes resident.
    void vcpu_load(uint32_t vcpu);
    /// kvm_arch_vcpu_put -> vgic_v4_put: the vPE stops being resident, asking for a doorbell when
    /// the vCPU blocks.
    void vcpu_put(uint32_t vcpu, bool need_db);
    /// Guest entry: vgic_v4_commit (wait for the VPT parse) and kvm_vgic_flush_hwstate (list
    /// registers from the ap_list).
    void vcpu_enter(uint32_t vcpu);
    /// Guest exit: kvm_vgic_sync_hwstate (list registers back into vgic_irq, then prune).
    void vcpu_exit(uint32_t vcpu);
    /// WFI: kvm_vcpu_block. The vCPU stays runnable if kvm_vgic_vcpu_pending_irq says so.
    void vcpu_block(uint32_t vcpu);
    /// kvm_vcpu_kick: a blocked vCPU becomes runnable.
    void kick(uint32_t vcpu);
    /// kvm_vgic_vcpu_pending_irq: pending_last (the GICv4 hint, c971968071d3) or a deliverable
    /// software LPI.
    bool vcpu_has_pending(uint32_t vcpu) const;
    /// vgic_v4_doorbell_handler.
    void doorbell(uint32_t vpeid);

    // ---- save and restore ---------------------------------------------------------------------------
    /// KVM_DEV_ARM_ITS_SAVE_TABLES -> vgic_its_save_tables_v0. -EACCES for a forwarded ITE
    /// without GICv4.1 (bd94e7aea403, 8082d50f4817): the save stops there.
    int its_save_tables();
    /// KVM_DEV_ARM_ITS_RESTORE_TABLES -> vgic_its_restore_tables_v0.
    int its_restore_tables();
    /// KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES -> vgic_v3_save_pending_tables.
    int save_pending_tables();
    /// arm.transfer=vm_start: the userspace call at VM start that was proposed and rejected.
    void vm_start_transfer();
    /// ITS register restore by userspace (uaccess): writes that a guest may not make.
    void restore_its_registers(uint64_t cbaser, uint64_t creadr, uint64_t cwriter, uint64_t baser0, uint64_t baser1);

    const VgicState& state() const { return s_; }
    /// The LPI a (DeviceID, EventID) translates to now, if any.
    const VgicIrq* translate(uint32_t devid, uint32_t eventid) const;
    const VgicIrq* lpi(uint32_t intid) const;

   private:
    // vgic-its.c
    void process_commands();
    void handle_command(const std::array<uint64_t, 4>& cmd);
    const VgicIrq* resolve_lpi(uint32_t devid, uint32_t eventid, const char** why) const;
    VgicIrq& add_lpi(uint32_t intid, uint32_t vcpu);
    void update_lpi_config(VgicIrq& irq);
    void update_affinity(VgicIrq& irq, uint32_t vcpu);
    void free_ite(uint32_t devid, uint32_t eventid);
    void lpi_sync_pending_status(VgicIrq& irq);
    void sync_lpi_pending_table(uint32_t vcpu);
    void enable_lpis(uint32_t vcpu);
    void flush_pending_lpis(uint32_t vcpu);
    // vgic.c
    void queue(VgicIrq& irq);
    bool oracle(const VgicIrq& irq) const {
        return irq.target_vcpu != kNoVcpu && (irq.active || (irq.enabled && irq.pending_latch));
    }
    void prune(uint32_t vcpu);
    uint8_t prop_of(const VgicIrq& irq) const;
    // the transfer of restored pending state into the VPT
    void transfer(VgicIrq& irq, const char* where);
    /// A candidate transfer site (transfer.cc): transfers `irq`, or every LPI (of `vcpu` when
    /// given), when arm.transfer puts the transfer at `hook`.
    void transfer_hook(TransferHook hook, VgicIrq& irq);
    void transfer_hook(TransferHook hook, std::optional<uint32_t> vcpu = std::nullopt);
    void read_guest_pending(uint32_t vcpu, uint32_t intid, bool& bit, uint64_t& byte_addr, uint8_t& byte) const;

    VgicState& s_;
    Gic& gic_;
    HostIts& host_;
    AddressSpace& guest_;
    EventLog& log_;
    TransferPoint transfer_;
};

}  // namespace irqdiff::arm::kvm
