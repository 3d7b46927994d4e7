#include "core/event_log.h"

#include <fmt/format.h>

namespace irqdiff {

const char* to_string(Layer layer) {
    switch (layer) {
        case Layer::Scenario: return "scenario";
        case Layer::Guest: return "guest";
        case Layer::Hardware: return "hw";
        case Layer::Hypervisor: return "kvm";
        case Layer::Vmm: return "vmm";
    }
    return "?";
}

const char* to_string(EventKind kind) {
    switch (kind) {
        case EventKind::Op: return "op";
        case EventKind::GuestError: return "guest-error";
        case EventKind::Violation: return "violation";
        case EventKind::Ignored: return "ignored";
        case EventKind::Impossible: return "impossible";
        case EventKind::Refusal: return "refusal";
        case EventKind::Stale: return "stale";
        case EventKind::Unquiesced: return "unquiesced";
    }
    return "?";
}

const char* to_string(ArgType type) {
    switch (type) {
        case ArgType::Int: return "int";
        case ArgType::Hex: return "hex";
        case ArgType::Bool: return "bool";
        case ArgType::String: return "string";
    }
    return "?";
}

std::string to_string(const ArgValue& value) {
    struct Visitor {
        std::string operator()(int64_t v) const { return std::to_string(v); }
        std::string operator()(Hex v) const { return fmt::format("{:#x}", v.value); }
        std::string operator()(bool v) const { return v ? "true" : "false"; }
        std::string operator()(const std::string& v) const { return v; }
    };
    return std::visit(Visitor{}, value);
}

std::string to_string(const Event& e) {
    std::string line = fmt::format("#{} a{} {}", e.seq, e.action, to_string(e.layer));
    if (e.kind != EventKind::Op) line += fmt::format(" [{}]", to_string(e.kind));
    line += ' ';
    line += e.op;
    for (const EventArg& a : e.args) {
        line += fmt::format(" {}={}", a.key, to_string(a.value));
    }
    if (!e.sources.empty()) line += fmt::format(" [{}]", fmt::join(e.sources, ","));
    if (!e.rule.empty()) line += fmt::format(" {{{}}}", e.rule);
    return line;
}

std::string EventLog::to_text() const {
    std::string text;
    for (const Event& e : events_) {
        text += to_string(e);
        text += '\n';
    }
    return text;
}

void EventLog::record(uint64_t seq, const TracePointInfo& tp, std::string_view rule, const Sources& sources,
                      std::span<const ArgView> values) {
    struct Own {
        ArgValue operator()(int64_t x) const { return x; }
        ArgValue operator()(Hex x) const { return x; }
        ArgValue operator()(bool x) const { return x; }
        ArgValue operator()(std::string_view x) const { return std::string(x); }
    };
    Event& e = events_.emplace_back();
    e.seq = seq;
    e.action = action_;
    e.layer = tp.layer;
    e.kind = tp.kind;
    e.op = tp.op;
    e.rule = rule;
    e.point = &tp;
    e.args.reserve(values.size());
    for (size_t i = 0; i < values.size(); ++i)
        e.args.push_back(EventArg{std::string(tp.args[i].key), std::visit(Own{}, values[i])});
    for (size_t i = 0; i < sources.size(); ++i) e.sources.emplace_back(sources[i]);
}

}  // namespace irqdiff
