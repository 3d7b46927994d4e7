#include "arm_gic/machine/device_tree.h"

#include <fmt/format.h>

extern "C" {
#include <libfdt.h>
}

#include <stdexcept>

#include "arm_gic/machine/memory_map.h"
#include "core/errors.h"

namespace irqdiff::arm::machine {

const char* to_string(PsciConduit c) { return c == PsciConduit::Hvc ? "hvc" : "smc"; }

namespace {

// Phandles of the nodes others refer to.
constexpr uint32_t kGicPhandle = 1;
constexpr uint32_t kClockPhandle = 2;
constexpr uint32_t kItsPhandle = 3;
constexpr uint32_t kApbClockHz = 24'000'000;  // QEMU virt's apb-pclk fixed clock (policy: any rate works)

/// libfdt's sequential writer with every call checked (an error is an internal bug: the buffer
/// is sized for the largest tree this board makes).
class Writer {
   public:
    explicit Writer(size_t size) : buf_(size) { check(fdt_create(buf_.data(), static_cast<int>(size)), "fdt_create"); }
    void check(int err, const char* what) {
        if (err < 0) throw std::logic_error(fmt::format("libfdt {}: {}", what, fdt_strerror(err)));
    }
    void begin(const std::string& name) { check(fdt_begin_node(buf_.data(), name.c_str()), "fdt_begin_node"); }
    void end() { check(fdt_end_node(buf_.data()), "fdt_end_node"); }
    void u32(const char* name, uint32_t v) { check(fdt_property_u32(buf_.data(), name, v), "fdt_property_u32"); }
    void u64(const char* name, uint64_t v) { check(fdt_property_u64(buf_.data(), name, v), "fdt_property_u64"); }
    void str(const char* name, const std::string& v) {
        check(fdt_property_string(buf_.data(), name, v.c_str()), "fdt_property_string");
    }
    void empty(const char* name) { check(fdt_property(buf_.data(), name, nullptr, 0), "fdt_property"); }
    /// A string list ("a\0b\0").
    void strs(const char* name, std::initializer_list<const char*> list) {
        std::string all;
        for (const char* s : list) all.append(s).push_back('\0');
        check(fdt_property(buf_.data(), name, all.data(), static_cast<int>(all.size())), "fdt_property");
    }
    /// Big-endian 32-bit cells.
    void cells(const char* name, std::initializer_list<uint64_t> cells, bool two_cells_each = false) {
        std::vector<fdt32_t> out;
        for (uint64_t c : cells) {
            if (two_cells_each) out.push_back(cpu_to_fdt32(static_cast<uint32_t>(c >> 32)));
            out.push_back(cpu_to_fdt32(static_cast<uint32_t>(c)));
        }
        check(fdt_property(buf_.data(), name, out.data(), static_cast<int>(out.size() * sizeof(fdt32_t))),
              "fdt_property");
    }
    std::vector<uint8_t> finish() {
        check(fdt_finish(buf_.data()), "fdt_finish");
        buf_.resize(fdt_totalsize(buf_.data()));
        return std::move(buf_);
    }
    void* data() { return buf_.data(); }

