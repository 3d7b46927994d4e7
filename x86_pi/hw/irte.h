// The VT-d Interrupt Remapping Table Entry (IRTE), 128 bits, in its two formats: remapped (IM=0: the
// IOMMU forwards the interrupt to a physical destination) and posted (IM=1: the IOMMU sets a bit in a
// posted-interrupt descriptor, see pi_desc.h). Facts from
// reference/x86_posted_interrupts_kvm_migration.md §1.2 ("reference §1.2")
// [VT-d §9.9, §9.10 Figure 9-10; include/linux/dmar.h :: struct irte].
//
// Layout, as two 64-bit halves; all bits not named are reserved (0):
//   low  (bits 63:0), remapped IM=0: P[0] FPD[1] DM[2] RH[3] TM[4] DLM[7:5] AVAIL[11:8] IM[15]
//                                    Vector[23:16] DST[63:32]
//   low  (bits 63:0), posted   IM=1: P[0] FPD[1] AVAIL[11:8] URG[14] IM[15] VV[23:16]
//                                    PDAL[63:38] = PDA[31:6]
//   high (bits 127:64), both:        SID[15:0] (79:64) SQ[17:16] (81:80) SVT[19:18] (83:82)
//   high (bits 127:64), posted:      PDAH[63:32] (127:96) = PDA[63:32]
//
// The reference lists every posted-format bit. For the remapped format it gives DM, RH, TM, DLM, Vector
// and DST; P, FPD, AVAIL, IM, SID, SQ and SVT are taken to sit where the posted format has them, since
// Linux copies them between the formats as "shared fields" (reference §1.2, dmar.h ::
// dmar_copy_shared_irte). The reference names nothing in remapped bits 14:12, 31:24 and 127:84; they
// are treated as reserved.
#pragma once

#include <cstdint>

#include "core/bits.h"

namespace irqdiff::x86 {

/// A raw 128-bit IRTE.
struct IrteWords {
    uint64_t low = 0;   // bits 63:0
    uint64_t high = 0;  // bits 127:64
    bool operator==(const IrteWords&) const = default;
};

/// IM (IRTE Mode), bit 15 in both formats: 1 = posted, 0 = remapped. [reference §1.2]
struct IrteMode {
    static constexpr Field<15> IM{};
};

/// Whether the entry whose low half is `low` is in posted format (IM=1).
constexpr bool is_posted(uint64_t low) { return IrteMode::IM.get(low) != 0; }

/// Remapped-format IRTE (IM=0). [reference §1.2 "Remapped format (IM=0) for contrast", VT-d §9.9]
struct RemappedIrte {
    struct Low {
        static constexpr Field<63, 32> DST{};  // destination ID
        static constexpr Field<23, 16> Vector{};
        static constexpr Field<15> IM{};        // 0
        static constexpr Field<11, 8> AVAIL{};  // software-available
        static constexpr Field<7, 5> DLM{};     // delivery mode
        static constexpr Field<4> TM{};         // trigger mode
        static constexpr Field<3> RH{};         // redirection hint
        static constexpr Field<2> DM{};         // destination mode
        static constexpr Field<1> FPD{};        // fault processing disable
        static constexpr Field<0> P{};          // present
    };
    struct High {
        static constexpr Field<19, 18> SVT{};  // bits 83:82, source validation type
        static constexpr Field<17, 16> SQ{};   // bits 81:80, source-id qualifier
        static constexpr Field<15, 0> SID{};   // bits 79:64, source-id (requester)
    };

    /// Bits of each half no remapped-format field names (see the file comment): an IRTE with any of
    /// them set is invalid and the IOMMU blocks the request (iommu.h).
    static constexpr uint64_t kReservedLow =
        ~(Low::DST.kMask | Low::Vector.kMask | Low::IM.kMask | Low::AVAIL.kMask | Low::DLM.kMask | Low::TM.kMask |
          Low::RH.kMask | Low::DM.kMask | Low::FPD.kMask | Low::P.kMask);
    static constexpr uint64_t kReservedHigh = ~(High::SVT.kMask | High::SQ.kMask | High::SID.kMask);

    bool present = false;
    bool fpd = false;
    bool dm = false;
    bool rh = false;
    bool tm = false;
    uint8_t dlm = 0;    // 3 bits
    uint8_t avail = 0;  // 4 bits
    uint8_t vector = 0;
    // Raw DST. Its xAPIC (APIC ID in DST[15:8]) vs x2APIC (full 32 bits) encoding is VT-d §9.9 and
    // not in reference/ (which gives that split only for PID.NDST, §1.1); callers keep it raw.
    uint32_t dst = 0;
    uint16_t sid = 0;
    uint8_t sq = 0;   // 2 bits
    uint8_t svt = 0;  // 2 bits

    /// Decodes the remapped-format fields; IM is not checked (see is_posted).
    static RemappedIrte decode(uint64_t low, uint64_t high);
    /// Encodes with IM=0 and reserved bits zero.
    IrteWords encode() const;
    bool operator==(const RemappedIrte&) const = default;
};

/// Posted-format IRTE (IM=1). [reference §1.2 table, VT-d §9.10 Figure 9-10]
struct PostedIrte {
    struct Low {
        static constexpr Field<63, 38> PDAL{};  // PDA[31:6] (Linux pda_l, 26 bits)
        static constexpr Field<23, 16> VV{};    // virtual vector: the PIR bit to set
        static constexpr Field<15> IM{};        // 1
        static constexpr Field<14> URG{};       // urgent: notify even when PID.SN=1
        static constexpr Field<11, 8> AVAIL{};
        static constexpr Field<1> FPD{};
        static constexpr Field<0> P{};
    };
    struct High {
        static constexpr Field<63, 32> PDAH{};  // bits 127:96 = PDA[63:32] (Linux pda_h)
        static constexpr Field<19, 18> SVT{};
        static constexpr Field<17, 16> SQ{};
        static constexpr Field<15, 0> SID{};
    };
    /// Where PDAL's and PDAH's bits sit in the descriptor address. [reference §1.2: PDAL = PID
    /// address bits 31:6, PDAH = bits 63:32; Linux PDA_LOW_BIT=26, PDA_HIGH_BIT=32]
    struct Pda {
        static constexpr Field<63, 32> High{};
        static constexpr Field<31, 6> Low{};
    };

    /// Posted-format reserved bits: 7:2, 13:12, 37:24 and 95:84 [reference §1.2 table].
    static constexpr uint64_t kReservedLow = ~(Low::PDAL.kMask | Low::VV.kMask | Low::IM.kMask | Low::URG.kMask |
                                               Low::AVAIL.kMask | Low::FPD.kMask | Low::P.kMask);
    static constexpr uint64_t kReservedHigh = ~(High::PDAH.kMask | High::SVT.kMask | High::SQ.kMask | High::SID.kMask);

    bool present = false;
    bool fpd = false;
    uint8_t avail = 0;  // 4 bits
    bool urg = false;
    uint8_t vv = 0;    // guest vector posted into PIR (not the notification vector, reference §1.2)
    uint64_t pda = 0;  // posted-interrupt descriptor address; bits 5:0 are not stored (64-byte aligned)
    uint16_t sid = 0;
    uint8_t sq = 0;   // 2 bits
    uint8_t svt = 0;  // 2 bits

    /// Decodes the posted-format fields; IM is not checked (see is_posted).
    static PostedIrte decode(uint64_t low, uint64_t high);
    /// Encodes with IM=1 and reserved bits zero.
    IrteWords encode() const;
    bool operator==(const PostedIrte&) const = default;
};

}  // namespace irqdiff::x86
