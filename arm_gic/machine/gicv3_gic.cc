#include "arm_gic/machine/gicv3_gic.h"

#include <fmt/format.h>

#include "arm_gic/trace_points.h"
#include "arm_gic/vmm/qemu.h"

namespace irqdiff::arm::machine {

namespace {
struct IccEnc {
    IccReg reg;
    unsigned op0, op1, crn, crm, op2;
    const char* name;
};
// IHI 0069 §12.2 (ICC_*_EL1 encodings; Linux arch/arm64/include/asm/sysreg.h SYS_ICC_*).
constexpr IccEnc kIcc[] = {
    {IccReg::PMR, 3, 0, 4, 6, 0, "ICC_PMR_EL1"},       {IccReg::IAR0, 3, 0, 12, 8, 0, "ICC_IAR0_EL1"},
    {IccReg::EOIR0, 3, 0, 12, 8, 1, "ICC_EOIR0_EL1"},   {IccReg::HPPIR0, 3, 0, 12, 8, 2, "ICC_HPPIR0_EL1"},
    {IccReg::BPR0, 3, 0, 12, 8, 3, "ICC_BPR0_EL1"},     {IccReg::AP0R0, 3, 0, 12, 8, 4, "ICC_AP0R0_EL1"},
    {IccReg::AP1R0, 3, 0, 12, 9, 0, "ICC_AP1R0_EL1"},   {IccReg::DIR, 3, 0, 12, 11, 1, "ICC_DIR_EL1"},
    {IccReg::RPR, 3, 0, 12, 11, 3, "ICC_RPR_EL1"},      {IccReg::SGI1R, 3, 0, 12, 11, 5, "ICC_SGI1R_EL1"},
    {IccReg::ASGI1R, 3, 0, 12, 11, 6, "ICC_ASGI1R_EL1"}, {IccReg::SGI0R, 3, 0, 12, 11, 7, "ICC_SGI0R_EL1"},
    {IccReg::IAR1, 3, 0, 12, 12, 0, "ICC_IAR1_EL1"},    {IccReg::EOIR1, 3, 0, 12, 12, 1, "ICC_EOIR1_EL1"},
    {IccReg::HPPIR1, 3, 0, 12, 12, 2, "ICC_HPPIR1_EL1"}, {IccReg::BPR1, 3, 0, 12, 12, 3, "ICC_BPR1_EL1"},
    {IccReg::CTLR, 3, 0, 12, 12, 4, "ICC_CTLR_EL1"},    {IccReg::SRE, 3, 0, 12, 12, 5, "ICC_SRE_EL1"},
    {IccReg::IGRPEN0, 3, 0, 12, 12, 6, "ICC_IGRPEN0_EL1"}, {IccReg::IGRPEN1, 3, 0, 12, 12, 7, "ICC_IGRPEN1_EL1"},
};
/// ICC_CTLR_EL1 as a KVM guest reads it (vgic-v3-sr / sys_regs access_gic_ctlr from ICH_VTR_EL2):
/// PRIbits[10:8] = 4 (5 priority bits, VGIC_PRI_BITS), IDbits[13:11] = 0 (16 bits), A3V[15] = 1.
constexpr uint64_t kIccCtlrRo = (4u << 8) | (1u << 15);
/// ICC_SRE_EL1: SRE, DFB, DIB RAO/WI (a vGICv3 is system-register only).
constexpr uint64_t kIccSre = 0x7;
}  // namespace

const char* to_string(IccReg r) {
    for (const IccEnc& e : kIcc)
        if (e.reg == r) return e.name;
    return "ICC_<unknown>";
}

IccReg icc_reg(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2) {
    for (const IccEnc& e : kIcc)
        if (e.op0 == op0 && e.op1 == op1 && e.crn == crn && e.crm == crm && e.op2 == op2) return e.reg;
    return IccReg::Unknown;
}

static GicConfig host_config(const GicV3Config& c) {
    GicConfig g;
    g.version = c.host;
    g.redistributor_count = c.vcpus;
    g.list_registers = c.list_registers;
    return g;
}

static void check_config(const GicV3Config& c) {
    if (c.vcpus == 0 || c.vcpus > GicV3::kMaxVcpus)
        throw std::invalid_argument(fmt::format("GicV3: {} vCPUs (1..{})", c.vcpus, GicV3::kMaxVcpus));
    if (c.nr_spis % 32 || c.nr_spis > 988)
        throw std::invalid_argument(fmt::format("GicV3: {} SPIs (a multiple of 32, at most 988)", c.nr_spis));
}

GicV3::GicV3(const GicV3Config& config, AddressSpace& guest, EventLog& log)
    : cfg_(config), guest_(&guest), log_(log) {
    check_config(cfg_);
    m_ = std::make_unique<Machine>(host_config(cfg_), log, cfg_.transfer);
    init_state();
}

GicV3::GicV3(const GicV3Config& config, uint8_t* ram, uint64_t base, uint64_t size, EventLog& log)
    : cfg_(config), log_(log) {
    check_config(cfg_);
    m_ = std::make_unique<Machine>(host_config(cfg_), log, cfg_.transfer);
    m_->mem.guest.back_with(base, ram, size);
    guest_ = &m_->mem.guest;
    init_state();
}

GicV3::GicV3(const GicV3Config& config, std::unique_ptr<Machine> machine, EventLog& log)
    : cfg_(config), log_(log), m_(std::move(machine)) {
    check_config(cfg_);
    if (!m_ || m_->vgic.cpus.size() != cfg_.vcpus)
        throw std::logic_error("GicV3: adopting a machine with another vCPU count");
    guest_ = &m_->mem.guest;
    in_guest_.assign(cfg_.vcpus, false);
    bpr1_.assign(cfg_.vcpus, 3);
    eoimode_.assign(cfg_.vcpus, 0);
}

void GicV3::init_state() {
    m_->its.init(m_->gic);
    kvm().init(cfg_.vcpus);
    kvm().init_spis(cfg_.nr_spis);
    VitsMmio::reset(m_->vgic.its);
    in_guest_.assign(cfg_.vcpus, false);
    bpr1_.assign(cfg_.vcpus, 3);  // the minimum BPR1 with 5 priority bits (IHI 0069 §12.2.5)
    eoimode_.assign(cfg_.vcpus, 0);
}

std::unique_ptr<Machine> GicV3::release_machine() {
    fold_all();
    return std::move(m_);
}

std::vector<GicV3::CpuIfExtra> GicV3::cpuif_extra() const {
    std::vector<CpuIfExtra> out;
    for (uint32_t v = 0; v < cfg_.vcpus; ++v) out.push_back({bpr1_[v], eoimode_[v]});
    return out;
}

void GicV3::set_cpuif_extra(const std::vector<CpuIfExtra>& extra) {
    for (uint32_t v = 0; v < cfg_.vcpus && v < extra.size(); ++v) {
        bpr1_[v] = extra[v].bpr1;
        eoimode_[v] = extra[v].eoimode;
    }
}

kvm::Kvm GicV3::kvm() {
    return kvm::Kvm(m_->vgic, m_->gic, m_->its, m_->cpus, *guest_, log_, cfg_.transfer, m_->save);
}

std::vector<GicV3::Region> GicV3::mmio_regions() const {
    return {{kGicdBase, kGicdSize, "GICD"}, {kGitsBase, kGitsSize, "GITS"},
            {kGicrBase, kGicrStride * cfg_.vcpus, "GICR"}};
}

void GicV3::ignored(uint32_t vcpu, const std::string& what, uint64_t addr, unsigned size) {
    const char* region = addr >= kGicrBase ? "GICR" : addr >= kGitsBase ? "GITS" : "GICD";
    log_.emit(tp::kMachineGicAccessIgnored, what, vcpu, region, Hex{addr}, size);
}

void GicV3::fold_all() {
    for (uint32_t v = 0; v < cfg_.vcpus; ++v)
        if (in_guest_[v]) {
            kvm().vcpu_fold(v);
            in_guest_[v] = false;
        }
}

void GicV3::enter(uint32_t vcpu) {
    service();
    if (m_->vgic.cpus[vcpu].run == kvm::VcpuRun::Blocked) return;  // waits in WFI: nothing in the LRs
    kvm::Kvm k = kvm();
    if (m_->vgic.cpus[vcpu].run != kvm::VcpuRun::Loaded) k.vcpu_load(vcpu);
    // A kick: exit and re-enter (vcpu_fold + vcpu_flush) so new ap_list entries reach the LRs.
    if (in_guest_[vcpu]) k.vcpu_fold(vcpu);
    k.vcpu_flush(vcpu);
    in_guest_[vcpu] = true;
}

void GicV3::service() {
    for (unsigned guard = 0; guard < 100000; ++guard) {
        std::optional<host::IrqAction> a = m_->cpus.take(m_->gic, log_);
        if (!a) return;
        if (a->handler == host::Handler::VpeDoorbell)
            kvm().doorbell(a->arg);
        else
            m_->vmm().host_irq(static_cast<int>(a->arg));  // vfio_msihandler -> the irqfd
    }
}

int GicV3::assigned_index(uint32_t devid) const {
    for (size_t i = 0; i < m_->qemu.devices.size(); ++i)
        if (m_->qemu.devices[i].guest_id == devid) return static_cast<int>(i);
    return -1;
}

bool GicV3::assign_device(uint32_t devid, uint32_t events) {
    if (events == 0 || assigned_index(devid) >= 0) return false;
    PciDevice d(fmt::format("vfio{:#x}", devid), true, events);
    d.guest_id = devid;
    d.host_id = m_->its.add_device(m_->gic, events);
    // Machine mode has no PCI config space: the guest's MAPD/MAPTI of the device's events stands
    // for its MSI-X programming (on ARM the vITS translates by DeviceID/EventID, the MSI-X
    // address/data select nothing else; docs/machine_gic.md, a documented policy).
    d.msix_programmed = true;
    m_->qemu.devices.push_back(std::move(d));
    bind_assigned();
    return true;
}

void GicV3::bind_assigned() {
    if (assign_all_)
        for (const auto& [devid, dev] : m_->vgic.its.devices)
            if (assigned_index(devid) < 0)
                assign_device(devid, std::min<uint32_t>(2048, uint32_t{1} << std::min<unsigned>(dev.eventid_bits, 11)));
    kvm::Kvm k = kvm();
    for (size_t i = 0; i < m_->qemu.devices.size(); ++i) {
        PciDevice& d = m_->qemu.devices[i];
        bool any = false;
        for (uint32_t e = 0; e < d.vectors.size(); ++e) any = any || k.translate(d.guest_id, e);
        if (!any) continue;
        if (!d.msix_enabled) {
            m_->vmm().msix_enable(i);      // routes, irqfds, VFIO_DEVICE_SET_IRQS (host IRQs)
            m_->vmm().connect_bypass(i);   // add_producer -> kvm_vgic_v4_set_forwarding
        }
        // An event the guest maps after the bypass connected: QEMU's MSI-X vector update re-runs
        // the bypass (vfio_update_kvm_msi_virq -> kvm_arch_update_irqfd_routing); set_forwarding
        // of an event that does not translate yet left it in software (mainline returns 0).
        for (uint32_t e = 0; e < d.vectors.size(); ++e) {
            const kvm::VgicIrq* irq = k.translate(d.guest_id, e);
            if (irq && !irq->hw && d.vectors[e].bypass && d.vectors[e].host_irq >= 0)
                k.set_forwarding(d.vectors[e].host_irq, d.guest_id, e);
        }
    }
    service();
}

void GicV3::assigned_msi(uint32_t devid, uint32_t eventid) {
    const int i = assigned_index(devid);
    if (i < 0 || eventid >= m_->qemu.devices[i].vectors.size()) {
        log_.emit(tp::kMachineGicAccessIgnored, "an MSI of a device that is not assigned, or of no vector of it",
                  0, "VFIO", Hex{devid}, eventid);
        return;
    }
    fold_all();
    m_->vmm().fire(static_cast<size_t>(i), eventid);
    service();
}

std::vector<std::pair<uint32_t, uint32_t>> GicV3::assigned_devices() const {
    std::vector<std::pair<uint32_t, uint32_t>> out;
    for (const PciDevice& d : m_->qemu.devices)
        if (d.passthrough) out.emplace_back(d.guest_id, static_cast<uint32_t>(d.vectors.size()));
    return out;
}

bool GicV3::forwarded(uint32_t devid, uint32_t eventid) const {
    const int i = assigned_index(devid);
    if (i < 0 || eventid >= m_->qemu.devices[i].vectors.size()) return false;
    const int irq = m_->qemu.devices[i].vectors[eventid].host_irq;
    return irq >= 0 && m_->its.irq(irq).forwarded;
}

static bool aligned_size(uint64_t off, unsigned size) {
    return (size == 1 || size == 2 || size == 4 || size == 8) && (off & (size - 1)) == 0;
}

uint64_t GicV3::mmio_read(uint64_t addr, unsigned size, uint32_t vcpu) {
    if (vcpu >= cfg_.vcpus) return 0;
    fold_all();  // a trapped access: the accessing vCPU exits, the state is current
    kvm::Kvm k = kvm();
    if (addr >= kGicdBase && addr < kGicdBase + kGicdSize) {
        const uint64_t off = addr - kGicdBase;
        const bool bytes = off >= 0x400 && off < 0x800;  // IPRIORITYR: byte-accessible
        const bool wide = off >= 0x6000 && off < 0x8000;  // IROUTER: 64-bit
        if (!aligned_size(off, size) || (size == 1 && !bytes) || size == 2 || (size == 8 && !wide)) {
            ignored(vcpu, "GICD access of a wrong size or misaligned: RAZ", addr, size);
            return 0;
        }
        return k.dist_read(vcpu, off, size);
    }
    if (addr >= kGitsBase && addr < kGitsBase + kGitsSize)
        return its_.read(k, addr - kGitsBase, size, [&](const std::string& w) { ignored(vcpu, w, addr, size); });
    if (addr >= kGicrBase && addr < kGicrBase + kGicrStride * cfg_.vcpus) {
        const uint32_t rd = static_cast<uint32_t>((addr - kGicrBase) / kGicrStride);
        const uint64_t off = (addr - kGicrBase) % kGicrStride;
        const bool bytes = off >= kGicrSgiFrame + 0x400 && off < kGicrSgiFrame + 0x420;
        const bool wide = (off & ~uint64_t{7}) == 0x8 || (off & ~uint64_t{7}) == GICR_PROPBASER ||
                          (off & ~uint64_t{7}) == GICR_PENDBASER;
        if (!aligned_size(off, size) || (size == 1 && !bytes) || size == 2 || (size == 8 && !wide)) {
            ignored(vcpu, "GICR access of a wrong size or misaligned: RAZ", addr, size);
            return 0;
        }
        const bool last = rd + 1 == cfg_.vcpus;
        if (!wide) return k.redist_read(rd, off, size, last);
        const uint64_t v = k.redist_read(rd, off & ~uint64_t{7}, 8, last);  // a 32-bit access reads one half
        return size == 8 ? v : (off & 4) ? v >> 32 : v & 0xFFFF'FFFF;
    }
    ignored(vcpu, "outside the GIC's frames: RAZ", addr, size);
    return 0;
}

void GicV3::mmio_write(uint64_t addr, uint64_t value, unsigned size, uint32_t vcpu) {
    if (vcpu >= cfg_.vcpus) return;
    fold_all();
    kvm::Kvm k = kvm();
    if (addr >= kGicdBase && addr < kGicdBase + kGicdSize) {
        const uint64_t off = addr - kGicdBase;
        const bool bytes = off >= 0x400 && off < 0x800;
        const bool wide = off >= 0x6000 && off < 0x8000;
        if (!aligned_size(off, size) || (size == 1 && !bytes) || size == 2 || (size == 8 && !wide))
            return ignored(vcpu, "GICD write of a wrong size or misaligned: WI", addr, size);
        k.dist_write(vcpu, off, value, size);
    } else if (addr >= kGitsBase && addr < kGitsBase + kGitsSize) {
        its_.write(k, addr - kGitsBase, value, size, [&](const std::string& w) { ignored(vcpu, w, addr, size); });
        if (!m_->qemu.devices.empty() || assign_all_) bind_assigned();
    } else if (addr >= kGicrBase && addr < kGicrBase + kGicrStride * cfg_.vcpus) {
        const uint32_t rd = static_cast<uint32_t>((addr - kGicrBase) / kGicrStride);
        const uint64_t off = (addr - kGicrBase) % kGicrStride;
        const bool bytes = off >= kGicrSgiFrame + 0x400 && off < kGicrSgiFrame + 0x420;
        if (off == GICR_CTLR && !m_->qemu.devices.empty()) {  // EnableLPIs can make an event translate
            k.redist_write(rd, off, value, size);
            bind_assigned();
            return;
        }
        const bool wide = (off & ~uint64_t{7}) == GICR_PROPBASER || (off & ~uint64_t{7}) == GICR_PENDBASER;
        if (off == 0x8 || off == 0xC || off == 0x4) return ignored(vcpu, "GICR_TYPER/IIDR are read-only: WI", addr, size);
        if (!aligned_size(off, size) || (size == 1 && !bytes) || size == 2 || (size == 8 && !wide))
            return ignored(vcpu, "GICR write of a wrong size or misaligned: WI", addr, size);
        if (size == 4 && wide) {  // update_64bit_reg: a 32-bit write replaces one half
            const uint64_t reg = off & ~uint64_t{7};
            const uint64_t cur = k.redist_read(rd, reg, 8, false);
            value = (off & 4) ? (cur & 0xFFFF'FFFF) | (value << 32) : (cur & ~uint64_t{0xFFFF'FFFF}) | value;
            k.redist_write(rd, reg, value, 8);
        } else {
            k.redist_write(rd, off, value, size);
        }
    } else {
        ignored(vcpu, "outside the GIC's frames: WI", addr, size);
    }
    service();
}

