// irqdiff._core: the compiled half of the irqdiff Python package. The public API is the pure-Python
// package `irqdiff`, which re-exports what it needs from here. Only python/*.cc include pybind11
// (STYLE.md "Python bindings kept apart"); classes are registered before any function so
// signatures show Python names. User-input errors (InputError) become irqdiff.ScenarioError, a
// ValueError carrying "PLACE: what was expected".
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "arm_gic/machine/image_loader.h"
#include "arm_gic/machine/options.h"
#include "arm_gic/machine/session.h"
#include "arm_gic/policies.h"
#include "core/backend.h"
#include "core/explorer.h"
#include "core/policy.h"
#include "core/results.h"
#include "core/runner.h"
#include "core/scenario.h"
#include "core/trace_points.h"
#include "core/versions.h"
#include "registry/builtin_backends.h"

namespace py = pybind11;

namespace irqdiff {
namespace {

/// nlohmann JSON -> the equivalent Python objects (dict keeps the document's key order).
py::object to_python(const Json& j) {
    switch (j.type()) {
        case Json::value_t::null: return py::none();
        case Json::value_t::boolean: return py::bool_(j.get<bool>());
        case Json::value_t::number_integer: return py::int_(j.get<int64_t>());
        case Json::value_t::number_unsigned: return py::int_(j.get<uint64_t>());
        case Json::value_t::number_float: return py::float_(j.get<double>());
        case Json::value_t::string: return py::str(j.get_ref<const std::string&>());
        case Json::value_t::array: {
            py::list out;
            for (const Json& item : j) out.append(to_python(item));
            return out;
        }
        case Json::value_t::object: {
            py::dict out;
            for (auto it = j.begin(); it != j.end(); ++it) out[py::str(it.key())] = to_python(it.value());
            return out;
        }
        default: throw std::logic_error("to_python: unexpected JSON value");
    }
}

/// Python objects (as json.loads makes them) -> nlohmann JSON. Rows are flat records, so nesting
/// deeper than kMaxJsonDepth is refused (a cyclic list would otherwise recurse until the
/// interpreter's C stack overflows). The path to the value is kept as handles and only formatted
/// for an error: `summarize(rows[3].sources['nic.0'].window)`.
constexpr size_t kMaxJsonDepth = 64;

class FromPython {
   public:
    /// Values of `function`'s argument `root`: an error names `function(root...)`.
    FromPython(std::string function, std::string root) : function_(std::move(function)), root_(std::move(root)) {}

    Json convert(py::handle o) {
        if (o.is_none()) return nullptr;
        if (py::isinstance<py::bool_>(o)) return o.cast<bool>();
        if (py::isinstance<py::int_>(o)) {
            try {
                if (o.cast<py::int_>() < py::int_(0)) return o.cast<int64_t>();
                return o.cast<uint64_t>();
            } catch (const py::cast_error&) {
                fail(fmt::format("{}: expected an integer from -2**63 to 2**64-1", py::str(o).cast<std::string>()));
            }
        }
        if (py::isinstance<py::float_>(o)) return o.cast<double>();
        if (py::isinstance<py::str>(o)) return o.cast<std::string>();
        bool list = py::isinstance<py::list>(o) || py::isinstance<py::tuple>(o);
        if (!list && !py::isinstance<py::dict>(o))
            fail("expected JSON-like values (dict, list, str, int, float, bool, None)");
        if (path_.size() >= kMaxJsonDepth)
            fail(fmt::format("nesting deeper than {} (a schedule row is a flat record; is a list part of itself?)",
                             kMaxJsonDepth));
        if (list) {
            Json out = Json::array();
            size_t i = 0;
            for (py::handle item : o) {
                path_.push_back({py::handle(), i++});
                out.push_back(convert(item));
                path_.pop_back();
            }
            return out;
        }
        Json out = Json::object();
        for (auto [k, v] : o.cast<py::dict>()) {
            if (!py::isinstance<py::str>(k))
                fail(fmt::format("{}: expected string keys", py::repr(k).cast<std::string>()));
            path_.push_back({k, 0});
            out[k.cast<std::string>()] = convert(v);
            path_.pop_back();
        }
        return out;
    }

