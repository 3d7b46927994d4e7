// Where a source's pending state lives (DESIGN.md "Where is it?") as typed values. The stack that
// owns a place declares it once as a Place; a backend's where() answers with Locations (a place,
// an index, live or not), which compare by value and cost no formatting. They become text such as
// `arm.vpt[vpe0]` only where results leave the program: the JSON documents, the CLI table and
// Chrome traces (to_string).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace irqdiff {

/// What a place's index counts, and so how it prints.
enum class IndexKind : uint8_t {
    Vpe,     // a vPE ID: `vpe0`
    Vcpu,    // a vCPU: `vcpu0`
    Cpu,     // a physical CPU: `cpu0`
    Device,  // a scenario device, printed by its name: `nic`
};

/// One kind of place, declared once by the stack that owns it, e.g. {"arm.vpt", Vpe, "..."}.
/// Locations refer to it by address, so declare each as a single object (an inline constexpr
/// variable in a header) and never copy it.
struct Place {
    std::string_view name;  // "arm.vpt"
    IndexKind index = IndexKind::Vcpu;
    std::string_view doc;  // one line: what holds the state there
};

/// A place holding a source's pending state, e.g. `arm.vpt[vpe0]` or `x86.pir[vcpu0]`. `live`:
/// some path that exists now will deliver it once its vCPU runs unmasked.
struct Location {
    const Place* place = nullptr;
    uint32_t index = 0;  // a vPE ID, vCPU, CPU or device index, as place->index says
    bool live = true;
    bool operator==(const Location&) const = default;
};

/// `arm.vpt[vpe0]`, `x86.device[nic]`: the place's name and its index; a device index is
/// printed as that device's name (`device_names` is the scenario's devices, by index).
std::string to_string(const Location& location, std::span<const std::string> device_names);

}  // namespace irqdiff
