// A GIC with its tables, command queue and LPI tables laid out in host memory, driven the way a
// hypervisor drives it: register writes, commands through the queue, MSIs on the bus. Shared
// by the tests in tests/arm_gic.
//
// Host memory layout:
//   0x0010'0000  command queue of ITS i at + i * 64 KiB (64 KiB: CBASER.Size = 15)
//   0x0020'0000  device table (flat, 64 KiB pages x 4), ITS i at + i * 256 KiB
//   0x0030'0000  collection table (flat, one 4 KiB page), ITS i at + i * 4 KiB
//   0x0040'0000  vPE table (flat, 64 KiB pages x 2; shared by every ITS and, on 4.1, the RDs)
//   0x0100'0000  ITT of DeviceID d at + d * 4 KiB (256 events of 16 bytes)
//   0x0200'0000  VPT of vPE v at + v * 64 KiB (16 ID bits: 8 KiB used)
//   0x0300'0000  vLPI configuration table (one per VM; 64 KiB aligned)
//   0x0400'0000  physical LPI configuration table (PROPBASER, 16 ID bits)
//   0x0500'0000  physical LPI pending table of redistributor r at + r * 64 KiB
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>

#include "arm_gic/hw/gic.h"
#include "arm_gic/places.h"
#include "arm_gic/trace_points.h"
#include "tests/event_match.h"

namespace irqdiff {
/// gtest prints a location as PLACE[INDEX] or PLACE[INDEX] (not live).
inline void PrintTo(const Location& l, std::ostream* os) {
    *os << (l.place ? l.place->name : "?") << "[" << l.index << "]" << (l.live ? "" : " (not live)");
}
}  // namespace irqdiff

