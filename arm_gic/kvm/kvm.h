// KVM's vgic for one VM with GICv4 direct injection (torvalds/linux arch/arm64/kvm/vgic/,
// reference/arm §3): the guest-visible redistributors and virtual ITS, software LPIs with their
// pending_latch, list-register injection, the GICv4 parts (set/unset_forwarding, vPE load/put,
// doorbells), and the save/restore ioctls; implemented in vgic.cc, vgic_its.cc and transfer.cc.
// Each function that mirrors a kernel function names it.
//
// The logic is a view (Kvm) constructed over the VM's state (VgicState, arm_gic/kvm/vgic.h) and
// the host it runs on: the GIC, the host's ITS driver and its CPUs' interrupt entry (arm_gic/host/).
//
// Guest-visible frames (offsets the guest driver uses through gicr_*/its_*):
//   vGICR of vCPU v: GICR_CTLR (EnableLPIs), GICR_PROPBASER, GICR_PENDBASER (PTZ reads 0)
//   vITS: GITS_CTLR (Enabled), GITS_IIDR, GITS_TYPER, GITS_CBASER, GITS_CWRITER, GITS_CREADR,
//         GITS_BASER0 (device table, 8-byte entries), GITS_BASER1 (collection table, 8-byte entries)
// Guest ITS commands run when the guest writes GITS_CWRITER (vgic_its_process_commands).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "arm_gic/host/cpu.h"
#include "arm_gic/host/its_driver.h"
#include "arm_gic/hw/gic.h"
#include "arm_gic/kvm/transfer.h"
#include "arm_gic/kvm/vgic.h"
#include "core/policy.h"

namespace irqdiff::arm::kvm {

/// How KVM saves the state of forwarded vLPIs (policy arm.save, declared in vgic.cc). The 5.13
/// series that added the transfer (12df7429213a) also added the save side it relies on.
enum class SaveSide : uint8_t {
    /// Linux >= 5.13: vgic_v4_get_vlpi_state (80317fe4a653) reads the VPT in
    /// vgic_v3_save_pending_tables with the vPEs unmapped (f66b7b151e00), and vgic_its_save_itt
    /// fails only without GICv4.1 (8082d50f4817).
    VptRead,
    /// Linux < 5.13: vgic_its_save_itt fails with -EACCES at the first forwarded ITE on GICv4.1
    /// too (bd94e7aea403), and the pending-table save writes pending_latch for forwarded LPIs.
    Refuse,
};
extern const Policy<SaveSide> kSavePolicy;
/// arm.irqfd_deassign: whether KVM_IRQFD deassign tears the vLPI forwarding down (X3; vgic_its.cc).
extern const Policy<IrqfdDeassign> kIrqfdDeassignPolicy;
/// arm.vsgi_ispendr: whether a userspace GICR_ISPENDR0 write reaches a GICv4.1 vSGI (7b95382f9651;
/// vgic_sgi.cc).
extern const Policy<VsgiIspendr> kVsgiIspendrPolicy;

class Kvm {
   public:
    Kvm(VgicState& state, Gic& gic, host::ItsDriver& its, host::Cpus& cpus, AddressSpace& guest_memory, EventLog& log,
        TransferPoint transfer, SaveSide save = SaveSide::VptRead)
        : s_(state),
          gic_(gic),
          host_(its),
          cpus_(cpus),
          guest_(guest_memory),
          log_(log),
          transfer_(transfer),
          save_(save) {}

    /// kvm_vgic_create + vgic_init + vgic_v4_init: the vCPUs' vPEs with their doorbells; on
    /// GICv4.1 every vPE is mapped on every ITS at once (gic_requires_eager_mapping).
    void init(unsigned vcpus);

    // ---- guest MMIO -----------------------------------------------------------------------------
    uint64_t gicr_read(uint32_t vcpu, uint64_t offset);
    /// vgic_mmio_write_v3r_ctlr / _propbase / _pendbase.
    void gicr_write(uint32_t vcpu, uint64_t offset, uint64_t value);
    uint64_t its_read(uint64_t offset);
    void its_write(uint64_t offset, uint64_t value);