uint64_t GicV3::sysreg_read(uint32_t vcpu, IccReg reg) {
    if (vcpu >= cfg_.vcpus) return 0;
    enter(vcpu);
    CpuInterface& cpu = m_->gic.cpu(vcpu);
    switch (reg) {
        case IccReg::PMR: return cpu.read_pmr();
        case IccReg::IAR1: return cpu.read_iar1();
        case IccReg::HPPIR1: return cpu.read_hppir1();
        case IccReg::RPR: return cpu.read_rpr();
        case IccReg::IGRPEN1: return cpu.read_igrpen1();
        case IccReg::IGRPEN0: return cpu.read_igrpen0();
        case IccReg::BPR1: return bpr1_[vcpu];
        case IccReg::BPR0: return 2;
        case IccReg::CTLR: return kIccCtlrRo | eoimode_[vcpu] << 1;
        case IccReg::SRE: return kIccSre;
        case IccReg::AP1R0: {
            // One bit per active group-priority (5 bits: priority >> 3) of what is active.
            const uint8_t rpr = cpu.read_rpr();
            return rpr == 0xFF ? 0 : uint64_t{1} << (rpr >> 3);
        }
        case IccReg::IAR0:
        case IccReg::HPPIR0: return kNone;  // Group 0 is not modelled: nothing is ever Group 0 pending
        default: break;
    }
    log_.emit(tp::kMachineGicAccessIgnored, "a write-only or unimplemented ICC register: RAZ", vcpu, to_string(reg),
              Hex{0}, 8);
    return 0;
}

