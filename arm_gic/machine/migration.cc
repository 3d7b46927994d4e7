#include "arm_gic/machine/migration.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "arm_gic/backend.h"
#include "arm_gic/kvm/transfer.h"
#include "arm_gic/machine.h"
#include "arm_gic/machine/memory_map.h"
#include "arm_gic/machine/vits_mmio.h"
#include "arm_gic/places.h"
#include "arm_gic/policies.h"
#include "core/errors.h"

namespace irqdiff::arm::machine {

namespace {

constexpr uint32_t kNrSpis = 64;  // the board's GicV3Config (kvm_gic.cc)

PolicyValues resolve(std::span<const PolicySetting> a, std::span<const PolicySetting> b) {
    const std::vector<PolicySpec> catalogue = arm_policies();
    std::vector<PolicySetting> all(a.begin(), a.end());
    all.insert(all.end(), b.begin(), b.end());
    return resolve_policy(catalogue, {}, all);
}

/// The guest pending table of vCPU v's redistributor in guest memory (GICR_PENDBASER [51:16]),
/// or nullopt while LPIs are off.
std::optional<uint64_t> pending_table(const Machine& m, uint32_t v) {
    const kvm::VgicCpu& c = m.vgic.cpus.at(v);
    if (!c.pendbaser) return std::nullopt;
    return c.pendbaser & 0x000F'FFFF'FFFF'0000ull;
}

/// Every place that holds LPI `intid` of vCPU `v` now (the scenario places, docs/arm_kvm_model.md).
std::vector<Location> where_lpi(const Machine& m, uint32_t v, uint32_t intid) {
    std::vector<Location> out;
    m.gic.where_vlpi(v, intid, out);
    auto it = m.vgic.lpis.find(intid);
    if (it != m.vgic.lpis.end() && it->second.pending_latch && it->second.target_vcpu == v) {
        const kvm::VgicIrq& irq = it->second;
        const bool live = !irq.hw && irq.enabled && m.vgic.cpus.at(v).enable_lpis;
        out.push_back({&places::kPendingLatch, v, live});
    }
    if (std::optional<uint64_t> t = pending_table(m, v))
        if ((m.mem.guest.read8(*t + intid / 8).value >> (intid % 8)) & 1)
            out.push_back({&places::kGuestPendingTable, v, false});
    return out;
}

/// The LPIs worth reporting now: KVM's LPIs and every bit set in a guest pending table.
std::set<std::pair<uint32_t, uint32_t>> candidates(const Machine& m) {
    std::set<std::pair<uint32_t, uint32_t>> out;
    for (const auto& [intid, irq] : m.vgic.lpis) {
        if (irq.target_vcpu < m.vgic.cpus.size()) out.insert({irq.target_vcpu, intid});
        for (uint32_t v = 0; v < m.vgic.cpus.size(); ++v) out.insert({v, intid});  // the VPT of any vPE
    }
    for (uint32_t v = 0; v < m.vgic.cpus.size(); ++v) {
        std::optional<uint64_t> t = pending_table(m, v);
        if (!t) continue;
        // 16 ID bits (GICD_TYPER.IDbits of KVM's vgic): 8 KiB, LPIs from 8192.
        for (uint32_t byte = 8192 / 8; byte < 65536 / 8; ++byte) {
            const uint8_t bits = m.mem.guest.read8(*t + byte).value;
            for (unsigned b = 0; b < 8; ++b)
                if ((bits >> b) & 1) out.insert({v, byte * 8 + b});
        }
    }
    return out;
}

class Recorder {
   public:
    explicit Recorder(MigrationReport& r) : r_(r) {}
    void step(const std::string& name, const Machine* m) {
        r_.steps.push_back(name);
        const size_t i = r_.steps.size() - 1;
        if (!m) return;
        for (const auto& [v, intid] : candidates(*m)) {
            const std::vector<Location> where = where_lpi(*m, v, intid);
            if (where.empty()) continue;
            std::string text;
            for (const Location& l : where) {
                if (!text.empty()) text += ',';
                text += to_string(l, {});
            }
            std::vector<std::string>& row = rows_[{v, intid}];
            row.resize(i + 1);
            row[i] = text;
        }
    }
    void finish() {
        r_.lpis.clear();
        for (auto& [key, row] : rows_) {
            row.resize(r_.steps.size());
            r_.lpis.push_back(LpiTrace{key.first, key.second, row});
        }
    }

