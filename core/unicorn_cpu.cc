#include "core/unicorn_cpu.h"

#include <capstone/capstone.h>
#include <sys/mman.h>
#include <fmt/format.h>

#include <new>
#include <stdexcept>

namespace irqdiff {

const char* to_string(GuestIsa isa) { return isa == GuestIsa::Arm64 ? "aarch64" : "x86-64"; }

uint64_t GuestImage::symbol(std::string_view wanted) const {
    for (size_t i = 0; i < symbol_count; ++i)
        if (wanted == symbols[i].name) return symbols[i].address;
    throw std::logic_error(fmt::format("guest program {} defines no symbol '{}'", name, wanted));
}

// ---- guest RAM ----------------------------------------------------------------------------------

GuestRam::GuestRam(uint64_t base, size_t size) : base_(base), size_(size), bytes_(nullptr) {
    if (base % 4096 || size % 4096 || !size) throw std::logic_error("GuestRam: base and size must be whole 4-KiB pages");
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    bytes_ = static_cast<uint8_t*>(p);
}

GuestRam::~GuestRam() { munmap(bytes_, size_); }

const uint8_t* GuestRam::at(uint64_t address, size_t length) const {
    if (!contains(address, length))
        throw std::logic_error(fmt::format("GuestRam: {} bytes at {:#x} are outside guest RAM {:#x}+{:#x}", length,
                                           address, base_, size_));
    return bytes_ + (address - base_);
}

void GuestRam::load(const GuestImage& image) {
    if (!contains(image.base, image.size))
        throw std::logic_error(fmt::format("GuestRam: program {} ({:#x} bytes at {:#x}) does not fit", image.name,
                                           image.size, image.base));
    std::memcpy(bytes_ + (image.base - base_), image.bytes, image.size);
}

void GuestRam::assign(const std::vector<uint8_t>& copy) {
    if (copy.size() != size_) throw std::logic_error("GuestRam::assign: a copy of another size");
    std::memcpy(bytes_, copy.data(), copy.size());  // keeps the buffer the engines map
}

// ---- faults -------------------------------------------------------------------------------------

GuestFault::GuestFault(const std::string& vcpu, uint64_t pc, const std::string& instruction,
                       const std::string& reason)
    : InputError(vcpu, fmt::format("guest fault at pc {:#x} ({}): {}", pc, instruction, reason)),
      pc_(pc),
      instruction_(instruction),
      reason_(reason) {}

// ---- the engine ---------------------------------------------------------------------------------

namespace {

std::string exception_name(GuestIsa isa, uint32_t intno) {
    if (isa == GuestIsa::Arm64) {
        // QEMU's EXCP_* numbers, which Unicorn passes to UC_HOOK_INTR (reference/unicorn_2_0_1.md,
        // AArch64 item 5).
        switch (intno) {
            case 1: return "undefined instruction";
            case 2: return "SVC (the guest programs make no system calls)";
            case 3: return "prefetch abort";
            case 4: return "data abort";
            case 7: return "breakpoint (BRK)";
            case 11: return "HVC (no hypercalls in this model)";
            case 13: return "SMC (no secure monitor in this model)";
            default: return fmt::format("CPU exception {} (QEMU EXCP number)", intno);
        }
    }
    switch (intno) {  // x86 exception vectors (SDM Vol. 3A §6.15)
        case 0: return "#DE divide error";
        case 1: return "#DB debug exception";
        case 3: return "#BP breakpoint (INT3)";
        case 6: return "#UD invalid opcode";
        case 8: return "#DF double fault";
        case 12: return "#SS stack fault";
        case 13: return "#GP general protection";
        case 14: return "#PF page fault";
        default: return fmt::format("exception or software interrupt vector {}", intno);
    }
}

}  // namespace

UnicornCpu::UnicornCpu(GuestIsa isa, GuestRam& ram, std::string label)
    : isa_(isa), ram_(&ram), label_(std::move(label)) {
    uc_err e = isa == GuestIsa::Arm64 ? uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &uc_) : uc_open(UC_ARCH_X86, UC_MODE_64, &uc_);
    check(e, "uc_open");
    check(uc_mem_map_ptr(uc_, ram.base(), ram.size(), UC_PROT_ALL, ram.data()), "uc_mem_map_ptr");
    uc_hook h;
    check(uc_hook_add(uc_, &h, UC_HOOK_INTR, reinterpret_cast<void*>(&UnicornCpu::on_interrupt), this, 1, 0),
          "uc_hook_add(INTR)");
    check(uc_hook_add(uc_, &h, UC_HOOK_MEM_UNMAPPED, reinterpret_cast<void*>(&UnicornCpu::on_unmapped), this, 1, 0),
          "uc_hook_add(MEM_UNMAPPED)");
    if (isa == GuestIsa::Arm64) {
        // Non-secure EL1 with AArch64 below EL3 and EL2 (reference/unicorn_2_0_1.md, AArch64 item 3):
        // SCR_EL3 = RW | HCE | NS, HCR_EL2.RW = 1.
        set_sysreg(3, 6, 1, 1, 0, (1u << 10) | (1u << 8) | 1u);
        set_sysreg(3, 4, 1, 1, 0, uint64_t{1} << 31);
    }
}

