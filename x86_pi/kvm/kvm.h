// KVM on VMX for one VM, with APICv and VT-d posted interrupts (torvalds/linux arch/x86/kvm/,
// reference/x86_posted_interrupts_kvm_migration.md §4-§5, "reference §4"): the in-kernel local
// APIC whose register page is the virtual-APIC page (lapic.cc), the posted-interrupt descriptor
// life cycle over vCPU load/put/block and the PIR -> IRR sync (posted_intr.cc), VM entry, exits
// and event injection (vmx.cc), MSI routes, irqfds, the software interrupt path and irq bypass
// (irq.cc), and KVM_GET_LAPIC / KVM_SET_LAPIC. Each function that mirrors a kernel function names
// it.
//
// State is plain data (KvmState) so a VM can be snapshotted by copying it; the logic (Kvm) is a
// view over that state, the host platform, the host's interrupt-remapping driver and its
// vectors (x86_pi/host/).
//
// Host memory KVM allocates (HostLayout): vCPU v's posted-interrupt descriptor at
// 0x2000'0000 + 64 v, its APIC register page (= virtual-APIC page) at 0x3000'0000 + 4 KiB v.
// vCPU v always runs on pCPU v.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/bits.h"
#include "core/policy.h"
#include "core/vfio.h"
#include "x86_pi/hw/apic_page.h"
#include "x86_pi/hw/pi_desc.h"
#include "x86_pi/hw/platform.h"
#include "x86_pi/host/cpu.h"
#include "x86_pi/host/irq_remapping.h"

