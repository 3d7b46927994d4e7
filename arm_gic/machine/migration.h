// Machine mode's live migration (issue 16 item 6; docs/machine.md "Migration", the stream format
// in docs/machine_stream.md). The board stops at a migration trigger with every vCPU at an
// instruction boundary; QEMU's save steps run on the source through the ARM backend's migration
// driver and plan table (arm::LiveMigration: pause_all_vcpus, the VFIO devices to STOP, ITS
// SAVE_TABLES, SAVE_PENDING_TABLES, the GIC registers through the device-attribute ABI, the final
// RAM pass); the board's vCPU registers, timers, UART and RAM, then the GIC and device sections go
// into a versioned stream; the source — board, GIC, host ITS, vPEs — is destroyed; a fresh board
// and host (its own host ITS, vPE ids and host LPI numbers; --dest-policy for another host, such
// as GICv4.0) is built from the stream, the restore steps run in the chosen order with the
// chosen arm.transfer, the VM resumes and the key is sent to its UART.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "arm_gic/machine/board.h"
#include "core/policy.h"
#include "core/scenario.h"

namespace irqdiff::arm::machine {

struct MigrateOptions {
    std::vector<PolicySetting> policy;       // both hosts (arm.*; validated against the catalogue)
    std::vector<PolicySetting> dest_policy;  // the destination host on top (e.g. arm.gic=v4.0)
    OrderSpec order;                         // a named restore order (default qemu) or an explicit list
    std::string key = "\n";                  // sent to the UART once the VM runs on the destination
    std::optional<std::string> stream_path;  // --stream FILE: the stream is kept there
};

/// Where one LPI's pending state was after each migration step (the places scenarios report).
struct LpiTrace {
    uint32_t vcpu = 0;
    uint32_t intid = 0;
    std::vector<std::string> where;  // per step of MigrationReport::steps; "" = nowhere
};

struct MigrationReport {
    std::vector<std::string> steps;  // "save:stop_vcpus", ..., "restore:start_vcpus"
    std::vector<LpiTrace> lpis;      // every LPI pending somewhere at some step, by (vcpu, INTID)
    uint64_t stream_bytes = 0;
    std::string source_policy, dest_policy;  // "key=value,..." (the arm catalogue's)
    std::string order;                       // the restore order run
    bool vm_gone = false;                    // QEMU exited during the save (the run stops)
    /// migrate(): the source board's event log (save steps included), kept as the board is
    /// destroyed (Session's log and notes).
    std::shared_ptr<const EventLog> source_log;
};

/// The stream's magic and format version (docs/machine_stream.md).
inline constexpr char kStreamMagic[9] = "IRQDMACH";
inline constexpr uint32_t kStreamVersion = 1;

/// The save side on `src` (which must have the KVM GIC): returns the stream. `src` is unusable
/// after (its GIC's machine is gone); the caller destroys it.
std::vector<uint8_t> save_machine(Board& src, const MigrateOptions& options, MigrationReport& report);

/// A fresh destination from `stream` (InputError "--restore" with offset and field for a corrupt
/// or foreign stream): the restore steps run, the key is sent, the board is ready to run().
std::unique_ptr<Board> restore_machine(BoardConfig config, std::span<const uint8_t> stream,
                                       const MigrateOptions& options, MigrationReport& report);

/// save_machine, the stream kept at options.stream_path, the source destroyed, restore_machine.
std::unique_ptr<Board> migrate(std::unique_ptr<Board> src, BoardConfig dest_config, const MigrateOptions& options,
                               MigrationReport& report);

}  // namespace irqdiff::arm::machine
