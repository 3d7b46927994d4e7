#include "arm_gic/hw/cpu_interface.h"

#include <fmt/format.h>

#include <bit>

#include "arm_gic/hw/gic.h"
#include "arm_gic/places.h"
#include "arm_gic/trace_points.h"

namespace irqdiff::arm {

namespace {

constexpr uint32_t kNoOwner = UINT32_MAX;
constexpr const char* kLrAndStream =
    "one interrupt must not be in a list register and in the direct-injection stream at once (Marc Zyngier "
    "2021-01-05: \"the same interrupt via both the LR and the stream interface\", reference/arm §3.1)";

const char* to_string(ListRegister::Status s) {
    switch (s) {
        case ListRegister::Status::Invalid: return "invalid";
        case ListRegister::Status::Pending: return "pending";
        case ListRegister::Status::Active: return "active";
        case ListRegister::Status::PendingActive: return "pending+active";
    }
    return "?";
}

}  // namespace

ListRegister ListRegister::decode(uint64_t raw) {
    ListRegister lr;
    lr.status = static_cast<Status>(State.get(raw));
    lr.hw = HW.get(raw) != 0;
    lr.group1 = Group.get(raw) != 0;
    lr.priority = static_cast<uint8_t>(Priority.get(raw));
    lr.pintid = static_cast<uint16_t>(pINTID.get(raw));
    lr.vintid = static_cast<uint32_t>(vINTID.get(raw));
    return lr;
}

uint64_t ListRegister::encode() const {
    return State.make(static_cast<uint64_t>(status)) | HW.make(hw) | Group.make(group1) | Priority.make(priority) |
           pINTID.make(pintid) | vINTID.make(vintid);
}

CpuInterface::CpuInterface(Gic* gic, unsigned index)
    : gic_(gic),
      index_(index),
      lrs_(gic->config().list_registers, 0),
      lr_owner_(gic->config().list_registers, kNoOwner) {}

Redistributor& CpuInterface::rd() { return gic_->rd(index_); }

uint8_t CpuInterface::read_rpr() const { return active_.empty() ? 0xFF : active_.back().priority; }

void CpuInterface::write_pmr(uint8_t pmr) {
    pmr_ = pmr;
    gic_->log().emit(tp::kVcpuWritePmr, index_, Hex{pmr});
}

void CpuInterface::write_igrpen1(bool enable) {
    grp1_ = enable;
    gic_->log().emit(tp::kVcpuWriteIgrpen1, index_, enable);
}

void CpuInterface::write_igrpen0(bool enable) {
    grp0_ = enable;
    gic_->log().emit(tp::kVcpuWriteIgrpen0, index_, enable);
}

std::optional<CpuInterface::Candidate> CpuInterface::highest() {
    std::optional<Candidate> best;
    auto consider = [&](uint32_t intid, uint8_t priority, Source kind, unsigned lr) {
        if (!best || priority < best->priority || (priority == best->priority && intid < best->intid))
            best = Candidate{intid, priority, kind, lr};
    };
    Redistributor& r = rd();
    if (VpeState* v = r.ready_vpe(); v && grp1_ && r.vgrp1_enabled()) {
        // vLPIs are Group 1. Equal priorities go to the lowest INTID (consider()).
        for (uint32_t w = v->next_pending_word(kFirstLpiIntid / 64); w < v->pending.size();
             w = v->next_pending_word(w + 1))
            for (uint64_t bits = v->pending[w]; bits; bits &= bits - 1) {
                uint32_t vintid = w * 64 + static_cast<uint32_t>(std::countr_zero(bits));
                uint8_t cfg = r.vlpi_config(*v, vintid);
                if (LpiConfig::enabled(cfg)) consider(vintid, LpiConfig::priority(cfg), Source::Vlpi, 0);
            }
        for (unsigned sgi = 0; sgi < 16; ++sgi) {
            const VsgiState& s = v->sgis[sgi];
            if (s.pending && s.enabled && s.group1) consider(sgi, s.priority, Source::Vsgi, 0);
        }
    }
    if (grp1_) {
        for (unsigned n = 0; n < lrs_.size(); ++n) {
            if (ListRegister::State.get(lrs_[n]) != static_cast<uint64_t>(ListRegister::Status::Pending)) continue;
            ListRegister lr = ListRegister::decode(lrs_[n]);
            // Only a Pending entry is signalled: a pending+active one waits for its deactivation
            // (IHI 0069, as QEMU's hppvi_index reads it).
            if (lr.status == ListRegister::Status::Pending && lr.group1) consider(lr.vintid, lr.priority, Source::ListRegister, n);
        }
    }
    if (best && (best->priority >= pmr_ || best->priority >= read_rpr())) return std::nullopt;
    return best;
}

uint32_t CpuInterface::read_hppir1() {
    std::optional<Candidate> c = highest();
    return c ? c->intid : kSpuriousIntid;
}

uint32_t CpuInterface::read_iar1() {
    EventLog& log = gic_->log();
    std::optional<Candidate> c = highest();
    if (!c) {
        last_ack_.reset();
        log.emit(tp::kVcpuReadIar1Spurious, index_, kSpuriousIntid);
        return kSpuriousIntid;
    }
    last_ack_ = c->kind;
    if (c->kind == Source::Vlpi) {
        rd().consume_vlpi(*rd().ready_vpe(), c->intid);
    } else if (c->kind == Source::Vsgi) {
        rd().ready_vpe()->sgis[c->intid].pending = false;
    } else {
        ListRegister lr = ListRegister::decode(lrs_[c->lr]);
        lr.status = ListRegister::Status::Active;  // edge: acknowledging clears the pending state
        lrs_[c->lr] = lr.encode();
    }
    active_.push_back(ActiveEntry{c->intid, c->priority, c->kind, c->lr});
    log.emit(tp::kVcpuReadIar1, index_, c->intid, to_string(c->kind), Hex{c->priority});
    return c->intid;
}

void CpuInterface::write_eoir1(uint32_t intid) {
    EventLog& log = gic_->log();
    if (intid >= 1020 && intid <= 1023) {  // e.g. the 1023 an IAR read returned when nothing was pending
        log.emit(tp::kVcpuWriteEoir1Special, "an EOI of a special INTID is ignored", index_, intid);
        return;
    }
    auto it = active_.end();
    for (auto i = active_.begin(); i != active_.end(); ++i)
        if (i->intid == intid) it = i;
    if (it == active_.end()) {
        log.emit(tp::kVcpuWriteEoir1Violation,
                 "EOI of an interrupt that is not active (IHI 0069: ICC_EOIR1 of an INTID that is not the "
                 "highest active one is UNPREDICTABLE)",
                 index_, intid);
        return;
    }
    if (it + 1 != active_.end())
        log.emit(tp::kVcpuWriteEoir1Error,
                 "EOI of an interrupt that is not the most recently acknowledged one: UNPREDICTABLE, the model "
                 "drops that interrupt's priority",
                 index_, intid);
    ActiveEntry e = *it;
    active_.erase(it);
    log.emit(tp::kVcpuWriteEoir1, index_, intid);
    if (e.kind != Source::ListRegister) return;  // vLPIs and vSGIs have no active state to clear
    ListRegister lr = ListRegister::decode(lrs_[e.lr]);
    if (lr.vintid != intid || !lr.active()) {
        log.emit(tp::kVcpuWriteEoir1LrError,
                 "the list register that held the acknowledged interrupt was rewritten: nothing to deactivate", index_,
                 intid, e.lr);
        return;
    }
    lr.status = lr.status == ListRegister::Status::PendingActive ? ListRegister::Status::Pending
                                                                 : ListRegister::Status::Invalid;
    lrs_[e.lr] = lr.encode();
    if (lr.hw) log.emit(tp::kVcpuDeactivatePhysical, index_, lr.pintid);
}

uint64_t CpuInterface::read_lr(unsigned n) const { return n < lrs_.size() ? lrs_[n] : 0; }

void CpuInterface::write_lr(unsigned n, uint64_t value) {
    EventLog& log = gic_->log();
    if (n >= lrs_.size()) {
        log.emit(tp::kVcpuWriteLrError, "no such list register: write ignored", index_, n);
        return;
    }
    std::optional<uint32_t> resident = rd().resident_vpe();
    lr_owner_[n] = resident.value_or(kNoOwner);
    ListRegister lr = ListRegister::decode(value);
    log.emit(tp::kVcpuWriteLr, index_, n, to_string(lr.status), lr.vintid, lr.hw, Hex{lr.priority});
    if (lr.hw && lr.status == ListRegister::Status::PendingActive) {
        // With HW = 1 the pending state of the interrupt is the physical interrupt's, held at the
        // physical distributor, so pending-and-active is not a valid State for such a list register
        // (IHI 0069 ICH_LR<n>_EL2; vgic_v3_populate_lr never writes it). The model's choice: the
        // list register keeps the active state only, and reads back as active.
        log.emit(tp::kVcpuWriteLrHwPendingActiveError,
                 "HW=1 with State pending and active is not valid: the list register is kept active, its pending "
                 "state dropped",
                 index_, n, lr.vintid);
        lr.status = ListRegister::Status::Active;
        value = lr.encode();
    }
    lrs_[n] = value;
    if (lr.status == ListRegister::Status::Invalid) return;
    if (lr.hw && (lr.vintid >= kFirstLpiIntid || lr.vintid < 16))
        log.emit(tp::kVcpuWriteLrHwViolation,
                 "a list register with HW=1 for a vLPI or a vSGI: KVM sets hwintid only for PPIs and SPIs, so "
                 "vgic_v3_populate_lr would name pINTID 0 (DESIGN.md, reference/arm §3.1; vgic_v4_enable_vsgis "
                 "sets host_irq only)",
                 index_, n, lr.vintid);
    for (unsigned m = 0; m < lrs_.size(); ++m) {
        ListRegister other = ListRegister::decode(lrs_[m]);
        if (m != n && other.status != ListRegister::Status::Invalid && other.vintid == lr.vintid)
            log.emit(tp::kVcpuWriteLrTwiceViolation,
                     "two list registers hold the same interrupt (IHI 0069: UNPREDICTABLE)", index_, n, m, lr.vintid);
    }
    if (resident && rd().vlpi_pending(*resident, lr.vintid))
        log.emit(tp::kVcpuWriteLrAndVptViolation, kLrAndStream, index_, n, *resident, lr.vintid);
}

void CpuInterface::check_vlpi_not_in_lr(uint32_t vpeid, uint32_t vintid) {
    for (unsigned n = 0; n < lrs_.size(); ++n) {
        ListRegister lr = ListRegister::decode(lrs_[n]);
        if (lr.status != ListRegister::Status::Invalid && lr.vintid == vintid && lr_owner_[n] == vpeid)
            gic_->log().emit(tp::kGicrVlpiPendingLrViolation, kLrAndStream, index_, n, vpeid, vintid);
    }
}

void CpuInterface::where_vlpi(uint32_t vpeid, uint32_t vintid, std::vector<Location>& out) const {
    for (unsigned n = 0; n < lrs_.size(); ++n) {
        ListRegister lr = ListRegister::decode(lrs_[n]);
        if (lr.pending() && lr.vintid == vintid && lr_owner_[n] == vpeid)
            out.push_back({&places::kListRegister, index_, true});
    }
}

const char* to_string(CpuInterface::Source source) {
    switch (source) {
        case CpuInterface::Source::Vlpi: return "vlpi";
        case CpuInterface::Source::Vsgi: return "vsgi";
        case CpuInterface::Source::ListRegister: return "lr";
    }
    return "?";
}

}  // namespace irqdiff::arm
