// MSI routes, irqfds, the software interrupt path and irq bypass (x86_pi/kvm/irq.cc, with the
// host's IOMMU driver, x86_pi/host/irq_remapping.cc): kvm_pi_update_irte / vmx_pi_update_irte and the IRTE it
// leaves in host memory, retargeting by the guest, disconnecting the bypass, kvm_set_msi, and bad
// guest-programmed MSIs [reference/x86_posted_interrupts_kvm_migration.md §1.2, §4.1, §4.5, §6,
// §8 invariant 10].
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/x86_pi/x86_harness.h"

namespace irqdiff::x86 {
namespace {

using kvm::HostLayout;
using kvm::KvmConfig;
using kvm::MsiMessage;
using kvm::VcpuRun;
using testing::arg;
using testing::logical_msi;
using testing::Machine;
using testing::physical_msi;
using testing::Taken;

constexpr uint8_t kVec = 0x41;

PostedIrte posted_irte(Machine& m, size_t d, uint32_t vector) {
    IrteWords w = m.irte(d, vector);
    EXPECT_TRUE(is_posted(w.low)) << "IRTE of device " << d << " vector " << vector << " is not posted";
    return PostedIrte::decode(w.low, w.high);
}

/// The IRTE is the host-mode (remapped) entry the driver made for the host IRQ.
bool in_host_mode(Machine& m, size_t d, uint32_t vector) {
    IrteWords w = m.irte(d, vector);
    return !is_posted(w.low) && RemappedIrte::decode(w.low, w.high) == m.iommu().irq(m.host_irq(d, vector)).remapped;
}

const kvm::Irqfd& irqfd(Machine& m, size_t d, uint32_t vector) { return m.state().irqfds.at(m.gsi(d, vector)); }
uint32_t irte_index(Machine& m, size_t d, uint32_t vector) { return m.iommu().irq(m.host_irq(d, vector)).index; }
bool iec_holds(Machine& m, uint32_t index) { return m.h.hw.iommu().iec_holds(index); }

/// Every interrupt vCPU `v` takes now, with the path KVM says it came by.
std::vector<Taken> take_all_paths(Machine& m, uint32_t v) {
    std::vector<Taken> out;
    for (unsigned guard = 0; guard < 16; ++guard) {
        std::optional<Taken> t = m.take(v);
        if (!t) return out;
        out.push_back(*t);
    }
    ADD_FAILURE() << "vCPU " << v << " keeps taking interrupts";
    return out;
}

MsiMessage outside_fee(uint32_t dest, uint8_t vector) {
    MsiMessage msg = physical_msi(dest, vector);
    msg.address = (msg.address & ~kvm::MsiAddress::Fee.kMask) | kvm::MsiAddress::Fee.make(0xFED);
    return msg;
}

// ---- kvm_pi_update_irte: when an IRTE is posted ------------------------------------------------------

// kvm_pi_update_irte -> vmx_pi_update_irte -> intel_ir_set_vcpu_affinity [reference §1.2, §4.5]:
// a fixed MSI whose physical destination is one vCPU is posted: IM=1, VV = the guest vector,
// PDA = that vCPU's PID (PDAL = PDA[31:6], PDAH = PDA[63:32]), URG = 0 (KVM never sets it), and
// P/FPD/SID/SQ/SVT copied from the host-mode entry (dmar_copy_shared_irte), so each device's entry
// keeps its own requester ID.
TEST(PiUpdateIrte, SingleDestinationIsPostedToThatVcpusPid) {
    Machine m(2);
    m.start_all();
    size_t from = m.mark();
    size_t d0 = m.plug({physical_msi(1, kVec)});
    size_t d1 = m.plug({physical_msi(0, 0x51)});

    IrteWords w = m.irte(d0, 0);
    PostedIrte p = posted_irte(m, d0, 0);
    const host::HostIrq& host = m.iommu().irq(m.host_irq(d0, 0));
    EXPECT_TRUE(p.present);
    EXPECT_EQ(p.vv, kVec);
    EXPECT_EQ(p.pda, HostLayout::pid(1));
    EXPECT_EQ(PostedIrte::Low::PDAL.get(w.low), (HostLayout::pid(1) >> 6) & PostedIrte::Low::PDAL.kValueMask);
    EXPECT_EQ(PostedIrte::High::PDAH.get(w.high), HostLayout::pid(1) >> 32);
    EXPECT_FALSE(p.urg);
    EXPECT_EQ(p.fpd, host.remapped.fpd);
    EXPECT_EQ(p.sid, 0x100);
    EXPECT_EQ(p.sq, host.remapped.sq);
    EXPECT_EQ(p.svt, host.remapped.svt);
    EXPECT_TRUE(host.posted);
    EXPECT_EQ(irqfd(m, d0, 0).posted_vcpu, 1);

    PostedIrte p1 = posted_irte(m, d1, 0);
    EXPECT_EQ(p1.pda, HostLayout::pid(0));
    EXPECT_EQ(p1.vv, 0x51);
    EXPECT_EQ(p1.sid, 0x108);
    EXPECT_EQ(irqfd(m, d1, 0).posted_vcpu, 0);

    EXPECT_EQ(
        m.find(tp::kKvmPiUpdateIrte, {arg("posted", true), arg("vcpu", 1), arg("why", "single vCPU")}, from).size(),
        1u);
    EXPECT_EQ(m.find(tp::kHostIrtePosted, {arg("vv", Hex{kVec}), arg("pda", Hex{HostLayout::pid(1)})}, from).size(),
              1u);
}

// kvm_intr_is_single_vcpu via the APIC map [reference §4.5]: a flat logical destination naming one
// vCPU is posted to it, and the device's MSI then arrives as a posted (Direct) interrupt.
TEST(PiUpdateIrte, FlatLogicalSingleBitIsPosted) {
    Machine m(2);
    m.start_all();
    size_t d = m.plug({logical_msi(0x02, kVec)});
    EXPECT_EQ(posted_irte(m, d, 0).pda, HostLayout::pid(1));
    m.fire(d, 0);
    std::vector<Taken> taken = take_all_paths(m, 1);
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].vector, kVec);
    EXPECT_EQ(taken[0].path, DeliveryPath::Direct);
    EXPECT_TRUE(m.take_all(0).empty());
}

