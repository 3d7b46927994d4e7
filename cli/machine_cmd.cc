#include "cli/machine_cmd.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "arm_gic/machine/board.h"
#include "arm_gic/machine/memory_map.h"
#include "core/errors.h"

namespace irqdiff::cli {

namespace am = irqdiff::arm::machine;

CLI::App* add_machine_command(CLI::App& app, MachineArgs& a) {
    CLI::App* m = app.add_subcommand(
        "machine", "Boot an AArch64 bare-metal image on a QEMU-virt-compatible board (docs/machine.md)");
    m->add_option("IMAGE", a.image, "Raw binary, arm64 Image or ELF; loaded at RAM + 0x80000 (0x40080000)")
        ->required();
    m->add_option("--smp", a.smp, "Number of vCPUs, 1 to 64 (secondaries start with PSCI CPU_ON)");
    m->add_option("--mem", a.mem, "RAM size at 0x40000000: N (MiB), NK, NM or NG; 8M to 4G (default 128M)");
    m->add_option("--psci", a.psci, "PSCI conduit the device tree names: hvc or smc (the other is undefined)")
        ->check(CLI::IsMember({"hvc", "smc"}));
    m->add_option("--serial", a.serial, "UART output: stdio, none or a FILE (default stdio; none with --json)");
    m->add_option("--input", a.input, "A FILE whose bytes the guest reads from the UART");
    m->add_option("--append", a.append, "Kernel command line: /chosen/bootargs");
    m->add_option("--initrd", a.initrd, "A FILE loaded below the DTB (/chosen/linux,initrd-start/end)");
    m->add_option("--dtb", a.dtb, "Use this device tree blob instead of the generated one");
    m->add_option("--dump-dtb", a.dump_dtb, "Write the device tree blob the guest gets to FILE");
    m->add_option("--max-insns", a.max_insns,
                  "Stop after this many instructions of all vCPUs together (exit reason budget; default 1e9)");
    m->add_flag("--json", a.json, "Print one JSON document: exit reason, fault, per-vCPU instructions, UART text");
    return m;
}

uint64_t parse_mem_size(const std::string& text, const std::string& place) {
    size_t used = 0;
    uint64_t n = 0;
    try {
        if (text.empty() || text[0] == '-' || text[0] == '+') throw std::invalid_argument("sign");
        n = std::stoull(text, &used);
    } catch (const std::exception&) {
        throw InputError(place, fmt::format("'{}': expected a size such as 128, 128M, 1G or 65536K", one_line(text)));
    }
    const std::string suffix = text.substr(used);
    unsigned shift = 20;
    if (suffix == "K" || suffix == "k")
        shift = 10;
    else if (suffix == "G" || suffix == "g")
        shift = 30;
    else if (!suffix.empty() && suffix != "M" && suffix != "m")
        throw InputError(place, fmt::format("'{}': expected a size such as 128, 128M, 1G or 65536K", one_line(text)));
    if (n > (uint64_t{1} << (63 - shift)))
        throw InputError(place, fmt::format("'{}': too large (at most {} MiB)", one_line(text), am::kMaxMem >> 20));
    return n << shift;
}

namespace {

std::vector<uint8_t> read_file(const std::string& path, const std::string& place, uint64_t max) {
    return am::read_image_file(path, place, max);
}

nlohmann::json to_json(const am::MachineResult& r) {
    nlohmann::json j;
    j["exit"] = am::to_string(r.exit);
    if (r.fault)
        j["fault"] = {{"vcpu", r.fault->vcpu},
                      {"pc", fmt::format("{:#x}", r.fault->pc)},
                      {"instruction", r.fault->instruction},
                      {"reason", r.fault->reason}};
    else
        j["fault"] = nullptr;
    j["insns"] = r.insns;
    j["virtual_ticks"] = r.virtual_ticks;
    nlohmann::json vcpus = nlohmann::json::array();
    for (size_t v = 0; v < r.vcpus.size(); ++v)
        vcpus.push_back({{"vcpu", v},
                         {"mpidr", fmt::format("{:#x}", r.vcpus[v].mpidr)},
                         {"insns", r.vcpus[v].insns},
                         {"state", am::to_string(r.vcpus[v].power)}});
    j["vcpus"] = vcpus;
    j["uart"] = r.uart;
    return j;
}

struct FileCloser {
    std::FILE* f = nullptr;
    ~FileCloser() {
        if (f) std::fclose(f);
    }
};

}  // namespace

int cmd_machine(const MachineArgs& a) {
    am::BoardConfig c;
    c.smp = a.smp;
    c.mem = parse_mem_size(a.mem, "--mem");
    c.psci = a.psci == "smc" ? am::PsciConduit::Smc : am::PsciConduit::Hvc;
    c.append = a.append;
    c.max_insns = a.max_insns;
    if (a.smp < 1 || a.smp > am::kMaxVcpus)
        throw InputError("--smp", fmt::format("{}: expected a number of vCPUs from 1 to {}", a.smp, am::kMaxVcpus));
    if (c.mem < am::kMinMem || c.mem > am::kMaxMem || c.mem % (1 << 20))
        throw InputError("--mem", fmt::format("'{}': expected whole MiB from {} MiB to {} MiB", one_line(a.mem),
                                              am::kMinMem >> 20, am::kMaxMem >> 20));
    if (a.initrd) c.initrd = read_file(*a.initrd, "--initrd", c.mem);
    if (a.dtb) c.dtb = read_file(*a.dtb, "--dtb", c.mem);
    if (a.input) {
        std::ifstream in(*a.input, std::ios::binary);
        if (!in) throw InputError("--input", fmt::format("'{}': cannot open: {}", *a.input, std::strerror(errno)));
        c.input.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    FileCloser serial_file;
    const std::string serial = a.serial.value_or(a.json ? "none" : "stdio");
    if (serial == "stdio") {
        if (a.json)
            throw InputError("--serial", "stdio: with --json stdout carries the JSON document (the UART text is in it); "
                                         "use none or a FILE");
        c.serial = stdout;
    } else if (serial != "none") {
        serial_file.f = std::fopen(serial.c_str(), "wb");
        if (!serial_file.f)
            throw InputError("--serial", fmt::format("'{}': cannot write: {}", serial, std::strerror(errno)));
        c.serial = serial_file.f;
    }
    const std::vector<uint8_t> image = read_file(a.image, "IMAGE", c.mem);

    am::Board board(std::move(c), image);
    if (a.dump_dtb) {
        std::ofstream out(*a.dump_dtb, std::ios::binary);
        out.write(reinterpret_cast<const char*>(board.dtb().data()), static_cast<std::streamsize>(board.dtb().size()));
        if (!out) throw InputError("--dump-dtb", fmt::format("'{}': cannot write", *a.dump_dtb));
    }
    const am::MachineResult r = board.run();
    if (serial_file.f) std::fflush(serial_file.f);
    std::fflush(stdout);

    if (a.json) {
        fmt::print("{}\n", to_json(r).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
        std::string per;
        for (size_t v = 0; v < r.vcpus.size(); ++v)
            per += fmt::format("{}vCPU {} {}", v ? ", " : "", v, r.vcpus[v].insns);
        fmt::print(stderr, "irqdiff machine: exit {} after {} instructions ({}); virtual time {} ticks\n",
                   am::to_string(r.exit), r.insns, per, r.virtual_ticks);
        if (r.fault)
            fmt::print(stderr, "irqdiff machine: {} on vCPU {} at pc {:#x} ({}): {}\n",
                       r.exit == am::ExitReason::Budget ? "stopped" : "guest fault", r.fault->vcpu, r.fault->pc,
                       r.fault->instruction, r.fault->reason);
    }
    return r.exit == am::ExitReason::SystemOff || r.exit == am::ExitReason::Reset ? 0 : 1;
}

}  // namespace irqdiff::cli
