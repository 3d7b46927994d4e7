// QEMU's device logic on x86 (x86_pi/vmm/qemu.cc) over one machine: VFIO device states and the
// MSIs a device holds while it is not RUNNING, vfio_msix_enable (KVM MSI routes, irqfds,
// VFIO_DEVICE_SET_IRQS with a remapped IRTE per host IRQ), the irq bypass and kvm_pi_update_irte,
// irqfd deassign, emulated devices, and the LAPIC-after-VFIO restore order in which the bypass
// connects while the destination's APIC map still has its reset values, and QEMU's copy of the
// LAPIC state (x86_pi/vmm/apic.cc: kvm_get_apic_state / kvm_put_apic_state)
// [reference/x86_posted_interrupts_kvm_migration.md §4.5, §5.2, §5.4, §7 item 8, §8 invariants 2
// and 8 ("reference §N")].
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/x86_pi/x86_harness.h"
#include "x86_pi/guest/guest.h"
#include "x86_pi/vmm/apic.h"

namespace irqdiff::x86 {
namespace {

using kvm::HostLayout;
using kvm::kOk;
using kvm::LapicImage;
using kvm::SetLapicClear;
using testing::arg;
using testing::entry;
using testing::logical_msi;
using testing::Machine;
using testing::physical_msi;
using testing::Taken;

constexpr uint8_t kV0 = 0x21;  // the guest's first MSI vector on a vCPU (Guest: 0x21 + n)
constexpr uint8_t kV1 = 0x22;

/// KVM_GET_LAPIC of every vCPU of a source whose guest set up its LAPICs (Machine::boot_lapic: flat
/// logical, LDR = 1 << v), after `tweak` ran on the booted source, with the vCPUs paused.
std::vector<LapicImage> source_images(unsigned vcpus, const std::function<void(Machine&)>& tweak = {}) {
    Machine src(vcpus);
    src.start_all();
    if (tweak) tweak(src);
    std::vector<LapicImage> out;
    for (uint32_t v = 0; v < vcpus; ++v) src.kvm().leave_guest(v, false);
    for (uint32_t v = 0; v < vcpus; ++v) out.push_back(src.kvm().get_lapic(v));
    return out;
}

/// A passthrough device on an incoming VM as X86Backend builds it: RESUMING (vfio_load_setup),
/// with the MSI-X table and the "MSI-X enabled" config bit that vfio_pci_load_config restores.
size_t incoming_device(Machine& dst, const std::vector<kvm::MsiMessage>& table, bool passthrough = true) {
    size_t d = dst.add_device("nic", static_cast<uint32_t>(table.size()), passthrough);
    PciDevice& dev = dst.device(d);
    dev.state = DeviceRunState::Resuming;
    for (uint32_t v = 0; v < table.size(); ++v) dev.msix[v] = entry(table[v]);
    dev.msix_programmed = true;
    return d;
}

/// QEMU's apic post_load on every vCPU: MSR_IA32_APICBASE then KVM_SET_LAPIC.
void load_lapics(Machine& dst, const std::vector<LapicImage>& images) {
    for (uint32_t v = 0; v < images.size(); ++v) ASSERT_EQ(dst.kvm().set_lapic(v, images[v]), kOk);
}

/// resume_all_vcpus, then the guest runs with RFLAGS.IF=1.
void start_guest(Machine& dst, unsigned vcpus) {
    for (uint32_t v = 0; v < vcpus; ++v) {
        dst.start(v);
        dst.cpu(v).guest_set_if(true);
    }
}

bool irte_posted(Machine& m, size_t d, uint32_t v) { return is_posted(m.irte(d, v).low); }

// ---- VFIO device states ---------------------------------------------------------------------------

class QemuHeldMsi : public ::testing::TestWithParam<DeviceRunState> {};

// include/uapi/linux/vfio.h migration FSM, QEMU vfio_vmstate_change [reference §5.2]: a device in
// STOP (and one RESUMING on the destination) "must not generate interrupts": the MSI stays in the
// device (its PBA) and nothing reaches the IOMMU; entering RUNNING sends it, once.
TEST_P(QemuHeldMsi, NotRunningDeviceHoldsItsMsiAndRunningSendsItOnce) {
    Machine m(1);
    m.start_all();
    size_t d = m.plug({logical_msi(0x01, kV0)});
    m.vmm().set_state(d, GetParam());
    size_t from = m.mark();
    m.fire(d, 0);
    EXPECT_TRUE(m.device(d).held[0]);
    EXPECT_EQ(m.find(tp::kDeviceHold, {arg("vector", 0), arg("state", to_string(GetParam()))}, from).size(), 1u);
    EXPECT_EQ(m.count({tp::kDeviceMsi, tp::kDeviceMsiLostError}, from), 0u);
    EXPECT_EQ(m.count(tp::kIommuPost, from), 0u);
    EXPECT_FALSE(m.pir(0, kV0));
    EXPECT_FALSE(m.virr(0, kV0));

    m.vmm().set_state(d, DeviceRunState::Running);
    m.service();
    EXPECT_FALSE(m.device(d).held[0]);
    EXPECT_EQ(m.count({tp::kDeviceMsi, tp::kDeviceMsiLostError}, from), 1u);
    EXPECT_EQ(m.count(tp::kIommuPost, from), 1u);
    EXPECT_EQ(m.take_all(0), std::vector<uint8_t>{kV0});

    m.vmm().set_state(d, DeviceRunState::Running);  // nothing is held any more
    m.service();
    EXPECT_EQ(m.count({tp::kDeviceMsi, tp::kDeviceMsiLostError}, from), 1u);
    EXPECT_TRUE(m.take_all(0).empty());
}

// Only a stopped device whose data was not read yet can hold a new MSI: a RESUMING one raises
// nothing (VFIO migration FSM; issue 15 §1.5, tests/arm_gic/qemu_vfio_test.cc QemuVfioMigrationFsm).
INSTANTIATE_TEST_SUITE_P(Stop, QemuHeldMsi, ::testing::Values(DeviceRunState::Stopped),
                         [](const auto& info) { return std::string(irqdiff::to_string(info.param)); });

// The PBA holds one bit per vector (core/device.h): two fires of a held vector are one pending MSI,
// as PIR and vIRR coalesce a vector posted twice [reference §9 "Duplicated"].
TEST(QemuHeldMsiPba, TwoFiresOfAHeldVectorAreSentOnce) {
    Machine m(1);
    m.start_all();
    size_t d = m.plug({logical_msi(0x01, kV0)});
    m.vmm().set_state(d, DeviceRunState::Stopped);
    size_t from = m.mark();
    m.fire(d, 0);
    m.fire(d, 0);
    EXPECT_EQ(m.count(tp::kDeviceHold, from), 2u);
    m.vmm().set_state(d, DeviceRunState::Running);
    m.service();
    EXPECT_EQ(m.count({tp::kDeviceMsi, tp::kDeviceMsiLostError}, from), 1u);
    EXPECT_EQ(m.take_all(0), std::vector<uint8_t>{kV0});
}

// vfio_vmstate_change: only RUNNING lets the device send; STOP -> RESUMING keeps holding, and the
// held vectors go out in vector order (PciDevice::release) when it runs.
TEST(QemuHeldMsiPba, OnlyRunningReleasesAndHeldVectorsGoInVectorOrder) {
    Machine m(1);
    m.start_all();
    size_t d = m.plug({logical_msi(0x01, kV0), logical_msi(0x01, kV1), logical_msi(0x01, 0x23)});
    m.vmm().set_state(d, DeviceRunState::Stopped);
    size_t from = m.mark();
    m.fire(d, 2);
    m.fire(d, 0);
    m.vmm().set_state(d, DeviceRunState::Resuming);
    EXPECT_EQ(m.count({tp::kDeviceMsi, tp::kDeviceMsiLostError}, from), 0u);
    EXPECT_EQ(m.device(d).held, (std::vector<bool>{true, false, true}));

    m.vmm().set_state(d, DeviceRunState::Running);
    m.service();
    std::vector<const Event*> sent = m.find({tp::kDeviceMsi, tp::kDeviceMsiLostError}, {}, from);
    ASSERT_EQ(sent.size(), 2u);
    auto vector_of = [](const Event* e) {
        for (const EventArg& a : e->args)
            if (a.key == "vector") return a.value;
        return ArgValue(int64_t{-1});
    };
    EXPECT_EQ(vector_of(sent[0]), ArgValue(int64_t{0}));
    EXPECT_EQ(vector_of(sent[1]), ArgValue(int64_t{2}));
    EXPECT_EQ(m.take_all(0), (std::vector<uint8_t>{0x23, kV0}));  // highest priority first
}

// ---- vfio_msix_enable -------------------------------------------------------------------------------

// vfio_msix_enable runs only for a device whose guest enabled MSI-X (vfio_pci_load_config calls it
// when the restored config has MSI-X on): before that there are no routes, irqfds or host IRQs.
TEST(QemuMsixEnable, DoesNothingBeforeTheGuestEnabledMsix) {
    Machine m(1);
    size_t d = m.add_device("nic", 2);
    size_t from = m.mark();
    m.vmm().msix_enable(d);
    EXPECT_FALSE(m.device(d).msix_enabled);
    EXPECT_EQ(m.device(d).vectors[0].gsi, -1);
    EXPECT_EQ(m.device(d).vectors[0].host_irq, -1);
    EXPECT_TRUE(m.state().routes.empty());
    EXPECT_EQ(m.count(tp::kHostRequestIrq, from), 0u);
}

// vfio_msix_enable [reference §5.4]: per vector a KVM MSI route carrying the MSI-X entry
// (KVM_SET_GSI_ROUTING, GSIs allocated in order) and an irqfd (KVM_IRQFD); for a passthrough
// device VFIO_DEVICE_SET_IRQS -> request_irq gives each vector a host IRQ whose IRTE in host memory
// is remapped (IM=0) to its host vector, with the device's requester ID. An emulated device gets
// routes and irqfds only. A second enable changes nothing.
TEST(QemuMsixEnable, RoutesIrqfdsAndARemappedIrtePerPassthroughVector) {
    Machine m(2);
    const std::vector<kvm::MsiMessage> table = {logical_msi(0x01, kV0), logical_msi(0x02, kV0)};
    size_t nic = m.add_device("nic", 2);
    size_t emu = m.add_device("emu", 1, /*passthrough=*/false);
    for (uint32_t v = 0; v < 2; ++v) m.program(nic, v, table[v]);
    m.program(emu, 0, logical_msi(0x01, kV1));
    EXPECT_TRUE(m.state().routes.empty()) << "a table write with MSI-X off is only the table";
    m.enable(nic);
    m.enable(emu);

    for (uint32_t v = 0; v < 2; ++v) {
        SCOPED_TRACE(v);
        const VfioVector& vec = m.device(nic).vectors[v];
        EXPECT_EQ(vec.gsi, static_cast<int>(v));
        EXPECT_TRUE(vec.irqfd);
        EXPECT_FALSE(vec.bypass);
        EXPECT_EQ(m.state().routes.at(m.gsi(nic, v)), table[v]);
        EXPECT_TRUE(m.state().irqfds.count(m.gsi(nic, v)));
        ASSERT_GE(vec.host_irq, 0);
        const host::HostIrq& irq = m.iommu().irq(vec.host_irq);
        IrteWords w = m.irte(nic, v);
        ASSERT_FALSE(is_posted(w.low));
        RemappedIrte e = RemappedIrte::decode(w.low, w.high);
        EXPECT_TRUE(e.present);
        EXPECT_EQ(e.vector, irq.vector);
        EXPECT_EQ(e.sid, m.device(nic).host_id);
        EXPECT_EQ(e.svt, 1);
        EXPECT_FALSE(irq.posted);
    }
    EXPECT_NE(m.host_irq(nic, 0), m.host_irq(nic, 1));
    EXPECT_EQ(m.device(emu).vectors[0].gsi, 2);
    EXPECT_TRUE(m.device(emu).vectors[0].irqfd);
    EXPECT_EQ(m.device(emu).vectors[0].host_irq, -1);
    EXPECT_EQ(m.h.iommu_state.irqs.size(), 2u);

    size_t from = m.mark();
    m.vmm().msix_enable(nic);
    EXPECT_EQ(m.count(tp::kHostRequestIrq, from), 0u);
    EXPECT_EQ(m.h.qemu.next_gsi, 3u);
}

// PciDevice::can_send needs MSI-X set up: a running device's MSI raised before vfio_msix_enable is
// held and sent by it. The bypass is not connected yet, so it takes the remapped IRTE: host vector
// -> vfio_msihandler -> irqfd -> kvm_set_msi [reference §6 "IRTE not posted"], a software delivery.
TEST(QemuMsixEnable, HeldMsiOfARunningDeviceIsSentThroughTheRemappedIrte) {
    Machine m(1);
    m.start_all();
    size_t d = m.add_device("nic", 1);
    m.program(d, 0, logical_msi(0x01, kV0));
    m.device(d).msix_programmed = true;
    m.fire(d, 0);
    ASSERT_TRUE(m.device(d).held[0]);

    size_t from = m.mark();
    m.vmm().msix_enable(d);
    m.service();
    EXPECT_FALSE(m.device(d).held[0]);
    EXPECT_EQ(m.count(tp::kIommuRemap, from), 1u);
    EXPECT_EQ(m.count(tp::kIommuPost, from), 0u);
    EXPECT_EQ(m.find(tp::kVfioMsihandler, {arg("irqfd", true)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kKvmSetMsi, {arg("via", "irqfd")}, from).size(), 1u);
    std::optional<Taken> t = m.take(0);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->vector, kV0);
    EXPECT_EQ(t->path, DeliveryPath::Software);
    EXPECT_FALSE(m.take(0).has_value());
}

// vfio_load_setup puts an incoming device in RESUMING: vfio_msix_enable and the bypass set up its
// vectors, but an MSI its migration data held (loaded with vfio_pci_load_config) stays held until
// RUNNING (reference §8 invariant 2: quiescent until the VM starts).
TEST(QemuMsixEnable, ResumingDeviceKeepsHoldingThroughEnableAndBypass) {
    Machine dst(1);
    size_t d = incoming_device(dst, {physical_msi(0, kV0)});
    dst.device(d).held[0] = true;  // pending in the device's migration data
    size_t from = dst.mark();
    dst.enable(d);
    dst.connect(d);
    EXPECT_TRUE(dst.device(d).held[0]);
    EXPECT_TRUE(dst.device(d).msix_enabled);
    EXPECT_EQ(dst.count({tp::kDeviceMsi, tp::kDeviceMsiLostError}, from), 0u);
    EXPECT_FALSE(dst.pid(0).pir.any());
}

// ---- irq bypass ---------------------------------------------------------------------------------------

// kvm_arch_irq_bypass_add_producer -> kvm_pi_update_irte per vector [reference §4.5]: each route
// resolves through the APIC map to one vCPU, so intel_ir_set_vcpu_affinity writes a posted IRTE
// (IM=1) whose PDA is that vCPU's PID and VV the guest vector, keeping the requester ID; the MSI is
// then posted by VT-d and taken by virtual-interrupt delivery (direct).
TEST(QemuIrqBypass, ConnectPostsEachVectorToItsSingleVcpu) {
    Machine m(2);
    m.start_all();
    size_t from = m.mark();
    size_t d = m.plug({logical_msi(0x01, kV0), logical_msi(0x02, kV1)});
    for (uint32_t v = 0; v < 2; ++v) {
        SCOPED_TRACE(v);
        EXPECT_TRUE(m.device(d).vectors[v].bypass);
        EXPECT_EQ(
            m.find(tp::kKvmPiUpdateIrte,
                   {arg("gsi", m.gsi(d, v)), arg("posted", true), arg("vcpu", v), arg("vector", Hex{kV0 + v})}, from)
                .size(),
            1u);
        IrteWords w = m.irte(d, v);
        ASSERT_TRUE(is_posted(w.low));
        PostedIrte p = PostedIrte::decode(w.low, w.high);
        EXPECT_TRUE(p.present);
        EXPECT_EQ(p.pda, HostLayout::pid(v));
        EXPECT_EQ(p.vv, kV0 + v);
        EXPECT_FALSE(p.urg);
        EXPECT_EQ(p.sid, m.device(d).host_id);
        EXPECT_EQ(m.state().irqfds.at(m.gsi(d, v)).posted_vcpu, static_cast<int>(v));
    }
    from = m.mark();
    m.fire(d, 1);
    EXPECT_EQ(m.count(tp::kIommuPost, from), 1u);
    EXPECT_EQ(m.count(tp::kVfioMsihandler, from), 0u);
    std::optional<Taken> t = m.take(1);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->vector, kV1);
    EXPECT_EQ(t->path, DeliveryPath::Direct);
}

// VFIO registers bypass producers only for passthrough vectors that have a host IRQ and an irqfd
// [reference §4.5]: an emulated device, or a passthrough device before vfio_msix_enable, connects
// nothing; a vector already connected is not connected twice.
TEST(QemuIrqBypass, ConnectsOnlyEnabledPassthroughVectorsOnce) {
    Machine m(1);
    m.start_all();
    size_t emu = m.plug({logical_msi(0x01, kV0)}, /*passthrough=*/false);
    size_t nic = m.add_device("nic", 1);
    m.program(nic, 0, logical_msi(0x01, kV1));
    size_t from = m.mark();
    m.connect(emu);
    m.connect(nic);
    EXPECT_EQ(m.count(tp::kKvmIrqBypassAddProducer, from), 0u);
    EXPECT_FALSE(m.device(emu).vectors[0].bypass);
    EXPECT_FALSE(m.device(nic).vectors[0].bypass);
    EXPECT_EQ(m.state().bypass_irqs, 0u);

    m.enable(nic);
    m.connect(nic);
    m.connect(nic);
    EXPECT_EQ(m.count(tp::kKvmIrqBypassAddProducer, from), 1u);
    EXPECT_EQ(m.state().bypass_irqs, 1u);
}

// KVM_IRQFD deassign disconnects the bypass (kvm_arch_irq_bypass_del_producer): the IRTE goes back
// to its remapped entry in host memory, and with no irqfd QEMU reads the eventfd and injects with
// KVM_SIGNAL_MSI: delivered, through software.
TEST(QemuIrqBypass, IrqfdDeassignRestoresTheRemappedIrteAndQemuInjects) {
    Machine m(1);
    m.start_all();
    size_t d = m.plug({logical_msi(0x01, kV0)});
    ASSERT_TRUE(irte_posted(m, d, 0));
    const IrteWords remapped = m.iommu().irq(m.host_irq(d, 0)).remapped.encode();
    size_t from = m.mark();
    m.vmm().irqfd_deassign(d, 0);
    EXPECT_EQ(m.count(tp::kKvmIrqBypassDelProducer, from), 1u);
    EXPECT_EQ(m.irte(d, 0), remapped);
    EXPECT_FALSE(m.device(d).vectors[0].irqfd);
    EXPECT_FALSE(m.device(d).vectors[0].bypass);
    EXPECT_EQ(m.state().irqfds.count(m.gsi(d, 0)), 0u);

    m.fire(d, 0);
    EXPECT_EQ(m.find(tp::kVfioMsihandler, {arg("irqfd", false)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kKvmSetMsi, {arg("via", "KVM_SIGNAL_MSI")}, from).size(), 1u);
    std::optional<Taken> t = m.take(0);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->path, DeliveryPath::Software);
}

// vfio_update_kvm_msi_virq -> KVM_SET_GSI_ROUTING -> kvm_arch_update_irqfd_routing [reference §4.5
// trigger (c), §8 invariant 10]: the guest moving a connected vector to vCPU 1 re-evaluates the IRTE,
// whose PDA follows to vCPU 1's PID; with MSI-X off a table write is only the table.
TEST(QemuIrqBypass, MsixTableWriteRetargetsAConnectedIrte) {
    Machine m(2);
    m.start_all();
    size_t d = m.plug({logical_msi(0x01, kV0)});
    ASSERT_EQ(PostedIrte::decode(m.irte(d, 0).low, m.irte(d, 0).high).pda, HostLayout::pid(0));
    size_t from = m.mark();
    m.program(d, 0, logical_msi(0x02, kV1));
    EXPECT_EQ(m.state().routes.at(m.gsi(d, 0)), logical_msi(0x02, kV1));
    EXPECT_EQ(m.find(tp::kKvmPiUpdateIrte, {arg("posted", true), arg("vcpu", 1)}, from).size(), 1u);
    PostedIrte p = PostedIrte::decode(m.irte(d, 0).low, m.irte(d, 0).high);
    EXPECT_EQ(p.pda, HostLayout::pid(1));
    EXPECT_EQ(p.vv, kV1);
}

// An emulated device's MSI is injected by QEMU with KVM_SIGNAL_MSI (kvm_set_msi): no host IRQ, no
// IOMMU; KVM posts it in software, so the guest's delivery is a software one.
TEST(QemuEmulatedDevice, MsiIsInjectedWithKvmSignalMsi) {
    Machine m(1);
    m.start_all();
    size_t d = m.plug({logical_msi(0x01, kV0)}, /*passthrough=*/false);
    size_t from = m.mark();
    m.fire(d, 0);
    EXPECT_EQ(m.find(tp::kDeviceMsi, {arg("passthrough", false)}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kKvmSetMsi, {arg("via", "KVM_SIGNAL_MSI")}, from).size(), 1u);
    EXPECT_EQ(m.count(tp::kIommuRemap, from) + m.count(tp::kIommuPost, from), 0u);
    std::optional<Taken> t = m.take(0);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->path, DeliveryPath::Software);
}

