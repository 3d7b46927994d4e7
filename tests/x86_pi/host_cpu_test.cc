// The x86 host layer's interrupt entry (x86_pi/host/cpu.h): the kernel's system vectors on every
// pCPU, KVM's wakeup handler (kvm_set_posted_intr_wakeup_handler), and a VFIO host IRQ's handler
// at the vector the allocator gave it on its pCPU; a vector with no handler is spurious, logged.
// Guests leave the guest through host::ExitPath and never handle an exit themselves.
#include <gtest/gtest.h>

#include "x86_harness.h"
#include "x86_pi/host/cpu.h"

namespace irqdiff::x86 {
namespace {

using testing::Machine;
using testing::physical_msi;

TEST(HostVectors, SystemVectorsOnEveryCpuAndKvmsWakeupHandler) {
    host::Vectors bare;
    EXPECT_EQ(bare.action(0, host::kPostedIntrVector).handler, host::Handler::PostedIntrIpi);
    EXPECT_EQ(bare.action(5, host::kRescheduleVector).handler, host::Handler::Reschedule);
    EXPECT_EQ(bare.action(0, host::kPostedIntrWakeupVector).handler, host::Handler::None) << "KVM registers it";

    Machine m(2);  // Kvm::init ran
    for (unsigned cpu = 0; cpu < 2; ++cpu)
        EXPECT_EQ(m.h.vectors.action(cpu, host::kPostedIntrWakeupVector).handler, host::Handler::PostedIntrWakeup);
}

TEST(HostVectors, VfioRequestsItsHostIrqAtItsVectorOnItsCpu) {
    Machine m(2);
    m.start_all();
    size_t d = m.plug({physical_msi(1, 0x41)});
    const int irq = m.host_irq(d, 0);
    const host::HostIrq& h = m.iommu().irq(irq);
    EXPECT_EQ(m.h.vectors.action(h.cpu, h.vector), (host::IrqAction{host::Handler::VfioMsi, irq}));
    EXPECT_EQ(m.h.vectors.action(h.cpu + 1, h.vector).handler, host::Handler::None) << "per-pCPU, not global";
    EXPECT_THROW(m.h.vectors.request_irq(h.cpu, h.vector, {host::Handler::VfioMsi, irq + 1}), std::logic_error);
}

// A vector with no handler on the pCPU: the machine's dispatch logs HOST.spurious_vector.
TEST(HostVectors, UnhandledVectorIsLoggedAsSpurious) {
    EventLog log;
    x86::Machine h(1, log);
    h.hw.cpu(0).interrupt(0x77);
    h.service();
    size_t spurious = 0;
    for (const Event& e : log.events())
        if (e.point == &tp::kHostSpuriousVectorError) ++spurious;
    EXPECT_EQ(spurious, 1u);
}

// An APIC-access read exit: KVM emulates the read in its exit handler and leaves the value for
// the instruction's register; the guest side only takes it after the exit path re-entered.
TEST(HostExitPath, EmulatedApicReadReachesTheGuestAfterReentry) {
    Machine m(1, kvm::KvmConfig{.apicv = false});
    m.start(0);
    Cpu& cpu = m.cpu(0);
    ASSERT_TRUE(cpu.in_guest());
    ASSERT_FALSE(cpu.guest_apic_read(apic::VERSION)) << "without APIC virtualization every read exits";
    ASSERT_FALSE(cpu.in_guest());
    ASSERT_TRUE(host::ExitPath(m.h)(0));
    EXPECT_TRUE(cpu.in_guest()) << "re-entered";
    std::optional<uint32_t> value = m.kvm().take_emulated_read(0);
    ASSERT_TRUE(value);
    EXPECT_EQ(*value & 0xFF, 0x14u) << "the xAPIC version KVM reports (APIC_VERSION)";
    EXPECT_FALSE(m.kvm().take_emulated_read(0)) << "taken once";
    EXPECT_FALSE(host::ExitPath(m.h)(0)) << "no exit left";
}

}  // namespace
}  // namespace irqdiff::x86
