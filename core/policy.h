// Policies: every CONSTRAINED UNPREDICTABLE or implementation-defined choice, and every kernel
// version difference a scenario may want to compare, is a named key `ARCH.NAME` with a closed set
// of values, a default and the source of the rule (DESIGN.md "Transfer-point policies"). The
// catalogue is the one place keys are declared; scenario `policy:` maps, `--policy KEY=VALUE` and
// Python `policy={...}` are validated against it.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "core/scenario.h"

namespace irqdiff {

struct PolicySpec {
    std::string_view key;   // "arm.transfer"
    std::string_view arch;  // the backend that reads it: "arm", "x86"
    std::vector<std::string_view> values;
    std::string_view default_value;
    std::string_view doc;  // one line: what the choice is
    std::string_view ref;  // where the choices come from (spec section, kernel function, commit)
};

/// Every policy key, in a fixed order.
std::span<const PolicySpec> policy_catalog();
const PolicySpec* find_policy(std::string_view key);

/// The effective policy of one run: every key of one backend with its value, in catalogue order.
class PolicyValues {
   public:
    const std::string& get(std::string_view key) const;  // throws std::logic_error for unknown keys
    bool is(std::string_view key, std::string_view value) const { return get(key) == value; }
    const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }
    /// "key=value,key=value" (empty for a backend without policies).
    std::string to_string() const;

   private:
    friend PolicyValues resolve_policy(std::string_view, std::span<const PolicySetting>,
                                       std::span<const PolicySetting>);
    std::vector<std::pair<std::string, std::string>> entries_;
};

/// Checks one setting against the catalogue. Throws InputError at the key or value location.
void validate_policy_setting(const PolicySetting& setting);

/// The effective policy for backend `arch`: catalogue defaults, then the scenario's settings, then
/// the overrides (command line or Python). Every setting is validated, including those for other
/// backends, which are then left out.
PolicyValues resolve_policy(std::string_view arch, std::span<const PolicySetting> scenario,
                            std::span<const PolicySetting> overrides);

/// Parses a command-line `KEY=VALUE`; `place` names the option in errors ("--policy").
PolicySetting parse_policy_assignment(std::string_view text, const std::string& place);

}  // namespace irqdiff