namespace irqdiff::arm::testing {

inline constexpr uint64_t kQueue = 0x0010'0000;
inline constexpr uint64_t kDeviceTable = 0x0020'0000;
inline constexpr uint64_t kCollectionTable = 0x0030'0000;
inline constexpr uint64_t kVpeTable = 0x0040'0000;
inline constexpr uint64_t kIttBase = 0x0100'0000;
inline constexpr uint64_t kVptBase = 0x0200'0000;
inline constexpr uint64_t kVconf = 0x0300'0000;
inline constexpr uint64_t kPropTable = 0x0400'0000;
inline constexpr uint64_t kPendBase = 0x0500'0000;
inline constexpr uint32_t kVlpi = 8192;      // the first vINTID
inline constexpr uint32_t kDoorbell = 8300;  // a physical LPI used as a vPE doorbell

inline uint64_t itt(uint32_t device) { return kIttBase + uint64_t{device} * 0x1000; }
inline uint64_t vpt(uint32_t vpe) { return kVptBase + uint64_t{vpe} * 0x1'0000; }

inline GicConfig test_config(GicVersion version = GicVersion::V4_1) {
    GicConfig c;
    c.version = version;
    c.dirty_reads = 0;  // tests that poll Dirty set it themselves
    return c;
}

struct GicHarness {
    Memory mem;
    EventLog log;
    Gic gic;

    explicit GicHarness(GicConfig config = test_config()) : gic(config, mem.host, log) {
        for (unsigned i = 0; i < gic.its_count(); ++i) setup_its(i);
    }

    /// BASER0..2, CBASER, CWRITER = 0, then Enabled.
    void setup_its(unsigned i) {
        Its& its = gic.its(i);
        GitsBaser device;
        device.valid = true;
        device.page_size = GitsBaser::kPage64K;
        device.size = 3;
        device.phys_addr = kDeviceTable + uint64_t{i} * 0x4'0000;
        GitsBaser collection;
        collection.valid = true;
        collection.page_size = GitsBaser::kPage4K;
        collection.phys_addr = kCollectionTable + uint64_t{i} * 0x1000;
        GitsBaser vpe;
        vpe.valid = true;
        vpe.page_size = GitsBaser::kPage64K;
        vpe.size = 1;
        vpe.phys_addr = kVpeTable;
        its.write64(gits_baser(0), device.encode());
        its.write64(gits_baser(1), collection.encode());
        its.write64(gits_baser(2), vpe.encode());
        its.write64(GITS_CBASER, GitsCbaser::Valid.make(1) | (kQueue + uint64_t{i} * 0x1'0000) | GitsCbaser::Size.make(15));
        its.write64(GITS_CWRITER, 0);
        its.write(GITS_CTLR, GitsCtlr::Enabled.make(1), 4);
    }

    /// Puts a command in ITS i's queue and advances GITS_CWRITER past it, as a driver does.
    void cmd(const ItsCommand& c, unsigned i = 0) {
        Its& its = gic.its(i);
        uint64_t base = kQueue + uint64_t{i} * 0x1'0000;
        uint64_t slot = its.cwriter();
        uint8_t bytes[ItsCommand::kBytes];
        c.encode(bytes);
        mem.host.write_bytes(base + slot, bytes);
        its.write64(GITS_CWRITER, (slot + ItsCommand::kBytes) % 0x1'0000);
    }

    /// Device `device` sends MSI `event` to ITS i: a bus write of the EventID to its GITS_TRANSLATER.
    void msi(uint32_t device, uint32_t event, unsigned i = 0) {
        gic.msi(MsiWrite{gic.translater_address(i), event, device});
    }

    /// PROPBASER (16 ID bits), PENDBASER (PTZ), EnableLPIs on redistributor r.
    void enable_lpis(unsigned r) {
        Redistributor& rd = gic.rd(r);
        rd.write64(GICR_PROPBASER, kPropTable | GicrPropbaser::IDbits.make(15));
        rd.write64(GICR_PENDBASER, (kPendBase + uint64_t{r} * 0x1'0000) | GicrPendbaser::PTZ.make(1));
        rd.write(GICR_CTLR, GicrCtlr::EnableLPIs.make(1), 4);
    }

    void lpi_config(uint32_t intid, uint8_t priority, bool enable) {
        mem.host.write8(kPropTable + (intid - 8192), static_cast<uint8_t>((priority & 0xFC) | 2 | (enable ? 1 : 0)));
    }
    void vlpi_config(uint32_t vintid, uint8_t priority, bool enable, uint64_t vconf = kVconf) {
        mem.host.write8(vconf + (vintid - 8192), static_cast<uint8_t>((priority & 0xFC) | 2 | (enable ? 1 : 0)));
    }

    /// A physical device d with 256 events (ITT at itt(d)).
    void map_device(uint32_t d, unsigned i = 0) { cmd(build::mapd(d, 7, itt(d), true), i); }

    /// VMAPP V=1 of vPE v to redistributor r (GICv4.1 fields ignored on 4.0).
    void map_vpe(uint32_t v, uint16_t r, bool ptz = true, uint32_t doorbell = kDoorbell, unsigned i = 0) {
        build::Vmapp m;
        m.vpeid = v;
        m.rdbase = r;
        m.vpt_addr = vpt(v);
        m.vpt_size = 15;
        m.alloc = true;
        m.ptz = ptz;
        m.vconf_addr = kVconf;
        m.default_doorbell = doorbell;
        cmd(build::vmapp(m), i);
    }

    /// Makes vPE v resident on redistributor r (4.1: vPEID; 4.0: its VPT and VPROPBASER).
    void schedule(unsigned r, uint32_t v, bool grp1 = true) {
        Redistributor& rd = gic.rd(r);
        if (gic.config().v41()) {
            Vpendbaser41 p;
            p.valid = true;
            p.vgrp1en = grp1;
            p.vpeid = static_cast<uint16_t>(v);
            rd.write64(kGicrVlpiFrame + GICR_VPENDBASER, p.encode());
        } else {
            rd.write64(kGicrVlpiFrame + GICR_VPROPBASER, kVconf | Vpropbaser40::IDbits.make(15));
            Vpendbaser40 p;
            p.valid = true;
            p.vpt_addr = vpt(v);
            rd.write64(kGicrVlpiFrame + GICR_VPENDBASER, p.encode());
        }
    }
    /// Makes the resident vPE non-resident, requesting a doorbell (GICv4.1 DB) or not.
    void deschedule(unsigned r, bool doorbell) {
        Vpendbaser41 p;
        p.db = doorbell;
        gic.rd(r).write64(kGicrVlpiFrame + GICR_VPENDBASER, p.encode());
    }
    /// The guest of CPU r lets Group 1 interrupts of every priority through.
    void open_cpu(unsigned r) {
        gic.cpu(r).write_pmr(0xFF);
        gic.cpu(r).write_igrpen1(true);
    }

    bool vpt_bit(uint32_t v, uint32_t vintid) const {
        return (mem.host.read8(vpt(v) + vintid / 8).value >> (vintid % 8)) & 1;
    }
    size_t count(EventKind kind) const {
        return static_cast<size_t>(std::count_if(log.events().begin(), log.events().end(),
                                                 [&](const Event& e) { return e.kind == kind; }));
    }
    size_t count(const Points& points) const { return count_events(log.events(), points); }
    std::string text() const { return log.to_text(); }
};

}  // namespace irqdiff::arm::testing
