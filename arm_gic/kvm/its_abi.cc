#include "arm_gic/kvm/its_abi.h"

namespace irqdiff::arm::kvm {

AbiDte AbiDte::decode(uint64_t w) {
    return AbiDte{Valid.get(w) != 0, static_cast<uint32_t>(Next.get(w)), IttAddr.get(w) << 8,
                  static_cast<uint8_t>(Size.get(w))};
}

uint64_t AbiDte::encode() const {
    return Valid.make(valid) | Next.make(next) | IttAddr.make(itt_addr >> 8) | Size.make(size);
}

AbiCte AbiCte::decode(uint64_t w) {
    return AbiCte{Valid.get(w) != 0, static_cast<uint32_t>(RDBase.get(w)), static_cast<uint16_t>(ICID.get(w))};
}

uint64_t AbiCte::encode() const { return Valid.make(valid) | RDBase.make(rdbase) | ICID.make(icid); }

AbiIte AbiIte::decode(uint64_t w) {
    return AbiIte{static_cast<uint32_t>(Next.get(w)), static_cast<uint32_t>(pINTID.get(w)),
                  static_cast<uint16_t>(ICID.get(w))};
}

uint64_t AbiIte::encode() const { return Next.make(next) | pINTID.make(pintid) | ICID.make(icid); }

}  // namespace irqdiff::arm::kvm
