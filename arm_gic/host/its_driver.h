// The host kernel's GICv3/v4 ITS driver, reduced to what KVM uses (torvalds/linux
// drivers/irqchip/irq-gic-v3-its.c and irq-gic-v4.c, reference/arm §2): it owns the host ITS
// tables, command queues and LPIs; it gives VFIO its MSIs as host IRQs backed by physical LPIs;
// it maps and unmaps vLPIs (its_map_vlpi / its_unmap_vlpi), sets their pending state with
// INT/CLEAR, maps vPEs (VMAPP) and moves them between redistributors (VMOVP), and makes them
// resident. It drives the hardware model only through its registers and command queues, as the
// driver drives real hardware.
//
// vPE mapping follows gic_requires_eager_mapping: every vPE is mapped on every ITS when its
// doorbell is activated unless the driver needs an ITSList (some ITS lacks GITS_TYPER.VMOVP, read
// at init) on GICv4.0; then the VM's vPEs are mapped on an ITS when its first vLPI lands there
// (its_map_vm) and unmapped after its last (its_unmap_vm). A vPE is mapped to the first online
// CPU's redistributor (col_idx) and follows the CPU that loads it (its_vpe_set_affinity: VMOVP).
//
// Host physical memory layout (HostLayout):
//   0x0100'0000  command queue of ITS i at + i * 64 KiB
//   0x0200'0000  device table of ITS i at + i * 256 KiB (flat, 64 KiB pages x 4)
//   0x0300'0000  collection table of ITS i at + i * 4 KiB
//   0x0400'0000  vPE table (flat, 64 KiB pages x 2; shared by the ITSs and, on 4.1, the RDs)
//   0x0500'0000  LPI configuration table (PROPBASER, 16 ID bits)
//   0x0600'0000  LPI pending table of redistributor r at + r * 64 KiB
//   0x1000'0000  ITT of host device n at + n * 64 KiB
//   0x2000'0000  VPT of vPE v at + v * 64 KiB (16 ID bits: 8 KiB used)
//   0x3000'0000  the VM's vLPI configuration table ("vprop", VMAPP VCONF_addr / 4.0 VPROPBASER)
#pragma once

#include <cstdint>
#include <vector>

#include "arm_gic/hw/gic.h"

namespace irqdiff::arm::host {

struct HostLayout {
    static constexpr uint64_t kCmdQueue = 0x0100'0000;
    static constexpr uint64_t kDeviceTable = 0x0200'0000;
    static constexpr uint64_t kCollectionTable = 0x0300'0000;
    static constexpr uint64_t kVpeTable = 0x0400'0000;
    static constexpr uint64_t kPropTable = 0x0500'0000;
    static constexpr uint64_t kPendTables = 0x0600'0000;
    static constexpr uint64_t kItts = 0x1000'0000;
    static constexpr uint64_t kVpts = 0x2000'0000;
    static constexpr uint64_t kVprop = 0x3000'0000;
    static constexpr unsigned kIdBits = 16;                // LPI and vLPI INTIDs below 2^16
    static constexpr uint8_t kDefaultProp = 0xA0 | 2 | 1;  // LPI_PROP_DEFAULT_PRIO | RES1 | enabled
};

/// One host IRQ backed by a physical LPI: a VFIO MSI vector's host_irq.
struct HostIrq {
    uint32_t device_id = 0;  // host DeviceID
    uint32_t event_id = 0;
    uint32_t lpi = 0;
    bool forwarded = false;  // mapped as a vLPI (its_vlpi_map)
    uint32_t vpeid = 0;
    uint32_t vintid = 0;
};

/// The driver's error return (-EINVAL), as its_vpe_set_affinity returns it.
inline constexpr int kEinval = -22;
/// cpumask_first(cpu_online_mask): every host CPU of the model is online.
inline constexpr unsigned kFirstOnlineCpu = 0;

/// struct its_vpe (include/linux/irqchip/arm-gic-v4.h), the fields KVM relies on.
struct HostVpe {
    uint32_t vpeid = 0;
    uint32_t doorbell = kNoDoorbell;  // the doorbell LPI
    uint64_t vpt = 0;
    unsigned rd = kFirstOnlineCpu;  // col_idx: the redistributor VMAPP and VMOVP name
    unsigned resident_rd = 0;       // the redistributor of the CPU that last made it resident
    unsigned vmapp_count = 0;       // ITSs mapping it (common to 4.0 and 4.1 since 1442ee0011983)
    bool resident = false;
    bool ready = false;             // its_commit_vpe saw Dirty clear
    bool pending_last = false;      // the scheduling hint (doorbell handler, de-schedule read-back)
    bool doorbell_enabled = false;  // GICv4.0: the doorbell host IRQ is enabled only while blocking
};

class ItsDriver {
   public:
    /// its_init and the redistributors' LPI set-up: tables, queues, MAPC per redistributor,
    /// EnableLPIs; on GICv4.1 also GICR_VPROPBASER for the shared vPE table.
    void init(Gic& gic);

