// The board's device tree, generated with libfdt's sequential-write API (Debian libfdt-dev; never
// a hand-written blob writer): the nodes QEMU virt gives a GICv3 + ITS machine
// (reference/arm_virt_machine.md §3). A user's --dtb is checked with fdt_check_header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace irqdiff::arm::machine {

enum class PsciConduit : uint8_t { Hvc, Smc };
const char* to_string(PsciConduit c);

struct DeviceTreeConfig {
    uint32_t vcpus = 1;
    uint64_t ram_size = 0;
    PsciConduit psci = PsciConduit::Hvc;
    std::string bootargs;
    std::optional<std::pair<uint64_t, uint64_t>> initrd;  // [start, end)
};

/// The flattened device tree (a DTB) for `config`.
std::vector<uint8_t> generate_device_tree(const DeviceTreeConfig& config);

/// Checks a user-supplied blob (fdt_check_header, and that its totalsize fits the file and
/// 2 MiB); InputError(place, libfdt's error text) otherwise.
void check_device_tree(const std::vector<uint8_t>& blob, const std::string& place);

}  // namespace irqdiff::arm::machine
