// One x86 machine at the hypervisor level, driven the way X86Backend drives it (x86_pi/backend.cc)
// but one call at a time: host memory, the platform (pCPUs, VT-d), the host's IOMMU driver, KVM
// with one VM and QEMU's devices (Host, x86_pi/machine.h). Host work (VM exits, host vectors) is
// taken by service(), which is X86Backend::service / dispatch. Shared by the tests of x86_pi/kvm,
// x86_pi/vmm and the backend.
//
// Layout (as in the model): vCPU v runs on pCPU v, whose APIC ID is v; its xAPIC ID at reset is v.
// Device d has guest requester ID 0x10 + 8 d and host requester ID 0x100 + 8 d (as
// X86Backend::make_host). Host IRQ k gets IRTE k and host vector 0x30 + k on pCPU 0 (fewer than
// 176 host IRQs in every test).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "core/event_log.h"
#include "tests/event_match.h"
#include "x86_pi/machine.h"
#include "x86_pi/trace_points.h"
#include "x86_pi/vmm/qemu.h"

namespace irqdiff {
// gtest prints the model's enums by name.
inline void PrintTo(DeliveryPath p, std::ostream* os) { *os << to_string(p); }
inline void PrintTo(DeviceRunState s, std::ostream* os) { *os << to_string(s); }
}  // namespace irqdiff

namespace irqdiff::x86::kvm {
inline void PrintTo(VcpuRun r, std::ostream* os) { *os << to_string(r); }
inline void PrintTo(SetLapicClear c, std::ostream* os) {
    *os << (c == SetLapicClear::BeforeLoad ? "before_load" : "after_load");
}
}  // namespace irqdiff::x86::kvm

namespace irqdiff::x86::testing {

using kvm::KvmConfig;
using kvm::MsiMessage;
using kvm::VcpuRun;

/// A fixed (delivery mode 0) or other-mode MSI with a physical destination (an xAPIC ID).
inline MsiMessage physical_msi(uint32_t apic_id, uint8_t vector, uint32_t delivery_mode = 0, bool level = false) {
    uint64_t address = kvm::MsiAddress::Fee.make(0xFEE) | kvm::MsiAddress::DestId.make(apic_id);
    uint64_t data = kvm::MsiData::Vector.make(vector) | kvm::MsiData::DeliveryMode.make(delivery_mode) |
                    kvm::MsiData::TriggerMode.make(level ? 1 : 0);
    return MsiMessage{address, static_cast<uint32_t>(data)};
}
/// An MSI with a flat logical destination (a bit per logical ID).
inline MsiMessage logical_msi(uint8_t dest, uint8_t vector, uint32_t delivery_mode = 0) {
    MsiMessage m = physical_msi(dest, vector, delivery_mode);
    m.address |= kvm::MsiAddress::DM.kMask;
    return m;
}
inline MsixEntry entry(const MsiMessage& m) { return MsixEntry{m.address, m.data}; }

/// One expected event argument, typed as EventLog stores it.
template <std::integral T>
EventArg arg(std::string key, T v) {
    if constexpr (std::is_same_v<T, bool>)
        return EventArg{std::move(key), ArgValue(v)};
    else
        return EventArg{std::move(key), ArgValue(static_cast<int64_t>(v))};
}
inline EventArg arg(std::string key, Hex v) { return EventArg{std::move(key), ArgValue(v)}; }
inline EventArg arg(std::string key, const char* v) { return EventArg{std::move(key), ArgValue(std::string(v))}; }

/// An interrupt the guest took: its vector and how KVM says it came (Kvm::delivered).
struct Taken {
    uint8_t vector = 0;
    DeliveryPath path = DeliveryPath::Ideal;
};

class Machine {
   public:
    EventLog log;
    x86::Machine h;
    std::vector<std::pair<unsigned, uint8_t>> dispatched;  // host vectors service() handled: (pCPU, vector)

    /// `vcpus` vCPUs on as many pCPUs (or `pcpus` when larger): IOMMU driver set up (remapping
    /// on), KVM_CREATE_VCPU for each, nothing started.
    explicit Machine(unsigned vcpus = 2, KvmConfig config = {}, unsigned pcpus = 0) : h(std::max(vcpus, pcpus), log) {
        h.iommu().init();
        kvm().init(vcpus, config);
    }
    Machine(const Machine&) = delete;
    Machine& operator=(const Machine&) = delete;

