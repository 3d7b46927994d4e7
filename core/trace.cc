// Chrome trace-event JSON for runs (see trace.h and docs/traces.md).
//
// Layout of one run (one process):
//   schedule            one slice per action, holding its events' time; the STEP events
//   vcpuN               guest ops (GUEST.*), the CPU interface / CPU running vCPU N (VCPU.*, CPU.*)
//   guest               guest ops of no one vCPU (GUEST.boot, the guest's ITS commands VITS.*)
//   ITS, redistributor N, VPT/pending tables        (arm)
//   IOMMU, PI descriptors, bus                      (x86)
//   ideal controller                                (ideal)
//   devices, KVM, QEMU (VMM on ideal)
// plus async slices per interrupt lifetime (cat "interrupt") and the counter "pending".
#include "core/trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "core/policy.h"
#include "core/versions.h"

namespace irqdiff {
namespace {

// ---- Tracks ----------------------------------------------------------------------------------

// Track kinds in display order (thread_sort_index follows this order, then the index).
enum class TrackKind : uint8_t {
    Schedule,
    Vcpu,
    Guest,
    Its,
    Redistributor,
    PendingTables,
    Iommu,
    PiDescriptors,
    Bus,
    Ideal,
    Hardware,
    Devices,
    Kvm,
    Vmm,
};

struct TrackKey {
    TrackKind kind = TrackKind::Schedule;
    int64_t index = -1;  // the vCPU or redistributor number; -1 for a track of its own
    auto operator<=>(const TrackKey&) const = default;
};

std::string track_name(const TrackKey& t, std::string_view arch) {
    switch (t.kind) {
        case TrackKind::Schedule: return "schedule";
        case TrackKind::Vcpu: return fmt::format("vcpu{}", t.index);
        case TrackKind::Guest: return "guest";
        case TrackKind::Its: return "ITS";
        case TrackKind::Redistributor: return fmt::format("redistributor {}", t.index);
        case TrackKind::PendingTables: return "VPT/pending tables";
        case TrackKind::Iommu: return "IOMMU";
        case TrackKind::PiDescriptors: return "PI descriptors";
        case TrackKind::Bus: return "bus";
        case TrackKind::Ideal: return "ideal controller";
        case TrackKind::Hardware: return "hardware";
        case TrackKind::Devices: return "devices";
        case TrackKind::Kvm: return "KVM";
        case TrackKind::Vmm: return arch == "arm" || arch == "x86" ? "QEMU" : "VMM";
    }
    return "?";
}

// First rule: operations on one piece of state that has its own track, whichever layer touches
// it: the arm pending tables (the VPT the redistributor parses and writes back, the guest's LPI
// pending tables KVM saves and syncs, the transfer of pending_latch into the VPT) and the x86
// posted-interrupt descriptors (PIR/ON/SN/NDST written by KVM, drained by the CPU).
struct OpTrack {
    std::string_view op;
    TrackKind kind;
};
constexpr OpTrack kOpTracks[] = {
    {"GICR.parse_vpt", TrackKind::PendingTables},
    {"GICR.vpt_parsed", TrackKind::PendingTables},
    {"GICR.vpt_writeback", TrackKind::PendingTables},
    {"GICR.vpt_clean", TrackKind::PendingTables},
    {"KVM.lpi_sync_pending_status", TrackKind::PendingTables},
    {"KVM.save_pending_bit", TrackKind::PendingTables},
    {"KVM.save_pending_tables", TrackKind::PendingTables},
    {"KVM.sync_lpi_pending_table", TrackKind::PendingTables},
    {"KVM.transfer_pending", TrackKind::PendingTables},
    {"KVM.vm_start_transfer", TrackKind::PendingTables},
    {"CPU.pi_process", TrackKind::PiDescriptors},
    {"KVM.deliver_posted", TrackKind::PiDescriptors},
    {"KVM.pi_load", TrackKind::PiDescriptors},
    {"KVM.pi_put", TrackKind::PiDescriptors},
    {"KVM.pi_wakeup_handler", TrackKind::PiDescriptors},
    {"KVM.sync_pir_to_irr", TrackKind::PiDescriptors},
};

// Second rule: the op's prefix; `index` names the argument that picks one of several tracks (an
// event without it falls through to its layer's track).
struct PrefixTrack {
    std::string_view prefix;
    TrackKind kind;
    std::string_view index;
};
constexpr PrefixTrack kPrefixTracks[] = {
    {"ITS.", TrackKind::Its, {}},               // registers, commands, MSI translation
    {"GICR.", TrackKind::Redistributor, "rd"},  // registers, vPEs, vLPIs, doorbells
    {"IOMMU.", TrackKind::Iommu, {}},           // remapping and posting
    {"BUS.", TrackKind::Bus, {}},               // interrupt messages to physical CPUs
    {"IDEAL.", TrackKind::Ideal, {}},           // the ideal reference controller
    {"CPU.", TrackKind::Vcpu, "cpu"},           // the CPU running vCPU N (VMX)
    {"VCPU.", TrackKind::Vcpu, "cpu"},          // vCPU N's CPU interface (ICC_*, list registers)
    {"GUEST.", TrackKind::Vcpu, "vcpu"},        // the guest on vCPU N
    {"DEVICE.", TrackKind::Devices, {}},        // MSIs raised or held by devices
};

// Last rule: the layer.
TrackKind layer_track(Layer layer) {
    switch (layer) {
        case Layer::Scenario: return TrackKind::Schedule;
        case Layer::Guest: return TrackKind::Guest;
        case Layer::Hardware: return TrackKind::Hardware;
        case Layer::Hypervisor: return TrackKind::Kvm;
        case Layer::Vmm: return TrackKind::Vmm;
    }
    return TrackKind::Hardware;
}

std::optional<int64_t> int_arg(const Event& e, std::string_view key) {
    for (const EventArg& a : e.args)
        if (a.key == key) {
            if (const int64_t* v = std::get_if<int64_t>(&a.value)) return *v;
            return std::nullopt;
        }
    return std::nullopt;
}

TrackKey track_of(const Event& e) {
    for (const OpTrack& t : kOpTracks)
        if (e.op == t.op) return {t.kind, -1};
    for (const PrefixTrack& t : kPrefixTracks) {
        if (!std::string_view(e.op).starts_with(t.prefix)) continue;
        if (t.index.empty()) return {t.kind, -1};
        if (std::optional<int64_t> i = int_arg(e, t.index); i && *i >= 0) return {t.kind, *i};
        break;
    }
    return {layer_track(e.layer), -1};
}

// The tracks every run of a backend shows, even when it logged nothing there.
std::vector<TrackKey> standard_tracks(std::string_view arch) {
    std::vector<TrackKey> out{{TrackKind::Schedule, -1}, {TrackKind::Vmm, -1}};
    if (arch == "arm" || arch == "x86") out.push_back({TrackKind::Kvm, -1});
    if (arch == "arm") {
        out.push_back({TrackKind::Its, -1});
        out.push_back({TrackKind::PendingTables, -1});
    } else if (arch == "x86") {
        out.push_back({TrackKind::Iommu, -1});
        out.push_back({TrackKind::PiDescriptors, -1});
    } else if (arch == "ideal") {
        out.push_back({TrackKind::Ideal, -1});
    }
    return out;
}

// ---- Trace events ------------------------------------------------------------------------------

// Track ids are unique across the whole trace (Perfetto treats a tid seen in two processes as a
// reused thread): process P's tracks are P * kTidStride + 1, + 2, ...
constexpr int64_t kTidStride = 100000;

Json trace_event(std::string_view name, std::string_view cat, const char* ph, uint64_t ts, int64_t pid, int64_t tid) {
    Json j = Json::object();
    j["name"] = std::string(name);
    if (!cat.empty()) j["cat"] = std::string(cat);
    j["ph"] = ph;
    j["ts"] = ts;
    j["pid"] = pid;
    j["tid"] = tid;
    return j;
}

Json metadata(const char* name, int64_t pid, int64_t tid, const char* key, Json value) {
    Json j = trace_event(name, {}, "M", 0, pid, tid);
    j["args"] = Json::object();
    j["args"][key] = std::move(value);
    return j;
}

/// The process name: the backend (with "/unicorn" for a run with the Unicorn guest), its first
/// (headline) policy key and every key whose value is not the catalogue's default, e.g.
/// "arm (arm.transfer=set_forwarding)".
std::string process_name(const RunResult& r) {
    std::vector<std::string> shown;
    const auto& entries = r.policy.entries();
    for (size_t i = 0; i < entries.size(); ++i) {
        const auto& [key, value] = entries[i];
        if (i == 0 || !r.policy.is_default(key)) shown.push_back(key + "=" + value);
    }
    const std::string who = r.guest == GuestKind::Unicorn ? r.arch + "/unicorn" : r.arch;
    return shown.empty() ? who : fmt::format("{} ({})", who, fmt::join(shown, ", "));
}

bool events_complete(const RunResult& r) { return r.events.size() >= r.metrics.events; }

std::string places_label(const std::vector<Location>& places, std::span<const std::string> device_names) {
    if (places.empty()) return "pending nowhere";
    std::string out;
    for (const Location& l : places) {
        if (!out.empty()) out += " + ";
        out += to_string(l, device_names);
        if (!l.live) out += " (not live)";
    }
    return out;
}

Json places_json(const std::vector<Location>& places, std::span<const std::string> device_names) {
    Json out = Json::array();
    for (const Location& l : places) {
        Json p = Json::object();
        p["place"] = to_string(l, device_names);
        p["live"] = l.live;
        out.push_back(std::move(p));
    }
    return out;
}

// An event with its place in time, sorted by `ts` (stably, so parents precede their children).
struct Timed {
    uint64_t ts;
    Json event;
};

// One interrupt lifetime: an async slice from a fire to the delivery that ends it.
struct Lifetime {
    uint64_t id = 0;
    uint64_t begin = 0, end = 0;
    Json begin_args = Json::object(), end_args = Json::object();
    struct Mark {
        uint64_t ts;
        std::string name;
        Json args;
    };
    std::vector<Mark> marks;  // async instants on it
};

class RunTrace {
   public:
    RunTrace(const RunResult& run, int64_t pid, uint64_t& next_async_id)
        : r_(run), pid_(pid), next_async_id_(next_async_id) {}

