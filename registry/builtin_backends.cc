// The registry of every backend in this build (registry/builtin_backends.h).
#include "registry/builtin_backends.h"

#include "arm_gic/backend.h"
#include "core/ideal_backend.h"
#include "x86_pi/backend.h"

namespace irqdiff {

const Registry& builtin_backends() {
    static const Registry registry = [] {
        Registry r;
        r.add(ideal_backend_info());
        // Each backend brings the policies its stack declares; the registry's catalogue is their
        // concatenation in this order (arm.* then x86.*).
        r.add(arm::arm_backend_info());
        r.add(x86::x86_backend_info());
        return r;
    }();
    return registry;
}

}  // namespace irqdiff