namespace irqdiff::x86::kvm {

/// Host vectors KVM uses (the host's system vectors, x86_pi/host/cpu.h).
inline constexpr uint8_t kPostedIntrVector = host::kPostedIntrVector;
inline constexpr uint8_t kPostedIntrWakeupVector = host::kPostedIntrWakeupVector;
inline constexpr uint8_t kRescheduleVector = host::kRescheduleVector;

struct HostLayout {
    static constexpr uint64_t kPids = 0x2000'0000;
    static constexpr uint64_t kApicPages = 0x3000'0000;
    static uint64_t pid(uint32_t vcpu) { return kPids + kPiDescBytes * vcpu; }
    static uint64_t apic_page(uint32_t vcpu) { return kApicPages + apic::kPageBytes * vcpu; }
    /// The VM's PID-pointer table (IPI virtualization): 8 bytes per APIC ID.
    static constexpr uint64_t kPidPointerTable = 0x2800'0000;
};

/// When KVM_SET_LAPIC drops stale posted state (policy x86.set_lapic_clears_pir).
enum class SetLapicClear : uint8_t {
    BeforeLoad,  // apicv_pre_state_restore, before the register image (9cfec6d097c6, 2023)
    AfterLoad,   // apicv_post_state_restore, after it and after the timer restart (967235d32032)
};

/// When vmx_vcpu_pi_put suppresses notifications (policy x86.sn_on_put, declared in posted_intr.cc).
enum class SnOnPut : uint8_t {
    Always,         // every put that does not arm the wakeup vector sets SN (6737557442e5, 6.17 cycle)
    PreemptedOnly,  // only a preempted vCPU gets SN; a paused one keeps SN=0 and NV=POSTED_INTR_VECTOR
};

/// What KVM_GET_VCPU_EVENTS reports in nmi.pending (policy x86.vcpu_events_nmi, declared in vmx.cc).
enum class NmiPendingAbi : uint8_t {
    Count,  // kvm_get_nr_pending_nmis: every pending NMI (ab2ee212a57b, Linux 6.4)
    Flag,   // nmi_pending != 0: one, however many are pending (v3.2 7460fb4a3400 until 6.3)
};

struct KvmConfig {
    bool apicv = true;  // enable_apicv with VT-d posting (policy x86.posting)
    SetLapicClear clear = SetLapicClear::BeforeLoad;
    SnOnPut sn_on_put = SnOnPut::Always;
    bool ipiv = false;  // enable_ipiv (policy x86.ipiv; with APICv only, vmx_can_use_ipiv)
    IrqfdDeassign deassign = IrqfdDeassign::Fixed;  // x86.irqfd_deassign (irq.cc)
    NmiPendingAbi nmi_pending_abi = NmiPendingAbi::Count;  // x86.vcpu_events_nmi (vmx.cc)
    static KvmConfig from_policy(const PolicyValues& policy);
};

// KVM's policies, read by KvmConfig::from_policy (declared in lapic.cc; defaults are KvmConfig's).
extern const Policy<SetLapicClear> kSetLapicClearPolicy;  // x86.set_lapic_clears_pir
extern const Policy<bool> kPostingPolicy;                 // x86.posting
extern const Policy<SnOnPut> kSnOnPutPolicy;              // x86.sn_on_put (posted_intr.cc)
extern const Policy<bool> kIpivPolicy;                    // x86.ipiv
extern const Policy<IrqfdDeassign> kIrqfdDeassignPolicy;  // x86.irqfd_deassign (declared in irq.cc)
extern const Policy<NmiPendingAbi> kNmiPendingAbiPolicy;  // x86.vcpu_events_nmi (declared in vmx.cc)

/// The guest-format MSI a route carries [SDM Vol. 3A "Message Address Register Format" and
/// "Message Data Register Format"; not in reference/].
struct MsiAddress {
    static constexpr Field<31, 20> Fee{};
    static constexpr Field<19, 12> DestId{};
    static constexpr Field<3> RH{};
    static constexpr Field<2> DM{};  // 1 = logical
};
struct MsiData {
    static constexpr Field<15> TriggerMode{};  // 1 = level
    static constexpr Field<14> Level{};
    static constexpr Field<10, 8> DeliveryMode{};  // 0 fixed, 1 lowest priority, 4 NMI
    static constexpr Field<7, 0> Vector{};
};
struct MsiMessage {
    uint64_t address = 0;
    uint32_t data = 0;
    bool operator==(const MsiMessage&) const = default;
};

enum class VcpuRun : uint8_t {
    InGuest,   // in KVM_RUN and entered: the pCPU is in non-root operation (or handling an exit)
    Runnable,  // put (preempted, woken, or not started): loaded and entered at its next run
    Blocked,   // halted in kvm_vcpu_block, waiting for a wake-up
    Stopped,   // paused by the VMM (out of KVM_RUN)
};
const char* to_string(VcpuRun r);

/// vcpu->arch.mp_state, the part KVM_GET_MP_STATE / KVM_SET_MP_STATE carry that the model has:
/// RUNNABLE, or HALTED after HLT (kvm_emulate_halt -> kvm_vcpu_halt) until vcpu_block finds the
/// vCPU runnable again. It outlives the vCPU thread's stay in KVM_RUN: a vCPU paused while halted
/// is still HALTED, and QEMU migrates it (kvm_get_mp_state, vmstate_x86_cpu env.mp_state,
/// kvm_put_mp_state).
enum class MpState : uint8_t { Runnable, Halted };
const char* to_string(MpState m);

/// What kvm_apic_set_state's timer restart does with a restored image (__start_apic_timer(apic,
/// APIC_TMCCT) -> set_target_expiration).
enum class TimerRestart : uint8_t {
    Stopped,  // TMICT 0 (period 0); in TSC-deadline mode, no deadline (lapic_timer.tscdeadline 0)
    Armed,    // restarted from a non-zero TMCCT (or a periodic timer's period, or the deadline)
    Expired,  // one-shot with TMCCT 0: deadline 0, it expires inside KVM_SET_LAPIC (8e6ed96cdd50)
};
const char* to_string(TimerRestart r);

struct Vcpu {
    VcpuRun run = VcpuRun::Stopped;
    bool loaded = false;         // between vcpu_load and vcpu_put
    bool in_guest_mode = false;  // vcpu->mode == IN_GUEST_MODE
    int cpu = -1;                // vcpu->cpu: the pCPU it was last loaded on
    bool on_wakeup_list = false;
    bool req_event = false;  // KVM_REQ_EVENT
    uint64_t apic_base = 0;  // MSR_IA32_APICBASE
    MpState mp_state = MpState::Runnable;
    /// The LAPIC timer's hrtimer is running: a one-shot whose target expiration has not come (time
    /// is not modelled: the deadline is the scenario's `fire`).
    bool timer_armed = false;
    /// lapic_timer.pending: an expiry counted while the tick could not be injected at once (the
    /// hrtimer fired outside the guest, or APICv is off); kvm_inject_pending_timer_irqs injects it
    /// at the vCPU's next pass through vcpu_run. Not in the IRR, so KVM_GET_LAPIC does not see it.
    bool timer_pending = false;
    /// lapic_timer.tscdeadline: the IA32_TSC_DEADLINE value of a timer in TSC-deadline mode (LVTT
    /// mode 2), 0 when disarmed. Time is not modelled: the deadline passing is the scenario's
    /// `fire`; the value only says whether one is set.
    uint64_t tsc_deadline = 0;
    /// lapic_timer.timer_mode: LVTT's mode as apic_update_lvtt last saw it (with APIC-write
    /// virtualization the page already holds the new LVTT when KVM hears of the write).
    uint8_t timer_mode = 0;
    /// Model provenance, not architectural: the vectors whose pending state KVM's software path
    /// (kvm_set_msi, the timer, KVM_SIGNAL_MSI) put there, so a delivery can say which path it took.
    BitArray<256> soft{};
    /// What the emulation of the last APIC-access read exit gave the instruction's destination
    /// register (nullopt: an offset KVM does not read), until the guest's side takes it.
    std::optional<uint32_t> emulated_read;
    /// vcpu->arch.nmi_queued (kvm_inject_nmi counts it up) and nmi_pending (process_nmi moves the
    /// queued ones there, capped), with KVM_REQ_NMI. The counts are the vectors' sizes; each entry is
    /// the model's provenance of one NMI, the vector field of the MSI that raised it (an NMI carries no
    /// vector). vcpu->arch.nmi_injected is the VMCS's entry_nmi / idt_vectoring_nmi (nmi_injected()).
    std::vector<uint8_t> nmi_queued;
    std::vector<uint8_t> nmi_pending;
    bool req_nmi = false;  // KVM_REQ_NMI
};

struct Irqfd {
    int host_irq = -1;     // the bypass producer (VFIO's host IRQ), -1 when none is connected
    int posted_vcpu = -1;  // irqfd->irq_bypass_vcpu: the vCPU the IRTE posts to, -1 when remapped
};

/// kvm->arch.apic_map: who each destination names (kvm_recalculate_apic_map): every
/// hardware-enabled APIC by xAPIC ID, the software-enabled ones by logical ID. xAPIC only; logical
/// destinations are resolved in the flat model (DFR 0xF), as a cluster-model guest's are not
/// modelled.
struct ApicMap {
    std::array<int16_t, 256> phys{};   // xAPIC ID -> vCPU, -1 none, -2 two vCPUs share the ID
    std::array<int16_t, 8> logical{};  // flat logical ID bit -> vCPU, -1 none, -2 shared
};

/// What KVM_GET_LAPIC returns and QEMU migrates (with MSR_IA32_APICBASE, which QEMU writes
/// first on restore: kvm_apic_put).
struct LapicImage {
    std::array<uint8_t, apic::kStateBytes> regs{};
    uint64_t apic_base = 0;
    BitArray<256> soft{};  // model provenance (see Vcpu::soft), carried beside the image
    uint32_t reg(uint32_t offset) const;
    bool test(uint32_t reg, uint8_t vector) const;
};

/// The vCPU register state this model migrates besides the LAPIC: RFLAGS.IF (KVM_GET_REGS /
/// KVM_SET_REGS) and an interrupt whose injection a VM exit interrupted (KVM_GET_VCPU_EVENTS
/// interrupt.injected / KVM_SET_VCPU_EVENTS). QEMU reads them with the LAPIC
/// (cpu_synchronize_all_states) and writes them before the VM starts
/// (cpu_synchronize_all_post_init -> kvm_arch_put_registers), with the MP state
/// (kvm_get_mp_state / kvm_put_mp_state, at KVM_PUT_FULL_STATE after the vCPU events).
struct VcpuRegs {
    bool rflags_if = false;
    std::optional<uint8_t> injected;
    MpState mp_state = MpState::Runnable;  // KVM_GET_MP_STATE / KVM_SET_MP_STATE
    /// kvm_vcpu_events.nmi: `pending` (a count, or 0/1 before ab2ee212a57b: x86.vcpu_events_nmi),
    /// `injected`, `masked`; QEMU carries them as env->nmi_pending, env->nmi_injected and HF2_NMI_MASK
    /// (kvm_get_vcpu_events / kvm_put_vcpu_events, KVM_VCPUEVENT_VALID_NMI_PENDING). Entries are the
    /// model's provenance tags (Vcpu::nmi_pending); `nmi_pending.size()` is the count.
    std::vector<uint8_t> nmi_pending;
    std::optional<uint8_t> nmi_injected;
    bool nmi_masked = false;
};

/// The MSRs this model migrates (QEMU kvm_get_msrs / kvm_put_msrs, KVM_GET_MSRS / KVM_SET_MSRS):
/// MSR_IA32_TSCDEADLINE only, which QEMU carries as env->tsc_deadline.
inline constexpr uint32_t kMsrIa32TscDeadline = 0x6E0;
struct MsrImage {
    uint64_t tsc_deadline = 0;
    bool operator==(const MsrImage&) const = default;
};

struct KvmState {
    KvmConfig config;
    std::vector<Vcpu> vcpus;
    std::map<uint32_t, MsiMessage> routes;            // GSI -> MSI route (KVM_SET_GSI_ROUTING)
    std::map<uint32_t, Irqfd> irqfds;                 // by GSI (KVM_IRQFD)
    std::vector<std::vector<uint32_t>> wakeup_lists;  // per pCPU: vCPUs blocked with the wakeup vector
    unsigned bypass_irqs = 0;                         // kvm->arch.nr_possible_bypass_irqs
    ApicMap map;
};

/// KVM's ioctl results, as the kernel returns them.
inline constexpr int kOk = 0;
inline constexpr int kEinval = -22;

/// LVT timer mode 2 (LVTT[18:17], apic::LvtTimer::Mode): TSC deadline (SDM Vol. 3A "LVT timer").
inline constexpr uint64_t kLvttTscDeadline = 2;

class Kvm {
   public:
    Kvm(KvmState& state, Platform& platform, host::IrqRemapping iommu, host::Vectors& vectors,
        AddressSpace& host_memory, EventLog& log)
        : s_(state), hw_(platform), iommu_(iommu), vectors_(vectors), mem_(host_memory), log_(log) {}

