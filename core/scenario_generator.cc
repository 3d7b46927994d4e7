#include "core/scenario_generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "core/errors.h"
#include "core/migration.h"

namespace irqdiff {

uint32_t ByteChoices::below(uint32_t n) {
    if (n <= 1) return 0;
    const size_t width = n <= 256 ? 1 : n <= 65536 ? 2 : 4;
    uint32_t v = 0;
    for (size_t i = 0; i < width; ++i) v = (v << 8) | (at_ < bytes_.size() ? bytes_[at_++] : 0);
    return v % n;
}

namespace {

struct Source {
    std::string name;
    DeviceKind kind = DeviceKind::Msi;
    bool passthrough = false;
    uint32_t vcpu = 0;
    bool unassigned = false, unrouted = false;
};

class Generator {
   public:
    Generator(Choices& c, const Registry& registry, const GeneratorOptions& o) : c_(c), registry_(registry), o_(o) {}

    GeneratedScenario run(const std::string& name) {
        choose_arches();
        const uint32_t vcpus = 1 + c_.below(std::max(1u, o_.max_vcpus));
        vcpus_ = vcpus;
        y_ = fmt::format("name: {}\ndescription: generated scenario (irqdiff generate)\n", name);
        if (arch_key_) y_ += fmt::format("arch: {}\n", *arch_key_);
        y_ += fmt::format("vm: {{vcpus: {}}}\n", vcpus);
        devices();
        routes();
        policy();
        steps();
        GeneratedScenario out;
        out.yaml = std::move(y_);
        out.arches = arches_;
        // The reference runs every scenario but one that names a backend's own sub-steps (it
        // knows the neutral steps only).
        if (!substeps_) out.arches.push_back("ideal");
        return out;
    }

   private:
    Choices& c_;
    const Registry& registry_;
    const GeneratorOptions& o_;
    std::string y_;
    std::optional<std::string> arch_key_;
    std::vector<std::string> arches_;  // the virtualizing backends it runs on
    std::vector<const MigrationPlan*> plans_;
    uint32_t vcpus_ = 1;
    bool ipi_ = false;        // an IPI device was written
    bool own_steps_ = false;  // migrations name the backend's own sub-steps and orders (one backend)
    bool substeps_ = false;   // and some were written
    std::vector<Source> sources_;
    std::vector<bool> masked_;

    bool only(std::string_view arch) const { return arches_.size() == 1 && arches_[0] == arch; }
    template <class T>
    const T& pick(const std::vector<T>& v) {
        return v[c_.below(static_cast<uint32_t>(v.size()))];
    }

    void choose_arches() {
        std::vector<std::string> all;
        for (const BackendInfo& b : registry_.backends())
            if (b.virtualizing) all.push_back(b.name);
        // Half the scenarios run on every backend (neutral vocabulary only), the rest on one,
        // which lets them use that backend's own steps and vocabulary.
        if (all.size() > 1 && !c_.one_in(2)) {
            arches_ = {all[c_.below(static_cast<uint32_t>(all.size()))]};
            arch_key_ = arches_[0];
            own_steps_ = !c_.one_in(3);
        } else {
            arches_ = all;
        }
        for (const std::string& a : arches_) plans_.push_back(registry_.find(a)->plan.get());
        if (plans_.empty()) plans_.push_back(registry_.find("ideal")->plan.get());
    }

    void devices() {
        const uint32_t n = 1 + c_.below(std::max(1u, o_.max_devices));
        std::vector<bool> timer_on(vcpus_, false);
        y_ += "devices:\n";
        for (uint32_t d = 0; d < n; ++d) {
            const std::string dev = fmt::format("d{}", d);
            uint32_t kind = c_.below(8);  // 0..5 MSI, 6 timer, 7 IPI
            if (kind == 6 && !only("x86")) kind = 0;
            // One IPI device at most: two with the same IPI number to one vCPU are one ARM SGI,
            // which the arm backend refuses.
            if (kind == 7 && (o_.unicorn_compatible || vcpus_ < 2 || ipi_)) kind = 0;
            if (kind == 6) {
                uint32_t v = c_.below(vcpus_);
                if (timer_on[v]) {
                    kind = 0;
                } else {
                    timer_on[v] = true;
                    const bool deadline = !o_.unicorn_compatible && c_.one_in(2);
                    y_ += fmt::format("  - {{name: {}, kind: timer{}}}\n", dev, deadline ? ", timer_mode: tsc-deadline" : "");
                    sources_.push_back(Source{dev + ".0", DeviceKind::Timer, false, v});
                    continue;
                }
            }
            if (kind == 7) {
                ipi_ = true;
                const uint32_t from = c_.below(vcpus_);
                const uint32_t k = 1 + c_.below(std::min(4u, std::max(1u, o_.max_vectors)));
                y_ += fmt::format("  - {{name: {}, kind: ipi, vectors: {}, from: {}}}\n", dev, k, from);
                for (uint32_t i = 0; i < k; ++i) {
                    uint32_t to = c_.below(vcpus_ - 1);
                    if (to >= from) ++to;  // never the sender itself
                    sources_.push_back(Source{fmt::format("{}.{}", dev, i), DeviceKind::Ipi, false, to});
                }
                continue;
            }
            const uint32_t vectors = 1 + c_.below(std::max(1u, o_.max_vectors));
            const bool pt = !c_.one_in(3);
            std::string extra;
            if (c_.one_in(5)) extra += ", delivery: at-least-once";
            if (!pt && c_.one_in(4)) extra += ", stops_at: copy_memory";
            y_ += fmt::format("  - {{name: {}, vectors: {}, passthrough: {}{}}}\n", dev, vectors, pt ? "true" : "false",
                              extra);
            for (uint32_t v = 0; v < vectors; ++v)
                sources_.push_back(Source{fmt::format("{}.{}", dev, v), DeviceKind::Msi, pt, c_.below(vcpus_)});
        }
    }

