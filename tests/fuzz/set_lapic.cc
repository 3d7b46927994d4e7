// Fuzz target set_lapic (docs/fuzzing.md): KVM_SET_LAPIC (x86_pi/kvm, Kvm::set_lapic, modelling
// kvm_apic_set_state) with an image userspace made up. The input:
//   byte 0     the KVM: bit 0 APICv off (x86.posting), bit 1 the pre-2023 PIR clear after
//              the load (x86.set_lapic_clears_pir=after_load), bit 2 the vCPU is halted (blocked)
//   8 bytes    MSR_IA32_APICBASE as KVM_SET_MSRS gives it first
//   1024 bytes the register page (struct kvm_lapic_state), zero-filled when the input is shorter
//   32 bytes   the model's provenance bits beside the image
//   then ops   1 byte each: the guest takes an interrupt and EOIs it, writes an APIC register
//              (offset, value), or KVM_GET_LAPIC then KVM_SET_LAPIC of what it read (a migration)
// The rule (Documentation/virt/kvm/api.rst KVM_SET_LAPIC, kvm_apic_set_state): the ioctl
// succeeds or fails with an error code; whatever the image holds (reserved bits, a bad timer, an
// APIC ID out of range) the vCPU runs and the model never crashes, throws or loops forever.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/event_log.h"
#include "tests/fuzz/fuzz_input.h"
#include "x86_pi/machine.h"

using namespace irqdiff;
using namespace irqdiff::x86;

namespace {

/// X86Backend::service: VM exits and root-mode host vectors until none is left (bounded).
void service(Machine& h) {
    for (unsigned guard = 0; guard < 1000; ++guard) {
        const int c = h.hw.next_host_work();
        if (c < 0) return;
        const unsigned n = static_cast<unsigned>(c);
        Cpu& pcpu = h.hw.cpu(n);
        std::optional<uint8_t> vector;
        if (std::optional<VmExit> exit = pcpu.take_exit()) {
            h.kvm().handle_exit(n, *exit);
            if (exit->reason == ExitReason::ExternalInterrupt) vector = exit->acknowledged ? exit->vector : pcpu.acknowledge();
            h.kvm().resume(n);
        } else {
            vector = pcpu.acknowledge();
        }
        if (vector) {
            if (h.vectors.action(n, *vector).handler == host::Handler::PostedIntrWakeup) h.kvm().pi_wakeup_handler(n);
            pcpu.eoi();
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 4096) return -1;
    fuzz::FuzzInput in(data, size);
    const uint8_t cfg = in.u8();
    EventLog log(false);
    log.set_kept_limit(256);
    Machine h(2, log);
    h.iommu().init();
    kvm::KvmConfig config;
    config.apicv = (cfg & 1) == 0;
    config.clear = (cfg & 2) ? kvm::SetLapicClear::AfterLoad : kvm::SetLapicClear::BeforeLoad;
    h.kvm().init(2, config);

    kvm::LapicImage image;
    image.apic_base = in.u64();
    for (uint8_t& b : image.regs) b = in.u8();
    for (unsigned v = 0; v < 256; v += 8) {
        const uint8_t bits = in.u8();
        for (unsigned i = 0; i < 8; ++i)
            if ((bits >> i) & 1) image.soft.set(v + i);
    }
    // The destination's vCPU before KVM_SET_LAPIC: created, not run (halted if the source's was,
    // KVM_SET_MP_STATE in QEMU's order comes with the registers).
    if (cfg & 4) h.kvm_state.vcpus.at(0).mp_state = kvm::MpState::Halted;
    (void)h.kvm().set_lapic(0, image);

    // The restored vCPU runs (KVM_RUN, as X86Backend::start_vcpus).
    h.kvm().run(0);
    service(h);
    Cpu& cpu = h.hw.cpu(0);
    if (cpu.in_guest()) cpu.guest_set_if(true);

    for (unsigned ops = 0; ops < 64 && !in.empty(); ++ops) {
        const uint8_t op = in.u8();
        switch (op % 3) {
            case 0:  // the guest takes one interrupt and EOIs it
                if (cpu.in_guest() && cpu.guest_interrupt() && cpu.in_guest()) cpu.guest_apic_write(apic::EOI, 0);
                break;
            case 1:  // the guest writes an APIC register
                if (cpu.in_guest()) cpu.guest_apic_write(uint32_t{in.u8()} << 4, in.u32());
                break;
            case 2: {  // migrated again: paused, KVM_GET_LAPIC, KVM_SET_LAPIC of what it read, KVM_RUN
                h.kvm().leave_guest(0, false);
                service(h);
                const kvm::LapicImage saved = h.kvm().get_lapic(0);
                (void)h.kvm().set_lapic(0, saved);
                h.kvm().run(0);
                break;
            }
        }
        if (!cpu.in_guest())
            if (std::optional<VmExit> exit = cpu.take_exit()) {
                h.kvm().handle_exit(0, *exit);
                h.kvm().resume(0);
            }
        service(h);
    }
    return 0;
}