UnicornCpu::~UnicornCpu() {
    if (capstone_) {
        csh h = capstone_;
        cs_close(&h);
    }
    if (uc_) uc_close(uc_);
}

void UnicornCpu::check(uc_err err, const char* what) const {
    if (err != UC_ERR_OK) throw std::logic_error(fmt::format("Unicorn {} for {}: {}", what, label_, uc_strerror(err)));
}

uint64_t UnicornCpu::reg(int id) const {
    uint64_t v = 0;
    check(uc_reg_read(uc_, id, &v), "uc_reg_read");
    return v;
}
void UnicornCpu::set_reg(int id, uint64_t value) { check(uc_reg_write(uc_, id, &value), "uc_reg_write"); }
void UnicornCpu::reg_struct(int id, void* value) const { check(uc_reg_read(uc_, id, value), "uc_reg_read"); }
void UnicornCpu::set_reg_struct(int id, const void* value) { check(uc_reg_write(uc_, id, value), "uc_reg_write"); }
int UnicornCpu::pc_reg() const {
    return isa_ == GuestIsa::Arm64 ? static_cast<int>(UC_ARM64_REG_PC) : static_cast<int>(UC_X86_REG_RIP);
}
uint64_t UnicornCpu::pc() const { return reg(pc_reg()); }
void UnicornCpu::set_pc(uint64_t pc) { set_reg(pc_reg(), pc); }

uint64_t UnicornCpu::sysreg(uint32_t op0, uint32_t op1, uint32_t crn, uint32_t crm, uint32_t op2) const {
    uc_arm64_cp_reg r{crn, crm, op0, op1, op2, 0};
    check(uc_reg_read(uc_, UC_ARM64_REG_CP_REG, &r), "uc_reg_read(CP_REG)");
    return r.val;
}
void UnicornCpu::set_sysreg(uint32_t op0, uint32_t op1, uint32_t crn, uint32_t crm, uint32_t op2, uint64_t value) {
    uc_arm64_cp_reg r{crn, crm, op0, op1, op2, value};
    check(uc_reg_write(uc_, UC_ARM64_REG_CP_REG, &r), "uc_reg_write(CP_REG)");
}

void UnicornCpu::on_interrupt(uc_engine*, uint32_t intno, void* self) {
    auto* cpu = static_cast<UnicornCpu*>(self);
    if (cpu->interrupt_handler_) {
        bool handled = false;
        cpu->guarded([&] { handled = cpu->interrupt_handler_(intno); });
        if (handled || cpu->pending_) return;
    }
    uint64_t pc = cpu->pc();
    // SVC, HVC and SMC arrive with the PC past the instruction (AArch64 item 5).
    if (cpu->isa_ == GuestIsa::Arm64 && (intno == 2 || intno == 11 || intno == 13)) pc -= 4;
    cpu->fail(pc, exception_name(cpu->isa_, intno) + ", which this guest cannot take");
}

bool UnicornCpu::on_unmapped(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t, void* self) {
    auto* cpu = static_cast<UnicornCpu*>(self);
    const char* kind = type == UC_MEM_FETCH_UNMAPPED ? "instruction fetch"
                       : type == UC_MEM_WRITE_UNMAPPED ? "write"
                                                        : "read";
    cpu->fail(cpu->pc(), fmt::format("{} of {} bytes at {:#x}, outside guest RAM ({:#x}..{:#x}) and every device",
                                     kind, size, address, cpu->ram_->base(), cpu->ram_->base() + cpu->ram_->size() - 1));
    return false;
}

void UnicornCpu::fail(uint64_t pc, std::string reason) {
    if (failure_.empty()) {
        failure_ = std::move(reason);
        failure_pc_ = pc;
    }
    uc_emu_stop(uc_);
}

void UnicornCpu::on_stop(uc_engine* uc, uint64_t, uint32_t, void*) { uc_emu_stop(uc); }

