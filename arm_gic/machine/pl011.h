// The PL011 UART at QEMU virt's 0x0900_0000 (reference/arm_virt_machine.md §1, §5; Arm DDI0183).
// TX bytes go to a sink (--serial stdio|FILE|none) and are always kept for results; RX bytes come
// from --input and from inject() (the migration key, later). No baud-rate timing: TX completes at
// once (FR.TXFE stays 1, BUSY 0), a policy of this model (docs/machine.md "PL011").
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <string_view>

#include "core/byte_stream.h"

namespace irqdiff::arm::machine {

class Pl011 {
   public:
    // Register offsets (DDI0183 §3.2; reference/arm_virt_machine.md §5).
    static constexpr uint64_t kDr = 0x000, kRsr = 0x004, kFr = 0x018, kIlpr = 0x020, kIbrd = 0x024, kFbrd = 0x028,
                              kLcrH = 0x02C, kCr = 0x030, kIfls = 0x034, kImsc = 0x038, kRis = 0x03C, kMis = 0x040,
                              kIcr = 0x044, kDmacr = 0x048, kPeriphId0 = 0xFE0, kPCellId0 = 0xFF0;
    // UARTFR bits (DDI0183 §3.3.3).
    static constexpr uint32_t kFrBusy = 1u << 3, kFrRxfe = 1u << 4, kFrTxff = 1u << 5, kFrRxff = 1u << 6,
                              kFrTxfe = 1u << 7;
    // UARTRIS/IMSC bits: RX (4), TX (5) (DDI0183 §3.3.13).
    static constexpr uint32_t kIntRx = 1u << 4, kIntTx = 1u << 5;

    /// `sink`: where TX bytes go as they are written (nullptr: nowhere); not owned.
    explicit Pl011(std::FILE* sink = nullptr) : sink_(sink) {}

    uint64_t read(uint64_t offset, unsigned size);
    void write(uint64_t offset, unsigned size, uint64_t value);

    /// Queues bytes the guest reads from UARTDR (FR.RXFE clears while any are queued).
    void inject(std::string_view bytes) { rx_.insert(rx_.end(), bytes.begin(), bytes.end()); }
    size_t rx_queued() const { return rx_.size(); }
    /// Everything the guest transmitted.
    const std::string& tx() const { return tx_; }
    /// The UART section of machine mode's stream: registers, RX queue, and the TX text so far
    /// (the run's UART output continues on the destination).
    void save(ByteWriter& out) const;
    void load(ByteReader& in);
    /// The interrupt output (UARTINTR = any UARTMIS bit), for SPI 1 when a GIC is attached.
    bool irq_line() const { return (ris() & imsc_) != 0; }

   private:
    uint32_t ris() const { return (rx_.empty() ? 0 : kIntRx) | kIntTx; }  // TX FIFO always below its level

    std::FILE* sink_;
    std::string tx_;
    std::deque<char> rx_;
    uint32_t ibrd_ = 0, fbrd_ = 0, lcr_h_ = 0, cr_ = 0x300, ifls_ = 0x12, imsc_ = 0, dmacr_ = 0, ilpr_ = 0;
};

}  // namespace irqdiff::arm::machine