// A host IRQ no VFIO vector owns is the host's spurious interrupt: a guest error, nothing injected.
TEST(QemuHostIrq, UnknownHostIrqIsASpuriousGuestError) {
    Machine m(1);
    m.start_all();
    size_t from = m.mark();
    m.vmm().host_irq(7);
    EXPECT_EQ(m.count(tp::kHostSpuriousIrqError, from), 1u);
    EXPECT_EQ(m.count({tp::kKvmSetMsi, tp::kKvmSetMsiError}, from), 0u);
}

// ---- the destination's restore order: LAPIC before or after VFIO -----------------------------------

// QEMU before "migration: ensure APIC is loaded prior to VFIO PCI devices" (2025) [reference §5.4,
// §7 item 8, §8 invariant 8]: vfio_pci_load_config -> vfio_msix_enable -> bypass connect runs
// while the destination's LAPICs have their reset values (LDR 0), so kvm_intr_is_single_vcpu does
// not resolve the guest's flat logical destination and the IRTE stays remapped in host memory.
// KVM_SET_LAPIC does not re-evaluate it; the MSI takes host vector -> vfio_msihandler -> irqfd ->
// kvm_set_msi and is delivered once, in software: posting is lost, the interrupt is not.
TEST(QemuLapicAfterVfio, BypassBeforeSetLapicLeavesTheIrteRemappedAndTheMsiGoesThroughSoftware) {
    std::vector<LapicImage> images = source_images(2);
    Machine dst(2);
    size_t d = incoming_device(dst, {logical_msi(0x01, kV0), logical_msi(0x02, kV0)});
    size_t from = dst.mark();
    dst.enable(d);
    dst.connect(d);
    for (uint32_t v = 0; v < 2; ++v) {
        SCOPED_TRACE(v);
        EXPECT_EQ(dst.find(tp::kKvmPiUpdateIrte,
                           {arg("gsi", dst.gsi(d, v)), arg("posted", false),
                            arg("why", "destination is not one vCPU in the APIC map")},
                           from)
                      .size(),
                  1u);
        EXPECT_FALSE(irte_posted(dst, d, v));
        EXPECT_TRUE(dst.device(d).vectors[v].bypass);
    }

    load_lapics(dst, images);
    ASSERT_EQ(dst.kvm().single_vcpu(logical_msi(0x02, kV0)), 1) << "the loaded LDRs do resolve the route";
    EXPECT_FALSE(irte_posted(dst, d, 1)) << "KVM_SET_LAPIC re-evaluated the IRTE";
    EXPECT_EQ(dst.count(tp::kKvmPiUpdateIrte, from), 2u);

    start_guest(dst, 2);
    dst.vmm().set_state(d, DeviceRunState::Running);
    from = dst.mark();
    dst.fire(d, 1);
    EXPECT_EQ(dst.count(tp::kIommuPost, from), 0u);
    EXPECT_EQ(dst.count(tp::kIommuRemap, from), 1u);
    EXPECT_EQ(dst.find(tp::kVfioMsihandler, {arg("vector", 1), arg("irqfd", true)}, from).size(), 1u);
    EXPECT_EQ(dst.find(tp::kKvmSetMsi, {arg("via", "irqfd")}, from).size(), 1u);
    std::optional<Taken> t = dst.take(1);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->vector, kV0);
    EXPECT_EQ(t->path, DeliveryPath::Software);
    EXPECT_FALSE(dst.take(1).has_value());
}