    void append_to(Json& trace_events) {
        lay_out_actions();
        collect_tracks();
        add_metadata(trace_events);
        add_action_slices();
        add_event_slices();
        add_lifetimes();
        add_counters();
        std::stable_sort(timed_.begin(), timed_.end(), [](const Timed& a, const Timed& b) { return a.ts < b.ts; });
        for (Timed& t : timed_) trace_events.push_back(std::move(t.event));
    }

   private:
    struct Span {
        uint64_t start = 0, end = 0;  // [start, end)
        int64_t shift = 0;            // ts - seq of its events: 0 with a full log
    };

    std::string action_text(uint32_t a) const {
        return a < r_.schedule.size() ? r_.schedule[a] : fmt::format("action {}", a);
    }
    /// Where the state after action `a` is shown: at its last event.
    uint64_t after(uint32_t a) const { return spans_[a].end - 1; }
    uint64_t ts_of(const Event& e) const {
        return static_cast<uint64_t>(static_cast<int64_t>(e.seq) + spans_[e.action].shift);
    }
    int64_t tid(const TrackKey& k) const { return tids_.at(k); }
    int64_t schedule_tid() const { return tid({TrackKind::Schedule, -1}); }

    // The actions are laid end to end from ts 0; each spans its recorded events, which keep their
    // spacing, and is at least 1 long. With a full log every action has events, numbered on from
    // the previous action's, so event `seq` k is at ts k. Without one (a run that kept only
    // violations and guest errors) an action with no kept event is 1 long.
    void lay_out_actions() {
        size_t n = r_.schedule.size();
        for (const Event& e : r_.events) n = std::max<size_t>(n, e.action + 1);
        for (const Delivery& d : r_.deliveries) n = std::max<size_t>(n, d.action + 1);
        for (const LocationChange& c : r_.locations) n = std::max<size_t>(n, c.action + 1);
        std::vector<std::optional<std::pair<uint64_t, uint64_t>>> seen(n);
        for (const Event& e : r_.events) {
            auto& s = seen[e.action];
            if (!s)
                s = std::make_pair(e.seq, e.seq);
            else
                s = std::make_pair(std::min(s->first, e.seq), std::max(s->second, e.seq));
        }
        uint64_t cursor = 0;
        spans_.resize(n);
        for (size_t a = 0; a < n; ++a) {
            Span& span = spans_[a];
            span.start = cursor;
            if (seen[a]) {
                span.shift = static_cast<int64_t>(cursor) - static_cast<int64_t>(seen[a]->first);
                span.end = cursor + (seen[a]->second - seen[a]->first) + 1;
            } else {
                span.end = cursor + 1;
            }
            cursor = span.end;
        }
        end_ = cursor;
    }

