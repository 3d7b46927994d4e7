// Fuzz target machine_code (docs/machine.md, docs/fuzzing.md): random AArch64 code as a machine-mode
// image. The input:
//   byte 0   the board: bits 0-1 vCPUs - 1 (1..4), bit 2 PSCI over SMC (else HVC), bit 3 a GICv4.0
//            host (else 4.1), bit 4 no GIC (every GIC access faults)
//   the rest the raw image, loaded at RAM + 0x80000 (x0 = the DTB), run with a budget of 20,000
//            instructions over all vCPUs
// The rule (arm_gic/machine/board.h): "a guest can never crash the emulator: every fault, and the
// --max-insns budget, ends the run with a report": run() returns SystemOff, Reset, Fault (with a
// FaultReport), Budget, and never crashes, throws, or runs past its budget. An image that cannot
// be loaded (empty) is refused with InputError.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "arm_gic/machine/board.h"
#include "core/errors.h"

using namespace irqdiff;
using namespace irqdiff::arm::machine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1 || size > 32768) return -1;
    const uint8_t cfg = data[0];
    BoardConfig config;
    config.smp = 1 + (cfg & 3);
    config.mem = kMinMem;
    config.psci = (cfg & 4) ? PsciConduit::Smc : PsciConduit::Hvc;
    config.gic_host = (cfg & 8) ? arm::GicVersion::V4_0 : arm::GicVersion::V4_1;
    config.gic = (cfg & 16) ? GicModel::None : GicModel::Kvm;
    config.max_insns = 20'000;
    config.quantum = 1'000;
    config.kept_notes = 64;
    const std::vector<uint8_t> image(data + 1, data + size);
    try {
        Board board(config, image);
        const MachineResult r = board.run();
        // The budget is the budget: all vCPUs together retire at most max_insns (plus the
        // instructions of one block past the check, a Unicorn granule).
        if (r.insns > config.max_insns + 4096) std::abort();
        if ((r.exit == ExitReason::Fault) != r.fault.has_value() && r.exit != ExitReason::Budget) std::abort();
    } catch (const InputError&) {
        // an image that does not load (empty)
    }
    return 0;
}