// QEMU's order since MIG_PRI_APIC [reference §5.4]: KVM_SET_LAPIC first, so at bypass connect the
// APIC map resolves the logical destination and the IRTE posts to vCPU 1's PID; VT-d posts the
// MSI and the guest takes it directly.
TEST(QemuLapicAfterVfio, SetLapicBeforeBypassPostsTheIrte) {
    std::vector<LapicImage> images = source_images(2);
    Machine dst(2);
    size_t d = incoming_device(dst, {logical_msi(0x01, kV0), logical_msi(0x02, kV0)});
    load_lapics(dst, images);
    dst.enable(d);
    dst.connect(d);
    ASSERT_TRUE(irte_posted(dst, d, 1));
    EXPECT_EQ(PostedIrte::decode(dst.irte(d, 1).low, dst.irte(d, 1).high).pda, HostLayout::pid(1));

    start_guest(dst, 2);
    dst.vmm().set_state(d, DeviceRunState::Running);
    size_t from = dst.mark();
    dst.fire(d, 1);
    EXPECT_EQ(dst.count(tp::kIommuPost, from), 1u);
    EXPECT_EQ(dst.count(tp::kVfioMsihandler, from), 0u);
    std::optional<Taken> t = dst.take(1);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->path, DeliveryPath::Direct);
}