    void collect_tracks() {
        std::set<TrackKey> keys;
        for (const TrackKey& k : standard_tracks(r_.arch)) keys.insert(k);
        int64_t vcpus = 0;
        event_tracks_.reserve(r_.events.size());
        for (const Event& e : r_.events) {
            TrackKey k = track_of(e);
            event_tracks_.push_back(k);
            keys.insert(k);
            if (k.kind == TrackKind::Vcpu) vcpus = std::max(vcpus, k.index + 1);
            if (std::optional<int64_t> n = int_arg(e, "vcpus")) vcpus = std::max(vcpus, *n);
        }
        for (const Delivery& d : r_.deliveries) vcpus = std::max<int64_t>(vcpus, d.vcpu + 1);
        for (int64_t v = 0; v < vcpus; ++v) keys.insert({TrackKind::Vcpu, v});
        int64_t ordinal = 0;
        for (const TrackKey& k : keys) tids_.emplace(k, pid_ * kTidStride + ++ordinal);
    }

    void add_metadata(Json& out) const {
        int64_t main = schedule_tid();
        out.push_back(metadata("process_name", pid_, main, "name", process_name(r_)));
        out.push_back(metadata("process_sort_index", pid_, main, "sort_index", pid_));
        for (const auto& [key, t] : tids_) {
            out.push_back(metadata("thread_name", pid_, t, "name", track_name(key, r_.arch)));
            out.push_back(metadata("thread_sort_index", pid_, t, "sort_index", t - pid_ * kTidStride));
        }
    }

