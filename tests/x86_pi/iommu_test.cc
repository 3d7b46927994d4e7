// The VT-d interrupt-remapping unit, one rule per test: remapped delivery and its DST decoding, the
// posting truth table of VT-d §5.2.3 and coalescing, every blocked request (fault or, with FPD=1,
// ignored), source-id validation, and the interrupt entry cache (stale entries, index-selective
// and global invalidation, SIRTP).
#include "x86_pi/hw/iommu.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "tests/event_match.h"
#include "x86_pi/trace_points.h"

namespace irqdiff::x86 {
namespace {

constexpr uint64_t kIrt = 0x1000'0000;               // 4 KiB aligned (IRTA[63:12])
constexpr uint64_t kPid = 0x2000'0040;               // 64-byte aligned
constexpr uint8_t kNv = 0xF2;                        // POSTED_INTR_VECTOR (reference §1.3)
constexpr uint64_t kBeyondHost = Memory::kHostSize;  // first address outside host memory

constexpr uint64_t bit(unsigned n) { return uint64_t{1} << n; }

/// Host memory, an event log and an IOMMU programmed with a table at kIrt.
struct Rig {
    AddressSpace mem{"host", Memory::kHostSize};
    EventLog log;
    Iommu iommu{mem, log};

    explicit Rig(bool x2apic = false, unsigned s = 7) { program(x2apic, s); }
    Rig(const Rig&) = delete;

