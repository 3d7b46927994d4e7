// One machine-mode VM over its life (issue 16 items 6, 7; docs/machine.md): the board it runs on
// now, the migrations it went through (each to a fresh board built from the stream), the
// interrupts its guest took, and its trace. The CLI (`irqdiff machine`) and Python
// (`irqdiff.Machine`) both drive a Session, so they give the same results for the same options.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "arm_gic/machine/board.h"
#include "arm_gic/machine/migration.h"
#include "core/results.h"

namespace irqdiff::arm::machine {

struct SessionConfig {
    BoardConfig board;
    MigrateOptions migrate;
};

class Session {
   public:
    /// Boots `image` (InputError naming the option or IMAGE for bad input).
    Session(SessionConfig config, const std::vector<uint8_t>& image);
    /// Resumes the VM of a migration stream (`--restore`): its restore steps run now.
    Session(SessionConfig config, std::span<const uint8_t> stream);

    /// Runs until the guest powers off, resets, faults or exhausts the budget, migrating at every
    /// trigger (`migrate_on`, `migrate_at_insns`). With `insns`, returns ExitReason::Paused once
    /// that many more instructions ran (a later run() or migrate() goes on from there).
    MachineResult run(std::optional<uint64_t> insns = std::nullopt);
    /// Migrates now (between runs): save, stream, fresh destination, restore, key.
    const MigrationReport& migrate();

    Board& board() { return *board_; }
    /// The board, or nullptr once the VM is gone (QEMU exited during a migration).
    Board* board_if() const { return board_.get(); }
    const MachineResult& last() const { return last_; }
    const std::vector<MigrationReport>& migrations() const { return migrations_; }
    /// Interrupts taken, by vCPU: INTID -> count, over every board the VM ran on.
    std::vector<std::map<uint32_t, uint64_t>> taken() const;
    /// The result as `irqdiff machine --json` prints it.
    Json to_json() const;
    /// A Chrome trace (chrome://tracing, Perfetto): UART lines and interrupts per vCPU, migration
    /// steps, in virtual time (62.5 ticks per µs).
    Json chrome_trace() const;

    /// The event log of every board the VM ran on, one line per entry (`--log`): every model
    /// operation when BoardConfig::record_log, otherwise only the notes below.
    std::string log_text() const;
    /// Entries logged, recorded or counted only.
    uint64_t log_entries() const;
    /// The log entries that are not operations — guest errors, ignored accesses, violations,
    /// refusals (core/trace_point.h EventKind) — always kept: nothing is ignored silently.
    std::vector<std::string> notes() const;
    /// All notes, also those past BoardConfig::kept_notes of a board (counted, not kept).
    uint64_t notes_total() const;
    /// How many notes to_json() lists at most (a guest can make millions).
    static constexpr size_t kJsonNotes = 1000;

   private:
    void collect();  // the board's interrupts and trace so far into the session's
    void keep_log(const EventLog& log);  // a board's log, before the board is gone

    SessionConfig config_;
    std::unique_ptr<Board> board_;
    MachineResult last_;
    std::vector<MigrationReport> migrations_;
    std::vector<std::map<uint32_t, uint64_t>> taken_done_;  // of boards left behind
    std::vector<TraceEvent> trace_;
    std::string log_done_;                 // of boards left behind
    uint64_t log_entries_done_ = 0;
    uint64_t notes_total_done_ = 0;
    std::vector<std::string> notes_done_;
};

}  // namespace irqdiff::arm::machine
