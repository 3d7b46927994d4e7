// KVM's vgic state for one VM with GICv4 direct injection (torvalds/linux arch/arm64/kvm/vgic/,
// reference/arm §3): software LPIs (struct vgic_irq) with their pending_latch, the virtual ITS's
// registers and translation state, the vCPUs' vgic_cpu, and the ioctl result codes. State is plain
// data so a VM can be snapshotted by copying it; the logic over it is class Kvm (arm_gic/kvm/kvm.h).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/vfio.h"


namespace irqdiff::arm::kvm {

/// target_vcpu of an LPI whose collection is not mapped.
inline constexpr uint32_t kNoVcpu = UINT32_MAX;
/// A list register slot that holds no interrupt (INTID 0 is SGI 0).
inline constexpr uint32_t kNoIntid = UINT32_MAX;
/// SGIs are INTIDs 0..15, private to each vCPU (VGIC_NR_SGIS).
inline constexpr uint32_t kNrSgis = 16;

/// arm.vsgi_ispendr: what a userspace GICR_ISPENDR0 / ICPENDR0 write does to a GICv4.1 vSGI KVM
/// has handed to the hardware (irq->hw; vgic_mmio.cc declares the policy).
enum class VsgiIspendr : uint8_t {
    /// 7b95382f9651 "KVM: arm64: vgic-v4: Restore pending state on host userspace write" (Marc
    /// Zyngier, Dec 2023, for 6.8 and stable 5.10+) with Oliver Upton's 13886f344445 /
    /// 561851424d93: the write reaches the vPE (irq_set_irqchip_state), pending_latch is cleared.
    Fixed,
    /// Before: vgic_v3_uaccess_write_pending assigns pending_latch only, and an ICPENDR0 write from
    /// userspace is ignored (vgic_mmio_uaccess_write_wi): the vPE never hears of either.
    LatchOnly,
};

/// struct vgic_irq, for LPIs and (in VgicCpu::sgis) a vCPU's SGIs.
struct VgicIrq {
    uint32_t intid = 0;
    uint32_t target_vcpu = kNoVcpu;
    bool pending_latch = false;
    bool enabled = false;
    uint8_t priority = 0xA0;
    bool hw = false;    // forwarded as a vLPI; for an SGI: backed by the vPE's vSGI (GICv4.1)
    int host_irq = -1;  // the host IRQ it is forwarded from (stale after unset_forwarding, as in KVM)
    bool active = false;
    bool queued = false;  // on target_vcpu's ap_list
    // PPIs and SPIs (machine mode, arm_gic/kvm/vgic_mmio.cc): VGIC_CONFIG_LEVEL with the input
    // line's level (irq->line_level), the group and the SPI's GICD_IROUTER affinity (irq->mpidr).
    // LPIs and SGIs are edge-triggered: these keep their defaults there.
    bool level = false;
    bool line_level = false;
    bool group1 = true;
    uint64_t mpidr = 0;
};

/// KVM's irq_is_pending: an edge interrupt's pending_latch; a level one's latch or line level.
inline bool irq_is_pending(const VgicIrq& irq) { return irq.pending_latch || (irq.level && irq.line_level); }

/// PPIs are INTIDs 16..31, private to each vCPU; SPIs start at 32 (VGIC_NR_PRIVATE_IRQS).
inline constexpr uint32_t kNrPrivateIrqs = 32;

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
    std::vector<uint32_t> ap_list;  // queued LPIs and SGIs (INTIDs; SGIs are this vCPU's)
    std::array<uint32_t, 16> lr_intid = [] {
        std::array<uint32_t, 16> a;
        a.fill(kNoIntid);
        return a;
    }();  // the INTID each list register holds (kNoIntid: none)
    std::array<uint32_t, 16> lr_held = [] {
        std::array<uint32_t, 16> a;
        a.fill(kNoIntid);
        return a;
    }();  // machine mode: what each list register held at the last Kvm::vcpu_fold
    std::array<VgicIrq, kNrSgis> sgis{};  // kvm_vgic_vcpu_init: enabled, edge, Group 1, priority 0
    /// PPIs 16..31 (machine mode): kvm_vgic_vcpu_init makes them level, disabled, Group 1 (vgic-v3).
    std::array<VgicIrq, kNrPrivateIrqs - kNrSgis> ppis{};
    VcpuRun run = VcpuRun::Stopped;
};

/// struct vgic_dist and the vCPUs, for one VM.
struct VgicState {
    bool initialized = false;
    uint64_t propbaser = 0;  // KVM keeps one PROPBASER per VM
    std::vector<VgicCpu> cpus;
    std::map<uint32_t, VgicIrq> lpis;
    VirtualIts its;
    /// The MSI routes (DeviceID, EventID) the VMM's routing table left out (KVM_SET_GSI_ROUTING):
    /// an irqfd of one injects nothing.
    std::set<std::pair<uint32_t, uint32_t>> unrouted;
    IrqfdDeassign irqfd_deassign = IrqfdDeassign::Fixed;  // arm.irqfd_deassign (vgic_its.cc)
    // struct vgic_dist, the distributor's part KVM's vSGI code reads (vgic-mmio-v3.c).
    bool dist_enabled = false;  // GICD_CTLR.EnableGrp1 (dist->enabled)
    bool nassgireq = false;     // GICD_CTLR.nASSGIreq: SGIs are GICv4.1 vSGIs (dist->nassgireq)
    bool ready = false;         // kvm_vgic_map_resources ran (dist->ready): at the VM's first KVM_RUN
    VsgiIspendr vsgi_ispendr = VsgiIspendr::Fixed;  // arm.vsgi_ispendr (vgic_sgi.cc)
    /// SPIs 32.. (machine mode; kvm_vgic_dist_init: level, disabled, Group 1 on a vGICv3, no
    /// target until GICD_IROUTER names a vCPU). Empty unless init_spis ran (vgic_mmio.cc).
    std::vector<VgicIrq> spis;
    /// Machine mode: GICD_CTLR.EnableGrp1 gates delivery (vgic_target_oracle: no target while the
    /// distributor is disabled; vgic_kick_vcpus when it is enabled). The abstract scenarios never
    /// program the distributor, so their vgic keeps this off.
    bool dist_gates_delivery = false;
};

/// KVM's ioctl results, as the kernel returns them.
inline constexpr int kOk = 0;
inline constexpr int kEfault = -14;
inline constexpr int kEacces = -13;
inline constexpr int kEbusy = -16;
inline constexpr int kEnxio = -6;
inline constexpr int kEinval = -22;


}  // namespace irqdiff::arm::kvm
