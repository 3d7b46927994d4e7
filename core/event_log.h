// The deterministic event log: every operation at every layer of one run, in order. An entry has
// the layer, the operation (`ITS.VMAPP`, `KVM.set_forwarding`, `IOMMU.post`, `CPU.pi_process`),
// ordered arguments and the interrupt sources it touched. Nothing in an entry depends on time,
// addresses of host objects or hash order, so the same scenario and options give a byte-identical
// log (DESIGN.md "Event log").
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace irqdiff {

enum class Layer : uint8_t { Scenario, Guest, Hardware, Hypervisor, Vmm };
inline constexpr int kLayerCount = 5;
const char* to_string(Layer layer);

enum class EventKind : uint8_t {
    Op,          // an operation of the model
    GuestError,  // the guest or hypervisor asked for something the architecture does not define;
                 // the model applied its documented (policy-selected) choice
    Violation,   // an architectural rule was broken (a run with one does not meet expectations)
    Ignored,     // the architecture says to ignore this; logged so it is never silent
};
const char* to_string(EventKind kind);

/// An argument printed in hexadecimal (addresses, register values).
struct Hex {
    uint64_t value;
    bool operator==(const Hex&) const = default;
};

using ArgValue = std::variant<int64_t, Hex, bool, std::string>;

/// An argument as stored in an Event (owning).
struct EventArg {
    std::string key;
    ArgValue value;
    bool operator==(const EventArg&) const = default;
};

/// An argument as passed to the log (non-owning, so a call that is not recorded costs no heap
/// allocation: the explorer and the benchmarks run that way). Integers print in decimal, Hex in
/// hexadecimal.
struct Arg {
    std::string_view key;
    std::variant<int64_t, Hex, bool, std::string_view> value;

    template <std::integral T>
    Arg(std::string_view k, T v) : key(k) {
        if constexpr (std::is_same_v<T, bool>)
            value = v;
        else
            value = static_cast<int64_t>(v);
    }
    Arg(std::string_view k, Hex v) : key(k), value(v) {}
    Arg(std::string_view k, std::string_view v) : key(k), value(v) {}
    Arg(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
    Arg(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
};

using ArgList = std::initializer_list<Arg>;
using NameList = std::initializer_list<std::string_view>;

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
    bool operator==(const Event&) const = default;
};

/// One line: `#SEQ aACTION LAYER [KIND] OP key=value ... [src,...] {rule}`.
std::string to_string(const Event& event);

class EventLog {
   public:
    /// `recording` false keeps only counters, violations and guest errors (the explorer runs most
    /// schedules this way and re-runs a failing one with full recording).
    explicit EventLog(bool recording = true) : recording_(recording) {}

    void set_action(uint32_t action) { action_ = action; }
    uint32_t action() const { return action_; }
    bool recording() const { return recording_; }

    // Each call appends one entry; `sources` name the interrupt sources it touched (for op, also
    // from a vector of names).
    void op(Layer layer, std::string_view op, ArgList args = {}, NameList sources = {}) {
        add(layer, EventKind::Op, op, args, sources, {});
    }
    void op(Layer layer, std::string_view op, ArgList args, std::span<const std::string> sources) {
        add(layer, EventKind::Op, op, args, sources, {});
    }
    void guest_error(Layer layer, std::string_view op, std::string_view rule, ArgList args = {},
                     NameList sources = {}) {
        add(layer, EventKind::GuestError, op, args, sources, rule);
    }
    void violation(Layer layer, std::string_view op, std::string_view rule, ArgList args = {}, NameList sources = {}) {
        add(layer, EventKind::Violation, op, args, sources, rule);
    }
    void ignored(Layer layer, std::string_view op, std::string_view rule, ArgList args = {}, NameList sources = {}) {
        add(layer, EventKind::Ignored, op, args, sources, rule);
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
        std::array<uint64_t, 4> per_kind{};
        size_t recorded = 0;
    };
    Mark mark() const { return Mark{total_, per_layer_, per_kind_, events_.size()}; }
    /// Drops every entry added after `m` (taken from this log).
    void rewind(const Mark& m) {
        total_ = m.total;
        per_layer_ = m.per_layer;
        per_kind_ = m.per_kind;
        events_.resize(m.recorded);
    }

   private:
    template <class Names>
    void add(Layer layer, EventKind kind, std::string_view op, ArgList args, const Names& sources,
             std::string_view rule) {
        ++per_layer_[static_cast<size_t>(layer)];
        ++per_kind_[static_cast<size_t>(kind)];
        uint64_t seq = total_++;
        if (!recording_ && kind == EventKind::Op) return;
        record(seq, layer, kind, op, args, sources, rule);
    }
    // Out of line, so that the counting above inlines into hot paths that do not record.
    template <class Names>
    [[gnu::noinline]] void record(uint64_t seq, Layer layer, EventKind kind, std::string_view op, ArgList args,
                                  const Names& sources, std::string_view rule) {
        Event& e = events_.emplace_back();
        e.seq = seq;
        e.action = action_;
        e.layer = layer;
        e.kind = kind;
        e.op = op;
        e.rule = rule;
        e.args.reserve(args.size());
        for (const Arg& a : args) e.args.push_back(EventArg{std::string(a.key), own(a.value)});
        for (std::string_view n : sources) e.sources.emplace_back(n);
    }
    static ArgValue own(const std::variant<int64_t, Hex, bool, std::string_view>& v);

    bool recording_;
    uint32_t action_ = 0;
    uint64_t total_ = 0;
    std::array<uint64_t, kLayerCount> per_layer_{};
    std::array<uint64_t, 4> per_kind_{};
    std::vector<Event> events_;
};

}  // namespace irqdiff
