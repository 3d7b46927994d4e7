// Save-side hazards (issue 15 §2.4), on the library scenarios of scenarios/save_hazards: a
// migration cancelled after the irqchip save and resumed on the source (QEMU
// migration_iteration_finish -> vm_start), an emulated device that injects after the irqchip save
// (reference U2), and a VMM that saves every vCPU with vCPU 0's redistributor state (Cloud
// Hypervisor #8638).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/runner.h"
#include "registry/builtin_backends.h"

namespace irqdiff {
namespace {

const std::string kSource = IRQDIFF_SOURCE_DIR;

RunResult run(const std::string& file, const std::string& arch, std::vector<PolicySetting> policy = {}) {
    Scenario s = load_scenario(kSource + "/scenarios/save_hazards/" + file, builtin_backends().catalogue());
    RunOptions o;
    o.policy = std::move(policy);
    return run_scenario(s, *builtin_backends().find(arch), o);
}

Outcome outcome(const RunResult& r, const std::string& source) { return r.outcome(source)->outcome; }

bool held_in(const RunResult& r, const std::string& source, const std::string& place) {
    for (const Location& l : r.outcome(source)->held)
        if (l.place && std::string(l.place->name) == place) return true;
    return false;
}

// QEMU migration/migration.c migration_iteration_finish: a cancelled migration of a running VM
// runs vm_start on the source; a vLPI (VPT) or posted interrupt (vIRR) pending at the save is
// delivered once there, and a later complete migration carries what is still pending.
TEST(SaveHazards,
     ACancelledMigrationResumesOnTheSourceAndTheSecondMigrationCarriesWhatIsLeft_migration_iteration_finish) {
    for (const char* arch : {"arm", "x86", "ideal"}) {
        RunResult r = run("cancel_then_second_migration.yaml", arch);
        EXPECT_EQ(outcome(r, "nic.0"), Outcome::DeliveredOnce) << arch;
        EXPECT_EQ(outcome(r, "nic.1"), Outcome::DeliveredOnce) << arch;
        if (std::string(arch) != "ideal") {
            EXPECT_TRUE(r.expectations_met) << arch;
        }
    }
}

// vgic_v3_save_pending_tables (reference A7): the VPT bit is written into the guest pending table
// and the VPT is left as it was: after a cancel the guest takes it once from the VPT and a stale
// copy stays in guest RAM, a place nothing delivers from.
TEST(ArmSaveHazards, AfterSavePendingTablesTheBitIsInTheVptAndStaleInGuestRam_vgic_v3_save_pending_tables) {
    RunResult r = run("cancel_after_save_pending_tables.yaml", "arm");
    EXPECT_EQ(outcome(r, "nic.0"), Outcome::DeliveredOnce);
    EXPECT_TRUE(r.outcome("nic.0")->forwarded.value_or(false));
    EXPECT_TRUE(held_in(r, "nic.0", "arm.guest_pending_table"));
}

// its_sync_lpi_pending_table (vgic_enable_lpis) reads the stale bit into pending_latch of the
// forwarded LPI; kvm_vgic_v4_unset_forwarding (irq->hw = false) makes it injectable: a duplicate.
TEST(ArmSaveHazards,
     AnEnableLpisToggleAfterACancelReadsTheStaleBitAndUnforwardingDeliversItAgain_its_sync_lpi_pending_table) {
    RunResult r = run("cancel_stale_bit_toggle.yaml", "arm");
    EXPECT_EQ(outcome(r, "nic.0"), Outcome::Duplicated);
    EXPECT_EQ(r.outcome("nic.0")->delivered, 2u);
}

// kvm_apic_get_state -> vmx_sync_pir_to_irr moves PIR into vIRR: after a cancel one copy, live.
TEST(X86SaveHazards, GetLapicMovesThePirIntoTheVirrSoACancelLeavesOneCopy_vmx_sync_pir_to_irr) {
    RunResult r = run("cancel_after_get_lapic.yaml", "x86");
    EXPECT_EQ(outcome(r, "nic.0"), Outcome::DeliveredOnce);
    EXPECT_TRUE(r.outcome("nic.0")->held.empty());
}

// Reference U2 (cai-fuqiang/md case/virtio_lose_intr): an emulated device QEMU stops after the
// irqchip save injects into KVM's software state after it was read: lost on both architectures.
TEST(SaveHazards, AnEmulatedDeviceInjectingAfterTheIrqchipSaveIsLost_U2_virtio_lose_intr) {
    for (const char* arch : {"arm", "x86"}) {
        RunResult r = run("emulated_after_irqchip_save.yaml", arch);
        EXPECT_EQ(outcome(r, "blk.0"), Outcome::DeliveredOnce) << arch;
        EXPECT_EQ(outcome(r, "blk.1"), Outcome::Lost) << arch;
        EXPECT_EQ(outcome(r, "ctl.0"), Outcome::DeliveredOnce) << arch;
        EXPECT_TRUE(r.expectations_met) << arch;
    }
}

// Cloud Hypervisor #8638: gicr_typers left zero, every vCPU saved with vCPU 0's GICR_PENDBASER:
// vCPU 1's pending LPIs are lost; with per-vCPU state (QEMU kvm_arm_gicv3_get) both arrive.
TEST(ArmSaveHazards, SavingEveryVcpuWithVcpu0sRedistributorLosesTheOtherVcpusLpis_CloudHypervisor8638) {
    RunResult bad = run("gicr_save_vcpu0.yaml", "arm");
    EXPECT_EQ(outcome(bad, "nic.0"), Outcome::DeliveredOnce);
    EXPECT_EQ(outcome(bad, "nic.1"), Outcome::Lost);
    EXPECT_TRUE(held_in(bad, "nic.1", "arm.guest_pending_table"));
    RunResult good = run("gicr_save_vcpu0.yaml", "arm", {{"arm.vmm_gicr_save", "per_vcpu", {}, {}}});
    EXPECT_EQ(outcome(good, "nic.0"), Outcome::DeliveredOnce);
    EXPECT_EQ(outcome(good, "nic.1"), Outcome::DeliveredOnce);
}

// The switch-over ends the last save step: a migration is cancelled before it; a fire before a
// step the cancelled migration never reaches is an error at its `before`.
TEST(SaveHazards, CancelAfterTheSwitchOverOrAFirePastTheCancelIsAnInputError) {
    const std::string head = R"(name: c
vm: {vcpus: 1}
devices:
  - {name: nic, vectors: 1, passthrough: true}
routes:
  - {source: nic.0, vcpu: 0}
steps:
  - migrate:
)";
    auto rejects = [&](const std::string& body, const std::string& what) {
        try {
            Scenario s = parse_scenario(head + body, builtin_backends().catalogue());  // step names: any backend's
            run_scenario(s, *builtin_backends().find("x86"), {});
            ADD_FAILURE() << "accepted: " << body;
        } catch (const InputError& e) {
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
    };
    rejects("      cancel_after: copy_memory\n", "ends with the switch-over");
    rejects("      cancel_after: save_its_tables\n", "is not a save step of backend x86");  // arm's: the run's check
    rejects("      cancel_after: set_lapic\n", "'set_lapic' is a restore step, not a save step");  // the loader's
    rejects("      cancel_after: stop_devices\n      fire:\n        - {source: nic.0, before: get_lapic}\n",
            "cancelled after 'stop_devices'");
}

}  // namespace
}  // namespace irqdiff