    void add_action_slices() {
        std::vector<uint64_t> counts(spans_.size());
        for (const Event& e : r_.events) ++counts[e.action];
        for (uint32_t a = 0; a < spans_.size(); ++a) {
            std::string text = action_text(a);
            std::string_view cat = text.starts_with("save:")      ? "save"
                                   : text.starts_with("restore:") ? "restore"
                                                                  : "scenario";
            Json j = trace_event(text, cat, "X", spans_[a].start, pid_, schedule_tid());
            j["dur"] = spans_[a].end - spans_[a].start;
            j["args"] = Json::object();
            j["args"]["action"] = a;
            j["args"]["events"] = counts[a];
            timed_.push_back({spans_[a].start, std::move(j)});
        }
    }

    // Every event is a 1 us slice [seq, seq + 1) on its track, args = its own arguments plus "log"
    // (seq, action, layer, kind, sources, rule). A violation or guest error also appears as a
    // process-scoped instant, so it is visible at the top of the process.
    void add_event_slices() {
        for (size_t i = 0; i < r_.events.size(); ++i) {
            const Event& e = r_.events[i];
            Json full = to_json(e);  // results.cc's form: args with Hex as "0x..." strings
            std::string_view cat = e.kind == EventKind::Op ? to_string(e.layer) : to_string(e.kind);
            int64_t t = tid(event_tracks_[i]);
            const uint64_t ts = ts_of(e);
            Json j = trace_event(e.op, cat, "X", ts, pid_, t);
            j["dur"] = 1;
            Json args = std::move(full["args"]);
            Json log = Json::object();
            log["seq"] = e.seq;
            log["action"] = fmt::format("#{} {}", e.action, action_text(e.action));
            log["layer"] = to_string(e.layer);
            if (e.kind != EventKind::Op) log["kind"] = to_string(e.kind);
            if (!e.sources.empty()) log["sources"] = e.sources;
            if (!e.rule.empty()) log["rule"] = e.rule;
            args["log"] = std::move(log);
            j["args"] = std::move(args);
            timed_.push_back({ts, std::move(j)});

            if (e.kind == EventKind::Violation || e.kind == EventKind::GuestError) {
                std::string name =
                    fmt::format("{}: {}", e.kind == EventKind::Violation ? "violation" : "guest error", e.op);
                Json p = trace_event(name, cat, "i", ts, pid_, t);
                p["s"] = "p";
                p["args"] = Json::object();
                p["args"]["rule"] = e.rule;
                p["args"]["seq"] = e.seq;
                p["args"]["track"] = track_name(event_tracks_[i], r_.arch);
                if (!e.sources.empty()) p["args"]["sources"] = e.sources;
                timed_.push_back({ts, std::move(p)});
            }
        }
    }