// kvm_irq_is_postable + kvm_intr_is_single_vcpu [reference §4.5]: lowest priority is postable when
// only one vCPU can take it.
TEST(PiUpdateIrte, LowestPriorityWithOneCandidateIsPosted) {
    Machine m(3);
    m.start_all();
    size_t d = m.plug({logical_msi(0x04, kVec, /*delivery_mode=*/1)});
    EXPECT_EQ(posted_irte(m, d, 0).pda, HostLayout::pid(2));
    EXPECT_EQ(irqfd(m, d, 0).posted_vcpu, 2);
}

// ---- kvm_pi_update_irte: when it falls back to remapped mode ---------------------------------------------

// An NMI-mode MSI (vfio_irq_test -n, kernel_history X2) is not postable (kvm_irq_is_postable: fixed
// and lowest priority only), so the IRTE stays remapped; kvm_set_msi reaches the destination's LAPIC
// and __apic_accept_irq(APIC_DM_NMI) calls kvm_inject_nmi: counted in nmi_queued with KVM_REQ_NMI,
// nothing in the vIRR or the PIR.
TEST(PiUpdateIrte, AnNmiMsiStaysRemappedAndKvmInjectNmiQueuesIt_kvm_inject_nmi) {
    Machine m(3);
    m.start_all();
    size_t d = m.plug({physical_msi(1, kVec, 4)});
    EXPECT_TRUE(in_host_mode(m, d, 0));
    size_t from = m.mark();
    m.fire(d, 0);
    EXPECT_EQ(m.find(tp::kKvmSetMsi, {arg("via", "irqfd"), arg("targets", 1)}, from).size(), 1u);
    EXPECT_EQ(m.count(tp::kKvmSetMsiError, from), 0u);
    EXPECT_EQ(m.find(tp::kKvmInjectNmi, {arg("vcpu", 1), arg("queued", 1)}, from).size(), 1u);
    EXPECT_EQ(m.count(tp::kIommuPost, from), 0u);
    // vCPU 1 was in the guest: the kick's exit and re-entry ran process_nmi and injected it.
    EXPECT_EQ(m.find(tp::kKvmProcessNmi, {arg("vcpu", 1), arg("pending", 1), arg("coalesced", 0)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kKvmVmxInjectNmi, {arg("vcpu", 1)}, from).size(), 1u);
    EXPECT_TRUE(m.state().vcpus.at(1).nmi_queued.empty());
    EXPECT_EQ(m.h.hw.cpu(1).vmcs().entry_nmi, std::optional<uint8_t>(kVec));
}

struct FallbackCase {
    const char* name;
    MsiMessage msi;
    const char* why;  // the model's reason in KVM.pi_update_irte
    size_t targets;   // vCPUs kvm_set_msi then delivers to
};

class PiUpdateIrteFallback : public ::testing::TestWithParam<FallbackCase> {};

// kvm_pi_update_irte [reference §4.5, §6 "IRTE not posted"]: over three vCPUs (xAPIC IDs 0..2,
// flat LDRs 1, 2, 4), a multi-destination or broadcast MSI, a destination no APIC has, a delivery
// mode that is not fixed/lowest priority (SMI 2, NMI 4, ExtINT 7), or an address outside
// 0xFEExxxxx keeps the host-mode IRTE. The MSI then goes host vector -> VFIO -> irqfd ->
// kvm_set_msi, which reaches the vCPUs the model's destination match names (none for the
// delivery modes it does not model: a guest error) — each takes it once, by the software path.
TEST_P(PiUpdateIrteFallback, KeepsTheHostModeEntryAndKvmSetMsiDelivers) {
    const FallbackCase& c = GetParam();
    Machine m(3);
    m.start_all();
    size_t from = m.mark();
    size_t d = m.plug({c.msi});
    EXPECT_EQ(m.find(tp::kKvmPiUpdateIrte, {arg("posted", false), arg("vcpu", -1), arg("why", c.why)}, from).size(),
              1u);
    EXPECT_TRUE(in_host_mode(m, d, 0));
    EXPECT_FALSE(m.iommu().irq(m.host_irq(d, 0)).posted);
    EXPECT_EQ(irqfd(m, d, 0).posted_vcpu, -1);
    EXPECT_EQ(m.count(tp::kHostIrtePosted, from), 0u);

    from = m.mark();
    m.fire(d, 0);
    EXPECT_EQ(m.count(tp::kIommuPost, from), 0u);
    EXPECT_EQ(m.find(tp::kIommuRemap, {arg("index", irte_index(m, d, 0))}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kKvmSetMsi, {arg("via", "irqfd"), arg("targets", c.targets)}, from).size(), 1u);
    EXPECT_EQ(m.count(tp::kKvmSetMsiError, from), c.targets == 0 ? 1u : 0u);
    size_t taken = 0;
    for (uint32_t v = 0; v < 3; ++v)
        for (const Taken& t : take_all_paths(m, v)) {
            EXPECT_EQ(t.vector, kVec);
            EXPECT_EQ(t.path, DeliveryPath::Software);
            ++taken;
        }
    EXPECT_EQ(taken, c.targets);
}

constexpr const char* kNotOneVcpu = "destination is not one vCPU in the APIC map";
constexpr const char* kNotPostable = "delivery mode not postable";

INSTANTIATE_TEST_SUITE_P(
    NotPostable, PiUpdateIrteFallback,
    ::testing::Values(FallbackCase{"LogicalTwoDestinations", logical_msi(0x03, kVec), kNotOneVcpu, 2},
                      FallbackCase{"PhysicalUnknownId", physical_msi(7, kVec), kNotOneVcpu, 0},
                      FallbackCase{"PhysicalBroadcast", physical_msi(0xFF, kVec), kNotOneVcpu, 3},
                      FallbackCase{"LowestPriorityTwoCandidates", logical_msi(0x03, kVec, 1), kNotOneVcpu, 1},
                      FallbackCase{"SmiDelivery", physical_msi(1, kVec, 2), kNotPostable, 0},
                      FallbackCase{"ExtIntDelivery", physical_msi(1, kVec, 7), kNotPostable, 0},
                      FallbackCase{"AddressOutsideFee", outside_fee(1, kVec), kNotOneVcpu, 0}),
    [](const ::testing::TestParamInfo<FallbackCase>& info) { return std::string(info.param.name); });

// modify_irte [reference §1.2]: after rewriting an entry the driver invalidates the interrupt
// entry cache for it (qi_flush_iec); otherwise the IOMMU would keep using the cached remapped
// entry and the next MSI would not be posted.
TEST(PiUpdateIrte, InvalidatesTheCachedEntryAfterTheUpdate) {
    Machine m(2);
    m.start_all();
    size_t d = m.plug({physical_msi(7, kVec)});  // no APIC ID 7: remapped
    const uint32_t index = irte_index(m, d, 0);
    m.fire(d, 0);  // the IOMMU caches the remapped entry
    ASSERT_TRUE(iec_holds(m, index));

    size_t from = m.mark();
    m.program(d, 0, physical_msi(1, kVec));
    EXPECT_EQ(posted_irte(m, d, 0).pda, HostLayout::pid(1));
    EXPECT_FALSE(iec_holds(m, index));
    m.fire(d, 0);
    EXPECT_EQ(m.find(tp::kIommuPost, {arg("index", index)}, from).size(), 1u);
    EXPECT_EQ(m.count(tp::kIommuRemap, from), 0u);
    std::vector<Taken> taken = take_all_paths(m, 1);
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].path, DeliveryPath::Direct);
}

