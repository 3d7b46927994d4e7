// Fuzz target scenario_loader (docs/fuzzing.md): the input is YAML text given to the scenario
// loader (core/scenario_loader.cc, parse_scenario against the built-in catalogue). The loader's
// contract (core/errors.h, STYLE.md "three kinds of error"): a scenario, or an InputError naming
// the place. Any other exception escaping it is a finding (std::terminate reports it), and so is
// a sanitizer report or a hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/errors.h"
#include "core/scenario.h"
#include "registry/builtin_backends.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // The loader reads whole files; 64 KiB is far above any library scenario (the largest is a
    // few KiB) and keeps an iteration fast.
    if (size > 64 * 1024) return -1;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        irqdiff::Scenario s = irqdiff::parse_scenario(text, irqdiff::builtin_backends().catalogue(), "fuzz.yaml");
        (void)s;
    } catch (const irqdiff::InputError&) {
        // the documented rejection
    }
    return 0;
}
