// The machine-mode board (issue 16 item 1; docs/machine.md): an AArch64 machine compatible with
// QEMU `virt` (reference/arm_virt_machine.md) whose vCPUs are Unicorn engines (core/unicorn_cpu.h,
// the same wrapper and guest RAM the Unicorn scenario guests use) over one RAM buffer at
// 0x4000_0000. It boots an image at RAM + 0x80000 with x0 = the DTB, EL1h, DAIF masked; the
// secondaries stay off until PSCI CPU_ON. vCPUs run round-robin, a fixed instruction quantum each
// (deterministic); virtual time follows retired instructions and jumps forward when every running
// vCPU waits in WFI. Devices: PL011, the generic timer, PSCI over HVC or SMC, and an interrupt
// controller behind InterruptController: by default KvmGic (the guest-visible GICv3 + ITS over
// the KVM vgic model, its guest memory a view of the board's RAM), or NoGic. A guest can never
// crash the emulator: every fault, and the --max-insns budget, ends the run with a report.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arm_gic/machine/device_tree.h"
#include "arm_gic/machine/generic_timer.h"
#include "arm_gic/machine/image_loader.h"
#include "arm_gic/machine/irq_controller.h"
#include "arm_gic/machine/kvm_gic.h"
#include "arm_gic/machine/pl011.h"
#include "core/byte_stream.h"
#include "core/unicorn_cpu.h"

namespace irqdiff::arm::machine {

/// --assign: guest DeviceID `devid` is a passthrough (VFIO) device with `events` MSI vectors;
/// `all`: every DeviceID the guest maps with MAPD (its ITT size giving the events).
struct Assignment {
    uint32_t devid = 0;
    uint32_t events = 32;
    bool all = false;
};
/// KVM's vITS DeviceIDs are 16 bits (GITS_TYPER.Devbits = 16, vgic-its.c).
constexpr uint32_t kMaxAssignDevid = 0xFFFF;

/// The MSI test device (docs/machine.md "MSI test device"): a 4-KiB MMIO frame in a hole of QEMU
/// virt's map, in the device tree as "irqdiff,msi-test-device". 32-bit registers: DEVID (RW, the
/// assigned device the next write acts on), TRIGGER (WO: that device raises event = the value),
/// COUNT (RO: assigned devices), FORWARDED (RO: whether (DEVID, last TRIGGER value) is forwarded).
struct MsiTestDevice {
    static constexpr uint64_t kDevid = 0x0, kTrigger = 0x4, kCount = 0x8, kForwarded = 0xC;
};

/// Which interrupt controller the board builds when none is passed in.
enum class GicModel : uint8_t {
    Kvm,   // KvmGic: the guest-visible GICv3 + ITS of the KVM model (the product)
    None,  // NoGic: every GIC access faults (docs/machine.md "No GIC")
};

struct BoardConfig {
    uint32_t smp = 1;
    uint64_t mem = 128ull << 20;
    PsciConduit psci = PsciConduit::Hvc;
    std::string append;                         // /chosen/bootargs
    std::optional<std::vector<uint8_t>> initrd;  // placed below the DTB
    std::optional<std::vector<uint8_t>> dtb;     // replaces the generated one (checked)
    uint64_t max_insns = 1'000'000'000;          // all vCPUs together
    uint64_t quantum = 10'000;                   // instructions per vCPU turn
    uint64_t kick_grace = 256;  // a vCPU that wakes or signals another runs this many more (Board::yield_if_woken)
    std::FILE* serial = nullptr;                 // where UART TX goes as it happens (nullptr: none)
    std::string input;                           // UART RX bytes
    /// Migration triggers (docs/machine.md "Migration"): run() returns ExitReason::Migrate when the
    /// UART output shows `migrate_on` (each time anew; empty: never) or once every vCPU together has
    /// retired `migrate_at_insns` instructions.
    std::string migrate_on;
    std::optional<uint64_t> migrate_at_insns;
    std::vector<Assignment> assign;
    bool trace = false;  // record UART lines and the interrupts taken with their virtual time (trace())
    /// Record every model operation in log() (`--log`). Otherwise the log keeps only the entries
    /// that are not operations — guest errors, ignored accesses, violations, refusals — and
    /// counts the rest: a long run's log would otherwise grow by ~60 entries per interrupt.
    bool record_log = false;
    /// Without record_log, the log keeps at most this many notes per board and counts the rest.
    size_t kept_notes = 10'000;
    GicModel gic = GicModel::Kvm;
    GicVersion gic_host = GicVersion::V4_1;                      // arm.gic of the host
    kvm::TransferPoint transfer = kvm::TransferPoint::SetForwarding;  // arm.transfer
};

/// --mem bounds (policy): whole MiB, 8 MiB .. 4 GiB.
constexpr uint64_t kMinMem = 8ull << 20, kMaxMem = 4ull << 30;

/// Migrate: a migration trigger (BoardConfig::migrate_on / migrate_at_insns); Paused: pause_at.
/// After either, run() again goes on.
/// VmGone: QEMU exited during a migration's save side (arm.its_save_error=abort, a failed
/// SAVE_PENDING_TABLES): no VM is left to run.
enum class ExitReason : uint8_t { SystemOff, Reset, Fault, Budget, Migrate, Paused, VmGone };
const char* to_string(ExitReason r);

struct FaultReport {
    uint32_t vcpu = 0;
    uint64_t pc = 0;
    std::string instruction;  // Capstone
    std::string reason;
};

enum class Power : uint8_t { Off, Running, Waiting };  // Waiting: in WFI
const char* to_string(Power p);

struct VcpuResult {
    uint64_t mpidr = 0;
    uint64_t insns = 0;
    Power power = Power::Off;
};

/// What --trace shows (a Chrome trace, session.h): a UART line, an interrupt taken (ICC_IAR1_EL1
/// returned its INTID), at the vCPU's virtual time.
struct TraceEvent {
    enum Kind : uint8_t { UartLine, Irq, Step } kind = UartLine;
    uint64_t ticks = 0;
    uint32_t vcpu = 0;
    uint32_t intid = 0;
    std::string text;
};

struct MachineResult {
    ExitReason exit = ExitReason::Fault;
    std::optional<FaultReport> fault;  // Fault and Budget
    std::vector<VcpuResult> vcpus;
    uint64_t insns = 0;          // every vCPU's together
    uint64_t virtual_ticks = 0;  // CNTVCT at the end
    std::string uart;
};

class Board {
   public:
    /// Validates `config` (InputError naming the option), loads `image` (InputError("IMAGE", ...)
    /// when it does not fit), builds the DTB. `gic` nullptr: NoGic.
    Board(BoardConfig config, const std::vector<uint8_t>& image, std::unique_ptr<InterruptController> gic = nullptr);
    ~Board();
    Board(const Board&) = delete;
    Board& operator=(const Board&) = delete;

