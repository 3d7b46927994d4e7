// The migration step vocabulary (DESIGN.md "Migration"). Both sides are named steps: the source
// side runs in a fixed order (QEMU's stop sequence); the destination side is a set of restore
// sub-steps with dependencies between them, each with its rule and where the rule comes from, and
// named orders, `qemu` first. Every backend maps each of its sub-steps onto one neutral step, so
// scenarios can name either. Order sets (docs/design.md "Order sets") say which restore orders a
// study counts: `data` (every linear extension of the dependencies the model needs; `order: all`),
// `abi` (those that also keep every rule the kernel documents), and the orders named VMMs produce
// (`qemu`, `qemu-7.2`, `cloud-hypervisor`). A set's orders are numbered 0..count-1 (a DAG set's in
// lexicographic order of step index), so a sweep can address a slice.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/scenario.h"

namespace irqdiff {

enum class Side : uint8_t { Save, Restore };
const char* to_string(Side side);

struct NeutralStep {
    std::string_view name;
    Side side;
    std::string_view doc;
};
/// The architecture-neutral steps, in QEMU's order per side.
std::span<const NeutralStep> neutral_steps();
const NeutralStep* find_neutral_step(std::string_view name);

struct MigrationStep {
    std::string name;
    Side side = Side::Restore;
    std::string neutral;  // the neutral step this sub-step belongs to
    std::string doc;      // what it does, and the kernel / QEMU function it mirrors
};

/// Where a dependency comes from, which says which order sets keep it.
enum class Rule : uint8_t {
    Data,     // the modelled steps cannot run the other way round: every set keeps it
    DataAbi,  // that, and the kernel's documentation states it too
    Abi,      // only the kernel's documentation states it: `abi` keeps it, the `data` stress set does not
};
const char* to_string(Rule rule);

/// `before` must run before `after`; `reason` cites the rule and its source.
struct Dependency {
    std::string before;
    std::string after;
    std::string reason;
    Rule rule = Rule::Data;
};

using RestoreOrder = std::vector<uint16_t>;  // indices into restore_steps()

/// The order sets every scenario and option may name, in the order `--order-set each` runs them.
inline constexpr std::string_view kOrderSetNames[] = {"data", "abi", "qemu", "qemu-7.2", "cloud-hypervisor"};
inline constexpr std::string_view kDataOrderSet = "data";
inline bool is_order_set_name(std::string_view name) {
    for (std::string_view n : kOrderSetNames)
        if (n == name) return true;
    return false;
}

/// A backend's definition of a VMM's order set: the named orders that VMM produces.
struct VmmOrderSet {
    std::string name;                 // one of kOrderSetNames
    std::string doc;                  // the VMM, its version, and the code the orders follow
    std::vector<std::string> orders;  // named orders of the plan
};

/// A set of restore orders: the linear extensions of some of the plan's dependencies (`data`,
/// `abi`), or the orders a VMM produces, listed.
class OrderSet {
   public:
    const std::string& name() const { return name_; }
    const std::string& doc() const { return doc_; }
    bool listed() const { return !listed_.empty(); }
    uint64_t count() const { return listed() ? listed_.size() : counts_[0]; }
    /// The `index`-th order of the set (0 <= index < count()).
    RestoreOrder at(uint64_t index) const;
    /// Why `order` is not in the set, naming the rule it breaks (or the VMM's orders); empty when it is.
    std::string why_not(std::span<const uint16_t> order) const;
    /// The dependencies the set keeps (a DAG set's).
    const std::vector<Dependency>& rules() const { return rules_; }

   private:
    friend class MigrationPlan;
    std::string name_, doc_;
    std::vector<std::string> steps_;  // the plan's restore step names
    std::vector<Dependency> rules_;
    std::vector<uint32_t> preds_;   // per restore step: bitmask of steps that must come before it
    std::vector<uint64_t> counts_;  // per set of placed steps (bitmask): orders of the rest
    std::vector<RestoreOrder> listed_;
    std::vector<std::string> listed_names_;
};

class MigrationPlan {
   public:
    static constexpr size_t kMaxRestoreSteps = 20;  // 20! orders still fit in 64 bits

    /// Throws std::logic_error when the plan is inconsistent (a backend bug): unknown or
    /// duplicate names, a cycle, a named order that is not a linear extension of the `data`
    /// dependencies, no `qemu` order, a VMM set that is not one of kOrderSetNames or names an
    /// unknown order.
    MigrationPlan(std::vector<MigrationStep> save, std::vector<MigrationStep> restore, std::vector<Dependency> deps,
                  std::vector<std::pair<std::string, std::vector<std::string>>> orders,
                  std::vector<VmmOrderSet> vmm_sets = {});

    const std::vector<MigrationStep>& save_steps() const { return save_; }
    const std::vector<MigrationStep>& restore_steps() const { return restore_; }
    const std::vector<Dependency>& dependencies() const { return deps_; }
    const std::vector<std::pair<std::string, RestoreOrder>>& named_orders() const { return orders_; }

    std::optional<size_t> find_restore(std::string_view name) const;
    std::optional<size_t> find_save(std::string_view name) const;
    const RestoreOrder& qemu_order() const { return orders_.front().second; }

    /// The first `data` dependency `order` breaks, or nullptr when the model can run it.
    const Dependency* first_violation(std::span<const uint16_t> order) const;

    /// The order sets this backend defines: `data` and `abi` always, then its VMMs' sets.
    const std::vector<OrderSet>& order_sets() const { return sets_; }
    const OrderSet* find_order_set(std::string_view name) const;
    /// The set `name`; InputError at `loc` when this backend has no such set.
    const OrderSet& order_set(std::string_view name, const SourceLoc& loc, std::string_view backend) const;
    const OrderSet& data_set() const { return sets_.front(); }
    /// The named order equal to `order`, or nullptr.
    const std::string* order_name(std::span<const uint16_t> order) const;

    /// The restore order a scenario asks for (named or explicit). Neutral step names in an
    /// explicit list stand for their sub-steps in QEMU's order. Throws InputError at the spec's
    /// location for unknown names, missing or repeated steps and broken dependencies. `all` is the
    /// explorer's business: it throws InputError here.
    RestoreOrder resolve(const OrderSpec& spec, std::string_view backend) const;

    /// Number of orders of the `data` set (linear extensions of the data dependencies).
    uint64_t count_orders() const { return data_set().count(); }
    /// The `index`-th order of the `data` set (0 <= index < count_orders()).
    RestoreOrder order_at(uint64_t index) const { return data_set().at(index); }

    /// Names of the steps of one migration: the save steps, then the restore steps in `order`.
    std::vector<std::string> schedule_names(const RestoreOrder& order) const;
    /// Position in schedule_names(order) of the step a `before:` names: a save or restore step,
    /// or a neutral step (its first sub-step in that schedule). nullopt when the name is unknown.
    std::optional<size_t> position_of(std::string_view name, const RestoreOrder& order) const;
    /// Every name `before:` accepts, for messages: the steps, then the neutral steps some step maps onto.
    std::vector<std::string> point_names() const;

   private:
    std::vector<MigrationStep> save_;
    std::vector<MigrationStep> restore_;
    std::vector<Dependency> deps_;
    std::vector<std::pair<std::string, RestoreOrder>> orders_;
    std::vector<OrderSet> sets_;

    OrderSet dag_set(std::string name, std::string doc, bool abi) const;
};

}  // namespace irqdiff