    /// The ts of each delivery: its guest event (the k-th guest event naming a source is the k-th
    /// delivery), or the last unit of its action when the log did not keep it.
    std::vector<uint64_t> delivery_times() const {
        std::vector<const Event*> takes;
        for (const Event& e : r_.events)
            if (e.layer == Layer::Guest && !e.sources.empty()) takes.push_back(&e);
        std::vector<uint64_t> out;
        size_t next = 0;
        for (const Delivery& d : r_.deliveries) {
            const std::string& name = r_.source_names[d.source];
            if (next < takes.size() && takes[next]->action == d.action &&
                std::find(takes[next]->sources.begin(), takes[next]->sources.end(), name) !=
                    takes[next]->sources.end()) {
                out.push_back(ts_of(*takes[next++]));
            } else {
                out.push_back(after(d.action));
            }
        }
        return out;
    }

    // One async slice per lifetime: it opens at a `fire` action (a fire while one is open is a
    // "fired again" mark), closes just after the delivery's guest event, and carries marks for
    // the places its pending state passed through (RunResult::locations). A delivery with no open
    // lifetime (a duplicate) gets a lifetime of its own; one still open at the end closes at the
    // end of the last action with the source's outcome.
    void add_lifetimes() {
        const size_t n_sources = r_.source_names.size();
        // Points in time per source: fires and deliveries.
        struct Point {
            uint64_t ts;
            int order;  // fires before deliveries at the same ts
            uint32_t action;
            size_t delivery;  // index into r_.deliveries for a delivery
        };
        std::vector<std::vector<Point>> points(n_sources);
        for (uint32_t a = 0; a < spans_.size() && a < r_.schedule.size(); ++a) {
            const std::string& text = r_.schedule[a];
            if (!text.starts_with("fire ")) continue;
            std::string_view name = std::string_view(text).substr(5);
            for (SourceId s = 0; s < n_sources; ++s)
                if (r_.source_names[s] == name) points[s].push_back({spans_[a].start, 0, a, 0});
        }
        std::vector<uint64_t> taken = delivery_times();
        for (size_t i = 0; i < r_.deliveries.size(); ++i) {
            const Delivery& d = r_.deliveries[i];
            if (d.source < n_sources) points[d.source].push_back({taken[i], 1, d.action, i});
        }

        std::vector<std::vector<Lifetime>> lifetimes(n_sources);
        for (SourceId s = 0; s < n_sources; ++s) {
            std::stable_sort(points[s].begin(), points[s].end(), [](const Point& a, const Point& b) {
                return std::tie(a.ts, a.order) < std::tie(b.ts, b.order);
            });
            std::optional<Lifetime> open;
            for (const Point& p : points[s]) {
                if (p.order == 0) {
                    if (open) {
                        Json args = Json::object();
                        args["action"] = fmt::format("#{} {}", p.action, action_text(p.action));
                        open->marks.push_back({p.ts, "fired again", std::move(args)});
                        continue;
                    }
                    open = start_lifetime(s, p.ts);
                    open->begin_args["fired"] = fmt::format("#{} {}", p.action, action_text(p.action));
                    continue;
                }
                const Delivery& d = r_.deliveries[p.delivery];
                if (!open) {
                    open = start_lifetime(s, p.ts);
                    open->begin_args["fired"] = nullptr;
                    open->begin_args["note"] = "delivered with no fire since the previous delivery";
                }
                open->end = p.ts + 1;
                open->end_args["delivered"] = fmt::format("#{} {}", p.action, action_text(p.action));
                open->end_args["vcpu"] = d.vcpu;
                open->end_args["path"] = to_string(d.path);
                lifetimes[s].push_back(std::move(*open));
                open.reset();
            }
            if (open) {
                open->end = std::max(end_, open->begin);
                const SourceOutcome* o = r_.outcome(static_cast<SourceId>(s));
                open->end_args["outcome"] = o ? Json(to_string(o->outcome)) : Json(nullptr);
                if (o) open->end_args["held"] = places_json(o->held, r_.device_names);
                lifetimes[s].push_back(std::move(*open));
            }
        }

        // Places, marked on the lifetime open when they were sampled.
        for (const LocationChange& c : r_.locations) {
            uint64_t t = after(c.action);
            for (const auto& [s, places] : c.sources) {
                if (s >= n_sources) continue;
                for (Lifetime& l : lifetimes[s]) {
                    if (t < l.begin || t >= l.end) continue;
                    Json args = Json::object();
                    args["after"] = fmt::format("#{} {}", c.action, action_text(c.action));
                    args["places"] = places_json(places, r_.device_names);
                    l.marks.push_back({t, places_label(places, r_.device_names), std::move(args)});
                    break;
                }
            }
        }

        const int64_t t = schedule_tid();
        for (SourceId s = 0; s < n_sources; ++s) {
            const std::string& name = r_.source_names[s];
            for (Lifetime& l : lifetimes[s]) {
                Json b = trace_event(name, "interrupt", "b", l.begin, pid_, t);
                b["id"] = l.id;
                b["args"] = std::move(l.begin_args);
                timed_.push_back({l.begin, std::move(b)});
                for (Lifetime::Mark& m : l.marks) {  // put in time order with the rest below
                    Json n = trace_event(m.name, "interrupt", "n", m.ts, pid_, t);
                    n["id"] = l.id;
                    n["args"] = std::move(m.args);
                    timed_.push_back({m.ts, std::move(n)});
                }
                Json e = trace_event(name, "interrupt", "e", l.end, pid_, t);
                e["id"] = l.id;
                e["args"] = std::move(l.end_args);
                timed_.push_back({l.end, std::move(e)});
            }
        }
    }

