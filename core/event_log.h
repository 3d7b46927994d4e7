// The deterministic event log: every operation at every layer of one run, in order. An entry has
// the layer, the operation (`ITS.VMAPP`, `KVM.set_forwarding`, `IOMMU.post`, `CPU.pi_process`),
// ordered arguments and the interrupt sources it touched. Nothing in an entry depends on time,
// addresses of host objects or hash order, so the same scenario and options give a byte-identical
// log (DESIGN.md "Event log").
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/trace_point.h"

namespace irqdiff {

using ArgValue = std::variant<int64_t, Hex, bool, std::string>;

/// An argument as stored in an Event (owning).
struct EventArg {
    std::string key;
    ArgValue value;
    bool operator==(const EventArg&) const = default;
};

std::string to_string(const ArgValue& value);

struct Event {
    uint64_t seq = 0;     // position in the log, from 0
    uint32_t action = 0;  // index of the schedule action that was being applied
    Layer layer = Layer::Scenario;
    EventKind kind = EventKind::Op;
    std::string op;
    std::vector<EventArg> args;
    std::vector<std::string> sources;  // interrupt sources touched, by scenario name ("nic.0")
    std::string rule;                  // for GuestError / Violation / Ignored: the rule and its source
    const TracePointInfo* point = nullptr;  // its declaration (op, layer, kind and keys are the declared ones)
    bool operator==(const Event&) const = default;
};

/// One line: `#SEQ aACTION LAYER [KIND] OP key=value ... [src,...] {rule}`.
std::string to_string(const Event& event);

class EventLog {
   public:
    /// `recording` false keeps only counters, violations and guest errors (the explorer runs most
    /// schedules this way and re-runs a failing one with full recording).
    explicit EventLog(bool recording = true) : recording_(recording) {}

    /// When not recording, keep at most `n` entries (the rest are counted: count(kind), total()).
    /// Machine mode sets it: a guest can make millions of ignored accesses. Default: no limit.
    void set_kept_limit(size_t n) { kept_limit_ = n; }
    /// Entries not kept because of the limit.
    uint64_t dropped() const { return dropped_; }

    void set_action(uint32_t action) { action_ = action; }
    uint32_t action() const { return action_; }
    bool recording() const { return recording_; }

    /// Appends one entry of a declared event: an Op with its arguments, any other kind with the
    /// rule it applied (phrased by the caller) and then its arguments, in the declared order and
    /// types. `log.emit(tp.touching(sources), ...)` also names the interrupt sources it touched.
    template <class... A>
    void emit(const Op<A...>& tp, typename trace_detail::ArgOf<A>::In... v) {
        add(tp, {}, {}, v...);
    }
    template <EventKind K, class... A>
    void emit(const TracePoint<K, A...>& tp, std::string_view rule,
              typename trace_detail::ArgOf<A>::In... v) requires(K != EventKind::Op) {
        add(tp, rule, {}, v...);
    }
    template <class... A>
    void emit(const Touching<EventKind::Op, A...>& t, typename trace_detail::ArgOf<A>::In... v) {
        add(t.point, {}, t.sources, v...);
    }
    template <EventKind K, class... A>
    void emit(const Touching<K, A...>& t, std::string_view rule,
              typename trace_detail::ArgOf<A>::In... v) requires(K != EventKind::Op) {
        add(t.point, rule, t.sources, v...);
    }

    /// Recorded entries (all of them when recording, otherwise only the non-Op ones).
    const std::vector<Event>& events() const { return events_; }
    /// Entries added, recorded or not.
    uint64_t total() const { return total_; }
    uint64_t count(Layer layer) const { return per_layer_[static_cast<size_t>(layer)]; }
    uint64_t count(EventKind kind) const { return per_kind_[static_cast<size_t>(kind)]; }
    /// The whole log, one to_string(Event) line per entry.
    std::string to_text() const;

    /// A point in the log to come back to: the explorer rewinds the log with the backend when it
    /// branches to another schedule from a shared prefix.
    struct Mark {
        uint64_t total = 0;
        std::array<uint64_t, kLayerCount> per_layer{};
        std::array<uint64_t, kEventKindCount> per_kind{};
        size_t recorded = 0;
        uint64_t dropped = 0;
    };
    Mark mark() const { return Mark{total_, per_layer_, per_kind_, events_.size(), dropped_}; }
    /// Drops every entry added after `m` (taken from this log).
    void rewind(const Mark& m) {
        total_ = m.total;
        per_layer_ = m.per_layer;
        per_kind_ = m.per_kind;
        events_.resize(m.recorded);
        dropped_ = m.dropped;
    }

   private:
    /// An argument as passed to the log (non-owning, so a call that is not recorded costs no heap
    /// allocation: the explorer and the benchmarks run that way).
    using ArgView = std::variant<int64_t, Hex, bool, std::string_view>;

    template <EventKind K, class... A>
    void add(const TracePoint<K, A...>& tp, std::string_view rule, const Sources& sources,
             const typename trace_detail::ArgOf<A>::In&... v) {
        ++per_layer_[static_cast<size_t>(tp.layer)];
        ++per_kind_[static_cast<size_t>(K)];
        uint64_t seq = total_++;
        if (K == EventKind::Op && !recording_) return;
        if (!recording_ && events_.size() >= kept_limit_) {
            ++dropped_;
            return;
        }
        const std::array<ArgView, sizeof...(A)> values{ArgView(v.value)...};
        record(seq, tp, rule, sources, values);
    }
    // Out of line, so that the counting above inlines into hot paths that do not record.
    [[gnu::noinline]] void record(uint64_t seq, const TracePointInfo& tp, std::string_view rule, const Sources& sources,
                                  std::span<const ArgView> values);

    bool recording_;
    size_t kept_limit_ = SIZE_MAX;
    uint64_t dropped_ = 0;
    uint32_t action_ = 0;
    uint64_t total_ = 0;
    std::array<uint64_t, kLayerCount> per_layer_{};
    std::array<uint64_t, kEventKindCount> per_kind_{};
    std::vector<Event> events_;
};

}  // namespace irqdiff