    kvm::Kvm kvm() { return h.kvm(); }
    vmm::Qemu vmm() { return h.vmm(); }
    host::IrqRemapping iommu() { return h.iommu(); }
    Cpu& cpu(uint32_t v) { return h.hw.cpu(v); }
    Vmcs& vmcs(uint32_t v) { return h.hw.cpu(v).vmcs(); }
    kvm::Vcpu& vcpu(uint32_t v) { return h.kvm_state.vcpus.at(v); }
    const kvm::KvmState& state() const { return h.kvm_state; }

    // ---- running vCPUs ---------------------------------------------------------------------------
    /// KVM_RUN: runnable, loaded (unless it is), entered; host work taken.
    void start(uint32_t v) {
        vcpu(v).run = VcpuRun::Runnable;
        if (!vcpu(v).loaded) kvm().vcpu_load(v);
        kvm().vcpu_enter(v);
        service();
    }
    /// The guest's LAPIC set-up of Guest::boot: software enable (spurious 0xFF), flat logical mode
    /// with LDR = 1 << v, TPR 0, then STI. The vCPU must be in the guest.
    void boot_lapic(uint32_t v) {
        apic_write(v, apic::SVR, 0x1FF);
        apic_write(v, apic::DFR, apic::kDfrFlat);
        apic_write(v, apic::LDR, static_cast<uint32_t>(apic::Ldr::LogicalId.make(1u << (v % 8))));
        apic_write(v, apic::TPR, 0);
        cpu(v).guest_set_if(true);
    }
    /// start + boot_lapic for every vCPU.
    void start_all() {
        for (uint32_t v = 0; v < state().vcpus.size(); ++v) start(v);
        for (uint32_t v = 0; v < state().vcpus.size(); ++v) boot_lapic(v);
    }
    /// A guest write to its xAPIC page: virtualized, or a VM exit KVM handles before resuming.
    void apic_write(uint32_t v, uint32_t offset, uint32_t value) {
        Cpu& c = cpu(v);
        c.guest_apic_write(offset, value);
        if (!c.in_guest()) {
            std::optional<VmExit> exit = c.take_exit();
            ASSERT_TRUE(exit.has_value()) << "the APIC write left the guest without an exit";
            kvm().handle_exit(v, *exit);
            kvm().resume(v);
        }
        service();
    }
    /// The guest executes HLT; KVM handles the exit (kvm_emulate_halt).
    void hlt(uint32_t v) {
        Cpu& c = cpu(v);
        c.guest_hlt();
        std::optional<VmExit> exit = c.take_exit();
        ASSERT_TRUE(exit.has_value());
        kvm().handle_exit(v, *exit);
        kvm().resume(v);
        service();
    }
    /// The guest takes one interrupt (Guest::take_interrupts, one round): the CPU's injected event
    /// or virtual interrupt, then an EOI write. An interrupt-window exit is handled on the way.
    std::optional<Taken> take(uint32_t v) {
        Cpu& c = cpu(v);
        for (unsigned guard = 0; guard < 16; ++guard) {
            if (!c.in_guest()) return std::nullopt;
            std::optional<uint8_t> vector = c.guest_interrupt();
            if (!c.in_guest()) {
                if (std::optional<VmExit> exit = c.take_exit()) {
                    kvm().handle_exit(v, *exit);
                    kvm().resume(v);
                }
                service();
                continue;
            }
            if (!vector) return std::nullopt;
            Taken t{*vector, kvm().delivered(v, *vector)};
            apic_write(v, apic::EOI, 0);
            return t;
        }
        ADD_FAILURE() << "vCPU " << v << " keeps exiting";
        return std::nullopt;
    }
    /// Every interrupt the guest takes now, in order.
    std::vector<uint8_t> take_all(uint32_t v) {
        std::vector<uint8_t> out;
        for (unsigned guard = 0; guard < 256; ++guard) {
            std::optional<Taken> t = take(v);
            if (!t) return out;
            out.push_back(t->vector);
        }
        ADD_FAILURE() << "vCPU " << v << " keeps taking interrupts";
        return out;
    }

