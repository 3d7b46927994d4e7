#include "core/guest_program.h"

#include <fmt/format.h>

#include "core/trace_points.h"

namespace irqdiff {

GuestMachine::GuestMachine(const GuestImage& image, uint32_t vcpus, const std::string& arch, uint64_t budget)
    : image_(image), budget_(budget), idle_(image.symbol("idle")) {
    if (image.base != GuestAbi::kBase || image.size > GuestAbi::kProgramBytes)
        throw std::logic_error(fmt::format("guest program {} must be linked at {:#x} and fit in {:#x} bytes", image.name,
                                           GuestAbi::kBase, GuestAbi::kProgramBytes));
    ram_ = std::make_unique<GuestRam>(GuestAbi::kBase, GuestAbi::kProgramBytes + vcpus * GuestAbi::kVcpuBytes);
    ram_->load(image);
    const uint64_t start = image.symbol("_start");
    for (uint32_t v = 0; v < vcpus; ++v) {
        ram_->store<uint32_t>(GuestAbi::area(v) + GuestAbi::kIndex, v);
        cpus_.push_back(std::make_unique<UnicornCpu>(image.isa, *ram_, fmt::format("{} vCPU {}", arch, v)));
        cpus_.back()->set_pc(start);
    }
    cursors_.assign(vcpus, 0);
}

void GuestMachine::drain_log(uint32_t vcpu, std::vector<GuestLogEntry>& out) {
    const uint64_t area = GuestAbi::area(vcpu);
    const uint32_t head = log_head(vcpu);
    uint32_t& cursor = cursors_.at(vcpu);
    const uint32_t fresh = head - cursor;  // modulo 2^32, as the guest's counter wraps
    if (fresh > GuestAbi::kLogEntries)
        cpu(vcpu).fault(cpu(vcpu).pc(),
                        fmt::format("the guest's log head at {:#x} is {} but {} entries were read before: it went "
                                    "backwards or wrote more than the {}-entry ring holds",
                                    area + GuestAbi::kLogHead, head, cursor, GuestAbi::kLogEntries));
    for (; cursor != head; ++cursor) {
        const uint64_t at = area + GuestAbi::kLog + (cursor % GuestAbi::kLogEntries) * GuestAbi::kLogEntryBytes;
        out.push_back(GuestLogEntry{ram_->load<uint32_t>(at), ram_->load<uint64_t>(at + 8)});
    }
}

void GuestMachine::irq_entry(EventLog& log, uint32_t vcpu, uint64_t pc, bool trace) {
    UnicornCpu& c = cpu(vcpu);
    if (!log.recording()) {
        log.emit(tp::kGuestIrqEntryUnrecorded, vcpu, Hex{pc});
        return;
    }
    log.emit(tp::kGuestIrqEntry, vcpu, Hex{pc}, c.disassemble(pc));
    if (trace) {
        c.take_executed();  // only the handler's
        c.record_executed(true);
    }
}

void GuestMachine::irq_return(EventLog& log, uint32_t vcpu, size_t taken, bool trace) {
    if (!trace || !log.recording()) {
        log.emit(tp::kGuestIrqReturn, vcpu, taken);
        return;
    }
    UnicornCpu& c = cpu(vcpu);
    c.record_executed(false);
    std::string handler;
    for (uint64_t pc : c.take_executed())
        handler += fmt::format("{}{:#x}: {}", handler.empty() ? "" : "; ", pc, c.disassemble(pc));
    log.emit(tp::kGuestIrqReturnTraced, vcpu, taken, handler);
}

GuestMachine::Snapshot GuestMachine::snapshot() const {
    Snapshot s;
    s.ram = ram_->bytes();
    for (const auto& c : cpus_) s.cpus.push_back(c->save());
    s.cursors = cursors_;
    return s;
}

void GuestMachine::restore(const Snapshot& s) {
    ram_->assign(s.ram);
    for (size_t v = 0; v < cpus_.size(); ++v) cpus_[v]->restore(s.cpus.at(v));
    cursors_ = s.cursors;
}

}  // namespace irqdiff