    /// Runs until SYSTEM_OFF, SYSTEM_RESET, a fault, the budget, or a migration trigger
    /// (ExitReason::Migrate: every vCPU at an instruction boundary; run() again goes on).
    MachineResult run();

    // ---- machine mode's migration stream (docs/machine_stream.md) -------------------------------
    /// The board's sections: BORD (geometry, virtual time, counters), VCPU (registers, timers,
    /// power), UART, RAM_ (the non-zero pages).
    void write_state(ByteWriter& out) const;
    /// Builds the board's interrupt controller over the restored RAM.
    using GicMaker = std::function<std::unique_ptr<InterruptController>(GuestRam& ram, EventLog& log)>;
    /// A board from a stream's board sections (InputError with offset and field); `config` gives
    /// what the stream does not carry (serial sink, budget, triggers); its smp/mem/psci are replaced.
    static std::unique_ptr<Board> restore(BoardConfig config, ByteReader& in, const GicMaker& make_gic);
    /// Queues UART RX bytes (the migration key).
    void send_key(const std::string& key) { uart_.inject(key); }
    /// run() returns ExitReason::Paused once every vCPU together retired `total` instructions.
    void pause_at(std::optional<uint64_t> total) { pause_at_ = total; }
    uint64_t insns() const { return total_; }
    uint64_t virtual_time() const { return base_; }
    /// The trace events recorded since the last take (BoardConfig::trace).
    std::vector<TraceEvent> take_trace() { return std::move(trace_); }