    /// KVM_CREATE_VCPU for each vCPU: the LAPIC at reset, the VMCS (init_vmcs), the PID at reset.
    void init(unsigned vcpus, const KvmConfig& config);

    // ---- lapic.cc ---------------------------------------------------------------------------------
    /// kvm_lapic_reg_write: an emulated write to an APIC register (APIC-access exit, or the value
    /// APIC-write emulation already stored).
    void lapic_write(uint32_t vcpu, uint32_t offset, uint32_t value);
    /// handle_apic_access for a read: the instruction is emulated (apic_mmio_read ->
    /// kvm_lapic_reg_read), giving the register's value, or nullopt for an offset KVM does not
    /// read (not a readable register, or not a register's start). The exit is handled; resume()
    /// re-enters.
    std::optional<uint32_t> handle_apic_read(uint32_t vcpu, const VmExit& exit);
    /// The value the last emulated APIC read left for the guest's register (handle_exit of an
    /// APIC-access read stores handle_apic_read's answer), once.
    std::optional<uint32_t> take_emulated_read(uint32_t vcpu);
    /// KVM_GET_LAPIC: vcpu_load, sync PIR into IRR, copy the register page, vcpu_put.
    LapicImage get_lapic(uint32_t vcpu);
    /// MSR_IA32_APICBASE then KVM_SET_LAPIC (kvm_apic_put -> kvm_apic_set_state). The timer is
    /// restarted from the image's TMICT, TMCCT and LVTT (timer_restart).
    int set_lapic(uint32_t vcpu, const LapicImage& image);
    /// What kvm_apic_set_state's timer restart does with `image` (set_target_expiration).
    static TimerRestart timer_restart(const LapicImage& image);
    /// WRMSR IA32_TSC_DEADLINE from the guest (handle_wrmsr -> kvm_set_msr_common ->
    /// kvm_set_lapic_tscdeadline_msr) and from KVM_SET_MSRS: ignored, without an error, unless the
    /// APIC is hardware-enabled and LVTT is in TSC-deadline mode; otherwise the hrtimer is
    /// cancelled and the timer armed at the new deadline (disarmed by 0). Returns whether it was taken.
    bool set_tsc_deadline_msr(uint32_t vcpu, uint64_t deadline, const char* via);
    /// kvm_get_lapic_tscdeadline_msr: the deadline, or 0 unless in TSC-deadline mode.
    uint64_t tsc_deadline_msr(uint32_t vcpu) const;
    /// KVM_GET_MSRS / KVM_SET_MSRS for the MSRs of MsrImage. KVM_SET_MSRS returns the number of
    /// MSRs processed: 1 even when kvm_set_lapic_tscdeadline_msr discarded the deadline (Kata
    /// #13798: "reports success rather than an error"). `deadline_passed`: the guest's TSC is
    /// already past the deadline (time is not modelled: the caller's clock says so), so a taken
    /// deadline expires inside the ioctl (start_sw_tscdeadline).
    MsrImage get_msrs(uint32_t vcpu) const;
    int set_msrs(uint32_t vcpu, const MsrImage& msrs, bool deadline_passed = false);
    /// KVM_GET_REGS + KVM_GET_VCPU_EVENTS + KVM_GET_MP_STATE, and their SET counterparts.
    /// KVM_GET_VCPU_EVENTS runs process_nmi first (queued NMIs become pending).
    VcpuRegs get_regs(uint32_t vcpu);
    void set_regs(uint32_t vcpu, const VcpuRegs& regs);
    /// The LAPIC timer's hrtimer fires at its deadline (apic_timer_fn -> apic_timer_expired with
    /// from_timer_fn): the expiry is counted in lapic_timer.pending and the vCPU kicked.
    void timer_expired(uint32_t vcpu);
    /// vCPU `vcpu`'s APIC register page (its virtual-APIC page).
    ApicPage page(uint32_t vcpu) const { return ApicPage(mem_, HostLayout::apic_page(vcpu)); }
    /// Which vCPUs `msi` reaches now (kvm_irq_delivery_to_apic's destination match).
    std::vector<uint32_t> msi_destinations(const MsiMessage& msi) const;
    /// kvm_intr_is_single_vcpu: the one vCPU a postable MSI resolves to, or -1.
    int single_vcpu(const MsiMessage& msi) const;