// kvm_pi_update_irte (recent) [reference §4.5]: an entry that was not posted and still is not is
// left alone — no rewrite, so no IEC invalidation either.
TEST(PiUpdateIrte, NeverPostedEntryIsLeftAlone) {
    Machine m(2);
    m.start_all();
    size_t d = m.plug({physical_msi(7, kVec)});
    const uint32_t index = irte_index(m, d, 0);
    m.fire(d, 0);
    ASSERT_TRUE(iec_holds(m, index));
    size_t from = m.mark();
    m.program(d, 0, physical_msi(9, kVec));
    EXPECT_EQ(m.find(tp::kKvmPiUpdateIrte, {arg("posted", false)}, from).size(), 1u);
    EXPECT_EQ(m.count(tp::kHostIrteRemapped, from), 0u);
    EXPECT_EQ(m.count(tp::kHostIrtePosted, from), 0u);
    EXPECT_TRUE(iec_holds(m, index));
    EXPECT_TRUE(in_host_mode(m, d, 0));
}

// The posting decision reads the APIC map when the route is bound, and is re-evaluated only on
// the bypass and routing triggers, not when the guest later changes an APIC ID [reference §4.5
// "not re-evaluated when APIC IDs/LDR change later", §7 item 8]: the interrupt still arrives (by
// kvm_set_msi, which matches destinations at delivery), and the next MSI change posts it.
TEST(PiUpdateIrte, IsNotReevaluatedWhenOnlyTheApicMapChanges) {
    Machine m(2);
    m.start_all();
    size_t d = m.plug({physical_msi(5, kVec)});
    ASSERT_TRUE(in_host_mode(m, d, 0));
    size_t from = m.mark();
    m.apic_write(1, apic::ID, 5u << 24);
    ASSERT_EQ(m.state().map.phys[5], 1);
    EXPECT_EQ(m.count(tp::kKvmPiUpdateIrte, from), 0u);
    EXPECT_TRUE(in_host_mode(m, d, 0));

    m.fire(d, 0);
    std::vector<Taken> soft = take_all_paths(m, 1);
    ASSERT_EQ(soft.size(), 1u);
    EXPECT_EQ(soft[0].path, DeliveryPath::Software);

    m.program(d, 0, physical_msi(5, 0x51));
    PostedIrte p = posted_irte(m, d, 0);
    EXPECT_EQ(p.pda, HostLayout::pid(1));
    EXPECT_EQ(p.vv, 0x51);
}