// The same with a physical destination whose xAPIC ID the guest changed (vCPU 1 -> ID 5): at reset
// ID 5 names nobody, so the IRTE is remapped [reference §4.5: the decision reads the current APIC
// map]. KVM_SET_LAPIC makes ID 5 name vCPU 1 but re-evaluates nothing; a route write with the same
// message changes nothing either (kvm_arch_update_irqfd_routing runs only when the MSI changed);
// a changed message does, and the IRTE posts.
TEST(QemuLapicAfterVfio, PhysicalIdNotLoadedYetIsRemappedUntilTheRouteChanges) {
    std::vector<LapicImage> images =
        source_images(2, [](Machine& src) { src.kvm().lapic_write(1, apic::ID, 5u << 24); });
    Machine dst(2);
    size_t d = incoming_device(dst, {physical_msi(5, kV0)});
    dst.enable(d);
    dst.connect(d);
    EXPECT_FALSE(irte_posted(dst, d, 0));

    load_lapics(dst, images);
    ASSERT_EQ(dst.state().map.phys[5], 1);
    EXPECT_FALSE(irte_posted(dst, d, 0));
    size_t from = dst.mark();
    dst.program(d, 0, physical_msi(5, kV0));
    EXPECT_EQ(dst.count(tp::kKvmPiUpdateIrte, from), 0u);
    EXPECT_FALSE(irte_posted(dst, d, 0));

    dst.program(d, 0, physical_msi(5, kV1));
    EXPECT_EQ(dst.find(tp::kKvmPiUpdateIrte, {arg("posted", true), arg("vcpu", 1)}, from).size(), 1u);
    ASSERT_TRUE(irte_posted(dst, d, 0));
    EXPECT_EQ(PostedIrte::decode(dst.irte(d, 0).low, dst.irte(d, 0).high).pda, HostLayout::pid(1));
}

