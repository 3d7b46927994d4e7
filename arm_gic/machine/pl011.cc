#include "arm_gic/machine/pl011.h"

namespace irqdiff::arm::machine {

namespace {
// UARTPeriphID0..3 and UARTPCellID0..3 (reference/arm_virt_machine.md §5; DDI0183 §3.3.14-15).
constexpr uint8_t kPeriphId[4] = {0x11, 0x10, 0x14, 0x00};
constexpr uint8_t kPCellId[4] = {0x0D, 0xF0, 0x05, 0xB1};
}  // namespace

uint64_t Pl011::read(uint64_t offset, unsigned) {
    switch (offset) {
        case kDr: {
            if (rx_.empty()) return 0;
            const auto c = static_cast<unsigned char>(rx_.front());
            rx_.pop_front();
            return c;
        }
        case kRsr: return 0;
        case kFr: return kFrTxfe | (rx_.empty() ? kFrRxfe : 0);
        case kIlpr: return ilpr_;
        case kIbrd: return ibrd_;
        case kFbrd: return fbrd_;
        case kLcrH: return lcr_h_;
        case kCr: return cr_;
        case kIfls: return ifls_;
        case kImsc: return imsc_;
        case kRis: return ris();
        case kMis: return ris() & imsc_;
        case kDmacr: return dmacr_;
        default: break;
    }
    if (offset >= kPeriphId0 && offset < kPeriphId0 + 16 && offset % 4 == 0) return kPeriphId[(offset - kPeriphId0) / 4];
    if (offset >= kPCellId0 && offset < kPCellId0 + 16 && offset % 4 == 0) return kPCellId[(offset - kPCellId0) / 4];
    return 0;  // reserved offsets read as zero (policy: docs/machine.md "PL011")
}

void Pl011::write(uint64_t offset, unsigned, uint64_t value) {
    const auto v = static_cast<uint32_t>(value);
    switch (offset) {
        case kDr: {
            const char c = static_cast<char>(v & 0xFF);
            tx_.push_back(c);
            if (sink_) {
                std::fputc(static_cast<unsigned char>(c), sink_);
                if (c == '\n') std::fflush(sink_);
            }
            break;
        }
        case kIlpr: ilpr_ = v & 0xFF; break;
        case kIbrd: ibrd_ = v & 0xFFFF; break;
        case kFbrd: fbrd_ = v & 0x3F; break;
        case kLcrH: lcr_h_ = v & 0xFF; break;
        case kCr: cr_ = v & 0xFFFF; break;
        case kIfls: ifls_ = v & 0x3F; break;
        case kImsc: imsc_ = v & 0x7FF; break;
        case kIcr: break;  // RX and TX interrupts are levels of the FIFO state here: nothing latched
        case kDmacr: dmacr_ = v & 0x7; break;
        default: break;  // RSR/ECR write clears errors (none modelled); reserved offsets ignore writes
    }
}

void Pl011::save(ByteWriter& w) const {
    const size_t at = w.begin_section("UART");
    for (uint32_t r : {ibrd_, fbrd_, lcr_h_, cr_, ifls_, imsc_, dmacr_, ilpr_}) w.u32(r);
    w.str(std::string(rx_.begin(), rx_.end()));
    w.str(tx_);
    w.end_section(at);
}

void Pl011::load(ByteReader& in) {
    ByteReader r = in.section("UART");
    for (uint32_t* reg : {&ibrd_, &fbrd_, &lcr_h_, &cr_, &ifls_, &imsc_, &dmacr_, &ilpr_}) *reg = r.u32("UART register");
    const std::string rx = r.str("UART RX queue", 1u << 20);
    rx_.assign(rx.begin(), rx.end());
    tx_ = r.str("UART TX text", 1u << 30);
    r.finish("the UART section");
}

}  // namespace irqdiff::arm::machine