// ---- retargeting -------------------------------------------------------------------------------------------

// kvm_irq_routing_update -> kvm_arch_update_irqfd_routing [reference §4.5, §8 invariant 10]: the
// guest reprograms the MSI-X entry to another vCPU and vector; the IRTE's PDA and VV follow, and
// the next MSI reaches only the new vCPU.
TEST(Retarget, PostedIrteFollowsTheNewVcpuAndVector) {
    Machine m(2);
    m.start_all();
    size_t d = m.plug({physical_msi(0, kVec)});
    ASSERT_EQ(posted_irte(m, d, 0).pda, HostLayout::pid(0));
    size_t from = m.mark();
    m.program(d, 0, physical_msi(1, 0x51));
    EXPECT_EQ(m.state().routes.at(m.gsi(d, 0)), physical_msi(1, 0x51));
    PostedIrte p = posted_irte(m, d, 0);
    EXPECT_EQ(p.pda, HostLayout::pid(1));
    EXPECT_EQ(p.vv, 0x51);
    EXPECT_EQ(irqfd(m, d, 0).posted_vcpu, 1);
    EXPECT_EQ(m.count(tp::kHostIrtePosted, from), 1u);

    m.fire(d, 0);
    std::vector<Taken> taken = take_all_paths(m, 1);
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].vector, 0x51);
    EXPECT_EQ(taken[0].path, DeliveryPath::Direct);
    EXPECT_FALSE(m.pid(0).pir.any());
    EXPECT_TRUE(m.take_all(0).empty());
}

// kvm_arch_update_irqfd_routing runs only for an irqfd whose MSI actually changed [reference
// §4.5]: rewriting the same entry updates the route and leaves the IRTE alone.
TEST(Retarget, UnchangedMsiDoesNotReprogramTheIrte) {
    Machine m(2);
    m.start_all();
    size_t d = m.plug({physical_msi(1, kVec)});
    const IrteWords before = m.irte(d, 0);
    size_t from = m.mark();
    m.program(d, 0, physical_msi(1, kVec));
    EXPECT_EQ(m.count(tp::kKvmSetGsiRouting, from), 1u);
    EXPECT_EQ(m.count(tp::kKvmPiUpdateIrte, from), 0u);
    EXPECT_EQ(m.irte(d, 0), before);
}