    bool nmi_allowed() const { return only("x86") && !o_.unicorn_compatible; }

    void routes() {
        y_ += "routes:\n";
        for (const Source& s : sources_) {
            const bool nmi = s.kind == DeviceKind::Msi && nmi_allowed() && c_.one_in(4);
            y_ += fmt::format("  - {{source: {}, vcpu: {}{}}}\n", s.name, s.vcpu, nmi ? ", nmi: true" : "");
        }
    }

    void policy() {
        if (!c_.one_in(2)) return;
        std::vector<const PolicySpec*> keys;
        for (const PolicySpec& p : registry_.policies())
            if (std::find(arches_.begin(), arches_.end(), std::string(p.arch)) != arches_.end()) keys.push_back(&p);
        if (keys.empty()) return;
        std::vector<const PolicySpec*> chosen;
        const uint32_t n = 1 + c_.below(3);
        for (uint32_t i = 0; i < n; ++i) {
            const PolicySpec* p = pick(keys);
            if (std::find(chosen.begin(), chosen.end(), p) == chosen.end()) chosen.push_back(p);
        }
        std::vector<std::string> parts;
        for (const PolicySpec* p : chosen)
            parts.push_back(fmt::format("{}: {}", p->key, p->values[c_.below(static_cast<uint32_t>(p->values.size()))]));
        y_ += fmt::format("policy: {{{}}}\n", fmt::join(parts, ", "));
    }

    std::vector<size_t> of_kind(std::initializer_list<DeviceKind> kinds, bool passthrough_only = false) const {
        std::vector<size_t> out;
        for (size_t i = 0; i < sources_.size(); ++i)
            if (std::find(kinds.begin(), kinds.end(), sources_[i].kind) != kinds.end() &&
                (!passthrough_only || sources_[i].passthrough))
                out.push_back(i);
        return out;
    }

    void steps() {
        masked_.assign(vcpus_, false);
        y_ += "steps:\n  - run: all\n";
        uint32_t migrations = 0;
        const uint32_t n = c_.below(o_.max_steps + 1);
        for (uint32_t i = 0; i < n; ++i) {
            switch (c_.below(14)) {
                case 0:
                case 1:
                case 2: y_ += fmt::format("  - fire: {}\n", sources_[c_.below(static_cast<uint32_t>(sources_.size()))].name); break;
                case 3: y_ += "  - run: all\n"; break;
                case 4: y_ += fmt::format("  - run: {{vcpu: {}}}\n", c_.below(vcpus_)); break;
                case 5: {
                    const uint32_t v = c_.below(vcpus_);
                    y_ += fmt::format("  - {}: {{vcpu: {}}}\n", masked_[v] ? "unmask" : "mask", v);
                    masked_[v] = !masked_[v];
                    break;
                }
                case 6: y_ += fmt::format("  - {}: {{vcpu: {}}}\n", c_.one_in(2) ? "block" : "preempt", c_.below(vcpus_)); break;
                case 7: retarget(); break;
                case 8: teardown(); break;
                case 9:
                    if (only("arm")) y_ += fmt::format("  - toggle_lpis: {{vcpu: {}}}\n", c_.below(vcpus_));
                    break;
                default:
                    if (migrations < o_.max_migrations) {
                        ++migrations;
                        migrate();
                    }
                    break;
            }
        }
        for (uint32_t v = 0; v < vcpus_; ++v)
            if (masked_[v]) y_ += fmt::format("  - unmask: {{vcpu: {}}}\n", v);
        y_ += "  - run: all\n";
    }

