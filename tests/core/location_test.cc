// core/location.h: a Location prints as the place's name and its index, the form the JSON
// documents, the CLI table and traces show (docs/results.md "locations").
#include "core/location.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace irqdiff {
namespace {

constexpr Place kVpePlace{"t.vpt", IndexKind::Vpe, ""};
constexpr Place kVcpuPlace{"t.pir", IndexKind::Vcpu, ""};
constexpr Place kCpuPlace{"t.list_register", IndexKind::Cpu, ""};
constexpr Place kDevicePlace{"t.device", IndexKind::Device, ""};

// docs/results.md: vPE, vCPU and CPU indices print as vpeN, vcpuN, cpuN; a device by its name.
TEST(Location, PrintsThePlaceAndItsIndex) {
    const std::vector<std::string> devices{"nic", "disk"};
    EXPECT_EQ(to_string(Location{&kVpePlace, 3, true}, devices), "t.vpt[vpe3]");
    EXPECT_EQ(to_string(Location{&kVcpuPlace, 0, false}, devices), "t.pir[vcpu0]");
    EXPECT_EQ(to_string(Location{&kCpuPlace, 1, true}, devices), "t.list_register[cpu1]");
    EXPECT_EQ(to_string(Location{&kDevicePlace, 1, false}, devices), "t.device[disk]");
}

// A device index outside the scenario's devices is an emulator bug, not a place to print.
TEST(Location, RefusesADeviceTheScenarioDoesNotHave) {
    EXPECT_THROW(to_string(Location{&kDevicePlace, 2, false}, std::vector<std::string>{"nic"}), std::logic_error);
}

// Locations compare by place (its address), index and liveness.
TEST(Location, ComparesByPlaceIndexAndLiveness) {
    constexpr Place kSameName{"t.vpt", IndexKind::Vpe, ""};
    EXPECT_EQ((Location{&kVpePlace, 0, true}), (Location{&kVpePlace, 0, true}));
    EXPECT_NE((Location{&kVpePlace, 0, true}), (Location{&kVpePlace, 1, true}));
    EXPECT_NE((Location{&kVpePlace, 0, true}), (Location{&kVpePlace, 0, false}));
    EXPECT_NE((Location{&kVpePlace, 0, true}), (Location{&kSameName, 0, true}));
}

}  // namespace
}  // namespace irqdiff