// Retargeting a posted route to several vCPUs [reference §4.5, §8 invariant 10]: the IRTE goes
// back to host mode (with the IEC invalidated), and each destination then gets the MSI once
// through kvm_set_msi.
TEST(Retarget, ToSeveralVcpusRevertsToHostMode) {
    Machine m(2);
    m.start_all();
    size_t d = m.plug({physical_msi(1, kVec)});
    const uint32_t index = irte_index(m, d, 0);
    m.fire(d, 0);  // the IOMMU caches the posted entry
    ASSERT_EQ(m.take_all(1), std::vector<uint8_t>{kVec});
    ASSERT_TRUE(iec_holds(m, index));

    size_t from = m.mark();
    m.program(d, 0, logical_msi(0x03, kVec));
    EXPECT_TRUE(in_host_mode(m, d, 0));
    EXPECT_EQ(m.count(tp::kHostIrteRemapped, from), 1u);
    EXPECT_FALSE(iec_holds(m, index));
    EXPECT_EQ(irqfd(m, d, 0).posted_vcpu, -1);
    EXPECT_FALSE(m.iommu().irq(m.host_irq(d, 0)).posted);

    m.fire(d, 0);
    EXPECT_EQ(m.count(tp::kIommuPost, from), 0u);
    for (uint32_t v = 0; v < 2; ++v) {
        SCOPED_TRACE(v);
        std::vector<Taken> taken = take_all_paths(m, v);
        ASSERT_EQ(taken.size(), 1u);
        EXPECT_EQ(taken[0].vector, kVec);
        EXPECT_EQ(taken[0].path, DeliveryPath::Software);
    }
}

// ---- disconnecting the bypass -------------------------------------------------------------------------------

// KVM_IRQFD deassign -> kvm_arch_irq_bypass_del_producer -> irq_set_vcpu_affinity(NULL) [reference
// §1.2, §4.5]: the IRTE reverts to the host-mode entry (IEC invalidated), the irqfd and its bypass
// count are gone, and the device's MSI reaches the guest through QEMU (KVM_SIGNAL_MSI), once.
TEST(IrqBypass, DeassignRevertsTheIrteToHostMode) {
    Machine m(2);
    m.start_all();
    size_t d = m.plug({physical_msi(1, kVec)});
    const uint32_t gsi = m.gsi(d, 0);
    const uint32_t index = irte_index(m, d, 0);
    m.fire(d, 0);
    ASSERT_EQ(m.take_all(1), std::vector<uint8_t>{kVec});
    ASSERT_TRUE(iec_holds(m, index));

    size_t from = m.mark();
    m.vmm().irqfd_deassign(d, 0);
    m.service();
    EXPECT_EQ(m.count(tp::kKvmIrqBypassDelProducer, from), 1u);
    EXPECT_EQ(m.count(tp::kHostIrteRemapped, from), 1u);
    EXPECT_TRUE(in_host_mode(m, d, 0));
    EXPECT_FALSE(iec_holds(m, index));
    EXPECT_FALSE(m.iommu().irq(m.host_irq(d, 0)).posted);
    EXPECT_EQ(m.state().irqfds.count(gsi), 0u);
    EXPECT_EQ(m.state().bypass_irqs, 0u);

    from = m.mark();
    m.fire(d, 0);
    EXPECT_EQ(m.count(tp::kIommuPost, from), 0u);
    EXPECT_EQ(m.count(tp::kIommuRemap, from), 1u);
    EXPECT_EQ(m.find(tp::kVfioMsihandler, {arg("irqfd", false)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kKvmSetMsi, {arg("via", "KVM_SIGNAL_MSI")}, from).size(), 1u);
    std::vector<Taken> taken = take_all_paths(m, 1);
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].vector, kVec);
    EXPECT_EQ(taken[0].path, DeliveryPath::Software);
}

// kvm_arch_irq_bypass_add_producer / del_producer keep kvm->arch.nr_possible_bypass_irqs
// [reference §4.3 vmx_can_use_vtd_pi]: once it is back to 0, vmx_vcpu_pi_put leaves the PID alone
// again (no SN on preemption).
TEST(IrqBypass, CountsPossibleBypassIrqs) {
    Machine m(2);
    m.start_all();
    size_t d = m.plug({physical_msi(1, kVec), physical_msi(1, 0x51)});
    EXPECT_EQ(m.state().bypass_irqs, 2u);
    m.vmm().irqfd_deassign(d, 0);
    EXPECT_EQ(m.state().bypass_irqs, 1u);
    m.vmm().irqfd_deassign(d, 1);
    EXPECT_EQ(m.state().bypass_irqs, 0u);
    m.kvm().leave_guest(1, /*preempted=*/true);
    EXPECT_FALSE(m.pid(1).sn);
}

