// Declared trace points: every event the model logs is declared once, next to its layer
// (arm_gic/trace_points.h, x86_pi/trace_points.h, core/trace_points.h), as a TracePoint: its op
// name, layer, kind, typed arguments (key and type), a one-line doc and, where the code says so,
// the rule or function it models. Code emits an event only through its declaration
// (EventLog::emit), so an undeclared event, a wrong argument count or a wrong argument type is a
// compile error; tests and `expect: violations` name declarations, so a rename is one too.
//
//   inline constexpr Op<Int, Bool> kItsWriteCtlr{"ITS.write_CTLR", Layer::Hardware, {"its", "enabled"},
//                                                "GITS_CTLR.Enabled written", "IHI 0069 GITS_CTLR"};
//   log.emit(tp::kItsWriteCtlr, index_, enable);                          // an Op
//   log.emit(tp::kItsWriteCbaserError, "written while enabled", index_, Hex{value});  // rule first
//   log.emit(tp::kIdealPend.touching(name), vcpu);                        // naming the sources it touched
//
// Each stack lists its declarations (trace_points()); the registry collects them into the event
// catalogue (Registry::events()), which the scenario loader, `irqdiff list events` and
// docs/traces.md read.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
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
    Impossible,  // the schedule asked for what the modelled system cannot do (a stopped device's MSI
                 // after its migration data was read): the sources it touches are `impossible`
    Refusal,     // the kernel refused a migration request and said so (an error code the VMM
                 // sees): losses after it are `save-refused`, not silent losses
    Stale,       // a device's MSI took the posting / forwarding path of an irqfd that was deassigned
                 // (X3): a source it touches and the guest then takes is `delivered-after-deassign`
    Unquiesced,  // the VM's pending state was saved while a passthrough device still generated
                 // interrupts (the kernel's contract wants it quiesced, kernel_history A2): a source
                 // it touches that is then lost is `undefined`, not `lost`
};
inline constexpr int kEventKindCount = 8;
const char* to_string(EventKind kind);

/// An argument printed in hexadecimal (addresses, register values).
struct Hex {
    uint64_t value;
    bool operator==(const Hex&) const = default;
};

// The argument types a declaration names, besides Hex: TracePoint<Kind, Int, Hex, Bool, Str>.
struct Int;   // an integer, printed in decimal (any integral value but bool)
struct Bool;  // true / false (a bool, nothing else)
struct Str;   // a string

enum class ArgType : uint8_t { Int, Hex, Bool, String };
/// "int", "hex", "bool", "string".
const char* to_string(ArgType type);

/// One declared argument.
struct ArgSpec {
    std::string_view key;
    ArgType type;
};

/// What a declaration says, whatever its argument types: an entry of the event catalogue.
struct TracePointInfo {
    std::string_view op;  // as the log prints it: ITS.VMAPP, KVM.set_forwarding, STEP
    Layer layer;
    EventKind kind;
    std::span<const ArgSpec> args;  // in the order the log prints them
    std::string_view doc;           // one line
    std::string_view source;        // the spec rule, kernel or QEMU function it models; may be empty
};

namespace trace_detail {

template <class T>
concept NonBoolIntegral = std::integral<T> && !std::same_as<T, bool>;

/// The value an argument of each type takes at an emit call; the constructors are the only
/// conversions allowed, so a bool for an Int (or an int for a Bool or a Hex) does not compile.
struct IntIn {
    int64_t value;
    template <NonBoolIntegral T>
    IntIn(T v) : value(static_cast<int64_t>(v)) {}
};
struct HexIn {
    Hex value;
    HexIn(Hex v) : value(v) {}
};
struct BoolIn {
    bool value;
    template <std::same_as<bool> T>
    BoolIn(T v) : value(v) {}
};
struct StrIn {
    std::string_view value;
    StrIn(std::string_view v) : value(v) {}
    StrIn(const char* v) : value(v) {}
    StrIn(const std::string& v) : value(v) {}
};

/// A declared argument type's ArgType and the value its emit parameter takes.
template <class A>
struct ArgOf {
    static_assert(std::is_same_v<A, Int> || std::is_same_v<A, Hex> || std::is_same_v<A, Bool> || std::is_same_v<A, Str>,
                  "a declared argument is Int, Hex, Bool or Str");
    static constexpr ArgType kType = std::is_same_v<A, Int>    ? ArgType::Int
                                     : std::is_same_v<A, Hex>  ? ArgType::Hex
                                     : std::is_same_v<A, Bool> ? ArgType::Bool
                                                               : ArgType::String;
    // In ArgType's order, which is also ArgValue's (core/event_log.h).
    using In = std::tuple_element_t<static_cast<size_t>(kType), std::tuple<IntIn, HexIn, BoolIn, StrIn>>;
};

}  // namespace trace_detail

