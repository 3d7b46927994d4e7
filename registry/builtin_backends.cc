// The registry of every backend in this build (registry/builtin_backends.h).
#include "registry/builtin_backends.h"

#include "arm_gic/backend.h"
#include "arm_gic/policies.h"
#include "core/ideal_backend.h"
#include "x86_pi/backend.h"
#include "x86_pi/policies.h"

namespace irqdiff {

const Registry& builtin_backends() {
    static const Registry registry = [] {
        Registry r;
        r.add(ideal_backend_info());
        // Each backend with the policies its stack declares; the registry's catalogue is their
        // concatenation in this order (arm.* then x86.*).
        BackendInfo arm = arm::arm_backend_info();
        arm.policies = arm::arm_policies();
        r.add(std::move(arm));
        BackendInfo x86 = x86::x86_backend_info();
        x86.policies = x86::x86_policies();
        r.add(std::move(x86));
        return r;
    }();
    return registry;
}

}  // namespace irqdiff
