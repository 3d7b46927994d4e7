// Loading a guest image into the board's RAM the way QEMU's `-kernel` does for the formats this
// board takes (reference/arm_virt_machine.md §2): an arm64 Linux `Image` (64-byte header, magic
// "ARM\x64" at +0x38, text_offset at +8, image_size at +16) at RAM + text_offset; an ELF64
// AArch64 executable at its segments' physical addresses (p_paddr, as QEMU's ELF loader uses);
// anything else as a raw binary at RAM + 0x80000. The entry is the load address (ELF: e_entry).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/unicorn_cpu.h"

namespace irqdiff::arm::machine {

enum class ImageFormat : uint8_t { Raw, Arm64Image, Elf };
const char* to_string(ImageFormat f);

struct LoadedImage {
    ImageFormat format = ImageFormat::Raw;
    uint64_t entry = 0;
    uint64_t start = 0;  // lowest byte it occupies
    uint64_t end = 0;    // one past the highest (an Image's image_size counts its BSS)
};

/// Reads an image file: InputError(`place`) when it is missing, unreadable, empty, or larger than
/// `max_bytes`.
std::vector<uint8_t> read_image_file(const std::string& path, const std::string& place, uint64_t max_bytes);

/// Copies `bytes` into `ram`; everything must lie in [ram base, `limit`) (`limit`: where the
/// initrd or DTB starts). InputError(`place`) when it does not fit, naming the addresses.
LoadedImage load_image(const std::vector<uint8_t>& bytes, GuestRam& ram, uint64_t limit, const std::string& place);

}  // namespace irqdiff::arm::machine
