// The model's invariants, checked on any scenario (issue 17 §2; docs/fuzzing.md "Invariants"):
// what every run of every backend must satisfy whatever its outcome, so that a generated scenario
// (core/scenario_generator.h) needs no expected result to find a bug. `irqdiff generate --check`,
// the `scenario_gen` fuzz target and the GeneratedScenario gtests run them.
//
//  determinism      two runs give byte-identical JSON (results, deliveries, locations, events)
//                   and Chrome trace;
//  guests           the abstract and Unicorn guests see the same deliveries and outcomes (when the
//                   scenario is one both guest programs run);
//  fire-first       no delivery before its source's first fire, but an `at-least-once` device's
//                   (then reported: spurious or duplicated) or the x86 LAPIC timer's early tick
//                   (KVM_SET_LAPIC restarts an armed one-shot: QEMU migrates no TMCCT; its
//                   deadline's fire then finds no timer and the tick counts for it,
//                   scenarios/x86/timer_deadline_ahead.yaml);
//  conservation     from a fire to the delivery that takes it a source is held somewhere after
//                   every action, or the run does not call it delivered-once (a fire in between
//                   coalesces with it and is only counted: InvariantReport::masked_by_refire); one
//                   held nowhere at the end is not delivered-once or pending (unless the oracle
//                   coalesced that fire, also counted); a lost source that was held nowhere
//                   while outstanding names the action at or after its first fire where it
//                   vanished (one never held nowhere was lost by coalescing, counted:
//                   coalescing_losses; a lost one still held is stranded, in a place nothing
//                   delivers from);
//  reference        the ideal backend delivers every fired source once or leaves it pending (or
//                   the schedule is impossible);
//  snapshot         a checkpoint taken after any action, rewound to, taken again and rewound to
//                   once more gives the same rest of the run, byte for byte, as the run without it
//                   (save -> restore -> save: every backend snapshot is a faithful copy);
//  explorer         the explorer's rows with prefix sharing equal those of each schedule run on
//                   its own, over sampled windows of the space of every order and arrival point.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/scenario.h"

namespace irqdiff {

struct InvariantOptions {
    bool compare_guests = true;  // run the Unicorn guest beside the abstract one
    bool explorer = true;        // the prefix-sharing check
    uint32_t explore_window = 16;  // schedules per sampled window (two windows)
};

struct InvariantReport {
    /// "determinism: arm: ...": one line per broken invariant, naming it, the run and the source.
    std::vector<std::string> violations;
    uint64_t runs = 0;    // backend runs made (each determinism, snapshot and explorer run counts)
    uint64_t checks = 0;  // invariant instances checked
    /// Sources held nowhere for a while and fired again before the guest took them: the fire
    /// coalesces with the interrupt the oracle still counts as pending, so the loss is not
    /// observable (in the run's locations only). Counted, not broken.
    uint64_t masked_by_refire = 0;
    /// Lost sources that were never held nowhere while outstanding: the backend merged fires the
    /// oracle counted apart (one pending NMI, one pending bit). Counted, not broken.
    uint64_t coalescing_losses = 0;
    bool ok() const { return violations.empty(); }
};

/// Checks every invariant above on `scenario` over `arches` (expanded backend names, ideal
/// included if it is to be checked). Scenario errors a backend reports (InputError) propagate.
InvariantReport check_invariants(const Scenario& scenario, const Registry& registry,
                                 std::span<const std::string> arches, const InvariantOptions& options = {});

}  // namespace irqdiff