   private:
    MigrationReport& r_;
    std::map<std::pair<uint32_t, uint32_t>, std::vector<std::string>> rows_;
};

}  // namespace

std::vector<uint8_t> save_machine(Board& src, const MigrateOptions& o, MigrationReport& report) {
    KvmGic* gic = src.kvm_gic();
    if (!gic) throw InputError("migrate", "the board has no KVM GIC (GicModel::None): nothing to migrate the GIC with");
    const PolicyValues policy = resolve(o.policy, {});
    report.source_policy = policy.to_string();
    const std::vector<std::pair<uint32_t, uint32_t>> devices = gic->gic().assigned_devices();
    const std::vector<GicV3::CpuIfExtra> extra = gic->gic().cpuif_extra();

    Recorder rec(report);
    std::unique_ptr<LiveMigration> live =
        make_live_migration({src.vcpus(), kNrSpis, devices}, policy, src.log(), gic->gic().release_machine());
    rec.step("running", &live->active());
    const auto& save = live->plan().save_steps();
    for (uint16_t i = 0; i < save.size(); ++i) {
        live->save_step(i);
        rec.step("save:" + save[i].name, &live->active());
        if (live->vm_gone()) {
            report.vm_gone = true;
            rec.finish();
            return {};
        }
    }

    ByteWriter w;
    for (int i = 0; i < 8; ++i) w.u8(static_cast<uint8_t>(kStreamMagic[i]));
    w.u32(kStreamVersion);
    size_t at = w.begin_section("MACH");
    w.u32(kNrSpis);
    w.u32(static_cast<uint32_t>(devices.size()));
    for (const auto& [devid, events] : devices) w.u32(devid), w.u32(events);
    w.u32(static_cast<uint32_t>(extra.size()));
    for (const GicV3::CpuIfExtra& e : extra) w.u8(e.bpr1), w.u8(e.eoimode);
    w.str(report.source_policy);
    w.end_section(at);
    src.write_state(w);
    live->write_stream(w);  // GIC_, DEVS; the source machine is destroyed
    at = w.begin_section("END_");
    w.end_section(at);
    rec.finish();
    report.stream_bytes = w.data().size();
    return w.take();
}

std::unique_ptr<Board> restore_machine(BoardConfig config, std::span<const uint8_t> stream, const MigrateOptions& o,
                                       MigrationReport& report) {
    ByteReader in(stream, "--restore");
    for (int i = 0; i < 8; ++i)
        if (in.u8("magic") != static_cast<uint8_t>(kStreamMagic[i]))
            in.fail(static_cast<size_t>(i), "magic", "not an irqdiff machine stream (expected \"IRQDMACH\")");
    const uint32_t version = in.u32("version");
    if (version != kStreamVersion)
        in.fail(8, "version", fmt::format("format version {} (this irqdiff reads version {})", version, kStreamVersion));
    ByteReader mach = in.section("MACH");
    mach.u32_in("SPI count", kNrSpis, kNrSpis);
    const uint32_t ndev = mach.u32_in("assigned device count", 0, 1024);
    LiveMigration::Options opts;
    for (uint32_t d = 0; d < ndev; ++d) {
        const uint32_t devid = mach.u32("assigned DeviceID");
        const uint32_t events = mach.u32_in("assigned device events", 1, 2048);
        opts.devices.emplace_back(devid, events);
    }
    const uint32_t ncpu = mach.u32_in("CPU-interface count", 1, kMaxVcpus);
    std::vector<GicV3::CpuIfExtra> extra;
    for (uint32_t v = 0; v < ncpu; ++v) {
        GicV3::CpuIfExtra e;
        e.bpr1 = mach.u8("ICC_BPR1_EL1");
        e.eoimode = mach.u8("ICC_CTLR_EL1.EOImode");
        extra.push_back(e);
    }
    const std::string source_policy = mach.str("source policy", 1 << 16);
    mach.finish("the MACH section");
    if (report.source_policy.empty()) report.source_policy = source_policy;
    report.stream_bytes = stream.size();

    const PolicyValues policy = resolve(o.policy, o.dest_policy);
    report.dest_policy = policy.to_string();
    const GicConfig host = GicConfig::from_policy(policy);
    const kvm::TransferPoint transfer = kvm::transfer_point(policy);
    opts.nr_spis = kNrSpis;
    Recorder rec(report);
    // The steps recorded so far (the save side, when this process ran it) stay in the report.
    std::unique_ptr<Board> board = Board::restore(std::move(config), in, [&](GuestRam& ram, EventLog& log) {
        opts.vcpus = ncpu;
        std::unique_ptr<LiveMigration> live = make_live_migration(opts, policy, log, nullptr);
        live->incoming(in, [&](Machine& m) {
            m.mem.guest.back_with(ram.base(), ram.data(), ram.size());
            VitsMmio::reset(m.vgic.its);  // vgic_its_create: the BASERs' read-only fields
        });
        OrderSpec spec = o.order;
        spec.loc = SourceLoc{"--order", 0, 0};
        const RestoreOrder order = live->plan().resolve(spec, "arm");
        const auto& steps = live->plan().restore_steps();
        for (uint16_t s : order) {
            report.order += (report.order.empty() ? "" : ",") + steps[s].name;
            live->restore_step(s);
            rec.step("restore:" + steps[s].name, &live->active());
        }
        auto gic = std::make_unique<KvmGic>(GicV3Config{ncpu, kNrSpis, host.version, transfer, 4},
                                            live->release_destination(), log);
        gic->gic().set_cpuif_extra(extra);
        return gic;
    });
    in.section("END_").finish("the END_ section");
    in.finish("the stream");
    rec.finish();
    board->send_key(o.key);
    return board;
}

std::unique_ptr<Board> migrate(std::unique_ptr<Board> src, BoardConfig dest_config, const MigrateOptions& o,
                               MigrationReport& report) {
    MigrationReport save_report;
    std::vector<uint8_t> stream = save_machine(*src, o, save_report);
    save_report.source_log = std::make_shared<const EventLog>(std::move(src->log()));
    if (save_report.vm_gone) {
        report = save_report;
        return nullptr;
    }
    if (o.stream_path) {
        std::ofstream out(*o.stream_path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(stream.data()), static_cast<std::streamsize>(stream.size()));
        out.close();  // a full disk may show only at the last flush
        if (!out) throw InputError("--stream", fmt::format("'{}': cannot write: {}", *o.stream_path, std::strerror(errno)));
    }
    src.reset();  // the source — board, GIC, host ITS, vPEs — is gone
    MigrationReport restore_report;
    std::unique_ptr<Board> dst = restore_machine(std::move(dest_config), stream, o, restore_report);
    // One report: the save side's steps, then the restore's, each LPI's row across both.
    report = save_report;
    report.dest_policy = restore_report.dest_policy;
    report.order = restore_report.order;
    const size_t nsave = report.steps.size();
    report.steps.insert(report.steps.end(), restore_report.steps.begin(), restore_report.steps.end());
    std::map<std::pair<uint32_t, uint32_t>, std::vector<std::string>> rows;
    for (const LpiTrace& t : save_report.lpis) {
        auto& row = rows[{t.vcpu, t.intid}];
        row = t.where;
        row.resize(nsave);
    }
    for (const LpiTrace& t : restore_report.lpis) {
        auto& row = rows[{t.vcpu, t.intid}];
        row.resize(nsave);
        row.insert(row.end(), t.where.begin(), t.where.end());
    }
    report.lpis.clear();
    for (auto& [k, row] : rows) {
        row.resize(report.steps.size());
        report.lpis.push_back(LpiTrace{k.first, k.second, row});
    }
    return dst;
}

}  // namespace irqdiff::arm::machine