class QemuPostBeforeSetLapic : public ::testing::TestWithParam<SetLapicClear> {};

// A physical destination at its reset ID does resolve before KVM_SET_LAPIC, so the bypass posts;
// a device started before the LAPIC is loaded (an admissible order QEMU does not use) posts into
// the reset PID (SN=1: PIR only, no notification), and KVM_SET_LAPIC zeroes PIR under either
// x86.set_lapic_clears_pir value (pi_apicv_pre_state_restore, or apicv_post_state_restore): the
// interrupt is lost [reference §8 invariant 2, §9 "Posts landing in the destination PID before
// KVM_SET_LAPIC"].
TEST_P(QemuPostBeforeSetLapic, PostIntoTheResetPidIsZeroedBySetLapic) {
    std::vector<LapicImage> images = source_images(1);
    Machine dst(1, {.clear = GetParam()});
    size_t d = incoming_device(dst, {physical_msi(0, kV0)});
    dst.enable(d);
    dst.connect(d);
    ASSERT_TRUE(irte_posted(dst, d, 0));
    dst.vmm().set_state(d, DeviceRunState::Running);
    size_t from = dst.mark();
    dst.fire(d, 0);
    EXPECT_EQ(dst.find(tp::kIommuPost, {arg("sn", true), arg("notify", false)}, from).size(), 1u);
    EXPECT_TRUE(dst.pir(0, kV0));
    EXPECT_FALSE(dst.pid(0).on);

    load_lapics(dst, images);
    const auto& clear =
        GetParam() == SetLapicClear::BeforeLoad ? tp::kKvmApicvPreStateRestore : tp::kKvmApicvPostStateRestore;
    EXPECT_EQ(dst.find(clear, {arg("dropped", 1)}, from).size(), 1u);
    EXPECT_FALSE(dst.pir(0, kV0));
    start_guest(dst, 1);
    EXPECT_TRUE(dst.take_all(0).empty());
}

