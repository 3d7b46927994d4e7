#include "core/versions.h"

#include <capstone/capstone.h>
#include <fmt/format.h>
#include <unicorn/unicorn.h>

#ifndef IRQDIFF_VERSION
#error "IRQDIFF_VERSION must be defined by the build"
#endif

namespace irqdiff {

LibraryVersions library_versions() {
    LibraryVersions v;
    v.irqdiff = IRQDIFF_VERSION;
    v.unicorn_built = fmt::format("{}.{}.{}", UC_VERSION_MAJOR, UC_VERSION_MINOR, UC_VERSION_PATCH);
    unsigned int major = 0, minor = 0;
    uc_version(&major, &minor);
    v.unicorn_runtime = fmt::format("{}.{}", major, minor);
    v.capstone_built = fmt::format("{}.{}.{}", CS_VERSION_MAJOR, CS_VERSION_MINOR, CS_VERSION_EXTRA);
    int cmajor = 0, cminor = 0;
    cs_version(&cmajor, &cminor);
    v.capstone_runtime = fmt::format("{}.{}", cmajor, cminor);
    return v;
}

std::string version_line() {
    LibraryVersions v = library_versions();
    std::string line =
        fmt::format("irqdiff {} (unicorn {}, capstone {})", v.irqdiff, v.unicorn_built, v.capstone_built);
    // The run-time libraries report major.minor only; mention them only when they disagree.
    if (v.unicorn_built.rfind(v.unicorn_runtime + ".", 0) != 0)
        line += fmt::format(" [loaded unicorn {}]", v.unicorn_runtime);
    if (v.capstone_built.rfind(v.capstone_runtime + ".", 0) != 0)
        line += fmt::format(" [loaded capstone {}]", v.capstone_runtime);
    return line;
}

}  // namespace irqdiff
