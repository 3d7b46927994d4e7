// A 4 KiB local-APIC register page in host memory, in the xAPIC MMIO layout. The virtual-APIC page
// the CPU uses for APIC virtualization has the same layout (SDM §29.1.1), and KVM uses its own
// register page (apic->regs) *as* the virtual-APIC page, so KVM's IRR/ISR/TPR bytes are the
// hardware's VIRR/VISR/VTPR [reference/x86_posted_interrupts_kvm_migration.md §1.5 ("reference
// §1.5"); vmx.c :: __vmx_vcpu_reset].
//
// Register page (offsets; each register is the low 4 bytes of a 16-byte slot):
//   0x020 ID       xAPIC ID[31:24]                0x030 VERSION
//   0x080 TPR      (VTPR)      0x090 ARBPRI       0x0A0 PPR  (VPPR)
//   0x0B0 EOI      (VEOI)                         0x0D0 LDR  logical ID[31:24]
//   0x0E0 DFR      model[31:28]: 0xF flat         0x0F0 SVR  APIC enable[8], spurious vector[7:0]
//   0x100..0x170 ISR (VISR)   0x180..0x1F0 TMR (VTMR)   0x200..0x270 IRR (VIRR)   256 bits each
//   0x280 ESR      0x300 ICR_LO (VICR_LO)   0x310 ICR_HI (VICR_HI)
//   0x320 LVT timer  vector[7:0] mask[16] mode[18:17] (00 one-shot, 01 periodic, 10 TSC deadline)
//   0x380 TMICT    0x390 TMCCT    0x3E0 TDCR
// The virtual-APIC offsets and the VIRR/VISR bit formula are reference §1.5 [SDM §29.1.1]; the
// other registers and their fields are the SDM's local-APIC register map (Vol. 3A, "Local APIC
// Register Address Map"; not in reference/). KVM_GET_LAPIC and KVM_SET_LAPIC carry bytes
// 0x000..0x3FF of the page [reference §5.2: memcpy of 0x400 bytes].
#pragma once

#include <bit>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "core/bits.h"
#include "core/memory.h"

namespace irqdiff::x86 {

namespace apic {
inline constexpr uint32_t ID = 0x020;
inline constexpr uint32_t VERSION = 0x030;
inline constexpr uint32_t TPR = 0x080;
inline constexpr uint32_t ARBPRI = 0x090;
inline constexpr uint32_t PPR = 0x0A0;
inline constexpr uint32_t EOI = 0x0B0;
inline constexpr uint32_t LDR = 0x0D0;
inline constexpr uint32_t DFR = 0x0E0;
inline constexpr uint32_t SVR = 0x0F0;
inline constexpr uint32_t ISR = 0x100;
inline constexpr uint32_t TMR = 0x180;
inline constexpr uint32_t IRR = 0x200;
inline constexpr uint32_t ESR = 0x280;
inline constexpr uint32_t ICR_LO = 0x300;
inline constexpr uint32_t ICR_HI = 0x310;
inline constexpr uint32_t LVT_TIMER = 0x320;
inline constexpr uint32_t TMICT = 0x380;
inline constexpr uint32_t TMCCT = 0x390;
inline constexpr uint32_t TDCR = 0x3E0;

inline constexpr uint64_t kPageBytes = 4096;
inline constexpr uint64_t kStateBytes = 0x400;  // what KVM_GET_LAPIC / KVM_SET_LAPIC carry

struct Id {
    static constexpr Field<31, 24> XapicId{};
};
struct Ldr {
    static constexpr Field<31, 24> LogicalId{};
};
struct Dfr {
    static constexpr Field<31, 28> Model{};  // 0xF flat, 0x0 cluster
};
inline constexpr uint32_t kDfrFlat = 0xFFFF'FFFF;
struct Svr {
    static constexpr Field<8> Enable{};  // APIC software enable
    static constexpr Field<7, 0> Vector{};
};
struct LvtTimer {
    static constexpr Field<18, 17> Mode{};  // 0 one-shot, 1 periodic, 2 TSC deadline
    static constexpr Field<16> Mask{};
    static constexpr Field<7, 0> Vector{};
};
inline constexpr uint32_t kLvtMasked = 1u << 16;

/// The offset of the dword holding bit `vector` of a 256-bit register (ISR, TMR, IRR): the
/// register's base | ((vector & 0xE0) >> 1), bit vector & 0x1F [SDM §29.1.1, reference §1.5].
constexpr uint32_t bit_offset(uint32_t reg, uint8_t vector) { return reg | ((vector & 0xE0u) >> 1); }
}  // namespace apic

/// A view of one APIC register page at `base` in host memory (ApicPage; ConstApicPage reads
/// only). The page belongs to the hypervisor (never guest-addressable), so an access outside host
/// memory is a model bug, not a guest error.
template <class Memory>
class ApicPageView {
    static constexpr bool kWritable = !std::is_const_v<Memory>;

   public:
    ApicPageView(Memory& memory, uint64_t base) : mem_(&memory), base_(base) {}

    uint64_t base() const { return base_; }
    uint32_t read(uint32_t offset) const {
        MemRead<uint32_t> r = mem_->read32(base_ + offset);
        if (!r.ok()) throw std::logic_error("ApicPage: register page outside host memory");
        return r.value;
    }
    void write(uint32_t offset, uint32_t value) const requires kWritable {
        if (mem_->write32(base_ + offset, value) != MemFault::None)
            throw std::logic_error("ApicPage: register page outside host memory");
    }

    bool test(uint32_t reg, uint8_t vector) const { return (read(apic::bit_offset(reg, vector)) >> (vector & 31)) & 1; }
    void set(uint32_t reg, uint8_t vector) const requires kWritable {
        uint32_t at = apic::bit_offset(reg, vector);
        write(at, read(at) | (1u << (vector & 31)));
    }
    void clear(uint32_t reg, uint8_t vector) const requires kWritable {
        uint32_t at = apic::bit_offset(reg, vector);
        write(at, read(at) & ~(1u << (vector & 31)));
    }
    /// The whole 256-bit register (ISR, TMR or IRR), vector n at bit n.
    BitArray<256> bits(uint32_t reg) const {
        BitArray<256> out;
        for (unsigned i = 0; i < 4; ++i) {
            uint64_t lo = read(reg + 0x20 * i);
            uint64_t hi = read(reg + 0x20 * i + 0x10);
            out.set_word(i, lo | (hi << 32));
        }
        return out;
    }
    /// The highest vector set in a 256-bit register, or -1.
    int highest(uint32_t reg) const {
        for (unsigned i = 8; i-- > 0;)
            if (uint32_t w = read(reg + 0x10 * i)) return static_cast<int>(32 * i + 31 - std::countl_zero(w));
        return -1;
    }

   private:
    Memory* mem_;
    uint64_t base_;
};

using ApicPage = ApicPageView<AddressSpace>;
using ConstApicPage = ApicPageView<const AddressSpace>;

}  // namespace irqdiff::x86
