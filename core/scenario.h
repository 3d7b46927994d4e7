// The scenario model (format v1, DESIGN.md "Scenario format"): a VM, its devices and their
// interrupt sources, routes, policy settings, the steps to run and the expected outcome per
// source. The YAML loader (scenario_loader.cc) is the only parser; it validates strictly and keeps
// the file position of everything a backend may still reject, so a later error is located too.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/errors.h"
#include "core/trace_point.h"

namespace irqdiff {

/// What happened to one fired source, compared with the oracle (DESIGN.md "Oracle").
enum class Outcome : uint8_t {
    DeliveredOnce,  // delivered exactly as often as the oracle delivered it
    Lost,           // delivered fewer times than the oracle (or left only in a non-live place)
    Duplicated,     // delivered more times than the oracle
    Pending,        // still pending at the end on both the oracle and the backend (e.g. masked)
    SaveRefused,    // lost after the kernel refused to save the VM's interrupt state and said so
                    // (KVM_DEV_ARM_ITS_SAVE_TABLES -EACCES): an announced refusal, not a silent loss
    Impossible,     // the schedule fires it where the modelled system cannot raise it (a VFIO
                    // device after its migration data was read, before it runs on the destination)
    Spurious,       // an at-least-once source (DeliveryMode::AtLeastOnce) delivered more times than the
                    // oracle, or left pending in more than one live place: accepted, not failing
    DeliveredAfterDeassign,  // the device's MSI was posted / forwarded through the mapping of an irqfd
                             // that was deassigned (and not assigned again), and the guest took it: KVM
                             // kept the bypass after KVM_IRQFD deassign (X3, Jan 2026 fix). Distinct
                             // from loss and duplication: the count may match, the path must not exist
    Undefined,  // lost where the kernel gives no guarantee: a passthrough device still generating
                // interrupts when the VM's pending state was saved (SAVE_PENDING_TABLES "expects"
                // a quiesced generator, and an MSI during the non-atomic ITS remap may be dropped:
                // Oliver Upton, 2025-07-02, kernel_history A2). Reported, not counted as a bug
};
const char* to_string(Outcome outcome);
std::optional<Outcome> parse_outcome(std::string_view text);
inline constexpr const char* kOutcomeNames =
    "delivered-once, lost, duplicated, pending, save-refused, impossible, spurious, delivered-after-deassign, "
    "undefined";

using SourceId = uint32_t;

enum class DeviceKind : uint8_t {
    Msi,    // a PCI device with MSI/MSI-X vectors
    Timer,  // the x86 local-APIC timer of the vCPU its one source is routed to (one-shot; `fire`
            // is its deadline passing)
    Ipi,    // interrupts between vCPUs (issue 15 §2.1): source K is SGI K (ARM) or the guest's K-th
            // IPI vector (x86) sent by vCPU `from` to the route's vCPU; `fire` is the sender's
            // ICC_SGI1R_EL1 (ARM) or ICR (x86) write
};
const char* to_string(DeviceKind kind);

/// What the oracle holds a device's sources to (issue 15 §2.6; scenario key `delivery`).
enum class DeliveryMode : uint8_t {
    ExactlyOnce,  // every extra delivery is `duplicated` (the default)
    AtLeastOnce,  // an extra delivery is `spurious`, accepted: the strategy of a VMM that injects
                  // once unconditionally after restore (Firecracker #5568) and the stance that "a
                  // spurious interrupt doesn't seem that bad" (Oliver Upton, 2025-07-02; reference/
                  // kernel_history U4, A2). A loss still fails.
};
const char* to_string(DeliveryMode mode);
/// When the VMM stops an MSI device's interrupt generation on the source (device key `stops_at`).
enum class DeviceStop : uint8_t {
    StopDevices,  // with the VFIO devices, before the irqchip save (vfio_vmstate_change, QEMU 8ce1ff990eff)
    CopyMemory,   // an emulated device QEMU stops only after the irqchip save, when stop-and-copy reads
                  // its state: it still injects (KVM_SIGNAL_MSI) after the GIC/LAPIC state was read
                  // (virtio-blk dataplane stop after the GICv3 vm_change_state_handler, reference U2)
};
const char* to_string(DeviceStop stop);
/// How the guest programs a timer device's LAPIC timer (device key `timer_mode`).
enum class TimerMode : uint8_t {
    OneShot,      // LVTT mode 00b, TMICT: the count runs down once (the default)
    TscDeadline,  // LVTT mode 10b, WRMSR IA32_TSC_DEADLINE (SDM Vol. 3A §11.5.4.1): the deadline
                  // travels in the MSRs (KVM_GET_MSRS / KVM_SET_MSRS), not in the LAPIC image, and
                  // KVM takes it only once KVM_SET_LAPIC put LVTT in that mode (Kata #13798)
};
const char* to_string(TimerMode mode);

struct Device {
    std::string name;
    DeviceKind kind = DeviceKind::Msi;
    uint32_t vectors = 0;
    bool passthrough = false;  // ARM forwards its MSIs as vLPIs, x86 posts them
    DeliveryMode delivery = DeliveryMode::ExactlyOnce;
    DeviceStop stops_at = DeviceStop::StopDevices;
    TimerMode timer_mode = TimerMode::OneShot;  // Timer only
    uint32_t from = 0;         // Ipi: the sending vCPU
    SourceLoc loc;
    SourceLoc kind_loc;  // of `kind`, or the device's when not written
    SourceLoc timer_mode_loc;  // of `timer_mode`, or the device's when not written
};

/// One interrupt source: vector `vector` of device `device`, named "DEVICE.VECTOR".
struct Source {
    std::string name;
    uint32_t device = 0;  // index into Scenario::devices
    uint32_t vector = 0;
    std::optional<uint32_t> vcpu;  // the route's target vCPU, if routed
    SourceLoc route_loc;
    /// Route key `nmi`: the guest programs the MSI with delivery mode NMI (MSI data bits 10:8 = 100b;
    /// x86 only, issue 15 §2.2, vfio_irq_test -n). Not postable: KVM keeps the IRTE remapped and injects
    /// an NMI (kvm_pi_update_irte, __apic_accept_irq APIC_DM_NMI -> kvm_inject_nmi).
    bool nmi = false;
    SourceLoc nmi_loc;  // of the route's `nmi`, when written
};

enum class StepKind : uint8_t {
    Run,
    Mask,
    Unmask,
    Block,
    Preempt,
    Fire,
    Retarget,
    Unassign,
    ToggleLpis,  // ARM: the guest writes GICR_CTLR.EnableLPIs 1 -> 0 -> 1 on a vCPU
    Migrate,
    Assign,   // KVM_IRQFD assign again after `unassign` (the bypass reconnects)
    Unroute,  // KVM_SET_GSI_ROUTING without the source's MSI route (vfio_irq_test -e, X2)
    Reroute,  // KVM_SET_GSI_ROUTING with the source's MSI route again, from its MSI-X entry
    Cancel,  // an action only (never a scenario step): the migration of a `migrate` step with
             // `cancel_after` is cancelled there and the VM resumes on the source (QEMU
             // migration_iteration_finish -> vm_start)
};
const char* to_string(StepKind kind);

/// What a `migrate` step moves the VM with (`migrate: {kind: ...}`).
enum class MigrationKind : uint8_t {
    Live,  // live migration to a new machine: the devices stop and travel in the stream (default)
    Cpr,   // same-host live update (QEMU CPR, cpr-transfer; reference/kernel_history U3, A2): the KVM
           // VM is destroyed and a new one created, the VFIO devices are preserved and never
           // stopped, their interrupts detached from the old VM and attached to the new one, the
           // eventfds carrying what they signalled meanwhile (docs/design.md "Live update")
};
const char* to_string(MigrationKind kind);

/// The restore order of a `migrate` step: a named order, an explicit list, or every order of an
/// order set (`all` is the `data` set, `{set: NAME}` any of core/migration.h's kOrderSetNames).
struct OrderSpec {
    enum class Kind : uint8_t { Named, All, Explicit, Set };
    Kind kind = Kind::Named;
    std::string name = "qemu";         // Named: a backend's named order; Set: the set; All: "all"
    std::vector<std::string> steps;    // Explicit: step names as written
    std::vector<SourceLoc> step_locs;  // Explicit: where each name was written
    SourceLoc loc;
};

/// An interrupt raised while a migration runs, just before step `before` (or at every point).
struct MigrationFire {
    SourceId source = 0;
    std::string before;  // a step name, or "any"
    SourceLoc loc;       // of the entry
    SourceLoc before_loc;
};
inline constexpr std::string_view kAnyStep = "any";

struct Step {
    StepKind kind = StepKind::Run;
    SourceLoc loc;
    int vcpu = -1;        // Run: -1 means all; Mask, Unmask, Block, Preempt, Retarget, ToggleLpis: the vCPU
    SourceId source = 0;  // Fire, Retarget, Unassign, Assign, Unroute, Reroute
    OrderSpec order;      // Migrate
    std::vector<MigrationFire> fires;  // Migrate
    std::string cancel_after;          // Migrate: the save step after which the migration is cancelled ("": none)
    SourceLoc cancel_loc;
    MigrationKind migration = MigrationKind::Live;  // Migrate: `kind`
    /// Retarget: `nmi`, the delivery mode the guest's new MSI-X entry has (nullopt: the route's as it
    /// was: vfio_irq_test -n switches every 4th interrupt to NMI). x86 only.
    std::optional<bool> nmi;
    SourceLoc nmi_loc;
};

struct Expectation {
    std::optional<SourceId> source;  // empty: `all`
    Outcome outcome = Outcome::DeliveredOnce;
    SourceLoc loc;
};

/// `expect: {violations: [OP, ...]}` (or `none`): the run is expected to break exactly these rules,
/// named by the operation that reported them (e.g. VCPU.write_LR); it pins a known bug. The loader
/// resolves each name to the declared violations of that name (the event catalogue).
struct ViolationExpectation {
    std::vector<std::string> ops;               // as the file names them
    std::vector<const TracePointInfo*> points;  // every Violation declaration of those names
    SourceLoc loc;
};

struct PolicySetting {
    std::string key;
    std::string value;
    SourceLoc key_loc;
    SourceLoc value_loc;
};

/// Which guest runs on the vCPUs: the abstract guest (the model's drivers take interrupts by
/// calling the CPU interface) or real guest code in Unicorn Engine (docs/guests.md). Scenario key
/// `guest`, overridden by `--guest` and `run(guest=...)`.
enum class GuestKind : uint8_t { Abstract, Unicorn };
const char* to_string(GuestKind kind);
/// "abstract" or "unicorn"; std::nullopt for anything else.
std::optional<GuestKind> parse_guest_kind(std::string_view text);

/// The backends a scenario is meant for (`arch: x86` or `arch: [arm, x86]`).
inline constexpr std::string_view kScenarioArches[] = {"arm", "x86"};

struct Scenario {
    std::string file;  // as given to the loader ("<string>" for text)
    std::string text;  // the YAML it was loaded from (a sweep ships it to its workers)
    std::string name;
    std::string description;
    std::vector<std::string> arches;  // empty: every backend
    SourceLoc arch_loc;
    uint32_t vcpus = 1;
    std::vector<Device> devices;
    std::vector<Source> sources;  // every vector of every device, in device order
    std::vector<PolicySetting> policy;
    std::optional<GuestKind> guest;  // `guest:`; absent: the abstract guest unless the run says otherwise
    SourceLoc guest_loc;
    std::vector<Step> steps;
    std::vector<Expectation> expect;
    std::optional<ViolationExpectation> expect_violations;