    void program(bool x2apic, unsigned s, uint64_t irt = kIrt) {
        iommu.write_irta(IrtaReg::IRTA.get_in_place(irt) | IrtaReg::EIME.make(x2apic) | IrtaReg::S.make(s));
        iommu.set_irtp();
        iommu.enable(true);
    }
    void put(uint32_t index, IrteWords w) {
        EXPECT_EQ(mem.write64(iommu.entry_address(index), w.low), MemFault::None);
        EXPECT_EQ(mem.write64(iommu.entry_address(index) + 8, w.high), MemFault::None);
    }
    void put_pid(const PiDesc& d, uint64_t at = kPid) { ASSERT_TRUE(write_pi_desc(mem, at, d).ok()); }
    PiDesc pid(uint64_t at = kPid) const {
        PiDescRead r = read_pi_desc(mem, at);
        EXPECT_TRUE(r.ok());
        return r.value;
    }
    std::array<uint8_t, kPiDescBytes> pid_bytes(uint64_t at = kPid) const {
        std::array<uint8_t, kPiDescBytes> b{};
        EXPECT_EQ(mem.read_bytes(at, b), MemFault::None);
        return b;
    }
    IrResult request(uint16_t handle, uint16_t sid = 0, uint32_t data = 0) {
        return iommu.request(MsiRequest{RemappableMsi::address(handle), data, sid});
    }
    const Event* last(const Points& points) const { return last_event(log.events(), points); }
};

const ArgValue* arg(const Event& e, std::string_view key) {
    for (const EventArg& a : e.args)
        if (a.key == key) return &a.value;
    return nullptr;
}

RemappedIrte remapped(uint8_t vector, uint32_t dst = 0) { return {.present = true, .vector = vector, .dst = dst}; }
PostedIrte posted(uint8_t vv, bool urg = false, uint64_t pda = kPid) {
    return {.present = true, .urg = urg, .vv = vv, .pda = pda};
}
PiDesc descriptor(bool on = false, bool sn = false, uint32_t ndst = 0x0200) {
    PiDesc d;
    d.on = on;
    d.sn = sn;
    d.nv = kNv;
    d.ndst = ndst;
    return d;
}

/// A blocked request: no message, the fault, and one IOMMU.fault record of `kind` naming it.
void expect_blocked(const Rig& rig, const IrResult& r, IrFault fault, EventKind kind = EventKind::GuestError) {
    EXPECT_EQ(r.kind, IrResult::Kind::Blocked);
    EXPECT_EQ(r.fault, fault) << to_string(r.fault);
    EXPECT_FALSE(r.message.has_value());
    ASSERT_FALSE(rig.log.events().empty());
    const Event& e = rig.log.events().back();
    EXPECT_EQ(e.point, kind == EventKind::Ignored ? static_cast<const TracePointInfo*>(&tp::kIommuFaultIgnored)
                                                  : &tp::kIommuFaultError)
        << to_string(e);
    const ArgValue* reason = arg(e, "reason");
    ASSERT_NE(reason, nullptr);
    EXPECT_EQ(*reason, ArgValue(std::string(to_string(fault))));
}

// ---------------------------------------------------------------------------------------------
// Remapped delivery

struct DstCase {
    bool x2apic;
    uint32_t dst;
    uint32_t apic_id;
};

class IommuRemapDst : public ::testing::TestWithParam<DstCase> {};

// VT-d §9.9 with the NDST encoding of reference §1.1: with IRTA.EIME=0 the APIC ID is DST[15:8];
// with EIME=1 (x2APIC) it is the full 32-bit DST. The message carries the entry's vector.
TEST_P(IommuRemapDst, RemappedEntryNamesApicIdFromDstAndItsVector) {
    const DstCase c = GetParam();
    Rig rig(c.x2apic);
    rig.put(9, remapped(0x61, c.dst).encode());
    IrResult r = rig.request(9);
    EXPECT_EQ(r.kind, IrResult::Kind::Remapped);
    EXPECT_EQ(r.fault, IrFault::None);
    EXPECT_EQ(r.index, 9u);
    ASSERT_TRUE(r.message.has_value());
    EXPECT_EQ(r.message->apic_id, c.apic_id);
    EXPECT_EQ(r.message->vector, 0x61);
    const Event* e = rig.last(tp::kIommuRemap);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->kind, EventKind::Op);
}

INSTANTIATE_TEST_SUITE_P(XapicAndX2apic, IommuRemapDst,
                         ::testing::Values(DstCase{false, 0x0000'0300, 3}, DstCase{false, 0x0000'FF00, 0xFF},
                                           DstCase{false, 0x0000'0000, 0}, DstCase{true, 0x0000'0003, 3},
                                           DstCase{true, 0x0000'0300, 0x300}, DstCase{true, 0x0001'0002, 0x1'0002}),
                         [](const auto& info) {
                             return std::string(info.param.x2apic ? "x2apic_" : "xapic_") +
                                    std::to_string(info.param.dst);
                         });

// IOMMU model (iommu.cc): the host driver programs physical, Fixed delivery; a logical destination
// (DM=1) or another delivery mode reaches no modelled CPU and is blocked.
TEST(IommuRemap, LogicalOrNonFixedDeliveryIsBlocked) {
    Rig rig;
    RemappedIrte logical = remapped(0x61, 0x0100);
    logical.dm = true;
    RemappedIrte lowest = remapped(0x61, 0x0100);
    lowest.dlm = 1;
    rig.put(1, logical.encode());
    rig.put(2, lowest.encode());
    expect_blocked(rig, rig.request(1), IrFault::UnsupportedDelivery);
    expect_blocked(rig, rig.request(2), IrFault::UnsupportedDelivery);
}

// ---------------------------------------------------------------------------------------------
// Posting (VT-d §5.2.3, reference §2.1)

struct PostCase {
    bool on, sn, urg;
};

class IommuPostTruthTable : public ::testing::TestWithParam<PostCase> {};

// VT-d §5.2.3 step 3c/4 [reference §2.1]: PIR[VV] is set in every case; X = (ON==0) && (URG || SN==0);
// ON is set and the notification returned only when X. SN, NV, NDST and other PIR bits are kept.
TEST_P(IommuPostTruthTable, SetsPirAlwaysAndOnWithNotificationOnlyWhenX) {
    const PostCase c = GetParam();
    const bool x = !c.on && (c.urg || !c.sn);
    Rig rig;
    PiDesc before = descriptor(c.on, c.sn, ndst_for_apic_id(2, false));
    before.pir.set(0x20);
    rig.put_pid(before);
    rig.put(4, posted(0x41, c.urg).encode());

    IrResult r = rig.request(4);
    EXPECT_EQ(r.kind, IrResult::Kind::Posted);
    EXPECT_EQ(r.fault, IrFault::None);
    EXPECT_EQ(r.index, 4u);
    PiDesc after = rig.pid();
    EXPECT_TRUE(after.pir.test(0x41));
    EXPECT_TRUE(after.pir.test(0x20));
    EXPECT_EQ(after.pir.count(), 2u);
    EXPECT_EQ(after.on, c.on || x);
    EXPECT_EQ(after.sn, c.sn);
    EXPECT_EQ(after.nv, kNv);
    EXPECT_EQ(after.ndst, before.ndst);
    EXPECT_EQ(r.message.has_value(), x);
    if (x) {
        EXPECT_EQ(r.message->apic_id, 2u);
        EXPECT_EQ(r.message->vector, kNv);
    }
    const Event* e = rig.last(tp::kIommuPost);
    ASSERT_NE(e, nullptr);
    ASSERT_NE(arg(*e, "notify"), nullptr);
    EXPECT_EQ(*arg(*e, "notify"), ArgValue(x));
}

INSTANTIATE_TEST_SUITE_P(OnSnUrg, IommuPostTruthTable,
                         ::testing::Values(PostCase{false, false, false}, PostCase{false, false, true},
                                           PostCase{false, true, false}, PostCase{false, true, true},
                                           PostCase{true, false, false}, PostCase{true, false, true},
                                           PostCase{true, true, false}, PostCase{true, true, true}),
                         [](const auto& info) {
                             return std::string("on") + (info.param.on ? "1" : "0") + "_sn" +
                                    (info.param.sn ? "1" : "0") + "_urg" + (info.param.urg ? "1" : "0");
                         });

// VT-d §5.2.3 step c [reference §2.1 "re-posting the same vector is idempotent, but still evaluates X"]:
// an already-set PIR bit with ON=0, SN=0 still sets ON and notifies; with ON=1 it coalesces silently.
TEST(IommuPost, RepostOfSetPirBitStillEvaluatesX) {
    Rig rig;
    rig.put(4, posted(0x41).encode());
    PiDesc d = descriptor();
    d.pir.set(0x41);
    rig.put_pid(d);

    IrResult first = rig.request(4);
    EXPECT_TRUE(first.message.has_value());
    EXPECT_TRUE(rig.pid().on);
    const Event* e = rig.last(tp::kIommuPost);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(*arg(*e, "coalesced"), ArgValue(true));

    IrResult second = rig.request(4);  // ON=1 now: coalesced, no notification
    EXPECT_EQ(second.kind, IrResult::Kind::Posted);
    EXPECT_FALSE(second.message.has_value());
    EXPECT_EQ(rig.pid().pir.count(), 1u);
    EXPECT_EQ(*arg(*rig.last(tp::kIommuPost), "coalesced"), ArgValue(true));
    EXPECT_EQ(*arg(*rig.last(tp::kIommuPost), "notify"), ArgValue(false));
}

// VT-d §5.2.3: a post of a vector not yet in PIR is logged as not coalesced.
TEST(IommuPost, FirstPostOfAVectorIsNotCoalesced) {
    Rig rig;
    rig.put(4, posted(0x41).encode());
    rig.put_pid(descriptor());
    rig.request(4);
    const Event* e = rig.last(tp::kIommuPost);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(*arg(*e, "coalesced"), ArgValue(false));
}

struct NotifyCase {
    bool x2apic;
    uint32_t ndst;
    uint8_t nv;
    uint32_t apic_id;
};

class IommuPostNotify : public ::testing::TestWithParam<NotifyCase> {};

// VT-d §5.2.3 step 4, §9.11 [reference §1.1, §2.1]: the notification is vector NV to the physical APIC
// ID in NDST, decoded as xAPIC (NDST[15:8]) or x2APIC (all 32 bits) per IRTA.EIME.
TEST_P(IommuPostNotify, NotificationGoesToNdstWithNv) {
    const NotifyCase c = GetParam();
    Rig rig(c.x2apic);
    PiDesc d = descriptor(false, false, c.ndst);
    d.nv = c.nv;
    rig.put_pid(d);
    rig.put(0, posted(0x55).encode());
    IrResult r = rig.request(0);
    ASSERT_TRUE(r.message.has_value());
    EXPECT_EQ(r.message->apic_id, c.apic_id);
    EXPECT_EQ(r.message->vector, c.nv);
}

INSTANTIATE_TEST_SUITE_P(XapicAndX2apic, IommuPostNotify,
                         ::testing::Values(NotifyCase{false, 0x0000'0500, 0xF2, 5},
                                           NotifyCase{false, 0x0000'FF00, 0xF1, 0xFF},
                                           NotifyCase{true, 0x0000'0005, 0xF2, 5},
                                           NotifyCase{true, 0x0000'0500, 0xF2, 0x500},
                                           NotifyCase{true, 0x0001'0005, 0xF1, 0x1'0005}),
                         [](const auto& info) {
                             return std::string(info.param.x2apic ? "x2apic_" : "xapic_") +
                                    std::to_string(info.param.ndst) + "_nv" + std::to_string(info.param.nv);
                         });

// reference §1.2: VV is the vector posted into PIR, not the notification vector; PIR vector v sits
// at byte v/8 bit v%8 (reference §1.1), for every vector.
TEST(IommuPost, EveryVirtualVectorSetsItsOwnPirBit) {
    for (unsigned v = 0; v < 256; ++v) {
        Rig rig;
        rig.put_pid(descriptor(true));
        rig.put(3, posted(static_cast<uint8_t>(v)).encode());
        ASSERT_EQ(rig.request(3).kind, IrResult::Kind::Posted);
        std::array<uint8_t, kPiDescBytes> b = rig.pid_bytes();
        for (unsigned i = 0; i < 32; ++i)
            ASSERT_EQ(b[i], i == v / 8 ? (1u << (v % 8)) : 0u) << "vector " << v << " byte " << i;
    }
}

// ---------------------------------------------------------------------------------------------
// Blocked requests (VT-d §5.1 fault conditions; reference §2.1 step 1)

// IOMMU model (iommu.h): with GCMD.IRE=0 the model has no pass-through, so the request is blocked.
TEST(IommuFault, RemappingDisabledBlocks) {
    Rig rig;
    rig.put(0, remapped(0x30, 0x100).encode());
    rig.iommu.enable(false);
    expect_blocked(rig, rig.request(0), IrFault::RemappingDisabled);
    rig.iommu.enable(true);
    EXPECT_EQ(rig.request(0).kind, IrResult::Kind::Remapped);
}

// VT-d §5.1.2.2 (iommu.h): a compatibility-format request (address bit 4 = 0) is blocked.
TEST(IommuFault, CompatibilityFormatRequestIsBlocked) {
    Rig rig;
    rig.put(0, remapped(0x30).encode());
    uint64_t compat = RemappableMsi::Address::Remappable.set(RemappableMsi::address(0), 0);
    EXPECT_EQ(compat, 0xFEE0'0000u);
    expect_blocked(rig, rig.iommu.request(MsiRequest{compat, 0x30, 0}), IrFault::NotRemappable);
}

// VT-d §5.1.2.2 (iommu.h): an interrupt request's address is FEEh in bits 31:20 and nothing above
// bit 31; anything else is a malformed request.
TEST(IommuFault, AddressOutsideTheFeeWindowIsBlocked) {
    Rig rig;
    rig.put(0, remapped(0x30).encode());
    uint64_t good = RemappableMsi::address(0);
    uint64_t fed = RemappableMsi::Address::Fee.set(good, 0xFED);
    expect_blocked(rig, rig.iommu.request(MsiRequest{fed, 0, 0}), IrFault::ReservedRequest);
    expect_blocked(rig, rig.iommu.request(MsiRequest{good | bit(32), 0, 0}), IrFault::ReservedRequest);
    EXPECT_EQ(rig.iommu.request(MsiRequest{good, 0, 0}).kind, IrResult::Kind::Remapped);
}

// VT-d §5.1.2.2 (iommu.h): with SHV=1 the data's bits 31:16 are reserved.
TEST(IommuFault, ShvWithReservedDataBitsIsBlocked) {
    Rig rig;
    rig.put(2, remapped(0x30).encode());
    uint64_t addr = RemappableMsi::Address::SHV.set(RemappableMsi::address(1), 1);
    for (unsigned b = 16; b < 32; ++b)
        expect_blocked(rig, rig.iommu.request(MsiRequest{addr, static_cast<uint32_t>(bit(b)) | 1u, 0}),
                       IrFault::ReservedRequest);
    EXPECT_EQ(rig.iommu.request(MsiRequest{addr, 1u, 0}).kind, IrResult::Kind::Remapped);
}

class IommuTableSize : public ::testing::TestWithParam<unsigned> {};

// IRTA_REG.S (iommu.h): the table has 2^(S+1) entries; the last one is used, one beyond is blocked.
TEST_P(IommuTableSize, IndexBeyondTwoToTheSPlusOneIsBlocked) {
    const unsigned s = GetParam();
    const uint32_t entries = 2u << s;
    Rig rig(false, s);
    EXPECT_EQ(rig.iommu.table_entries(), entries);
    rig.put(entries - 1, remapped(0x70).encode());
    rig.put(entries, remapped(0x71).encode());  // in memory, but outside the table
    IrResult last = rig.request(static_cast<uint16_t>(entries - 1));
    EXPECT_EQ(last.kind, IrResult::Kind::Remapped);
    EXPECT_EQ(last.index, entries - 1);
    IrResult beyond = rig.request(static_cast<uint16_t>(entries));
    expect_blocked(rig, beyond, IrFault::IndexOutOfRange);
    EXPECT_EQ(beyond.index, entries);
}

INSTANTIATE_TEST_SUITE_P(SomeSizes, IommuTableSize, ::testing::Values(0u, 1u, 3u, 7u, 14u));

// IRTA_REG.S=15 gives 65536 entries: every 16-bit handle (HANDLE[15] in address bit 2) is in range;
// only a subhandle can reach past the end.
TEST(IommuFault, LargestTableIsOnlyExceededThroughASubhandle) {
    Rig rig(false, 15);
    EXPECT_EQ(rig.iommu.table_entries(), 65536u);
    rig.put(0xFFFF, remapped(0x7F).encode());
    rig.put(0x8000, remapped(0x80).encode());
    EXPECT_EQ(rig.request(0xFFFF).message->vector, 0x7F);
    IrResult high = rig.request(0x8000);
    EXPECT_EQ(high.index, 0x8000u);
    EXPECT_EQ(high.message->vector, 0x80);
    uint64_t addr = RemappableMsi::Address::SHV.set(RemappableMsi::address(0xFFFF), 1);
    IrResult over = rig.iommu.request(MsiRequest{addr, 1, 0});
    expect_blocked(rig, over, IrFault::IndexOutOfRange);
    EXPECT_EQ(over.index, 0x10000u);
}

// Handle layout (iommu.h): HANDLE[14:0] in address bits 19:5 and HANDLE[15] in bit 2.
TEST(IommuRemap, HandleBitsSitInTheAddress) {
    EXPECT_EQ(RemappableMsi::address(0), 0xFEE0'0010u);
    EXPECT_EQ(RemappableMsi::address(1), 0xFEE0'0030u);
    EXPECT_EQ(RemappableMsi::address(0x7FFF), 0xFEEF'FFF0u);
    EXPECT_EQ(RemappableMsi::address(0x8000), 0xFEE0'0014u);
}

// iommu.h: an IRTE that cannot be read (the table lies outside host memory) blocks the request.
TEST(IommuFault, UnreadableEntryIsBlocked) {
    Rig rig;
    rig.program(false, 7, kBeyondHost);
    expect_blocked(rig, rig.request(0), IrFault::IrtAccess);
}

// reference §1.2: P=0 blocks requests, with a fault recorded unless FPD=1 (then only ignored).
TEST(IommuFault, NotPresentEntryIsBlockedAndFpdSuppressesTheRecord) {
    Rig rig;
    rig.put(0, RemappedIrte{.vector = 0x30}.encode());
    rig.put(1, RemappedIrte{.fpd = true, .vector = 0x30}.encode());
    rig.put(2, PostedIrte{.vv = 0x30, .pda = kPid}.encode());
    rig.put_pid(descriptor());
    expect_blocked(rig, rig.request(0), IrFault::NotPresent);
    expect_blocked(rig, rig.request(1), IrFault::NotPresent, EventKind::Ignored);
    expect_blocked(rig, rig.request(2), IrFault::NotPresent);
    EXPECT_FALSE(rig.pid().pir.any());
}

struct ReservedCase {
    bool posted;
    bool high;  // which 64-bit half
};

class IommuReservedIrte : public ::testing::TestWithParam<ReservedCase> {};

// reference §1.2 (posted reserved 7:2, 13:12, 37:24, 95:84; irte.h remapped reserved 14:12, 31:24,
// 127:84): any reserved bit set makes the entry invalid and blocks the request; the PID is untouched.
TEST_P(IommuReservedIrte, EachReservedBitBlocksTheRequest) {
    const ReservedCase c = GetParam();
    const uint64_t mask = c.posted ? (c.high ? PostedIrte::kReservedHigh : PostedIrte::kReservedLow)
                                   : (c.high ? RemappedIrte::kReservedHigh : RemappedIrte::kReservedLow);
    const IrteWords good = c.posted ? posted(0x41).encode() : remapped(0x41, 0x100).encode();
    Rig rig;
    rig.put_pid(descriptor());
    unsigned tried = 0;
    for (unsigned b = 0; b < 64; ++b) {
        if (!(mask & bit(b))) continue;
        ++tried;
        IrteWords w = good;
        (c.high ? w.high : w.low) |= bit(b);
        rig.put(5, w);
        rig.iommu.invalidate_iec(5, 0);
        expect_blocked(rig, rig.request(5), IrFault::ReservedIrte);
        if (testing::Test::HasFailure()) {
            ADD_FAILURE() << "reserved bit " << (c.high ? 64 + b : b);
            return;
        }
    }
    EXPECT_GT(tried, 0u);
    EXPECT_FALSE(rig.pid().pir.any());
    rig.put(5, good);  // the same entry without reserved bits works
    rig.iommu.invalidate_iec(5, 0);
    EXPECT_EQ(rig.request(5).kind, c.posted ? IrResult::Kind::Posted : IrResult::Kind::Remapped);
}

INSTANTIATE_TEST_SUITE_P(BothFormatsBothHalves, IommuReservedIrte,
                         ::testing::Values(ReservedCase{false, false}, ReservedCase{false, true},
                                           ReservedCase{true, false}, ReservedCase{true, true}),
                         [](const auto& info) {
                             return std::string(info.param.posted ? "posted_" : "remapped_") +
                                    (info.param.high ? "high" : "low");
                         });

// The reserved-bit masks match the reference's tables exactly.
TEST(IommuReservedIrteMasks, MatchTheReference) {
    // reference §1.2: posted reserved 7:2, 13:12, 37:24 and (high half) 95:84 = bits 31:20.
    EXPECT_EQ(PostedIrte::kReservedLow, 0x0000'003F'FF00'30FCu);
    EXPECT_EQ(PostedIrte::kReservedHigh, 0x0000'0000'FFF0'0000u);
    // irte.h: remapped reserved 14:12, 31:24, and 127:84 (high bits 63:20).
    EXPECT_EQ(RemappedIrte::kReservedLow, 0x0000'0000'FF00'7000u);
    EXPECT_EQ(RemappedIrte::kReservedHigh, 0xFFFF'FFFF'FFF0'0000u);
}

// VT-d §9.10 (iommu.cc): SVT=3 is a reserved encoding: the entry is invalid.
TEST(IommuFault, ReservedSvtBlocksInBothFormats) {
    Rig rig;
    rig.put_pid(descriptor());
    RemappedIrte r = remapped(0x30);
    r.svt = 3;
    PostedIrte p = posted(0x30);
    p.svt = 3;
    rig.put(0, r.encode());
    rig.put(1, p.encode());
    expect_blocked(rig, rig.request(0), IrFault::ReservedIrte);
    expect_blocked(rig, rig.request(1), IrFault::ReservedIrte);
    EXPECT_FALSE(rig.pid().pir.any());
}

class IommuSidQualifier : public ::testing::TestWithParam<unsigned> {};

// VT-d §9.10 SVT=1: the requester-id must equal SID in every bit except those SQ masks: SQ=0 none,
// 1 bit 2, 2 bits 2:1, 3 bits 2:0 (function-number bits).
TEST_P(IommuSidQualifier, Svt1ComparesAllBitsButThoseSqIgnores) {
    const unsigned sq = GetParam();
    static constexpr uint16_t kIgnored[4] = {0x0, 0x4, 0x6, 0x7};
    const uint16_t sid = 0x1230;  // bus 0x12, device 6, function 0
    Rig rig;
    PostedIrte p = posted(0x41);
    p.sid = sid;
    p.sq = static_cast<uint8_t>(sq);
    p.svt = 1;
    rig.put(6, p.encode());
    rig.put_pid(descriptor(true));
    for (uint16_t flip : {0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x100, 0x8000}) {
        const uint16_t requester = static_cast<uint16_t>(sid ^ flip);
        const bool match = (flip & ~kIgnored[sq]) == 0;
        IrResult r = rig.request(6, requester);
        if (match) {
            EXPECT_EQ(r.kind, IrResult::Kind::Posted) << "requester " << std::hex << requester;
        } else {
            expect_blocked(rig, r, IrFault::SidMismatch);
            EXPECT_NE(r.kind, IrResult::Kind::Posted) << "requester " << std::hex << requester;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(EverySq, IommuSidQualifier, ::testing::Values(0u, 1u, 2u, 3u));

// VT-d §9.10 SVT=2: the requester's bus must lie in [SID[15:8], SID[7:0]]; device/function ignored.
TEST(IommuSid, Svt2ChecksTheBusRange) {
    Rig rig;
    RemappedIrte e = remapped(0x30, 0x100);
    e.svt = 2;
    e.sid = 0x1020;  // buses 0x10..0x20
    e.sq = 3;        // SQ does not apply to SVT=2
    rig.put(0, e.encode());
    for (uint16_t requester : {0x1000, 0x10FF, 0x1800, 0x2000, 0x20FF})
        EXPECT_EQ(rig.request(0, requester).kind, IrResult::Kind::Remapped) << std::hex << requester;
    for (uint16_t requester : {0x0FFF, 0x0000, 0x2100, 0xFF00})
        expect_blocked(rig, rig.request(0, requester), IrFault::SidMismatch);
}

// VT-d §9.10 SVT=0: no source validation, whatever SID and SQ hold.
TEST(IommuSid, Svt0AcceptsAnyRequester) {
    Rig rig;
    RemappedIrte e = remapped(0x30, 0x100);
    e.sid = 0x1234;
    e.sq = 1;
    rig.put(0, e.encode());
    for (uint16_t requester : {0x0000, 0x1234, 0xFFFF, 0x0800})
        EXPECT_EQ(rig.request(0, requester).kind, IrResult::Kind::Remapped);
}

class IommuPidReserved : public ::testing::TestWithParam<unsigned> {};

// VT-d §5.2.3 step 3a [reference §2.1]: a PID with non-zero reserved fields (271:258, 287:280,
// 511:320) is invalid: the request is blocked and the descriptor is not written.
TEST_P(IommuPidReserved, ReservedDescriptorBitBlocksWithoutWriting) {
    const unsigned reserved_bit = GetParam();
    Rig rig;
    rig.put_pid(descriptor());
    uint64_t byte_at = kPid + reserved_bit / 8;
    ASSERT_EQ(rig.mem.write8(byte_at, static_cast<uint8_t>(rig.mem.read8(byte_at).value | (1u << (reserved_bit % 8)))),
              MemFault::None);
    std::array<uint8_t, kPiDescBytes> before = rig.pid_bytes();
    rig.put(0, posted(0x41).encode());
    expect_blocked(rig, rig.request(0), IrFault::PidReserved);
    EXPECT_EQ(rig.pid_bytes(), before);
}

INSTANTIATE_TEST_SUITE_P(SomeReservedBits, IommuPidReserved,
                         ::testing::Values(258u, 263u, 271u, 280u, 287u, 320u, 400u, 511u));

// VT-d §5.2.3 step 3 (iommu.h): a PID the IOMMU cannot access (outside host memory) blocks the
// request.
TEST(IommuFault, PidOutsideMemoryIsBlocked) {
    Rig rig;
    rig.put(0, posted(0x41, false, kBeyondHost).encode());
    rig.put(1, posted(0x41, false, 0xFFFF'FFFF'FFFF'FFC0).encode());  // PDAH/PDAL reach 64 bits
    expect_blocked(rig, rig.request(0), IrFault::PidAccess);
    expect_blocked(rig, rig.request(1), IrFault::PidAccess);
}

struct FpdCase {
    const char* name;
    IrFault fault;
};

class IommuFpd : public ::testing::TestWithParam<FpdCase> {};

// VT-d §9.10 FPD [reference §2.1 step 1 "block (+ fault unless FPD)"]: with FPD=1 an entry-level fault
// still blocks the request, but it is logged as ignored, not recorded as a fault.
TEST_P(IommuFpd, FpdBlocksButOnlyLogsIgnored) {
    const FpdCase c = GetParam();
    Rig rig;
    rig.put_pid(descriptor());
    PostedIrte p = posted(0x41);
    p.fpd = true;
    switch (c.fault) {
        case IrFault::NotPresent: p.present = false; break;
        case IrFault::SidMismatch:
            p.svt = 1;
            p.sid = 0x0100;
            break;
        case IrFault::PidAccess: p.pda = kBeyondHost; break;
        case IrFault::PidReserved: ASSERT_EQ(rig.mem.write8(kPid + 40, 1), MemFault::None); break;
        default: break;
    }
    IrteWords w = p.encode();
    if (c.fault == IrFault::ReservedIrte) w.low |= bit(2);
    rig.put(0, w);
    const uint64_t faults_before = rig.log.count(EventKind::GuestError);
    expect_blocked(rig, rig.request(0, 0x0200), c.fault, EventKind::Ignored);
    EXPECT_EQ(rig.log.count(EventKind::GuestError), faults_before);
}

INSTANTIATE_TEST_SUITE_P(EntryLevelFaults, IommuFpd,
                         ::testing::Values(FpdCase{"not_present", IrFault::NotPresent},
                                           FpdCase{"reserved_irte", IrFault::ReservedIrte},
                                           FpdCase{"sid_mismatch", IrFault::SidMismatch},
                                           FpdCase{"pid_access", IrFault::PidAccess},
                                           FpdCase{"pid_reserved", IrFault::PidReserved}),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// Subhandles

// VT-d §5.1.2.2 (iommu.h): with SHV=1 the entry is HANDLE + SUBHANDLE (data[15:0]); with SHV=0 the
// data does not take part in the index.
TEST(IommuRemap, SubhandleAddsToTheHandleOnlyWithShv) {
    Rig rig;
    rig.put(8, remapped(0x48).encode());
    rig.put(11, remapped(0x4B).encode());
    uint64_t shv = RemappableMsi::Address::SHV.set(RemappableMsi::address(8), 1);
    IrResult with = rig.iommu.request(MsiRequest{shv, 3, 0});
    EXPECT_EQ(with.index, 11u);
    ASSERT_TRUE(with.message.has_value());
    EXPECT_EQ(with.message->vector, 0x4B);
    IrResult without = rig.iommu.request(MsiRequest{RemappableMsi::address(8), 3, 0});
    EXPECT_EQ(without.index, 8u);
    ASSERT_TRUE(without.message.has_value());
    EXPECT_EQ(without.message->vector, 0x48);
}

// ---------------------------------------------------------------------------------------------
// Interrupt entry cache (reference §1.2: IRTE writes are followed by an IEC invalidation)

// An entry changed in memory without IEC invalidation is still used as cached; after an
// index-selective invalidation the new entry is read.
TEST(IommuIec, EntryChangedWithoutInvalidationIsStale) {
    Rig rig;
    rig.put(3, remapped(0x30, 0x100).encode());
    EXPECT_EQ(rig.request(3).message->vector, 0x30);
    EXPECT_TRUE(rig.iommu.iec_holds(3));
    rig.put(3, remapped(0x31, 0x200).encode());
    IrResult stale = rig.request(3);
    EXPECT_EQ(stale.message->vector, 0x30);
    EXPECT_EQ(stale.message->apic_id, 1u);
    rig.iommu.invalidate_iec(3, 0);
    EXPECT_FALSE(rig.iommu.iec_holds(3));
    IrResult fresh = rig.request(3);
    EXPECT_EQ(fresh.message->vector, 0x31);
    EXPECT_EQ(fresh.message->apic_id, 2u);
}

// The IEC caches the IRTE, not the PID: a remapped-to-posted conversion is invisible until the IEC is
// invalidated, while a posted entry always reads the descriptor afresh.
TEST(IommuIec, StaleRemappedEntryHidesAConversionToPosted) {
    Rig rig;
    rig.put_pid(descriptor());
    rig.put(3, remapped(0x30, 0x100).encode());
    EXPECT_EQ(rig.request(3).kind, IrResult::Kind::Remapped);
    rig.put(3, posted(0x41).encode());
    EXPECT_EQ(rig.request(3).kind, IrResult::Kind::Remapped);
    EXPECT_FALSE(rig.pid().pir.any());
    rig.iommu.invalidate_iec(3, 0);
    EXPECT_EQ(rig.request(3).kind, IrResult::Kind::Posted);
    EXPECT_TRUE(rig.pid().pir.test(0x41));
    // The descriptor is re-read on every post: a PID edit takes effect without IEC invalidation.
    PiDesc d = descriptor(false, false, 0x0700);
    rig.put_pid(d);
    IrResult r = rig.request(3);
    ASSERT_TRUE(r.message.has_value());
    EXPECT_EQ(r.message->apic_id, 7u);
}

struct IecCase {
    uint32_t index;
    unsigned im;
    uint32_t first, last;  // the aligned block dropped
};

class IommuIecSelective : public ::testing::TestWithParam<IecCase> {};

// VT-d index-selective IEC invalidation (iommu.h): 2^IM entries from IIDX, a block aligned to its
// size; exactly that block is dropped and every other cached entry is kept.
TEST_P(IommuIecSelective, DropsExactlyTheAlignedBlock) {
    const IecCase c = GetParam();
    Rig rig;
    for (uint32_t i = 0; i < 40; ++i) {
        rig.put(i, remapped(static_cast<uint8_t>(0x20 + i)).encode());
        ASSERT_EQ(rig.request(static_cast<uint16_t>(i)).kind, IrResult::Kind::Remapped);
    }
    rig.iommu.invalidate_iec(c.index, c.im);
    for (uint32_t i = 0; i < 40; ++i) EXPECT_EQ(rig.iommu.iec_holds(i), i < c.first || i > c.last) << "entry " << i;
}

INSTANTIATE_TEST_SUITE_P(SomeBlocks, IommuIecSelective,
                         ::testing::Values(IecCase{5, 0, 5, 5}, IecCase{5, 1, 4, 5}, IecCase{5, 2, 4, 7},
                                           IecCase{13, 3, 8, 15}, IecCase{3, 4, 0, 15}, IecCase{33, 5, 32, 63}),
                         [](const auto& info) {
                             return "index" + std::to_string(info.param.index) + "_im" + std::to_string(info.param.im);
                         });

// VT-d global IEC invalidation: every cached entry is dropped and re-read from memory.
TEST(IommuIec, GlobalInvalidationDropsEveryEntry) {
    Rig rig;
    for (uint32_t i = 0; i < 4; ++i) {
        rig.put(i * 50, remapped(0x30).encode());
        rig.request(static_cast<uint16_t>(i * 50));
        EXPECT_TRUE(rig.iommu.iec_holds(i * 50));
        rig.put(i * 50, remapped(0x40).encode());
    }
    rig.iommu.invalidate_iec_all();
    for (uint32_t i = 0; i < 4; ++i) {
        EXPECT_FALSE(rig.iommu.iec_holds(i * 50));
        EXPECT_EQ(rig.request(static_cast<uint16_t>(i * 50)).message->vector, 0x40);
    }
}

// GCMD.SIRTP (iommu.h): latching IRTA drops the IEC, whose entries may belong to the old table.
TEST(IommuIec, SetIrtpDropsTheCache) {
    Rig rig;
    rig.put(2, remapped(0x30).encode());
    rig.request(2);
    EXPECT_TRUE(rig.iommu.iec_holds(2));
    rig.put(2, remapped(0x31).encode());
    rig.iommu.set_irtp();  // same IRTA
    EXPECT_FALSE(rig.iommu.iec_holds(2));
    EXPECT_EQ(rig.request(2).message->vector, 0x31);
}

// GCMD.SIRTP (iommu.h): IRTA_REG takes effect only when latched; until then the old table, size and
// EIME stay in use.
TEST(IommuIrta, IrtaTakesEffectOnlyAtSetIrtp) {
    constexpr uint64_t kOther = 0x3000'0000;
    Rig rig;
    rig.put(2, remapped(0x30, 0x0300).encode());
    const uint64_t other = kOther | IrtaReg::EIME.make(1) | IrtaReg::S.make(0);
    rig.iommu.write_irta(other);
    EXPECT_EQ(rig.iommu.read_irta(), other);
    EXPECT_EQ(rig.iommu.table_address(), kIrt);
    EXPECT_FALSE(rig.iommu.x2apic());
    EXPECT_EQ(rig.iommu.table_entries(), 256u);
    IrResult old_table = rig.request(2);
    EXPECT_EQ(old_table.message->apic_id, 3u);

    rig.iommu.set_irtp();
    EXPECT_EQ(rig.iommu.table_address(), kOther);
    EXPECT_TRUE(rig.iommu.x2apic());
    EXPECT_EQ(rig.iommu.table_entries(), 2u);
    expect_blocked(rig, rig.request(2), IrFault::IndexOutOfRange);
    rig.put(1, remapped(0x31, 0x0300).encode());
    EXPECT_EQ(rig.iommu.entry_address(1), kOther + 16);
    IrResult new_table = rig.request(1);
    EXPECT_EQ(new_table.message->vector, 0x31);
    EXPECT_EQ(new_table.message->apic_id, 0x300u);
}

}  // namespace
}  // namespace irqdiff::x86
