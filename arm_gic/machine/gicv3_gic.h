// The guest-visible GICv3 + ITS of machine mode (issue 16 item 4; docs/machine_gic.md
// "Guest-visible GICv3"): QEMU virt's GICD (0x0800_0000), GITS (0x0808_0000) and GICR
// (0x080A_0000, 128 KiB per vCPU) windows and the ICC_* system registers, backed by the project's
// KVM vgic model (arm_gic/kvm/) running on the GICv4.1 hardware model (arm_gic/hw/), as a KVM
// guest sees them (reference/arm_virt_machine.md §7). Independent of Unicorn: the board calls
// mmio_read/mmio_write for accesses in mmio_regions(), sysreg_read/sysreg_write for ICC_* traps,
// set_ppi/set_spi for its lines, and the queries below between instruction blocks.
//
// The CPU interface a KVM guest uses is the hardware's ICV_* interface (list registers + the
// resident vPE): ICC_IAR1/EOIR1/PMR/IGRPEN1/HPPIR1/RPR go to the hardware model's CpuInterface,
// whose list registers KVM fills from the ap_list. Any change of interrupt state (an MMIO write, a
// line, an SGI, an ITS command) is a kick of the vCPUs concerned: their list registers are folded
// back (kvm_vgic_sync_hwstate) and refilled (kvm_vgic_flush_hwstate) before the guest reads ICC_*.
// Bad guest input is RAZ/WI and logged (KVM.machine_gic_access), never an exception.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "arm_gic/machine.h"
#include "arm_gic/machine/vits_mmio.h"

namespace irqdiff::arm::machine {

/// The ICC_* registers the component implements, by name (encodings: icc_reg()).
enum class IccReg : uint8_t {
    PMR, IAR0, EOIR0, HPPIR0, BPR0, AP0R0, AP1R0, DIR, RPR, SGI1R, ASGI1R, SGI0R, IAR1, EOIR1, HPPIR1, BPR1,
    CTLR, SRE, IGRPEN0, IGRPEN1, Unknown
};
const char* to_string(IccReg r);
/// The ICC register an MRS/MSR encoding (op0, op1, CRn, CRm, op2) names (IHI 0069 §12.2), or Unknown.
IccReg icc_reg(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2);

struct GicV3Config {
    uint32_t vcpus = 1;        // 1..123 (the GICR window's size in QEMU virt)
    uint32_t nr_spis = 64;     // SPIs 32..95 (QEMU virt: NUM_IRQS 256 -> 224; 64 is enough for its devices)
    GicVersion host = GicVersion::V4_1;
    kvm::TransferPoint transfer = kvm::TransferPoint::SetForwarding;
    unsigned list_registers = 4;
};

class GicV3 {
   public:
    static constexpr uint64_t kGicdBase = 0x0800'0000, kGicdSize = 0x1'0000;
    static constexpr uint64_t kGitsBase = 0x0808'0000, kGitsSize = 0x2'0000;
    static constexpr uint64_t kGicrBase = 0x080A'0000, kGicrStride = 0x2'0000;
    static constexpr uint32_t kMaxVcpus = 123;
    static constexpr uint32_t kNone = 1023;  // the spurious INTID: nothing pending

    /// `guest` is guest-physical memory as the KVM model reads it (ITS command queue, tables,
    /// LPI configuration and pending tables); `log` receives the model's events.
    GicV3(const GicV3Config& config, AddressSpace& guest, EventLog& log);
    /// Machine mode: the model's own guest memory (Machine::mem.guest, which the ARM migration
    /// driver saves and restores through) is a view of the board's RAM, `size` bytes at `base`.
    GicV3(const GicV3Config& config, uint8_t* ram, uint64_t base, uint64_t size, EventLog& log);
    /// Machine mode after a migration: adopts the destination machine the ARM backend's restore
    /// steps built (its mem.guest a view of the destination board's RAM), with the guest-visible
    /// state the stream carried (`its` the vITS MMIO state, the ICC registers the model does not hold).
    struct CpuIfExtra {
        uint8_t bpr1 = 3, eoimode = 0;
    };
    GicV3(const GicV3Config& config, std::unique_ptr<Machine> machine, EventLog& log);
    /// Machine mode's migration: the model's machine, its vCPUs' list registers folded back into
    /// the vgic (what pause_all_vcpus leaves: every vCPU out of the guest). The GicV3 is unusable after.
    std::unique_ptr<Machine> release_machine();
    std::vector<CpuIfExtra> cpuif_extra() const;
    void set_cpuif_extra(const std::vector<CpuIfExtra>& extra);
    const GicV3Config& config() const { return cfg_; }

    struct Region {
        uint64_t base, size;
        const char* name;
    };
    std::vector<Region> mmio_regions() const;