    /// Name lookups: a binary search once index() ran (the loader runs it), a scan otherwise (a
    /// Scenario built by hand). Loading is linear in devices and routes, not quadratic.
    std::optional<SourceId> find_source(std::string_view name) const;
    std::optional<uint32_t> find_device(std::string_view name) const;
    /// Sorts the name indexes below; call again after adding or renaming devices or sources.
    void index();
    std::vector<SourceId> sources_by_name;  // index(): source ids ordered by name
    std::vector<uint32_t> devices_by_name;  // index(): device indexes ordered by name
    /// Where the scenario first asks for an NMI-mode MSI (`nmi: true` on a route or a retarget), for
    /// a backend or guest that has none to refuse it there: the key's position and its path in
    /// messages ("routes: nic.0: nmi", "steps[3].retarget.nmi"). nullopt when nothing does.
    struct KeyUse {
        SourceLoc loc;
        std::string path;
    };
    std::optional<KeyUse> first_nmi() const;
    const Device& device_of(SourceId id) const { return devices[sources[id].device]; }
};

/// Scenario format v1 limits.
inline constexpr uint32_t kMaxVcpus = 64;
inline constexpr uint32_t kMaxVectors = 2048;  // an MSI-X table holds at most 2048 entries
inline constexpr uint32_t kMaxIpiVectors = 16;  // ARM has 16 SGIs (INTID 0..15, IHI 0069 §2.2)
// Size limits (policy, issue 17 §5): far above any study's needs, low enough that a file within
// them loads, runs and reports in seconds to minutes rather than exhausting memory.
inline constexpr uint32_t kMaxDevices = 65'536;
inline constexpr uint32_t kMaxSources = 1'048'576;   // vectors of all devices together
inline constexpr uint32_t kMaxSteps = 1'000'000;     // steps, and fires inside migrations, together
inline constexpr uint64_t kMaxScenarioBytes = 256ull << 20;  // the file

struct PolicySpec;  // core/policy.h

/// A migration step name a scenario may write (`migrate.order` lists, `fire[].before`,
/// `cancel_after`): a neutral step (core/migration.h) or a registered backend's sub-step.
struct StepName {
    std::string name;
    bool save = false;    // a save-side step, else a restore-side one
    std::string backend;  // "" for a neutral step
};

/// What a scenario's names are checked against (Registry::catalogue()): its `policy:` keys against
/// the policies, its `expect: violations` names against the declared events, its migration step
/// names against `steps` (each must be some backend's or a neutral step; whether the backend a run
/// uses has it is the run's check). A catalogue of policies alone (a stack's own list, as its tests
/// pass) accepts no violation name and leaves step names to the run.
struct Catalogue {
    std::span<const PolicySpec> policies;
    TracePointList events;
    std::span<const StepName> steps;  // empty: step names are not checked at load

    Catalogue() = default;
    Catalogue(std::span<const PolicySpec> p, TracePointList e) : policies(p), events(e) {}
    Catalogue(std::span<const PolicySpec> p, TracePointList e, std::span<const StepName> s)
        : policies(p), events(e), steps(s) {}
    template <std::convertible_to<std::span<const PolicySpec>> Policies>
    Catalogue(const Policies& p) : policies(p) {}
};

/// Loads and validates a scenario file against `catalogue`. Throws InputError("FILE:LINE:COL: ...").
Scenario load_scenario(const std::string& path, const Catalogue& catalogue);
/// Parses scenario text; `file` names it in error messages.
Scenario parse_scenario(std::string_view text, const Catalogue& catalogue, const std::string& file = "<string>");

}  // namespace irqdiff