INSTANTIATE_TEST_SUITE_P(BothClearPoints, QemuPostBeforeSetLapic,
                         ::testing::Values(SetLapicClear::BeforeLoad, SetLapicClear::AfterLoad), [](const auto& info) {
                             return info.param == SetLapicClear::BeforeLoad ? "BeforeLoad" : "AfterLoad";
                         });

// QEMU's order end to end on one destination [reference §5.4, §8 invariant 2]: an MSI pending in
// the incoming device's migration data stays in the device through vfio_msix_enable, the bypass and
// KVM_SET_LAPIC, and is sent when vfio_vmstate_change enters RUNNING: VT-d posts it and the guest
// takes it once, directly.
TEST(QemuIncomingDevice, MsiHeldInTheDeviceDataIsDeliveredOnceAfterStartDevices) {
    std::vector<LapicImage> images = source_images(2);
    Machine dst(2);
    size_t d = incoming_device(dst, {logical_msi(0x01, kV0), logical_msi(0x02, kV0)});
    dst.device(d).held[1] = true;  // pending in the device's migration data
    load_lapics(dst, images);
    dst.enable(d);
    dst.connect(d);
    start_guest(dst, 2);
    EXPECT_TRUE(dst.device(d).held[1]);
    EXPECT_FALSE(dst.take(1).has_value());

    size_t from = dst.mark();
    dst.vmm().set_state(d, DeviceRunState::Running);
    dst.service();
    EXPECT_EQ(dst.count(tp::kIommuPost, from), 1u);
    std::optional<Taken> t = dst.take(1);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->vector, kV0);
    EXPECT_EQ(t->path, DeliveryPath::Direct);
    EXPECT_FALSE(dst.take(1).has_value());
    EXPECT_TRUE(dst.take_all(0).empty());
}

