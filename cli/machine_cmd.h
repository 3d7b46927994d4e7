// `irqdiff machine IMAGE ...`: boot an AArch64 bare-metal image on the machine-mode board
// (arm_gic/machine/board.h, docs/machine.md).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace irqdiff::cli {

struct MachineArgs {
    std::string image;
    uint32_t smp = 1;
    std::string mem = "128M";
    std::string psci = "hvc";
    std::optional<std::string> serial;
    std::optional<std::string> input;
    std::string append;
    std::optional<std::string> initrd;
    std::optional<std::string> dtb;
    std::optional<std::string> dump_dtb;
    uint64_t max_insns = 1'000'000'000;
    bool json = false;
    // Migration (docs/machine.md "Migration").
    std::vector<std::string> policy, dest_policy;
    std::string order = "qemu";
    std::string migrate_on = "Now migrate the VM, then press a key to continue...";
    std::optional<uint64_t> migrate_at_insns;
    std::optional<std::string> stream, restore;
    std::string key = "\n";
    std::vector<std::string> assign;
    std::optional<std::string> trace;
    std::optional<std::string> log;
};

/// Adds the subcommand; returns it (the caller tests `*cmd` after parsing).
CLI::App* add_machine_command(CLI::App& app, MachineArgs& args);
/// Runs it. Exit codes: 0 the guest powered off (SYSTEM_OFF) or asked for a reset, 1 it faulted
/// or ran out of --max-insns, 2 bad input (InputError, thrown to the caller).
int cmd_machine(const MachineArgs& args);

}  // namespace irqdiff::cli
