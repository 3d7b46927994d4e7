#include "arm_gic/machine/session.h"

#include <fmt/format.h>

#include <algorithm>

#include "arm_gic/hw/config.h"
#include "arm_gic/kvm/transfer.h"
#include "arm_gic/machine/memory_map.h"
#include "arm_gic/policies.h"

namespace irqdiff::arm::machine {

/// The source host's GIC and transfer point come from the migration policy (arm.gic,
/// arm.transfer), so the board's GIC and the migration agree.
static SessionConfig with_host_policy(SessionConfig c) {
    const std::vector<PolicySpec> catalogue = arm_policies();
    const PolicyValues p = resolve_policy(catalogue, {}, c.migrate.policy);
    c.board.gic_host = GicConfig::from_policy(p).version;
    c.board.transfer = kvm::transfer_point(p);
    return c;
}

Session::Session(SessionConfig config, const std::vector<uint8_t>& image)
    : config_(with_host_policy(std::move(config))), board_(std::make_unique<Board>(config_.board, image)) {}

Session::Session(SessionConfig config, std::span<const uint8_t> stream) : config_(std::move(config)) {
    migrations_.emplace_back();
    board_ = restore_machine(config_.board, stream, config_.migrate, migrations_.back());
    for (const std::string& step : migrations_.back().steps)
        trace_.push_back(TraceEvent{TraceEvent::Step, board_->virtual_time(), 0, 0, step});
}

void Session::collect() {
    std::vector<TraceEvent> t = board_->take_trace();
    trace_.insert(trace_.end(), std::make_move_iterator(t.begin()), std::make_move_iterator(t.end()));
}

std::vector<std::map<uint32_t, uint64_t>> Session::taken() const {
    std::vector<std::map<uint32_t, uint64_t>> out = taken_done_;
    if (board_)
        if (const KvmGic* g = const_cast<Board&>(*board_).kvm_gic()) {
            out.resize(std::max(out.size(), g->taken().size()));
            for (size_t v = 0; v < g->taken().size(); ++v)
                for (const auto& [intid, n] : g->taken()[v]) out[v][intid] += n;
        }
    return out;
}

MachineResult Session::run(std::optional<uint64_t> insns) {
    if (!board_) throw InputError("run", "the VM is gone (QEMU exited during a migration)");
    if (insns) board_->pause_at(board_->insns() + *insns);
    for (;;) {
        last_ = board_->run();
        collect();
        if (last_.exit != ExitReason::Migrate) break;
        migrate();
        if (!board_) return last_;  // QEMU exited: last_ says so
    }
    board_->pause_at(std::nullopt);
    return last_;
}

static uint64_t notes_in(const EventLog& log) { return log.total() - log.count(EventKind::Op); }

/// The log's kept entries that are not operations, one line each.
static std::vector<std::string> notes_of(const EventLog& log) {
    std::vector<std::string> out;
    for (const Event& e : log.events())
        if (e.kind != EventKind::Op) out.push_back(to_string(e));
    return out;
}

/// The log as --log writes it: every entry when it recorded operations, else its notes.
static std::string text_of(const EventLog& log) {
    if (log.recording()) return log.to_text();
    std::string out;
    for (const std::string& n : notes_of(log)) out += n + "\n";
    return out;
}

void Session::keep_log(const EventLog& log) {
    log_entries_done_ += log.total();
    notes_total_done_ += notes_in(log);
    log_done_ += text_of(log);
    for (std::string& n : notes_of(log)) notes_done_.push_back(std::move(n));
}

std::string Session::log_text() const { return board_ ? log_done_ + text_of(board_->log()) : log_done_; }

uint64_t Session::notes_total() const { return notes_total_done_ + (board_ ? notes_in(board_->log()) : 0); }

uint64_t Session::log_entries() const { return log_entries_done_ + (board_ ? board_->log().total() : 0); }

std::vector<std::string> Session::notes() const {
    std::vector<std::string> out = notes_done_;
    if (board_)
        for (std::string& n : notes_of(board_->log())) out.push_back(std::move(n));
    return out;
}

const MigrationReport& Session::migrate() {
    if (!board_) throw InputError("migrate", "the VM is gone (QEMU exited during a migration)");
    collect();
    const uint64_t at = board_->virtual_time();
    taken_done_ = taken();
    migrations_.emplace_back();
    MigrationReport& rep = migrations_.back();
    const MachineResult before = last_;
    board_ = machine::migrate(std::move(board_), config_.board, config_.migrate, rep);
    if (rep.source_log) keep_log(*rep.source_log);
    for (const std::string& step : rep.steps) trace_.push_back(TraceEvent{TraceEvent::Step, at, 0, 0, step});
    if (!board_) {
        last_ = before;
        last_.exit = ExitReason::VmGone;
        last_.fault.reset();
    }
    return rep;
}

static Json report_json(const MigrationReport& m) {
    Json j;
    j["steps"] = m.steps;
    j["order"] = m.order;
    j["source_policy"] = m.source_policy;
    j["dest_policy"] = m.dest_policy;
    j["stream_bytes"] = m.stream_bytes;
    j["vm_gone"] = m.vm_gone;
    Json lpis = Json::array();
    for (const LpiTrace& t : m.lpis) lpis.push_back({{"vcpu", t.vcpu}, {"intid", t.intid}, {"where", t.where}});
    j["lpis"] = lpis;
    return j;
}

Json Session::to_json() const {
    const MachineResult& r = last_;
    Json j;
    j["exit"] = to_string(r.exit);
    if (r.fault)
        j["fault"] = {{"vcpu", r.fault->vcpu},
                      {"pc", fmt::format("{:#x}", r.fault->pc)},
                      {"instruction", r.fault->instruction},
                      {"reason", r.fault->reason}};
    else
        j["fault"] = nullptr;
    j["insns"] = r.insns;
    j["virtual_ticks"] = r.virtual_ticks;
    Json vcpus = Json::array();
    for (size_t v = 0; v < r.vcpus.size(); ++v)
        vcpus.push_back({{"vcpu", v},
                         {"mpidr", fmt::format("{:#x}", r.vcpus[v].mpidr)},
                         {"insns", r.vcpus[v].insns},
                         {"state", to_string(r.vcpus[v].power)}});
    j["vcpus"] = vcpus;
    Json irqs = Json::array();
    const auto t = taken();
    for (size_t v = 0; v < t.size(); ++v)
        for (const auto& [intid, n] : t[v]) irqs.push_back({{"vcpu", v}, {"intid", intid}, {"count", n}});
    j["interrupts"] = irqs;
    Json mig = Json::array();
    for (const MigrationReport& m : migrations_) mig.push_back(report_json(m));
    j["migrations"] = mig;
    const std::vector<std::string> n = notes();
    j["log"] = {{"entries", log_entries()},
                {"notes_total", notes_total()},
                {"notes", std::vector<std::string>(n.begin(), n.begin() + static_cast<std::ptrdiff_t>(
                                                                           std::min(n.size(), kJsonNotes)))}};
    j["uart"] = r.uart;
    return j;
}

Json Session::chrome_trace() const {
    // Trace Event Format: instant events ("ph": "i"), ts in µs; one thread per vCPU, "migration"
    // steps on their own thread.
    Json events = Json::array();
    const uint32_t smp = config_.board.smp;
    for (uint32_t v = 0; v < smp; ++v)
        events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 0}, {"tid", v},
                          {"args", {{"name", fmt::format("vCPU {}", v)}}}});
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 0}, {"tid", smp}, {"args", {{"name", "migration"}}}});
    const double per_us = static_cast<double>(kCntfrq) / 1e6;
    for (const TraceEvent& e : trace_) {
        Json x{{"ph", "i"}, {"pid", 0}, {"ts", static_cast<double>(e.ticks) / per_us}, {"s", "t"}};
        switch (e.kind) {
            case TraceEvent::UartLine:
                x["name"] = e.text;
                x["cat"] = "uart";
                x["tid"] = e.vcpu;
                break;
            case TraceEvent::Irq:
                x["name"] = fmt::format("IRQ {}", e.intid);
                x["cat"] = "irq";
                x["tid"] = e.vcpu;
                x["args"] = {{"intid", e.intid}};
                break;
            case TraceEvent::Step:
                x["name"] = e.text;
                x["cat"] = "migration";
                x["tid"] = smp;
                break;
        }
        events.push_back(std::move(x));
    }
    return Json{{"traceEvents", events}, {"displayTimeUnit", "ns"}};
}

}  // namespace irqdiff::arm::machine
