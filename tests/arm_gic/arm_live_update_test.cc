// Same-host live update on ARM (`migrate: {kind: cpr}`, issue 15 §2.3; docs/design.md "Live
// update"; reference/kernel_history_2021_2026.md A1, A2, U3): where a forwarded vLPI's pending
// state lives while QEMU CPR destroys the KVM VM and creates a new one around a VFIO device that
// never stops, under both detach points, and the eventfd as the medium in between.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "core/trace_points.h"
#include "tests/run_harness.h"
#include "arm_gic/trace_points.h"

namespace irqdiff {

static void PrintTo(Outcome o, std::ostream* os) { *os << to_string(o); }

namespace {

using namespace run_harness;

// arm.cpr_detach=before_save, Steve Sistare's QEMU live-update sequence (2025-07-14): the deassign's
// kvm_vgic_v4_unset_forwarding unmaps the vLPI and reads nothing back from the VPT (A1), so the
// bit pending in vPE 0's redistributor cache is gone before SAVE_PENDING_TABLES runs, and that save
// runs with the device still generating interrupts, outside the kernel's contract (Oliver Upton
// 2025-07-02): the loss is `undefined`.
TEST(ArmLiveUpdate, DeassignBeforeTheSaveDropsTheVptBitOutsideTheContract_A1_Sistare20250714) {
    RunResult r = run_library("arm", "arm_pending_before.yaml");
    EXPECT_EQ(outcome_of(r, 0), Outcome::Undefined);
    EXPECT_TRUE(logged(r, arm::tp::kKvmSavePendingUnquiesced));
    EXPECT_EQ(timeline(r, 0), (std::vector<std::string>{
                                  "fire nic.0 -> arm.rd_cache[vpe0]",
                                  "save:stop_devices -> nowhere",
                              }));
}

// arm.cpr_detach=at_destroy: the irqfds stay until the old VM is destroyed, so SAVE_PENDING_TABLES
// (GICv4.1: f66b7b151e00 reads the VPT with the vPEs unmapped) writes the bit into the guest pending
// table first, and the new VM restores it like a migration would: delivered once.
TEST(ArmLiveUpdate, DetachAtDestroySavesTheVptBitFirst_f66b7b151e00) {
    RunResult r = run_library("arm", "arm_pending_at_destroy.yaml");
    EXPECT_EQ(outcome_of(r, 0), Outcome::DeliveredOnce);
    EXPECT_EQ(timeline(r, 0),
              (std::vector<std::string>{
                  "fire nic.0 -> arm.rd_cache[vpe0]",
                  "save:save_pending_tables -> arm.vpt[vpe0] arm.guest_pending_table[vcpu0] (not live)",
                  // the old VM is destroyed with its VPT; guest RAM is the shared memory the new VM maps
                  "save:copy_memory -> arm.guest_pending_table[vcpu0] (not live)",
                  "restore:restore_its_tables -> arm.pending_latch[vcpu0]",
                  "restore:irq_bypass_connect -> arm.rd_cache[vpe0]",
                  "run all -> nowhere",
              }));
}

// The eventfd as the medium ("vfio-pci: preserve MSI"; kvm_irqfd_assign polls the eventfd): an MSI
// raised after the detach signals the preserved eventfd and is injected once through the new VM's
// irqfd, then set_forwarding moves its pending_latch into the new VPT.
TEST(ArmLiveUpdate, AnMsiWhileDetachedWaitsInTheEventfd_U3) {
    RunResult r = run_library("arm", "eventfd_medium.yaml");
    EXPECT_EQ(outcome_of(r, 0), Outcome::DeliveredOnce);
    EXPECT_EQ(outcome_of(r, 1), Outcome::DeliveredOnce);
    EXPECT_TRUE(logged(r, tp::kVfioEventfdPending));
    EXPECT_EQ(timeline(r, 0), (std::vector<std::string>{
                                  "fire nic.0 -> arm.eventfd[nic]",
                                  // cpr_attach: kvm_irqfd_assign finds the eventfd signalled and injects
                                  "restore:msix_enable -> arm.pending_latch[vcpu0]",
                                  "restore:irq_bypass_connect -> arm.rd_cache[vpe0]",
                                  "run all -> nowhere",
                              }));
    EXPECT_EQ(timeline(r, 1), (std::vector<std::string>{
                                  "fire nic.1 -> arm.eventfd[nic]",
                                  "restore:msix_enable -> arm.pending_latch[vcpu1]",
                                  "restore:irq_bypass_connect -> arm.rd_cache[vpe1]",
                                  "run all -> nowhere",
                              }));
}

}  // namespace
}  // namespace irqdiff