   private:
    struct Step {
        py::handle key;  // a dict key (borrowed from the dict being converted), or null for a list index
        size_t index;
    };

    [[noreturn]] void fail(const std::string& message) const {
        std::string place = function_ + "(" + root_;
        for (const Step& s : path_) {
            if (!s.key) {
                place += fmt::format("[{}]", s.index);
                continue;
            }
            std::string k = s.key.cast<std::string>();
            bool identifier = !k.empty() && !std::isdigit(static_cast<unsigned char>(k[0])) &&
                              std::all_of(k.begin(), k.end(), [](char c) {
                                  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                              });
            place += identifier ? "." + k : "[" + py::repr(s.key).cast<std::string>() + "]";
        }
        throw InputError(place + ")", message);
    }

    std::string function_, root_;
    std::vector<Step> path_;
};

std::vector<std::string> arch_list(const Scenario& scenario, const py::object& arch, const Registry& registry,
                                   const std::string& place = "run(arch=...)") {
    if (arch.is_none()) return registry.arches_for(scenario, nullptr, place);
    std::vector<std::string> names;
    if (py::isinstance<py::str>(arch)) {
        names = registry.expand_arch(arch.cast<std::string>(), place);
    } else if (py::isinstance<py::list>(arch) || py::isinstance<py::tuple>(arch)) {
        // Each backend once: ['arm', 'arm'] (or ['both', 'arm']) would run it twice and report it
        // twice, so a name met again is an error naming both entries.
        std::vector<std::string> given;  // the entry each name came from
        size_t i = 0;
        for (py::handle item : arch) {
            if (!py::isinstance<py::str>(item))
                throw InputError(place, "expected a backend name, 'both', or a list of backend names");
            std::string entry = item.cast<std::string>();
            for (std::string& n : registry.expand_arch(entry, place)) {
                auto seen = std::find(names.begin(), names.end(), n);
                if (seen != names.end()) {
                    std::string first = given[static_cast<size_t>(seen - names.begin())];
                    throw InputError(place, fmt::format("'{}' is named twice ({} and arch[{}] '{}'); expected each "
                                                        "backend once ('both' means arm and x86)",
                                                        n, first, i, entry));
                }
                names.push_back(n);
                given.push_back(fmt::format("arch[{}] '{}'", i, entry));
            }
            ++i;
        }
        if (names.empty()) throw InputError(place, "expected at least one backend");
    } else {
        throw InputError(place, "expected a backend name, 'both', or a list of backend names");
    }
    return registry.arches_for(scenario, &names, place);
}

std::vector<PolicySetting> policy_list(const py::object& policy, const std::string& place = "run(policy=...)",
                                       bool sweep = false) {
    std::vector<PolicySetting> out;
    if (policy.is_none()) return out;
    if (!py::isinstance<py::dict>(policy)) throw InputError(place, "expected a dict of {'KEY': 'VALUE'}");
    for (auto [k, v] : policy.cast<py::dict>()) {
        if (!py::isinstance<py::str>(k) || !py::isinstance<py::str>(v))
            throw InputError(place, "expected string keys and values, e.g. {'arm.transfer': 'set_forwarding'}");
        SourceLoc loc{place, 0, 0};
        PolicySetting s{k.cast<std::string>(), v.cast<std::string>(), loc, loc};
        if (!sweep || s.value != "all")
            validate_policy_setting(builtin_backends().policies(), s);  // ExploreSpace checks swept keys
        out.push_back(std::move(s));
    }
    return out;
}

/// An order set name (core/migration.h kOrderSetNames), or InputError at `place`.
std::optional<std::string> checked_order_set(const std::optional<std::string>& name, const std::string& place) {
    if (name && !is_order_set_name(*name))
        throw InputError(place, fmt::format("'{}': expected one of {} or None", *name, fmt::join(kOrderSetNames, ", ")));
    return name;
}

py::object run(const Scenario& scenario, const py::object& arch, const py::object& policy,
               const std::optional<std::string>& order, bool events, const std::optional<std::string>& guest,
               bool trace_guest, const std::optional<std::string>& order_set) {
    const Registry& registry = builtin_backends();
    RunOptions options;
    if (guest) {
        if (*guest == "both")
            options.compare_guests = true;
        else if (!(options.guest = parse_guest_kind(*guest)))
            throw InputError("run(guest=...)", fmt::format("'{}': expected 'abstract', 'unicorn' or 'both'", *guest));
    }
    options.trace_guest = trace_guest;
    options.policy = policy_list(policy);
    options.order = order;
    options.order_place = "run(order=...)";
    options.order_set = checked_order_set(order_set, "run(order_set=...)");
    options.order_set_place = "run(order_set=...)";
    options.record_events = events;
    std::vector<std::string> arches = arch_list(scenario, arch, registry);
    check_guest_override(registry, arches, options.guest, "run(guest=...)", "run(arch=...)");
    Json doc;
    {
        py::gil_scoped_release release;
        doc = to_json(run_scenario(scenario, registry, arches, options));
    }
    return to_python(doc);
}

/// The schedule space of explore(...) / sweep(...) (see irqdiff.explore for the arguments).
struct Space {
    std::shared_ptr<Scenario> scenario;
    std::unique_ptr<ExploreSpace> space;
};

Space make_space(std::shared_ptr<Scenario> scenario, const py::object& arch, const py::object& policy,
                 const std::optional<std::string>& order, const std::optional<std::string>& before,
                 const std::optional<std::string>& order_set) {
    const Registry& registry = builtin_backends();
    ExploreOptions o;
    o.arches = arch_list(*scenario, arch, registry, "explore(arch=...)");
    o.policy = policy_list(policy, "explore(policy=...)", true);
    o.order = order;
    o.order_place = "explore(order=...)";
    o.order_set = checked_order_set(order_set, "explore(order_set=...)");
    o.order_set_place = "explore(order_set=...)";
    if (before) {
        if (*before != kAnyStep)
            throw InputError("explore(before=...)", fmt::format("'{}': expected 'any' or None", *before));
        o.any_arrival = true;
    }
    Space s{scenario, nullptr};
    s.space = std::make_unique<ExploreSpace>(*scenario, registry, std::move(o));
    return s;
}

std::pair<uint64_t, uint64_t> range_of(const ExploreSpace& space, const std::optional<uint64_t>& lo,
                                       const std::optional<uint64_t>& hi) {
    uint64_t a = lo.value_or(0), b = hi.value_or(space.size());
    if (a > b || b > space.size())
        throw InputError(
            "explore(lo=..., hi=...)",
            fmt::format("{}:{}: expected 0 <= lo <= hi <= {} (the number of schedules)", a, b, space.size()));
    return {a, b};
}

py::list backends() {
    py::list out;
    for (const BackendInfo& b : builtin_backends().backends()) {
        const MigrationPlan& p = *b.plan;
        auto names = [](const std::vector<MigrationStep>& steps) {
            py::list l;
            for (const MigrationStep& s : steps)
                l.append(py::dict(py::arg("name") = s.name, py::arg("neutral") = s.neutral, py::arg("doc") = s.doc));
            return l;
        };
        py::list deps;
        for (const Dependency& d : p.dependencies())
            deps.append(py::dict(py::arg("before") = d.before, py::arg("after") = d.after, py::arg("reason") = d.reason,
                                 py::arg("rule") = to_string(d.rule)));
        py::dict sets;
        for (const OrderSet& set : p.order_sets()) {
            py::list l;
            for (uint64_t i = 0; i < set.count() && i < 1000; ++i) {
                py::list names;
                for (uint16_t s : set.at(i)) names.append(p.restore_steps()[s].name);
                l.append(names);
            }
            sets[py::str(set.name())] =
                py::dict(py::arg("doc") = set.doc(), py::arg("count") = set.count(), py::arg("orders") = l);
        }
        py::dict orders;
        for (const auto& [name, order] : p.named_orders()) {
            py::list l;
            for (uint16_t i : order) l.append(p.restore_steps()[i].name);
            orders[py::str(name)] = l;
        }
        out.append(py::dict(py::arg("name") = b.name, py::arg("description") = b.description,
                            py::arg("virtualizing") = b.virtualizing, py::arg("save_steps") = names(p.save_steps()),
                            py::arg("restore_steps") = names(p.restore_steps()), py::arg("dependencies") = deps,
                            py::arg("orders") = orders, py::arg("order_count") = p.count_orders(),
                            py::arg("order_sets") = sets));
    }
    return out;
}

py::list policies() {
    py::list out;
    for (const PolicySpec& p : builtin_backends().policies()) {
        py::list values;
        for (std::string_view v : p.values) values.append(std::string(v));
        out.append(py::dict(py::arg("key") = std::string(p.key), py::arg("arch") = std::string(p.arch),
                            py::arg("values") = values, py::arg("default") = std::string(p.default_value),
                            py::arg("doc") = std::string(p.doc), py::arg("ref") = std::string(p.ref)));
    }
    return out;
}

py::list events() {
    py::list out;
    auto add = [&](const std::string& declared_by, TracePointList points) {
        for (const TracePointInfo* e : points) {
            py::list args;
            for (const ArgSpec& a : e->args)
                args.append(py::dict(py::arg("key") = std::string(a.key), py::arg("type") = to_string(a.type)));
            out.append(py::dict(py::arg("op") = std::string(e->op), py::arg("layer") = to_string(e->layer),
                                py::arg("kind") = to_string(e->kind), py::arg("args") = args,
                                py::arg("doc") = std::string(e->doc), py::arg("source") = std::string(e->source),
                                py::arg("declared_by") = declared_by));
        }
    };
    add("core", tp::core_trace_points());
    for (const BackendInfo& b : builtin_backends().backends()) add(b.name, b.events);
    return out;
}


// ---- machine mode (irqdiff.Machine; docs/machine.md "Python") ------------------------------------

/// Bytes from a path (str / os.PathLike) or a bytes-like object.
std::vector<uint8_t> image_bytes(const py::object& o, const std::string& place, uint64_t max) {
    if (py::isinstance<py::bytes>(o) || py::isinstance<py::bytearray>(o)) {
        std::string b = o.cast<std::string>();
        if (b.size() > max) throw InputError(place, fmt::format("{} bytes (at most {})", b.size(), max));
        return std::vector<uint8_t>(b.begin(), b.end());
    }
    py::object fspath = py::module_::import("os").attr("fspath");
    std::string path;
    try {
        path = fspath(o).cast<std::string>();
    } catch (const py::error_already_set&) {
        throw InputError(place, "expected a file path or bytes");
    }
    return arm::machine::read_image_file(path, place, max);
}

/// The arm catalogue's settings from a {'KEY': 'VALUE'} dict.
std::vector<PolicySetting> arm_policy_list(const py::object& policy, const std::string& place) {
    std::vector<PolicySetting> out;
    if (policy.is_none()) return out;
    if (!py::isinstance<py::dict>(policy)) throw InputError(place, "expected a dict of {'KEY': 'VALUE'}");
    const std::vector<PolicySpec> catalogue = arm::arm_policies();
    for (auto [k, v] : policy.cast<py::dict>()) {
        if (!py::isinstance<py::str>(k) || !py::isinstance<py::str>(v))
            throw InputError(place, "expected string keys and values, e.g. {'arm.transfer': 'set_forwarding'}");
        SourceLoc loc{place, 0, 0};
        PolicySetting s{k.cast<std::string>(), v.cast<std::string>(), loc, loc};
        validate_policy_setting(catalogue, s);
        out.push_back(std::move(s));
    }
    return out;
}

/// irqdiff.Machine's compiled half: a Session with Python arguments.
class PyMachine {
   public:
    PyMachine(const py::object& image, const py::object& restore, uint32_t smp, const std::string& mem,
              const std::string& append, const py::object& assign, const py::object& policy,
              const py::object& dest_policy, const std::string& order, const py::object& migrate_on,
              const py::object& migrate_at_insns, uint64_t max_insns, const std::string& input, const std::string& key,
              bool trace, const py::object& stream, const std::string& psci, bool record_log) {
        namespace am = arm::machine;
        am::SessionConfig c;
        c.board.smp = smp;
        c.board.mem = am::parse_mem_size(mem, "Machine(mem=...)");
        c.board.append = append;
        c.board.max_insns = max_insns;
        c.board.input = input;
        c.board.trace = trace;
        c.board.record_log = record_log;
        if (psci != "hvc" && psci != "smc") throw InputError("Machine(psci=...)", fmt::format("'{}': expected hvc or smc", psci));
        c.board.psci = psci == "smc" ? am::PsciConduit::Smc : am::PsciConduit::Hvc;
        std::vector<std::string> items;
        if (py::isinstance<py::str>(assign)) {
            items.push_back(assign.cast<std::string>());
        } else if (!assign.is_none()) {
            for (py::handle h : assign) {
                if (py::isinstance<py::int_>(h))
                    items.push_back(std::to_string(h.cast<int64_t>()));
                else if (py::isinstance<py::str>(h))
                    items.push_back(h.cast<std::string>());
                else
                    throw InputError("Machine(assign=...)", "expected DeviceIDs (int), 'DEVID:EVENTS' strings or 'all'");
            }
        }
        c.board.assign = am::parse_assignments(items, "Machine(assign=...)");
        c.board.migrate_on = migrate_on.is_none() ? std::string() : migrate_on.cast<std::string>();
        if (!migrate_at_insns.is_none()) c.board.migrate_at_insns = migrate_at_insns.cast<uint64_t>();
        c.migrate.policy = arm_policy_list(policy, "Machine(policy=...)");
        c.migrate.dest_policy = arm_policy_list(dest_policy, "Machine(dest_policy=...)");
        c.migrate.order = am::parse_order(order, "Machine(order=...)");
        c.migrate.key = key;
        if (!stream.is_none()) c.migrate.stream_path = py::module_::import("os").attr("fspath")(stream).cast<std::string>();
        if (image.is_none() == restore.is_none())
            throw InputError("Machine(image=...)", "give either an image to boot or restore= a migration stream");
        if (!restore.is_none()) {
            const std::vector<uint8_t> bytes = image_bytes(restore, "Machine(restore=...)", uint64_t{8} << 30);
            session_ = std::make_unique<am::Session>(c, std::span<const uint8_t>(bytes));
        } else {
            session_ = std::make_unique<am::Session>(c, image_bytes(image, "Machine(image=...)", c.board.mem));
        }
    }
    py::object run(const py::object& insns) {
        std::optional<uint64_t> n;
        if (!insns.is_none()) n = insns.cast<uint64_t>();
        {
            py::gil_scoped_release unlocked;
            session_->run(n);
        }
        return result();
    }
    py::object migrate() {
        const arm::machine::MigrationReport* r = nullptr;
        {
            py::gil_scoped_release unlocked;
            r = &session_->migrate();
        }
        (void)r;
        Json doc = session_->to_json();
        return to_python(doc["migrations"].back());
    }
    py::object result() const { return to_python(session_->to_json()); }
    std::string uart() const { return session_->board_if() ? session_->board_if()->uart().tx() : session_->last().uart; }
    std::string stop_reason() const { return arm::machine::to_string(session_->last().exit); }
    py::object trace() const { return to_python(session_->chrome_trace()); }
    std::string log() const { return session_->log_text(); }
    py::bytes dtb() const {
        const auto* b = session_->board_if();
        if (!b) return py::bytes();
        const std::vector<uint8_t>& d = b->dtb();
        return py::bytes(reinterpret_cast<const char*>(d.data()), d.size());
    }

