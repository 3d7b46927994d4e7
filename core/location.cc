#include "core/location.h"

#include <fmt/format.h>

#include <stdexcept>

namespace irqdiff {

std::string to_string(const Location& l, std::span<const std::string> device_names) {
    if (!l.place) throw std::logic_error("to_string(Location): no place");
    switch (l.place->index) {
        case IndexKind::Vpe: return fmt::format("{}[vpe{}]", l.place->name, l.index);
        case IndexKind::Vcpu: return fmt::format("{}[vcpu{}]", l.place->name, l.index);
        case IndexKind::Cpu: return fmt::format("{}[cpu{}]", l.place->name, l.index);
        case IndexKind::Device:
            if (l.index >= device_names.size())
                throw std::logic_error(fmt::format("to_string(Location): {} names device {} of {}", l.place->name,
                                                   l.index, device_names.size()));
            return fmt::format("{}[{}]", l.place->name, device_names[l.index]);
    }
    throw std::logic_error("to_string(Location): unknown IndexKind");
}

}  // namespace irqdiff
