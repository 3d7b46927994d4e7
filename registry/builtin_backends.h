// The registry of every backend built into this irqdiff. It lives above core/ and the
// architecture stacks (target irqdiff_builtin, the one place that links all backend libraries), so
// no include runs from core/ up into an architecture folder.
#pragma once

#include "core/backend.h"

namespace irqdiff {

/// Every backend built into this irqdiff, in a fixed order: ideal, arm, x86.
const Registry& builtin_backends();

}  // namespace irqdiff
