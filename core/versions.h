// Versions of irqdiff and of the guest-CPU libraries it links (Unicorn, Capstone), both as built
// against (headers) and as loaded at run time.
#pragma once

#include <string>

namespace irqdiff {

struct LibraryVersions {
    std::string irqdiff;
    std::string unicorn_built, unicorn_runtime;
    std::string capstone_built, capstone_runtime;
};

LibraryVersions library_versions();
/// "irqdiff 0.1.0 (unicorn 2.0.1, capstone 4.0.2)", adding the runtime versions if they differ.
std::string version_line();

}  // namespace irqdiff
