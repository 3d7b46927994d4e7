// The VT-d interrupt-remapping unit (iommu.h): IRTE lookup through the IEC, remapping, and the
// posting sequence of VT-d §5.2.3.
#include "x86_pi/hw/iommu.h"

#include <array>

#include "x86_pi/trace_points.h"

namespace irqdiff::x86 {

const char* to_string(IrFault fault) {
    switch (fault) {
        case IrFault::None: return "none";
        case IrFault::RemappingDisabled: return "remapping-disabled";
        case IrFault::NotRemappable: return "compatibility-format";
        case IrFault::ReservedRequest: return "reserved-request-bits";
        case IrFault::IndexOutOfRange: return "index-out-of-range";
        case IrFault::IrtAccess: return "irt-access";
        case IrFault::NotPresent: return "not-present";
        case IrFault::ReservedIrte: return "reserved-irte-bits";
        case IrFault::SidMismatch: return "sid-mismatch";
        case IrFault::PidAccess: return "pid-access";
        case IrFault::PidReserved: return "pid-reserved-bits";
        case IrFault::UnsupportedDelivery: return "unsupported-delivery";
    }
    return "?";
}

uint32_t RemappableMsi::address(uint16_t handle) {
    uint64_t a = Address::Fee.make(0xFEE);
    a = Address::HandleLow.set(a, handle & 0x7FFF);
    a = Address::Remappable.set(a, 1);
    a = Address::HandleHigh.set(a, handle >> 15);
    return static_cast<uint32_t>(a);
}

void Iommu::set_irtp() {
    irta_ = irta_reg_;
    invalidate_iec_all();
    log_->emit(tp::kIommuSetIrtp, Hex{table_address()}, table_entries(), x2apic());
}

void Iommu::invalidate_iec_all() {
    ++invalidations_;
    for (IecSlot& s : iec_) s.valid = false;
}

void Iommu::invalidate_iec(uint32_t index, unsigned im) {
    ++invalidations_;
    uint32_t count = 1u << im;
    uint32_t first = index & ~(count - 1);  // the IIDX of a 2^IM block is aligned to its size
    for (IecSlot& s : iec_)
        if (s.valid && s.index >= first && s.index - first < count) s.valid = false;
}

bool Iommu::sid_valid(uint8_t svt, uint8_t sq, uint16_t sid, uint16_t requester) {
    switch (svt) {
        case 0: return true;  // no verification
        case 1: {
            // SQ selects requester-ID bits to ignore in the comparison: none, bit 2, bits 2:1, bits 2:0.
            static constexpr std::array<uint16_t, 4> kIgnore = {0x0, 0x4, 0x6, 0x7};
            uint16_t mask = static_cast<uint16_t>(~kIgnore[sq & 3]);
            return (sid & mask) == (requester & mask);
        }
        case 2: {  // the requester's bus lies in [SID[15:8], SID[7:0]]
            unsigned bus = requester >> 8;
            return bus >= (sid >> 8) && bus <= (sid & 0xFF);
        }
        default: return false;  // reserved: checked before as a reserved-field fault
    }
}

IrResult Iommu::blocked(IrFault fault, uint32_t index, bool fpd, const MsiRequest& msi) {
    if (fpd)
        log_->emit(tp::kIommuFaultIgnored, "the IRTE's FPD=1 suppresses the fault record (VT-d §9.10)",
                   to_string(fault), index, Hex{msi.address}, Hex{msi.data}, Hex{msi.sid});
    else
        log_->emit(tp::kIommuFaultError, "interrupt request blocked and a fault recorded (VT-d §5.1)", to_string(fault),
                   index, Hex{msi.address}, Hex{msi.data}, Hex{msi.sid});
    return IrResult{IrResult::Kind::Blocked, fault, index, std::nullopt};
}

IrResult Iommu::request(const MsiRequest& msi) {
    using A = RemappableMsi::Address;
    if (!enabled_) return blocked(IrFault::RemappingDisabled, 0, false, msi);
    if (A::Fee.get(msi.address) != 0xFEE || (msi.address >> 32) != 0)
        return blocked(IrFault::ReservedRequest, 0, false, msi);
    if (!A::Remappable.get(msi.address)) return blocked(IrFault::NotRemappable, 0, false, msi);
    uint32_t index = static_cast<uint32_t>(A::HandleLow.get(msi.address) | (A::HandleHigh.get(msi.address) << 15));
    if (A::SHV.get(msi.address)) {
        if (RemappableMsi::Data::Reserved.get(msi.data)) return blocked(IrFault::ReservedRequest, index, false, msi);
        index += static_cast<uint32_t>(RemappableMsi::Data::Subhandle.get(msi.data));
    }
    if (index >= table_entries()) return blocked(IrFault::IndexOutOfRange, index, false, msi);

    IecSlot& slot = iec_[index % kIecSlots];
    if (!slot.valid || slot.index != index) {
        MemRead<uint64_t> low = mem_->read64(entry_address(index));
        MemRead<uint64_t> high = mem_->read64(entry_address(index) + 8);
        if (!low.ok() || !high.ok()) return blocked(IrFault::IrtAccess, index, false, msi);
        slot = IecSlot{true, index, IrteWords{low.value, high.value}};
    }
    const IrteWords w = slot.entry;

    bool fpd = RemappedIrte::Low::FPD.get(w.low) != 0;  // same bit in both formats
    if (!RemappedIrte::Low::P.get(w.low)) return blocked(IrFault::NotPresent, index, fpd, msi);
    const bool posted = is_posted(w.low);
    uint64_t reserved_low = posted ? PostedIrte::kReservedLow : RemappedIrte::kReservedLow;
    uint64_t reserved_high = posted ? PostedIrte::kReservedHigh : RemappedIrte::kReservedHigh;
    if ((w.low & reserved_low) || (w.high & reserved_high) || RemappedIrte::High::SVT.get(w.high) == 3)
        return blocked(IrFault::ReservedIrte, index, fpd, msi);
    uint8_t svt = static_cast<uint8_t>(RemappedIrte::High::SVT.get(w.high));
    uint8_t sq = static_cast<uint8_t>(RemappedIrte::High::SQ.get(w.high));
    uint16_t sid = static_cast<uint16_t>(RemappedIrte::High::SID.get(w.high));
    if (!sid_valid(svt, sq, sid, msi.sid)) return blocked(IrFault::SidMismatch, index, fpd, msi);

    if (posted) return post(PostedIrte::decode(w.low, w.high), index, msi);

    RemappedIrte e = RemappedIrte::decode(w.low, w.high);
    // The host driver programs physical destinations with fixed delivery; logical destinations and
    // other delivery modes reach no modelled CPU.
    if (e.dm || e.dlm != 0) return blocked(IrFault::UnsupportedDelivery, index, fpd, msi);
    uint32_t apic_id = apic_id_from_ndst(e.dst, x2apic());  // DST uses NDST's xAPIC/x2APIC encoding
    log_->emit(tp::kIommuRemap, index, Hex{e.vector}, apic_id);
    return IrResult{IrResult::Kind::Remapped, IrFault::None, index, InterruptMessage{apic_id, e.vector}};
}

IrResult Iommu::post(const PostedIrte& e, uint32_t index, const MsiRequest& msi) {
    // One coherent read-modify-write of the descriptor [VT-d §5.2.3 step 3, reference §2.1]: the
    // words it needs (the control word, the reserved words, the PIR word holding VV), validated,
    // then the PIR word and the control word written back. The PDA is 64-byte aligned by
    // construction (its bits 5:0 are not stored).
    const uint64_t control_at = e.pda + kPiDescControlOffset;
    const uint64_t pir_at = e.pda + 8 * (e.vv / 64);
    MemRead<uint64_t> control = mem_->read64(control_at);
    MemRead<uint64_t> pir = mem_->read64(pir_at);
    if (!control.ok() || !pir.ok() || !mem_->contains(e.pda, kPiDescBytes))
        return blocked(IrFault::PidAccess, index, e.fpd, msi);
    bool reserved = (control.value & PiDescControl::kReservedMask) != 0;
    for (unsigned w = kPiDescControlWord + 1; w < kPiDescBytes / 8 && !reserved; ++w)
        reserved = mem_->read64(e.pda + 8 * w).value != 0;
    if (reserved) return blocked(IrFault::PidReserved, index, e.fpd, msi);
    const uint64_t bit = uint64_t{1} << (e.vv % 64);
    const bool already = (pir.value & bit) != 0;
    const bool on = PiDescControl::ON.get(control.value) != 0;
    const bool sn = PiDescControl::SN.get(control.value) != 0;
    const bool notify = !on && (e.urg || !sn);  // X
    mem_->write64(pir_at, pir.value | bit);
    if (notify) mem_->write64(control_at, PiDescControl::ON.set(control.value, 1));
    log_->emit(tp::kIommuPost, index, Hex{e.pda}, Hex{e.vv}, already, on || notify, sn, e.urg, notify);
    IrResult out{IrResult::Kind::Posted, IrFault::None, index, std::nullopt};
    if (notify) {  // step 4: NV to NDST, fixed, physical, edge
        uint32_t ndst = static_cast<uint32_t>(PiDescControl::NDST.get(control.value));
        uint8_t nv = static_cast<uint8_t>(PiDescControl::NV.get(control.value));
        out.message = InterruptMessage{apic_id_from_ndst(ndst, x2apic()), nv};
    }
    return out;
}

}  // namespace irqdiff::x86
