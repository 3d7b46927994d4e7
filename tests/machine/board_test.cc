// The board itself, with hand-assembled programs (no cross compiler needed): boot state, bad
// input, images (raw, arm64 Image, ELF), scheduling, virtual time, faults and budgets.
#include <gtest/gtest.h>

#include "arm_gic/machine/board.h"
#include "arm_gic/machine/memory_map.h"
#include "arm_gic/machine/psci.h"
#include "core/errors.h"
#include "tests/machine/machine_test_util.h"

namespace irqdiff::arm::machine {
namespace {

using namespace testing;

std::vector<uint8_t> system_off_program() { return program({movz(0, 0x0008), movk(0, 0x8400, 16), kHvc0}); }

std::string input_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const InputError& e) {
        return e.what();
    }
    return "(no InputError)";
}

// reference/arm_virt_machine.md §2: PC = RAM + 0x80000, x0 = DTB, x1..x3 = 0, DAIF set, EL1.
TEST(MachineBoot, ThePrimaryStartsAtRamPlus0x80000WithX0TheDtbEl1hDaifMasked_VirtBootProtocol) {
    Board b(BoardConfig{}, system_off_program());
    EXPECT_EQ(b.image().entry, 0x4008'0000u);
    EXPECT_EQ(b.cpu(0).pc(), 0x4008'0000u);
    EXPECT_EQ(b.cpu(0).reg(UC_ARM64_REG_X0), b.dtb_address());
    EXPECT_EQ(b.dtb_address() % 8, 0u);
    EXPECT_EQ(b.cpu(0).reg(UC_ARM64_REG_PSTATE), 0x3C5u);
    EXPECT_EQ(b.power(0), Power::Running);
    MachineResult r = b.run();
    EXPECT_EQ(r.exit, ExitReason::SystemOff);
    EXPECT_EQ(r.insns, 3u);
    EXPECT_FALSE(r.fault);
}

TEST(MachineBoot, SecondariesStayOffUntilCpuOn_VirtBootProtocol) {
    BoardConfig c;
    c.smp = 4;
    Board b(c, system_off_program());
    for (uint32_t v = 1; v < 4; ++v) EXPECT_EQ(b.power(v), Power::Off);
    MachineResult r = b.run();
    ASSERT_EQ(r.vcpus.size(), 4u);
    EXPECT_EQ(r.vcpus[1].insns, 0u);
    EXPECT_EQ(r.vcpus[3].mpidr, 0x8000'0003u);
}

TEST(MachineBadInput, SmpMustBe1To64) {
    for (uint32_t n : {0u, 65u}) {
        BoardConfig c;
        c.smp = n;
        EXPECT_NE(input_error([&] { Board b(c, system_off_program()); }).find("--smp"), std::string::npos) << n;
    }
}

TEST(MachineBadInput, MemMustBeWholeMibFrom8MibTo4Gib) {
    for (uint64_t m : {uint64_t{4} << 20, (uint64_t{8} << 20) + 4096, uint64_t{8} << 30}) {
        BoardConfig c;
        c.mem = m;
        EXPECT_NE(input_error([&] { Board b(c, system_off_program()); }).find("--mem"), std::string::npos) << m;
    }
}

TEST(MachineBadInput, AnEmptyImageIsRefused) {
    EXPECT_NE(input_error([&] { Board b(BoardConfig{}, {}); }).find("empty"), std::string::npos);
}

TEST(MachineBadInput, AnImageThatDoesNotFitBelowTheDtbIsRefusedWithItsAddresses) {
    BoardConfig c;
    c.mem = 8ull << 20;  // DTB at 0x40600000
    std::vector<uint8_t> big(0x60'0000, 0);
    const std::string e = input_error([&] { Board b(c, big); });
    EXPECT_NE(e.find("IMAGE"), std::string::npos) << e;
    EXPECT_NE(e.find("0x40680000"), std::string::npos) << e;  // its end
    EXPECT_NE(e.find("0x40600000"), std::string::npos) << e;  // the limit
}

TEST(MachineBadInput, ImageFilesMissingEmptyOrLargerThanRamAreRefused) {
    auto d = temp_dir();
    EXPECT_NE(input_error([&] { read_image_file((d / "nope.bin").string(), "IMAGE", 1 << 20); }).find("cannot open"),
              std::string::npos);
    const std::string empty = write_file(d / "empty.bin", {});
    EXPECT_NE(input_error([&] { read_image_file(empty, "IMAGE", 1 << 20); }).find("empty"), std::string::npos);
    const std::string big = write_file(d / "big.bin", std::vector<uint8_t>(4096, 1));
    EXPECT_NE(input_error([&] { read_image_file(big, "IMAGE", 1024); }).find("more than"), std::string::npos);
}

TEST(MachineBadInput, AnInvalidDtbIsRefusedWithLibfdtsError_fdt_check_header) {
    BoardConfig c;
    c.dtb = std::vector<uint8_t>(64, 0xAB);
    const std::string e = input_error([&] { Board b(c, system_off_program()); });
    EXPECT_NE(e.find("--dtb"), std::string::npos) << e;
    EXPECT_NE(e.find("FDT_ERR_BADMAGIC"), std::string::npos) << e;
    c.dtb = std::vector<uint8_t>(8, 0);
    EXPECT_NE(input_error([&] { Board b(c, system_off_program()); }).find("FDT_ERR_TRUNCATED"), std::string::npos);
}

TEST(MachineBadInput, AnInitrdTooLargeForRamIsRefused) {
    BoardConfig c;
    c.mem = 8ull << 20;
    c.initrd = std::vector<uint8_t>(7ull << 20, 0);
    EXPECT_NE(input_error([&] { Board b(c, system_off_program()); }).find("--initrd"), std::string::npos);
}

TEST(MachineBoot, TheInitrdLiesBelowTheDtbPageAligned) {
    BoardConfig c;
    c.initrd = std::vector<uint8_t>{'K', '=', 'v', '\n'};
    Board b(c, system_off_program());
    ASSERT_TRUE(b.initrd_range());
    EXPECT_EQ(b.initrd_range()->first % 4096, 0u);
    EXPECT_EQ(b.initrd_range()->second, b.initrd_range()->first + 4);
    EXPECT_LE(b.initrd_range()->second, b.dtb_address());
    EXPECT_EQ(b.ram().load<uint8_t>(b.initrd_range()->first), 'K');
}

// An arm64 Image (Linux booting.rst; reference/arm_virt_machine.md §2): loaded at RAM + text_offset.
TEST(MachineImage, AnArm64ImageHeaderLoadsAtTextOffset_BootingRst) {
    std::vector<uint32_t> words(16, 0);
    words[0] = 0x14000010;  // b +64: code0 jumps over the header
    words[2] = 0x10'0000;   // text_offset (u64 at +8)
    words[4] = 0x1000;      // image_size (u64 at +16)
    words[14] = 0x644d5241; // magic "ARM\x64" at +0x38
    std::vector<uint8_t> img;
    for (uint32_t w : words)
        for (int i = 0; i < 4; ++i) img.push_back(static_cast<uint8_t>(w >> (8 * i)));
    for (uint8_t byte : system_off_program()) img.push_back(byte);
    Board b(BoardConfig{}, img);
    EXPECT_EQ(b.image().format, ImageFormat::Arm64Image);
    EXPECT_EQ(b.image().entry, 0x4010'0000u);
    EXPECT_EQ(b.image().end, 0x4010'1000u);
    EXPECT_EQ(b.run().exit, ExitReason::SystemOff);
}

TEST(MachineFault, AnUndefinedInstructionStopsTheRunWithVcpuPcAndDisassembly) {
    MachineResult r = run_image(program({kNop, kUdf0}));
    EXPECT_EQ(r.exit, ExitReason::Fault);
    ASSERT_TRUE(r.fault);
    EXPECT_EQ(r.fault->vcpu, 0u);
    EXPECT_EQ(r.fault->pc, 0x4008'0004u);
    EXPECT_NE(r.fault->reason.find("undefined"), std::string::npos) << r.fault->reason;
    EXPECT_EQ(r.insns, 2u);
}

TEST(MachineFault, AnUnmappedReadNamesTheAddressAndTheInstruction) {
    // movz x1, #0x2000, lsl 16; ldr w0, [x1]
    MachineResult r = run_image(program({movz(1, 0x2000, 16), 0xB9400020}));
    ASSERT_TRUE(r.fault);
    EXPECT_EQ(r.fault->pc, 0x4008'0004u);
    EXPECT_EQ(r.fault->instruction, "ldr w0, [x1]");
    EXPECT_NE(r.fault->reason.find("0x20000000"), std::string::npos) << r.fault->reason;
}

TEST(MachineFault, GicMmioWithoutAGicModelIsAGuestFaultSayingSo_NoGic) {
    BoardConfig c;
    c.gic = GicModel::None;
    MachineResult r = run_image(program({movz(1, 0x0800, 16), 0xB9400020}), c);
    ASSERT_TRUE(r.fault);
    EXPECT_NE(r.fault->reason.find("no GIC model is attached"), std::string::npos) << r.fault->reason;
}

TEST(MachineFault, IccSystemRegisterWithoutAGicModelIsAGuestFault_NoGic) {
    BoardConfig c;
    c.gic = GicModel::None;
    MachineResult r = run_image(program({0xD538CC00}), c);  // mrs x0, icc_iar1_el1 (S3_0_C12_C12_0)
    ASSERT_TRUE(r.fault);
    EXPECT_EQ(r.fault->pc, 0x4008'0000u);
    EXPECT_NE(r.fault->reason.find("S3_0_C12_C12_0"), std::string::npos) << r.fault->reason;
}

TEST(MachineFault, TheOtherPsciConduitIsAnUndefinedInstruction) {
    BoardConfig c;
    c.psci = PsciConduit::Smc;
    MachineResult r = run_image(system_off_program(), c);
    ASSERT_TRUE(r.fault);
    EXPECT_EQ(r.fault->pc, 0x4008'0008u);
    EXPECT_EQ(r.fault->instruction, "hvc #0");
    // And SMC works under --psci smc.
    MachineResult ok = run_image(program({movz(0, 0x0008), movk(0, 0x8400, 16), kSmc0}), c);
    EXPECT_EQ(ok.exit, ExitReason::SystemOff);
}

TEST(MachineBudget, ARunawayGuestStopsAtMaxInsnsWithAReport) {
    BoardConfig c;
    c.max_insns = 12345;
    MachineResult r = run_image(program({kNop, kBSelf}), c);  // nop; b .
    EXPECT_EQ(r.exit, ExitReason::Budget);
    EXPECT_EQ(r.insns, 12345u);
    ASSERT_TRUE(r.fault);
    EXPECT_EQ(r.fault->pc, 0x4008'0004u);
    EXPECT_EQ(r.fault->instruction, "b #0x40080004");
}

TEST(MachineVirtualTime, WfiWithNothingToWakeItIsADeadlockFault) {
    MachineResult r = run_image(program({kWfi, kBSelf}));
    EXPECT_EQ(r.exit, ExitReason::Fault);
    ASSERT_TRUE(r.fault);
    EXPECT_NE(r.fault->reason.find("deadlock"), std::string::npos);
}

TEST(MachinePsci, CpuOffOnTheLastCpuEndsTheRun) {
    std::vector<uint32_t> w = psci_call(psci::kCpuOff);
    std::vector<uint8_t> img;
    for (uint32_t x : w)
        for (int i = 0; i < 4; ++i) img.push_back(static_cast<uint8_t>(x >> (8 * i)));
    MachineResult r = run_image(img);
    EXPECT_EQ(r.exit, ExitReason::Fault);
    EXPECT_EQ(r.vcpus[0].power, Power::Off);
    EXPECT_NE(r.fault->reason.find("every vCPU is off"), std::string::npos);
}

TEST(MachinePsci, SystemResetIsTheResetExitReason) {
    MachineResult r = run_image(program({movz(0, 0x0009), movk(0, 0x8400, 16), kHvc0}));
    EXPECT_EQ(r.exit, ExitReason::Reset);
}

TEST(MachineBudget, RunsAreDeterministic) {
    BoardConfig c;
    c.max_insns = 50'000;
    MachineResult a = run_image(program({kNop, kBSelf}), c), b = run_image(program({kNop, kBSelf}), c);
    EXPECT_EQ(a.insns, b.insns);
    EXPECT_EQ(a.virtual_ticks, b.virtual_ticks);
}

}  // namespace
}  // namespace irqdiff::arm::machine