void UnicornCpu::run_until(uint64_t until, uint64_t budget) {
    // The stop is a one-address code hook, not uc_emu_start's `until`: Unicorn 2.0.1 does not keep
    // the translation of the block where `until` ends a run, so every run would translate the idle
    // loop again; the hook's block stays cached (measured: the bare AArch64 guest loop goes from
    // 374 k to 904 k interrupts/s). Either way a run that starts at `until` executes nothing.
    if (!stop_hook_ || stop_at_ != until) {
        if (stop_hook_) check(uc_hook_del(uc_, stop_hook_), "uc_hook_del");
        check(uc_hook_add(uc_, &stop_hook_, UC_HOOK_CODE, reinterpret_cast<void*>(&UnicornCpu::on_stop), this, until,
                          until),
              "uc_hook_add(CODE)");
        stop_at_ = until;
    }
    const uint64_t start = pc();
    finish_run(uc_emu_start(uc_, start, 0, 0, budget));
    const uint64_t now = pc();
    if (now != until)
        fault(now, fmt::format("did not reach its idle loop ({:#x}) within {} instructions from {:#x} "
                               "(a runaway loop, or WFI/HLT where the program must not wait)",
                               until, budget, start));
}

void UnicornCpu::run(uint64_t count) {
    if (stop_hook_) {  // a run_until stop address does not apply here
        check(uc_hook_del(uc_, stop_hook_), "uc_hook_del");
        stop_hook_ = 0;
    }
    finish_run(uc_emu_start(uc_, pc(), 0, 0, count));
}

void UnicornCpu::finish_run(uc_err e) {
    if (pending_) {
        std::exception_ptr p = pending_;
        pending_ = nullptr;
        failure_.clear();
        std::rethrow_exception(p);
    }
    if (!failure_.empty()) {
        std::string reason = std::move(failure_);
        failure_.clear();
        fault(failure_pc_, reason);
    }
    const uint64_t now = pc();
    if (e == UC_ERR_INSN_INVALID) fault(now, "undefined or invalid instruction (#UD), which this guest cannot take");
    if (e != UC_ERR_OK) fault(now, uc_strerror(e));
}

void UnicornCpu::fault(uint64_t pc, const std::string& reason) const {
    throw GuestFault(label_, pc, disassemble(pc), reason);
}

std::string UnicornCpu::disassemble(uint64_t address) const {
    if (!ram_->contains(address, 1)) return "outside guest RAM";
    if (!capstone_) {
        csh h = 0;
        cs_err e = isa_ == GuestIsa::Arm64 ? cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &h) : cs_open(CS_ARCH_X86, CS_MODE_64, &h);
        if (e != CS_ERR_OK) throw std::logic_error(std::string("Capstone cs_open: ") + cs_strerror(e));
        capstone_ = h;
    }
    const uint64_t avail = ram_->base() + ram_->size() - address;
    const size_t len = static_cast<size_t>(avail < 16 ? avail : 16);
    const uint8_t* code = ram_->data() + (address - ram_->base());
    cs_insn* insn = nullptr;
    size_t n = cs_disasm(capstone_, code, len, address, 1, &insn);
    if (n == 0) {
        uint32_t word = 0;
        std::memcpy(&word, code, len < 4 ? len : 4);
        return fmt::format("not an instruction: {:#010x}", word);
    }
    std::string text = insn[0].op_str[0] ? fmt::format("{} {}", insn[0].mnemonic, insn[0].op_str) : insn[0].mnemonic;
    cs_free(insn, n);
    return text;
}

void UnicornCpu::on_code(uc_engine*, uint64_t address, uint32_t, void* self) {
    auto* cpu = static_cast<UnicornCpu*>(self);
    if (address != cpu->stop_at_ || !cpu->stop_hook_) cpu->executed_.push_back(address);  // the stop runs nothing
}

void UnicornCpu::record_executed(bool on) {
    if (on && !code_hook_) {
        check(uc_hook_add(uc_, &code_hook_, UC_HOOK_CODE, reinterpret_cast<void*>(&UnicornCpu::on_code), this, 1, 0),
              "uc_hook_add(CODE)");
    } else if (!on && code_hook_) {
        check(uc_hook_del(uc_, code_hook_), "uc_hook_del");
        code_hook_ = 0;
    }
}

std::vector<uint64_t> UnicornCpu::take_executed() {
    std::vector<uint64_t> out;
    out.swap(executed_);
    return out;
}

void UnicornCpu::Context::Free::operator()(uc_context* c) const { uc_context_free(c); }

UnicornCpu::Context UnicornCpu::save() const {
    uc_context* c = nullptr;
    check(uc_context_alloc(uc_, &c), "uc_context_alloc");
    Context out;
    out.ctx_.reset(c);
    check(uc_context_save(uc_, c), "uc_context_save");
    return out;
}

void UnicornCpu::restore(const Context& context) {
    if (!context) throw std::logic_error("UnicornCpu::restore: an empty context");
    check(uc_context_restore(uc_, context.ctx_.get()), "uc_context_restore");
}

}  // namespace irqdiff
