// The YAML loader for scenario format v1 (scenarios/README.md is its specification). yaml-cpp
// parses; this file validates every key, type and range and reports the first problem as
// "FILE:LINE:COL: PATH: what was expected". Scalars are read from their text, not through
// yaml-cpp's conversions, so "010", "yes" or a quoted "2" are rejected instead of reinterpreted.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/depthguard.h>  // YAML::DeepRecursion
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <unordered_map>

#include "core/migration.h"
#include "core/policy.h"
#include "core/scenario.h"

namespace irqdiff {

namespace {

const char* type_name(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Null: return "nothing";
        case YAML::NodeType::Scalar: return "a scalar";
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Map: return "a map";
        case YAML::NodeType::Undefined: return "nothing";
    }
    return "?";
}

/// A short rendering of a node for messages: the scalar text, or its type.
std::string shown(const YAML::Node& n) {
    if (n.IsScalar()) return "'" + n.Scalar() + "'";
    return type_name(n);
}

bool is_identifier(std::string_view s) {
    if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])))) return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; });
}

/// What is wrong with a string of the scenario, or "": it must be UTF-8 (RFC 3629 §4: no overlong
/// forms, surrogates or code points above U+10FFFF) without control characters (C0, DEL, C1: the
/// table prints names to a terminal); `multiline` (a description) allows newlines and tabs.
std::string text_problem(std::string_view s, bool multiline) {
    for (size_t i = 0; i < s.size();) {
        uint32_t cp = 0;
        const size_t n = utf8_sequence(s, i, &cp);
        if (n == 0)
            return fmt::format("not valid UTF-8 (byte {:#04x} at offset {})", static_cast<unsigned char>(s[i]), i);
        const bool control = cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
        if (control && !(multiline && (cp == '\n' || cp == '\t')))
            return fmt::format("control character U+{:04X} at offset {} ({})", cp, i,
                               multiline ? "a description may have newlines and tabs, no other control characters"
                                         : "a one-line string has none");
        i += n;
    }
    return "";
}

/// How a tag was written: `!!binary` for the YAML 1.2 core schema's, `!foo` for a local one.
std::string written_tag(const std::string& tag) {
    constexpr std::string_view kCore = "tag:yaml.org,2002:";
    if (tag.starts_with(kCore)) return "!!" + tag.substr(kCore.size());
    if (tag.starts_with('!')) return tag;
    return "!<" + tag + ">";
}

/// yaml-cpp's tags for untagged nodes: "?" (plain scalars, collections) and "!" (quoted scalars,
/// or the non-specific tag written as `!`); "" where it reports none.
bool plain_tag(const std::string& tag) { return tag.empty() || tag == "?" || tag == "!"; }

/// Walks the parser's events: counts the documents, and where the second one's first node is (its
/// `---` when it has none); and finds the first node of the first document with a tag.
struct DocumentCounter : YAML::EventHandler {
    int documents = 0;
    YAML::Mark second;
    bool second_node = false;
    std::optional<std::pair<YAML::Mark, std::string>> tagged;  // the first tagged node, its tag
    void node(const YAML::Mark& mark, const std::string& tag = "") {
        if (documents == 2 && !second_node) second = mark, second_node = true;
        if (documents == 1 && !tagged && !plain_tag(tag)) tagged.emplace(mark, tag);
    }
    void OnDocumentStart(const YAML::Mark& mark) override {
        if (++documents == 2) second = mark;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
    void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
    void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t, const std::string&) override {
        node(m, tag);
    }
    void OnSequenceStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        node(m, tag);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t, YAML::EmitterStyle::value) override {
        node(m, tag);
    }
    void OnMapEnd() override {}
};