    // ---- the distributor and SGIs (vgic_sgi.cc) -----------------------------------------------------
    /// vgic_mmio_read_v3_misc: GICD_CTLR (EnableGrp1, ARE, DS, nASSGIreq), GICD_TYPER2 (nASSGIcap
    /// on a GICv4.1 host).
    uint32_t gicd_read(uint64_t offset) const;
    /// The guest's GICD_CTLR write (vgic_mmio_write_v3_misc): nASSGIreq is RO while the distributor
    /// stays enabled and RAZ without GICv4.1; a change runs vgic_v4_configure_vsgis.
    void gicd_write(uint64_t offset, uint32_t value);
    /// Userspace's GICD_CTLR write (vgic_mmio_uaccess_write_v3_misc): EnableGrp1 and nASSGIreq are
    /// recorded and nothing else happens; the vSGIs follow at the first KVM_RUN (map_resources).
    void gicd_uaccess_write(uint64_t offset, uint32_t value);
    /// Userspace reads of the SGI_base frame (KVM_DEV_ARM_VGIC_GRP_REDIST_REGS): GICR_ISPENDR0
    /// (vgic_v3_uaccess_read_pending: a hardware vSGI's pending state from GICR_VSGIPENDR),
    /// GICR_ISENABLER0, GICR_IPRIORITYR0..3 (SGI bytes).
    uint32_t sgi_uaccess_read(uint32_t vcpu, uint64_t offset);
    /// Userspace writes of the SGI_base frame: GICR_ISENABLER0 / ICENABLER0 (vgic_uaccess_write_
    /// senable / cenable: the vgic_irq only), GICR_ISPENDR0 (vgic_v3_uaccess_write_pending) and
    /// GICR_ICPENDR0 per arm.vsgi_ispendr, GICR_IPRIORITYR0..3 (vgic_mmio_write_priority).
    void sgi_uaccess_write(uint32_t vcpu, uint64_t offset, uint32_t value);
    /// The sender's ICC_SGI1R_EL1 write, trapped (access_gic_sgi -> vgic_v3_dispatch_sgi), for one
    /// target in its list: a hardware vSGI is made pending through GITS_SGIR, any other SGI in
    /// pending_latch and queued (a list register at the target's next entry).
    void dispatch_sgi(uint32_t sender, uint32_t target, unsigned sgi);
    /// The struct vgic_irq of INTID `intid` as vCPU `vcpu` sees it (its own SGIs), or nullptr.
    VgicIrq* find_irq(uint32_t vcpu, uint32_t intid);
    const VgicIrq* find_irq(uint32_t vcpu, uint32_t intid) const;

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
    /// kvm_irqfd_deassign -> irqfd_shutdown -> kvm_arch_irq_bypass_del_producer for the vector's
    /// host IRQ (-1: no producer connected): unset_forwarding, unless arm.irqfd_deassign=clobber
    /// zeroed the routing type first and the arm64 hook (a0d7e2fc61ab) skipped it (X3).
    void irqfd_deassign(int host_irq);
    /// KVM_SET_GSI_ROUTING with (present) or without the MSI route of (devid, eventid), for an
    /// assigned irqfd whose producer is `host_irq` (-1: none): kvm_irq_routing_update ->
    /// kvm_arch_update_irqfd_routing, which on arm64 unmaps the vLPI on any change and falls back
    /// to software injection (A3; 2025); nothing reads the VPT back (A1).
    void set_msi_route(uint32_t devid, uint32_t eventid, bool present, int host_irq);
    /// irqfd_wakeup -> kvm_set_msi with the irqfd's route: nothing without one.
    int irqfd_inject(uint32_t devid, uint32_t eventid);

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
    /// Machine mode's exit and re-entry (a kick, a trapped access): vcpu_fold is vcpu_exit that
    /// remembers which list register held which interrupt; vcpu_flush is vcpu_enter that puts an
    /// interrupt still wanted back into the list register it had (hardware matches an EOI to a list
    /// register by vINTID, IHI 0069 ICV_EOIR1_EL1, so KVM's choice of slot is invisible to the
    /// guest; the model's CpuInterface remembers the slot of what it acknowledged).
    void vcpu_fold(uint32_t vcpu);
    void vcpu_flush(uint32_t vcpu);

