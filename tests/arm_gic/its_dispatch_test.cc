// Table-wide properties of the ITS command dispatch (arm_gic/hw/its_command.h): every row of
// physical_commands() and virtual_commands() is checked the same way, so a new command is covered
// the day its row is added (STYLE.md "Command dispatch").
#include <gtest/gtest.h>

#include <array>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/arm_gic/gic_harness.h"

namespace irqdiff::arm::testing {
namespace {

std::vector<const CommandInfo*> all_rows() {
    std::vector<const CommandInfo*> rows;
    for (auto table : {physical_commands(), virtual_commands()})
        for (const CommandInfo& row : table) rows.push_back(&row);
    return rows;
}

GicConfig ignoring(GicVersion version) {
    GicConfig c = test_config(version);
    c.command_error = ErrorResponse::Ignore;
    c.table_fault = ErrorResponse::Ignore;
    return c;
}

/// A packet of `row`'s opcode whose other bits are `fill`.
ItsCommand packet(const CommandInfo& row, const std::array<uint64_t, 4>& fill) {
    ItsCommand c;
    c.dw = fill;
    cmd::Opcode::set(c, static_cast<uint8_t>(row.opcode));
    return c;
}

/// DeviceID 1, EventID 0, vPEID 0, ICID 0 and RDbase 0 (all mapped in Populated below), every
/// other bit set: gets past the first lookups into the handlers' later checks.
ItsCommand plausible(const CommandInfo& row) {
    ItsCommand c = packet(row, {~uint64_t{0}, ~uint64_t{0}, ~uint64_t{0}, ~uint64_t{0}});
    cmd::DeviceID::set(c, 1);
    cmd::EventID::set(c, 0);
    cmd::vPEID::set(c, 0);
    cmd::ICID::set(c, 0);
    cmd::RDbase::set(c, 0);
    return c;
}

/// The last GuestError in the log.
const Event& last_error(const GicHarness& h) {
    for (auto it = h.log.events().rbegin(); it != h.log.events().rend(); ++it)
        if (it->kind == EventKind::GuestError) return *it;
    throw std::logic_error("no GuestError in the log");
}

const std::array<std::array<uint64_t, 4>, 4> kJunk = {{
    {0, 0, 0, 0},
    {~uint64_t{0}, ~uint64_t{0}, ~uint64_t{0}, ~uint64_t{0}},
    {0xA5A5'A5A5'A5A5'A5A5, 0x5A5A'5A5A'5A5A'5A5A, 0xA5A5'A5A5'A5A5'A5A5, 0x5A5A'5A5A'5A5A'5A5A},
    {0x0000'0001'0000'2000, 0x0000'0000'0000'2001, 0x8000'0000'0001'0000, 0x0000'0000'0001'0000},
}};

/// A GIC with something to act on: LPIs on both redistributors, device 1 event 0 a physical LPI
/// in collection 0, device 2 event 0 a vLPI of vPE 0.
struct Populated {
    GicHarness h;
    explicit Populated(GicVersion version) : h(ignoring(version)) {
        h.enable_lpis(0);
        h.enable_lpis(1);
        h.map_device(1);
        h.map_device(2);
        h.cmd(build::mapc(0, 0, true));
        h.cmd(build::mapc(1, 1, true));
        h.cmd(build::mapti(1, 0, 8200, 0));
        h.map_vpe(0, 0);
        h.cmd(build::vmapti(2, 0, 0, kVlpi, kNoDoorbell));
    }
};

// ---------------------------------------------------------------------------------------------
// The table itself

// reference/arm §1.2: each command has one opcode; find_command finds each row by it.
TEST(ItsCommandTable, EveryOpcodeIsUniqueAndFound) {
    std::set<uint8_t> seen;
    for (const CommandInfo* row : all_rows()) {
        uint8_t op = static_cast<uint8_t>(row->opcode);
        SCOPED_TRACE(row->name);
        EXPECT_TRUE(seen.insert(op).second) << "opcode used twice";
        EXPECT_EQ(find_command(op), row);
        EXPECT_NE(row->handler, nullptr);
        EXPECT_STRNE(row->name, "");
        EXPECT_STRNE(row->spec_ref, "");
    }
    EXPECT_EQ(seen.size(), 21u);  // 12 physical, 9 virtual (reference/arm §1.2)
}

// Its::command_error and Its::table_fault log a row's own declarations (arm_gic/trace_points.h),
// named ITS.<command>; every command that walks a table declares its fault (SYNC and MOVALL
// walk none).
TEST(ItsCommandTable, EveryRowNamesItsErrorAndFaultEvents) {
    for (const CommandInfo* row : all_rows()) {
        SCOPED_TRACE(row->name);
        const std::string op = std::string("ITS.") + row->name;
        ASSERT_NE(row->error, nullptr);
        EXPECT_EQ(row->error->op, op);
        EXPECT_EQ(row->error->kind, EventKind::GuestError);
        const bool walks_no_table = row->opcode == Opcode::SYNC || row->opcode == Opcode::MOVALL;
        ASSERT_EQ(row->fault == nullptr, walks_no_table);
        if (row->fault) {
            EXPECT_EQ(row->fault->op, op);
            EXPECT_EQ(row->fault->kind, EventKind::GuestError);
            EXPECT_NE(row->fault, row->error);
        }
    }
}

// reference/arm §1.2: the opcode values the Linux driver encodes (arm-gic-v3.h GITS_CMD_*).
TEST(ItsCommandTable, OpcodesMatchTheReference) {
    const std::vector<std::pair<const char*, uint8_t>> expected = {
        {"MAPD", 0x08},    {"MAPC", 0x09},   {"MAPTI", 0x0a}, {"MAPI", 0x0b},  {"MOVI", 0x01},  {"DISCARD", 0x0f},
        {"INV", 0x0c},     {"INVALL", 0x0d}, {"INT", 0x03},   {"CLEAR", 0x04}, {"SYNC", 0x05},  {"MOVALL", 0x0e},
        {"VMAPP", 0x29},   {"VMAPTI", 0x2a}, {"VMAPI", 0x2b}, {"VMOVI", 0x21}, {"VMOVP", 0x22}, {"VSYNC", 0x25},
        {"VINVALL", 0x2d}, {"INVDB", 0x2e},  {"VSGI", 0x23},
    };
    for (const auto& [name, op] : expected) {
        const CommandInfo* row = find_command(op);
        ASSERT_NE(row, nullptr) << name;
        EXPECT_STREQ(row->name, name);
    }
}

// reference/arm §1.2: the physical commands are GICv3's; the virtual ones need GICv4, and only
// VSGI and INVDB need GICv4.1.
TEST(ItsCommandTable, VersionFlagsMatchTheFamilies) {
    for (const CommandInfo& row : physical_commands()) {
        SCOPED_TRACE(row.name);
        EXPECT_FALSE(row.needs_v4);
        EXPECT_FALSE(row.needs_v41);
    }
    std::set<std::string> v41;
    for (const CommandInfo& row : virtual_commands()) {
        SCOPED_TRACE(row.name);
        EXPECT_TRUE(row.needs_v4);
        if (row.needs_v41) v41.insert(row.name);
    }
    EXPECT_EQ(v41, (std::set<std::string>{"INVDB", "VSGI"}));
}

// IHI 0069 (command errors): an opcode no GIC version defines is not found.
TEST(ItsCommandTable, OpcodesOutsideTheTableAreNotFound) {
    unsigned unknown = 0;
    for (unsigned op = 0; op < 256; ++op) {
        const CommandInfo* row = find_command(static_cast<uint8_t>(op));
        if (!row) {
            ++unknown;
            continue;
        }
        EXPECT_EQ(static_cast<unsigned>(row->opcode), op);
    }
    EXPECT_EQ(unknown, 256u - 21u);
    EXPECT_EQ(find_command(0x00), nullptr);
    EXPECT_EQ(find_command(0x02), nullptr);
    EXPECT_EQ(find_command(0x24), nullptr);
    EXPECT_EQ(find_command(0xFF), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Every handler, on both versions

class EveryHandler : public ::testing::TestWithParam<GicVersion> {};

// STYLE.md "Three kinds of error": a guest can never crash the emulator. Every command, through
// the queue, with an all-zero packet and fixed junk, on a populated GIC: no exception, and under
// arm.its_command_error=ignore and arm.its_table_fault=ignore the queue consumes every command.
TEST_P(EveryHandler, SurvivesZeroAndJunkPacketsAndTheQueueGoesOn) {
    for (const CommandInfo* row : all_rows()) {
        std::vector<ItsCommand> packets;
        for (const auto& fill : kJunk) packets.push_back(packet(*row, fill));
        packets.push_back(plausible(*row));
        for (size_t i = 0; i < packets.size(); ++i) {
            SCOPED_TRACE(::testing::Message() << row->name << " packet " << i);
            Populated p(GetParam());
            Its& its = p.h.gic.its();
            EXPECT_NO_THROW(p.h.cmd(packets[i]));
            EXPECT_FALSE(its.stalled());
            EXPECT_EQ(its.creadr(), its.cwriter());
            // The queue still works after it: a SYNC to an existing redistributor is accepted.
            size_t errors = p.h.count(EventKind::GuestError);
            EXPECT_NO_THROW(p.h.cmd(build::sync(1)));
            EXPECT_EQ(its.creadr(), its.cwriter());
            EXPECT_EQ(p.h.count(EventKind::GuestError), errors) << p.h.text();
        }
    }
}

// STYLE.md "Three kinds of error": each handler itself, called directly (so VSGI and INVDB also
// run on GICv4.0, past the dispatcher's version check), never throws on zero or junk packets.
TEST_P(EveryHandler, HandlerCalledDirectlyNeverThrows) {
    for (const CommandInfo* row : all_rows()) {
        for (size_t i = 0; i < kJunk.size(); ++i) {
            SCOPED_TRACE(::testing::Message() << row->name << " packet " << i);
            Populated p(GetParam());
            CmdResult r = CmdResult::Stall;
            EXPECT_NO_THROW(r = row->handler(p.h.gic.its(), packet(*row, kJunk[i])));
            EXPECT_NE(r, CmdResult::Stall) << "stall although every policy is ignore";
        }
    }
}

// IHI 0069 (command errors) / config.h: an opcode that is no command is a command error: one
// GuestError naming the policy; ignored it is dropped, stalled the queue stops on it.
TEST_P(EveryHandler, UnknownOpcodeIsACommandError) {
    for (ErrorResponse policy : {ErrorResponse::Ignore, ErrorResponse::Stall}) {
        for (uint8_t op : {uint8_t{0x00}, uint8_t{0x02}, uint8_t{0x06}, uint8_t{0x20}, uint8_t{0x24}, uint8_t{0xFF}}) {
            SCOPED_TRACE(::testing::Message() << "opcode " << unsigned{op} << " policy " << to_string(policy));
            GicConfig config = test_config(GetParam());
            config.command_error = policy;
            GicHarness h(config);
            ItsCommand c;
            cmd::Opcode::set(c, op);
            const uint64_t slot = h.gic.its().cwriter();
            h.cmd(c);
            ASSERT_EQ(h.count(EventKind::GuestError), 1u) << h.text();
            const Event& e = last_error(h);
            EXPECT_EQ(e.point, &tp::kItsUnknownCommandError);
            EXPECT_NE(e.rule.find("is not an ITS command"), std::string::npos) << e.rule;
            EXPECT_NE(e.rule.find(std::string("arm.its_command_error=") + to_string(policy)), std::string::npos)
                << e.rule;
            EXPECT_EQ(h.gic.its().stalled(), policy == ErrorResponse::Stall);
            EXPECT_EQ(h.gic.its().creadr(), policy == ErrorResponse::Stall ? slot : h.gic.its().cwriter());
            EXPECT_EQ(h.gic.its().execute(c), policy == ErrorResponse::Stall ? CmdResult::Stall : CmdResult::Continue);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(BothVersions, EveryHandler, ::testing::Values(GicVersion::V4_0, GicVersion::V4_1),
                         [](const auto& info) { return info.param == GicVersion::V4_1 ? "v41" : "v40"; });

// ---------------------------------------------------------------------------------------------
// GICv4.1-only commands on GICv4.0

// reference/arm §1.2, §1.7: VSGI and INVDB exist only on GICv4.1; a GICv4.0 ITS refuses them as a
// command error and their handlers do not run.
TEST(GicV41OnlyCommands, AreRefusedOnGicV40WithoutEffect) {
    for (const CommandInfo* row : all_rows()) {
        if (!row->needs_v41) continue;
        SCOPED_TRACE(row->name);
        Populated p(GicVersion::V4_0);
        p.h.lpi_config(kDoorbell, 0xA0, true);
        std::vector<uint32_t> host_irqs;
        p.h.gic.set_host_irq_handler([&](unsigned, uint32_t intid) { host_irqs.push_back(intid); });
        const VpeState before = *p.h.gic.rd(0).vpe(0);
        const size_t errors = p.h.count(EventKind::GuestError);
        const size_t invalidations = p.h.count(tp::kGicrInvalidateLpiConfig);

        // A packet the handler would carry out on GICv4.1: vPE 0, vSGI 3 enabled.
        ItsCommand c = row->opcode == Opcode::VSGI ? build::vsgi(0, 3, 0x80, true, false, true) : build::invdb(0);
        p.h.cmd(c);

        ASSERT_EQ(p.h.count(EventKind::GuestError), errors + 1) << p.h.text();
        const Event& e = last_error(p.h);
        EXPECT_EQ(e.point, row->error);
        EXPECT_NE(e.rule.find("GICv4.1 command on a GICv4.0 ITS"), std::string::npos) << e.rule;
        const Points handler = row->opcode == Opcode::VSGI ? Points(tp::kItsVsgi) : Points(tp::kItsInvdb);
        EXPECT_EQ(p.h.count(handler), 0u) << "only the error: the handler did not run";
        EXPECT_EQ(p.h.count({*row->error, *row->fault}), 1u);
        EXPECT_EQ(p.h.count(tp::kGicrInvalidateLpiConfig), invalidations);
        const VpeState& after = *p.h.gic.rd(0).vpe(0);
        for (unsigned n = 0; n < 16; ++n) {
            EXPECT_EQ(after.sgis[n].enabled, before.sgis[n].enabled);
            EXPECT_EQ(after.sgis[n].pending, before.sgis[n].pending);
            EXPECT_EQ(after.sgis[n].priority, before.sgis[n].priority);
        }
        EXPECT_TRUE(host_irqs.empty());
        EXPECT_EQ(p.h.gic.its().creadr(), p.h.gic.its().cwriter());
    }
}

// reference/arm §1.2: the same packets are carried out on GICv4.1 (so the refusal above is the
// version check, not a bad packet).
TEST(GicV41OnlyCommands, AreCarriedOutOnGicV41) {
    Populated p(GicVersion::V4_1);
    p.h.cmd(build::vsgi(0, 3, 0x80, true, false, true));
    p.h.cmd(build::invdb(0));
    EXPECT_EQ(p.h.count(EventKind::GuestError), 0u) << p.h.text();
    EXPECT_TRUE(p.h.gic.rd(0).vpe(0)->sgis[3].enabled);
    EXPECT_EQ(p.h.gic.rd(0).vpe(0)->sgis[3].priority, 0x80);
    EXPECT_EQ(p.h.count(tp::kItsInvdb), 1u);
}

// ---------------------------------------------------------------------------------------------
// Packet builders against the command fields

// reference/arm §1.2: each builder writes its fields where the Linux encoders put them; read back
// through the cmd:: fields, and with no other bit set.
TEST(ItsPacketBuilders, PhysicalFieldsReadBack) {
    ItsCommand c = build::mapd(0xDEAD'BEEF, 21, 0x000F'1234'5678'9A00, true);
    EXPECT_EQ(cmd::Opcode::get(c), 0x08u);
    EXPECT_EQ(cmd::DeviceID::get(c), 0xDEAD'BEEFu);
    EXPECT_EQ(cmd::Size::get(c), 21u);
    EXPECT_EQ(cmd::ITT_addr::get(c) << 8, 0x000F'1234'5678'9A00u);
    EXPECT_EQ(cmd::Valid::get(c), 1u);
    EXPECT_EQ(c.dw,
              (std::array<uint64_t, 4>{0xDEAD'BEEF'0000'0008, 21, (uint64_t{1} << 63) | 0x000F'1234'5678'9A00, 0}));

    c = build::mapc(63, 0x1234, true);
    EXPECT_EQ(cmd::Opcode::get(c), 0x09u);
    EXPECT_EQ(cmd::ICID::get(c), 63u);
    EXPECT_EQ(cmd::RDbase::get(c), 0x1234u);
    EXPECT_EQ(cmd::Valid::get(c), 1u);
    EXPECT_EQ(c.dw, (std::array<uint64_t, 4>{0x09, 0, (uint64_t{1} << 63) | (uint64_t{0x1234} << 16) | 63, 0}));
    EXPECT_EQ(cmd::Valid::get(build::mapc(1, 1, false)), 0u);

    c = build::mapti(7, 0x1'2345, 8200, 9);
    EXPECT_EQ(cmd::Opcode::get(c), 0x0au);
    EXPECT_EQ(cmd::DeviceID::get(c), 7u);
    EXPECT_EQ(cmd::EventID::get(c), 0x1'2345u);
    EXPECT_EQ(cmd::pINTID::get(c), 8200u);
    EXPECT_EQ(cmd::ICID::get(c), 9u);
    EXPECT_EQ(c.dw, (std::array<uint64_t, 4>{(uint64_t{7} << 32) | 0x0a, (uint64_t{8200} << 32) | 0x1'2345, 9, 0}));

    c = build::mapi(7, 8300, 9);
    EXPECT_EQ(cmd::Opcode::get(c), 0x0bu);
    EXPECT_EQ(cmd::EventID::get(c), 8300u);
    EXPECT_EQ(cmd::pINTID::get(c), 0u);
    EXPECT_EQ(cmd::ICID::get(c), 9u);

    c = build::movi(7, 5, 2);
    EXPECT_EQ(c.dw, (std::array<uint64_t, 4>{(uint64_t{7} << 32) | 0x01, 5, 2, 0}));

    struct DevEvent {
        ItsCommand c;
        uint8_t op;
    };
    for (const DevEvent& d : {DevEvent{build::discard(3, 4), 0x0f}, DevEvent{build::inv(3, 4), 0x0c},
                              DevEvent{build::int_(3, 4), 0x03}, DevEvent{build::clear(3, 4), 0x04}}) {
        SCOPED_TRACE(unsigned{d.op});
        EXPECT_EQ(d.c.dw, (std::array<uint64_t, 4>{(uint64_t{3} << 32) | d.op, 4, 0, 0}));
        EXPECT_EQ(cmd::DeviceID::get(d.c), 3u);
        EXPECT_EQ(cmd::EventID::get(d.c), 4u);
    }

    c = build::invall(33);
    EXPECT_EQ(c.dw, (std::array<uint64_t, 4>{0x0d, 0, 33, 0}));
    EXPECT_EQ(cmd::ICID::get(c), 33u);

    c = build::sync(0xBEEF);
    EXPECT_EQ(cmd::RDbase::get(c), 0xBEEFu);
    EXPECT_EQ(c.dw, (std::array<uint64_t, 4>{0x05, 0, uint64_t{0xBEEF} << 16, 0}));

    c = build::movall(1, 0xFFFF);
    EXPECT_EQ(cmd::RDbase::get(c), 1u);
    EXPECT_EQ(cmd::RDbase2::get(c), 0xFFFFu);
    EXPECT_EQ(c.dw, (std::array<uint64_t, 4>{0x0e, 0, uint64_t{1} << 16, uint64_t{0xFFFF} << 16}));
}

// reference/arm §1.2 (VMAPP with the GICv4.1 additions): vPEID DW1[47:32], RDbase DW2[51:16],
// V DW2[63], VPT_addr DW3[51:16], VPT_size DW3[7:0], Alloc DW0[8], PTZ DW0[9], VCONF_addr
// DW0[51:16], Default_Doorbell DW1[31:0].
TEST(ItsPacketBuilders, VmappFieldsReadBack) {
    build::Vmapp v;
    v.vpeid = 0xABCD;
    v.valid = true;
    v.rdbase = 3;
    v.vpt_addr = 0x000F'1234'5678'0000;
    v.vpt_size = 0xC5;
    v.alloc = true;
    v.ptz = true;
    v.vconf_addr = 0x0003'0000'0000;
    v.default_doorbell = 8300;
    ItsCommand c = build::vmapp(v);
    EXPECT_EQ(cmd::Opcode::get(c), 0x29u);
    EXPECT_EQ(cmd::vPEID::get(c), 0xABCDu);
    EXPECT_EQ(cmd::Valid::get(c), 1u);
    EXPECT_EQ(cmd::RDbase::get(c), 3u);
    EXPECT_EQ(cmd::VPT_addr::get(c) << 16, 0x000F'1234'5678'0000u);
    EXPECT_EQ(cmd::VPT_size::get(c), 0xC5u);
    EXPECT_EQ(cmd::Alloc::get(c), 1u);
    EXPECT_EQ(cmd::PTZ::get(c), 1u);
    EXPECT_EQ(cmd::VCONF_addr::get(c) << 16, 0x0003'0000'0000u);
    EXPECT_EQ(cmd::DefaultDoorbell::get(c), 8300u);
    EXPECT_EQ(c.dw,
              (std::array<uint64_t, 4>{0x0003'0000'0000 | (1u << 9) | (1u << 8) | 0x29, (uint64_t{0xABCD} << 32) | 8300,
                                       (uint64_t{1} << 63) | (uint64_t{3} << 16), 0x000F'1234'5678'0000 | 0xC5}));

    v.valid = v.alloc = v.ptz = false;
    c = build::vmapp(v);
    EXPECT_EQ(cmd::Valid::get(c), 0u);
    EXPECT_EQ(cmd::Alloc::get(c), 0u);
    EXPECT_EQ(cmd::PTZ::get(c), 0u);
}

// reference/arm §1.2: VMAPTI/VMAPI/VMOVI vPEID DW1[47:32], vINTID DW2[31:0], Dbell_pINTID
// DW2[63:32], D DW2[0]; VMOVP SEQ_NUM DW0[47:32], ITSList DW1[15:0], RDbase, DB DW2[63],
// Default_Doorbell DW3[31:0]; VSYNC/VINVALL/INVDB vPEID; VSGI vINTID DW0[35:32], Priority
// DW0[23:20], Group DW0[10], Clear DW0[9], Enable DW0[8].
TEST(ItsPacketBuilders, VirtualFieldsReadBack) {
    ItsCommand c = build::vmapti(5, 6, 0x1234, 9000, 8300);
    EXPECT_EQ(cmd::Opcode::get(c), 0x2au);
    EXPECT_EQ(cmd::DeviceID::get(c), 5u);
    EXPECT_EQ(cmd::EventID::get(c), 6u);
    EXPECT_EQ(cmd::vPEID::get(c), 0x1234u);
    EXPECT_EQ(cmd::vINTID::get(c), 9000u);
    EXPECT_EQ(cmd::DbellPINTID::get(c), 8300u);
    EXPECT_EQ(c.dw, (std::array<uint64_t, 4>{(uint64_t{5} << 32) | 0x2a, (uint64_t{0x1234} << 32) | 6,
                                             (uint64_t{8300} << 32) | 9000, 0}));

    c = build::vmapi(5, 8200, 7, 1023);
    EXPECT_EQ(cmd::Opcode::get(c), 0x2bu);
    EXPECT_EQ(cmd::EventID::get(c), 8200u);
    EXPECT_EQ(cmd::vPEID::get(c), 7u);
    EXPECT_EQ(cmd::vINTID::get(c), 0u);
    EXPECT_EQ(cmd::DbellPINTID::get(c), 1023u);

    c = build::vmovi(5, 6, 7, true, 8300);
    EXPECT_EQ(cmd::Opcode::get(c), 0x21u);
    EXPECT_EQ(cmd::vPEID::get(c), 7u);
    EXPECT_EQ(cmd::D::get(c), 1u);
    EXPECT_EQ(cmd::DbellPINTID::get(c), 8300u);
    EXPECT_EQ(c.dw[2], (uint64_t{8300} << 32) | 1);
    EXPECT_EQ(cmd::D::get(build::vmovi(5, 6, 7, false, 8300)), 0u);

    c = build::vmovp(0x4321, 2, 0xFEDC, 0x0005, true, 8301);
    EXPECT_EQ(cmd::Opcode::get(c), 0x22u);
    EXPECT_EQ(cmd::vPEID::get(c), 0x4321u);
    EXPECT_EQ(cmd::RDbase::get(c), 2u);
    EXPECT_EQ(cmd::SEQ_NUM::get(c), 0xFEDCu);
    EXPECT_EQ(cmd::ITSList::get(c), 0x0005u);
    EXPECT_EQ(cmd::DB::get(c), 1u);
    EXPECT_EQ(cmd::VmovpDefaultDoorbell::get(c), 8301u);
    EXPECT_EQ(c.dw, (std::array<uint64_t, 4>{(uint64_t{0xFEDC} << 32) | 0x22, (uint64_t{0x4321} << 32) | 5,
                                             (uint64_t{1} << 63) | (uint64_t{2} << 16), 8301}));

    for (auto [c2, op] : {std::pair{build::vsync(0x55), 0x25}, std::pair{build::vinvall(0x55), 0x2d},
                          std::pair{build::invdb(0x55), 0x2e}}) {
        SCOPED_TRACE(op);
        EXPECT_EQ(c2.dw, (std::array<uint64_t, 4>{static_cast<uint64_t>(op), uint64_t{0x55} << 32, 0, 0}));
        EXPECT_EQ(cmd::vPEID::get(c2), 0x55u);
    }

    c = build::vsgi(9, 15, 0xB0, true, true, true);
    EXPECT_EQ(cmd::Opcode::get(c), 0x23u);
    EXPECT_EQ(cmd::vPEID::get(c), 9u);
    EXPECT_EQ(cmd::SgiIntid::get(c), 15u);
    EXPECT_EQ(cmd::SgiPriority::get(c) << 4, 0xB0u);
    EXPECT_EQ(cmd::SgiGroup::get(c), 1u);
    EXPECT_EQ(cmd::SgiClear::get(c), 1u);
    EXPECT_EQ(cmd::SgiEnable::get(c), 1u);
    EXPECT_EQ(c.dw, (std::array<uint64_t, 4>{
                        (uint64_t{15} << 32) | (uint64_t{0xB} << 20) | (1u << 10) | (1u << 9) | (1u << 8) | 0x23,
                        uint64_t{9} << 32, 0, 0}));
    c = build::vsgi(9, 1, 0x0F, false, false, false);  // priority keeps only bits [7:4]
    EXPECT_EQ(cmd::SgiPriority::get(c), 0u);
    EXPECT_EQ(c.dw[0], (uint64_t{1} << 32) | 0x23);
}

// ---------------------------------------------------------------------------------------------
// The packet in memory

// reference/arm §1.2: a command is four little-endian doublewords DW0..DW3 of 32 bytes.
TEST(ItsCommandPacket, EncodesLittleEndianDoublewordsAndDecodesBack) {
    ItsCommand c;
    c.dw = {0x0807'0605'0403'0201, 0x100F'0E0D'0C0B'0A09, 0x1817'1615'1413'1211, 0x201F'1E1D'1C1B'1A19};
    std::array<uint8_t, ItsCommand::kBytes> bytes{};
    c.encode(bytes);
    for (size_t i = 0; i < bytes.size(); ++i) EXPECT_EQ(bytes[i], i + 1) << i;
    EXPECT_EQ(ItsCommand::decode(bytes), c);
    EXPECT_EQ(c.opcode(), 0x01);
}

// its_command.h: decode(encode(c)) == c for every builder's packet and for junk.
TEST(ItsCommandPacket, DecodeOfEncodeIsIdentity) {
    build::Vmapp v;
    v.vpeid = 3;
    v.vpt_addr = 0x0200'0000;
    v.vconf_addr = 0x0300'0000;
    std::vector<ItsCommand> packets = {build::mapd(1, 7, 0x0100'0000, true), build::vmapp(v),
                                       build::vmovp(1, 1, 2, 3, true, 8300),
                                       build::vsgi(1, 2, 0x30, true, false, true)};
    for (const auto& fill : kJunk) {
        ItsCommand c;
        c.dw = fill;
        packets.push_back(c);
    }
    for (const ItsCommand& c : packets) {
        std::array<uint8_t, ItsCommand::kBytes> bytes{};
        c.encode(bytes);
        EXPECT_EQ(ItsCommand::decode(bytes), c);
    }
}

}  // namespace
}  // namespace irqdiff::arm::testing