    /// A PCI device behind ITS 0 with `vectors` MSIs (MAPD); returns its host DeviceID.
    uint32_t add_device(Gic& gic, uint32_t vectors);
    /// request_irq for one MSI vector: a new LPI mapped with MAPTI to collection 0. Returns the
    /// host IRQ number (an index into irqs()).
    int request_irq(Gic& gic, uint32_t device_id, uint32_t event_id);
    /// free_irq: DISCARD the vector's mapping (virtual or physical).
    void free_irq(Gic& gic, int host_irq);

    /// gic_requires_eager_mapping: no ITSList in use (every GICv4 ITS has GITS_TYPER.VMOVP), or
    /// GICv4.1 (has_rvpeid: vSGIs need every vPE mapped).
    bool eager_mapping() const { return its_list_map_ == 0 || has_rvpeid_; }

    /// its_vpe_init: a vPE with a zeroed VPT and a doorbell LPI (enabled on 4.1; on 4.0 enabled
    /// only around blocking, IRQ_NOAUTOEN), on the first online CPU.
    void vpe_init(Gic& gic, uint32_t vpeid);
    /// its_vpe_irq_domain_activate (the doorbell's request_irq): col_idx is the first online CPU;
    /// with eager mapping, VMAPP V=1 (GICv4.1: Alloc=1 on the first map, PTZ=0 as c21bc068cdbe
    /// leaves it) then VINVALL on every ITS.
    void map_vpe(Gic& gic, uint32_t vpeid);
    /// its_vpe_irq_domain_deactivate: with eager mapping, VMAPP V=0 on every ITS (GICv4.1: Alloc=1
    /// on the last unmap).
    void unmap_vpe(Gic& gic, uint32_t vpeid);
    /// its_vpe_set_affinity (irq_set_affinity on the vPE's doorbell, from vgic_v4_load): the vPE
    /// moves to `cpu`'s redistributor with a VMOVP (and, on 4.0, its pending doorbell is cleared on
    /// the old one) when that is not where it is. A vPE no ITS maps is not moved: -EINVAL with eager
    /// mapping (1442ee0011983), 0 when mapped lazily (e6c24e2d05bb). Returns 0 or -EINVAL.
    int set_affinity(Gic& gic, uint32_t vpeid, unsigned cpu);

    /// its_map_vlpi: forward a host IRQ as vINTID of vPE (DISCARD the physical ITE, write the
    /// property byte, VMAPTI, VSYNC); if already forwarded, VMOVI to the new vPE. On GICv4.0 the
    /// VM is first mapped on the ITS (its_map_vm).
    void map_vlpi(Gic& gic, int host_irq, uint32_t vpeid, uint32_t vintid, uint8_t prop);
    /// its_unmap_vlpi: DISCARD the virtual ITE and MAPTI the physical LPI back. No pending state
    /// is read back (reference/arm §2).
    void unmap_vlpi(Gic& gic, int host_irq);
    /// irq_set_irqchip_state(PENDING) on a forwarded IRQ: INT or CLEAR, then VSYNC.
    void vlpi_set_pending(Gic& gic, int host_irq, bool pending);
    /// its_prop_update_vlpi: new property byte in the vprop table, then INV and VSYNC.
    void prop_update_vlpi(Gic& gic, int host_irq, uint8_t prop);
    /// its_invall_vpe: VINVALL.
    void invall_vpe(Gic& gic, uint32_t vpeid);

