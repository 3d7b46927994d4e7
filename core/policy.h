// Policies: every CONSTRAINED UNPREDICTABLE or implementation-defined choice, and every kernel
// version difference a scenario may want to compare, is a named key `ARCH.NAME` with a closed set
// of values, a default and the source of the rule (DESIGN.md "Transfer-point policies").
//
// Each policy is one typed descriptor, `Policy<E>`, declared next to the code that reads it (the
// architecture stacks); each BackendInfo lists its backend's descriptors (as PolicySpec views) and
// the registry collects them into the catalogue, in a fixed order. core/ declares no key: scenario
// `policy:` maps, `--policy KEY=VALUE` and Python `policy={...}` are validated against the
// catalogue they are given (Registry::policies()).
#pragma once

#include <fmt/format.h>

#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "core/scenario.h"

namespace irqdiff {

/// The type-erased view of one policy, as the catalogue lists it.
struct PolicySpec {
    std::string_view key;   // "arm.transfer"
    std::string_view arch;  // the backend that reads it: "arm", "x86"
    std::vector<std::string_view> values;
    std::string_view default_value;
    std::string_view doc;  // one line: what the choice is
    std::string_view ref;  // where the choices come from (spec section, kernel function, commit)
};

/// The effective policy of one run: every key of one backend with its value, in catalogue order.
class PolicyValues {
   public:
    const std::string& get(std::string_view key) const;  // throws std::logic_error for unknown keys
    bool is(std::string_view key, std::string_view value) const { return get(key) == value; }
    /// Whether `key` has its catalogue default (throws std::logic_error for unknown keys).
    bool is_default(std::string_view key) const;
    const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }
    /// "key=value,key=value" (empty for a backend without policies).
    std::string to_string() const;

   private:
    friend PolicyValues resolve_policy(std::span<const PolicySpec>, std::span<const PolicySetting>,
                                       std::span<const PolicySetting>);
    std::vector<std::pair<std::string, std::string>> entries_;
    std::vector<std::string_view> defaults_;  // per entry
};

/// One policy, typed: each value name stands for one value of `E`. Declared (as a constant) in the
/// file that reads it; `read` is the only way that file turns a run's PolicyValues into a choice.
template <class E>
class Policy {
   public:
    struct Choice {
        std::string_view name;
        E value;
    };

    /// Throws std::logic_error when `default_value` is not one of the choices or a name repeats.
    Policy(std::string_view key, std::string_view arch, std::vector<Choice> choices, E default_value,
           std::string_view doc, std::string_view ref)
        : choices_(std::move(choices)) {
        spec_.key = key;
        spec_.arch = arch;
        spec_.doc = doc;
        spec_.ref = ref;
        for (const Choice& c : choices_) {
            for (std::string_view v : spec_.values)
                if (v == c.name) throw std::logic_error(fmt::format("policy {}: value '{}' twice", key, c.name));
            spec_.values.push_back(c.name);
        }
        spec_.default_value = name(default_value);
    }

    const PolicySpec& spec() const { return spec_; }
    std::string_view key() const { return spec_.key; }

    /// The choice `values` holds for this key. A value this descriptor does not know is an
    /// emulator bug (validation lets only catalogue values through): std::logic_error, never a
    /// fallback.
    E read(const PolicyValues& values) const {
        const std::string& v = values.get(spec_.key);
        for (const Choice& c : choices_)
            if (c.name == v) return c.value;
        throw std::logic_error(fmt::format("policy {}: unknown value '{}'", spec_.key, v));
    }

    /// The value name of `value` (throws std::logic_error for a value that is no choice).
    std::string_view name(E value) const {
        for (const Choice& c : choices_)
            if (c.value == value) return c.name;
        throw std::logic_error(fmt::format("policy {}: a value without a name", spec_.key));
    }

   private:
    PolicySpec spec_;
    std::vector<Choice> choices_;
};

/// The entry for `key` in `catalog`, or nullptr.
const PolicySpec* find_policy(std::span<const PolicySpec> catalog, std::string_view key);

/// Checks one setting against the catalogue. Throws InputError at the key or value location.
void validate_policy_setting(std::span<const PolicySpec> catalog, const PolicySetting& setting);

/// The effective policy of one backend, whose policies are `backend` (BackendInfo::policies):
/// their defaults, then the scenario's settings, then the overrides (command line or Python). A
/// setting for one of these keys is validated (InputError for a value it does not have); settings
/// for other keys belong to other backends and are left out: they were validated against the
/// registry's catalogue where they came in (scenario loading, --policy, Python, ExploreSpace).
PolicyValues resolve_policy(std::span<const PolicySpec> backend, std::span<const PolicySetting> scenario,
                            std::span<const PolicySetting> overrides);

/// Parses a command-line `KEY=VALUE`; `place` names the option in errors ("--policy"), which
/// give the catalogue's first policy as the example.
PolicySetting parse_policy_assignment(std::span<const PolicySpec> catalog, std::string_view text,
                                      const std::string& place);

}  // namespace irqdiff