/// A line that starts with `---` or `...` followed by a blank or the end of the line.
bool has_document_marker(std::string_view text) {
    for (size_t at = 0; at < text.size();) {
        const size_t end = std::min(text.find('\n', at), text.size());
        const std::string_view line = text.substr(at, end - at);
        if ((line.starts_with("---") || line.starts_with("...")) &&
            (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r'))
            return true;
        at = end + 1;
    }
    return false;
}

/// A '!' where a tag may start (YAML 1.2 §6.9.1: at the start of a node, after a blank, a line
/// break, a flow indicator, or the `:` after a quoted key); a '!' inside a word ("note!") cannot.
bool may_have_tag(std::string_view text) {
    for (size_t at = text.find('!'); at != std::string_view::npos; at = text.find('!', at + 1))
        if (at == 0 || std::string_view(" \t\r\n[{,:").find(text[at - 1]) != std::string_view::npos) return true;
    return false;
}

/// Nothing but blanks and comments: an empty file.
bool only_comments(std::string_view text) {
    for (size_t at = 0; at < text.size();) {
        const size_t end = std::min(text.find('\n', at), text.size());
        const std::string_view line = text.substr(at, end - at);
        const size_t first = line.find_first_not_of(" \t\r");
        if (first != std::string_view::npos && line[first] != '#') return false;
        at = end + 1;
    }
    return true;
}

class Loader {
   public:
    Loader(std::string file, const Catalogue& catalogue)
        : file_(std::move(file)), policies_(catalogue.policies), events_(catalogue.events), steps_(catalogue.steps) {}

    Scenario load(std::string_view text) {
        const std::string yaml(text);
        YAML::Node doc;
        DocumentCounter counter;
        try {
            // Not YAML::LoadAll: in yaml-cpp 0.7 it loops for ever, allocating, on input such as a
            // lone ',' (jbeder/yaml-cpp#1040; found by the scenario_loader fuzz target). The first
            // document is loaded; only a text with a document marker (YAML 1.2 §9.1.2: `---` or
            // `...` at the start of a line, where no scalar can continue) can hold a second one,
            // and then a parser asked for two documents at most counts them (a second parse only
            // for such files).
            // The same parse finds tags (`!!binary`, `!foo`), which YAML::Node keeps but the
            // loader would not see; only a text with a '!' that can start one is parsed for them.
            doc = YAML::Load(yaml);
            if (has_document_marker(yaml) || may_have_tag(yaml)) {
                std::istringstream in(yaml);
                YAML::Parser parser(in);
                for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
                }
            }
        } catch (const YAML::DeepRecursion& e) {
            // yaml-cpp 0.7 stops at a fixed depth (DepthGuard in its single-document parser): the
            // document's maps and lists may nest e.depth() - 1 deep, the top-level map included.
            throw InputError(SourceLoc{file_, e.mark.line + 1, e.mark.column + 1},
                             fmt::format("invalid YAML: nesting too deep, limit {} levels of maps and lists",
                                         e.depth() - 1));
        } catch (const YAML::Exception& e) {
            throw InputError(SourceLoc{file_, e.mark.line + 1, e.mark.column + 1},
                             fmt::format("invalid YAML: {}", e.msg));
        }
        if (doc.IsNull() && only_comments(yaml))
            throw InputError(SourceLoc{file_, 1, 1}, "empty file: expected a scenario map");
        if (counter.tagged)
            throw InputError(SourceLoc{file_, counter.tagged->first.line + 1, counter.tagged->first.column + 1},
                             fmt::format("tag '{}' is not allowed: scenario values are plain YAML",
                                         written_tag(counter.tagged->second)));
        if (counter.documents > 1 && doc.IsMap())
            throw InputError(SourceLoc{file_, counter.second.line + 1, counter.second.column + 1},
                             "expected one YAML document, found a second one");
        return scenario(doc);
    }

   private:
    using Entries = std::vector<std::pair<YAML::Node, YAML::Node>>;

    SourceLoc loc(const YAML::Node& n) const {
        YAML::Mark m = n.Mark();
        if (m.is_null()) return SourceLoc{file_, 1, 1};
        return SourceLoc{file_, m.line + 1, m.column + 1};
    }
    [[noreturn]] void fail(const YAML::Node& n, const std::string& path, const std::string& message) const {
        throw InputError(loc(n), path.empty() ? message : path + ": " + message);
    }

    /// The entries of a map, after checking every key is allowed, unique and a plain scalar, and
    /// that every required key is present.
    Entries map(const YAML::Node& n, const std::string& path, std::initializer_list<std::string_view> allowed,
                std::initializer_list<std::string_view> required) const {
        if (!n.IsMap()) fail(n, path, fmt::format("expected a map, got {}", shown(n)));
        Entries entries;
        for (auto it = n.begin(); it != n.end(); ++it) {
            const YAML::Node key = it->first;  // a copy: it-> yields a temporary proxy
            if (!key.IsScalar()) fail(key, path, fmt::format("expected a key, got {}", type_name(key)));
            const std::string& k = key.Scalar();
            if (std::string problem = text_problem(k, false); !problem.empty()) fail(key, path, "key " + problem);
            if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
                std::vector<std::string> names(allowed.begin(), allowed.end());
                fail(key, path, fmt::format("unknown key '{}' (expected one of: {})", k, fmt::join(names, ", ")));
            }
            for (const auto& [prev, _] : entries)
                if (prev.Scalar() == k)
                    fail(key, path, fmt::format("duplicate key '{}' (first at line {})", k, loc(prev).line));
            entries.emplace_back(key, it->second);
        }
        for (std::string_view r : required) {
            if (!find(entries, r)) fail(n, path, fmt::format("missing key '{}'", r));
        }
        return entries;
    }
    static const YAML::Node* find(const Entries& entries, std::string_view key) {
        for (const auto& [k, v] : entries)
            if (k.Scalar() == key) return &v;
        return nullptr;
    }
    static std::string child(const std::string& path, std::string_view key) {
        return path.empty() ? std::string(key) : path + "." + std::string(key);
    }
    static std::string index(const std::string& path, size_t i) { return fmt::format("{}[{}]", path, i); }

    const YAML::Node& sequence(const YAML::Node& n, const std::string& path) const {
        if (!n.IsSequence()) fail(n, path, fmt::format("expected a list, got {}", shown(n)));
        return n;
    }

    /// A scalar's text: UTF-8 without control characters (`multiline`: newlines and tabs allowed).
    std::string string(const YAML::Node& n, const std::string& path, bool multiline = false) const {
        if (!n.IsScalar()) fail(n, path, fmt::format("expected a string, got {}", type_name(n)));
        if (std::string problem = text_problem(n.Scalar(), multiline); !problem.empty()) fail(n, path, problem);
        return n.Scalar();
    }

    /// A plain (unquoted) scalar: a decimal without leading zeros or 0x-hexadecimal, in [lo, hi].
    /// `out_of_range`, when given, reports a value outside [lo, hi] (decimal, or the text as written
    /// when it does not fit 64 bits) and does not return.
    uint64_t integer(const YAML::Node& n, const std::string& path, uint64_t lo, uint64_t hi,
                     const std::function<void(const std::string&)>& out_of_range = {}) const {
        std::string range = fmt::format("an integer from {} to {}", lo, hi);
        if (!n.IsScalar()) fail(n, path, fmt::format("expected {}, got {}", range, type_name(n)));
        const std::string& s = n.Scalar();
        if (n.Tag() != "?") fail(n, path, fmt::format("expected {}, got the quoted string '{}'", range, s));
        int base = 10;
        std::string_view digits = s;
        if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            base = 16;
            digits.remove_prefix(2);
        } else if (s.size() > 1 && s[0] == '0' && std::isdigit(static_cast<unsigned char>(s[1]))) {
            fail(n, path,
                 fmt::format("'{}' has a leading zero (write decimals without leading zeros, "
                             "or hexadecimal as 0x...)",
                             s));
        }
        uint64_t v = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
        if (digits.empty() || end != digits.data() + digits.size() ||
            (ec != std::errc() && ec != std::errc::result_out_of_range))
            fail(n, path, fmt::format("expected {}, got '{}'", range, s));
        if (out_of_range && (ec == std::errc::result_out_of_range || v < lo || v > hi))
            out_of_range(ec == std::errc::result_out_of_range ? s : std::to_string(v));
        if (ec == std::errc::result_out_of_range || v < lo || v > hi)
            fail(n, path, fmt::format("{} is out of range (expected {})", s, range));
        return v;
    }

    bool boolean(const YAML::Node& n, const std::string& path) const {
        if (n.IsScalar() && n.Tag() == "?") {
            if (n.Scalar() == "true") return true;
            if (n.Scalar() == "false") return false;
        }
        fail(n, path, fmt::format("expected true or false, got {}", shown(n)));
    }

    /// A vCPU index; out of range (however large) is reported against vm.vcpus, not the integer type.
    uint32_t vcpu(const YAML::Node& n, const std::string& path) const {
        const uint64_t v = integer(n, path, 0, s_.vcpus - 1, [&](const std::string& text) {
            fail(n, path,
                 fmt::format("vCPU {} is out of range (vm.vcpus is {}, so 0..{})", text, s_.vcpus, s_.vcpus - 1));
        });
        return static_cast<uint32_t>(v);
    }

    /// "DEVICE.VECTOR" naming an existing device and vector.
    SourceId source(const YAML::Node& n, const std::string& path) const {
        std::string text = string(n, path);
        size_t dot = text.rfind('.');
        std::string example = s_.sources.empty() ? "nic.0" : s_.sources[0].name;
        if (dot == std::string::npos || dot == 0 || dot + 1 == text.size())
            fail(n, path, fmt::format("'{}' is not a source (expected DEVICE.VECTOR, e.g. {})", text, example));
        std::string dev = text.substr(0, dot);
        std::optional<uint32_t> found = s_.find_device(dev);
        const Device* d = found ? &s_.devices[*found] : nullptr;
        if (!d) {
            constexpr size_t kListed = 20;  // a file may have thousands
            std::vector<std::string> names;
            for (size_t i = 0; i < s_.devices.size() && i < kListed; ++i) names.push_back(s_.devices[i].name);
            if (s_.devices.size() > kListed) names.push_back(fmt::format("and {} more", s_.devices.size() - kListed));
            fail(n, path,
                 fmt::format("'{}' names no device (devices: {})", text,
                             names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
        }
        std::string_view vec = std::string_view(text).substr(dot + 1);
        uint32_t v = 0;
        auto [end, ec] = std::from_chars(vec.data(), vec.data() + vec.size(), v);
        bool leading_zero = vec.size() > 1 && vec[0] == '0';
        if (ec != std::errc() || end != vec.data() + vec.size() || leading_zero || v >= d->vectors)
            fail(n, path,
                 fmt::format("'{}': device {} has {} vector{} ({}.0..{}.{})", text, d->name, d->vectors,
                             d->vectors == 1 ? "" : "s", d->name, d->name, d->vectors - 1));
        return *s_.find_source(text);
    }

    /// A routed source of an MSI device (a timer belongs to its vCPU's local APIC).
    SourceId msi_source(const YAML::Node& n, const std::string& path, const char* what) const {
        SourceId id = routed_source(n, path);
        if (s_.device_of(id).kind == DeviceKind::Timer)
            fail(n, path,
                 fmt::format("{} is a timer: it belongs to its vCPU's local APIC and cannot be {}", s_.sources[id].name,
                             what));
        if (s_.device_of(id).kind == DeviceKind::Ipi)
            fail(n, path,
                 fmt::format("{} is an IPI: it has no MSI route and cannot be {} (the sender names its target in each "
                             "ICC_SGI1R_EL1 / ICR write)",
                             s_.sources[id].name, what));
        return id;
    }

    /// A source that is used by a step must be routed, so it has a vCPU to deliver to.
    SourceId routed_source(const YAML::Node& n, const std::string& path) const {
        SourceId id = source(n, path);
        if (!s_.sources[id].vcpu)
            fail(n, path,
                 fmt::format("{0} has no route (add '- {{source: {0}, vcpu: N}}' under routes)", s_.sources[id].name));
        return id;
    }

    Scenario scenario(const YAML::Node& root) {
        if (root.IsNull()) fail(root, "", "empty document: expected a scenario map");
        Entries top = map(
            root, "", {"name", "description", "arch", "vm", "devices", "routes", "policy", "guest", "steps", "expect"},
            {"name", "vm", "devices", "steps"});
        s_.file = file_;
        s_.name = string(*find(top, "name"), "name");
        if (s_.name.empty() || s_.name.find('\n') != std::string::npos)
            fail(*find(top, "name"), "name", "expected a non-empty one-line name");
        if (const YAML::Node* d = find(top, "description")) s_.description = string(*d, "description", true);
        if (const YAML::Node* a = find(top, "arch")) arch(*a);
        vm(*find(top, "vm"));
        devices(*find(top, "devices"));
        if (const YAML::Node* r = find(top, "routes")) routes(*r);
        if (const YAML::Node* p = find(top, "policy")) policy(*p);
        if (const YAML::Node* g = find(top, "guest")) {
            s_.guest_loc = loc(*g);
            std::string kind = string(*g, "guest");
            s_.guest = parse_guest_kind(kind);
            if (!s_.guest)
                fail(*g, "guest", fmt::format("unknown guest '{}' (expected abstract or unicorn)", one_line(kind)));
        }
        steps(*find(top, "steps"));
        if (const YAML::Node* e = find(top, "expect")) expect(*e);
        return std::move(s_);
    }

    /// `arch: x86` or `arch: [arm, x86]`.
    void arch(const YAML::Node& n) {
        s_.arch_loc = loc(n);
        std::vector<std::string> known(std::begin(kScenarioArches), std::end(kScenarioArches));
        auto one = [&](const YAML::Node& item, const std::string& path) {
            std::string name = string(item, path);
            if (std::find(known.begin(), known.end(), name) == known.end())
                fail(item, path, fmt::format("unknown backend '{}' (expected {})", name, fmt::join(known, " or ")));
            if (std::find(s_.arches.begin(), s_.arches.end(), name) != s_.arches.end())
                fail(item, path, fmt::format("'{}' is listed twice", name));
            s_.arches.push_back(name);
        };
        if (n.IsSequence()) {
            if (n.size() == 0) fail(n, "arch", "expected at least one backend");
            for (size_t i = 0; i < n.size(); ++i) one(n[i], index("arch", i));
        } else {
            one(n, "arch");
        }
    }

    void vm(const YAML::Node& n) {
        Entries e = map(n, "vm", {"vcpus"}, {"vcpus"});
        s_.vcpus = static_cast<uint32_t>(integer(*find(e, "vcpus"), "vm.vcpus", 1, kMaxVcpus));
    }

    void devices(const YAML::Node& n) {
        sequence(n, "devices");
        if (n.size() > kMaxDevices)
            fail(n, "devices", fmt::format("{} devices: a scenario has at most {}", n.size(), kMaxDevices));
        std::unordered_map<std::string, size_t> seen;  // name -> index in s_.devices
        for (size_t i = 0; i < n.size(); ++i) {
            std::string path = index("devices", i);
            Entries e = map(n[i], path, {"name", "kind", "vectors", "passthrough", "from", "delivery", "stops_at",
                                             "timer_mode"},
                            {"name"});
            Device d;
            d.loc = loc(n[i]);
            d.kind_loc = d.loc;
            if (const YAML::Node* k = find(e, "kind")) {
                std::string kind = string(*k, child(path, "kind"));
                d.kind_loc = loc(*k);
                if (kind == "timer")
                    d.kind = DeviceKind::Timer;
                else if (kind == "ipi")
                    d.kind = DeviceKind::Ipi;
                else if (kind != "msi")
                    fail(*k, child(path, "kind"),
                         fmt::format("'{}' is not a device kind (expected msi, timer or ipi)", kind));
            }
            const YAML::Node* from = find(e, "from");
            if (from && d.kind != DeviceKind::Ipi)
                fail(*from, child(path, "from"),
                     fmt::format("'from' names the sending vCPU of an IPI device (kind: ipi); this device is {}",
                                 to_string(d.kind)));
            const YAML::Node& name = *find(e, "name");
            d.name = string(name, child(path, "name"));
            if (!is_identifier(d.name))
                fail(
                    name, child(path, "name"),
                    fmt::format("'{}' is not a device name (expected a letter, then letters, digits, _ or -)", d.name));
            if (auto [it, fresh] = seen.emplace(d.name, s_.devices.size()); !fresh)
                fail(name, child(path, "name"),
                     fmt::format("duplicate device '{}' (first at line {})", d.name, s_.devices[it->second].loc.line));
            if (d.kind == DeviceKind::Timer) {
                // A LAPIC timer has one interrupt source and is never a passthrough device.
                d.vectors = 1;
                if (const YAML::Node* v = find(e, "vectors")) integer(*v, child(path, "vectors"), 1, 1);
                if (const YAML::Node* p = find(e, "passthrough"); p && boolean(*p, child(path, "passthrough")))
                    fail(*p, child(path, "passthrough"), "a timer is not a PCI device: it cannot be passed through");
            } else if (d.kind == DeviceKind::Ipi) {
                // Interrupts between vCPUs: SGIs 0..15 on ARM (the x86 guest allocates as many vectors),
                // sent by one vCPU; no PCI device, so nothing to pass through.
                if (!from) fail(n[i], path, "missing key 'from' (the vCPU that sends the IPIs)");
                d.from = vcpu(*from, child(path, "from"));
                const YAML::Node* v = find(e, "vectors");
                if (!v) fail(n[i], path, "missing key 'vectors'");
                d.vectors = static_cast<uint32_t>(integer(*v, child(path, "vectors"), 1, kMaxIpiVectors));
                if (const YAML::Node* p = find(e, "passthrough"); p && boolean(*p, child(path, "passthrough")))
                    fail(*p, child(path, "passthrough"),
                         "an IPI is sent by a vCPU, not a PCI device: it cannot be passed through");
            } else {
                const YAML::Node* v = find(e, "vectors");
                if (!v) fail(n[i], path, "missing key 'vectors'");
                d.vectors = static_cast<uint32_t>(integer(*v, child(path, "vectors"), 1, kMaxVectors));
                if (const YAML::Node* p = find(e, "passthrough"))
                    d.passthrough = boolean(*p, child(path, "passthrough"));
            }
            if (const YAML::Node* m = find(e, "delivery")) {
                std::string mode = string(*m, child(path, "delivery"));
                if (mode == "at-least-once")
                    d.delivery = DeliveryMode::AtLeastOnce;
                else if (mode != "exactly-once")
                    fail(*m, child(path, "delivery"),
                         fmt::format("'{}' is not a delivery mode (expected exactly-once or at-least-once)", mode));
            }
            d.timer_mode_loc = d.loc;
            if (const YAML::Node* tm = find(e, "timer_mode")) {
                const std::string tp = child(path, "timer_mode");
                const std::string mode = string(*tm, tp);
                d.timer_mode_loc = loc(*tm);
                if (d.kind != DeviceKind::Timer)
                    fail(*tm, tp,
                         fmt::format("'timer_mode' says how the guest programs a LAPIC timer (kind: timer); this "
                                     "device is {}",
                                     to_string(d.kind)));
                if (mode == "tsc-deadline")
                    d.timer_mode = TimerMode::TscDeadline;
                else if (mode != "one-shot")
                    fail(*tm, tp, fmt::format("'{}' is not a timer mode (expected one-shot or tsc-deadline)", mode));
            }
            if (const YAML::Node* st = find(e, "stops_at")) {
                const std::string sp = child(path, "stops_at");
                const std::string when = string(*st, sp);
                if (when == "copy_memory")
                    d.stops_at = DeviceStop::CopyMemory;
                else if (when != "stop_devices")
                    fail(*st, sp, fmt::format("'{}' is not a stop point (expected stop_devices or copy_memory)", when));
                if (d.kind == DeviceKind::Timer)
                    fail(*st, sp, "a timer is the vCPU's own LAPIC: the VMM does not stop it");
                if (d.kind == DeviceKind::Ipi)
                    fail(*st, sp, "IPIs are sent by a vCPU, which stop_vcpus stops: there is no device to stop");
                // QEMU runs VFIO's change-state handler before the irqchip's (8ce1ff990eff): only an
                // emulated device can still inject after the irqchip save.
                if (d.passthrough && d.stops_at == DeviceStop::CopyMemory)
                    fail(*st, sp,
                         "a passthrough (VFIO) device stops at stop_devices (vfio_vmstate_change runs before the "
                         "irqchip's handler, QEMU 8ce1ff990eff); only an emulated device stops at copy_memory");
            }
            if (s_.sources.size() + d.vectors > kMaxSources)
                fail(n[i], path,
                     fmt::format("the devices have more than {} vectors together (the limit of a scenario)", kMaxSources));
            s_.devices.push_back(d);
            for (uint32_t v = 0; v < d.vectors; ++v)
                s_.sources.push_back(Source{fmt::format("{}.{}", d.name, v),
                                            static_cast<uint32_t>(s_.devices.size() - 1),
                                            v,
                                            std::nullopt,
                                            {},
                                            false,
                                            {}});
        }
        s_.index();  // routes and steps look sources and devices up by name
    }

    void routes(const YAML::Node& n) {
        sequence(n, "routes");
        std::vector<std::optional<SourceId>> timer_of(s_.vcpus);  // the timer source routed to each vCPU
        for (size_t i = 0; i < n.size(); ++i) {
            std::string path = index("routes", i);
            Entries e = map(n[i], path, {"source", "vcpu", "nmi"}, {"source", "vcpu"});
            const YAML::Node& src = *find(e, "source");
            SourceId id = source(src, child(path, "source"));
            Source& s = s_.sources[id];
            if (s.vcpu)
                fail(src, child(path, "source"),
                     fmt::format("{} is already routed (at line {})", s.name, s.route_loc.line));
            s.vcpu = vcpu(*find(e, "vcpu"), child(path, "vcpu"));
            s.route_loc = loc(n[i]);
            if (const YAML::Node* nmi = find(e, "nmi")) {
                s.nmi = boolean(*nmi, child(path, "nmi"));
                s.nmi_loc = loc(*nmi);
                // An NMI-mode MSI is a device's: a timer's LVTT and an IPI's ICR have delivery modes of
                // their own that the model keeps fixed.
                if (s.nmi && s_.device_of(id).kind != DeviceKind::Msi)
                    fail(*nmi, child(path, "nmi"),
                         fmt::format("{} is a {} source: only an MSI device's route can be an NMI", s.name,
                                     to_string(s_.device_of(id).kind)));
            }
            // A self-IPI takes other paths on both stacks (x86 self-IPI virtualization, SDM §29.1.5) that
            // the model does not have.
            if (const Device& dev = s_.device_of(id); dev.kind == DeviceKind::Ipi && *s.vcpu == dev.from)
                fail(*find(e, "vcpu"), child(path, "vcpu"),
                     fmt::format("{} is sent by vCPU {} (its device's 'from'): a self-IPI is not modelled, route it "
                                 "to another vCPU",
                                 s.name, dev.from));
            // A vCPU has one local-APIC timer (one LVTT), so at most one timer source per vCPU.
            if (s_.device_of(id).kind == DeviceKind::Timer) {
                if (std::optional<SourceId>& t = timer_of.at(*s.vcpu))
                    fail(*find(e, "vcpu"), child(path, "vcpu"),
                         fmt::format("vCPU {} has one local-APIC timer, and {} is already routed to it (at line {})",
                                     *s.vcpu, s_.sources[*t].name, s_.sources[*t].route_loc.line));
                else
                    t = id;
            }
        }
    }

    void policy(const YAML::Node& n) {
        if (!n.IsMap()) fail(n, "policy", fmt::format("expected a map of KEY: VALUE, got {}", shown(n)));
        for (auto it = n.begin(); it != n.end(); ++it) {
            std::string key = string(it->first, "policy");
            for (const PolicySetting& prev : s_.policy)
                if (prev.key == key)
                    fail(it->first, "policy",
                         fmt::format("duplicate key '{}' (first at line {})", key, prev.key_loc.line));
            PolicySetting setting{key, string(it->second, child("policy", key)), loc(it->first), loc(it->second)};
            validate_policy_setting(policies_, setting);
            s_.policy.push_back(std::move(setting));
        }
    }

    void steps(const YAML::Node& n) {
        sequence(n, "steps");
        if (n.size() == 0) fail(n, "steps", "expected at least one step");
        if (n.size() > kMaxSteps)
            fail(n, "steps", fmt::format("{} steps: a scenario has at most {}", n.size(), kMaxSteps));
        size_t actions = 0;
        for (size_t i = 0; i < n.size(); ++i) {
            s_.steps.push_back(step(n[i], index("steps", i)));
            actions += 1 + s_.steps.back().fires.size();
            if (actions > kMaxSteps)
                fail(n[i], index("steps", i),
                     fmt::format("more than {} steps and migration fires together (the limit of a scenario)", kMaxSteps));
        }
    }

    Step step(const YAML::Node& n, const std::string& path) {
        if (!n.IsMap() || n.size() != 1)
            fail(n, path,
                 fmt::format("expected a one-key map such as 'run: all' or 'fire: SOURCE', got {}",
                             n.IsMap() ? fmt::format("a map with {} keys", n.size()) : shown(n)));
        const YAML::Node key = n.begin()->first;  // copies: begin()-> yields a temporary
        const YAML::Node v = n.begin()->second;
        static const std::vector<std::string> kKinds = {"run",  "mask",     "unmask",   "block",       "preempt",
                                                        "fire", "retarget", "unassign", "toggle_lpis", "migrate",
                                                        "assign", "unroute",  "reroute"};
        if (!key.IsScalar() || std::find(kKinds.begin(), kKinds.end(), key.Scalar()) == kKinds.end())
            fail(key, path, fmt::format("unknown step {} (expected one of: {})", shown(key), fmt::join(kKinds, ", ")));
        const std::string kind = key.Scalar();
        std::string p = child(path, kind);
        Step s;
        s.loc = loc(n);
        if (kind == "run") {
            s.kind = StepKind::Run;
            if (v.IsScalar() && v.Scalar() == "all") {
                s.vcpu = -1;
            } else if (v.IsMap()) {
                s.vcpu = static_cast<int>(vcpu(*find(map(v, p, {"vcpu"}, {"vcpu"}), "vcpu"), child(p, "vcpu")));
            } else {
                fail(v, p, fmt::format("expected 'all' or {{vcpu: N}}, got {}", shown(v)));
            }
        } else if (kind == "mask" || kind == "unmask" || kind == "block" || kind == "preempt" ||
                   kind == "toggle_lpis") {
            s.kind = kind == "mask"      ? StepKind::Mask
                     : kind == "unmask"  ? StepKind::Unmask
                     : kind == "block"   ? StepKind::Block
                     : kind == "preempt" ? StepKind::Preempt
                                         : StepKind::ToggleLpis;
            s.vcpu = static_cast<int>(vcpu(*find(map(v, p, {"vcpu"}, {"vcpu"}), "vcpu"), child(p, "vcpu")));
        } else if (kind == "fire") {
            s.kind = StepKind::Fire;
            s.source = routed_source(v, p);
        } else if (kind == "retarget") {
            s.kind = StepKind::Retarget;
            Entries m = map(v, p, {"source", "vcpu", "nmi"}, {"source", "vcpu"});
            s.source = msi_source(*find(m, "source"), child(p, "source"), "retargeted");
            s.vcpu = static_cast<int>(vcpu(*find(m, "vcpu"), child(p, "vcpu")));
            if (const YAML::Node* nmi = find(m, "nmi")) {
                s.nmi = boolean(*nmi, child(p, "nmi"));
                s.nmi_loc = loc(*nmi);
            }
        } else if (kind == "unassign") {
            s.kind = StepKind::Unassign;
            s.source = msi_source(*find(map(v, p, {"source"}, {"source"}), "source"), child(p, "source"), "unassigned");
        } else if (kind == "assign" || kind == "unroute" || kind == "reroute") {
            // KVM_IRQFD assign again; KVM_SET_GSI_ROUTING without / with the source's MSI route
            // (issue 15 §2.2, vfio_irq_test -e: reference kernel_history X2, X3).
            s.kind = kind == "assign" ? StepKind::Assign : kind == "unroute" ? StepKind::Unroute : StepKind::Reroute;
            s.source = msi_source(*find(map(v, p, {"source"}, {"source"}), "source"), child(p, "source"),
                                  kind == "assign" ? "assigned" : kind == "unroute" ? "unrouted" : "rerouted");
        } else {
            s.kind = StepKind::Migrate;
            migrate(v, p, s);
        }
        return s;
    }

    /// A migration step name must be one of the catalogue's (a neutral step or a registered
    /// backend's sub-step; not checked when the catalogue has none): a save step (`save` true), a
    /// restore step (false) or either. Whether the backend of a run has it is the run's check.
    void check_step_name(const YAML::Node& n, const std::string& path, const std::string& name,
                         std::optional<bool> save) const {
        if (steps_.empty()) return;
        bool other_side = false;
        for (const StepName& st : steps_) {
            if (st.name != name) continue;
            if (!save || st.save == *save) return;
            other_side = true;
        }
        std::vector<std::string_view> names;  // once each, in catalogue order
        for (const StepName& st : steps_)
            if ((!save || st.save == *save) && std::find(names.begin(), names.end(), st.name) == names.end())
                names.push_back(st.name);
        const char* what = !save ? "a migration step" : *save ? "a save step" : "a restore step";
        if (other_side)
            fail(n, path,
                 fmt::format("'{}' is a {} step, not {} (expected one of: {})", name, *save ? "restore" : "save", what,
                             fmt::join(names, ", ")));
        fail(n, path,
             fmt::format("'{}' is not {} of any backend (expected one of: {}{}; irqdiff list steps)", name, what,
                         fmt::join(names, ", "), save ? "" : ", or any"));
    }

    void migrate(const YAML::Node& v, const std::string& p, Step& s) {
        s.order.loc = s.loc;
        if (v.IsNull()) return;  // `- migrate:` alone: QEMU's order, nothing fired
        Entries m = map(v, p, {"kind", "order", "fire", "cancel_after"}, {});
        if (const YAML::Node* k = find(m, "kind")) {
            std::string kp = child(p, "kind");
            std::string kind = string(*k, kp);
            if (kind == "cpr")
                s.migration = MigrationKind::Cpr;
            else if (kind != "live")
                fail(*k, kp,
                     fmt::format("expected live (a live migration to a new machine) or cpr (a same-host live "
                                 "update: QEMU CPR), got '{}'",
                                 kind));
            if (s.migration == MigrationKind::Cpr && find(m, "cancel_after"))
                fail(*find(m, "cancel_after"), child(p, "cancel_after"),
                     "a live update (kind: cpr) is not cancelled in this model: drop 'cancel_after' or 'kind: cpr'");
        }
        if (const YAML::Node* c = find(m, "cancel_after")) {
            std::string cp = child(p, "cancel_after");
            s.cancel_after = string(*c, cp);
            s.cancel_loc = loc(*c);
            if (!is_identifier(s.cancel_after))
                fail(*c, cp, fmt::format("expected a save step name, got '{}'", s.cancel_after));
            check_step_name(*c, cp, s.cancel_after, true);
            if (const YAML::Node* o = find(m, "order"))
                fail(*o, child(p, "order"),
                     "a migration cancelled on the save side restores nothing: drop 'order' or 'cancel_after'");
        }
        if (const YAML::Node* o = find(m, "order")) {
            std::string op = child(p, "order");
            s.order.loc = loc(*o);
            if (o->IsScalar()) {
                std::string name = o->Scalar();
                if (!is_identifier(name))
                    fail(*o, op,
                         fmt::format("expected qemu, all, another order name or a list of steps, got '{}'", name));
                s.order.kind = name == "all" ? OrderSpec::Kind::All : OrderSpec::Kind::Named;
                s.order.name = name;
            } else if (o->IsSequence()) {
                if (o->size() == 0) fail(*o, op, "expected at least one step name");
                s.order.kind = OrderSpec::Kind::Explicit;
                s.order.name = "explicit";
                for (size_t i = 0; i < o->size(); ++i) {
                    std::string name = string((*o)[i], index(op, i));
                    if (!is_identifier(name)) fail((*o)[i], index(op, i), fmt::format("'{}' is not a step name", name));
                    for (size_t j = 0; j < s.order.steps.size(); ++j)
                        if (s.order.steps[j] == name)
                            fail((*o)[i], index(op, i),
                                 fmt::format("step '{}' is listed twice (first at line {})", name,
                                             s.order.step_locs[j].line));
                    check_step_name((*o)[i], index(op, i), name, false);
                    s.order.steps.push_back(name);
                    s.order.step_locs.push_back(loc((*o)[i]));
                }
            } else if (o->IsMap()) {
                Entries om = map(*o, op, {"set"}, {"set"});
                const YAML::Node& set = *find(om, "set");
                std::string name = string(set, child(op, "set"));
                if (!is_order_set_name(name))
                    fail(set, child(op, "set"),
                         fmt::format("'{}' is not an order set (expected one of: {})", name,
                                     fmt::join(kOrderSetNames, ", ")));
                s.order.kind = OrderSpec::Kind::Set;
                s.order.name = name;
            } else {
                fail(*o, op,
                     fmt::format("expected qemu, all, another order name, a list of steps or {{set: NAME}}, got {}",
                                 type_name(*o)));
            }
        }
        if (const YAML::Node* f = find(m, "fire")) {
            std::string fp = child(p, "fire");
            sequence(*f, fp);
            for (size_t i = 0; i < f->size(); ++i) {
                std::string ep = index(fp, i);
                Entries fe = map((*f)[i], ep, {"source", "before"}, {"source", "before"});
                MigrationFire mf;
                mf.loc = loc((*f)[i]);
                mf.source = routed_source(*find(fe, "source"), child(ep, "source"));
                const YAML::Node& before = *find(fe, "before");
                mf.before = string(before, child(ep, "before"));
                mf.before_loc = loc(before);
                if (!is_identifier(mf.before))
                    fail(before, child(ep, "before"),
                         fmt::format("expected a migration step name or 'any', got '{}'", mf.before));
                if (mf.before != kAnyStep) check_step_name(before, child(ep, "before"), mf.before, std::nullopt);
                s.fires.push_back(std::move(mf));
            }
        }
    }

    /// `violations: none` or a list of declared violations by name, such as VCPU.write_LR.
    ViolationExpectation violations(const YAML::Node& n, const SourceLoc& where) const {
        const std::string path = "expect.violations";
        ViolationExpectation v{{}, {}, where};
        if (n.IsScalar() && n.Tag() == "?" && n.Scalar() == "none") return v;
        if (!n.IsSequence() || n.size() == 0)
            fail(n, path,
                 fmt::format("expected 'none' or a list of operations such as [VCPU.write_LR], got {}", shown(n)));
        for (size_t i = 0; i < n.size(); ++i) {
            std::string op = string(n[i], index(path, i));
            if (op.find('.') == std::string::npos || op.find(' ') != std::string::npos)
                fail(n[i], index(path, i),
                     fmt::format("'{}' is not an operation name (LAYER.NAME, e.g. VCPU.write_LR)", op));
            if (std::find(v.ops.begin(), v.ops.end(), op) != v.ops.end())
                fail(n[i], index(path, i), fmt::format("'{}' is listed twice", op));
            const TracePointInfo* declared = nullptr;
            for (const TracePointInfo* e : events_) {
                if (e->op != op) continue;
                if (!declared || e->kind == EventKind::Violation) declared = e;
                if (e->kind == EventKind::Violation) v.points.push_back(e);
            }
            if (!declared)
                fail(n[i], index(path, i),
                     fmt::format("unknown event '{}': expected a declared event such as {}", op, violation_names()));
            if (declared->kind != EventKind::Violation)
                fail(n[i], index(path, i),
                     fmt::format(
                         "event '{}' is never a violation (declared as {}): expected a declared event such as {}", op,
                         to_string(declared->kind), violation_names()));
            v.ops.push_back(op);
        }
        return v;
    }

    /// The names `expect.violations` may list: every declared violation, once, in catalogue order.
    std::string violation_names() const {
        std::vector<std::string_view> names;
        for (const TracePointInfo* e : events_)
            if (e->kind == EventKind::Violation && std::find(names.begin(), names.end(), e->op) == names.end())
                names.push_back(e->op);
        return names.empty() ? std::string("(none: the catalogue declares no violation)")
                             : fmt::format("{}", fmt::join(names, ", "));
    }

    void expect(const YAML::Node& n) {
        if (!n.IsMap()) fail(n, "expect", fmt::format("expected a map of SOURCE: OUTCOME, got {}", shown(n)));
        std::vector<bool> fired(s_.sources.size(), false);
        for (const Step& st : s_.steps) {
            if (st.kind == StepKind::Fire) fired[st.source] = true;
            for (const MigrationFire& f : st.fires) fired[f.source] = true;
        }
        std::unordered_map<std::string, int> keys;  // key -> its line
        for (auto it = n.begin(); it != n.end(); ++it) {
            std::string key = string(it->first, "expect");
            if (key == "violations") {
                if (s_.expect_violations)
                    fail(it->first, "expect",
                         fmt::format("duplicate key 'violations' (first at line {})", s_.expect_violations->loc.line));
                s_.expect_violations = violations(it->second, loc(it->first));
                continue;
            }
            if (auto [prev, fresh] = keys.emplace(key, loc(it->first).line); !fresh)
                fail(it->first, "expect", fmt::format("duplicate key '{}' (first at line {})", key, prev->second));
            Expectation x;
            x.loc = loc(it->first);
            if (key != "all") {
                x.source = source(it->first, "expect");
                if (!fired[*x.source])
                    fail(it->first, "expect", fmt::format("{} is never fired by the steps, so it has no outcome", key));
            }
            std::string value = string(it->second, child("expect", key));
            std::optional<Outcome> o = parse_outcome(value);
            if (!o)
                fail(it->second, child("expect", key),
                     fmt::format("'{}' is not an outcome (expected one of: {})", value, kOutcomeNames));
            x.outcome = *o;
            s_.expect.push_back(x);
        }
    }

    std::string file_;
    std::span<const PolicySpec> policies_;
    TracePointList events_;
    std::span<const StepName> steps_;
    Scenario s_;
};

}  // namespace

Scenario parse_scenario(std::string_view text, const Catalogue& catalogue, const std::string& file) {
    Scenario s = Loader(file, catalogue).load(text);
    s.text = text;
    return s;
}

Scenario load_scenario(const std::string& path, const Catalogue& catalogue) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw InputError(SourceLoc{path, 0, 0}, "cannot open the scenario file");
    if (const std::streamoff bytes = in.tellg(); bytes > static_cast<std::streamoff>(kMaxScenarioBytes))
        throw InputError(SourceLoc{path, 0, 0}, fmt::format("the file has {} bytes: a scenario file has at most {} MiB",
                                                            bytes, kMaxScenarioBytes >> 20));
    in.seekg(0);
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw InputError(SourceLoc{path, 0, 0}, "cannot read the scenario file");
    return parse_scenario(text.str(), catalogue, path);
}

}  // namespace irqdiff
