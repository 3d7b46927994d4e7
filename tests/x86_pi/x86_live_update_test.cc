// Same-host live update on x86 (`migrate: {kind: cpr}`, issue 15 §2.3; docs/design.md "Live
// update"; reference/kernel_history_2021_2026.md A1, A2, U3): where a posted interrupt's pending
// state lives while QEMU CPR destroys the KVM VM and creates a new one around a VFIO device that
// never stops, under both detach points, and the eventfd as the medium in between.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "core/trace_points.h"
#include "arm_gic/trace_points.h"
#include "tests/run_harness.h"

namespace irqdiff {

static void PrintTo(Outcome o, std::ostream* os) { *os << to_string(o); }

namespace {

using namespace run_harness;

// x86.cpr_detach=before_save: the deassign turns the IRTE back to remapped format and leaves the
// vCPU's interrupt state as it is (vmx_pi_update_irte only rewrites the IRTE; the masked vCPU had
// already synced the PIR into its vIRR); KVM_GET_LAPIC reads it into the image and KVM_SET_LAPIC on
// the new VM restores it: delivered once, where ARM's unset_forwarding drops the VPT bit. x86 logs
// no unquiesced save: a posted IRTE is updated atomically (intel_irq_remapping modify_irte).
TEST(X86LiveUpdate, APendingInterruptSurvivesTheDeassignInTheLapicImage_Sistare20250714) {
    RunResult r = run_library("x86", "x86_pending_before.yaml");
    EXPECT_EQ(outcome_of(r, 0), Outcome::DeliveredOnce);
    EXPECT_FALSE(logged(r, arm::tp::kKvmSavePendingUnquiesced));
    EXPECT_EQ(timeline(r, 0), (std::vector<std::string>{
                                  "fire nic.0 -> x86.virr[vcpu0]",
                                  "save:get_lapic -> x86.virr[vcpu0] x86.saved_lapic[vcpu0] (not live)",
                                  "save:copy_memory -> x86.saved_lapic[vcpu0] (not live)",
                                  "restore:set_lapic -> x86.virr[vcpu0]",
                                  "run all -> nowhere",
                              }));
}

// x86.cpr_detach=at_destroy: an MSI after KVM_GET_LAPIC is posted into the old vCPU's PIR, which
// nothing reads before the old VM is destroyed: a plain loss (the last GET_LAPIC must follow the
// detach; reference kernel_history X1/U4).
TEST(X86LiveUpdate, APostAfterTheLastGetLapicIsLostWithTheOldVm_X1) {
    RunResult r = run_library("x86", "x86_window_after_save.yaml");
    EXPECT_EQ(outcome_of(r, 0), Outcome::Lost);
    EXPECT_EQ(timeline(r, 0), (std::vector<std::string>{
                                  "fire nic.0 -> x86.pir[vcpu0]",
                                  // the old VM and its posted-interrupt descriptors are destroyed
                                  "save:copy_memory -> nowhere",
                              }));
}

// The eventfd as the medium, as on ARM: injected once through the new VM's irqfd (kvm_set_msi).
TEST(X86LiveUpdate, AnMsiWhileDetachedWaitsInTheEventfd_U3) {
    RunResult r = run_library("x86", "eventfd_medium.yaml");
    EXPECT_EQ(outcome_of(r, 0), Outcome::DeliveredOnce);
    EXPECT_EQ(outcome_of(r, 1), Outcome::DeliveredOnce);
    EXPECT_TRUE(logged(r, tp::kVfioEventfdPending));
    EXPECT_EQ(timeline(r, 0), (std::vector<std::string>{
                                  "fire nic.0 -> x86.eventfd[nic]",
                                  // cpr_attach: kvm_irqfd_assign finds the eventfd signalled; kvm_set_msi posts
                                  "restore:msix_enable -> x86.pir[vcpu0]",
                                  "restore:start_vcpus -> x86.virr[vcpu0]",
                                  "run all -> nowhere",
                              }));
    EXPECT_EQ(timeline(r, 1), (std::vector<std::string>{
                                  "fire nic.1 -> x86.eventfd[nic]",
                                  "restore:msix_enable -> x86.pir[vcpu1]",
                                  "restore:start_vcpus -> x86.virr[vcpu1]",
                                  "run all -> nowhere",
                              }));
}

}  // namespace
}  // namespace irqdiff