/// The interrupt sources an event touched, by scenario name ("nic.0"): one name or a list of
/// them. A view: it lives as long as the emit call.
class Sources {
   public:
    Sources() = default;
    Sources(std::string_view name) : one_(name), count_(1) {}
    Sources(const char* name) : one_(name), count_(1) {}
    Sources(const std::string& name) : one_(name), count_(1) {}
    Sources(std::span<const std::string_view> names) : views_(names.data()), count_(names.size()) {}
    Sources(std::span<const std::string> names) : strings_(names.data()), count_(names.size()) {}
    Sources(const std::vector<std::string>& names) : strings_(names.data()), count_(names.size()) {}

    size_t size() const { return count_; }
    std::string_view operator[](size_t i) const {
        return strings_ ? std::string_view(strings_[i]) : views_ ? views_[i] : one_;
    }

   private:
    std::string_view one_;
    const std::string_view* views_ = nullptr;
    const std::string* strings_ = nullptr;
    size_t count_ = 0;
};

template <EventKind K, class... A>
class TracePoint;

/// A declaration with the sources one emission touched (TracePoint::touching).
template <EventKind K, class... A>
struct Touching {
    const TracePoint<K, A...>& point;
    Sources sources;
};

/// One declared event: its kind and argument types are its type, the rest is its value. Declare
/// it `inline constexpr` (a key left empty is a compile error) and never copy it: the log and the
/// catalogue know a declaration by its address.
template <EventKind K, class... A>
class TracePoint : public TracePointInfo {
   public:
    static constexpr size_t kArgs = sizeof...(A);

    constexpr TracePoint(std::string_view op, Layer layer, std::array<std::string_view, kArgs> keys,
                         std::string_view doc, std::string_view source = {})
        : TracePointInfo{op, layer, K, {}, doc, source} {
        if (op.empty() || doc.empty()) throw "TracePoint: a declaration needs an op name and a doc line";
        constexpr ArgType types[kArgs + 1] = {trace_detail::ArgOf<A>::kType..., ArgType::Int};
        for (size_t i = 0; i < kArgs; ++i) {
            if (keys[i].empty()) throw "TracePoint: fewer keys than argument types";
            specs_[i] = ArgSpec{keys[i], types[i]};
        }
        args = std::span<const ArgSpec>(specs_.data(), kArgs);
    }
    TracePoint(const TracePoint&) = delete;
    TracePoint& operator=(const TracePoint&) = delete;

    /// This declaration, emitted as touching `sources`: log.emit(tp::kIdealPend.touching(name), vcpu).
    Touching<K, A...> touching(Sources sources) const { return {*this, sources}; }

   private:
    std::array<ArgSpec, kArgs> specs_{};
};

template <class... A>
using Op = TracePoint<EventKind::Op, A...>;
template <class... A>
using GuestError = TracePoint<EventKind::GuestError, A...>;
template <class... A>
using Violation = TracePoint<EventKind::Violation, A...>;
template <class... A>
using Ignored = TracePoint<EventKind::Ignored, A...>;
template <class... A>
using Impossible = TracePoint<EventKind::Impossible, A...>;
template <class... A>
using Refused = TracePoint<EventKind::Refusal, A...>;
template <class... A>
using Stale = TracePoint<EventKind::Stale, A...>;
template <class... A>
using Unquiesced = TracePoint<EventKind::Unquiesced, A...>;

/// The declarations one stack (or core) lists, in the order its trace_points.h declares them.
using TracePointList = std::span<const TracePointInfo* const>;

}  // namespace irqdiff
