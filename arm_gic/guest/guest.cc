#include "arm_gic/guest/guest.h"

#include "arm_gic/trace_points.h"

#include <fmt/format.h>

#include <map>
#include <utility>

#include "core/errors.h"

namespace irqdiff::arm {

const Policy<bool> kGuestNassgireqPolicy{
    "arm.guest_nassgireq",
    "arm",
    {{"on", true}, {"off", false}},
    true,
    "whether the guest sets GICD_CTLR.nASSGIreq when GICD_TYPER2.nASSGIcap offers it (on a GICv4.1 host: its SGIs "
    "become direct vSGIs), or keeps SGIs with an active state (emulated by KVM: pending_latch and list registers)",
    "on: Linux's gic_dist_init (irq-gic-v3.c, \"Enabling SGIs without active state\", with the 2020 GICv4.1 vSGI "
    "series); off: a guest that leaves it clear, as kvm-unit-tests' micro-bench `ipi` test does (its `ipi_hw` sets "
    "it; reference/kernel_history B2), or a Linux guest from before that series"};

namespace {

uint8_t bits_for(uint32_t count) {
    uint8_t bits = 1;
    while ((uint64_t{1} << bits) < count) ++bits;
    return bits;
}

}  // namespace

void Guest::command(const ItsCommand& c) {
    uint8_t bytes[ItsCommand::kBytes];
    c.encode(bytes);
    ram_.write_bytes(GuestLayout::kCmdQueue + s_.cwriter, bytes);
    s_.cwriter = (s_.cwriter + ItsCommand::kBytes) % GuestLayout::kTableBytes;
    kvm_.its_write(GITS_CWRITER, s_.cwriter);
}

void Guest::boot(const Scenario& scenario, bool open_cpu_interfaces) {
    const uint32_t vcpus = scenario.vcpus;
    s_.masked.assign(vcpus, false);
    s_.lpis.assign(scenario.sources.size(), GuestLpi{});
    log_.emit(tp::kGuestBoot, vcpus, scenario.sources.size());
    // gic_dist_init: the distributor with ARE and Group 1, and nASSGIreq when GICD_TYPER2.nASSGIcap
    // offers SGIs without an active state (irq-gic-v3.c: "Enabling SGIs without active state").
    uint64_t ctlr = GicdCtlr::EnableGrp1.make(1) | GicdCtlr::ARE.make(1);
    if (s_.want_nassgireq && GicdTyper2::nASSGIcap.get(kvm_.gicd_read(GICD_TYPER2))) ctlr |= GicdCtlr::nASSGIreq.make(1);
    kvm_.gicd_write(GICD_CTLR, static_cast<uint32_t>(ctlr));
    // its_cpu_init_lpis on each CPU: PROPBASER, PENDBASER, then EnableLPIs.
    for (uint32_t v = 0; v < vcpus; ++v) {
        kvm_.gicr_write(v, GICR_PROPBASER, GuestLayout::kPropTable | GicrPropbaser::IDbits.make(15));
        kvm_.gicr_write(v, GICR_PENDBASER, GuestLayout::pending_table(v));
        kvm_.gicr_write(v, GICR_CTLR, GicrCtlr::EnableLPIs.make(1));
    }
    // its_probe_one / its_alloc_tables: flat device and collection tables, a 64 KiB queue.
    GitsBaser table;
    table.valid = true;
    table.page_size = GitsBaser::kPage64K;
    table.phys_addr = GuestLayout::kDeviceTable;
    kvm_.its_write(gits_baser(0), table.encode());
    table.phys_addr = GuestLayout::kCollectionTable;
    kvm_.its_write(gits_baser(1), table.encode());
    kvm_.its_write(GITS_CBASER, GitsCbaser::Valid.make(1) | GuestLayout::kCmdQueue |
                                    GitsCbaser::Size.make(GuestLayout::kTableBytes / 4096 - 1));
    s_.cwriter = 0;
    kvm_.its_write(GITS_CTLR, GitsCtlr::Enabled.make(1));
    for (uint32_t v = 0; v < vcpus; ++v) command(build::mapc(static_cast<uint16_t>(v), static_cast<uint16_t>(v), true));
    for (uint32_t d = 0; d < scenario.devices.size(); ++d)
        if (scenario.devices[d].kind == DeviceKind::Msi)
            command(build::mapd(GuestLayout::device_id(d), static_cast<uint8_t>(bits_for(scenario.devices[d].vectors) - 1),
                            GuestLayout::kItts + uint64_t{d} * GuestLayout::kTableBytes, true));
    uint32_t next = kFirstLpiIntid;
    std::map<std::pair<uint32_t, uint32_t>, SourceId> sgis;  // (target vCPU, SGI) -> its IPI source
    for (SourceId s = 0; s < scenario.sources.size(); ++s) {
        const Source& src = scenario.sources[s];
        if (!src.vcpu) continue;
        GuestLpi& lpi = s_.lpis[s];
        if (scenario.devices[src.device].kind == DeviceKind::Ipi) {
            // set_smp_ipi_range: IPI K is SGI K on every CPU; nothing to map in the ITS. With
            // affinity routing an SGI's pending state is per target, not per sender (the
            // redistributor's GICR_ISPENDR0 has one bit per SGI; GICv2's GICD_SPENDSGIRn kept one
            // per source CPU), so
            // two IPI sources with the same K to the same vCPU are one interrupt the guest cannot
            // tell apart: refused rather than credited to the first.
            auto [it, fresh] = sgis.emplace(std::pair{*src.vcpu, src.vector}, s);
            if (!fresh)
                throw InputError(src.route_loc,
                                 fmt::format("routes: {} and {} are both SGI {} of vCPU {} on ARM (an SGI's pending "
                                             "state is per target, not per sender): give the IPIs different "
                                             "numbers or targets",
                                             scenario.sources[it->second].name, src.name, src.vector, *src.vcpu));
            lpi = GuestLpi{true, 0, src.vector, src.vector, *src.vcpu, true};
            continue;
        }
        lpi = GuestLpi{true, GuestLayout::device_id(src.device), src.vector, next++, *src.vcpu};
        ram_.write8(GuestLayout::kPropTable + (lpi.intid - kFirstLpiIntid), GuestLayout::kPriority | 2 | 1);
        command(build::mapti(lpi.devid, lpi.event, lpi.intid, static_cast<uint16_t>(lpi.vcpu)));
    }
    for (uint32_t v = 0; v < vcpus; ++v) command(build::sync(static_cast<uint16_t>(v)));
    if (!open_cpu_interfaces) return;
    for (uint32_t v = 0; v < vcpus; ++v) {
        gic_.cpu(v).write_pmr(0xFF);
        gic_.cpu(v).write_igrpen1(true);
    }
}

unsigned Guest::take_interrupts(uint32_t vcpu, const Scenario& scenario, GuestLog& guest, RunBudget* budget) {
    if (s_.masked.at(vcpu)) return 0;
    CpuInterface& cpu = gic_.cpu(vcpu);
    RunBudget own;
    RunBudget& steps = budget ? *budget : own;
    unsigned taken = 0;
    for (; steps.spend(); ++taken) {
        uint32_t intid = cpu.read_iar1();
        if (intid == kSpuriousIntid) break;
        DeliveryPath path = delivery_path(cpu.last_ack());
        if (std::optional<SourceId> s = source_of(intid, vcpu)) {
            log_.emit(tp::kGuestTake.touching(scenario.sources[*s].name), vcpu, intid, to_string(path));
            guest.take(vcpu, *s, path);
        } else {
            log_.emit(tp::kGuestTakeError, "an interrupt the guest mapped to no source", vcpu, intid);
        }
        cpu.write_eoir1(intid);
    }
    return taken;
}

void Guest::retarget(SourceId source, uint32_t vcpu) {
    GuestLpi& lpi = s_.lpis.at(source);
    lpi.vcpu = vcpu;
    log_.emit(tp::kGuestRetarget, lpi.intid, vcpu);
    command(build::movi(lpi.devid, lpi.event, static_cast<uint16_t>(vcpu)));
    command(build::sync(static_cast<uint16_t>(vcpu)));
}

void Guest::toggle_lpis(uint32_t vcpu) {
    log_.emit(tp::kGuestToggleLpis, vcpu);
    kvm_.gicr_write(vcpu, GICR_CTLR, 0);
    kvm_.gicr_write(vcpu, GICR_CTLR, GicrCtlr::EnableLPIs.make(1));
}

void Guest::send_sgi(SourceId source, uint32_t from) {
    const GuestLpi& g = s_.lpis.at(source);
    log_.emit(tp::kGuestSendIpi, from, g.vcpu, g.intid);
    kvm_.dispatch_sgi(from, g.vcpu, g.intid);  // the MSR traps: access_gic_sgi
}

std::optional<SourceId> GuestState::source_of(uint32_t intid, uint32_t vcpu) const {
    for (SourceId s = 0; s < lpis.size(); ++s)
        if (lpis[s].routed && lpis[s].intid == intid && (!lpis[s].sgi || lpis[s].vcpu == vcpu)) return s;
    return std::nullopt;
}

}  // namespace irqdiff::arm