// vmx_pi_start_bypass [reference §4.3]: a vCPU that blocked before the VM had a bypass IRQ kept
// NV = POSTED_INTR_VECTOR (vmx_vcpu_pi_put did nothing); when the first producer attaches it is
// unblocked (KVM_REQ_UNBLOCK) and blocks again with the wakeup vector, so a post wakes it.
TEST(IrqBypass, FirstProducerArmsTheWakeupVectorOfBlockedVcpus) {
    Machine m(2);
    m.start_all();
    m.hlt(1);
    ASSERT_EQ(m.vcpu(1).run, VcpuRun::Blocked);
    EXPECT_EQ(m.pid(1).nv, kvm::kPostedIntrVector);
    EXPECT_FALSE(m.vcpu(1).on_wakeup_list);

    size_t d = m.plug({physical_msi(1, kVec)});
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Blocked);
    EXPECT_FALSE(m.vcpu(1).loaded);
    EXPECT_EQ(m.pid(1).nv, kvm::kPostedIntrWakeupVector);
    EXPECT_FALSE(m.pid(1).sn);
    EXPECT_EQ(m.state().wakeup_lists.at(1), std::vector<uint32_t>{1});

    m.fire(d, 0);
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Runnable);
    m.start(1);
    EXPECT_EQ(m.take_all(1), std::vector<uint8_t>{kVec});
}

// ---- kvm_set_msi ----------------------------------------------------------------------------------------------

// kvm_set_msi -> __apic_accept_irq -> vmx_deliver_interrupt with APICv off [reference §4.1, §6]:
// vIRR bit, KVM_REQ_EVENT, and a kick (a reschedule IPI to a vCPU in guest mode, which exits);
// the next entry injects it and the guest takes it once.
TEST(SetMsi, WithApicvOffSetsVirrRequestsAnEventAndKicks) {
    Machine m(2, KvmConfig{.apicv = false});
    m.start_all();
    m.vcpu(1).req_event = false;
    size_t from = m.mark();
    m.kvm().set_msi(physical_msi(1, kVec), "test");
    EXPECT_TRUE(m.virr(1, kVec));
    EXPECT_TRUE(m.vcpu(1).req_event);
    EXPECT_FALSE(m.pir(1, kVec));
    EXPECT_EQ(m.find(tp::kBusInterrupt, {arg("apic_id", 1), arg("vector", Hex{kvm::kRescheduleVector})}, from).size(),
              1u);
    EXPECT_FALSE(m.cpu(1).in_guest());

    m.service();
    EXPECT_EQ(m.dispatched_count(kvm::kRescheduleVector), 1u);
    EXPECT_EQ(m.find(tp::kKvmInject, {arg("vcpu", 1), arg("vector", Hex{kVec})}, from).size(), 1u);
    std::vector<Taken> taken = take_all_paths(m, 1);
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].vector, kVec);
    EXPECT_EQ(taken[0].path, DeliveryPath::Software);
    EXPECT_FALSE(m.virr(1, kVec));
}

// kvm_set_msi with APICv on [reference §4.1]: KVM posts in software (__vmx_deliver_posted_interrupt:
// PIR, ON) and, the vCPU being in guest mode, sends POSTED_INTR_VECTOR; the CPU processes it in
// the guest without a VM exit. The guest takes it once; KVM accounts it to its software path.
TEST(SetMsi, WithApicvOnPostsInSoftwareAndNotifiesAVcpuInGuestMode) {
    Machine m(2);
    m.start_all();
    size_t from = m.mark();
    m.kvm().set_msi(physical_msi(1, kVec), "test");
    EXPECT_EQ(m.find(tp::kKvmDeliverPosted, {arg("vcpu", 1), arg("notify", true), arg("ipi", true)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kBusInterrupt, {arg("apic_id", 1), arg("vector", Hex{kvm::kPostedIntrVector})}, from).size(),
              1u);
    EXPECT_EQ(m.find(tp::kCpuPiProcess, {arg("cpu", 1)}, from).size(), 1u);
    EXPECT_EQ(m.count({tp::kCpuVmExitApicRead, tp::kCpuVmExit}, from), 0u);
    EXPECT_TRUE(m.cpu(1).in_guest());
    EXPECT_TRUE(m.virr(1, kVec));
    std::vector<Taken> taken = take_all_paths(m, 1);
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].vector, kVec);
    EXPECT_EQ(taken[0].path, DeliveryPath::Software);
}

