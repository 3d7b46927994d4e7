#include "arm_gic/machine/board.h"

#include <fmt/format.h>

#include <algorithm>
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
};

struct Board::MmioContext {
    Board* board;
    uint32_t vcpu;
    uint64_t base;
    bool uart;
};

Board::Board(BoardConfig config, const std::vector<uint8_t>& image, std::unique_ptr<InterruptController> gic)
    : config_(std::move(config)), gic_(std::move(gic)), uart_(config_.serial) {
    if (config_.smp < 1 || config_.smp > kMaxVcpus)
        throw InputError("--smp", fmt::format("{}: expected a number of vCPUs from 1 to {}", config_.smp, kMaxVcpus));
    if (config_.mem < kMinMem || config_.mem > kMaxMem || config_.mem % (1 << 20))
        throw InputError("--mem", fmt::format("{} bytes: expected whole MiB from {} MiB to {} MiB", config_.mem,
                                              kMinMem >> 20, kMaxMem >> 20));
    if (config_.quantum == 0) throw InputError("quantum", "expected at least 1 instruction");
    if (config_.max_insns == 0) throw InputError("--max-insns", "expected at least 1 instruction");
    ram_ = std::make_unique<GuestRam>(MemoryMap::kRam, config_.mem);
    if (!gic_ && config_.gic == GicModel::Kvm)
        gic_ = std::make_unique<KvmGic>(GicV3Config{config_.smp, 64, config_.gic_host, config_.transfer, 4},
                                        ram_->data(), MemoryMap::kRam, config_.mem, log_);
    if (!gic_) gic_ = std::make_unique<NoGic>(config_.smp);
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
    // The primary boots (reference/arm_virt_machine.md §2): x0 = DTB, x1..x3 = 0.
    power_on(0, image_.entry, dtb_address_);
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
    auto map = [&](uint64_t base, uint64_t size, bool is_uart) {
        mmio_.push_back(std::make_unique<MmioContext>(MmioContext{this, v, base, is_uart}));
        ok(uc_mmio_map(uc, base, size, &Board::on_mmio_read, mmio_.back().get(), &Board::on_mmio_write,
                       mmio_.back().get()),
           "uc_mmio_map");
    };
    map(MemoryMap::kUart, MemoryMap::kUartSize, true);
    for (const MmioRegion& r : gic_->mmio_regions()) map(r.base, r.size, false);
}

uint64_t Board::now(uint32_t v) const { return base_ + vcpus_.at(v)->ran; }
UnicornCpu& Board::cpu(uint32_t v) { return *vcpus_.at(v)->cpu; }
Power Board::power(uint32_t v) const { return vcpus_.at(v)->power; }
const GenericTimer& Board::timer(uint32_t v) const { return vcpus_.at(v)->timer; }
bool Board::timer_line(uint32_t v) const { return vcpus_.at(v)->timer.virt().line(now(v)); }

// ---- hooks ---------------------------------------------------------------------------------------

void Board::on_code(uc_engine* uc, uint64_t, uint32_t, void* user) {
    auto* vc = static_cast<Vcpu*>(user);
    if (vc->ran >= vc->quantum) {  // stopping here leaves this instruction unexecuted
        vc->quantum_stop = true;
        uc_emu_stop(uc);
        return;
    }
    // The instruction before this one may have changed what the GIC signals (recheck), or
    // unmasked an IRQ the GIC already signals: the run loop takes it before this instruction.
    if (vc->recheck || (vc->irq_held && !irq_masked(*vc->cpu))) {
        vc->recheck = false;
        vc->recheck_stop = true;
        uc_emu_stop(uc);
        return;
    }
    ++vc->ran;
}

void Board::recheck(uint32_t v) { vcpus_[v]->recheck = true; }

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
    if (read) u.set_reg(reg, value);
    u.set_pc(pc + 4);  // AArch64 item 1: a skipped access does not advance the PC
    return true;
}

uint64_t Board::on_mmio_read(uc_engine*, uint64_t offset, unsigned size, void* user) {
    auto* m = static_cast<MmioContext*>(user);
    Board& b = *m->board;
    UnicornCpu& u = *b.vcpus_[m->vcpu]->cpu;
    uint64_t value = 0;
    u.guarded([&] {
        if (m->uart) {
            value = b.uart_.read(offset, size);
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
        if (m->uart) {
            b.uart_.write(offset, size, value);
            return;
        }
        if (AccessFault f = b.gic_->mmio_write(m->vcpu, m->base + offset, size, value)) u.fail(u.pc(), *f);
        b.recheck(m->vcpu);
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
            if (total_ >= config_.max_insns) {
                const uint64_t pc = u.pc();
                fault_ = report(v, pc, fmt::format("the instruction budget (--max-insns {}) ran out", config_.max_insns));
                stop(ExitReason::Budget);
            }
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

}  // namespace irqdiff::arm::machine
