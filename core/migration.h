// The migration step vocabulary (DESIGN.md "Migration"). Both sides are named steps: the source
// side runs in a fixed order (QEMU's stop sequence); the destination side is a set of restore
// sub-steps with hard dependencies between them (a DAG taken from the kernel's documented restore
// rules) and named orders, `qemu` first. Every backend maps each of its sub-steps onto one neutral
// step, so scenarios can name either. `order: all` means every linear extension of the DAG; they
// are numbered 0..count-1 in lexicographic order of step index, so a sweep can address a slice.
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

/// `before` must run before `after`; `reason` cites the rule.
struct Dependency {
    std::string before;
    std::string after;
    std::string reason;
};

using RestoreOrder = std::vector<uint16_t>;  // indices into restore_steps()

class MigrationPlan {
   public:
    static constexpr size_t kMaxRestoreSteps = 20;  // 20! orders still fit in 64 bits

    /// Throws std::logic_error when the plan is inconsistent (a backend bug): unknown or
    /// duplicate names, a cycle, a named order that is not a linear extension, no `qemu` order.
    MigrationPlan(std::vector<MigrationStep> save, std::vector<MigrationStep> restore, std::vector<Dependency> deps,
                  std::vector<std::pair<std::string, std::vector<std::string>>> orders);

    const std::vector<MigrationStep>& save_steps() const { return save_; }
    const std::vector<MigrationStep>& restore_steps() const { return restore_; }
    const std::vector<Dependency>& dependencies() const { return deps_; }
    const std::vector<std::pair<std::string, RestoreOrder>>& named_orders() const { return orders_; }

    std::optional<size_t> find_restore(std::string_view name) const;
    std::optional<size_t> find_save(std::string_view name) const;
    const RestoreOrder& qemu_order() const { return orders_.front().second; }

    /// The first dependency `order` breaks, or nullptr when it is a linear extension.
    const Dependency* first_violation(std::span<const uint16_t> order) const;

    /// The restore order a scenario asks for (named or explicit). Neutral step names in an
    /// explicit list stand for their sub-steps in QEMU's order. Throws InputError at the spec's
    /// location for unknown names, missing or repeated steps and broken dependencies. `all` is the
    /// explorer's business: it throws InputError here.
    RestoreOrder resolve(const OrderSpec& spec, std::string_view backend) const;

    /// Number of linear extensions of the restore DAG.
    uint64_t count_orders() const { return counts_[0]; }
    /// The `index`-th linear extension (0 <= index < count_orders()).
    RestoreOrder order_at(uint64_t index) const;

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
    std::vector<uint32_t> preds_;  // per restore step: bitmask of steps that must come before it
    std::vector<std::pair<std::string, RestoreOrder>> orders_;
    std::vector<uint64_t> counts_;  // per set of placed steps (bitmask): orders of the rest
};

}  // namespace irqdiff