// kvm_vcpu_trigger_posted_interrupt [reference §4.1]: a vCPU not in guest mode gets no IPI but a
// kvm_vcpu_wake_up; the woken thread's kvm_vcpu_check_block syncs PIR into vIRR (reference §4.2),
// finds the interrupt deliverable and runs; the entry delivers it.
TEST(SetMsi, WithApicvOnWakesABlockedVcpuWithoutAnIpi) {
    Machine m(2);
    m.start_all();
    m.hlt(1);
    ASSERT_EQ(m.vcpu(1).run, VcpuRun::Blocked);
    size_t from = m.mark();
    m.kvm().set_msi(physical_msi(1, kVec), "test");
    EXPECT_EQ(m.find(tp::kKvmDeliverPosted, {arg("vcpu", 1), arg("notify", true), arg("ipi", false)}, from).size(), 1u);
    EXPECT_EQ(m.count(tp::kBusInterrupt, from), 0u);
    EXPECT_EQ(m.find({tp::kKvmWakeUpStillBlocked, tp::kKvmWakeUp}, {arg("vcpu", 1)}, from).size(), 1u);
    EXPECT_EQ(m.vcpu(1).run, VcpuRun::Runnable);
    EXPECT_FALSE(m.pid(1).on);
    EXPECT_FALSE(m.pir(1, kVec));
    EXPECT_TRUE(m.virr(1, kVec));
    m.start(1);
    EXPECT_EQ(m.take_all(1), std::vector<uint8_t>{kVec});
}

// __vmx_deliver_posted_interrupt ignores SN [reference §4.1 "software posting ignores SN"]: a
// preempted vCPU (SN=1) still gets ON set by KVM's own post.
TEST(SetMsi, SoftwarePostingIgnoresSn) {
    Machine m(2);
    m.start_all();
    m.plug({physical_msi(0, 0x61)});  // a bypass IRQ, so vmx_vcpu_pi_put sets SN
    m.kvm().leave_guest(1, /*preempted=*/true);
    ASSERT_TRUE(m.pid(1).sn);
    m.kvm().set_msi(physical_msi(1, kVec), "test");
    PiDesc d = m.pid(1);
    EXPECT_TRUE(d.on);
    EXPECT_TRUE(d.sn);
    EXPECT_TRUE(d.pir.test(kVec));
    m.start(1);
    EXPECT_EQ(m.take_all(1), std::vector<uint8_t>{kVec});
}

// __vmx_deliver_posted_interrupt [reference §4.1, §9]: a vector whose PIR bit is already set is
// done (coalesced); two kvm_set_msi before the vCPU runs are one interrupt.
TEST(SetMsi, RepeatedBeforeDeliveryIsCoalesced) {
    Machine m(2);
    m.start_all();
    m.kvm().leave_guest(1, /*preempted=*/false);
    size_t from = m.mark();
    m.kvm().set_msi(physical_msi(1, kVec), "test");
    m.kvm().set_msi(physical_msi(1, kVec), "test");
    EXPECT_EQ(m.find({tp::kKvmDeliverPostedCoalesced, tp::kKvmDeliverPosted}, {arg("coalesced", false)}, from).size(),
              1u);
    EXPECT_EQ(m.find({tp::kKvmDeliverPostedCoalesced, tp::kKvmDeliverPosted}, {arg("coalesced", true)}, from).size(),
              1u);
    m.start(1);
    EXPECT_EQ(m.take_all(1), std::vector<uint8_t>{kVec});
}

class SetMsiMultiDestination : public ::testing::TestWithParam<bool> {};

// kvm_set_msi -> kvm_irq_delivery_to_apic [reference §6]: a flat logical MSI naming vCPUs 0 and 2
// is accepted by each of them and taken once on each, with APICv on (software posting) or off
// (vIRR + injection); vCPU 1 gets nothing.
TEST_P(SetMsiMultiDestination, DeliversOnceToEachDestination) {
    Machine m(3, KvmConfig{.apicv = GetParam()});
    m.start_all();
    size_t from = m.mark();
    m.kvm().set_msi(logical_msi(0x05, kVec), "test");
    m.service();
    EXPECT_EQ(m.find({tp::kKvmAcceptIrqIgnored, tp::kKvmAcceptIrq}, {arg("vector", Hex{kVec})}, from).size(), 2u);
    EXPECT_EQ(m.take_all(0), std::vector<uint8_t>{kVec});
    EXPECT_EQ(m.take_all(2), std::vector<uint8_t>{kVec});
    EXPECT_TRUE(m.take_all(1).empty());
}