    // ---- irq.cc -----------------------------------------------------------------------------------
    /// kvm_set_msi (irqfd injection, KVM_SIGNAL_MSI): deliver to every destination's LAPIC (an
    /// NMI-mode MSI: kvm_inject_nmi on each).
    void set_msi(const MsiMessage& msi, const char* via);
    /// KVM_SET_GSI_ROUTING for one MSI route; an irqfd with a connected producer whose MSI
    /// changed is re-evaluated (kvm_arch_update_irqfd_routing).
    void set_route(uint32_t gsi, const MsiMessage& msi);
    /// KVM_IRQFD assign / deassign (deassign disconnects the bypass: IRTE back to remapped).
    void irqfd_assign(uint32_t gsi);
    void irqfd_deassign(uint32_t gsi);
    /// KVM_SET_GSI_ROUTING without the GSI's route: an irqfd with a producer is re-evaluated
    /// (kvm_arch_update_irqfd_routing -> kvm_pi_update_irte: no MSI route, the IRTE goes back to
    /// remapped mode; PIR bits already posted stay).
    void remove_route(uint32_t gsi);
    /// The eventfd of an irqfd was signalled (irqfd_wakeup -> kvm_set_msi).
    void irqfd_signal(uint32_t gsi);
    /// kvm_arch_irq_bypass_add_producer: the VFIO host IRQ meets the irqfd; kvm_pi_update_irte.
    void irq_bypass_add_producer(uint32_t gsi, int host_irq);
    /// `teardown` false: the clobbered routing type (x86.irqfd_deassign=clobber) made the hook
    /// skip kvm_pi_update_irte, so the IRTE keeps posting (X3).
    void irq_bypass_del_producer(uint32_t gsi, bool teardown = true);

