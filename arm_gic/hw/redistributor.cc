#include "arm_gic/hw/redistributor.h"

#include <fmt/format.h>

#include <array>
#include <bit>
#include <cstring>
#include <span>

#include "arm_gic/hw/gic.h"
#include "arm_gic/places.h"
#include "arm_gic/trace_points.h"

namespace irqdiff::arm {

namespace {

/// Key of the one transient vPE a GICv4.0 redistributor may hold: vPEIDs are below 2^16.
constexpr uint32_t kTransientVpe = 0x1'0000;
/// First word of a pending bitmap that holds LPIs (INTID 8192 / 64).
constexpr uint32_t kFirstLpiWord = kFirstLpiIntid / 64;

}  // namespace

Redistributor::Redistributor(Gic* gic, unsigned index) : gic_(gic), index_(index) {}

std::string Redistributor::vpe_name(uint32_t vpeid) const {
    return vpeid >= kTransientVpe ? fmt::format("rd{}-transient", index_) : fmt::format("vpe{}", vpeid);
}

VpeState* Redistributor::find(uint32_t vpeid) {
    auto it = vpes_.find(vpeid);
    return it == vpes_.end() ? nullptr : &it->second;
}

const VpeState* Redistributor::vpe(uint32_t vpeid) const {
    auto it = vpes_.find(vpeid);
    return it == vpes_.end() ? nullptr : &it->second;
}

VpeState* Redistributor::ready_vpe() {
    if (!resident_ || dirty_reads_ > 0) return nullptr;
    return find(*resident_);
}

// ---- registers ------------------------------------------------------------------------------

uint64_t Redistributor::read(uint64_t offset, unsigned bytes) {
    const bool v41 = gic_->config().v41();
    const uint64_t base = offset & ~uint64_t{7};
    uint64_t value = 0;
    EventLog& log = gic_->log();
    if (offset == GICR_CTLR) {
        value = GicrCtlr::EnableLPIs.make(enable_lpis_);
    } else if (base == GICR_PROPBASER) {
        value = propbaser_;
    } else if (base == GICR_PENDBASER) {
        value = pendbaser_ & ~GicrPendbaser::PTZ.kMask;  // PTZ is write-only and reads as 0
    } else if (offset == GICR_SYNCR) {
        value = 0;  // invalidations complete at once
    } else if (base == kGicrVlpiFrame + GICR_VPROPBASER) {
        value = vpropbaser_;
    } else if (base == kGicrVlpiFrame + GICR_VPENDBASER) {
        bool dirty = dirty_reads_ > 0;
        if (dirty && --dirty_reads_ == 0) {
            if (resident_)
                log.emit(tp::kGicrVptParsed, index_, *resident_);
            else
                log.emit(tp::kGicrDescheduleDone, index_, vpe_name(descheduled_vpe_), pending_last_);
        }
        // After Valid 1 -> 0, PendingLast is set by the implementation and UNKNOWN until then (IHI 0069
        // GICR_VPENDBASER.PendingLast); Linux reads it only once Dirty is clear (its_clear_vpend_valid).
        // While the de-schedule is still Dirty the model reads it as 0, so a hypervisor that does not
        // poll is told nothing is pending.
        const bool pending_last = pending_last_ && !(dirty && !resident_);
        if (v41) {
            Vpendbaser41 v;
            v.valid = resident_.has_value();
            v.db = db_;
            v.pending_last = pending_last;
            v.dirty = dirty;
            v.vgrp0en = vgrp0en_;
            v.vgrp1en = vgrp1en_;
            v.vpeid = static_cast<uint16_t>(vpendbaser_vpeid_);
            value = v.encode();
        } else {
            Vpendbaser40 v;
            v.valid = resident_.has_value();
            v.idai = idai_;
            v.pending_last = pending_last;
            v.dirty = dirty;
            v.vpt_addr = vpendbaser_pa_;
            value = v.encode();
        }
    } else if (v41 && offset == kGicrVlpiFrame + GICR_VSGIR) {
        value = GicrVsgir::vPEID.make(vsgir_vpeid_);
    } else if (v41 && offset == kGicrVlpiFrame + GICR_VSGIPENDR) {
        uint64_t bits = 0;
        if (const Redistributor* owner = gic_->rd_of_vpe(vsgir_vpeid_)) {
            const VpeState& s = *owner->vpe(vsgir_vpeid_);
            for (unsigned i = 0; i < 16; ++i) bits |= uint64_t{s.sgis[i].pending} << i;
        } else {
            log.emit(tp::kGicrReadVsgipendrError, "GICR_VSGIR names a vPE no ITS maps: reads 0", index_, vsgir_vpeid_);
        }
        value = GicrVsgipendr::Pending.make(bits);  // Busy reads 0: the read completes at once
    } else {
        log.emit(tp::kGicrReadIgnored, "unimplemented redistributor register: RAZ", index_, Hex{offset});
        return 0;
    }
    return read_access(value, bytes, offset);
}

void Redistributor::write(uint64_t offset, uint64_t value, unsigned bytes) {
    const bool v41 = gic_->config().v41();
    const uint64_t base = offset & ~uint64_t{7};
    EventLog& log = gic_->log();
    if (bytes == 4) value &= 0xFFFF'FFFF;
    if (offset == GICR_CTLR) {
        bool enable = GicrCtlr::EnableLPIs.get(value);
        log.emit(tp::kGicrWriteCtlr, index_, enable);
        if (enable && !enable_lpis_) {
            enable_lpis_ = true;
            if (!GicrPendbaser::PTZ.get(pendbaser_)) {
                // Parse the LPI pending table (INTIDs from 8192 up to PROPBASER.IDbits).
                uint64_t table = GicrPendbaser::PhysAddr.get_in_place(pendbaser_);
                uint32_t limit = uint32_t{1} << std::min<unsigned>(GicrPropbaser::IDbits.get(propbaser_) + 1,
                                                                   gic_->config().lpi_id_bits);
                for (uint32_t w = kFirstLpiWord; w < limit / 64; ++w) {
                    MemRead<uint64_t> bits = gic_->memory().read64(table + 8 * w);
                    if (!bits.ok()) break;
                    for (uint64_t b = bits.value; b; b &= b - 1)
                        lpi_pending_.insert(w * 64 + static_cast<uint32_t>(std::countr_zero(b)));
                }
            }
            for (uint32_t intid : std::set<uint32_t>(lpi_pending_))
                if (LpiConfig::enabled(lpi_config(intid))) gic_->signal_host(index_, intid);
        } else {
            enable_lpis_ = enable;
        }
    } else if (base == GICR_PROPBASER || base == GICR_PENDBASER) {
        uint64_t& reg = base == GICR_PROPBASER ? propbaser_ : pendbaser_;
        if (enable_lpis_) {
            log.emit(base == GICR_PROPBASER ? tp::kGicrWritePropbaserError : tp::kGicrWritePendbaserError,
                     "written while EnableLPIs = 1: UNPREDICTABLE, write ignored", index_);
            return;
        }
        reg = write_access(reg, value, bytes, offset);
        log.emit(base == GICR_PROPBASER ? tp::kGicrWritePropbaser : tp::kGicrWritePendbaser, index_, Hex{reg});
    } else if (base == GICR_CLRLPIR) {
        // DirectLPI: the physical LPI stops being pending (IHI 0069 GICR_CLRLPIR).
        uint32_t intid = static_cast<uint32_t>(GicrClrlpir::pINTID.get(value));
        log.emit(tp::kGicrWriteClrlpir, index_, intid);
        set_lpi_pending(intid, false);
    } else if (base == GICR_INVLPIR || base == GICR_INVALLR) {
        bool v = GicrInvlpir::V.get(value);
        uint32_t vpeid = static_cast<uint32_t>(GicrInvlpir::vPEID.get(value));
        std::optional<uint32_t> intid;
        if (base == GICR_INVLPIR) intid = static_cast<uint32_t>(GicrInvlpir::INTID.get(value));
        log.emit(base == GICR_INVLPIR ? tp::kGicrWriteInvlpir : tp::kGicrWriteInvallr, index_, v, vpeid,
                 intid.value_or(0));
        if (v) {
            Redistributor* owner = gic_->rd_of_vpe(vpeid);
            if (owner)
                owner->invalidate_vlpi_config(vpeid, intid);
            else
                log.emit(tp::kGicrInvalidateError, "vPEID names no mapped vPE: ignored", index_, vpeid);
        } else {
            invalidate_lpi_config(intid);
        }
    } else if (base == kGicrVlpiFrame + GICR_VPROPBASER) {
        if (resident_) {
            log.emit(tp::kGicrWriteVpropbaserError, "written while a vPE is resident: UNPREDICTABLE, write ignored",
                     index_);
            return;
        }
        vpropbaser_ = write_access(vpropbaser_, value, bytes, offset);
        log.emit(tp::kGicrWriteVpropbaser, index_, Hex{vpropbaser_});
    } else if (base == kGicrVlpiFrame + GICR_VPENDBASER) {
        write_vpendbaser(bytes == 8 ? value : write_access(0, value, bytes, offset));
    } else if (v41 && offset == kGicrVlpiFrame + GICR_VSGIR) {
        vsgir_vpeid_ = static_cast<uint32_t>(GicrVsgir::vPEID.get(value));
        log.emit(tp::kGicrWriteVsgir, index_, vsgir_vpeid_);
    } else if (offset == GICR_SYNCR || (v41 && offset == kGicrVlpiFrame + GICR_VSGIPENDR)) {
        log.emit(tp::kGicrWriteReadOnlyIgnored, "read-only redistributor register: WI", index_, Hex{offset});
    } else {
        log.emit(tp::kGicrWriteIgnored, "unimplemented redistributor register: WI", index_, Hex{offset}, Hex{value});
    }
}

void Redistributor::write_vpendbaser(uint64_t value) {
    EventLog& log = gic_->log();
    const GicConfig& config = gic_->config();
    bool valid = Vpendbaser41::Valid.get(value);  // bit 63 in both layouts
    if (valid && resident_) {
        log.emit(tp::kGicrWriteVpendbaserResidentError,
                 "Valid written 1 while a vPE is resident: UNPREDICTABLE, write ignored", index_, *resident_);
        return;
    }
    if (!valid) {
        if (resident_) {
            deschedule(config.v41() && Vpendbaser41::DB.get(value),
                       config.v41() && Vpendbaser41::PendingLast.get(value));
        } else {
            log.emit(tp::kGicrWriteVpendbaser, index_, false);
        }
        return;
    }
    VpeState* s = nullptr;
    if (config.v41()) {
        Vpendbaser41 v = Vpendbaser41::decode(value);
        s = find(v.vpeid);
        if (!s || s->maps == 0) {
            log.emit(tp::kGicrWriteVpendbaserUnmappedError,
                     "VPENDBASER.vPEID names a vPE no ITS maps to this redistributor: UNPREDICTABLE, "
                     "write ignored",
                     index_, v.vpeid);
            return;
        }
        vpendbaser_vpeid_ = v.vpeid;
        vgrp0en_ = v.vgrp0en;
        vgrp1en_ = v.vgrp1en;
    } else {
        // GICv4.0: the VPT address identifies the vPE; the vLPI configuration table comes from
        // GICR_VPROPBASER (reference/arm §1.3, its_vpe_schedule).
        Vpendbaser40 v = Vpendbaser40::decode(value);
        vpendbaser_pa_ = v.vpt_addr;
        idai_ = v.idai;
        vgrp0en_ = vgrp1en_ = true;  // no group enables in the 4.0 layout
        uint64_t vconf = Vpropbaser40::PhysAddr.get_in_place(vpropbaser_);
        unsigned bits = static_cast<unsigned>(Vpropbaser40::IDbits.get(vpropbaser_)) + 1;
        for (auto& [id, state] : vpes_)
            if (state.props.vpt_addr == v.vpt_addr) s = &state;
        if (!s) {
            VpeState t;
            t.props =
                VpeProps{kTransientVpe, v.vpt_addr, std::min(bits, gic_->config().lpi_id_bits), vconf, kNoDoorbell};
            t.transient = true;
            t.clear_pending((t.limit() + 63) / 64);
            s = &vpes_.emplace(kTransientVpe, std::move(t)).first->second;
        }
        if (s->props.vconf_addr != vconf) s->config.clear();
        s->props.vconf_addr = vconf;
    }
    resident_ = s->props.vpeid;
    pending_last_ = true;  // PendingLast is RES1 on the transition to resident (QEMU's reading of IHI 0069)
    db_ = false;
    dirty_reads_ = config.dirty_reads;
    schedule(*s);
}

void Redistributor::schedule(VpeState& s) {
    if (!s.loaded) parse_vpt(s);
    s.doorbell_armed = false;
    gic_->log().emit(tp::kGicrSchedule, index_, vpe_name(s.props.vpeid), dirty_reads_ > 0);
    CpuInterface& cpu = gic_->cpu(index_);
    for (unsigned n = 0; n < cpu.list_registers(); ++n) {
        ListRegister lr = cpu.lr(n);
        if (lr.status != ListRegister::Status::Invalid && lr.vintid < s.limit() && s.test(lr.vintid))
            cpu.check_vlpi_not_in_lr(s.props.vpeid, lr.vintid);
    }
}

void Redistributor::deschedule(bool doorbell_requested, bool pending_last_written) {
    VpeState& s = *find(*resident_);
    // GICv4.0: PendingLast is set by the implementation when Valid goes 1 -> 0 (IHI 0069
    // GICR_VPENDBASER.PendingLast), so a written value is ignored (Linux's its_vpe_deschedule writes
    // back the 1 it read). GICv4.1 (IHI 0069 as Marc Zyngier cites it, "Clear Valid before writing
    // any bits else in VPENDBASER", 2020-02-24): a PendingLast written as 1 leaves PendingLast UNKNOWN
    // and the Doorbell is treated as 0; the model then does not determine it and reads it as 1 (what
    // Linux's its_vpe_4_1_deschedule assumes when it asks for no doorbell). Otherwise the
    // redistributor determines PendingLast, and the Doorbell is treated as 0 when enabled interrupts
    // are pending.
    const bool determined = !pending_last_written;
    pending_last_ = determined ? any_pending_enabled(s) : true;
    db_ = doorbell_requested;
    if (doorbell_requested && !pending_last_) s.doorbell_armed = true;
    // The de-schedule is processed like the schedule's parse: Dirty reads 1 for the configured
    // number of reads (policy arm.vpendbaser_dirty_reads), and PendingLast is valid after them.
    dirty_reads_ = gic_->config().dirty_reads;
    descheduled_vpe_ = s.props.vpeid;
    resident_.reset();
    gic_->log().emit(tp::kGicrDeschedule, index_, vpe_name(s.props.vpeid), doorbell_requested, pending_last_,
                     determined, s.doorbell_armed);
    if (gic_->config().vpt_writeback == VptWriteback::OnDeschedule || s.transient) write_back(s);
    if (s.transient) vpes_.erase(s.props.vpeid);
}

// ---- the VPT cache --------------------------------------------------------------------------

void Redistributor::parse_vpt(VpeState& s) {
    AddressSpace& mem = gic_->memory();
    uint32_t set = 0;
    // The table is read in bursts of up to a page (as a redistributor fetches it), word by word
    // only where a burst runs out of memory, to find where the readable part ends.
    constexpr uint32_t kBurstWords = AddressSpace::kPageSize / 8;
    std::array<uint8_t, AddressSpace::kPageSize> burst;
    bool outside = false;
    for (uint32_t w = kFirstLpiWord; w < s.pending.size() && !outside;) {
        uint32_t n = std::min<uint32_t>(kBurstWords, static_cast<uint32_t>(s.pending.size()) - w);
        uint64_t addr = s.props.vpt_addr + 8 * uint64_t{w};
        if (mem.read_bytes(addr, std::span(burst.data(), 8 * size_t{n})) != MemFault::None) {
            n = 0;
            for (; w + n < s.pending.size(); ++n) {
                MemRead<uint64_t> bits = mem.read64(addr + 8 * uint64_t{n});
                if (!bits.ok()) break;
                for (uint32_t b = 0; b < 8; ++b) burst[8 * n + b] = static_cast<uint8_t>(bits.value >> (8 * b));
            }
            outside = true;
        }
        for (uint32_t k = 0; k < n; ++k) {
            uint64_t bits = 0;
            if constexpr (std::endian::native == std::endian::little) {
                std::memcpy(&bits, burst.data() + 8 * k, 8);
            } else {
                for (int b = 7; b >= 0; --b) bits = (bits << 8) | burst[8 * k + static_cast<uint32_t>(b)];
            }
            if (!bits) continue;
            set += static_cast<uint32_t>(std::popcount(bits & ~s.pending[w + k]));
            s.or_pending(w + k, bits);
        }
        w += n;
    }
    if (outside)
        gic_->log().emit(tp::kGicrParseVptError, "the VPT lies outside memory: the rest reads as zero", index_,
                         vpe_name(s.props.vpeid), Hex{s.props.vpt_addr});
    s.loaded = true;
    gic_->log().emit(tp::kGicrParseVpt, index_, vpe_name(s.props.vpeid), Hex{s.props.vpt_addr}, set);
}

void Redistributor::write_back(VpeState& s) {
    if (!s.loaded) return;  // memory is authoritative until the VPT is parsed
    AddressSpace& mem = gic_->memory();
    uint32_t words = 0;
    for (uint32_t d = 0; d < s.dirty.size(); ++d) {
        for (uint64_t bits = s.dirty[d]; bits; bits &= bits - 1) {
            uint32_t w = d * 64 + static_cast<uint32_t>(std::countr_zero(bits));
            mem.write64(s.props.vpt_addr + 8 * uint64_t{w}, s.pending[w]);
            ++words;
        }
        s.dirty[d] = 0;
    }
    gic_->log().emit(tp::kGicrVptWriteback, index_, vpe_name(s.props.vpeid), words);
}

void Redistributor::set_bit(VpeState& s, uint32_t vintid, bool pending) {
    if (!s.loaded) parse_vpt(s);  // the redistributor fetches the VPT on first use
    uint32_t w = vintid / 64;
    uint64_t mask = uint64_t{1} << (vintid % 64);
    if (((s.pending[w] & mask) != 0) == pending) return;
    s.flip_pending(w, mask);
    if (gic_->config().vpt_writeback == VptWriteback::Eager) {
        gic_->memory().write64(s.props.vpt_addr + 8 * uint64_t{w}, s.pending[w]);
    } else {
        s.dirty[w / 64] |= uint64_t{1} << (w % 64);
    }
}

bool Redistributor::any_pending_enabled(VpeState& s) {
    for (uint32_t w = s.next_pending_word(kFirstLpiWord); w < s.pending.size(); w = s.next_pending_word(w + 1))
        for (uint64_t bits = s.pending[w]; bits; bits &= bits - 1) {
            uint32_t vintid = w * 64 + static_cast<uint32_t>(std::countr_zero(bits));
            if (LpiConfig::enabled(vlpi_config(s, vintid))) return true;
        }
    for (const VsgiState& sgi : s.sgis)
        if (sgi.pending && sgi.enabled) return true;
    return false;
}

uint8_t Redistributor::vlpi_config(VpeState& s, uint32_t vintid) {
    if (auto it = s.config.find(vintid); it != s.config.end()) return it->second;
    if (vintid < kFirstLpiIntid) return 0;
    MemRead<uint8_t> byte = gic_->memory().read8(s.props.vconf_addr + (vintid - kFirstLpiIntid));
    if (!byte.ok())
        gic_->log().emit(tp::kGicrReadVconfError,
                         "the vLPI configuration table lies outside memory: the vLPI reads as disabled", index_,
                         vpe_name(s.props.vpeid), vintid);
    s.config.emplace(vintid, byte.value);
    return byte.value;
}

uint8_t Redistributor::lpi_config(uint32_t intid) {
    if (auto it = lpi_config_.find(intid); it != lpi_config_.end()) return it->second;
    uint8_t value = 0;
    uint32_t limit = uint32_t{1} << std::min<unsigned>(GicrPropbaser::IDbits.get(propbaser_) + 1, 32);
    if (intid >= kFirstLpiIntid && intid < limit) {
        MemRead<uint8_t> byte =
            gic_->memory().read8(GicrPropbaser::PhysAddr.get_in_place(propbaser_) + (intid - kFirstLpiIntid));
        value = byte.value;
    }
    lpi_config_.emplace(intid, value);
    return value;
}

void Redistributor::consume_vlpi(VpeState& s, uint32_t vintid) { set_bit(s, vintid, false); }

// ---- physical LPIs --------------------------------------------------------------------------

void Redistributor::set_lpi_pending(uint32_t intid, bool pending) {
    EventLog& log = gic_->log();
    if (!pending) {
        if (lpi_pending_.erase(intid)) log.emit(tp::kGicrLpiClear, index_, intid);
        return;
    }
    bool added = lpi_pending_.insert(intid).second;
    log.emit(tp::kGicrLpiPending, index_, intid, !added);
    if (added && enable_lpis_ && LpiConfig::enabled(lpi_config(intid))) gic_->signal_host(index_, intid);
}

uint32_t Redistributor::acknowledge_lpi() {
    std::optional<uint32_t> best;
    uint8_t best_priority = 0xFF;
    if (enable_lpis_) {
        for (uint32_t intid : lpi_pending_) {
            uint8_t cfg = lpi_config(intid);
            if (LpiConfig::enabled(cfg) && (!best || LpiConfig::priority(cfg) < best_priority)) {
                best = intid;
                best_priority = LpiConfig::priority(cfg);
            }
        }
    }
    if (!best) return kSpuriousIntid;
    lpi_pending_.erase(*best);
    gic_->log().emit(tp::kGicrHostAck, index_, *best);
    return *best;
}

void Redistributor::invalidate_lpi_config(std::optional<uint32_t> intid) {
    gic_->log().emit(tp::kGicrInvalidateLpiConfig, index_, intid.value_or(0), !intid);
    // A pending LPI that was disabled and that the new configuration enables is signalled now.
    std::vector<uint32_t> was_disabled;
    for (uint32_t p : lpi_pending_)
        if ((!intid || p == *intid) && !LpiConfig::enabled(lpi_config(p))) was_disabled.push_back(p);
    if (intid)
        lpi_config_.erase(*intid);
    else
        lpi_config_.clear();
    if (!enable_lpis_) return;
    for (uint32_t p : was_disabled)
        if (LpiConfig::enabled(lpi_config(p))) gic_->signal_host(index_, p);
}

// ---- vPEs -----------------------------------------------------------------------------------

void Redistributor::map_vpe(const VpeProps& props, bool alloc, bool ptz) {
    EventLog& log = gic_->log();
    const bool v41 = gic_->config().v41();
    VpeState* s = find(props.vpeid);
    if (!s && !v41) {
        // GICv4.0: a vPE that was made resident before any ITS mapped it is adopted.
        for (auto it = vpes_.begin(); it != vpes_.end(); ++it) {
            if (it->second.transient && it->second.props.vpt_addr == props.vpt_addr) {
                VpeState t = std::move(it->second);
                vpes_.erase(it);
                t.transient = false;
                t.props.vpeid = props.vpeid;
                if (resident_ == kTransientVpe) resident_ = props.vpeid;
                s = &vpes_.emplace(props.vpeid, std::move(t)).first->second;
                break;
            }
        }
    }
    if (s && s->maps == 0 && v41 && alloc) {
        // A stale state (the last unmap had Alloc=0): Alloc=1 allocates afresh.
        log.emit(tp::kGicrDropStaleCache, index_, props.vpeid);
        vpes_.erase(props.vpeid);
        s = nullptr;
    }
    if (!s) {
        if (v41 && !alloc)
            log.emit(tp::kGicrMapVpeError,
                     "VMAPP V=1 with Alloc=0 for a vPE no ITS maps yet: Alloc=1 marks the first map", index_,
                     props.vpeid);
        VpeState fresh;
        fresh.props = props;
        fresh.clear_pending((fresh.limit() + 63) / 64);
        // GICv4.1 PTZ (with Alloc): the VPT is known to be zero, so it is not read.
        fresh.loaded = v41 && alloc && ptz;
        if (v41 && alloc) fresh.sgis = gic_->take_vsgis(props.vpeid, ptz);  // the vSGI state comes back with the vPE
        s = &vpes_.emplace(props.vpeid, std::move(fresh)).first->second;
    } else if (v41 && alloc && s->maps > 0) {
        log.emit(tp::kGicrMapVpeError,
                 "VMAPP V=1 with Alloc=1 for a vPE another ITS already maps: Alloc=1 marks the first map", index_,
                 props.vpeid);
    }
    if (s->maps > 0 && (s->props.vpt_addr != props.vpt_addr || s->props.id_bits != props.id_bits))
        log.emit(tp::kGicrMapVpeError,
                 "VMAPP maps a vPE with a VPT other than the one it already has: UNPREDICTABLE, the first kept", index_,
                 props.vpeid);
    else if (s->maps == 0)
        s->props = props;
    ++s->maps;
    gic_->note_vpt(props.vpeid, props.vpt_addr, props.id_bits);
    log.emit(tp::kGicrMapVpe, index_, props.vpeid, s->maps, s->loaded, Hex{props.vpt_addr});
}

void Redistributor::unmap_vpe(uint32_t vpeid, bool alloc) {
    EventLog& log = gic_->log();
    VpeState* s = find(vpeid);
    if (!s || s->maps == 0) {
        log.emit(tp::kGicrUnmapVpeError, "VMAPP V=0 for a vPE this redistributor does not hold", index_, vpeid);
        return;
    }
    --s->maps;
    log.emit(tp::kGicrUnmapVpe, index_, vpeid, s->maps, alloc);
    if (!gic_->config().v41()) return;  // GICv4.0 has no way to clean the cache (reference/arm §1.5)
    if (alloc) {
        // IHI 0069 (quoted by Marc Zyngier, 2020-12-01): VMAPP {V,Alloc}={0,1} cleans and invalidates
        // any caching of the VPT and the vLPI configuration table.
        write_back(*s);
        log.emit(tp::kGicrVptClean, index_, vpeid);
        if (s->maps != 0) {
            // Not the last unmap after all: the vPE stays usable for the ITSs that still map it.
            log.emit(tp::kGicrUnmapVpeError,
                     "VMAPP V=0 with Alloc=1 while other ITSs still map the vPE: Alloc=1 marks the last "
                     "unmap; the cache is cleaned but kept",
                     index_, vpeid);
            s->config.clear();
            return;
        }
        gic_->stash_vsgis(vpeid, s->sgis);  // kept with the vPE's tables (Gic::stash_vsgis)
        vpes_.erase(vpeid);
    } else if (s->maps == 0) {
        log.emit(tp::kGicrUnmapVpeError,
                 "the last VMAPP V=0 had Alloc=0: the VPT cache is neither cleaned nor invalidated", index_, vpeid);
    }
}

void Redistributor::move_vpe(uint32_t vpeid, Redistributor& to) {
    auto node = vpes_.extract(vpeid);
    if (node.empty()) return;
    gic_->log().emit(tp::kGicrMoveVpe, index_, to.index_, vpeid);
    if (to.has_vpe(vpeid)) to.drop_vpe(vpeid, "a VMOVP brings the vPE's current state");
    to.vpes_.insert(std::move(node));
}

void Redistributor::drop_vpe(uint32_t vpeid, const char* why) {
    if (vpes_.erase(vpeid)) gic_->log().emit(tp::kGicrDropStaleCacheWhy, index_, vpeid, why);
}

void Redistributor::set_default_doorbell(uint32_t vpeid, uint32_t doorbell) {
    if (VpeState* s = find(vpeid)) s->props.default_doorbell = doorbell;
}

void Redistributor::ring_doorbell(VpeState& s, uint32_t pintid, const char* why) {
    EventLog& log = gic_->log();
    if (pintid == kNoDoorbell) {
        log.emit(tp::kGicrNoDoorbell, index_, vpe_name(s.props.vpeid), why);
        return;
    }
    log.emit(tp::kGicrDoorbell, index_, vpe_name(s.props.vpeid), pintid, why);
    set_lpi_pending(pintid, true);
}

void Redistributor::set_vlpi_pending(uint32_t vpeid, uint32_t vintid, bool pending, uint32_t ite_doorbell) {
    EventLog& log = gic_->log();
    VpeState* s = find(vpeid);
    if (!s || vintid >= s->limit()) {
        log.emit(pending ? tp::kGicrVlpiPendingError : tp::kGicrVlpiClearError,
                 "vLPI for a vPE this redistributor does not hold, or beyond its VPT: dropped", index_, vpeid, vintid);
        return;
    }
    set_bit(*s, vintid, pending);
    log.emit(pending ? tp::kGicrVlpiPending : tp::kGicrVlpiClear, index_, vpeid, vintid, resident_ == vpeid);
    if (!pending) return;
    if (resident_ == vpeid) {
        gic_->cpu(index_).check_vlpi_not_in_lr(vpeid, vintid);
        return;
    }
    if (gic_->config().v41()) {
        // GICv4.1: "if we read-back PendingLast clear, then a doorbell will be delivered when an
        // interrupt comes" (its_vpe_4_1_deschedule, reference/arm §1.3): once, for an enabled vLPI.
        if (s->doorbell_armed && LpiConfig::enabled(vlpi_config(*s, vintid))) {
            s->doorbell_armed = false;
            ring_doorbell(*s, s->props.default_doorbell, "default doorbell (4.1)");
        }
    } else if (ite_doorbell != kNoDoorbell) {
        ring_doorbell(*s, ite_doorbell, "per-vLPI doorbell (4.0)");  // reference/arm §1.6
    }
}

bool Redistributor::vlpi_pending(uint32_t vpeid, uint32_t vintid) const {
    const VpeState* s = vpe(vpeid);
    if (!s || vintid >= s->limit()) return false;
    if (s->loaded) return s->test(vintid);
    PendingBitPos pos = vpt_byte_and_bit(vintid);
    MemRead<uint8_t> byte = gic_->memory().read8(s->props.vpt_addr + pos.byte);
    return byte.ok() && ((byte.value >> pos.bit) & 1);
}

void Redistributor::invalidate_vlpi_config(uint32_t vpeid, std::optional<uint32_t> vintid) {
    VpeState* s = find(vpeid);
    gic_->log().emit(tp::kGicrInvalidateVlpiConfig, index_, vpeid, vintid.value_or(0), !vintid);
    if (!s) return;
    if (vintid)
        s->config.erase(*vintid);
    else
        s->config.clear();
}

void Redistributor::vsgi_configure(uint32_t vpeid, unsigned sgi, uint8_t priority, bool group1, bool enable) {
    VpeState* s = find(vpeid);
    if (!s || sgi >= 16) {
        gic_->log().emit(tp::kGicrVsgiConfigError, "vSGI of a vPE this redistributor does not hold", index_, vpeid,
                         sgi);
        return;
    }
    VsgiState& v = s->sgis[sgi];
    v.priority = priority;
    v.group1 = group1;
    v.enabled = enable;
    gic_->log().emit(tp::kGicrVsgiConfig, index_, vpeid, sgi, priority, group1, enable);
}

void Redistributor::vsgi_set_pending(uint32_t vpeid, unsigned sgi, bool pending) {
    VpeState* s = find(vpeid);
    if (!s || sgi >= 16) {
        gic_->log().emit(tp::kGicrVsgiPendingError, "vSGI of a vPE this redistributor does not hold", index_, vpeid,
                         sgi);
        return;
    }
    s->sgis[sgi].pending = pending;
    gic_->log().emit(pending ? tp::kGicrVsgiPending : tp::kGicrVsgiClear, index_, vpeid, sgi, resident_ == vpeid);
    if (pending && resident_ != vpeid && gic_->config().v41() && s->doorbell_armed && s->sgis[sgi].enabled) {
        s->doorbell_armed = false;
        ring_doorbell(*s, s->props.default_doorbell, "default doorbell (4.1), vSGI");
    }
}

void Redistributor::where_vlpi(uint32_t vpeid, uint32_t vintid, std::vector<Location>& out) const {
    const VpeState* s = vpe(vpeid);
    if (!s || vintid >= s->limit()) return;
    bool live = s->maps > 0 || s->transient;
    if (s->loaded) {
        if (s->test(vintid)) out.push_back({&places::kRdCache, vpeid, live});
    } else if (vlpi_pending(vpeid, vintid)) {
        out.push_back({&places::kVpt, vpeid, live});
    }
}

}  // namespace irqdiff::arm
