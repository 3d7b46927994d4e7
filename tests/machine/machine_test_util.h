// Helpers for the machine-mode tests: the cross-compiled guests' paths, small hand-assembled
// programs for tests that must run without the cross compiler, and a temporary directory.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "arm_gic/machine/board.h"
#include "arm_gic/machine/image_loader.h"

namespace irqdiff::arm::machine::testing {

/// The bytes of cross-compiled guest `name` ("hello" -> hello.bin; "hello.elf" as is).
inline std::vector<uint8_t> guest(const std::string& name) {
    std::string file = name.find('.') == std::string::npos ? name + ".bin" : name;
    return read_image_file(std::string(IRQDIFF_MACHINE_GUESTS) + "/" + file, "guest", 1ull << 30);
}

#define IRQDIFF_NEED_GUESTS()                                                                           \
    do {                                                                                                \
        if (!IRQDIFF_HAVE_MACHINE_GUESTS)                                                               \
            GTEST_SKIP() << "aarch64-linux-gnu-gcc was not found at configure time: no machine test guests " \
                            "(install Debian gcc-aarch64-linux-gnu: scripts/install-deps.sh)";         \
    } while (0)

/// A raw image from instruction words.
inline std::vector<uint8_t> program(std::initializer_list<uint32_t> words) {
    std::vector<uint8_t> out;
    for (uint32_t w : words)
        for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(w >> (8 * i)));
    return out;
}

// A few A64 encodings (Arm ARM C6.2).
constexpr uint32_t kWfi = 0xD503207F, kNop = 0xD503201F, kHvc0 = 0xD4000002, kSmc0 = 0xD4000003,
                   kBSelf = 0x14000000, kUdf0 = 0x00000000;
/// MOVZ Xd, #imm16, LSL #shift.
constexpr uint32_t movz(unsigned rd, uint32_t imm16, unsigned shift = 0) {
    return 0xD2800000u | ((shift / 16) << 21) | (imm16 << 5) | rd;
}
/// MOVK Xd, #imm16, LSL #shift.
constexpr uint32_t movk(unsigned rd, uint32_t imm16, unsigned shift) {
    return 0xF2800000u | ((shift / 16) << 21) | (imm16 << 5) | rd;
}
/// x0 = fid; HVC #0.
inline std::vector<uint32_t> psci_call(uint32_t fid) { return {movz(0, fid & 0xFFFF), movk(0, fid >> 16, 16), kHvc0}; }

inline std::filesystem::path temp_dir() {
    auto d = std::filesystem::temp_directory_path() /
             ("irqdiff_machine_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(d);
    return d;
}
inline std::string write_file(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return p.string();
}

inline MachineResult run_image(const std::vector<uint8_t>& image, BoardConfig c = {}) {
    Board b(std::move(c), image);
    return b.run();
}

}  // namespace irqdiff::arm::machine::testing
