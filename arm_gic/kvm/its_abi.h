// KVM's ITS table ABI, revision 0: the format in which KVM_DEV_ARM_ITS_SAVE_TABLES writes the
// virtual ITS's device table, ITTs and collection table into guest RAM, and RESTORE_TABLES reads
// them back (torvalds/linux Documentation/virt/kvm/devices/arm-vgic-its.rst, "ITS Table ABI
// REV0"). All entries are 8 bytes, little-endian; the device table and ITTs are indexed by DeviceID
// and EventID, the collection table is a list in no particular order.
//
//   DTE  Valid[63] Next[62:49] ITT_addr[48:5] (address bits [51:8]) Size[4:0] (EventID bits - 1)
//   CTE  Valid[63] RES0[62:52] RDBase[51:16] (the vCPU) ICID[15:0]
//   ITE  Next[63:48] pINTID[47:16] (0: not valid) ICID[15:0]
// Next is the offset to the next valid entry (0 for the last), capped at 2^14 - 1 (DTE) and
// 2^16 - 1 (ITE).
#pragma once

#include <cstdint>

#include "core/bits.h"

namespace irqdiff::arm::kvm {

struct AbiDte {
    static constexpr uint64_t kBytes = 8;
    static constexpr Field<63> Valid{};
    static constexpr Field<62, 49> Next{};
    static constexpr Field<48, 5> IttAddr{};  // ITT address >> 8
    static constexpr Field<4, 0> Size{};

    bool valid = false;
    uint32_t next = 0;
    uint64_t itt_addr = 0;  // the address itself, 256-byte aligned
    uint8_t size = 0;       // EventID bits - 1

    static AbiDte decode(uint64_t w);
    uint64_t encode() const;
    bool operator==(const AbiDte&) const = default;
};

struct AbiCte {
    static constexpr uint64_t kBytes = 8;
    static constexpr Field<63> Valid{};
    static constexpr Field<51, 16> RDBase{};
    static constexpr Field<15, 0> ICID{};

    bool valid = false;
    uint32_t rdbase = 0;  // the target vCPU (GICR_TYPER.Processor_Number)
    uint16_t icid = 0;

    static AbiCte decode(uint64_t w);
    uint64_t encode() const;
    bool operator==(const AbiCte&) const = default;
};

struct AbiIte {
    static constexpr uint64_t kBytes = 8;
    static constexpr Field<63, 48> Next{};
    static constexpr Field<47, 16> pINTID{};
    static constexpr Field<15, 0> ICID{};

    uint32_t next = 0;
    uint32_t pintid = 0;  // 0: the entry is not valid
    uint16_t icid = 0;

    static AbiIte decode(uint64_t w);
    uint64_t encode() const;
    bool valid() const { return pintid != 0; }
    bool operator==(const AbiIte&) const = default;
};

inline constexpr uint32_t kAbiDteNextMax = (1u << 14) - 1;
inline constexpr uint32_t kAbiIteNextMax = (1u << 16) - 1;

}  // namespace irqdiff::arm::kvm