   private:
    std::unique_ptr<arm::machine::Session> session_;
};

}  // namespace
}  // namespace irqdiff

PYBIND11_MODULE(_core, m) {
    using namespace irqdiff;
    m.doc() = "irqdiff's compiled core; use the public package `irqdiff`.";

    // Classes first, so every signature below shows Python names.
    py::register_exception<InputError>(m, "ScenarioError", PyExc_ValueError);
    py::class_<PyMachine>(m, "Machine", "A machine-mode VM (use irqdiff.Machine).")
        .def(py::init<const py::object&, const py::object&, uint32_t, const std::string&, const std::string&,
                      const py::object&, const py::object&, const py::object&, const std::string&, const py::object&,
                      const py::object&, uint64_t, const std::string&, const std::string&, bool, const py::object&,
                      const std::string&, bool>(),
             py::arg("image") = py::none(), py::kw_only(), py::arg("restore") = py::none(), py::arg("smp") = 1,
             py::arg("mem") = "128M", py::arg("append") = "", py::arg("assign") = py::none(),
             py::arg("policy") = py::none(), py::arg("dest_policy") = py::none(), py::arg("order") = "qemu",
             py::arg("migrate_on") = "Now migrate the VM, then press a key to continue...",
             py::arg("migrate_at_insns") = py::none(), py::arg("max_insns") = 1'000'000'000, py::arg("input") = "",
             py::arg("key") = "\n", py::arg("trace") = false, py::arg("stream") = py::none(), py::arg("psci") = "hvc",
             py::arg("record_log") = false)
        .def("run", &PyMachine::run, py::arg("insns") = py::none())
        .def("migrate", &PyMachine::migrate)
        .def_property_readonly("result", &PyMachine::result)
        .def_property_readonly("uart", &PyMachine::uart)
        .def_property_readonly("stop_reason", &PyMachine::stop_reason)
        .def_property_readonly("dtb", &PyMachine::dtb)
        .def("trace", &PyMachine::trace)
        .def("log", &PyMachine::log);
    py::class_<Scenario, std::shared_ptr<Scenario>> scenario(m, "Scenario", R"doc(
A validated scenario (format v1, see scenarios/README.md).

>>> s = Scenario.from_yaml("name: t\nvm: {vcpus: 1}\ndevices: [{name: nic, vectors: 1}]\n"
...                        "routes: [{source: nic.0, vcpu: 0}]\nsteps: [{fire: nic.0}, {run: all}]\n")
>>> s.name, s.vcpus, s.sources
('t', 1, ['nic.0'])
)doc");

    scenario
        .def_static(
            "from_yaml",
            [](const std::string& text, const std::string& filename) {
                return std::make_shared<Scenario>(parse_scenario(text, builtin_backends().catalogue(), filename));
            },
            py::arg("text"), py::arg("filename") = "<string>",
            "Parses scenario text; errors raise ScenarioError('FILENAME:LINE:COL: ...').")
        .def_static(
            "load",
            [](const std::string& path) {
                return std::make_shared<Scenario>(load_scenario(path, builtin_backends().catalogue()));
            },
            py::arg("path"), "Loads a scenario file; errors raise ScenarioError('FILE:LINE:COL: ...').")
        .def_property_readonly("name", [](const Scenario& s) { return s.name; })
        .def_property_readonly("description", [](const Scenario& s) { return s.description; })
        .def_property_readonly("file", [](const Scenario& s) { return s.file; })
        .def_property_readonly("text", [](const Scenario& s) { return s.text; })
        .def_property_readonly("vcpus", [](const Scenario& s) { return s.vcpus; })
        .def_property_readonly(
            "arch", [](const Scenario& s) { return s.arches; },
            "The backends the scenario's `arch` key names, in its order ([] without the key: every backend).")
        .def_property_readonly(
            "sources",
            [](const Scenario& s) {
                std::vector<std::string> names;
                for (const Source& src : s.sources) names.push_back(src.name);
                return names;
            },
            "Every interrupt source, DEVICE.VECTOR, in device order.")
        .def_property_readonly(
            "devices",
            [](const Scenario& s) {
                py::list out;
                for (const Device& d : s.devices)
                    out.append(py::dict(py::arg("name") = d.name, py::arg("kind") = to_string(d.kind),
                                        py::arg("vectors") = d.vectors, py::arg("passthrough") = d.passthrough));
                return out;
            })
        .def_property_readonly(
            "routes",
            [](const Scenario& s) {
                py::dict out;
                for (const Source& src : s.sources)
                    if (src.vcpu) out[py::str(src.name)] = *src.vcpu;
                return out;
            },
            "{source: vcpu} for every routed source.")
        .def_property_readonly("policy",
                               [](const Scenario& s) {
                                   py::dict out;
                                   for (const PolicySetting& p : s.policy) out[py::str(p.key)] = p.value;
                                   return out;
                               })
        .def_property_readonly(
            "steps",
            [](const Scenario& s) {
                std::vector<std::string> kinds;
                for (const Step& st : s.steps) kinds.push_back(to_string(st.kind));
                return kinds;
            },
            "The kind of each step, in order.")
        .def_property_readonly("expect",
                               [](const Scenario& s) {
                                   py::dict out;
                                   for (const Expectation& x : s.expect)
                                       out[py::str(x.source ? s.sources[*x.source].name : "all")] =
                                           to_string(x.outcome);
                                   return out;
                               })
        .def("__repr__", [](const Scenario& s) {
            return "<irqdiff.Scenario " + s.name + " (" + std::to_string(s.sources.size()) + " sources, " +
                   std::to_string(s.steps.size()) + " steps)>";
        });

    m.def("run", &run, py::arg("scenario"), py::arg("arch") = py::none(), py::arg("policy") = py::none(),
          py::arg("order") = py::none(), py::arg("events") = true, py::arg("guest") = py::none(),
          py::arg("trace_guest") = false, py::arg("order_set") = py::none(), "Runs a scenario; returns the result document as a dict (see irqdiff.run).");
    m.def(
        "explore",
        [](std::shared_ptr<Scenario> scenario, const py::object& arch, const py::object& policy,
           const std::optional<std::string>& order, const std::optional<std::string>& before,
           const std::optional<uint64_t>& lo, const std::optional<uint64_t>& hi, bool traces,
           const std::optional<std::string>& order_set) {
            Space s = make_space(scenario, arch, policy, order, before, order_set);
            auto [a, b] = range_of(*s.space, lo, hi);
            Json doc;
            {
                py::gil_scoped_release release;
                doc = to_json(*s.space, summarize(*s.space, s.space->explore(a, b), a, b, traces));
            }
            return to_python(doc);
        },
        py::arg("scenario"), py::arg("arch") = py::none(), py::arg("policy") = py::none(),
        py::arg("order") = py::none(), py::arg("before") = py::none(), py::arg("lo") = py::none(),
        py::arg("hi") = py::none(), py::arg("traces") = true, py::arg("order_set") = py::none(),
        "Explores schedules [lo, hi); returns the exploration document as a dict (see irqdiff.explore).");
    m.def(
        "explore_size",
        [](std::shared_ptr<Scenario> scenario, const py::object& arch, const py::object& policy,
           const std::optional<std::string>& order, const std::optional<std::string>& before,
           const std::optional<std::string>& order_set) {
            return make_space(scenario, arch, policy, order, before, order_set).space->size();
        },
        py::arg("scenario"), py::arg("arch") = py::none(), py::arg("policy") = py::none(),
        py::arg("order") = py::none(), py::arg("before") = py::none(), py::arg("order_set") = py::none(),
        "The number of schedules of an exploration.");
    m.def(
        "explore_rows",
        [](std::shared_ptr<Scenario> scenario, const py::object& arch, const py::object& policy,
           const std::optional<std::string>& order, const std::optional<std::string>& before, uint64_t lo,
           uint64_t hi, const std::optional<std::string>& order_set) {
            Space s = make_space(scenario, arch, policy, order, before, order_set);
            auto [a, b] = range_of(*s.space, lo, hi);
            Json rows = Json::array();
            {
                py::gil_scoped_release release;
                for (const ScheduleRow& r : s.space->explore(a, b)) rows.push_back(row_to_json(*s.space, r));
            }
            return to_python(rows);
        },
        py::arg("scenario"), py::arg("arch"), py::arg("policy"), py::arg("order"), py::arg("before"), py::arg("lo"),
        py::arg("hi"), py::arg("order_set") = py::none(), "The matrix rows of schedules [lo, hi) (one chunk of a sweep).");
    m.def(
        "summarize",
        [](std::shared_ptr<Scenario> scenario, const py::object& arch, const py::object& policy,
           const std::optional<std::string>& order, const std::optional<std::string>& before, const py::list& rows,
           uint64_t lo, uint64_t hi, bool traces, const std::optional<std::string>& order_set) {
            Space s = make_space(scenario, arch, policy, order, before, order_set);
            auto [a, b] = range_of(*s.space, lo, hi);
            std::vector<ScheduleRow> parsed;
            for (size_t i = 0; i < rows.size(); ++i) {
                std::string place = fmt::format("summarize(rows[{}])", i);
                Json row = FromPython("summarize", fmt::format("rows[{}]", i)).convert(rows[i]);
                parsed.push_back(row_from_json(*s.space, row, place));
                // Repeats are fine (a resumed sweep may run a chunk twice); rows outside the range
                // summarized would be counted in a document that claims [lo, hi).
                if (uint64_t index = parsed.back().index; index < a || index >= b)
                    throw InputError(place, fmt::format("index {}: expected a schedule in [{}, {}) (summarize(lo=..., "
                                                        "hi=...))",
                                                        index, a, b));
            }
            Json doc;
            {
                py::gil_scoped_release release;
                doc = to_json(*s.space, summarize(*s.space, std::move(parsed), a, b, traces));
            }
            return to_python(doc);
        },
        py::arg("scenario"), py::arg("arch"), py::arg("policy"), py::arg("order"), py::arg("before"), py::arg("rows"),
        py::arg("lo"), py::arg("hi"), py::arg("traces") = true, py::arg("order_set") = py::none(),
        "Merges matrix rows (of chunks, in any order, repeats allowed) into an exploration document. Each row is\n"
        "what explore_rows gives: counts are ints from 0 (not bools, floats or NaN), the index inside [lo, hi),\n"
        "nesting at most 64 deep; anything else is a ScenarioError naming summarize(rows[I]...).");
    m.def("backends", &backends, "The backends in this build, with their migration plans.");
    m.def("policies", &policies, "The policy catalogue.");
    m.def("events", &events, "The event catalogue: every declared event, core's then each backend's.");
    m.def("version", &version_line, "irqdiff's version line, with the Unicorn and Capstone versions.");
    m.attr("__version__") = library_versions().irqdiff;
}