    const BoardConfig& config() const { return config_; }
    const std::vector<uint8_t>& dtb() const { return dtb_; }
    uint64_t dtb_address() const { return dtb_address_; }
    const LoadedImage& image() const { return image_; }
    std::optional<std::pair<uint64_t, uint64_t>> initrd_range() const { return initrd_range_; }
    GuestRam& ram() { return *ram_; }
    Pl011& uart() { return uart_; }
    InterruptController& gic() { return *gic_; }
    /// The KVM GIC when the board has one (GicModel::Kvm), else nullptr.
    KvmGic* kvm_gic() { return dynamic_cast<KvmGic*>(gic_.get()); }
    /// The model's event log (the KVM GIC's events).
    EventLog& log() { return log_; }
    uint32_t vcpus() const { return static_cast<uint32_t>(vcpus_.size()); }
    UnicornCpu& cpu(uint32_t v);
    Power power(uint32_t v) const;
    const GenericTimer& timer(uint32_t v) const;
    /// The virtual timer's output line of vCPU v (ISTATUS && !IMASK: PPI 27 for the GIC).
    bool timer_line(uint32_t v) const;
    /// Virtual time as vCPU v sees it now (CNTVCT_EL0).
    uint64_t now(uint32_t v) const;

   private:
    struct Vcpu;
    struct MmioContext;
    struct RestoreTag {};
    Board(RestoreTag, BoardConfig config);
    void check_config() const;
    void make_vcpus();
    void check_migrate_text();
    void apply_assignments();
    uint64_t msi_test_read(uint32_t v, uint64_t offset, unsigned size);
    void msi_test_write(uint32_t v, uint64_t offset, unsigned size, uint64_t value);

    void install_hooks(uint32_t v);
    bool psci_call(uint32_t v, bool hvc);
    int64_t psci(uint32_t v, uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3);
    std::optional<uint32_t> vcpu_of_mpidr(uint64_t mpidr) const;
    void power_on(uint32_t v, uint64_t entry, uint64_t context);
    bool sysreg(uint32_t v, uc_arm64_reg reg, const uc_arm64_cp_reg& cp, bool read);
    void update_lines(uint32_t v);
    void stop(ExitReason r);
    MachineResult finish(uint32_t last);
    FaultReport report(uint32_t v, uint64_t pc, const std::string& reason);

    /// vCPU v changed interrupt state (an MMIO or ICC write): before its next instruction the run
    /// loop asks the GIC again whether an IRQ is to be taken.
    void recheck(uint32_t v);
    /// After a GIC write by vCPU `v` that can reach other vCPUs: when it woke a vCPU waiting in WFI
    /// or signals an IRQ to a running one, `v`'s turn ends `kick_grace` instructions later (board
    /// policy, docs/machine.md "vCPU scheduling").
    void yield_if_woken(uint32_t v);
    /// One vCPU's turn: runs until its quantum ends, it stops (WFI, PSCI) or the run ends,
    /// taking an IRQ whenever the GIC signals one and PSTATE.I is clear.
    void run_turn(uint32_t v);

    static void on_code(uc_engine* uc, uint64_t address, uint32_t size, void* user);
    static uint32_t on_mrs(uc_engine* uc, uc_arm64_reg reg, const uc_arm64_cp_reg* cp, void* user);
    static uint32_t on_msr(uc_engine* uc, uc_arm64_reg reg, const uc_arm64_cp_reg* cp, void* user);
    static uint64_t on_mmio_read(uc_engine* uc, uint64_t offset, unsigned size, void* user);
    static void on_mmio_write(uc_engine* uc, uint64_t offset, unsigned size, uint64_t value, void* user);

    BoardConfig config_;
    EventLog log_;
    std::unique_ptr<GuestRam> ram_;
    std::unique_ptr<InterruptController> gic_;
    Pl011 uart_;
    std::vector<uint8_t> dtb_;
    uint64_t dtb_address_ = 0;
    std::optional<std::pair<uint64_t, uint64_t>> initrd_range_;
    LoadedImage image_;
    std::vector<std::unique_ptr<Vcpu>> vcpus_;
    std::vector<std::unique_ptr<MmioContext>> mmio_;
    uint64_t base_ = 0;   // virtual time at the start of the current round
    uint64_t total_ = 0;  // instructions retired by all vCPUs
    uint32_t msi_devid_ = 0, msi_event_ = 0;
    std::optional<uint64_t> pause_at_;
    std::vector<TraceEvent> trace_;
    size_t uart_line_start_ = 0;  // the MSI test device's DEVID and last TRIGGER
    std::optional<ExitReason> exit_;
    size_t migrate_scan_ = 0;  // UART output before this was searched for migrate_on
    bool at_insns_done_ = false;
    std::optional<FaultReport> fault_;
};

}  // namespace irqdiff::arm::machine
