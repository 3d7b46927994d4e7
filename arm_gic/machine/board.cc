#include "arm_gic/machine/board.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "arm_gic/guest/aarch64_exception.h"
#include "arm_gic/machine/memory_map.h"
#include "arm_gic/machine/psci.h"
#include "core/errors.h"

namespace irqdiff::arm::machine {

const char* to_string(ExitReason r) {
    switch (r) {
        case ExitReason::SystemOff: return "system_off";
        case ExitReason::Reset: return "reset";
        case ExitReason::Fault: return "fault";
        case ExitReason::Budget: return "budget";
        case ExitReason::Migrate: return "migrate";
        case ExitReason::Paused: return "paused";
        case ExitReason::VmGone: return "vm_gone";
    }
    return "?";
}

const char* to_string(Power p) {
    switch (p) {
        case Power::Off: return "off";
        case Power::Running: return "running";
        case Power::Waiting: return "wfi";
    }
    return "?";
}

namespace {
constexpr uint32_t kWfi = 0xD503'207F;        // WFI (Arm ARM C6.2, hint #3)
constexpr uint64_t kBootPstate = 0x3C5;       // EL1h, DAIF masked (reference/arm_virt_machine.md §2)
constexpr uint64_t kMpidrRes1 = 1ull << 31;   // MPIDR_EL1 bit 31 is RES1
constexpr uint64_t kMpidrAffMask = 0xFF'00FF'FFFFull;  // Aff3, Aff2, Aff1, Aff0
constexpr uint64_t kSctlrMmuCaches = (1u << 0) | (1u << 2) | (1u << 12);  // SCTLR_EL1.M, C, I
}  // namespace

struct Board::Vcpu {
    Board* board;
    uint32_t index;
    std::unique_ptr<UnicornCpu> cpu;
    GenericTimer timer;
    Power power = Power::Off;
    uint64_t insns = 0;
    uint64_t quantum = 0;       // this turn's allowance
    uint64_t ran = 0;           // executed this turn
    bool quantum_stop = false;  // the code hook stopped the turn
    bool psci_stop = false;     // CPU_OFF / SYSTEM_OFF / SYSTEM_RESET stopped the turn
    bool recheck = false;       // ask the GIC before the next instruction (Board::recheck)
    bool recheck_stop = false;  // the code hook stopped for that
    bool irq_held = false;      // an IRQ is signalled while PSTATE.I is set: watch for the unmask
    bool may_unmask = false;    // the instruction just executed can clear PSTATE.I (may_unmask_irq)
};

struct Board::MmioContext {
    Board* board;
    uint32_t vcpu;
    uint64_t base;
    enum Kind : uint8_t { Uart, Gic, MsiTest } kind;
};

void Board::apply_assignments() {
    if (config_.assign.empty()) return;
    KvmGic* gic = kvm_gic();
    if (!gic) throw InputError("--assign", "assigned devices need the KVM GIC (the board has none)");
    for (const Assignment& a : config_.assign) {
        if (a.all) {
            gic->gic().assign_all(true);
            continue;
        }
        if (!gic->gic().assign_device(a.devid, a.events))
            throw InputError("--assign", fmt::format("DeviceID {:#x} is assigned twice", a.devid));
    }
}

void Board::check_config() const {
    if (config_.smp < 1 || config_.smp > kMaxVcpus)
        throw InputError("--smp", fmt::format("{}: expected a number of vCPUs from 1 to {}", config_.smp, kMaxVcpus));
    if (config_.mem < kMinMem || config_.mem > kMaxMem || config_.mem % (1 << 20))
        throw InputError("--mem", fmt::format("{} bytes: expected whole MiB from {} MiB to {} MiB", config_.mem,
                                              kMinMem >> 20, kMaxMem >> 20));
    if (config_.quantum == 0) throw InputError("quantum", "expected at least 1 instruction");
    if (config_.max_insns == 0) throw InputError("--max-insns", "expected at least 1 instruction");
}

void Board::make_vcpus() {
    for (uint32_t v = 0; v < config_.smp; ++v) {
        auto vc = std::make_unique<Vcpu>();
        vc->board = this;
        vc->index = v;
        vc->cpu = std::make_unique<UnicornCpu>(GuestIsa::Arm64, *ram_, fmt::format("machine vCPU {}", v));
        // reference/unicorn_2_0_1.md AArch64 item 6: with NS EL1 and EL2 present, VMPIDR_EL2 is
        // what MPIDR_EL1 reads return.
        vc->cpu->set_sysreg(3, 4, 0, 0, 5, kMpidrRes1 | mpidr_affinity(v));
        vcpus_.push_back(std::move(vc));
        install_hooks(v);
    }
}

Board::Board(BoardConfig config, const std::vector<uint8_t>& image, std::unique_ptr<InterruptController> gic)
    : config_(std::move(config)), log_(config_.record_log), gic_(std::move(gic)), uart_(config_.serial) {
    log_.set_kept_limit(config_.kept_notes);
    check_config();
    ram_ = std::make_unique<GuestRam>(MemoryMap::kRam, config_.mem);
    if (!gic_ && config_.gic == GicModel::Kvm)
        gic_ = std::make_unique<KvmGic>(GicV3Config{config_.smp, 64, config_.gic_host, config_.transfer, 4},
                                        ram_->data(), MemoryMap::kRam, config_.mem, log_);
    if (!gic_) gic_ = std::make_unique<NoGic>(config_.smp);
    apply_assignments();
    uart_.inject(config_.input);

    // Boot layout (docs/machine.md "Boot"): the DTB in the last 2 MiB of RAM, the initrd right
    // below it (4-KiB aligned), the image below both.
    const uint64_t ram_end = MemoryMap::kRam + config_.mem;
    dtb_address_ = ram_end - MemoryMap::kDtbMax;
    uint64_t limit = dtb_address_;
    if (config_.initrd) {
        const uint64_t size = config_.initrd->size();
        if (size > dtb_address_ - MemoryMap::kRam - MemoryMap::kImageOffset)
            throw InputError("--initrd", fmt::format("{} bytes do not fit in RAM below the DTB at {:#x}; give more --mem",
                                                     size, dtb_address_));
        const uint64_t start = (dtb_address_ - size) & ~uint64_t{0xFFF};
        std::copy(config_.initrd->begin(), config_.initrd->end(), ram_->data() + (start - MemoryMap::kRam));
        initrd_range_ = std::make_pair(start, start + size);
        limit = start;
    }
    image_ = load_image(image, *ram_, limit, "IMAGE");

    if (config_.dtb) {
        check_device_tree(*config_.dtb, "--dtb");
        dtb_ = *config_.dtb;
    } else {
        dtb_ = generate_device_tree(DeviceTreeConfig{config_.smp, config_.mem, config_.psci, config_.append, initrd_range_});
    }
    std::copy(dtb_.begin(), dtb_.end(), ram_->data() + (dtb_address_ - MemoryMap::kRam));

    make_vcpus();
    // The primary boots (reference/arm_virt_machine.md §2): x0 = DTB, x1..x3 = 0.
    power_on(0, image_.entry, dtb_address_);
}

Board::Board(RestoreTag, BoardConfig config)
    : config_(std::move(config)), log_(config_.record_log), uart_(config_.serial) {
    log_.set_kept_limit(config_.kept_notes);
}

Board::~Board() = default;

void Board::install_hooks(uint32_t v) {
    Vcpu& vc = *vcpus_[v];
    uc_engine* uc = vc.cpu->engine();
    uc_hook h;
    auto ok = [&](uc_err e, const char* what) {
        if (e != UC_ERR_OK) throw std::logic_error(fmt::format("Board: {} failed: {}", what, uc_strerror(e)));
    };
    ok(uc_hook_add(uc, &h, UC_HOOK_CODE, reinterpret_cast<void*>(&Board::on_code), &vc, 1, 0), "uc_hook_add(CODE)");
    // reference/unicorn_2_0_1.md AArch64 item 1.
    ok(uc_hook_add(uc, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&Board::on_mrs), &vc, 1, 0, UC_ARM64_INS_MRS),
       "uc_hook_add(MRS)");
    ok(uc_hook_add(uc, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&Board::on_msr), &vc, 1, 0, UC_ARM64_INS_MSR),
       "uc_hook_add(MSR)");
    vc.cpu->set_interrupt_handler([this, v](uint32_t intno) {
        // HVC arrives as intno 11, SMC as 13, both with PC past the instruction (AArch64 item 5).
        if (intno == 11 || intno == 13) return psci_call(v, intno == 11);
        return false;
    });
    auto map = [&](uint64_t base, uint64_t size, MmioContext::Kind kind) {
        mmio_.push_back(std::make_unique<MmioContext>(MmioContext{this, v, base, kind}));
        ok(uc_mmio_map(uc, base, size, &Board::on_mmio_read, mmio_.back().get(), &Board::on_mmio_write,
                       mmio_.back().get()),
           "uc_mmio_map");
    };
    map(MemoryMap::kUart, MemoryMap::kUartSize, MmioContext::Uart);
    map(MemoryMap::kMsiTest, MemoryMap::kMsiTestSize, MmioContext::MsiTest);
    for (const MmioRegion& r : gic_->mmio_regions()) map(r.base, r.size, MmioContext::Gic);
}

