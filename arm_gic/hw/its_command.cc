#include "arm_gic/hw/its_command.h"

namespace irqdiff::arm {

ItsCommand ItsCommand::decode(std::span<const uint8_t, kBytes> bytes) {
    ItsCommand c;
    for (size_t w = 0; w < 4; ++w)
        for (size_t i = 8; i-- > 0;) c.dw[w] = (c.dw[w] << 8) | bytes[8 * w + i];
    return c;
}

void ItsCommand::encode(std::span<uint8_t, kBytes> bytes) const {
    for (size_t w = 0; w < 4; ++w)
        for (size_t i = 0; i < 8; ++i) bytes[8 * w + i] = static_cast<uint8_t>(dw[w] >> (8 * i));
}

const CommandInfo* find_command(uint8_t opcode) {
    for (auto rows : {physical_commands(), virtual_commands()})
        for (const CommandInfo& row : rows)
            if (static_cast<uint8_t>(row.opcode) == opcode) return &row;
    return nullptr;
}

namespace build {
namespace {

ItsCommand with(Opcode op) {
    ItsCommand c;
    cmd::Opcode::set(c, static_cast<uint8_t>(op));
    return c;
}

ItsCommand dev_event(Opcode op, uint32_t device_id, uint32_t event_id) {
    ItsCommand c = with(op);
    cmd::DeviceID::set(c, device_id);
    cmd::EventID::set(c, event_id);
    return c;
}

}  // namespace

ItsCommand mapd(uint32_t device_id, uint8_t size, uint64_t itt_addr, bool valid) {
    ItsCommand c = with(Opcode::MAPD);
    cmd::DeviceID::set(c, device_id);
    cmd::Size::set(c, size);
    cmd::ITT_addr::set(c, itt_addr >> 8);
    cmd::Valid::set(c, valid);
    return c;
}

ItsCommand mapc(uint16_t icid, uint16_t rdbase, bool valid) {
    ItsCommand c = with(Opcode::MAPC);
    cmd::ICID::set(c, icid);
    cmd::RDbase::set(c, rdbase);
    cmd::Valid::set(c, valid);
    return c;
}

ItsCommand mapti(uint32_t device_id, uint32_t event_id, uint32_t pintid, uint16_t icid) {
    ItsCommand c = dev_event(Opcode::MAPTI, device_id, event_id);
    cmd::pINTID::set(c, pintid);
    cmd::ICID::set(c, icid);
    return c;
}

ItsCommand mapi(uint32_t device_id, uint32_t event_id, uint16_t icid) {
    ItsCommand c = dev_event(Opcode::MAPI, device_id, event_id);
    cmd::ICID::set(c, icid);
    return c;
}

ItsCommand movi(uint32_t device_id, uint32_t event_id, uint16_t icid) {
    ItsCommand c = dev_event(Opcode::MOVI, device_id, event_id);
    cmd::ICID::set(c, icid);
    return c;
}

ItsCommand discard(uint32_t device_id, uint32_t event_id) { return dev_event(Opcode::DISCARD, device_id, event_id); }
ItsCommand inv(uint32_t device_id, uint32_t event_id) { return dev_event(Opcode::INV, device_id, event_id); }
ItsCommand int_(uint32_t device_id, uint32_t event_id) { return dev_event(Opcode::INT, device_id, event_id); }
ItsCommand clear(uint32_t device_id, uint32_t event_id) { return dev_event(Opcode::CLEAR, device_id, event_id); }

ItsCommand invall(uint16_t icid) {
    ItsCommand c = with(Opcode::INVALL);
    cmd::ICID::set(c, icid);
    return c;
}

ItsCommand sync(uint16_t rdbase) {
    ItsCommand c = with(Opcode::SYNC);
    cmd::RDbase::set(c, rdbase);
    return c;
}

ItsCommand movall(uint16_t rdbase1, uint16_t rdbase2) {
    ItsCommand c = with(Opcode::MOVALL);
    cmd::RDbase::set(c, rdbase1);
    cmd::RDbase2::set(c, rdbase2);
    return c;
}

ItsCommand vmapp(const Vmapp& v) {
    ItsCommand c = with(Opcode::VMAPP);
    cmd::vPEID::set(c, v.vpeid);
    cmd::Valid::set(c, v.valid);
    cmd::RDbase::set(c, v.rdbase);
    cmd::VPT_addr::set(c, v.vpt_addr >> 16);
    cmd::VPT_size::set(c, v.vpt_size);
    cmd::Alloc::set(c, v.alloc);
    cmd::PTZ::set(c, v.ptz);
    cmd::VCONF_addr::set(c, v.vconf_addr >> 16);
    cmd::DefaultDoorbell::set(c, v.default_doorbell);
    return c;
}

ItsCommand vmapti(uint32_t device_id, uint32_t event_id, uint32_t vpeid, uint32_t vintid, uint32_t doorbell) {
    ItsCommand c = dev_event(Opcode::VMAPTI, device_id, event_id);
    cmd::vPEID::set(c, vpeid);
    cmd::vINTID::set(c, vintid);
    cmd::DbellPINTID::set(c, doorbell);
    return c;
}

ItsCommand vmapi(uint32_t device_id, uint32_t event_id, uint32_t vpeid, uint32_t doorbell) {
    ItsCommand c = dev_event(Opcode::VMAPI, device_id, event_id);
    cmd::vPEID::set(c, vpeid);
    cmd::DbellPINTID::set(c, doorbell);
    return c;
}

ItsCommand vmovi(uint32_t device_id, uint32_t event_id, uint32_t vpeid, bool d, uint32_t doorbell) {
    ItsCommand c = dev_event(Opcode::VMOVI, device_id, event_id);
    cmd::vPEID::set(c, vpeid);
    cmd::D::set(c, d);
    cmd::DbellPINTID::set(c, doorbell);
    return c;
}

ItsCommand vmovp(uint32_t vpeid, uint16_t rdbase, uint16_t seq_num, uint16_t its_list, bool db,
                 uint32_t default_doorbell) {
    ItsCommand c = with(Opcode::VMOVP);
    cmd::SEQ_NUM::set(c, seq_num);
    cmd::ITSList::set(c, its_list);
    cmd::vPEID::set(c, vpeid);
    cmd::RDbase::set(c, rdbase);
    cmd::DB::set(c, db);
    cmd::VmovpDefaultDoorbell::set(c, default_doorbell);
    return c;
}

ItsCommand vsync(uint32_t vpeid) {
    ItsCommand c = with(Opcode::VSYNC);
    cmd::vPEID::set(c, vpeid);
    return c;
}

ItsCommand vinvall(uint32_t vpeid) {
    ItsCommand c = with(Opcode::VINVALL);
    cmd::vPEID::set(c, vpeid);
    return c;
}

ItsCommand invdb(uint32_t vpeid) {
    ItsCommand c = with(Opcode::INVDB);
    cmd::vPEID::set(c, vpeid);
    return c;
}

ItsCommand vsgi(uint32_t vpeid, uint8_t sgi, uint8_t priority, bool group, bool clear, bool enable) {
    ItsCommand c = with(Opcode::VSGI);
    cmd::vPEID::set(c, vpeid);
    cmd::SgiIntid::set(c, sgi);
    cmd::SgiPriority::set(c, priority >> 4);
    cmd::SgiGroup::set(c, group);
    cmd::SgiClear::set(c, clear);
    cmd::SgiEnable::set(c, enable);
    return c;
}

}  // namespace build
}  // namespace irqdiff::arm