    void retarget() {
        std::vector<size_t> msi = of_kind({DeviceKind::Msi});
        if (msi.empty() || vcpus_ < 2) return;
        Source& s = sources_[pick(msi)];
        uint32_t to = c_.below(vcpus_ - 1);
        if (to >= s.vcpu) ++to;
        s.vcpu = to;
        std::string nmi;
        if (nmi_allowed()) nmi = c_.one_in(4) ? ", nmi: true" : ", nmi: false";  // only x86 takes the key
        y_ += fmt::format("  - retarget: {{source: {}, vcpu: {}{}}}\n", s.name, to, nmi);
    }

    void teardown() {
        std::vector<size_t> msi = of_kind({DeviceKind::Msi});
        if (msi.empty()) return;
        Source& s = sources_[pick(msi)];
        if (c_.one_in(2)) {
            y_ += fmt::format("  - {}: {{source: {}}}\n", s.unassigned ? "assign" : "unassign", s.name);
            s.unassigned = !s.unassigned;
        } else {
            y_ += fmt::format("  - {}: {{source: {}}}\n", s.unrouted ? "reroute" : "unroute", s.name);
            s.unrouted = !s.unrouted;
        }
    }

    /// The restore steps every plan of the scenario knows, as the scenario may name them: the
    /// backend's own sub-steps when it runs on one, the neutral steps otherwise.
    std::vector<std::string> step_names(Side side) const {
        std::vector<std::string> out;
        if (own_steps_) {
            for (const MigrationStep& s : side == Side::Save ? plans_[0]->save_steps() : plans_[0]->restore_steps())
                out.push_back(s.name);
        } else {
            for (const NeutralStep& n : neutral_steps())
                if (n.side == side) out.emplace_back(n.name);
        }
        return out;
    }

    /// A restore order: QEMU's, another of the backend's named orders, or a random order of the
    /// `data` set (as step names); written only if every plan of the scenario resolves it.
    std::optional<std::string> order() {
        switch (c_.below(4)) {
            case 0: return std::nullopt;  // the default, qemu
            case 1:
                if (own_steps_) {
                    const auto& named = plans_[0]->named_orders();
                    return named[c_.below(static_cast<uint32_t>(named.size()))].first;
                }
                return std::string("qemu");
            default: {
                // A random order of the first plan's data set, in the names the scenario uses.
                std::vector<std::string> names;
                if (own_steps_) {
                    const MigrationPlan& p = *plans_[0];
                    const uint64_t count = p.count_orders();
                    const RestoreOrder o = p.order_at(count <= 1 ? 0 : c_.below(static_cast<uint32_t>(std::min<uint64_t>(count, 1u << 30))));
                    for (uint16_t i : o) names.push_back(p.restore_steps()[i].name);
                } else {
                    names = step_names(Side::Restore);
                    for (size_t i = names.size(); i > 1; --i) std::swap(names[i - 1], names[c_.below(static_cast<uint32_t>(i))]);
                }
                OrderSpec spec;
                spec.kind = OrderSpec::Kind::Explicit;
                spec.steps = names;
                spec.step_locs.assign(names.size(), SourceLoc{});
                for (const MigrationPlan* p : plans_) {
                    try {
                        (void)p->resolve(spec, "generator");
                    } catch (const InputError&) {
                        return std::nullopt;  // that permutation breaks a dependency somewhere: qemu
                    }
                }
                return fmt::format("[{}]", fmt::join(names, ", "));
            }
        }
    }

    void migrate() {
        substeps_ = substeps_ || own_steps_;
        const std::vector<std::string> save = step_names(Side::Save);
        const std::vector<std::string> restore = step_names(Side::Restore);
        const uint32_t kind = c_.below(6);  // 0..3 live, 4 cancelled, 5 cpr
        std::vector<std::string> points;
        y_ += "  - migrate:\n";
        if (kind == 4) {
            // Any save step but the last (the switch-over).
            const size_t at = c_.below(static_cast<uint32_t>(save.size() - 1));
            y_ += fmt::format("      cancel_after: {}\n", save[at]);
            points.assign(save.begin(), save.begin() + static_cast<std::ptrdiff_t>(at) + 1);
        } else {
            if (kind == 5) y_ += "      kind: cpr\n";
            if (std::optional<std::string> o = order()) y_ += fmt::format("      order: {}\n", *o);
            points = save;
            points.insert(points.end(), restore.begin(), restore.end());
        }
        const uint32_t fires = c_.below(4);
        if (fires == 0) return;
        y_ += "      fire:\n";
        for (uint32_t f = 0; f < fires; ++f)
            y_ += fmt::format("        - {{source: {}, before: {}}}\n",
                              sources_[c_.below(static_cast<uint32_t>(sources_.size()))].name, pick(points));
    }
};

}  // namespace

GeneratedScenario generate_scenario(Choices& choices, const Registry& registry, const std::string& name,
                                    const GeneratorOptions& options) {
    return Generator(choices, registry, options).run(name);
}

}  // namespace irqdiff
