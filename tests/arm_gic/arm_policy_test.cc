// The arm backend's policies (arm_gic/policies.cc): the catalogue order, the transfer-point table
// (kvm/transfer.cc), the GIC's descriptors (hw/config.cc), and what each promoted choice changes.
#include <gtest/gtest.h>

#include <stdexcept>

#include "arm_gic/policies.h"
#include "tests/arm_gic/kvm_harness.h"

namespace irqdiff::arm::testing {
namespace {

using kvm::TransferHook;
using kvm::TransferPoint;

const std::string kSix =
    "vm: {vcpus: 1}\n"
    "devices: [{name: emu, vectors: 6}]\n"
    "routes: [{source: emu.0, vcpu: 0}, {source: emu.1, vcpu: 0}, {source: emu.2, vcpu: 0},\n"
    "         {source: emu.3, vcpu: 0}, {source: emu.4, vcpu: 0}, {source: emu.5, vcpu: 0}]\n";

PolicySetting setting(const std::string& key, const std::string& value) {
    return PolicySetting{key, value, {"--policy", 0, 0}, {"--policy", 0, 0}};
}

GicConfig config_with(const std::string& key, const std::string& value) {
    return GicConfig::from_policy(resolve_policy(arm_policies(), {}, std::vector{setting(key, value)}));
}

// The catalogue order is the product's (JSON lists policies in it): new keys after the old ones.
TEST(ArmPolicies, KeepTheCatalogueOrder) {
    std::vector<std::string_view> keys;
    for (const PolicySpec& p : arm_policies()) keys.push_back(p.key);
    EXPECT_EQ(keys, (std::vector<std::string_view>{"arm.transfer", "arm.gic", "arm.its_command_error",
                                                   "arm.its_table_fault", "arm.vpt_writeback", "arm.vfio_vector_enable",
                                                   "arm.list_registers", "arm.vpendbaser_dirty_reads",
                                                   "arm.save", "arm.its_save_error", "arm.vmm_gicr_save",
                                                   "arm.irqfd_deassign", "arm.vmm_its_regs", "arm.vsgi_ispendr",
                                                   "arm.guest_nassgireq", "arm.cpr_detach"}));
    for (const PolicySpec& p : arm_policies()) EXPECT_EQ(p.arch, "arm") << p.key;
}

// A policy's default is today's behaviour: the defaults select GicConfig's own defaults.
TEST(ArmPolicies, DefaultsSelectTheDefaultGicConfig) {
    const GicConfig d;
    const GicConfig c = GicConfig::from_policy(resolve_policy(arm_policies(), {}, {}));
    EXPECT_EQ(c.version, d.version);
    EXPECT_EQ(c.command_error, d.command_error);
    EXPECT_EQ(c.table_fault, d.table_fault);
    EXPECT_EQ(c.vpt_writeback, d.vpt_writeback);
    EXPECT_EQ(c.list_registers, d.list_registers);
    EXPECT_EQ(c.dirty_reads, d.dirty_reads);
    EXPECT_EQ(kvm::transfer_point(resolve_policy(arm_policies(), {}, {})), TransferPoint::SetForwarding);
}

// A value the descriptor does not know is an emulator bug, not a fallback to the default.
TEST(ArmPolicies, AnUnknownValueIsALogicErrorNotAFallback) {
    PolicySpec wider = kvm::kTransferPolicy.spec();
    wider.values.push_back("somewhere_else");
    const PolicyValues v =
        resolve_policy(std::vector{wider}, {}, std::vector{setting("arm.transfer", "somewhere_else")});
    EXPECT_THROW(kvm::transfer_point(v), std::logic_error);
}

// The transfer-point table: `none` transfers nowhere, every other value at exactly one hook, and no
// two values at the same hook (DESIGN.md "Transfer-point policies").
TEST(ArmTransferTable, EachValueTransfersAtOneHookAndNoneAtNone) {
    const TransferHook hooks[] = {TransferHook::ItsRestoreTables, TransferHook::EnableLpis, TransferHook::SetForwarding,
                                  TransferHook::VmStart};
    const std::pair<TransferPoint, std::optional<TransferHook>> expected[] = {
        {TransferPoint::None, std::nullopt},
        {TransferPoint::ItsRestore, TransferHook::ItsRestoreTables},
        {TransferPoint::EnableLpis, TransferHook::EnableLpis},
        {TransferPoint::SetForwarding, TransferHook::SetForwarding},
        {TransferPoint::VmStart, TransferHook::VmStart},
    };
    for (const auto& [point, hook] : expected)
        for (TransferHook h : hooks) EXPECT_EQ(kvm::transfers_at(point, h), hook == h) << to_string(point);
    std::vector<std::string_view> values;
    for (const auto& [point, hook] : expected) values.push_back(to_string(point));
    EXPECT_EQ(kvm::kTransferPolicy.spec().values, values);
    EXPECT_EQ(std::string(kvm::transfer_site(TransferHook::SetForwarding)), "set_forwarding");
}

// IHI 0069 ICH_VTR_EL2.ListRegs: the number of list registers is IMPLEMENTATION DEFINED (1 to 16);
// vgic_flush_lr_state fills at most that many and leaves the rest on the ap_list.
TEST(ArmListRegistersPolicy, SixteenListRegistersHoldWhatFourOverflow) {
    for (const std::string value : {"4", "16"}) {
        const GicConfig c = config_with("arm.list_registers", value);
        ASSERT_EQ(c.list_registers, value == "4" ? 4u : 16u);
        KvmHarness t(kSix, {.list_registers = c.list_registers});
        t.boot_guest();
        t.load_all();
        for (uint32_t e = 0; e < 5; ++e) ASSERT_EQ(t.kvm().trigger_msi(kDev0, e), kvm::kOk);
        t.kvm().vcpu_enter(0);
        EXPECT_EQ(t.h.gic.cpu(0).list_registers(), c.list_registers);
        EXPECT_EQ(t.count(tp::kKvmLrOverflow), value == "4" ? 1u : 0u) << value << "\n" << t.text();
        EXPECT_EQ(t.lpi(kLpi0 + 4)->pending_latch, value == "4") << value;
        t.kvm().vcpu_exit(0);
        EXPECT_EQ(t.run(0), 5u) << value;
    }
}

// IHI 0069 GICR_VPENDBASER.Dirty: after a schedule the redistributor parses the VPT for an
// IMPLEMENTATION DEFINED time; until Dirty reads 0 the vPE's pending state is not usable
// (reference/arm §1.3). With 0 reads the vPE is ready at once.
TEST(ArmVpendbaserDirtyPolicy, DirtyReadsDecideWhenAScheduledVpeIsReady) {
    for (const std::string value : {"1", "0", "3"}) {
        const GicConfig c = config_with("arm.vpendbaser_dirty_reads", value);
        ASSERT_EQ(c.dirty_reads, static_cast<unsigned>(std::stoi(value)));
        KvmHarness t(kNic, {.dirty_reads = c.dirty_reads});
        t.boot();
        EXPECT_EQ(t.h.gic.rd(0).ready_vpe() != nullptr, value == "0") << value;
        t.kvm().vcpu_enter(0);
        EXPECT_NE(t.h.gic.rd(0).ready_vpe(), nullptr) << value;
    }
}

}  // namespace
}  // namespace irqdiff::arm::testing
