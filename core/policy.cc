#include "core/policy.h"

#include <fmt/ranges.h>

namespace irqdiff {

const PolicySpec* find_policy(std::span<const PolicySpec> catalog, std::string_view key) {
    for (const PolicySpec& spec : catalog)
        if (spec.key == key) return &spec;
    return nullptr;
}

const std::string& PolicyValues::get(std::string_view key) const {
    for (const auto& [k, v] : entries_)
        if (k == key) return v;
    throw std::logic_error(fmt::format("policy '{}' is not a policy of this backend", key));
}

bool PolicyValues::is_default(std::string_view key) const {
    for (size_t i = 0; i < entries_.size(); ++i)
        if (entries_[i].first == key) return entries_[i].second == defaults_[i];
    throw std::logic_error(fmt::format("policy '{}' is not a policy of this backend", key));
}

std::string PolicyValues::to_string() const {
    std::string out;
    for (const auto& [k, v] : entries_) {
        if (!out.empty()) out += ',';
        out += k + "=" + v;
    }
    return out;
}

namespace {

void validate_value(const PolicySpec& spec, const PolicySetting& setting) {
    for (std::string_view v : spec.values)
        if (v == setting.value) return;
    throw InputError(setting.value_loc, fmt::format("'{}' is not a value of policy {} (expected one of: {})",
                                                    setting.value, setting.key, fmt::join(spec.values, ", ")));
}

}  // namespace

void validate_policy_setting(std::span<const PolicySpec> catalog, const PolicySetting& setting) {
    const PolicySpec* spec = find_policy(catalog, setting.key);
    if (!spec) {
        std::vector<std::string_view> keys;
        for (const PolicySpec& s : catalog) keys.push_back(s.key);
        throw InputError(setting.key_loc,
                         fmt::format("unknown policy '{}' (expected one of: {})", setting.key, fmt::join(keys, ", ")));
    }
    validate_value(*spec, setting);
}

PolicyValues resolve_policy(std::span<const PolicySpec> backend, std::span<const PolicySetting> scenario,
                            std::span<const PolicySetting> overrides) {
    PolicyValues result;
    for (const PolicySpec& spec : backend) {
        result.entries_.emplace_back(std::string(spec.key), std::string(spec.default_value));
        result.defaults_.push_back(spec.default_value);
    }
    for (std::span<const PolicySetting> layer : {scenario, overrides}) {
        for (const PolicySetting& s : layer) {
            const PolicySpec* spec = find_policy(backend, s.key);
            if (!spec) continue;
            validate_value(*spec, s);
            for (auto& [k, v] : result.entries_)
                if (k == s.key) v = s.value;
        }
    }
    return result;
}

PolicySetting parse_policy_assignment(std::span<const PolicySpec> catalog, std::string_view text,
                                      const std::string& place) {
    size_t eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size()) {
        std::string example = catalog.empty()
                                  ? std::string("KEY=VALUE")
                                  : fmt::format("{}={}", catalog.front().key, catalog.front().default_value);
        throw InputError(place, fmt::format("'{}': expected KEY=VALUE, e.g. {}", text, example));
    }
    SourceLoc loc{place, 0, 0};
    return PolicySetting{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)), loc, loc};
}

}  // namespace irqdiff