void GicV3::sysreg_write(uint32_t vcpu, IccReg reg, uint64_t value) {
    if (vcpu >= cfg_.vcpus) return;
    enter(vcpu);
    CpuInterface& cpu = m_->gic.cpu(vcpu);
    switch (reg) {
        case IccReg::PMR: cpu.write_pmr(static_cast<uint8_t>(value & 0xF8)); return;  // 5 priority bits
        case IccReg::EOIR1: cpu.write_eoir1(static_cast<uint32_t>(value & 0xFF'FFFF)); return;
        case IccReg::DIR:
            // The hardware model implements EOImode 0 only: EOIR1 drops the priority and deactivates.
            log_.emit(tp::kMachineGicAccessIgnored,
                      "ICC_DIR_EL1: the CPU-interface model deactivates at EOIR1 (EOImode 0 only): WI", vcpu,
                      to_string(reg), Hex{value}, 8);
            return;
        case IccReg::IGRPEN1: cpu.write_igrpen1(value & 1); return;
        case IccReg::IGRPEN0: cpu.write_igrpen0(value & 1); return;
        case IccReg::BPR1: bpr1_[vcpu] = static_cast<uint8_t>(std::max<uint64_t>(3, value & 7)); return;
        case IccReg::CTLR: eoimode_[vcpu] = (value >> 1) & 1; return;  // EOImode stored (see DIR)
        case IccReg::SRE:
        case IccReg::AP1R0:
        case IccReg::BPR0: return;  // RAO/WI, or the active-priority state is the CPU interface's
        case IccReg::SGI1R: {
            // access_gic_sgi -> vgic_v3_dispatch_sgi: TargetList[15:0], Aff1[23:16], INTID[27:24],
            // Aff2[39:32], IRM[40], RS[47:44], Aff3[55:48]; IRM = every vCPU but the sender.
            const unsigned sgi = (value >> 24) & 0xF;
            const bool irm = (value >> 40) & 1;
            const uint64_t aff = ((value >> 16) & 0xFF) << 8 | ((value >> 32) & 0xFF) << 16;
            const unsigned rs = (value >> 44) & 0xF;
            fold_all();
            kvm::Kvm k = kvm();
            for (uint32_t t = 0; t < cfg_.vcpus; ++t) {
                const uint64_t m = mpidr(t);
                bool hit = irm ? t != vcpu
                               : ((value >> 48) & 0xFF) == 0 && (m & ~uint64_t{0xFF}) == aff && (m & 0xF0) == rs * 16u &&
                                     ((value >> (m & 0xF)) & 1);
                if (hit) k.dispatch_sgi(vcpu, t, sgi);
            }
            service();
            return;
        }
        default: break;
    }
    log_.emit(tp::kMachineGicAccessIgnored, "a read-only or unimplemented ICC register: WI", vcpu, to_string(reg),
              Hex{value}, 8);
}

void GicV3::set_ppi(uint32_t vcpu, uint32_t intid, bool level) {
    if (vcpu >= cfg_.vcpus || intid < 16 || intid >= 32) return;
    fold_all();
    kvm().inject_irq(vcpu, intid, level);
}

void GicV3::set_spi(uint32_t intid, bool level) {
    fold_all();
    kvm().inject_irq(0, intid, level);
}

int GicV3::device_msi(uint32_t devid, uint32_t eventid) {
    fold_all();
    int rc = kvm().trigger_msi(devid, eventid);
    service();
    return rc;
}

uint32_t GicV3::highest_pending(uint32_t vcpu) {
    if (vcpu >= cfg_.vcpus) return kNone;
    enter(vcpu);
    return m_->gic.cpu(vcpu).read_hppir1();
}

void GicV3::vcpu_waits(uint32_t vcpu) {
    if (vcpu >= cfg_.vcpus) return;
    kvm::Kvm k = kvm();
    if (in_guest_[vcpu]) k.vcpu_fold(vcpu);
    in_guest_[vcpu] = false;
    if (m_->vgic.cpus[vcpu].run == kvm::VcpuRun::Stopped) k.vcpu_load(vcpu);
    k.vcpu_block(vcpu);  // vgic_v4_put(need_db) and kvm_vgic_vcpu_pending_irq
    service();
}

bool GicV3::wake_pending(uint32_t vcpu) {
    if (vcpu >= cfg_.vcpus) return false;
    service();
    return m_->vgic.cpus[vcpu].run != kvm::VcpuRun::Blocked;
}

void GicV3::vcpu_runs(uint32_t vcpu) {
    if (vcpu >= cfg_.vcpus) return;
    kvm::Kvm k = kvm();
    if (m_->vgic.cpus[vcpu].run == kvm::VcpuRun::Blocked) k.kick(vcpu);
    enter(vcpu);
}

}  // namespace irqdiff::arm::machine
