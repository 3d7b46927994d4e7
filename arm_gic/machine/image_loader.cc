#include "arm_gic/machine/image_loader.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "arm_gic/machine/memory_map.h"
#include "core/errors.h"

namespace irqdiff::arm::machine {

const char* to_string(ImageFormat f) {
    switch (f) {
        case ImageFormat::Raw: return "raw";
        case ImageFormat::Arm64Image: return "arm64 Image";
        case ImageFormat::Elf: return "ELF";
    }
    return "?";
}

namespace {

template <class T>
T le(const std::vector<uint8_t>& b, size_t at) {
    T v{};
    std::memcpy(&v, b.data() + at, sizeof(T));
    return v;
}

void check_fits(uint64_t start, uint64_t end, const GuestRam& ram, uint64_t limit, const std::string& place,
                const std::string& what) {
    if (start < ram.base() || end > limit || start > end)
        throw InputError(place, fmt::format("{} occupies {:#x}..{:#x}, which does not fit in RAM below the initrd/DTB "
                                            "({:#x}..{:#x}); give more --mem or a smaller image",
                                            what, start, end, ram.base(), limit));
}

// ELF64 little-endian AArch64 (System V gABI, "ELF header" and "Program header").
constexpr uint16_t kEmAarch64 = 183;
constexpr uint32_t kPtLoad = 1;

LoadedImage load_elf(const std::vector<uint8_t>& b, GuestRam& ram, uint64_t limit, const std::string& place) {
    if (b.size() < 64 || b[4] != 2 || b[5] != 1)
        throw InputError(place, "an ELF file that is not ELF64 little-endian");
    if (le<uint16_t>(b, 18) != kEmAarch64)
        throw InputError(place, fmt::format("an ELF file for machine {}, not AArch64 ({})", le<uint16_t>(b, 18),
                                            kEmAarch64));
    const uint64_t phoff = le<uint64_t>(b, 32);
    const uint16_t phentsize = le<uint16_t>(b, 54), phnum = le<uint16_t>(b, 56);
    if (phentsize < 56 || phoff > b.size() || uint64_t{phnum} * phentsize > b.size() - phoff)
        throw InputError(place, "an ELF file whose program headers lie outside the file");
    LoadedImage out{ImageFormat::Elf, le<uint64_t>(b, 24), UINT64_MAX, 0};
    for (uint16_t i = 0; i < phnum; ++i) {
        const size_t ph = phoff + size_t{i} * phentsize;
        if (le<uint32_t>(b, ph) != kPtLoad) continue;
        const uint64_t off = le<uint64_t>(b, ph + 8), paddr = le<uint64_t>(b, ph + 24);
        const uint64_t filesz = le<uint64_t>(b, ph + 32), memsz = le<uint64_t>(b, ph + 40);
        if (off > b.size() || filesz > b.size() - off || filesz > memsz)
            throw InputError(place, fmt::format("ELF segment {} lies outside the file", i));
        if (paddr + memsz < paddr) throw InputError(place, fmt::format("ELF segment {} wraps the address space", i));
        check_fits(paddr, paddr + memsz, ram, limit, place, fmt::format("ELF segment {}", i));
        std::memcpy(ram.data() + (paddr - ram.base()), b.data() + off, filesz);
        out.start = std::min(out.start, paddr);
        out.end = std::max(out.end, paddr + memsz);
    }
    if (out.end == 0) throw InputError(place, "an ELF file with no loadable segment");
    if (!ram.contains(out.entry, 4))
        throw InputError(place, fmt::format("the ELF entry point {:#x} is outside RAM", out.entry));
    return out;
}

}  // namespace

std::vector<uint8_t> read_image_file(const std::string& path, const std::string& place, uint64_t max_bytes) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw InputError(place, fmt::format("'{}': cannot open: {}", path, std::strerror(errno)));
    const std::streamoff size = in.tellg();
    if (size < 0) throw InputError(place, fmt::format("'{}': cannot read its size", path));
    if (size == 0) throw InputError(place, fmt::format("'{}': the file is empty", path));
    if (static_cast<uint64_t>(size) > max_bytes)
        throw InputError(place, fmt::format("'{}': {} bytes, more than the {} bytes of RAM (--mem)", path, size,
                                            max_bytes));
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    in.seekg(0);
    if (!in.read(reinterpret_cast<char*>(bytes.data()), size))
        throw InputError(place, fmt::format("'{}': read failed", path));
    return bytes;
}

LoadedImage load_image(const std::vector<uint8_t>& b, GuestRam& ram, uint64_t limit, const std::string& place) {
    if (b.empty()) throw InputError(place, "the image is empty");
    if (b.size() >= 4 && b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F') return load_elf(b, ram, limit, place);
    LoadedImage out;
    uint64_t load = ram.base() + MemoryMap::kImageOffset;
    uint64_t size = b.size();
    // arm64 Image header (reference/arm_virt_machine.md §2; Linux booting.rst): image_size 0
    // means an old kernel with text_offset 0x80000.
    if (b.size() >= 64 && le<uint32_t>(b, 0x38) == 0x644d5241) {
        out.format = ImageFormat::Arm64Image;
        const uint64_t text_offset = le<uint64_t>(b, 8), image_size = le<uint64_t>(b, 16);
        if (image_size) {
            if (text_offset >= ram.size())
                throw InputError(place, fmt::format("the Image header's text_offset {:#x} is beyond RAM", text_offset));
            load = ram.base() + text_offset;
            size = std::max<uint64_t>(image_size, b.size());
        }
    }
    check_fits(load, load + size, ram, limit, place, fmt::format("the {} image ({} bytes)", to_string(out.format), size));
    std::memcpy(ram.data() + (load - ram.base()), b.data(), b.size());
    out.entry = out.start = load;
    out.end = load + size;
    return out;
}

}  // namespace irqdiff::arm::machine