    /// X86Backend::service: each pCPU's VM exit (KVM's handler, the host's for an external
    /// interrupt, back into the guest) or root-mode interrupt, until none is left.
    void service() {
        for (unsigned guard = 0; guard < 10000; ++guard) {
            int c = h.hw.next_host_work();
            if (c < 0) return;
            const unsigned n = static_cast<unsigned>(c);
            Cpu& pcpu = h.hw.cpu(n);
            if (std::optional<VmExit> exit = pcpu.take_exit()) {
                kvm().handle_exit(n, *exit);
                if (exit->reason == ExitReason::ExternalInterrupt) {
                    std::optional<uint8_t> v = exit->acknowledged ? exit->vector : pcpu.acknowledge();
                    if (v) {
                        dispatch(n, *v);
                        pcpu.eoi();
                    }
                }
                kvm().resume(n);
            } else if (std::optional<uint8_t> v = pcpu.acknowledge()) {
                dispatch(n, *v);
                pcpu.eoi();
            }
        }
        ADD_FAILURE() << "host interrupts never settle";
    }
    /// Machine::dispatch, recorded: the handler the vector has on the pCPU (host::Vectors)
    /// [reference §3.2].
    void dispatch(unsigned n, uint8_t vector) {
        dispatched.emplace_back(n, vector);
        const host::IrqAction a = h.vectors.action(n, vector);
        switch (a.handler) {
            case host::Handler::PostedIntrIpi:
            case host::Handler::Reschedule: break;
            case host::Handler::PostedIntrWakeup: kvm().pi_wakeup_handler(n); break;
            case host::Handler::VfioMsi: vmm().host_irq(a.irq); break;
            case host::Handler::None:
                ADD_FAILURE() << "host vector " << int{vector} << " on pCPU " << n << " belongs to no handler";
                break;
        }
    }
    size_t dispatched_count(uint8_t vector) const {
        return static_cast<size_t>(
            std::count_if(dispatched.begin(), dispatched.end(), [&](const auto& d) { return d.second == vector; }));
    }

    // ---- devices ---------------------------------------------------------------------------------
    /// A device as X86Backend::make_host creates it on a source machine (running, MSI-X off).
    size_t add_device(const std::string& name, uint32_t vectors, bool passthrough = true) {
        const size_t d = h.qemu.devices.size();
        PciDevice dev(name, passthrough, vectors);
        dev.guest_id = static_cast<uint32_t>(0x10 + 8 * d);
        dev.host_id = static_cast<uint32_t>(0x100 + 8 * d);
        h.qemu.devices.push_back(std::move(dev));
        return d;
    }
    PciDevice& device(size_t d) { return h.qemu.devices.at(d); }
    /// The guest writes MSI-X table entry `vector` (QEMU's emulation).
    void program(size_t d, uint32_t vector, const MsiMessage& m) {
        vmm().write_msix(d, vector, entry(m));
        service();
    }
    /// The guest enables MSI-X; QEMU's vfio_msix_enable.
    void enable(size_t d) {
        device(d).msix_programmed = true;
        vmm().msix_enable(d);
        service();
    }
    void connect(size_t d) {
        vmm().connect_bypass(d);
        service();
    }
    /// A passthrough device with one vector per message, enabled and its bypass connected.
    size_t plug(const std::vector<MsiMessage>& msis, bool passthrough = true) {
        size_t d =
            add_device("nic" + std::to_string(h.qemu.devices.size()), static_cast<uint32_t>(msis.size()), passthrough);
        for (uint32_t v = 0; v < msis.size(); ++v) program(d, v, msis[v]);
        enable(d);
        connect(d);
        return d;
    }
    void fire(size_t d, uint32_t vector) {
        vmm().fire(d, vector);
        service();
    }
    int host_irq(size_t d, uint32_t vector) { return device(d).vectors.at(vector).host_irq; }
    uint32_t gsi(size_t d, uint32_t vector) { return static_cast<uint32_t>(device(d).vectors.at(vector).gsi); }
    /// The IRTE of device d's vector in host memory.
    IrteWords irte(size_t d, uint32_t vector) { return iommu().read_irte(iommu().irq(host_irq(d, vector)).index); }

    // ---- observations ------------------------------------------------------------------------------
    PiDesc pid(uint32_t v) { return kvm().pid(v); }
    void set_pid(uint32_t v, const PiDesc& d) {
        ASSERT_TRUE(write_pi_desc(h.mem.host, kvm::HostLayout::pid(v), d).ok());
    }
    ApicPage page(uint32_t v) { return kvm().page(v); }
    bool virr(uint32_t v, uint8_t vector) { return page(v).test(apic::IRR, vector); }
    bool visr(uint32_t v, uint8_t vector) { return page(v).test(apic::ISR, vector); }
    bool pir(uint32_t v, uint8_t vector) { return pid(v).pir.test(vector); }

    // The event log.
    size_t mark() const { return log.events().size(); }
    /// Events of `points` recorded from position `from` on whose arguments include every (key, value).
    std::vector<const Event*> find(const Points& points, std::vector<EventArg> with = {}, size_t from = 0) const {
        return find_events(log.events(), points, with, from);
    }
    size_t count(const Points& points, size_t from = 0) const { return count_events(log.events(), points, from); }
    std::string text() const { return log.to_text(); }
};

}  // namespace irqdiff::x86::testing
