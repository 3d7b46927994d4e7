// The Unicorn CPU wrapper and the guest machine (core/unicorn_cpu.h, core/guest_program.h): bounded
// runs, faults reported with vCPU, PC, disassembly and reason, exceptions from hooks, contexts,
// and the guest ABI's mailbox and log (docs/guests.md). Programs here are a few raw opcodes.
#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>

#include "core/guest_program.h"
#include "core/scenario.h"

namespace irqdiff {
namespace {

constexpr uint64_t kBase = GuestAbi::kBase;

void put32(GuestRam& ram, uint64_t at, std::initializer_list<uint32_t> words) {
    for (uint32_t w : words) {
        ram.store<uint32_t>(at, w);
        at += 4;
    }
}

void put8(GuestRam& ram, uint64_t at, std::initializer_list<uint8_t> bytes) {
    for (uint8_t b : bytes) ram.store<uint8_t>(at++, b);
}

// AArch64 encodings (Arm ARM C6): ADD X1, X1, #1; NOP; B .; UDF #0; LDR W0, [X0].
constexpr uint32_t kAddX1 = 0x91000421, kNop = 0xd503201f, kBSelf = 0x14000000, kUdf = 0x00000000, kLdrW0 = 0xb9400000;

std::string fault_of(UnicornCpu& cpu, uint64_t until, uint64_t budget) {
    try {
        cpu.run_until(until, budget);
    } catch (const GuestFault& f) {
        return f.what();
    }
    return "no fault";
}

TEST(UnicornCpu, RunsToTheIdlePointAndStopsThere) {
    GuestRam ram(kBase, 0x4000);
    put32(ram, kBase, {kAddX1, kAddX1, kNop, kBSelf});
    UnicornCpu cpu(GuestIsa::Arm64, ram, "arm vCPU 0");
    cpu.set_pc(kBase);
    cpu.run_until(kBase + 8, 100);
    EXPECT_EQ(cpu.pc(), kBase + 8);
    EXPECT_EQ(cpu.reg(UC_ARM64_REG_X1), 2u);
}

// reference/unicorn_2_0_1.md AArch64 item 5: an undefined instruction reaches UC_HOOK_INTR with the
// PC on it; the run stops with a GuestFault naming vCPU, PC, the disassembly and the reason.
TEST(UnicornCpu, UndefinedInstructionIsAGuestFault) {
    GuestRam ram(kBase, 0x4000);
    put32(ram, kBase, {kNop, kUdf, kNop});
    UnicornCpu cpu(GuestIsa::Arm64, ram, "arm vCPU 1");
    cpu.set_pc(kBase);
    std::string msg = fault_of(cpu, kBase + 8, 100);
    EXPECT_NE(msg.find("arm vCPU 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pc 0x200004"), std::string::npos) << msg;
    EXPECT_NE(msg.find("undefined instruction"), std::string::npos) << msg;
    EXPECT_NE(msg.find("not an instruction: 0x00000000"), std::string::npos) << msg;
}

TEST(UnicornCpu, AccessOutsideGuestRamIsAGuestFault) {
    GuestRam ram(kBase, 0x4000);
    put32(ram, kBase, {kLdrW0, kNop});
    UnicornCpu cpu(GuestIsa::Arm64, ram, "arm vCPU 0");
    cpu.set_reg(UC_ARM64_REG_X0, 0x9000'0000);
    cpu.set_pc(kBase);
    std::string msg = fault_of(cpu, kBase + 4, 100);
    EXPECT_NE(msg.find("ldr w0, [x0]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("read of 4 bytes at 0x90000000, outside guest RAM"), std::string::npos) << msg;
}

// Issue 7: a runaway loop never hangs the emulator: the instruction budget ends the run.
TEST(UnicornCpu, RunawayLoopEndsWithTheBudget) {
    GuestRam ram(kBase, 0x4000);
    put32(ram, kBase, {kBSelf, kNop});
    UnicornCpu cpu(GuestIsa::Arm64, ram, "arm vCPU 0");
    cpu.set_pc(kBase);
    std::string msg = fault_of(cpu, kBase + 4, 5000);
    EXPECT_NE(msg.find("b #0x200000"), std::string::npos) << msg;
    EXPECT_NE(msg.find("within 5000 instructions"), std::string::npos) << msg;
}

TEST(UnicornCpu, X86FaultsNameTheInstruction) {
    GuestRam ram(kBase, 0x4000);
    put8(ram, kBase, {0x48, 0xff, 0xc1, 0x0f, 0x0b});  // inc rcx; ud2
    put8(ram, kBase + 0x100, {0xeb, 0xfe});            // jmp .
    UnicornCpu cpu(GuestIsa::X86_64, ram, "x86 vCPU 0");
    cpu.set_pc(kBase);
    std::string msg = fault_of(cpu, kBase + 5, 100);
    EXPECT_EQ(cpu.reg(UC_X86_REG_RCX), 1u);
    EXPECT_NE(msg.find("pc 0x200003 (ud2)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("undefined or invalid instruction (#UD)"), std::string::npos) << msg;
    cpu.set_pc(kBase + 0x100);
    msg = fault_of(cpu, kBase + 0x102, 1000);
    EXPECT_NE(msg.find("jmp 0x200100"), std::string::npos) << msg;
    EXPECT_NE(msg.find("within 1000 instructions"), std::string::npos) << msg;
}

// C++ exceptions must not unwind through Unicorn's C frames: a hook runs its body in guarded(),
// which stops the run; run_until rethrows the exception itself.
TEST(UnicornCpu, ExceptionInAHookIsRethrownByTheRun) {
    GuestRam ram(kBase, 0x4000);
    put32(ram, kBase, {kNop, kNop, kNop});
    UnicornCpu cpu(GuestIsa::Arm64, ram, "arm vCPU 0");
    uc_hook h;
    auto cb = +[](uc_engine*, uint64_t address, uint32_t, void* self) {
        auto* c = static_cast<UnicornCpu*>(self);
        c->guarded([&] {
            if (address == kBase + 4) throw std::logic_error("model invariant broken");
        });
    };
    ASSERT_EQ(uc_hook_add(cpu.engine(), &h, UC_HOOK_CODE, reinterpret_cast<void*>(cb), &cpu, 1, 0), UC_ERR_OK);
    cpu.set_pc(kBase);
    EXPECT_THROW(cpu.run_until(kBase + 8, 100), std::logic_error);
    // The next run is clean.
    uc_hook_del(cpu.engine(), h);
    cpu.set_pc(kBase);
    cpu.run_until(kBase + 8, 100);
    EXPECT_EQ(cpu.pc(), kBase + 8);
}

TEST(UnicornCpu, ContextRestoresRegisters) {
    GuestRam ram(kBase, 0x4000);
    put32(ram, kBase, {kAddX1, kAddX1, kNop});
    UnicornCpu cpu(GuestIsa::Arm64, ram, "arm vCPU 0");
    cpu.set_pc(kBase);
    cpu.run_until(kBase + 4, 10);
    UnicornCpu::Context c = cpu.save();
    cpu.run_until(kBase + 8, 10);
    EXPECT_EQ(cpu.reg(UC_ARM64_REG_X1), 2u);
    cpu.restore(c);
    EXPECT_EQ(cpu.pc(), kBase + 4);
    EXPECT_EQ(cpu.reg(UC_ARM64_REG_X1), 1u);
}

TEST(UnicornCpu, RecordsExecutedInstructionsForTraces) {
    GuestRam ram(kBase, 0x4000);
    put32(ram, kBase, {kAddX1, kAddX1, kNop});
    UnicornCpu cpu(GuestIsa::Arm64, ram, "arm vCPU 0");
    cpu.record_executed(true);
    cpu.set_pc(kBase);
    cpu.run_until(kBase + 8, 10);
    EXPECT_EQ(cpu.take_executed(), (std::vector<uint64_t>{kBase, kBase + 4}));
    EXPECT_EQ(cpu.disassemble(kBase), "add x1, x1, #1");
    EXPECT_EQ(cpu.disassemble(0x10), "outside guest RAM");
}

// ---- the guest machine: mailbox and log (docs/guests.md) -------------------------------------------

const uint8_t kIdleProgram[] = {0x1f, 0x20, 0x03, 0xd5, 0x00, 0x00, 0x00, 0x14};  // _start: nop; idle: b idle
const GuestSymbol kIdleSymbols[] = {{"_start", kBase}, {"idle", kBase + 4}};
const GuestImage kIdleImage{"idle_test", GuestIsa::Arm64, kBase, kIdleProgram, sizeof kIdleProgram, kIdleSymbols, 2};

void log_entry(GuestRam& ram, uint32_t vcpu, uint32_t slot, uint32_t id, uint64_t timestamp) {
    uint64_t at = GuestAbi::area(vcpu) + GuestAbi::kLog + slot * GuestAbi::kLogEntryBytes;
    ram.store<uint32_t>(at, id);
    ram.store<uint64_t>(at + 8, timestamp);
}

TEST(GuestMachine, BootsEveryVcpuAtStartWithItsIndexInTheMailbox) {
    GuestMachine m(kIdleImage, 3, "arm", 1000);
    EXPECT_EQ(m.ram().size(), GuestAbi::kProgramBytes + 3 * GuestAbi::kVcpuBytes);
    for (uint32_t v = 0; v < 3; ++v) {
        EXPECT_EQ(m.cpu(v).pc(), kBase);
        EXPECT_EQ(m.ram().load<uint32_t>(GuestAbi::area(v) + GuestAbi::kIndex), v);
        m.run_to_idle(v);
        EXPECT_EQ(m.cpu(v).pc(), m.idle());
    }
    m.set_mask(1, true);
    EXPECT_TRUE(m.mask(1));
    EXPECT_FALSE(m.mask(0));
}

TEST(GuestMachine, DrainsNewLogEntriesOnce) {
    GuestMachine m(kIdleImage, 1, "arm", 1000);
    log_entry(m.ram(), 0, 0, 8192, 10);
    log_entry(m.ram(), 0, 1, 8193, 11);
    m.ram().store<uint32_t>(GuestAbi::area(0) + GuestAbi::kLogHead, 2);
    std::vector<GuestLogEntry> got;
    m.drain_log(0, got);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1].id, 8193u);
    EXPECT_EQ(got[1].timestamp, 11u);
    m.drain_log(0, got);
    EXPECT_EQ(got.size(), 2u);
}

// A guest can never crash the emulator: a log head that went backwards is a GuestFault.
TEST(GuestMachine, CorruptLogHeadIsAGuestFault) {
    GuestMachine m(kIdleImage, 1, "arm", 1000);
    m.ram().store<uint32_t>(GuestAbi::area(0) + GuestAbi::kLogHead, 2);
    std::vector<GuestLogEntry> got;
    m.drain_log(0, got);
    m.ram().store<uint32_t>(GuestAbi::area(0) + GuestAbi::kLogHead, 1);
    try {
        m.drain_log(0, got);
        FAIL() << "no fault";
    } catch (const GuestFault& f) {
        EXPECT_NE(std::string(f.what()).find("log head"), std::string::npos) << f.what();
        EXPECT_NE(std::string(f.what()).find("arm vCPU 0"), std::string::npos) << f.what();
    }
}

TEST(GuestMachine, SnapshotRestoresRamRegistersAndLogCursor) {
    GuestMachine m(kIdleImage, 2, "arm", 1000);
    m.run_to_idle(1);
    GuestMachine::Snapshot s = m.snapshot();
    m.set_mask(1, true);
    m.ram().store<uint32_t>(GuestAbi::area(1) + GuestAbi::kLogHead, 1);
    std::vector<GuestLogEntry> got;
    m.drain_log(1, got);
    m.cpu(1).set_pc(kBase);
    m.restore(s);
    EXPECT_FALSE(m.mask(1));
    EXPECT_EQ(m.cpu(1).pc(), m.idle());
    EXPECT_EQ(m.log_head(1), 0u);
    m.ram().store<uint32_t>(GuestAbi::area(1) + GuestAbi::kLogHead, 1);
    got.clear();
    m.drain_log(1, got);
    EXPECT_EQ(got.size(), 1u);  // the cursor went back with the snapshot
}

// ---- the scenario key -----------------------------------------------------------------------------

TEST(ScenarioGuestKey, ParsesAbstractAndUnicorn) {
    const std::string head = "name: g\nvm: {vcpus: 1}\ndevices: [{name: nic, vectors: 1}]\n";
    EXPECT_FALSE(parse_scenario(head + "steps: [{run: all}]\n", {}).guest);
    EXPECT_EQ(parse_scenario(head + "guest: unicorn\nsteps: [{run: all}]\n", {}).guest, GuestKind::Unicorn);
    EXPECT_EQ(parse_scenario(head + "guest: abstract\nsteps: [{run: all}]\n", {}).guest, GuestKind::Abstract);
    try {
        parse_scenario(head + "guest: qemu\nsteps: [{run: all}]\n", {}, "g.yaml");
        FAIL() << "accepted guest: qemu";
    } catch (const InputError& e) {
        EXPECT_STREQ(e.what(), "g.yaml:4:8: guest: unknown guest 'qemu' (expected abstract or unicorn)");
    }
}

}  // namespace
}  // namespace irqdiff