    // ---- the guest's accesses ------------------------------------------------------------------
    uint64_t mmio_read(uint64_t addr, unsigned size, uint32_t vcpu);
    void mmio_write(uint64_t addr, uint64_t value, unsigned size, uint32_t vcpu);
    uint64_t sysreg_read(uint32_t vcpu, IccReg reg);
    void sysreg_write(uint32_t vcpu, IccReg reg, uint64_t value);

    // ---- lines and device MSIs -----------------------------------------------------------------
    /// A PPI line (16..31) of `vcpu`: the virtual timer is PPI 27.
    void set_ppi(uint32_t vcpu, uint32_t intid, bool level);
    /// An SPI line (32 ..): the PL011 is SPI 1 = INTID 33.
    void set_spi(uint32_t intid, bool level);
    /// A device's MSI write to GITS_TRANSLATER with its requester ID (QEMU
    /// arm_gicv3_its_kvm.c kvm_its_send_msi -> KVM_SIGNAL_MSI -> vgic_its_inject_msi).
    int device_msi(uint32_t devid, uint32_t eventid);

    // ---- assigned (VFIO passthrough) devices (issue 16 item 5) ---------------------------------
    /// Marks guest DeviceID `devid` as a passthrough device with `events` MSI vectors (EventIDs
    /// 0..events-1) behind host ITS 0. Once the guest's ITS commands make one of its events
    /// translate, the VMM path runs (vfio_msix_enable: irqfd + host IRQ, then the irq bypass ->
    /// kvm_vgic_v4_set_forwarding), and each event mapped later is forwarded too. Returns false
    /// (nothing done) for a DeviceID already assigned or 0 events.
    bool assign_device(uint32_t devid, uint32_t events);
    /// The assigned device raises event `eventid`: its MSI goes to the host ITS, and from there to
    /// the VPT (a forwarded vLPI) or through vfio_msihandler -> irqfd -> vgic_its_trigger_msi.
    void assigned_msi(uint32_t devid, uint32_t eventid);
    /// --assign all: every DeviceID the guest maps (MAPD) becomes an assigned device with as many
    /// events as its ITT holds (at most 2048, an MSI-X table's size).
    void assign_all(bool on) { assign_all_ = on; }
    /// The assigned devices: guest DeviceID and number of events, in assignment order.
    std::vector<std::pair<uint32_t, uint32_t>> assigned_devices() const;
    /// Whether (devid, eventid) is forwarded as a vLPI now.
    bool forwarded(uint32_t devid, uint32_t eventid) const;

    // ---- the board's queries -------------------------------------------------------------------
    /// The INTID ICC_IAR1_EL1 would return now (priority mask, group enable, running priority);
    /// kNone when nothing is deliverable.
    uint32_t highest_pending(uint32_t vcpu);
    bool irq_pending(uint32_t vcpu) { return highest_pending(vcpu) != kNone; }
    /// ICC_IAR1_EL1 (activate) and ICC_EOIR1_EL1 / ICC_DIR_EL1.
    uint32_t acknowledge(uint32_t vcpu) { return static_cast<uint32_t>(sysreg_read(vcpu, IccReg::IAR1)); }
    void eoi(uint32_t vcpu, uint32_t intid) { sysreg_write(vcpu, IccReg::EOIR1, intid); }
    /// WFI: kvm_vcpu_wfi -> vgic_v4_put with a doorbell (GICv4.1), kvm_vcpu_block.
    void vcpu_waits(uint32_t vcpu);
    /// Whether a waiting vCPU has been kicked (a doorbell, a queued interrupt).
    bool wake_pending(uint32_t vcpu);
    /// The vCPU runs (first entry, after CPU_ON, after its WFI ends): vcpu_load -> vgic_v4_load.
    void vcpu_runs(uint32_t vcpu);
    /// KVM's MPIDR for vCPU n (the board's MPIDR_EL1 and DT cpu reg must use it).
    static uint64_t mpidr(uint32_t vcpu) { return kvm::Kvm::vcpu_mpidr(vcpu); }

    kvm::Kvm kvm();
    Machine& machine() { return *m_; }
    const kvm::VgicState& vgic() const { return m_->vgic; }
    VitsMmio& its() { return its_; }

   private:
    void fold_all();    // every entered vCPU's list registers back into the vgic (a kick / halt)
    void enter(uint32_t vcpu);  // refill the vCPU's list registers if they were folded
    void service();     // host interrupts (vPE doorbells, VFIO vectors) run their handlers
    void bind_assigned();  // the VMM's irqfd + bypass for assigned events the guest has mapped
    int assigned_index(uint32_t devid) const;
    void ignored(uint32_t vcpu, const std::string& what, uint64_t addr, unsigned size);

    void init_state();

    GicV3Config cfg_;
    AddressSpace* guest_;
    EventLog& log_;
    std::unique_ptr<Machine> m_;
    VitsMmio its_;
    std::vector<bool> in_guest_;  // list registers hold the vCPU's interrupts
    std::vector<uint8_t> bpr1_, eoimode_;
    bool assign_all_ = false;
};

}  // namespace irqdiff::arm::machine
