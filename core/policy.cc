#include "core/policy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>

namespace irqdiff {

namespace {

// Keys and values are the product's contract (DESIGN.md); the backends named in `arch` read them.
const std::vector<PolicySpec> kCatalog = {
    {"arm.transfer",
     "arm",
     {"none", "its_restore", "enable_lpis", "set_forwarding", "vm_start"},
     "set_forwarding",
     "where restored pending_latch of a forwarded vLPI is pushed into the VPT",
     "none: Linux < 5.13; its_restore: suggested in review (Marc Zyngier 2020-11-24); enable_lpis: proposed "
     "2020-12-08 (Shenming Lu); set_forwarding: kvm_vgic_v4_set_forwarding, 12df7429213a (Linux 5.13); "
     "vm_start: new userspace call, rejected as ABI"},
    {"arm.gic",
     "arm",
     {"v4.1", "v4.0"},
     "v4.1",
     "host GIC version: v4.0 cannot read the VPT back and fails ITS save for forwarded ITEs",
     "IHI 0069 VMAPP {V,Alloc}={0,1}; vgic_its_save_itt (8082d50f4817); vgic_v3_save_pending_tables"},
    {"arm.its_command_error",
     "arm",
     {"ignore", "stall"},
     "ignore",
     "what the ITS does with a command whose parameters are bad: drop it and go on, or stall the queue",
     "IHI 0069 ITS command errors are CONSTRAINED UNPREDICTABLE (ignore, or stall with GITS_CREADR.Stalled); "
     "QEMU hw/intc/arm_gicv3_its.c continues after parameter errors"},
    {"arm.its_table_fault",
     "arm",
     {"stall", "ignore"},
     "stall",
     "what the ITS does when a table or queue access faults (address outside memory)",
     "IHI 0069 CONSTRAINED UNPREDICTABLE (ignore or stall); QEMU hw/intc/arm_gicv3_its.c stalls on a memory "
     "transaction error"},
    {"arm.vpt_writeback",
     "arm",
     {"on_unmap", "on_deschedule", "eager"},
     "on_unmap",
     "when the redistributor writes cached VPT bits back to memory (a read at another time can be stale)",
     "IHI 0069 via Marc Zyngier 2020-12-01: only VMAPP {V,Alloc}={0,1} cleans the VPT cache; de-schedule gives no "
     "such guarantee (reference/arm §1.5)"},
    {"arm.vfio_vector_enable",
     "arm",
     {"all_at_once", "one_by_one"},
     "all_at_once",
     "how QEMU enables MSI-X vectors on restore: together, or one by one with each SET_IRQS re-registering every "
     "vector",
     "QEMU < 6.0 vfio_msix_enable (unset/set_forwarding per step: reference/arm §4.2, §9 lost.2); ecebe53fe993, then "
     "\"vfio: defer to commit kvm irq routing when enable msi/msix\""},
    {"x86.set_lapic_clears_pir",
     "x86",
     {"before_load", "after_load"},
     "before_load",
     "whether KVM_SET_LAPIC zeroes PIR and ON before loading the register image (2023 fix) or after",
     "kvm_apic_set_state / pi_apicv_pre_state_restore (2023); older kernels cleared after the load"},
    {"x86.posting",
     "x86",
     {"on", "off"},
     "on",
     "APICv with VT-d posted interrupts enabled, or the remapped/software path only",
     "vmx_pi_update_irte; kvm_pi_update_irte; VT-d §5.2.3"},
    {"x86.guest_apic_dest",
     "x86",
     {"logical", "physical"},
     "logical",
     "how the guest addresses MSIs: flat logical (LDR = 1 << vCPU, reset LDR is 0) or physical (xAPIC ID = the "
     "vCPU id, as at reset); decides whether the APIC map at reset resolves a route",
     "kvm_intr_is_single_vcpu reads the current APIC map (reference/x86 §4.5); QEMU \"migration: ensure APIC is "
     "loaded prior to VFIO PCI devices\" (2025)"},
};

}  // namespace

std::span<const PolicySpec> policy_catalog() { return kCatalog; }

const PolicySpec* find_policy(std::string_view key) {
    for (const PolicySpec& spec : kCatalog)
        if (spec.key == key) return &spec;
    return nullptr;
}

const std::string& PolicyValues::get(std::string_view key) const {
    for (const auto& [k, v] : entries_)
        if (k == key) return v;
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

void validate_policy_setting(const PolicySetting& setting) {
    const PolicySpec* spec = find_policy(setting.key);
    if (!spec) {
        std::vector<std::string_view> keys;
        for (const PolicySpec& s : kCatalog) keys.push_back(s.key);
        throw InputError(setting.key_loc,
                         fmt::format("unknown policy '{}' (expected one of: {})", setting.key, fmt::join(keys, ", ")));
    }
    for (std::string_view v : spec->values)
        if (v == setting.value) return;
    throw InputError(setting.value_loc, fmt::format("'{}' is not a value of policy {} (expected one of: {})",
                                                    setting.value, setting.key, fmt::join(spec->values, ", ")));
}

PolicyValues resolve_policy(std::string_view arch, std::span<const PolicySetting> scenario,
                            std::span<const PolicySetting> overrides) {
    PolicyValues result;
    for (const PolicySpec& spec : kCatalog)
        if (spec.arch == arch) result.entries_.emplace_back(std::string(spec.key), std::string(spec.default_value));
    for (std::span<const PolicySetting> layer : {scenario, overrides}) {
        for (const PolicySetting& s : layer) {
            validate_policy_setting(s);
            for (auto& [k, v] : result.entries_)
                if (k == s.key) v = s.value;
        }
    }
    return result;
}

PolicySetting parse_policy_assignment(std::string_view text, const std::string& place) {
    size_t eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size())
        throw InputError(place, fmt::format("'{}': expected KEY=VALUE, e.g. arm.transfer=set_forwarding", text));
    SourceLoc loc{place, 0, 0};
    return PolicySetting{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)), loc, loc};
}

}  // namespace irqdiff