   private:
    std::vector<uint8_t> buf_;
};

}  // namespace

std::vector<uint8_t> generate_device_tree(const DeviceTreeConfig& c) {
    Writer w(64 * 1024 + c.bootargs.size());
    w.check(fdt_finish_reservemap(w.data()), "fdt_finish_reservemap");
    w.begin("");
    // Root (reference/arm_virt_machine.md §3).
    w.u32("#address-cells", 2);
    w.u32("#size-cells", 2);
    w.str("compatible", "linux,dummy-virt");
    w.str("model", "irqdiff machine (QEMU virt compatible, GICv3 + ITS)");
    w.u32("interrupt-parent", kGicPhandle);

    w.begin(fmt::format("memory@{:x}", MemoryMap::kRam));
    w.str("device_type", "memory");
    w.cells("reg", {MemoryMap::kRam, c.ram_size}, true);
    w.end();

    w.begin("cpus");
    w.u32("#address-cells", 1);
    w.u32("#size-cells", 0);
    for (uint32_t v = 0; v < c.vcpus; ++v) {
        w.begin(fmt::format("cpu@{:x}", mpidr_affinity(v)));
        w.str("device_type", "cpu");
        w.str("compatible", "arm,cortex-a72");  // Unicorn's default AArch64 CPU (reference/unicorn_2_0_1.md item 3)
        w.u32("reg", static_cast<uint32_t>(mpidr_affinity(v)));
        w.str("enable-method", "psci");
        w.end();
    }
    w.end();

    w.begin("psci");  // §3, §4
    w.strs("compatible", {"arm,psci-1.0", "arm,psci-0.2", "arm,psci"});
    w.str("method", to_string(c.psci));
    w.end();

    w.begin("apb-pclk");
    w.str("compatible", "fixed-clock");
    w.u32("#clock-cells", 0);
    w.u32("clock-frequency", kApbClockHz);
    w.str("clock-output-names", "clk24mhz");
    w.u32("phandle", kClockPhandle);
    w.end();

    w.begin(fmt::format("pl011@{:x}", MemoryMap::kUart));
    w.strs("compatible", {"arm,pl011", "arm,primecell"});
    w.cells("reg", {MemoryMap::kUart, MemoryMap::kUartSize}, true);
    w.cells("interrupts", {0, MemoryMap::kUartSpi, 4});  // SPI 1, level-high
    w.cells("clocks", {kClockPhandle, kClockPhandle});
    w.strs("clock-names", {"uartclk", "apb_pclk"});
    w.end();

    // docs/machine.md "MSI test device": what the project's guests write to make an assigned
    // device raise an MSI (no such device on QEMU virt; guests that do not know it ignore it).
    w.begin(fmt::format("msi-test@{:x}", MemoryMap::kMsiTest));
    w.str("compatible", "irqdiff,msi-test-device");
    w.cells("reg", {MemoryMap::kMsiTest, MemoryMap::kMsiTestSize}, true);
    w.end();

    w.begin(fmt::format("intc@{:x}", MemoryMap::kGicd));
    w.str("compatible", "arm,gic-v3");
    w.u32("#interrupt-cells", 3);
    w.empty("interrupt-controller");
    w.u32("#address-cells", 2);
    w.u32("#size-cells", 2);
    w.empty("ranges");
    w.cells("reg", {MemoryMap::kGicd, MemoryMap::kGicdSize, MemoryMap::kGicr, MemoryMap::kGicrSize}, true);
    w.u32("#redistributor-regions", 1);
    w.u32("phandle", kGicPhandle);
    w.begin(fmt::format("its@{:x}", MemoryMap::kGits));
    w.str("compatible", "arm,gic-v3-its");
    w.empty("msi-controller");
    w.u32("#msi-cells", 1);
    w.cells("reg", {MemoryMap::kGits, MemoryMap::kGitsSize}, true);
    w.u32("phandle", kItsPhandle);
    w.end();
    w.end();

    w.begin("timer");  // PPIs 13, 14, 11, 10, level-high (§3)
    w.str("compatible", "arm,armv8-timer");
    w.cells("interrupts", {1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4});
    w.end();

    w.begin("chosen");
    w.str("bootargs", c.bootargs);
    w.str("stdout-path", fmt::format("/pl011@{:x}", MemoryMap::kUart));
    if (c.initrd) {
        w.u64("linux,initrd-start", c.initrd->first);
        w.u64("linux,initrd-end", c.initrd->second);
    }
    w.end();

    w.end();
    return w.finish();
}

void check_device_tree(const std::vector<uint8_t>& blob, const std::string& place) {
    if (blob.size() < 40)  // sizeof(struct fdt_header)
        throw InputError(place, fmt::format("{} bytes: too short for a device tree header ({})", blob.size(),
                                            fdt_strerror(-FDT_ERR_TRUNCATED)));
    const int err = fdt_check_header(blob.data());
    if (err) throw InputError(place, fmt::format("not a valid device tree blob: {}", fdt_strerror(err)));
    const uint32_t total = fdt_totalsize(blob.data());
    if (total > blob.size())
        throw InputError(place, fmt::format("the header's totalsize {} exceeds the file's {} bytes ({})", total,
                                            blob.size(), fdt_strerror(-FDT_ERR_TRUNCATED)));
    if (total > MemoryMap::kDtbMax)
        throw InputError(place, fmt::format("{} bytes: a DTB is at most 2 MiB (Linux booting.rst)", total));
}

}  // namespace irqdiff::arm::machine
