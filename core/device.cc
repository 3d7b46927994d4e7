#include "core/device.h"

namespace irqdiff {

const char* to_string(DeviceRunState s) {
    switch (s) {
        case DeviceRunState::Running: return "RUNNING";
        case DeviceRunState::Stopped: return "STOP";
        case DeviceRunState::Resuming: return "RESUMING";
    }
    return "?";
}

}  // namespace irqdiff