uint64_t Board::now(uint32_t v) const { return base_ + vcpus_.at(v)->ran; }
UnicornCpu& Board::cpu(uint32_t v) { return *vcpus_.at(v)->cpu; }
Power Board::power(uint32_t v) const { return vcpus_.at(v)->power; }
const GenericTimer& Board::timer(uint32_t v) const { return vcpus_.at(v)->timer; }
bool Board::timer_line(uint32_t v) const { return vcpus_.at(v)->timer.virt().line(now(v)); }

// ---- hooks ---------------------------------------------------------------------------------------

// The A64 instructions that can clear PSTATE.I at EL1 (Arm ARM C5.2.2 DAIF, C6.2 MSR (immediate),
// MSR (register), ERET, ERETAA/ERETAB): only after one of them can a held IRQ become takeable, so
// the code hook reads PSTATE (a uc_reg_read) only then, not after every instruction.
static bool may_unmask_irq(uint32_t insn) {
    return (insn & 0xFFFF'F0FFu) == 0xD503'40FFu     // MSR DAIFClr, #imm (op1 = 3, CRn = 4, op2 = 7)
           || (insn & 0xFFFF'FFE0u) == 0xD51B'4220u  // MSR DAIF, Xt (S3_3_C4_C2_1)
           || insn == 0xD69F'03E0u                   // ERET
           || (insn & 0xFFFF'FBFFu) == 0xD69F'0BFFu;  // ERETAA, ERETAB
}

void Board::on_code(uc_engine* uc, uint64_t address, uint32_t, void* user) {
    auto* vc = static_cast<Vcpu*>(user);
    if (vc->ran >= vc->quantum) {  // stopping here leaves this instruction unexecuted
        vc->quantum_stop = true;
        uc_emu_stop(uc);
        return;
    }
    // The instruction before this one may have changed what the GIC signals (recheck): ask it now,
    // and stop only when the run ends or an IRQ is to be taken before this instruction (a stop
    // and a new uc_emu_start cost about a microsecond; most ICC and GIC accesses signal nothing
    // new). Or it unmasked an IRQ the GIC already signals: the run loop takes it.
    bool stop_now = false;
    if (vc->recheck) {
        vc->recheck = false;
        Board& b = *vc->board;
        stop_now = b.exit_.has_value();
        if (!stop_now)
            vc->cpu->guarded([&] {
                const bool signalled = b.gic_->irq_pending(vc->index);
                vc->irq_held = signalled && irq_masked(*vc->cpu);
                vc->may_unmask = false;
                stop_now = signalled && !vc->irq_held;
            });
    } else {
        stop_now = vc->irq_held && vc->may_unmask && !irq_masked(*vc->cpu);
    }
    if (stop_now) {
        vc->recheck_stop = true;
        uc_emu_stop(uc);
        return;
    }
    if (vc->irq_held) {
        const GuestRam& ram = *vc->board->ram_;
        vc->may_unmask = !ram.contains(address, 4) || may_unmask_irq(ram.load<uint32_t>(address));
    }
    ++vc->ran;
}

void Board::recheck(uint32_t v) { vcpus_[v]->recheck = true; }

void Board::yield_if_woken(uint32_t v) {
    // Board policy (docs/machine.md "vCPU scheduling"): on KVM the target vCPU's thread runs at
    // once on another host CPU — woken from WFI, or kicked out of the guest to take the interrupt
    // (kvm_vcpu_kick, whatever its PSTATE.I) — while here vCPUs take turns. So when the write woke
    // a vCPU waiting in WFI or signals an IRQ to a running one, the writer's turn ends
    // `kick_grace` instructions later: the target runs next instead of after the writer's whole
    // quantum, and the writer first finishes what follows the write (an interrupt handler that
    // sends an SGI back EOIs and returns; ending its turn at the write left its own SGI active, so
    // the answer to it stayed pending behind it while the other vCPU spun away its quantum).
    Vcpu& vc = *vcpus_[v];
    if (vc.quantum <= vc.ran + config_.kick_grace) return;  // this turn ends soon anyway
    for (uint32_t t = 0; t < vcpus(); ++t) {
        if (t == v) continue;
        const Vcpu& target = *vcpus_[t];
        const bool runs_next = target.power == Power::Waiting   ? gic_->wake_pending(t)
                               : target.power == Power::Running ? gic_->irq_pending(t)
                                                                : false;
        if (runs_next) {
            vc.quantum = std::min(vc.quantum, vc.ran + config_.kick_grace);  // `ran` counts this instruction
            return;
        }
    }
}

static void msi_test_check(UnicornCpu& u, uint64_t offset, unsigned size, bool write, KvmGic* gic) {
    if (!gic) u.fail(u.pc(), "the MSI test device needs the KVM GIC (the board has none)");
    if (size != 4 || offset % 4 || offset > MsiTestDevice::kForwarded)
        u.fail(u.pc(), fmt::format("{}-byte {} at offset {:#x} of the MSI test device: its registers are 32-bit, "
                                   "at 0x0..0xC (docs/machine.md \"MSI test device\")",
                                   size, write ? "write" : "read", offset));
}

uint64_t Board::msi_test_read(uint32_t v, uint64_t offset, unsigned size) {
    UnicornCpu& u = *vcpus_[v]->cpu;
    KvmGic* gic = kvm_gic();
    msi_test_check(u, offset, size, false, gic);
    switch (offset) {
        case MsiTestDevice::kDevid: return msi_devid_;
        case MsiTestDevice::kCount: return gic->gic().assigned_devices().size();
        case MsiTestDevice::kForwarded: return gic->gic().forwarded(msi_devid_, msi_event_) ? 1 : 0;
        default: return 0;  // TRIGGER is write-only: RAZ
    }
}

void Board::msi_test_write(uint32_t v, uint64_t offset, unsigned size, uint64_t value) {
    UnicornCpu& u = *vcpus_[v]->cpu;
    KvmGic* gic = kvm_gic();
    msi_test_check(u, offset, size, true, gic);
    if (offset == MsiTestDevice::kDevid) msi_devid_ = static_cast<uint32_t>(value);
    if (offset != MsiTestDevice::kTrigger) return;  // COUNT, FORWARDED: read-only, WI
    msi_event_ = static_cast<uint32_t>(value);
    gic->gic().assigned_msi(msi_devid_, msi_event_);  // an unassigned device or event is logged
    for (uint32_t t = 0; t < vcpus(); ++t) recheck(t);  // the LPI may target any vCPU
    yield_if_woken(v);
}

void Board::check_migrate_text() {
    const std::string& tx = uart_.tx();
    const size_t at = tx.find(config_.migrate_on, migrate_scan_);
    if (at == std::string::npos) return;
    migrate_scan_ = at + config_.migrate_on.size();
    stop(ExitReason::Migrate);
    for (uint32_t v = 0; v < vcpus(); ++v) recheck(v);  // the writer stops after this instruction
}

uint32_t Board::on_mrs(uc_engine*, uc_arm64_reg reg, const uc_arm64_cp_reg* cp, void* user) {
    auto* vc = static_cast<Vcpu*>(user);
    uint32_t handled = 1;  // on a failure the run stops at the access (guarded)
    vc->cpu->guarded([&] { handled = vc->board->sysreg(vc->index, reg, *cp, true) ? 1 : 0; });
    return handled;
}

uint32_t Board::on_msr(uc_engine*, uc_arm64_reg reg, const uc_arm64_cp_reg* cp, void* user) {
    auto* vc = static_cast<Vcpu*>(user);
    uint32_t handled = 1;
    vc->cpu->guarded([&] { handled = vc->board->sysreg(vc->index, reg, *cp, false) ? 1 : 0; });
    return handled;
}

bool Board::sysreg(uint32_t v, uc_arm64_reg reg, const uc_arm64_cp_reg& cp, bool read) {
    const SysRegId id{cp.op0, cp.op1, cp.crn, cp.crm, cp.op2};
    const bool timer = GenericTimer::is_timer_reg(id);
    // ICC_* (reference/unicorn_2_0_1.md AArch64 item 2; CRn = 12 alone would catch VBAR_EL1).
    const bool icc = cp.op0 == 3 && cp.op1 == 0 &&
                     ((cp.crn == 12 && cp.crm >= 8) || (cp.crn == 4 && cp.crm == 6 && cp.op2 == 0));
    if (!timer && !icc) return false;  // QEMU executes it
    Vcpu& vc = *vcpus_[v];
    UnicornCpu& u = *vc.cpu;
    const uint64_t pc = u.pc();
    uint64_t value = 0;
    AccessFault f;
    if (timer) {
        f = read ? vc.timer.read(id, now(v), value) : vc.timer.write(id, now(v), cp.val);
        if (!read) update_lines(v);
    } else {
        f = read ? gic_->sysreg_read(v, id, value) : gic_->sysreg_write(v, id, cp.val);
    }
    recheck(v);  // a timer write moves the line, an ICC access (IAR, EOI, PMR, SGI) what is signalled
    if (f) u.fault(pc, *f);
    // ICC_SGI1R_EL1, ICC_ASGI1R_EL1, ICC_SGI0R_EL1 (op0 3, op1 0, CRn 12, CRm 11, op2 5..7) reach
    // other vCPUs; the other ICC writes (EOIR, PMR, ...) only this one.
    if (icc && !read && cp.crn == 12 && cp.crm == 11 && cp.op2 >= 5) yield_if_woken(v);
    if (read) u.set_reg(reg, value);
    // ICC_IAR1_EL1 returned an INTID: the interrupt is taken (1020..1023 are special, none taken).
    if (config_.trace && icc && read && cp.crn == 12 && cp.crm == 12 && cp.op2 == 0 && (value < 1020 || value >= 8192))
        trace_.push_back(TraceEvent{TraceEvent::Irq, now(v), v, static_cast<uint32_t>(value), {}});
    u.set_pc(pc + 4);  // AArch64 item 1: a skipped access does not advance the PC
    return true;
}

uint64_t Board::on_mmio_read(uc_engine*, uint64_t offset, unsigned size, void* user) {
    auto* m = static_cast<MmioContext*>(user);
    Board& b = *m->board;
    UnicornCpu& u = *b.vcpus_[m->vcpu]->cpu;
    uint64_t value = 0;
    u.guarded([&] {
        if (m->kind == MmioContext::Uart) {
            value = b.uart_.read(offset, size);
            return;
        }
        if (m->kind == MmioContext::MsiTest) {
            value = b.msi_test_read(m->vcpu, offset, size);
            return;
        }
        if (AccessFault f = b.gic_->mmio_read(m->vcpu, m->base + offset, size, value)) u.fail(u.pc(), *f);
    });
    return value;
}

void Board::on_mmio_write(uc_engine*, uint64_t offset, unsigned size, uint64_t value, void* user) {
    auto* m = static_cast<MmioContext*>(user);
    Board& b = *m->board;
    UnicornCpu& u = *b.vcpus_[m->vcpu]->cpu;
    u.guarded([&] {
        if (m->kind == MmioContext::MsiTest) {
            b.msi_test_write(m->vcpu, offset, size, value);
            return;
        }
        if (m->kind == MmioContext::Uart) {
            b.uart_.write(offset, size, value);
            const std::string& tx = b.uart_.tx();
            if (b.config_.trace && !tx.empty() && tx.back() == '\n' && tx.size() > b.uart_line_start_) {
                b.trace_.push_back(TraceEvent{TraceEvent::UartLine, b.now(m->vcpu), m->vcpu, 0,
                                              tx.substr(b.uart_line_start_, tx.size() - 1 - b.uart_line_start_)});
                b.uart_line_start_ = tx.size();
            }
            if (!b.config_.migrate_on.empty()) b.check_migrate_text();
            return;
        }
        if (AccessFault f = b.gic_->mmio_write(m->vcpu, m->base + offset, size, value)) u.fail(u.pc(), *f);
        b.recheck(m->vcpu);
        b.yield_if_woken(m->vcpu);  // an ITS command (INT, MOVI...) or a GICD/GICR write may wake a vCPU
    });
}

// ---- PSCI (DEN0022; reference/arm_virt_machine.md §4) -------------------------------------------------

bool Board::psci_call(uint32_t v, bool hvc) {
    Vcpu& vc = *vcpus_[v];
    UnicornCpu& u = *vc.cpu;
    const uint64_t pc = u.pc() - 4;
    if (hvc != (config_.psci == PsciConduit::Hvc)) {
        // The device tree names one conduit; this board has no EL2 (HVC) or EL3 (SMC) firmware
        // behind the other, where the instruction is UNDEFINED.
        u.fail(pc, fmt::format("{}: an undefined instruction on this board, whose PSCI conduit is {} (--psci)",
                               hvc ? "HVC" : "SMC", to_string(config_.psci)));
        return true;
    }
    const auto fid = static_cast<uint32_t>(u.reg(UC_ARM64_REG_X0));
    const int64_t r = psci(v, fid, u.reg(UC_ARM64_REG_X1), u.reg(UC_ARM64_REG_X2), u.reg(UC_ARM64_REG_X3));
    if (!vc.psci_stop) u.set_reg(UC_ARM64_REG_X0, static_cast<uint64_t>(r));
    return true;
}

std::optional<uint32_t> Board::vcpu_of_mpidr(uint64_t mpidr) const {
    for (uint32_t v = 0; v < vcpus(); ++v)
        if ((mpidr & kMpidrAffMask) == mpidr_affinity(v)) return v;
    return std::nullopt;
}

void Board::power_on(uint32_t v, uint64_t entry, uint64_t context) {
    Vcpu& vc = *vcpus_[v];
    UnicornCpu& u = *vc.cpu;
    // DEN0022 CPU_ON: the target starts at `entry` in the caller's EL with x0 = context id, MMU
    // and caches off, DAIF masked (reference/arm_virt_machine.md §4).
    u.set_reg(UC_ARM64_REG_X0, context);
    for (int r : {UC_ARM64_REG_X1, UC_ARM64_REG_X2, UC_ARM64_REG_X3}) u.set_reg(r, 0);
    u.set_reg(UC_ARM64_REG_PSTATE, kBootPstate);
    u.set_sysreg(3, 0, 1, 0, 0, u.sysreg(3, 0, 1, 0, 0) & ~kSctlrMmuCaches);  // SCTLR_EL1
    u.set_pc(entry);
    vc.power = Power::Running;
}

int64_t Board::psci(uint32_t v, uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3) {
    using namespace psci;
    const bool smc32 = (fid & 0x4000'0000) == 0;  // SMCCC: bit 30 clear = SMC32/HVC32 arguments
    if (smc32) a1 = static_cast<uint32_t>(a1), a2 = static_cast<uint32_t>(a2), a3 = static_cast<uint32_t>(a3);
    Vcpu& vc = *vcpus_[v];
    switch (fid) {
        case kVersion: return kVersion1_0;
        case kFeatures: return implemented(static_cast<uint32_t>(a1)) ? kSuccess : kNotSupported;
        case kMigrateInfoType: return kMigrateInfoNoTrustedOs;
        case kCpuOn32:
        case kCpuOn64: {
            const std::optional<uint32_t> t = vcpu_of_mpidr(a1);
            if (!t || (a1 & ~kMpidrAffMask & ~kMpidrRes1)) return kInvalidParameters;
            if (vcpus_[*t]->power != Power::Off) return kAlreadyOn;  // CPU_ON completes at once: never ON_PENDING
            if (a2 % 4 || !ram_->contains(a2, 4)) return kInvalidAddress;
            power_on(*t, a2, a3);
            return kSuccess;
        }
        case kCpuOff:
            vc.power = Power::Off;
            vc.psci_stop = true;
            uc_emu_stop(vc.cpu->engine());
            return kSuccess;  // not seen by the caller
        case kAffinityInfo32:
        case kAffinityInfo64: {
            // Policy: affinity level 0 only (docs/machine.md "PSCI").
            const std::optional<uint32_t> t = vcpu_of_mpidr(a1);
            if (!t || a2 != 0) return kInvalidParameters;
            return vcpus_[*t]->power == Power::Off ? kAffinityOff : kAffinityOn;
        }
        case kSystemOff:
        case kSystemReset:
            vc.psci_stop = true;
            stop(fid == kSystemOff ? ExitReason::SystemOff : ExitReason::Reset);
            uc_emu_stop(vc.cpu->engine());
            return kSuccess;
        default: return kNotSupported;  // incl. CPU_SUSPEND, SMCCC_VERSION (SMCCC 1.0: policy)
    }
}

// ---- the run loop ----------------------------------------------------------------------------------

void Board::stop(ExitReason r) {
    if (!exit_) exit_ = r;
}

FaultReport Board::report(uint32_t v, uint64_t pc, const std::string& reason) {
    return FaultReport{v, pc, vcpus_[v]->cpu->disassemble(pc), reason};
}

void Board::update_lines(uint32_t v) {
    const Vcpu& vc = *vcpus_[v];
    const uint64_t t = now(v);
    gic_->set_line(v, GenericTimer::kVirtIntid, vc.timer.virt().line(t));
    gic_->set_line(v, GenericTimer::kPhysIntid, vc.timer.phys().line(t));
}

void Board::run_turn(uint32_t v) {
    Vcpu& vc = *vcpus_[v];
    UnicornCpu& u = *vc.cpu;
    vc.quantum_stop = vc.psci_stop = false;
    try {
        for (;;) {
            vc.recheck = vc.recheck_stop = false;
            const bool signalled = gic_->irq_pending(v);
            if (signalled && !irq_masked(u)) enter_irq_exception(u);
            vc.irq_held = signalled && irq_masked(u);
            vc.may_unmask = false;
            u.run(0);
            if (!vc.recheck_stop || exit_ || vc.power != Power::Running) break;
        }
    } catch (const GuestFault& f) {
        fault_ = FaultReport{v, f.pc(), f.instruction(), f.reason()};
        stop(ExitReason::Fault);
    }
    vc.irq_held = vc.recheck = vc.recheck_stop = false;
}

MachineResult Board::run() {
    uint32_t last = 0;
    if (exit_ == ExitReason::Migrate || exit_ == ExitReason::Paused) exit_.reset();  // a paused board goes on
    while (!exit_) {
        bool any_ran = false;
        for (uint32_t v = 0; v < vcpus() && !exit_; ++v) {
            Vcpu& vc = *vcpus_[v];
            vc.ran = 0;
            if (vc.power == Power::Waiting) {
                update_lines(v);
                if (!gic_->wake_pending(v)) continue;
                vc.power = Power::Running;  // resumes after its WFI
                gic_->vcpu_runs(v);
            }
            if (vc.power != Power::Running) continue;
            last = v;
            vc.quantum = std::min(config_.quantum, config_.max_insns - total_);
            if (config_.migrate_at_insns && !at_insns_done_)
                vc.quantum = std::min(vc.quantum, *config_.migrate_at_insns > total_ ? *config_.migrate_at_insns - total_ : 0);
            if (pause_at_) vc.quantum = std::min(vc.quantum, *pause_at_ > total_ ? *pause_at_ - total_ : 0);
            run_turn(v);
            vc.insns += vc.ran;
            total_ += vc.ran;
            any_ran = true;
            if (exit_) break;
            UnicornCpu& u = *vc.cpu;
            if (!vc.quantum_stop && !vc.psci_stop && vc.power == Power::Running) {
                const uint64_t pc = u.pc();
                if (ram_->contains(pc - 4, 4) && ram_->load<uint32_t>(pc - 4) == kWfi) {
                    vc.power = Power::Waiting;  // reference/unicorn_2_0_1.md AArch64 item 7
                    gic_->vcpu_waits(v);
                }
            }
            update_lines(v);
            if (config_.migrate_at_insns && !at_insns_done_ && total_ >= *config_.migrate_at_insns) {
                at_insns_done_ = true;
                stop(ExitReason::Migrate);
                break;
            }
            if (pause_at_ && total_ >= *pause_at_) {
                pause_at_.reset();
                stop(ExitReason::Paused);
                break;
            }
            if (total_ >= config_.max_insns) {
                const uint64_t pc = u.pc();
                fault_ = report(v, pc, fmt::format("the instruction budget (--max-insns {}) ran out", config_.max_insns));
                stop(ExitReason::Budget);
            }
        }
        if (exit_ == ExitReason::Migrate || exit_ == ExitReason::Paused) {
            // Paused mid-round: time moves on by the longest turn run, so no vCPU's CNTVCT goes back.
            uint64_t longest = 0;
            for (const auto& vc : vcpus_) longest = std::max(longest, vc->ran);
            base_ += longest;
        }
        for (auto& vc : vcpus_) vc->ran = 0;
        if (exit_) break;
        if (any_ran) {
            base_ += config_.quantum;  // every vCPU's turn took one quantum of virtual time
            continue;
        }
        // Nobody ran: every vCPU is off or waits in WFI. Virtual time jumps to the earliest timer
        // deadline of a waiting vCPU (docs/machine.md "Virtual time").
        std::optional<uint64_t> next;
        bool waiting = false;
        for (const auto& vc : vcpus_) {
            if (vc->power != Power::Waiting) continue;
            waiting = true;
            if (std::optional<uint64_t> d = vc->timer.next_deadline(base_)) next = next ? std::min(*next, *d) : *d;
        }
        if (!next) {
            const uint64_t pc = vcpus_[last]->cpu->pc();
            fault_ = report(last, pc,
                            waiting ? std::string("every powered-on vCPU waits in WFI and no timer or interrupt can wake "
                                                  "one (a deadlock)")
                                    : std::string("every vCPU is off (CPU_OFF on the last one)"));
            stop(ExitReason::Fault);
            break;
        }
        base_ = *next;
    }
    return finish(last);
}

MachineResult Board::finish(uint32_t) {
    MachineResult r;
    r.exit = *exit_;
    r.fault = fault_;
    for (uint32_t v = 0; v < vcpus(); ++v)
        r.vcpus.push_back(VcpuResult{kMpidrRes1 | mpidr_affinity(v), vcpus_[v]->insns, vcpus_[v]->power});
    r.insns = total_;
    r.virtual_ticks = base_;
    r.uart = uart_.tx();
    return r;
}

// ---- the migration stream's board sections (docs/machine_stream.md) -------------------------------

namespace {
// The vCPU registers the stream carries, in order (the AArch64 state a bare-metal EL1 guest owns;
// QEMU's cpu vmstate carries the same architectural state). PSTATE first, then the stack pointers,
// SP (the current one) last: Unicorn keeps the banked SP_ELx apart from the live SP.
constexpr int kSavedRegs[] = {
    UC_ARM64_REG_PSTATE,    UC_ARM64_REG_PC,        UC_ARM64_REG_X29,       UC_ARM64_REG_X30,
    UC_ARM64_REG_ELR_EL1,   UC_ARM64_REG_VBAR_EL1,  UC_ARM64_REG_TPIDR_EL0,
    UC_ARM64_REG_TPIDRRO_EL0, UC_ARM64_REG_TPIDR_EL1, UC_ARM64_REG_CPACR_EL1, UC_ARM64_REG_ESR_EL1,
    UC_ARM64_REG_FAR_EL1,   UC_ARM64_REG_PAR_EL1,   UC_ARM64_REG_MAIR_EL1,  UC_ARM64_REG_TTBR0_EL1,
    UC_ARM64_REG_TTBR1_EL1, UC_ARM64_REG_FPCR,      UC_ARM64_REG_FPSR,      UC_ARM64_REG_SP_EL0,
    UC_ARM64_REG_SP_EL1,    UC_ARM64_REG_SP,
};
constexpr unsigned kSysregs[][5] = {{3, 0, 1, 0, 0} /* SCTLR_EL1 */, {3, 0, 2, 0, 2} /* TCR_EL1 */, {3, 0, 4, 0, 0} /* SPSR_EL1 */,
                                    {3, 0, 5, 1, 0} /* AFSR0 */,     {3, 0, 10, 3, 0} /* AMAIR_EL1 */,
                                    {3, 0, 13, 0, 1} /* CONTEXTIDR */, {3, 0, 14, 1, 0} /* CNTKCTL_EL1 */};
constexpr uint32_t kStreamPageBytes = 4096;
}  // namespace

void Board::write_state(ByteWriter& w) const {
    size_t at = w.begin_section("BORD");
    w.u32(config_.smp);
    w.u64(config_.mem);
    w.u8(static_cast<uint8_t>(config_.psci));
    w.u64(base_);
    w.u64(total_);
    w.u64(dtb_address_);
    w.end_section(at);

    at = w.begin_section("VCPU");
    for (const auto& vc : vcpus_) {
        UnicornCpu& u = *vc->cpu;
        w.u8(static_cast<uint8_t>(vc->power));
        w.u64(vc->insns);
        for (int r = UC_ARM64_REG_X0; r <= UC_ARM64_REG_X28; ++r) w.u64(u.reg(r));
        for (int r : kSavedRegs) w.u64(u.reg(r));
        for (const auto& sr : kSysregs) w.u64(u.sysreg(sr[0], sr[1], sr[2], sr[3], sr[4]));
        for (int q = 0; q < 32; ++q) {
            uint64_t v[2] = {0, 0};
            u.reg_struct(UC_ARM64_REG_Q0 + q, v);
            w.u64(v[0]), w.u64(v[1]);
        }
        for (const GenericTimer::Channel* c : {&vc->timer.virt(), &vc->timer.phys()}) w.u64(c->ctl), w.u64(c->cval);
    }
    w.end_section(at);

    uart_.save(w);

    at = w.begin_section("RAM_");
    const uint8_t* ram = ram_->data();
    std::vector<uint64_t> pages;
    static const uint8_t zero[kStreamPageBytes] = {};
    for (uint64_t p = 0; p < config_.mem / kStreamPageBytes; ++p)
        if (std::memcmp(ram + p * kStreamPageBytes, zero, kStreamPageBytes) != 0) pages.push_back(p);
    w.u64(pages.size());
    for (uint64_t p : pages) {
        w.u64(p);
        w.bytes(std::span(ram + p * kStreamPageBytes, kStreamPageBytes));
    }
    w.end_section(at);
}

std::unique_ptr<Board> Board::restore(BoardConfig config, ByteReader& in, const GicMaker& make_gic) {
    ByteReader r = in.section("BORD");
    config.smp = r.u32_in("smp", 1, kMaxVcpus);
    const size_t mem_at = r.pos();
    config.mem = r.u64("mem");
    if (config.mem < kMinMem || config.mem > kMaxMem || config.mem % (1 << 20))
        r.fail(mem_at, "mem", fmt::format("{} bytes is not a RAM size of this board", config.mem));
    const uint8_t psci = r.u8("psci conduit");
    if (psci > 1) r.fail(r.pos() - 1, "psci conduit", fmt::format("{} is neither hvc (0) nor smc (1)", psci));
    config.psci = static_cast<PsciConduit>(psci);
    std::unique_ptr<Board> b(new Board(RestoreTag{}, std::move(config)));
    b->check_config();
    b->base_ = r.u64("virtual time");
    b->total_ = r.u64("instructions");
    b->dtb_address_ = r.u64("DTB address");
    r.finish("the BORD section");
    b->ram_ = std::make_unique<GuestRam>(MemoryMap::kRam, b->config_.mem);

    // VCPU: registers are loaded after the vCPUs exist (below); read them first.
    ByteReader vr = in.section("VCPU");
    b->uart_.load(in);
    ByteReader ram = in.section("RAM_");
    const uint64_t n = ram.u64("page count");
    const uint64_t limit = b->config_.mem / kStreamPageBytes;
    if (n > limit) ram.fail(0, "page count", fmt::format("{} pages in {} bytes of RAM", n, b->config_.mem));
    for (uint64_t i = 0; i < n; ++i) {
        const size_t page_at = ram.pos();
        const uint64_t p = ram.u64("page number");
        if (p >= limit) ram.fail(page_at, "page number", fmt::format("page {} is outside RAM ({} pages)", p, limit));
        const std::vector<uint8_t> bytes = ram.bytes("page", kStreamPageBytes);
        if (bytes.size() != kStreamPageBytes)
            ram.fail(page_at + 8, "page", fmt::format("{} bytes (a page is {})", bytes.size(), kStreamPageBytes));
        std::memcpy(b->ram_->data() + p * kStreamPageBytes, bytes.data(), kStreamPageBytes);
    }
    ram.finish("the RAM_ section");

    b->gic_ = make_gic(*b->ram_, b->log_);
    if (KvmGic* g = b->kvm_gic())  // the assigned devices came with the stream; `all` goes on mapping
        for (const Assignment& a : b->config_.assign)
            if (a.all) g->gic().assign_all(true);
    b->make_vcpus();
    for (auto& vc : b->vcpus_) {
        UnicornCpu& u = *vc->cpu;
        const size_t power_at = vr.pos();
        const uint8_t power = vr.u8("vCPU power");
        if (power > 2) vr.fail(power_at, "vCPU power", fmt::format("{} is not off (0), running (1) or wfi (2)", power));
        // A vCPU in WFI when the VM stopped left it (pause_all_vcpus kicks it out of kvm_vcpu_halt;
        // the WFI completes): it runs on the destination (Arm ARM D1.16.2: WFI may wake spuriously).
        vc->power = power == 0 ? Power::Off : Power::Running;
        vc->insns = vr.u64("vCPU instructions");
        for (int reg = UC_ARM64_REG_X0; reg <= UC_ARM64_REG_X28; ++reg) u.set_reg(reg, vr.u64("X register"));
        for (int reg : kSavedRegs) u.set_reg(reg, vr.u64("vCPU register"));
        for (const auto& sr : kSysregs) u.set_sysreg(sr[0], sr[1], sr[2], sr[3], sr[4], vr.u64("system register"));
        for (int q = 0; q < 32; ++q) {
            uint64_t v[2];
            v[0] = vr.u64("Q register");
            v[1] = vr.u64("Q register");
            u.set_reg_struct(UC_ARM64_REG_Q0 + q, v);
        }
        GenericTimer::Channel virt, phys;
        virt.ctl = vr.u64("CNTV_CTL_EL0") & (GenericTimer::kEnable | GenericTimer::kImask);
        virt.cval = vr.u64("CNTV_CVAL_EL0");
        phys.ctl = vr.u64("CNTP_CTL_EL0") & (GenericTimer::kEnable | GenericTimer::kImask);
        phys.cval = vr.u64("CNTP_CVAL_EL0");
        vc->timer.restore(virt, phys);
    }
    vr.finish("the VCPU section");
    b->migrate_scan_ = b->uart_.tx().size();
    // A line the source began (the migration prompt before its newline) ends on the destination.
    const size_t nl = b->uart_.tx().rfind('\n');
    b->uart_line_start_ = nl == std::string::npos ? 0 : nl + 1;
    b->at_insns_done_ = b->config_.migrate_at_insns && b->total_ >= *b->config_.migrate_at_insns;
    b->uart_.inject(b->config_.input);
    for (uint32_t v = 0; v < b->vcpus(); ++v) b->update_lines(v);
    return b;
}

}  // namespace irqdiff::arm::machine