    /// its_make_vpe_resident on CPU `cpu`'s redistributor (4.1 its_vpe_4_1_schedule / 4.0
    /// its_vpe_schedule).
    void make_resident(Gic& gic, uint32_t vpeid, unsigned cpu, bool group1_enabled);
    /// its_commit_vpe: poll GICR_VPENDBASER.Dirty until the VPT is parsed.
    void commit(Gic& gic, uint32_t vpeid);
    /// its_make_vpe_non_resident: clear Valid (its_clear_vpend_valid: the value read, Valid
    /// cleared; 4.1: PendingLast clear and DB set to ask for a doorbell, PendingLast set for none),
    /// poll Dirty until the de-schedule is done and read PendingLast back. On 4.0 the doorbell host
    /// IRQ is enabled when a doorbell is requested.
    void make_non_resident(Gic& gic, uint32_t vpeid, bool doorbell);
    /// GICv4.0 enable_irq / disable_irq of a vPE's doorbell: its property byte and GICR_INVLPIR.
    void set_doorbell_enabled(Gic& gic, uint32_t vpeid, bool enabled);

    // ---- vSGIs (GICv4.1): the vPE's sgi_domain IRQs, one per SGI ---------------------------------
    /// its_configure_sgi(d, false) (activation, enable/disable, its_prop_update_vsgi): a VSGI with
    /// the configuration, then VSYNC, on the first GICv4.1 ITS (find_4_1_its).
    void vsgi_configure(Gic& gic, uint32_t vpeid, unsigned sgi, uint8_t priority, bool group1, bool enable);
    /// its_sgi_set_irqchip_state(PENDING): true writes GITS_SGIR (vPEID, vINTID); false is a VSGI
    /// with Clear (its_configure_sgi(d, true)).
    void vsgi_set_pending(Gic& gic, uint32_t vpeid, unsigned sgi, bool pending);
    /// its_sgi_get_irqchip_state: GICR_VSGIR = vPEID on the vPE's redistributor (col_idx), then
    /// GICR_VSGIPENDR read until Busy clears.
    bool vsgi_pending(Gic& gic, uint32_t vpeid, unsigned sgi);
    /// its_sgi_irq_domain_deactivate: disable (VSGI Enable=0), then clear pending (VSGI Clear):
    /// "You just can't do both at once".
    void vsgi_deactivate(Gic& gic, uint32_t vpeid, unsigned sgi, uint8_t priority, bool group1);

    /// vgic_v4_get_vlpi_state: vINTID's bit in the vPE's VPT, read from host memory. Meaningful
    /// only while the vPE is unmapped on GICv4.1 (reference/arm §1.5).
    bool read_vpt_bit(const Gic& gic, uint32_t vpeid, uint32_t vintid) const;

    const std::vector<HostIrq>& irqs() const { return irqs_; }
    const HostIrq& irq(int host_irq) const { return irqs_.at(static_cast<size_t>(host_irq)); }
    HostVpe& vpe(uint32_t vpeid) { return vpes_.at(vpeid); }
    const HostVpe& vpe(uint32_t vpeid) const { return vpes_.at(vpeid); }
    size_t vpe_count() const { return vpes_.size(); }

   private:
    /// its_send_single_command: put the command in ITS i's queue and advance GITS_CWRITER.
    void send(Gic& gic, unsigned its, const ItsCommand& c);
    uint32_t alloc_lpi(Gic& gic, uint8_t prop);
    /// its_send_vmapp / its_build_vmapp_cmd on ITS `its`: the GICv4.1 fields only on 4.1.
    void send_vmapp(Gic& gic, unsigned its, HostVpe& v, bool valid);
    /// its_send_vmovp: the vPE to its col_idx; one ITS without an ITSList, else every ITS the VM
    /// is mapped on, with one SEQ_NUM.
    void send_vmovp(Gic& gic, const HostVpe& v);
    /// its_map_vm / its_unmap_vm on ITS `its` (only when mapping lazily).
    void map_vm(Gic& gic, unsigned its);
    void unmap_vm(Gic& gic, unsigned its);
    /// its_clear_vpend_valid on the vPE's redistributor: returns GICR_VPENDBASER once Dirty reads 0.
    uint64_t clear_vpend_valid(Gic& gic, const HostVpe& v, uint64_t clr, uint64_t set);

    std::vector<uint64_t> cwriter_;
    uint16_t its_list_map_ = 0;         // GICv4 ITSs without GITS_TYPER.VMOVP: ITSList bit = ITS index
    bool has_rvpeid_ = false;           // GICv4.1
    std::vector<unsigned> vlpi_count_;  // per ITS: the VM's vLPIs mapped there (its_vm::vlpi_count)
    uint16_t vmovp_seq_ = 0;            // vmovp_seq_num
    uint32_t next_lpi_ = 8192;
    uint32_t next_device_ = 0x100;
    std::vector<HostIrq> irqs_;
    std::vector<HostVpe> vpes_;
};

}  // namespace irqdiff::arm::host
