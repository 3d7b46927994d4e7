// IRTE decode/encode for the remapped and posted formats (layout in irte.h).
#include "x86_pi/hw/irte.h"

namespace irqdiff::x86 {

namespace {

bool bit(uint64_t v) { return v != 0; }
uint8_t u8(uint64_t v) { return static_cast<uint8_t>(v); }

}  // namespace

RemappedIrte RemappedIrte::decode(uint64_t low, uint64_t high) {
    RemappedIrte e;
    e.present = bit(Low::P.get(low));
    e.fpd = bit(Low::FPD.get(low));
    e.dm = bit(Low::DM.get(low));
    e.rh = bit(Low::RH.get(low));
    e.tm = bit(Low::TM.get(low));
    e.dlm = u8(Low::DLM.get(low));
    e.avail = u8(Low::AVAIL.get(low));
    e.vector = u8(Low::Vector.get(low));
    e.dst = static_cast<uint32_t>(Low::DST.get(low));
    e.sid = static_cast<uint16_t>(High::SID.get(high));
    e.sq = u8(High::SQ.get(high));
    e.svt = u8(High::SVT.get(high));
    return e;
}

IrteWords RemappedIrte::encode() const {
    IrteWords w;
    w.low = Low::P.set(w.low, present);
    w.low = Low::FPD.set(w.low, fpd);
    w.low = Low::DM.set(w.low, dm);
    w.low = Low::RH.set(w.low, rh);
    w.low = Low::TM.set(w.low, tm);
    w.low = Low::DLM.set(w.low, dlm);
    w.low = Low::AVAIL.set(w.low, avail);
    w.low = Low::IM.set(w.low, 0);
    w.low = Low::Vector.set(w.low, vector);
    w.low = Low::DST.set(w.low, dst);
    w.high = High::SID.set(w.high, sid);
    w.high = High::SQ.set(w.high, sq);
    w.high = High::SVT.set(w.high, svt);
    return w;
}

PostedIrte PostedIrte::decode(uint64_t low, uint64_t high) {
    PostedIrte e;
    e.present = bit(Low::P.get(low));
    e.fpd = bit(Low::FPD.get(low));
    e.avail = u8(Low::AVAIL.get(low));
    e.urg = bit(Low::URG.get(low));
    e.vv = u8(Low::VV.get(low));
    e.pda = Pda::Low.make(Low::PDAL.get(low)) | Pda::High.make(High::PDAH.get(high));
    e.sid = static_cast<uint16_t>(High::SID.get(high));
    e.sq = u8(High::SQ.get(high));
    e.svt = u8(High::SVT.get(high));
    return e;
}

IrteWords PostedIrte::encode() const {
    IrteWords w;
    w.low = Low::P.set(w.low, present);
    w.low = Low::FPD.set(w.low, fpd);
    w.low = Low::AVAIL.set(w.low, avail);
    w.low = Low::URG.set(w.low, urg);
    w.low = Low::IM.set(w.low, 1);
    w.low = Low::VV.set(w.low, vv);
    w.low = Low::PDAL.set(w.low, Pda::Low.get(pda));
    w.high = High::SID.set(w.high, sid);
    w.high = High::SQ.set(w.high, sq);
    w.high = High::SVT.set(w.high, svt);
    w.high = High::PDAH.set(w.high, Pda::High.get(pda));
    return w;
}

}  // namespace irqdiff::x86