// ---- QEMU's LAPIC state (hw/i386/kvm/apic.c) ---------------------------------------------------------

/// A paused source vCPU 0 with its guest's LAPIC set-up, TPR 0x20, an armed one-shot and a pending
/// vector, and its KVM_GET_LAPIC image (with the TMCCT, PPR and version KVM computed).
LapicImage timer_source_image() {
    return source_images(1, [](Machine& src) {
        src.apic_write(0, apic::LVT_TIMER, kTimerVector);
        src.apic_write(0, apic::TMICT, kTimerInitialCount);
        src.apic_write(0, apic::TPR, 0x20);
        src.kvm().set_msi(physical_msi(0, 0x61), "test");
        src.cpu(0).guest_set_if(false);
        src.service();
    })[0];
}

// qemu/qemu hw/i386/kvm/apic.c: kvm_get_apic_state copies ID, TPR, ARBPRI, LDR, DFR, SVR, ISR, TMR,
// IRR, ESR, ICR, the six LVTs, TMICT and TDCR into APICCommonState (the `apic` vmstate), never
// TMCCT; kvm_put_apic_state memsets the kvm_lapic_state to 0 and writes those fields back, so TMCCT
// (0x390), PPR and the version reach KVM_SET_LAPIC as 0 while everything migrated is unchanged.
TEST(QemuApic, KvmPutApicStateNeverWritesTmcct_kvm_put_apic_state) {
    const LapicImage got = timer_source_image();
    ASSERT_EQ(got.reg(apic::TMCCT), kTimerInitialCount);  // KVM computed it (apic_get_tmcct)
    ASSERT_NE(got.reg(apic::VERSION), 0u);
    ASSERT_TRUE(got.test(apic::IRR, 0x61));
    const vmm::ApicState s = vmm::kvm_get_apic_state(got);
    EXPECT_EQ(s.initial_count, kTimerInitialCount);
    EXPECT_EQ(s.lvt[0], kTimerVector);
    EXPECT_TRUE(s.irr_test(0x61));
    const LapicImage put = vmm::kvm_put_apic_state(s);
    EXPECT_EQ(put.reg(apic::TMCCT), 0u);
    EXPECT_EQ(put.reg(apic::VERSION), 0u);
    EXPECT_EQ(put.reg(apic::PPR), 0u);
    EXPECT_EQ(put.apic_base, got.apic_base);
    for (uint32_t reg : {apic::ID, apic::TPR, apic::LDR, apic::DFR, apic::SVR, apic::ESR, apic::ICR_LO, apic::ICR_HI,
                         apic::TMICT, apic::TDCR})
        EXPECT_EQ(put.reg(reg), got.reg(reg)) << "register " << std::hex << reg;
    for (uint32_t i = 0; i < 8; ++i)
        for (uint32_t base : {apic::ISR, apic::TMR, apic::IRR})
            EXPECT_EQ(put.reg(base + 0x10 * i), got.reg(base + 0x10 * i));
    for (uint32_t i = 0; i < 6; ++i)
        EXPECT_EQ(put.reg(apic::LVT_TIMER + 0x10 * i), got.reg(apic::LVT_TIMER + 0x10 * i));
    EXPECT_EQ(vmm::kvm_get_apic_state(put), s);  // nothing else is carried
}