INSTANTIATE_TEST_SUITE_P(Apicv, SetMsiMultiDestination, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                             return info.param ? std::string("On") : std::string("Off");
                         });

// __apic_accept_irq [reference §4.1, §6]: the software TMR bit follows the MSI's trigger mode
// (set for level, cleared for edge).
TEST(SetMsi, TmrFollowsTheTriggerMode) {
    Machine m(2);
    m.start_all();
    m.kvm().set_msi(physical_msi(1, kVec, 0, /*level=*/true), "test");
    EXPECT_TRUE(m.page(1).test(apic::TMR, kVec));
    m.kvm().set_msi(physical_msi(1, kVec, 0, /*level=*/false), "test");
    EXPECT_FALSE(m.page(1).test(apic::TMR, kVec));
}

// A guest-programmed MSI whose address is not 0xFEExxxxx names no local APIC: kvm_set_msi drops it
// with a guest error, and nothing becomes pending anywhere.
TEST(SetMsi, AddressOutsideFeeIsDroppedAsAGuestError) {
    Machine m(2);
    m.start_all();
    size_t from = m.mark();
    m.kvm().set_msi(outside_fee(1, kVec), "test");
    EXPECT_EQ(m.count(tp::kKvmSetMsiError, from), 1u);
    EXPECT_EQ(m.count({tp::kKvmAcceptIrqIgnored, tp::kKvmAcceptIrq}, from), 0u);
    for (uint32_t v = 0; v < 2; ++v) {
        EXPECT_FALSE(m.pid(v).pir.any());
        EXPECT_EQ(m.page(v).highest(apic::IRR), -1);
    }
}

// A guest MSI with a vector below 16: KVM's __apic_accept_irq has no illegal-vector check, so the
// model accepts it (logged like any other) and it lands in vIRR; its priority class 0 never
// exceeds VPPR[7:4] (SDM §29.2.1, reference §3.3), so it is never delivered. It blocks nothing: a
// later vector is taken normally.
TEST(SetMsi, VectorBelow16IsAcceptedButNeverDelivered) {
    Machine m(2);
    m.start_all();
    size_t from = m.mark();
    m.kvm().set_msi(physical_msi(1, 0x05), "test");
    EXPECT_EQ(
        m.find({tp::kKvmAcceptIrqIgnored, tp::kKvmAcceptIrq}, {arg("vcpu", 1), arg("vector", Hex{0x05})}, from).size(),
        1u);
    EXPECT_TRUE(m.virr(1, 0x05));
    EXPECT_FALSE(m.cpu(1).recognized());
    EXPECT_FALSE(m.take(1).has_value());
    m.kvm().set_msi(physical_msi(1, kVec), "test");
    EXPECT_EQ(m.take_all(1), std::vector<uint8_t>{kVec});
    EXPECT_TRUE(m.virr(1, 0x05));
    EXPECT_TRUE(m.cpu(1).in_guest());
}

// ---- irqfds -----------------------------------------------------------------------------------------------------

// irqfd_wakeup -> kvm_set_msi with the irqfd's route: an irqfd without a producer (no bypass)
// injects by the software path.
TEST(Irqfd, SignalInjectsTheRouteThroughKvmSetMsi) {
    Machine m(2);
    m.start_all();
    m.kvm().set_route(40, physical_msi(1, kVec));
    m.kvm().irqfd_assign(40);
    size_t from = m.mark();
    m.kvm().irqfd_signal(40);
    m.service();
    EXPECT_EQ(m.find(tp::kKvmSetMsi, {arg("via", "irqfd"), arg("targets", 1)}, from).size(), 1u);
    std::vector<Taken> taken = take_all_paths(m, 1);
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].path, DeliveryPath::Software);
}

// An irqfd whose GSI has no route injects nothing (a guest error, not a crash).
TEST(Irqfd, SignalWithoutARouteIsAGuestError) {
    Machine m(2);
    m.start_all();
    m.kvm().irqfd_assign(40);
    size_t from = m.mark();
    m.kvm().irqfd_signal(40);
    EXPECT_EQ(m.count(tp::kKvmIrqfdSignalError, from), 1u);
    EXPECT_EQ(m.count({tp::kKvmSetMsi, tp::kKvmSetMsiError}, from), 0u);
    EXPECT_EQ(m.count({tp::kKvmAcceptIrqIgnored, tp::kKvmAcceptIrq}, from), 0u);
}

}  // namespace
}  // namespace irqdiff::x86