    Lifetime start_lifetime(SourceId s, uint64_t ts) {
        Lifetime l;
        l.id = next_async_id_++;
        l.begin = ts;
        l.begin_args["source"] = r_.source_names[s];
        l.begin_args["identity"] = s < r_.identities.size() ? Json(r_.identities[s]) : Json(nullptr);
        return l;
    }

    // Counter "pending": after each action that moved some source, how many sources are pending
    // in each kind of place (a source held in two places of a kind counts once) and how many are
    // pending only in places that are not live.
    void add_counters() {
        std::set<std::string> kinds;
        for (const LocationChange& c : r_.locations)
            for (const auto& [s, places] : c.sources)
                for (const Location& l : places) kinds.emplace(l.place->name);
        std::vector<std::vector<Location>> now(r_.source_names.size());
        auto sample = [&](uint64_t ts) {
            std::map<std::string, int64_t, std::less<>> counts;
            for (const std::string& k : kinds) counts[k] = 0;
            int64_t not_live = 0;
            for (const std::vector<Location>& places : now) {
                std::set<std::string_view> seen;
                bool live = false;
                for (const Location& l : places) {
                    if (seen.insert(l.place->name).second) ++counts.find(l.place->name)->second;
                    live = live || l.live;
                }
                if (!places.empty() && !live) ++not_live;
            }
            Json j = trace_event("pending", {}, "C", ts, pid_, schedule_tid());
            j["args"] = Json::object();
            for (const auto& [k, n] : counts) j["args"][k] = n;
            j["args"]["not live"] = not_live;
            timed_.push_back({ts, std::move(j)});
        };
        sample(0);
        for (const LocationChange& c : r_.locations) {
            for (const auto& [s, places] : c.sources)
                if (s < now.size()) now[s] = places;
            sample(after(c.action));
        }
    }