    // ---- posted_intr.cc ---------------------------------------------------------------------------
    /// vcpu_load -> vmx_vcpu_pi_load.
    void vcpu_load(uint32_t vcpu);
    /// vcpu_put -> vmx_vcpu_pi_put.
    void vcpu_put(uint32_t vcpu, bool preempted);
    /// vmx_sync_pir_to_irr: harvest PIR only when ON (clearing ON first); RVI = max IRR. Returns
    /// the highest IRR vector or -1.
    int sync_pir_to_irr(uint32_t vcpu);
    /// pi_wakeup_handler for pCPU `cpu`.
    void pi_wakeup_handler(unsigned cpu);
    /// __apic_accept_irq for a fixed interrupt, then vmx_deliver_interrupt.
    void accept_irq(uint32_t vcpu, uint8_t vector, bool level, const char* via);
    /// __apic_accept_irq for APIC_DM_NMI: kvm_inject_nmi (nmi_queued + 1, KVM_REQ_NMI) and
    /// kvm_vcpu_kick. `tag`: the model's provenance (the MSI's vector field).
    void inject_nmi(uint32_t vcpu, uint8_t tag, const char* via);
    /// vcpu->arch.nmi_injected as vmx_complete_interrupts leaves it: an NMI injected and not yet
    /// delivered (the VMCS's entry_nmi, or the IDT-vectoring information an exit saved it in).
    std::optional<uint8_t> nmi_injected(uint32_t vcpu) const;

