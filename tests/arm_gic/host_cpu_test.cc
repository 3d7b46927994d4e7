// The ARM host layer's interrupt entry (arm_gic/host/cpu.h): the drivers request a handler for
// each host LPI they allocate — KVM a doorbell per vPE (vgic_v4_init), VFIO one per MSI vector
// (vfio_msi_set_vector_signal) — and the host CPUs take signalled LPIs into those handlers; an
// LPI nobody requested is the kernel's unexpected IRQ, logged, never silently dropped.
#include <gtest/gtest.h>

#include "arm_gic/host/cpu.h"
#include "gic_harness.h"
#include "kvm_harness.h"

namespace irqdiff::arm {
namespace {

using testing::GicHarness;
using testing::KvmHarness;
using testing::kNic;

TEST(HostCpus, KvmRequestsEachVpeDoorbell) {
    KvmHarness t(kNic);
    for (uint32_t v = 0; v < 2; ++v) {
        std::optional<host::IrqAction> a = t.h.cpus.action(t.h.its.vpe(v).doorbell);
        ASSERT_TRUE(a) << "vPE " << v;
        EXPECT_EQ(*a, (host::IrqAction{host::Handler::VpeDoorbell, v}));
    }
}

TEST(HostCpus, VfioRequestsEachVectorsLpi) {
    KvmHarness t(kNic);
    t.boot_guest();
    t.enable_msix(0);
    ASSERT_EQ(t.h.its.irqs().size(), 2u);
    for (int irq = 0; irq < 2; ++irq) {
        std::optional<host::IrqAction> a = t.h.cpus.action(t.h.its.irq(irq).lpi);
        ASSERT_TRUE(a) << "host IRQ " << irq;
        EXPECT_EQ(*a, (host::IrqAction{host::Handler::VfioMsi, static_cast<uint32_t>(irq)}));
    }
}

TEST(HostCpus, AnLpiHasOneHandler) {
    host::Cpus cpus;
    cpus.request_irq(8200, {host::Handler::VfioMsi, 0});
    EXPECT_THROW(cpus.request_irq(8200, {host::Handler::VpeDoorbell, 1}), std::logic_error);
    cpus.free_irq(8200);
    EXPECT_FALSE(cpus.action(8200));
    cpus.request_irq(8200, {host::Handler::VpeDoorbell, 1});
    EXPECT_EQ(cpus.action(8200), (host::IrqAction{host::Handler::VpeDoorbell, 1}));
}

// Signalled LPIs are taken in signalling order into their handlers; one with no handler is
// logged as HOST.spurious_lpi and skipped.
TEST(HostCpus, TakesSignalledLpisInOrderAndLogsUnrequestedOnes) {
    GicHarness g;
    host::Cpus cpus;
    g.gic.set_host_irq_handler([&](unsigned rd, uint32_t intid) { cpus.signal(rd, intid); });
    g.enable_lpis(0);
    for (uint32_t intid : {8192u, 8193u, 8194u}) g.lpi_config(intid, 0xA0, true);
    cpus.request_irq(8192, {host::Handler::VfioMsi, 7});
    cpus.request_irq(8194, {host::Handler::VpeDoorbell, 3});
    for (uint32_t intid : {8192u, 8193u, 8194u}) g.gic.rd(0).set_lpi_pending(intid, true);

    std::optional<host::IrqAction> first = cpus.take(g.gic, g.log);
    ASSERT_TRUE(first);
    EXPECT_EQ(*first, (host::IrqAction{host::Handler::VfioMsi, 7}));
    std::optional<host::IrqAction> second = cpus.take(g.gic, g.log);  // 8193 is logged on the way
    ASSERT_TRUE(second);
    EXPECT_EQ(*second, (host::IrqAction{host::Handler::VpeDoorbell, 3}));
    EXPECT_FALSE(cpus.take(g.gic, g.log));
    EXPECT_TRUE(cpus.idle());
    size_t spurious = 0;
    for (const Event& e : g.log.events())
        if (e.point == &tp::kHostSpuriousLpiError) ++spurious;
    EXPECT_EQ(spurious, 1u);
}

}  // namespace
}  // namespace irqdiff::arm
