#include "cli/machine_cmd.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "arm_gic/machine/board.h"
#include "arm_gic/machine/memory_map.h"
#include "arm_gic/machine/migration.h"
#include "arm_gic/machine/options.h"
#include "arm_gic/machine/session.h"
#include "arm_gic/policies.h"
#include "cli/output.h"
#include "core/errors.h"

namespace irqdiff::cli {

namespace am = irqdiff::arm::machine;

CLI::App* add_machine_command(CLI::App& app, MachineArgs& a) {
    CLI::App* m = app.add_subcommand(
        "machine", "Boot an AArch64 bare-metal image on a QEMU-virt-compatible board (docs/machine.md)");
    m->add_option("IMAGE", a.image,
                  "Raw binary, arm64 Image or ELF; loaded at RAM + 0x80000 (0x40080000); not with --restore");
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
    m->add_flag("--json", a.json,
                "Print one JSON document: exit reason, fault, per-vCPU instructions, interrupts, migrations, UART text");
    m->add_option("--policy", a.policy, "KEY=VALUE of the arm catalogue for both hosts (irqdiff list policies)");
    m->add_option("--dest-policy", a.dest_policy,
                  "KEY=VALUE for the destination host only, on top of --policy (e.g. arm.gic=v4.0)");
    m->add_option("--order", a.order,
                  "Restore order: a named order (qemu, cloud_hypervisor, devices_before_bypass) or STEP,STEP,...");
    m->add_option("--migrate-on", a.migrate_on,
                  "Migrate whenever the UART prints this text (default: the bare-metal test prompt; \"\" = never)");
    m->add_option("--migrate-at-insns", a.migrate_at_insns, "Migrate once all vCPUs together retired N instructions");
    m->add_option("--stream", a.stream, "Keep the (last) migration stream in FILE (docs/machine_stream.md)");
    m->add_option("--restore", a.restore, "Resume a VM from a migration stream FILE instead of booting IMAGE");
    m->add_option("--key", a.key, "What is sent to the UART once the VM runs on the destination (default: a newline)");
    m->add_option("--trace", a.trace, "Write a Chrome trace (UART lines, interrupts, migration steps) to FILE");
    m->add_option("--log", a.log,
                  "Write the model's event log to FILE: every KVM/GIC operation, one line each (without it, only "
                  "guest errors, ignored accesses and refusals are kept: --json's log.notes)");
    m->add_option("--assign", a.assign,
                  "DEVID[:EVENTS] or all: guest DeviceIDs that are passthrough (VFIO) devices (docs/machine.md)");
    return m;
}

namespace {

std::vector<uint8_t> read_file(const std::string& path, const std::string& place, uint64_t max) {
    return am::read_image_file(path, place, max);
}

struct FileCloser {
    std::FILE* f = nullptr;
    ~FileCloser() {
        if (f) std::fclose(f);
    }
    /// Flushes and closes the file; InputError at `place` when any write to it failed.
    void finish(const std::string& place, const std::string& path) {
        if (!f) return;
        errno = 0;
        int err = std::fflush(f) != 0 ? (errno ? errno : EIO) : 0;
        if (!err && std::ferror(f)) err = lost_write_error(f);  // an earlier write failed (the UART's)
        errno = 0;
        if (std::fclose(f) != 0 && !err) err = errno ? errno : EIO;
        f = nullptr;
        if (err) throw InputError(place, fmt::format("'{}': writing failed: {}", path, std::strerror(err)));
    }
};

/// Writes `bytes` to `path`, closing it before reporting: a full disk shows at the last flush.
void write_output(const std::string& path, const std::string& place, std::string_view bytes) {
    errno = 0;
    FileCloser out{std::fopen(path.c_str(), "wb")};
    if (!out.f) throw InputError(place, fmt::format("'{}': cannot write: {}", path, std::strerror(errno ? errno : EIO)));
    if (std::fwrite(bytes.data(), 1, bytes.size(), out.f) != bytes.size()) {
        const int err = errno ? errno : EIO;
        throw InputError(place, fmt::format("'{}': writing failed: {}", path, std::strerror(err)));
    }
    out.finish(place, path);
}

/// Refuses an output that is one of the inputs (a --trace naming the IMAGE would overwrite it) or
/// another output (issue 17 §5). Checked before anything is opened: --serial FILE truncates.
void refuse_overwriting_inputs(const MachineArgs& a, const std::string& serial) {
    std::vector<NamedPath> inputs;
    if (!a.image.empty()) inputs.push_back({"IMAGE", a.image});
    for (const auto& [place, path] : {std::pair{"--restore", &a.restore}, std::pair{"--initrd", &a.initrd},
                                      std::pair{"--dtb", &a.dtb}, std::pair{"--input", &a.input}})
        if (*path) inputs.push_back({place, **path});
    std::vector<NamedPath> outputs;
    if (serial != "stdio" && serial != "none") outputs.push_back({"--serial", serial});
    for (const auto& [place, path] : {std::pair{"--dump-dtb", &a.dump_dtb}, std::pair{"--stream", &a.stream},
                                      std::pair{"--trace", &a.trace}, std::pair{"--log", &a.log}})
        if (*path) outputs.push_back({place, **path});
    for (size_t i = 0; i < outputs.size(); ++i)
        refuse_overwriting(outputs[i], inputs, std::vector<NamedPath>(outputs.begin(), outputs.begin() + i));
}

}  // namespace

int cmd_machine(const MachineArgs& a) {
    am::BoardConfig c;
    c.smp = a.smp;
    c.mem = am::parse_mem_size(a.mem, "--mem");
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
    refuse_overwriting_inputs(a, serial);
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
    const std::vector<PolicySpec> catalogue = arm::arm_policies();
    am::MigrateOptions mo;
    for (const std::string& p : a.policy) mo.policy.push_back(parse_policy_assignment(catalogue, p, "--policy"));
    for (const std::string& p : a.dest_policy)
        mo.dest_policy.push_back(parse_policy_assignment(catalogue, p, "--dest-policy"));
    mo.order = am::parse_order(a.order, "--order");
    mo.key = a.key;
    mo.stream_path = a.stream;
    c.migrate_on = a.migrate_on;
    c.migrate_at_insns = a.migrate_at_insns;
    c.assign = am::parse_assignments(a.assign, "--assign");

    c.trace = a.trace.has_value();
    c.record_log = a.log.has_value();
    am::SessionConfig sc{c, mo};
    std::unique_ptr<am::Session> session;
    if (a.restore) {
        if (!a.image.empty()) throw InputError("IMAGE", "give either an IMAGE to boot or --restore FILE, not both");
        const std::vector<uint8_t> stream = read_file(*a.restore, "--restore", uint64_t{8} << 30);
        session = std::make_unique<am::Session>(sc, std::span<const uint8_t>(stream));
    } else {
        if (a.image.empty()) throw InputError("IMAGE", "expected an image to boot (or --restore FILE)");
        const std::vector<uint8_t> image = read_file(a.image, "IMAGE", c.mem);
        session = std::make_unique<am::Session>(sc, image);
    }
    if (a.dump_dtb) {
        const std::vector<uint8_t>& dtb = session->board().dtb();
        write_output(*a.dump_dtb, "--dump-dtb",
                     std::string_view(reinterpret_cast<const char*>(dtb.data()), dtb.size()));
    }
    const am::MachineResult r = session->run();
    serial_file.finish("--serial", serial);
    flush_stdout();
    if (a.trace) write_output(*a.trace, "--trace", session->chrome_trace().dump() + "\n");
    if (a.log) write_output(*a.log, "--log", session->log_text());

    if (a.json) {
        fmt::print("{}\n", session->to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
        for (const am::MigrationReport& m : session->migrations())
            fmt::print(stderr, "irqdiff machine: migrated: {} bytes of stream, restore order {}\n", m.stream_bytes,
                       m.order.empty() ? std::string("(none: QEMU exited during the save)") : m.order);
        std::string per;
        for (size_t v = 0; v < r.vcpus.size(); ++v)
            per += fmt::format("{}vCPU {} {}", v ? ", " : "", v, r.vcpus[v].insns);
        fmt::print(stderr, "irqdiff machine: exit {} after {} instructions ({}); virtual time {} ticks\n",
                   am::to_string(r.exit), r.insns, per, r.virtual_ticks);
        if (r.exit == am::ExitReason::VmGone)
            fmt::print(stderr, "irqdiff machine: QEMU exited during the migration's save side: no VM is left (the "
                               "migration report's steps show where)\n");
        if (const std::vector<std::string> notes = session->notes(); !notes.empty())
            fmt::print(stderr,
                       "irqdiff machine: the model logged {} note{} (guest errors, ignored accesses, refusals; "
                       "--json log.notes, --log FILE); the first: {}\n",
                       session->notes_total(), session->notes_total() == 1 ? "" : "s", notes.front());
        if (r.fault)
            fmt::print(stderr, "irqdiff machine: {} on vCPU {} at pc {:#x} ({}): {}\n",
                       r.exit == am::ExitReason::Budget ? "stopped" : "guest fault", r.fault->vcpu, r.fault->pc,
                       r.fault->instruction, r.fault->reason);
    }
    return r.exit == am::ExitReason::SystemOff || r.exit == am::ExitReason::Reset ? 0 : 1;
}

}  // namespace irqdiff::cli