    // ---- vmx.cc -----------------------------------------------------------------------------------
    /// KVM_RUN from userspace (kvm_arch_vcpu_ioctl_run -> vcpu_run): the vCPU is loaded, then a
    /// HALTED one goes through vcpu_block (it stays blocked unless it has an event) and a
    /// RUNNABLE one is entered.
    void run(uint32_t vcpu);
    /// vcpu_enter_guest: a pending timer tick injected first (vcpu_run's
    /// kvm_inject_pending_timer_irqs), IN_GUEST_MODE, sync PIR, inject (APICv off), VM entry.
    void vcpu_enter(uint32_t vcpu);
    /// A VM exit other than an external interrupt (those are the host's: Host::dispatch).
    void handle_exit(uint32_t vcpu, const VmExit& exit);
    /// After an exit was handled: the vCPU re-enters if it is still running.
    void resume(uint32_t vcpu);
    /// HLT: kvm_emulate_halt -> kvm_vcpu_halt. Stays running if an interrupt is deliverable.
    void halt(uint32_t vcpu);
    /// Take the vCPU out of the guest for the host (preemption, pause): kick, exit, vcpu_put.
    void leave_guest(uint32_t vcpu, bool preempted);
    /// kvm_vcpu_wake_up.
    void wake_up(uint32_t vcpu);
    /// kvm_cpu_has_interrupt && interrupts allowed (kvm_arch_vcpu_runnable).
    bool has_events(uint32_t vcpu);

    /// The guest took `vector`: how it came (model provenance, consumed here): Software when KVM's
    /// software path put it there or APICv is off, Direct when only the IOMMU posted it.
    DeliveryPath delivered(uint32_t vcpu, uint8_t vector);

    const KvmState& state() const { return s_; }
    PiDesc pid(uint32_t vcpu) const;

   private:
    // lapic.cc
    void reset_lapic(uint32_t vcpu);
    void recalculate_apic_map();
    void update_ppr(uint32_t vcpu);
    bool apic_enabled(uint32_t vcpu) const;
    void start_timer(uint32_t vcpu);
    void update_lvtt(uint32_t vcpu);
    void apic_timer_expired(uint32_t vcpu, bool from_timer_fn);
    void local_deliver_timer(uint32_t vcpu);
    bool has_pending_timer(uint32_t vcpu) const;
    void inject_pending_timer(uint32_t vcpu);
    void apic_set_eoi(uint32_t vcpu);
    // posted_intr.cc
    void write_pid(uint32_t vcpu, const PiDesc& d);
    void deliver_posted_interrupt(uint32_t vcpu, uint8_t vector);
    void kick(uint32_t vcpu);
    /// vmx_needs_pi_wakeup: VT-d posting can target the vCPU, or IPIv can (vmx_can_use_ipiv).
    bool needs_pi_wakeup() const { return s_.config.apicv && (s_.bypass_irqs > 0 || s_.config.ipiv); }
    /// kvm_apic_send_ipi for a trapped ICR write.
    void send_ipi(uint32_t vcpu, uint32_t icr_lo);
    void pi_clear(uint32_t vcpu, const Op<Int, Int, Hex>& point);
    // irq.cc
    void pi_update_irte(uint32_t gsi);
    // vmx.cc
    void inject_pending(uint32_t vcpu);
    bool vcpu_block(uint32_t vcpu);
    void process_nmi(uint32_t vcpu);

    KvmState& s_;
    Platform& hw_;
    host::IrqRemapping iommu_;
    host::Vectors& vectors_;  // KVM registers its wakeup handler
    AddressSpace& mem_;
    EventLog& log_;
};

}  // namespace irqdiff::x86::kvm
