// Typed policies (core/policy.h): a Policy<E> descriptor, its type-erased PolicySpec, and the
// registry's catalogue collected from each backend's list.
#include "core/policy.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "core/backend.h"
#include "registry/builtin_backends.h"

namespace irqdiff {
namespace {

enum class Colour { Red, Green };

const Policy<Colour> kColour{"t.colour",  "t",        {{"red", Colour::Red}, {"green", Colour::Green}},
                             Colour::Red, "a colour", "nowhere"};

PolicySetting setting(const std::string& key, const std::string& value) {
    return PolicySetting{key, value, {"--policy", 0, 0}, {"--policy", 0, 0}};
}

// The view lists the value names in order with the default's name; read() maps names to values.
TEST(Policy, SpecListsTheValuesAndReadMapsThem) {
    EXPECT_EQ(kColour.spec().values, (std::vector<std::string_view>{"red", "green"}));
    EXPECT_EQ(kColour.spec().default_value, "red");
    std::vector<PolicySpec> specs{kColour.spec()};
    EXPECT_EQ(kColour.read(resolve_policy(specs, {}, {})), Colour::Red);
    EXPECT_EQ(kColour.read(resolve_policy(specs, {}, std::vector{setting("t.colour", "green")})), Colour::Green);
    EXPECT_TRUE(resolve_policy(specs, {}, {}).is_default("t.colour"));
    EXPECT_FALSE(resolve_policy(specs, {}, std::vector{setting("t.colour", "green")}).is_default("t.colour"));
}

// STYLE.md "three kinds of error": a value no descriptor knows is an emulator bug (logic_error), a
// value outside the catalogue is user input (InputError).
TEST(Policy, UnknownValuesAreLogicErrorsAndBadInputIsAnInputError) {
    PolicySpec wider = kColour.spec();
    wider.values.push_back("blue");
    std::vector<PolicySpec> specs{wider};
    EXPECT_THROW(kColour.read(resolve_policy(specs, {}, std::vector{setting("t.colour", "blue")})), std::logic_error);
    std::vector<PolicySpec> narrow{kColour.spec()};
    EXPECT_THROW(resolve_policy(narrow, {}, std::vector{setting("t.colour", "blue")}), InputError);
    EXPECT_THROW((Policy<Colour>{"t.x", "t", {{"red", Colour::Red}}, Colour::Green, "", ""}), std::logic_error);
    EXPECT_THROW((Policy<Colour>{"t.x", "t", {{"red", Colour::Red}, {"red", Colour::Green}}, Colour::Red, "", ""}),
                 std::logic_error);
}

// resolve_policy keeps one backend's keys; another backend's settings are left out.
TEST(Policy, ResolveLeavesOtherBackendsKeysOut) {
    std::vector<PolicySpec> specs{kColour.spec()};
    PolicyValues v = resolve_policy(specs, std::vector{setting("x86.posting", "off")}, {});
    EXPECT_EQ(v.to_string(), "t.colour=red");
}

// The registry's catalogue is every backend's list in registration order; a key twice is a bug.
TEST(PolicyCatalogue, IsTheBackendsListsInOrderWithoutDuplicates) {
    std::vector<std::string_view> keys;
    for (const PolicySpec& p : builtin_backends().policies()) keys.push_back(p.key);
    EXPECT_EQ(keys, (std::vector<std::string_view>{"arm.transfer", "arm.gic", "arm.its_command_error",
                                                   "arm.its_table_fault", "arm.vpt_writeback", "arm.vfio_vector_enable",
                                                   "arm.list_registers", "arm.vpendbaser_dirty_reads", "arm.save",
                                                   "arm.its_save_error", "arm.vmm_gicr_save", "arm.irqfd_deassign",
                                                   "arm.vmm_its_regs", "arm.vsgi_ispendr", "arm.guest_nassgireq", "arm.cpr_detach",
                                                   "x86.set_lapic_clears_pir", "x86.posting", "x86.ipiv",
                                                   "x86.guest_apic_dest", "x86.sn_on_put", "x86.irqfd_deassign",
                                                   "x86.vfio_vector_enable", "x86.cpr_detach", "x86.vcpu_events_nmi"}));
    Registry r;
    BackendInfo a{"a", "", true, nullptr, nullptr, {}, {kColour.spec()}};
    BackendInfo b{"b", "", true, nullptr, nullptr, {}, {kColour.spec()}};
    r.add(a);
    EXPECT_THROW(r.add(b), std::logic_error);
    EXPECT_EQ(r.find("a")->catalog->size(), 1u);
}

}  // namespace
}  // namespace irqdiff
