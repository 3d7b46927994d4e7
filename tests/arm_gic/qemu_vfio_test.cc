// QEMU's device logic (arm_gic/vmm/qemu.cc): VFIO device states and held MSIs, MSI-X vector
// set-up with its host IRQs, the irq bypass that forwards vectors as vLPIs, vector re-enabling
// one by one, irqfd deassign, and emulated devices (reference/arm §4, §9 lost.1-2).
#include <gtest/gtest.h>

#include "tests/arm_gic/kvm_harness.h"

namespace irqdiff::arm::testing {
namespace {

using irqdiff::VectorEnable;

/// One vCPU, one passthrough device with three vectors, all routed to vCPU 0 (LPIs 8192..8194).
const std::string kThreeVectors =
    "vm: {vcpus: 1}\n"
    "devices: [{name: nic, vectors: 3, passthrough: true}]\n"
    "routes: [{source: nic.0, vcpu: 0}, {source: nic.1, vcpu: 0}, {source: nic.2, vcpu: 0}]\n";

/// An emulated device and a passthrough one, on one vCPU.
const std::string kMixed =
    "vm: {vcpus: 1}\n"
    "devices: [{name: emu, vectors: 1}, {name: nic, vectors: 2, passthrough: true}]\n"
    "routes: [{source: emu.0, vcpu: 0}, {source: nic.0, vcpu: 0}, {source: nic.1, vcpu: 0}]\n";

class QemuHeldMsi : public ::testing::TestWithParam<DeviceRunState> {};

// vfio_vmstate_change (QEMU 8ce1ff990eff, reference/arm §4.1–§4.2): a device that is not RUNNING
// raises no interrupt; the MSI stays pending in the device (its PBA) and is sent when the device
// runs again.
TEST_P(QemuHeldMsi, StoppedOrResumingDeviceHoldsItsMsiUntilRunning) {
    KvmHarness t(kNic);
    t.boot();
    t.mask(0);
    t.vmm().set_state(0, GetParam());
    size_t from = t.mark();
    t.fire(0, 0);
    EXPECT_TRUE(t.h.qemu.devices[0].held[0]);
    EXPECT_TRUE(t.find({tp::kItsTranslateIgnored, tp::kItsTranslateNoCollectionIgnored, tp::kItsTranslateNoVpeIgnored,
                        tp::kItsTranslate, tp::kItsTranslateVirtual},
                       {}, from)
                    .empty())
        << t.text();
    EXPECT_FALSE(t.vlpi_pending(0, kLpi0));

    t.vmm().set_state(0, DeviceRunState::Running);
    EXPECT_FALSE(t.h.qemu.devices[0].held[0]);
    EXPECT_EQ(t.find({tp::kItsTranslateIgnored, tp::kItsTranslateNoCollectionIgnored, tp::kItsTranslateNoVpeIgnored,
                      tp::kItsTranslate, tp::kItsTranslateVirtual},
                     {arg("device", t.host_id(0)), arg("event", 0)}, from)
                  .size(),
              1u);
    EXPECT_TRUE(t.vlpi_pending(0, kLpi0));
}

INSTANTIATE_TEST_SUITE_P(NotRunning, QemuHeldMsi, ::testing::Values(DeviceRunState::Stopped),
                         [](const auto& info) { return std::string(irqdiff::to_string(info.param)); });

// issue 15 §1.5 (include/uapi/linux/vfio.h migration FSM; QEMU vfio_save_complete_precopy): once
// a stopped device's migration data was read, and while a device is RESUMING, it raises nothing: a
// fire there is reported impossible (touching the source) and nothing is held or sent.
TEST(QemuVfioMigrationFsm, ADeviceRaisesNothingAfterItsDataWasReadOrWhileResuming) {
    for (bool resuming : {false, true}) {
        SCOPED_TRACE(resuming ? "RESUMING" : "STOP, data read");
        KvmHarness t(kNic);
        t.boot();
        t.vmm().set_state(0, resuming ? DeviceRunState::Resuming : DeviceRunState::Stopped);
        if (!resuming) t.vmm().save();
        size_t from = t.mark();
        t.fire(0, 0);
        EXPECT_FALSE(t.h.qemu.devices[0].held[0]);
        std::vector<const Event*> impossible = t.find(tp::kDeviceImpossibleMsi, {arg("device", "nic")}, from);
        ASSERT_EQ(impossible.size(), 1u) << t.text();
        EXPECT_EQ(impossible[0]->kind, EventKind::Impossible);
        EXPECT_EQ(impossible[0]->sources, std::vector<std::string>{"nic.0"});
        EXPECT_TRUE(t.find(tp::kDeviceMsi, {}, from).empty()) << t.text();
        EXPECT_FALSE(t.vlpi_pending(0, kLpi0));
    }
}

// vfio_msix_enable: before QEMU sets up the vectors (VFIO_DEVICE_SET_IRQS) the device cannot send;
// the MSI waits in the device and msix_enable sends it. Not forwarded yet, it takes the software
// path (host LPI -> vfio_msihandler -> kvm_set_msi -> pending_latch).
TEST(QemuMsixEnable, MsiHeldWithoutMsixIsSentByMsixEnable) {
    KvmHarness t(kNic);
    t.boot_guest();
    t.fire(0, 0);
    EXPECT_TRUE(t.h.qemu.devices[0].held[0]);
    EXPECT_FALSE(t.lpi(kLpi0)->pending_latch);

    t.vmm().msix_enable(0);
    EXPECT_TRUE(t.h.qemu.devices[0].held[0]) << "the guest has not programmed MSI-X: nothing is set up";
    EXPECT_FALSE(t.h.qemu.devices[0].msix_enabled);

    t.enable_msix(0);
    EXPECT_FALSE(t.h.qemu.devices[0].held[0]);
    EXPECT_EQ(t.vfio_irqs, (std::vector<int>{t.host_irq(0, 0)}));
    EXPECT_TRUE(t.lpi(kLpi0)->pending_latch);
}

// vfio_msix_enable on a stopped device: the vectors are set up but a held MSI waits for RUNNING.
TEST(QemuMsixEnable, StoppedDeviceKeepsHoldingAfterMsixEnable) {
    KvmHarness t(kNic);
    t.boot_guest();
    t.vmm().set_state(0, DeviceRunState::Stopped);
    t.fire(0, 0);
    t.enable_msix(0);
    EXPECT_TRUE(t.h.qemu.devices[0].held[0]);
    t.connect(0);
    t.vmm().set_state(0, DeviceRunState::Running);
    t.drain();
    EXPECT_FALSE(t.h.qemu.devices[0].held[0]);
    EXPECT_TRUE(t.vlpi_pending(0, kLpi0)) << "sent after the bypass connected: forwarded";
}

// vfio_msix_enable -> VFIO_DEVICE_SET_IRQS -> request_irq: one host IRQ per vector, each a new
// physical LPI mapped with MAPTI on the host ITS; an emulated device gets routes and irqfds only.
TEST(QemuMsixEnable, RequestsAHostIrqPerPassthroughVector) {
    KvmHarness t(kMixed);
    t.boot_guest();
    size_t from = t.mark();
    t.enable_msix(0);
    t.enable_msix(1);
    const PciDevice& emu = t.h.qemu.devices[0];
    EXPECT_EQ(emu.vectors[0].host_irq, -1);
    EXPECT_TRUE(emu.vectors[0].irqfd);

    const PciDevice& nic = t.h.qemu.devices[1];
    EXPECT_EQ(t.find(tp::kItsMapti, {arg("device", t.host_id(1))}, from).size(), 2u) << t.text();
    ASSERT_EQ(t.h.its.irqs().size(), 2u);
    for (uint32_t v = 0; v < 2; ++v) {
        SCOPED_TRACE(v);
        int irq = nic.vectors[v].host_irq;
        ASSERT_GE(irq, 0);
        EXPECT_TRUE(nic.vectors[v].irqfd);
        const host::HostIrq& h = t.h.its.irq(irq);
        EXPECT_EQ(h.device_id, t.host_id(1));
        EXPECT_EQ(h.event_id, v);
        EXPECT_FALSE(h.forwarded);
        Ite ite = t.host_ite(1, v);
        EXPECT_TRUE(ite.valid);
        EXPECT_FALSE(ite.is_virtual);
        EXPECT_EQ(ite.intid, h.lpi);
        EXPECT_EQ(ite.id, 0u);  // collection 0
    }
    EXPECT_NE(t.h.its.irq(nic.vectors[0].host_irq).lpi, t.h.its.irq(nic.vectors[1].host_irq).lpi);
}

// kvm_arch_irq_bypass_add_producer -> kvm_vgic_v4_set_forwarding for every vector of a passthrough
// device; an emulated device has no producer.
TEST(QemuConnectBypass, ForwardsEveryVector) {
    KvmHarness t(kThreeVectors);
    t.boot();
    for (uint32_t v = 0; v < 3; ++v) {
        SCOPED_TRACE(v);
        int irq = t.host_irq(0, v);
        EXPECT_TRUE(t.h.qemu.devices[0].vectors[v].bypass);
        EXPECT_TRUE(t.h.its.irq(irq).forwarded);
        EXPECT_TRUE(t.lpi(kLpi0 + v)->hw);
        EXPECT_EQ(t.lpi(kLpi0 + v)->host_irq, irq);
        EXPECT_TRUE(t.host_ite(0, v).is_virtual);
    }
    EXPECT_EQ(t.count(tp::kKvmUnsetForwarding), 0u);

    KvmHarness m(kMixed);
    m.boot();
    EXPECT_FALSE(m.h.qemu.devices[0].vectors[0].bypass);
    EXPECT_FALSE(m.lpi(kLpi0)->hw);
}

// QEMU < 6.0 vfio_msix_enable (reference/arm §4.2): vector 0, then each further vector with a
// SET_IRQS that re-registers the vectors already connected, so vector k goes through
// unset_forwarding once for each later vector (QEMU ecebe53fe993 enables them all at once).
TEST(QemuConnectBypass, OneByOneUnsetsAndSetsTheVectorsAlreadyConnected) {
    KvmHarness t(kThreeVectors);
    t.boot(VectorEnable::OneByOne);
    EXPECT_EQ(t.count({tp::kQemuVfioSetIrqsError, tp::kQemuVfioSetIrqs}), 3u);
    EXPECT_EQ(t.count(tp::kKvmUnsetForwarding), 0u + 1u + 2u);
    EXPECT_EQ(t.find(tp::kKvmUnsetForwarding, {arg("intid", kLpi0)}).size(), 2u);
    EXPECT_EQ(t.find(tp::kKvmUnsetForwarding, {arg("intid", kLpi0 + 1)}).size(), 1u);
    EXPECT_EQ(t.find(tp::kKvmUnsetForwarding, {arg("intid", kLpi0 + 2)}).size(), 0u);
    for (uint32_t v = 0; v < 3; ++v) EXPECT_TRUE(t.lpi(kLpi0 + v)->hw);
}

class QemuVectorEnable : public ::testing::TestWithParam<VectorEnable> {};

// reference/arm §9 lost.2 (RFC v1 cover letter; QEMU ecebe53fe993): the first set_forwarding moves
// a restored pending_latch into the VPT (12df7429213a); re-enabling vectors one by one then
// unsets that vector's forwarding, whose DISCARD drops the bit, and nothing reads it back. All at
// once keeps it.
TEST_P(QemuVectorEnable, OneByOneLosesAPendingStateTransferredByTheFirstSetForwarding) {
    const bool lost = GetParam() == VectorEnable::OneByOne;
    KvmHarness t(kThreeVectors);
    t.boot_guest();
    t.mask(0);
    t.enable_msix(0);
    t.fire(0, 0);
    ASSERT_TRUE(t.lpi(kLpi0)->pending_latch);
    t.connect(0, GetParam());
    EXPECT_EQ(t.find(tp::kKvmTransferPending, {arg("intid", kLpi0)}).size(), 1u);
    EXPECT_TRUE(t.lpi(kLpi0)->hw);
    EXPECT_FALSE(t.lpi(kLpi0)->pending_latch);
    EXPECT_EQ(t.vlpi_pending(0, kLpi0), !lost);

    t.load_all();
    t.mask(0, false);
    EXPECT_EQ(t.run(0), lost ? 0u : 1u);
}

INSTANTIATE_TEST_SUITE_P(BothWays, QemuVectorEnable, ::testing::Values(VectorEnable::AllAtOnce, VectorEnable::OneByOne),
                         [](const auto& info) {
                             return std::string(info.param == VectorEnable::AllAtOnce ? "AllAtOnce" : "OneByOne");
                         });

// KVM_IRQFD deassign -> kvm_arch_irq_bypass_del_producer -> kvm_vgic_v4_unset_forwarding: the
// vector is no longer forwarded, and its later MSIs take the software path (host LPI ->
// vfio_msihandler -> KVM_SIGNAL_MSI -> pending_latch -> a list register).
TEST(QemuIrqfdDeassign, UnsetsForwardingAndLaterMsisTakeTheSoftwarePath) {
    KvmHarness t(kNic);
    t.boot();
    size_t from = t.mark();
    t.vmm().irqfd_deassign(0, 0);
    EXPECT_EQ(t.find(tp::kKvmUnsetForwarding, {arg("irq", t.host_irq(0, 0))}, from).size(), 1u);
    EXPECT_FALSE(t.h.qemu.devices[0].vectors[0].bypass);
    EXPECT_FALSE(t.h.qemu.devices[0].vectors[0].irqfd);
    EXPECT_FALSE(t.lpi(kLpi0)->hw);
    EXPECT_TRUE(t.lpi(kLpi1)->hw) << "only that vector";

    t.fire(0, 0);
    EXPECT_EQ(t.vfio_irqs, (std::vector<int>{t.host_irq(0, 0)}));
    EXPECT_EQ(t.find(tp::kVfioMsihandler, {arg("vector", 0), arg("irqfd", false)}).size(), 1u);
    EXPECT_TRUE(t.lpi(kLpi0)->pending_latch);
    size_t before_run = t.mark();
    EXPECT_EQ(t.run(0), 1u);
    ASSERT_EQ(t.glog.size(), 1u);
    EXPECT_EQ(t.glog.deliveries()[0].path, DeliveryPath::Software);
    EXPECT_EQ(t.find(tp::kVcpuWriteLr, {arg("vintid", kLpi0), arg("hw", false)}, before_run).size(), 1u) << t.text();
    EXPECT_EQ(t.count(EventKind::Violation), 0u) << t.text();
}

// An emulated (non-passthrough) device: QEMU injects its MSI with KVM_SIGNAL_MSI (trigger_msi);
// nothing reaches the host ITS.
TEST(QemuEmulatedDevice, MsiGoesStraightToTriggerMsi) {
    KvmHarness t(kMixed);
    t.boot();
    size_t from = t.mark();
    t.fire(0, 0);
    EXPECT_TRUE(t.find({tp::kItsTranslateIgnored, tp::kItsTranslateNoCollectionIgnored, tp::kItsTranslateNoVpeIgnored,
                        tp::kItsTranslate, tp::kItsTranslateVirtual},
                       {}, from)
                    .empty());
    EXPECT_EQ(t.find(tp::kKvmVgicItsTriggerMsi, {arg("device", kDev0), arg("event", 0), arg("hw", false)}, from).size(),
              1u)
        << t.text();
    EXPECT_TRUE(t.vfio_irqs.empty());
    EXPECT_TRUE(t.lpi(kLpi0)->pending_latch);
    EXPECT_EQ(t.run(0), 1u);
    EXPECT_EQ(t.glog.deliveries()[0].path, DeliveryPath::Software);
}

}  // namespace
}  // namespace irqdiff::arm::testing