// kvm_put_apic_state's zero TMCCT meets kvm_apic_set_state's restart (8e6ed96cdd50): QEMU's restore
// of a vCPU whose one-shot is armed, with its deadline still ahead, fires it inside KVM_SET_LAPIC.
TEST(QemuApic, RestoredArmedOneShotExpiresInsideSetLapic_8e6ed96cdd50) {
    const LapicImage put = vmm::kvm_put_apic_state(vmm::kvm_get_apic_state(timer_source_image()));
    EXPECT_EQ(kvm::Kvm::timer_restart(put), kvm::TimerRestart::Expired);
    Machine dst(1);
    size_t from = dst.mark();
    ASSERT_EQ(dst.kvm().set_lapic(0, put), kOk);
    EXPECT_EQ(dst.count(tp::kKvmTimerExpired, from), 1u);
    EXPECT_TRUE(dst.pir(0, kTimerVector));
    EXPECT_TRUE(dst.virr(0, 0x61));
    EXPECT_EQ(dst.page(0).read(apic::PPR), 0x20u);  // recomputed from TPR (QEMU carried no PPR)
}

// ---- QEMU < 6.0's one-by-one vector enable (x86.vfio_vector_enable) -----------------------------

// QEMU before 6.0 enabled restored MSI-X vectors one by one, each VFIO_DEVICE_SET_IRQS
// re-registering every vector (reference/kernel_history U1; eaadba6f9b14's "vector 0 with an
// invalid fd to get MSI-X enabled"): with three vectors, vector 0 is disconnected twice and vector 1
// once (kvm_arch_irq_bypass_del_producer -> irq_set_vcpu_affinity(NULL), reference §1.2, §4.5),
// each time back to its remapped entry, then posted again; at the end every IRTE is posted and the
// bypass count is the vector count.
TEST(QemuVectorEnableX86, OneByOneDisconnectsEachConnectedVectorAtEverySetIrqs_U1_eaadba6f9b14) {
    Machine m(1);
    m.start_all();
    size_t d = m.add_device("nic", 3);
    for (uint32_t v = 0; v < 3; ++v) m.program(d, v, logical_msi(0x01, static_cast<uint8_t>(kV0 + v)));
    m.enable(d);
    size_t from = m.mark();
    m.vmm().connect_bypass(d, VectorEnable::OneByOne);
    m.service();
    EXPECT_EQ(m.count(tp::kQemuVfioSetIrqs, from), 3u);
    EXPECT_EQ(m.find(tp::kKvmIrqBypassDelProducer, {arg("gsi", m.gsi(d, 0))}, from).size(), 2u);
    EXPECT_EQ(m.find(tp::kKvmIrqBypassDelProducer, {arg("gsi", m.gsi(d, 1))}, from).size(), 1u);
    EXPECT_EQ(m.find(tp::kKvmIrqBypassDelProducer, {arg("gsi", m.gsi(d, 2))}, from).size(), 0u);
    EXPECT_EQ(m.count(tp::kKvmIrqBypassAddProducer, from), 6u);
    EXPECT_EQ(m.count(tp::kHostIrteRemapped, from), 3u);
    for (uint32_t v = 0; v < 3; ++v) EXPECT_TRUE(irte_posted(m, d, v)) << v;
    EXPECT_EQ(m.state().bypass_irqs, 3u);
}

// The PIR is the vCPU's posted-interrupt descriptor, not the IRTE's (VT-d §9.10: a posted IRTE
// only points at it, PDA): del_producer puts the IRTE back to remapped format and leaves a bit
// posted while the vCPU was preempted (SN=1, ON=0) where it is; vmx_vcpu_pi_load sets ON for the
// non-empty PIR and the entry's sync delivers it once [reference §1.2, §4.3, §4.5]. The ARM
// counterpart, unset_forwarding, drops the VPT bit (kernel_history A1): scenarios/teardown/
// deassign_pending_{arm_A1,x86_X1}.yaml.
TEST(QemuIrqBypassDelProducer, LeavesAPostedPirBitForTheNextLoad_vmx_pi_update_irte) {
    Machine m(1);
    m.start_all();
    size_t d = m.plug({logical_msi(0x01, kV0)});
    m.kvm().leave_guest(0, /*preempted=*/true);
    m.fire(d, 0);
    ASSERT_TRUE(m.pir(0, kV0));
    ASSERT_FALSE(m.pid(0).on);
    size_t from = m.mark();
    m.vmm().irqfd_deassign(d, 0);  // kvm_arch_irq_bypass_del_producer
    m.service();
    EXPECT_EQ(m.count(tp::kKvmIrqBypassDelProducer, from), 1u);
    EXPECT_FALSE(irte_posted(m, d, 0));
    EXPECT_TRUE(m.pir(0, kV0));
    EXPECT_FALSE(m.pid(0).on);
    m.start(0);
    std::optional<Taken> t = m.take(0);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->vector, kV0);
    EXPECT_EQ(t->path, DeliveryPath::Direct);
    EXPECT_FALSE(m.take(0).has_value());
}

}  // namespace
}  // namespace irqdiff::x86