    const RunResult& r_;
    int64_t pid_;
    uint64_t& next_async_id_;
    std::vector<Span> spans_;
    uint64_t end_ = 0;
    std::map<TrackKey, int64_t> tids_;
    std::vector<TrackKey> event_tracks_;
    std::vector<Timed> timed_;
};

}  // namespace

Json chrome_trace(const ScenarioResult& result) {
    Json runs = Json::array();
    bool complete = true;
    for (size_t i = 0; i < result.runs.size(); ++i) {
        const RunResult& r = result.runs[i];
        Json policy = Json::object();
        for (const auto& [k, v] : r.policy.entries()) policy[k] = v;
        std::string order;
        for (const std::string& o : r.order_names) order += (order.empty() ? "" : ",") + o;
        Json run = Json::object();
        run["pid"] = i + 1;
        run["arch"] = r.arch;
        run["policy"] = std::move(policy);
        run["order"] = order.empty() ? Json(nullptr) : Json(order);
        run["expectations_met"] = r.expectations_met;
        run["events"] = events_complete(r) ? "complete" : "partial";
        complete = complete && events_complete(r);
        runs.push_back(std::move(run));
    }

    Json other = Json::object();
    other["scenario"] = result.scenario;
    other["file"] = result.file;
    other["irqdiff"] = library_versions().irqdiff;
    other["time"] =
        "synthetic: the model has no clock; event seq k is at ts k (1 us per event) and each schedule action "
        "spans its events";
    other["events"] = complete ? "complete"
                               : "partial: some runs kept only violations, guest errors and ignored operations "
                                 "(recorded without events), so their actions and lifetimes are placed from those";
    other["runs"] = std::move(runs);

    Json events = Json::array();
    uint64_t next_async_id = 1;
    for (size_t i = 0; i < result.runs.size(); ++i)
        RunTrace(result.runs[i], static_cast<int64_t>(i + 1), next_async_id).append_to(events);

    // displayTimeUnit first: some Perfetto versions read it only from the start of the file.
    Json trace = Json::object();
    trace["displayTimeUnit"] = "ns";
    trace["otherData"] = std::move(other);
    trace["traceEvents"] = std::move(events);
    return trace;
}

std::string chrome_trace_text(const ScenarioResult& result) {
    const Json trace = chrome_trace(result);
    auto dump = [](const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); };
    std::string out = "{\n";
    bool first_key = true;
    for (const auto& [key, value] : trace.items()) {
        if (!first_key) out += ",\n";
        first_key = false;
        out += dump(Json(key)) + ": ";
        if (!value.is_array()) {
            out += dump(value);
            continue;
        }
        out += "[\n";
        for (size_t i = 0; i < value.size(); ++i) {
            out += dump(value[i]);
            out += i + 1 < value.size() ? ",\n" : "\n";
        }
        out += "]";
    }
    out += "\n}\n";
    return out;
}

void write_chrome_trace(const ScenarioResult& result, const std::string& path) {
    const std::string text = chrome_trace_text(result);
    auto fail = [&](int err) {
        return InputError(SourceLoc{}, fmt::format("cannot write {}: {}", path, std::strerror(err)));
    };
    errno = 0;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) throw fail(errno ? errno : EIO);
    size_t written = std::fwrite(text.data(), 1, text.size(), f);
    int write_err = written == text.size() ? 0 : (errno ? errno : EIO);
    if (std::fclose(f) != 0 && write_err == 0) write_err = errno ? errno : EIO;
    if (write_err != 0) throw fail(write_err);
}

std::vector<std::string_view> track_rule_ops() {
    std::vector<std::string_view> out;
    for (const OpTrack& t : kOpTracks) out.push_back(t.op);
    return out;
}

std::vector<std::string_view> track_rule_prefixes() {
    std::vector<std::string_view> out;
    for (const PrefixTrack& t : kPrefixTracks) out.push_back(t.prefix);
    return out;
}

}  // namespace irqdiff
