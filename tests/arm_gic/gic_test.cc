// The GIC as the MSI bus sees it (arm_gic/hw/gic.h Gic::msi, core/bus.h): a device's write to an
// ITS's GITS_TRANSLATER, at the address the GIC configuration gives that ITS, is an MSI with the
// data as EventID and the requester id as DeviceID; a write anywhere else reaches no ITS and is
// dropped with a GuestError event.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/arm_gic/gic_harness.h"

namespace irqdiff::arm::testing {
namespace {

constexpr uint32_t kLpi = 8200;

/// The events of `op` in the log.
std::vector<Event> events_of(const GicHarness& h, const Points& points) {
    std::vector<Event> out;
    std::copy_if(h.log.events().begin(), h.log.events().end(), std::back_inserter(out),
                 [&](const Event& e) { return points.matches(e); });
    return out;
}

/// Every declaration of ITS.translate: the MSI translated (to an LPI or a vLPI) or dropped.
Points translations() {
    return {tp::kItsTranslate, tp::kItsTranslateVirtual, tp::kItsTranslateIgnored, tp::kItsTranslateNoCollectionIgnored,
            tp::kItsTranslateNoVpeIgnored};
}

int64_t int_arg(const Event& e, const std::string& key) {
    for (const EventArg& a : e.args)
        if (a.key == key) return std::get<int64_t>(a.value);
    throw std::logic_error("no argument " + key);
}

/// Device `device` on ITS `its`: event 0 is LPI `lpi` in collection 0 (redistributor 0).
void map_lpi(GicHarness& h, unsigned its, uint32_t device, uint32_t lpi) {
    h.map_device(device, its);
    h.cmd(build::mapc(0, 0, true), its);
    h.cmd(build::mapti(device, 0, lpi, 0), its);
    h.lpi_config(lpi, 0xA0, true);
}

GicConfig two_its() {
    GicConfig c = test_config();
    c.its_count = 2;
    return c;
}

// reference/arm_virt_machine.md §1: QEMU virt's ITS is at 0x0808_0000 with GITS_TRANSLATER at
// +0x1_0040; GicConfig's default puts ITS 0 there and further ITSs in 256 KiB windows after it.
TEST(MsiBus, DefaultItsFramesFollowQemuVirt) {
    GicHarness h(two_its());
    EXPECT_EQ(h.gic.translater_address(0), 0x0809'0040u);
    EXPECT_EQ(h.gic.translater_address(1), 0x080D'0040u);
    EXPECT_THROW(h.gic.translater_address(2), std::logic_error);
}

// reference/arm §1.1: an MSI write of EventID to GITS_TRANSLATER, tagged with the DeviceID, is
// translated; on the bus the data is the EventID and the requester id the DeviceID.
TEST(MsiBus, WriteToTheTranslaterOfIts0Translates) {
    GicHarness h;
    h.enable_lpis(0);
    map_lpi(h, 0, 3, kLpi);
    h.gic.msi(MsiWrite{0x0809'0040, 0, 3});
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
    std::vector<Event> t = events_of(h, translations());
    ASSERT_EQ(t.size(), 1u) << h.text();
    EXPECT_EQ(t[0].kind, EventKind::Op);
    EXPECT_EQ(int_arg(t[0], "its"), 0);
    EXPECT_EQ(int_arg(t[0], "device"), 3);
    EXPECT_EQ(int_arg(t[0], "event"), 0);
    EXPECT_EQ(h.count(EventKind::GuestError), 0u) << h.text();
}

// reference/arm §1.1, §1.7: each ITS translates the MSIs written to its own GITS_TRANSLATER,
// through its own tables: the address picks the ITS.
TEST(MsiBus, WriteToTheTranslaterOfASecondItsTranslatesThere) {
    GicHarness h(two_its());
    h.enable_lpis(0);
    map_lpi(h, 0, 3, kLpi);
    map_lpi(h, 1, 4, kLpi + 1);  // device 4 is behind ITS 1 only
    h.gic.msi(MsiWrite{h.gic.translater_address(1), 0, 4});
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpi + 1));
    std::vector<Event> t = events_of(h, translations());
    ASSERT_EQ(t.size(), 1u) << h.text();
    EXPECT_EQ(t[0].kind, EventKind::Op);
    EXPECT_EQ(int_arg(t[0], "its"), 1);
    h.gic.msi(MsiWrite{h.gic.translater_address(0), 0, 4});  // ITS 0 does not know device 4
    t = events_of(h, translations());
    ASSERT_EQ(t.size(), 2u) << h.text();
    EXPECT_EQ(t[1].kind, EventKind::Ignored);
    EXPECT_EQ(int_arg(t[1], "its"), 0);
    EXPECT_FALSE(h.gic.rd(0).lpi_pending(kLpi));
    h.gic.msi(MsiWrite{h.gic.translater_address(0), 0, 3});
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
}

// reference/arm §1.1 (DeviceID from the bus): the requester id, not the address or data, names
// the device.
TEST(MsiBus, TheRequesterIdIsTheDeviceId) {
    GicHarness h;
    h.enable_lpis(0);
    map_lpi(h, 0, 3, kLpi);
    map_lpi(h, 0, 4, kLpi + 1);
    h.gic.msi(MsiWrite{h.gic.translater_address(0), 0, 4});
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpi + 1));
    EXPECT_FALSE(h.gic.rd(0).lpi_pending(kLpi));
}

// config.h GicConfig::its_base: the ITS frames are where the configuration puts them; the virt
// address then decodes to nothing.
TEST(MsiBus, TheTranslaterIsWhereTheConfigurationPutsTheIts) {
    GicConfig c = test_config();
    c.its_base[0] = 0x1000'0000;
    GicHarness h(c);
    h.enable_lpis(0);
    map_lpi(h, 0, 3, kLpi);
    ASSERT_EQ(h.gic.translater_address(0), 0x1001'0040u);
    h.gic.msi(MsiWrite{0x0809'0040, 0, 3});
    EXPECT_FALSE(h.gic.rd(0).lpi_pending(kLpi));
    EXPECT_EQ(events_of(h, tp::kBusNoTranslaterError).size(), 1u) << h.text();
    h.gic.msi(MsiWrite{0x1001'0040, 0, 3});
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
}

// gic.h Gic::msi (the model's policy: the reference says nothing of a write that reaches no
// ITS): a write to an address that is no ITS's GITS_TRANSLATER raises no interrupt and is
// dropped with one GuestError BUS.no_translater naming the write. Not even a write into an ITS's
// frames reaches its registers: the write to GITS_CTLR's address leaves the ITS enabled.
TEST(MsiBus, AWriteThatHitsNoTranslaterIsLoggedAndDropped) {
    GicHarness h;
    h.enable_lpis(0);
    map_lpi(h, 0, 3, kLpi);
    const uint64_t its0 = h.gic.translater_address(0) - GITS_TRANSLATER;
    const std::vector<uint64_t> misses = {
        its0,                                    // GITS_CTLR (data 0 would disable the ITS)
        h.gic.translater_address(0) + 4,         // beside GITS_TRANSLATER
        h.gic.translater_address(0) - 0x4'0000,  // where no ITS is
        its0 + kItsWindow + GITS_TRANSLATER,     // ITS 1's default place, in a GIC with one ITS
        0,
    };
    for (uint64_t address : misses) {
        SCOPED_TRACE(address);
        const size_t errors = h.count(EventKind::GuestError), events = h.log.events().size();
        h.gic.msi(MsiWrite{address, 0, 3});
        ASSERT_EQ(h.log.events().size(), events + 1) << h.text();
        const Event& e = h.log.events().back();
        EXPECT_EQ(e.point, &tp::kBusNoTranslaterError) << to_string(e);
        EXPECT_EQ(h.count(EventKind::GuestError), errors + 1);
        ASSERT_EQ(e.args.size(), 3u);
        EXPECT_EQ(e.args[0].key, "address");
        EXPECT_EQ(std::get<Hex>(e.args[0].value).value, address);
        EXPECT_EQ(e.args[2].key, "requester");
        EXPECT_FALSE(h.gic.rd(0).lpi_pending(kLpi));
    }
    EXPECT_TRUE(events_of(h, translations()).empty());
    EXPECT_TRUE(h.gic.its(0).enabled());
    h.gic.msi(MsiWrite{h.gic.translater_address(0), 0, 3});  // and the right address still works
    EXPECT_TRUE(h.gic.rd(0).lpi_pending(kLpi));
}

// config.h GicConfig::its_base: ITS frames are 64 KiB aligned and no two ITSs' frames overlap;
// a configuration that breaks either is refused.
TEST(MsiBus, OverlappingOrMisalignedItsFramesAreRefused) {
    Memory mem;
    EventLog log;
    GicConfig overlap = two_its();
    overlap.its_base[1] = overlap.its_base[0] + 0x2'0000;  // ITS 0's vSGI frame
    EXPECT_THROW(Gic(overlap, mem.host, log), std::logic_error);
    GicConfig misaligned = test_config();
    misaligned.its_base[0] += 0x1000;
    EXPECT_THROW(Gic(misaligned, mem.host, log), std::logic_error);
    GicConfig apart = two_its();
    apart.its_base[1] = apart.its_base[0] + kItsFrameBytes;
    EXPECT_NO_THROW(Gic(apart, mem.host, log));
}

}  // namespace
}  // namespace irqdiff::arm::testing