    // ---- machine mode: the guest-visible distributor, redistributors and lines (vgic_mmio.cc) ----
    /// kvm_vgic_dist_init for `nr_spis` SPIs (INTIDs 32 .. 32 + nr_spis - 1, a multiple of 32).
    void init_spis(uint32_t nr_spis);
    /// The guest's GICD access at `offset` (vgic_v3_dist_registers): `size` 1, 2, 4 or 8 bytes,
    /// already checked against the register's access width by the caller.
    uint64_t dist_read(uint32_t vcpu, uint64_t offset, unsigned size);
    void dist_write(uint32_t vcpu, uint64_t offset, uint64_t value, unsigned size);
    /// The guest's GICR access (RD_base at 0, SGI_base at kGicrSgiFrame) of vCPU `vcpu`'s frames
    /// (vgic_v3_rd_registers, vgic_v3_sgibase_registers); `last` marks the last redistributor.
    uint64_t redist_read(uint32_t vcpu, uint64_t offset, unsigned size, bool last);
    void redist_write(uint32_t vcpu, uint64_t offset, uint64_t value, unsigned size);
    /// kvm_vgic_inject_irq: a PPI (vcpu's) or SPI input line; level interrupts follow the line,
    /// edge ones latch on a rising level.
    void inject_irq(uint32_t vcpu, uint32_t intid, bool level);
    /// KVM's MPIDR of a vCPU (reset_mpidr: Aff0 = id[3:0], Aff1 = id[11:4], Aff2 = id[19:12]) and
    /// the reverse (kvm_mpidr_to_vcpu); kNoVcpu when no vCPU has that affinity.
    static uint64_t vcpu_mpidr(uint32_t vcpu);
    uint32_t mpidr_to_vcpu(uint64_t mpidr) const;
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
    /// KVM_DEV_ARM_ITS_SAVE_TABLES -> vgic_its_save_tables_v0. -EACCES (a Refusal) for a
    /// forwarded ITE without GICv4.1 (8082d50f4817), or for any forwarded ITE before 5.13
    /// (SaveSide::Refuse, bd94e7aea403): the save stops there.
    int its_save_tables();
    /// KVM_DEV_ARM_ITS_RESTORE_TABLES -> vgic_its_restore_tables_v0.
    int its_restore_tables();
    /// KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES -> vgic_v3_save_pending_tables: a forwarded LPI's
    /// bit from the VPT on GICv4.1 with SaveSide::VptRead, else from pending_latch.
    int save_pending_tables();
    /// arm.transfer=vm_start: the userspace call at VM start that was proposed and rejected.
    void vm_start_transfer();
    /// One vITS register written by userspace (KVM_DEV_ARM_VGIC_GRP_ITS_REGS ->
    /// vgic_its_attr_regs_access): GITS_CREADR through vgic_mmio_uaccess_write_its_creadr (-EBUSY
    /// while the vITS is enabled, -EINVAL beyond the command queue); GITS_CBASER, GITS_CWRITER and
    /// GITS_BASER<n> through the guest's handlers, so a CBASER write resets CREADR and CWRITER to 0
    /// (vgic_mmio_write_its_cbaser). Returns 0 or the error.
    int its_uaccess_write(uint64_t offset, uint64_t value);
    /// A VMM's vITS register restore: `writes` (offset, value) in the VMM's order, each an
    /// its_uaccess_write, then the values KVM holds afterwards logged (KVM.restore_its_registers).
    void restore_its_registers(const std::vector<std::pair<uint64_t, uint64_t>>& writes);

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
    bool its_references(uint32_t intid) const;
    void put_lpi(uint32_t intid);
    void reset_command_queue(uint64_t cbaser);
    bool write_baser(unsigned n, uint64_t value);
    void lpi_sync_pending_status(VgicIrq& irq);
    void sync_lpi_pending_table(uint32_t vcpu);
    void enable_lpis(uint32_t vcpu);
    void flush_pending_lpis(uint32_t vcpu);
    // vgic-v4.c, vgic-v3.c: the vSGIs
    /// kvm_vgic_map_resources at the VM's first KVM_RUN: vgic_v3_map_resources runs
    /// vgic_v4_configure_vsgis on GICv4.1.
    void map_resources();
    /// vgic_v4_configure_vsgis (under kvm_arm_halt_guest): every vCPU's SGIs to the hardware when
    /// nASSGIreq is set (vgic_v4_enable_vsgis), back to software otherwise (vgic_v4_disable_vsgis).
    void configure_vsgis();
    void enable_vsgis(uint32_t vcpu);
    void disable_vsgis(uint32_t vcpu);
    /// vgic_v4_sync_sgi_config + its_configure_sgi: the vgic_irq's priority, group and enable to
    /// the vPE (VSGI).
    void sync_sgi_config(uint32_t vcpu, const VgicIrq& irq);
    // vgic.c
    void queue(VgicIrq& irq);
    /// vgic_v3_populate_lr for list register `n`.
    void populate_lr(uint32_t vcpu, unsigned n, VgicIrq& irq);
    /// vgic_v3_fold_lr_state for list register `n` (clears it).
    void fold_lr(uint32_t vcpu, unsigned n);
    /// The per-interrupt registers (vgic-mmio.c): `bits` per INTID from `first`, `kind` selects the state.
    enum class IrqReg : uint8_t { Group, SetEnable, ClearEnable, SetPending, ClearPending, SetActive, ClearActive,
                                  Priority, Config };
    uint64_t irq_reg_read(uint32_t vcpu, IrqReg kind, uint32_t first, unsigned count);
    void irq_reg_write(uint32_t vcpu, IrqReg kind, uint32_t first, unsigned count, uint64_t value);
    bool oracle(const VgicIrq& irq) const {
        return irq.target_vcpu != kNoVcpu &&
               (irq.active || (irq.enabled && irq_is_pending(irq) && (!s_.dist_gates_delivery || s_.dist_enabled)));
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
    host::ItsDriver& host_;  // the host's ITS driver (its_* functions)
    host::Cpus& cpus_;       // request_irq for the doorbells
    AddressSpace& guest_;
    EventLog& log_;
    TransferPoint transfer_;
    SaveSide save_;
};

}  // namespace irqdiff::arm::kvm
