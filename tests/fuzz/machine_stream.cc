// Fuzz target machine_stream (docs/machine_stream.md, docs/fuzzing.md): machine mode's migration
// stream reader (arm_gic/machine/migration.h restore_machine) with a stream anyone made: the input
// is the stream. A stream that restores is run for 20,000 instructions.
// The rule (docs/machine_stream.md): a wrong magic or version, a short stream, a wrong section tag,
// a length or count out of range, an invalid enum or boolean, or bytes left over are refused with
// InputError ("--restore: offset N, field F: why"); register values are not second-guessed (the
// guest gets them). Nothing else may escape, and nothing may crash or hang.
#include <cstddef>
#include <cstdint>
#include <span>

#include "arm_gic/machine/board.h"
#include "arm_gic/machine/migration.h"
#include "core/errors.h"

using namespace irqdiff;
using namespace irqdiff::arm::machine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 1 << 20) return -1;
    BoardConfig config;
    config.max_insns = 20'000;
    config.quantum = 1'000;
    config.kept_notes = 64;
    MigrateOptions options;
    MigrationReport report;
    try {
        auto board = restore_machine(config, std::span<const uint8_t>(data, size), options, report);
        (void)board->run();
    } catch (const InputError&) {
        // the documented refusal
    }
    return 0;
}
