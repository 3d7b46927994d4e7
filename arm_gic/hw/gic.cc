#include "arm_gic/hw/gic.h"

#include <fmt/format.h>

#include "arm_gic/places.h"
#include "arm_gic/trace_points.h"

namespace irqdiff::arm {

Gic::Gic(const GicConfig& config, AddressSpace& host_memory, EventLog& log)
    : config_(config), memory_(&host_memory), log_(&log) {
    const GicConfig& c = config_;
    if (c.its_count == 0 || c.its_count > 16 || c.redistributor_count == 0 || c.redistributor_count > 64 ||
        c.list_registers == 0 || c.list_registers > 16 || c.device_id_bits == 0 || c.device_id_bits > 32 ||
        c.event_id_bits == 0 || c.event_id_bits > 32 || c.lpi_id_bits < 14 || c.lpi_id_bits > 24 ||
        c.vpe_id_bits == 0 || c.vpe_id_bits > 16 || c.collection_count == 0 || c.collection_count > 65536)
        throw std::logic_error(
            "GicConfig: 1..16 ITSs, 1..64 redistributors, 1..16 list registers, 1..32 DeviceID and EventID bits, "
            "14..24 LPI ID bits, 1..16 vPEID bits, 1..65536 collections");
    for (unsigned i = 0; i < c.its_count; ++i) {
        bool overlaps = false;
        for (unsigned j = 0; j < i; ++j)
            overlaps |=
                c.its_base[i] < c.its_base[j] + kItsFrameBytes && c.its_base[j] < c.its_base[i] + kItsFrameBytes;
        if (c.its_base[i] % 0x1'0000 != 0 || overlaps)
            throw std::logic_error("GicConfig: each ITS's frames 64 KiB aligned, none overlapping another's");
    }
    for (unsigned i = 0; i < config_.its_count; ++i) its_.emplace_back(this, i);
    for (unsigned i = 0; i < config_.redistributor_count; ++i) {
        rds_.emplace_back(this, i);
        cpus_.emplace_back(this, i);
    }
}

Gic::Gic(const Gic& other)
    : config_(other.config_),
      memory_(other.memory_),
      log_(other.log_),
      host_irq_(other.host_irq_),
      its_(other.its_),
      rds_(other.rds_),
      cpus_(other.cpus_),
      known_vpts_(other.known_vpts_),
      stashed_vsgis_(other.stashed_vsgis_),
      vmovps_(other.vmovps_) {
    rebind();
}

Gic& Gic::operator=(const Gic& other) {
    if (this == &other) return *this;
    config_ = other.config_;
    memory_ = other.memory_;
    log_ = other.log_;
    host_irq_ = other.host_irq_;
    its_ = other.its_;
    rds_ = other.rds_;
    cpus_ = other.cpus_;
    known_vpts_ = other.known_vpts_;
    stashed_vsgis_ = other.stashed_vsgis_;
    vmovps_ = other.vmovps_;
    rebind();
    return *this;
}

void Gic::rebind() {
    for (Its& i : its_) i.gic_ = this;
    for (Redistributor& r : rds_) r.gic_ = this;
    for (CpuInterface& c : cpus_) c.gic_ = this;
}

uint64_t Gic::translater_address(unsigned i) const {
    if (i >= its_count()) throw std::logic_error("Gic::translater_address: no such ITS");
    return config_.its_base[i] + GITS_TRANSLATER;
}

void Gic::no_translater(const MsiWrite& write) {
    log_->emit(tp::kBusNoTranslaterError,
               "an MSI write to an address that is no ITS's GITS_TRANSLATER: no interrupt, dropped", Hex{write.address},
               Hex{write.data}, Hex{write.requester_id});
}

Redistributor* Gic::rd_of_vpe(uint32_t vpeid) {
    for (Redistributor& r : rds_)
        if (r.has_vpe(vpeid)) return &r;
    return nullptr;
}

const Redistributor* Gic::rd_of_vpe(uint32_t vpeid) const {
    for (const Redistributor& r : rds_)
        if (r.has_vpe(vpeid)) return &r;
    return nullptr;
}

void Gic::signal_host(unsigned rd, uint32_t intid) {
    log_->emit(tp::kGicrHostIrq, rd, intid);
    if (host_irq_) host_irq_(rd, intid);
}

void Gic::where_vlpi(uint32_t vpeid, uint32_t vintid, std::vector<Location>& out) const {
    if (const Redistributor* r = rd_of_vpe(vpeid)) {
        r->where_vlpi(vpeid, vintid, out);
    } else if (auto it = known_vpts_.find(vpeid); it != known_vpts_.end() && vintid < (1u << it->second.second)) {
        // Unmapped: nothing reads this VPT until a VMAPP maps the vPE again.
        PendingBitPos pos = vpt_byte_and_bit(vintid);
        MemRead<uint8_t> byte = memory_->read8(it->second.first + pos.byte);
        if (byte.ok() && ((byte.value >> pos.bit) & 1)) out.push_back({&places::kVpt, vpeid, false});
    }
    for (const CpuInterface& c : cpus_) c.where_vlpi(vpeid, vintid, out);
}

void Gic::check_software_write(uint64_t addr, uint64_t len) {
    for (const Redistributor& r : rds_) {
        for (const auto& [vpeid, vpe] : r.vpes()) {
            if (vpe.maps == 0 && !vpe.transient) continue;
            uint64_t start = vpe.props.vpt_addr, bytes = uint64_t{1} << (vpe.props.id_bits - 3);
            if (addr < start + bytes && start < addr + len)
                log_->emit(tp::kVptSoftwareWriteViolation,
                           "software never writes a mapped VPT: pending state enters through the ITS "
                           "(reference/arm §1.5; kvm_vgic_v4_set_forwarding uses INT)",
                           vpeid, Hex{addr}, len);
        }
    }
}

void Gic::note_vpt(uint32_t vpeid, uint64_t vpt_addr, unsigned id_bits) { known_vpts_[vpeid] = {vpt_addr, id_bits}; }

std::array<VsgiState, 16> Gic::take_vsgis(uint32_t vpeid, bool ptz) {
    std::array<VsgiState, 16> sgis{};
    auto it = stashed_vsgis_.find(vpeid);
    if (it == stashed_vsgis_.end()) return sgis;
    if (!ptz) sgis = it->second;
    stashed_vsgis_.erase(it);
    return sgis;
}

void Gic::where_vsgi(uint32_t vpeid, unsigned sgi, std::vector<Location>& out) const {
    if (const Redistributor* r = rd_of_vpe(vpeid)) {
        const VpeState& s = *r->vpe(vpeid);
        if (sgi < 16 && s.sgis[sgi].pending) out.push_back({&places::kVsgiPending, vpeid, s.maps > 0});
    } else if (auto it = stashed_vsgis_.find(vpeid); it != stashed_vsgis_.end() && sgi < 16 && it->second[sgi].pending) {
        out.push_back({&places::kVsgiPending, vpeid, false});  // unmapped: read back by the next VMAPP
    }
    for (const CpuInterface& c : cpus_) c.where_vlpi(vpeid, sgi, out);
}

bool Gic::vmovp_seen(unsigned its, uint16_t seq_num, const VmovpRequest& request) {
    PendingVmovp& p = vmovps_[seq_num];
    if (p.seen == 0) p.request = request;
    p.seen |= static_cast<uint16_t>(1u << its);
    log_->emit(tp::kItsVmovpSeen, its, seq_num, Hex{p.seen}, Hex{p.request.its_list});
    if ((p.seen & p.request.its_list) != p.request.its_list) return false;
    VmovpRequest done = p.request;
    vmovps_.erase(seq_num);
    move_vpe(done);
    return true;
}

void Gic::move_vpe(const VmovpRequest& request) {
    Redistributor* from = rd_of_vpe(request.vpeid);
    if (!from) return;
    if (request.db) from->set_default_doorbell(request.vpeid, request.default_doorbell);
    if (from->index() != request.target) from->move_vpe(request.vpeid, rds_.at(request.target));
}

}  // namespace irqdiff::arm
