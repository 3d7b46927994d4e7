// The generated device tree (reference/arm_virt_machine.md §3), read back with libfdt and, when
// Debian's device-tree-compiler is installed, decoded with `dtc -I dtb -O dts`.
#include <gtest/gtest.h>

extern "C" {
#include <libfdt.h>
}

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "arm_gic/machine/device_tree.h"
#include "tests/machine/machine_test_util.h"

namespace irqdiff::arm::machine {
namespace {

using namespace testing;

DeviceTreeConfig config4() {
    DeviceTreeConfig c;
    c.vcpus = 4;
    c.ram_size = 128ull << 20;
    c.psci = PsciConduit::Smc;
    c.bootargs = "console=ttyAMA0 test=1";
    c.initrd = std::make_pair(uint64_t{0x47c0'0000}, uint64_t{0x47c0'1000});
    return c;
}

std::string prop_string(const void* fdt, const char* path, const char* name) {
    int node = fdt_path_offset(fdt, path);
    if (node < 0) return "(no node)";
    int len = 0;
    const char* v = static_cast<const char*>(fdt_getprop(fdt, node, name, &len));
    return v ? std::string(v, static_cast<size_t>(len > 0 ? len - 1 : 0)) : "(no property)";
}

std::vector<uint32_t> prop_cells(const void* fdt, const char* path, const char* name) {
    int node = fdt_path_offset(fdt, path);
    int len = 0;
    const auto* v = static_cast<const fdt32_t*>(fdt_getprop(fdt, node, name, &len));
    std::vector<uint32_t> out;
    for (int i = 0; v && i < len / 4; ++i) out.push_back(fdt32_to_cpu(v[i]));
    return out;
}

TEST(MachineDeviceTree, TheGeneratedTreePassesFdtCheckHeader) {
    std::vector<uint8_t> dtb = generate_device_tree(config4());
    EXPECT_EQ(fdt_check_header(dtb.data()), 0);
    EXPECT_EQ(fdt_totalsize(dtb.data()), dtb.size());
}

TEST(MachineDeviceTree, HasTheNodesOfQemuVirtWithGicv3AndIts_ArmVirtMachine3) {
    std::vector<uint8_t> v = generate_device_tree(config4());
    const void* fdt = v.data();
    EXPECT_EQ(prop_string(fdt, "/", "compatible"), "linux,dummy-virt");
    EXPECT_EQ(prop_string(fdt, "/memory@40000000", "device_type"), "memory");
    EXPECT_EQ(prop_cells(fdt, "/memory@40000000", "reg"), (std::vector<uint32_t>{0, 0x4000'0000, 0, 0x800'0000}));
    for (int c = 0; c < 4; ++c) {
        const std::string path = "/cpus/cpu@" + std::to_string(c);
        EXPECT_EQ(prop_string(fdt, path.c_str(), "enable-method"), "psci") << path;
        EXPECT_EQ(prop_cells(fdt, path.c_str(), "reg"), std::vector<uint32_t>{static_cast<uint32_t>(c)});
    }
    EXPECT_LT(fdt_path_offset(fdt, "/cpus/cpu@4"), 0);
    EXPECT_EQ(prop_string(fdt, "/psci", "method"), "smc");
    EXPECT_EQ(prop_string(fdt, "/psci", "compatible"), std::string("arm,psci-1.0\0arm,psci-0.2\0arm,psci", 34));
    EXPECT_EQ(prop_cells(fdt, "/pl011@9000000", "interrupts"), (std::vector<uint32_t>{0, 1, 4}));
    EXPECT_EQ(prop_string(fdt, "/pl011@9000000", "clock-names"), std::string("uartclk\0apb_pclk", 16));
    EXPECT_EQ(prop_string(fdt, "/intc@8000000", "compatible"), "arm,gic-v3");
    EXPECT_EQ(prop_cells(fdt, "/intc@8000000", "reg"),
              (std::vector<uint32_t>{0, 0x800'0000, 0, 0x1'0000, 0, 0x80A'0000, 0, 0xF6'0000}));
    EXPECT_EQ(prop_string(fdt, "/intc@8000000/its@8080000", "compatible"), "arm,gic-v3-its");
    EXPECT_GE(fdt_getprop(fdt, fdt_path_offset(fdt, "/intc@8000000/its@8080000"), "msi-controller", nullptr) ? 1 : 0, 1);
    EXPECT_EQ(prop_cells(fdt, "/timer", "interrupts"),
              (std::vector<uint32_t>{1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4}));
    EXPECT_EQ(prop_string(fdt, "/chosen", "bootargs"), "console=ttyAMA0 test=1");
    EXPECT_EQ(prop_string(fdt, "/chosen", "stdout-path"), "/pl011@9000000");
    EXPECT_EQ(prop_cells(fdt, "/chosen", "linux,initrd-start"), (std::vector<uint32_t>{0, 0x47c0'0000}));
    EXPECT_EQ(prop_cells(fdt, "/chosen", "linux,initrd-end"), (std::vector<uint32_t>{0, 0x47c0'1000}));
}

TEST(MachineDeviceTree, MpidrAffinityGroupsCpusInClustersOf16) {
    DeviceTreeConfig c;
    c.vcpus = 20;
    c.ram_size = 128ull << 20;
    std::vector<uint8_t> v = generate_device_tree(c);
    EXPECT_EQ(prop_cells(v.data(), "/cpus/cpu@103", "reg"), std::vector<uint32_t>{0x103});  // vCPU 19
}

TEST(MachineDeviceTree, DtcDecodesItToTheExpectedSource) {
    if (std::string(IRQDIFF_DTC).empty()) GTEST_SKIP() << "dtc not found (Debian device-tree-compiler)";
    auto d = temp_dir();
    const std::string in = write_file(d / "virt.dtb", generate_device_tree(config4()));
    const std::string out = (d / "virt.dts").string();
    ASSERT_EQ(std::system((std::string(IRQDIFF_DTC) + " -q -I dtb -O dts -o " + out + " " + in).c_str()), 0);
    std::stringstream s;
    s << std::ifstream(out).rdbuf();
    const std::string dts = s.str();
    for (const char* want : {"compatible = \"arm,gic-v3\";", "its@8080000 {", "msi-controller;",
                             "method = \"smc\";", "enable-method = \"psci\";", "compatible = \"arm,armv8-timer\";",
                             "bootargs = \"console=ttyAMA0 test=1\";", "pl011@9000000 {", "cpu@3 {"})
        EXPECT_NE(dts.find(want), std::string::npos) << want << "\n" << dts;
}

TEST(MachineDeviceTree, AUserDtbReplacesTheGeneratedOneVerbatim) {
    DeviceTreeConfig c = config4();
    c.bootargs = "mine";
    BoardConfig b;
    b.dtb = generate_device_tree(c);
    Board board(b, program({kWfi}));
    EXPECT_EQ(board.dtb(), *b.dtb);
    EXPECT_EQ(prop_string(board.ram().data() + (board.dtb_address() - board.ram().base()), "/chosen", "bootargs"), "mine");
}

}  // namespace
}  // namespace irqdiff::arm::machine
