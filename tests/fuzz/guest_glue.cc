// Fuzz target guest_glue (docs/guests.md, docs/fuzzing.md; issue 17 §1): the scenario backends'
// Unicorn guests (arm_gic/guest/unicorn_guest.cc, x86_pi/guest/unicorn_guest.cc over
// core/guest_program.h) given random code bytes and random mailbox and log values. The backend is
// made as a run makes it (make_backend, `guest: unicorn`) and booted; then ops corrupt its guest
// memory through Backend::unicorn_machine_for_testing() and drive it with the actions of a run.
// The input:
//   byte 0  the scenario: bit 0 the architecture (0 arm, 1 x86); bit 1 two vCPUs (else one);
//           bits 3-2 the device `nic`'s vectors - 1 (0, 1, 2; 3 also means 3 vectors);
//           bit 4 every vector routed to the last vCPU (else nic.i to vCPU i mod vCPUs);
//           bit 5 the last vector left unrouted (with two or three vectors);
//           bit 6 an emulated device (passthrough: false: the software path, list registers or
//           KVM's injection) instead of a passthrough one;
//           bit 7 x86: a timer `tick` (kind: timer) routed to vCPU 0; arm: a GICv4.0 host
//   byte 1  options: bit 0 the event log records (GUEST.irq_entry disassembles the interrupted
//           instruction), bit 1 --trace-guest (every handler instruction recorded), bit 2
//           x86.posting=off (x86) / arm.vpt_writeback=eager (arm)
//   then ops, at most kMaxOps, each an op byte (op % 10) and its operands:
//     0 code      u8 anchor (% (symbols + 1): one of the program's global symbols, or the whole
//                 program), u16 offset (from the symbol: % 0x400; in the program: % its size),
//                 u8 n (1 + n % 16), n bytes: written over the program region (code and its data:
//                 GDT, IDT; clipped to the region's 64 KiB), then every engine's translations
//                 of those bytes are dropped (uc_ctl_remove_cache), as if the code had always
//                 been there
//     1 mailbox   u8 vCPU (% vCPUs), u8 field (% 4: mask u32, vCPU index u32, clock u64, timer
//                 count u32), u64 value (its low bytes)
//     2 log head  u8 vCPU, u8 mode: bit 0 head += (int8) u8, else head = u32
//     3 log entry u8 vCPU, u16 slot (head + slot, mod 512), u32 id, u64 timestamp
//     4 area      u8 vCPU, u16 offset (% 0x4000), u8 n (1 + n % 16), n bytes: anywhere in the
//                 vCPU's area (mailbox, log, stack: the saved interrupt frame)
//     5 fire      u8 (% routed sources): that source fires
//     6 run       u8 (% (vCPUs + 1)): run that vCPU, or all
//     7 mask      u8 b: mask (b & 1) or unmask vCPU (b >> 1) % vCPUs
//     8 snapshot  the first one saves the backend (Backend::snapshot), later ones restore it
//     9 migrate   a whole live migration (the scenario's migrate step, QEMU's order), twice at most
// The rule (docs/guests.md "Faults", STYLE.md "Three kinds of error"): a guest that executes
// garbage or corrupts its mailbox or log ends the run with a GuestFault (an InputError naming
// the vCPU, the PC, the instruction there and the reason) or runs on (a GuestError event, a
// GUEST.run_budget stop); never an abort, another exception, a sanitizer report or a hang. Every
// action that returns leaves every vCPU at its idle loop, every delivery and record on a vCPU
// and source of the scenario, and where() and identity() answering for every source.
// With GUEST_GLUE_VERBOSE set in the environment the target prints the error that ended a run.
#include <unicorn/unicorn.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/errors.h"
#include "core/guest_program.h"
#include "core/runner.h"
#include "core/scenario.h"
#include "registry/builtin_backends.h"
#include "tests/fuzz/fuzz_input.h"

using namespace irqdiff;
using irqdiff::fuzz::FuzzInput;

namespace {

constexpr size_t kMaxOps = 48;
constexpr uint64_t kGuestBudget = 20'000;  // instructions per guest run (x86 boot takes ~4,500)

// The scenario byte 0 and byte 1 describe, as YAML (the loader checks it as it checks a file).
std::string scenario_text(uint8_t shape, uint8_t options) {
    const bool x86 = shape & 1;
    const uint32_t vcpus = (shape & 2) ? 2 : 1;
    uint32_t vectors = 1 + ((shape >> 2) & 3);
    if (vectors > 3) vectors = 3;
    const bool to_last = shape & 0x10;
    const bool last_unrouted = (shape & 0x20) && vectors > 1;
    const bool emulated = shape & 0x40;
    const bool extra = shape & 0x80;
    std::string y = "name: guest_glue\narch: ";
    y += x86 ? "x86" : "arm";
    y += "\nguest: unicorn\nvm: {vcpus: " + std::to_string(vcpus) + "}\ndevices:\n";
    y += "  - {name: nic, vectors: " + std::to_string(vectors) + ", passthrough: " + (emulated ? "false" : "true") + "}\n";
    if (x86 && extra) y += "  - {name: tick, kind: timer}\n";
    y += "routes:\n";
    for (uint32_t i = 0; i < vectors; ++i) {
        if (last_unrouted && i + 1 == vectors) break;
        const uint32_t v = to_last ? vcpus - 1 : i % vcpus;
        y += "  - {source: nic." + std::to_string(i) + ", vcpu: " + std::to_string(v) + "}\n";
    }
    if (x86 && extra) y += "  - {source: tick.0, vcpu: 0}\n";
    std::string policy;
    if (!x86 && extra) policy += "arm.gic: v4.0";
    if (options & 4) {
        if (!policy.empty()) policy += ", ";
        policy += x86 ? "x86.posting: off" : "arm.vpt_writeback: eager";
    }
    if (!policy.empty()) y += "policy: {" + policy + "}\n";
    y += "steps:\n  - run: all\n  - migrate:\n";
    return y;
}

// Parsed once per text: a scenario must outlive the backends made from it.
const Scenario& scenario_for(const std::string& text) {
    static std::map<std::string, std::unique_ptr<Scenario>> cache;
    std::unique_ptr<Scenario>& s = cache[text];
    if (!s) s = std::make_unique<Scenario>(parse_scenario(text, builtin_backends().catalogue(), "guest_glue.yaml"));
    return *s;
}

// Code written behind Unicorn's back is not seen by blocks it has translated (core/unicorn_cpu.h,
// GuestRam::store): drop every engine's blocks over [begin, end). (uc_ctl_flush_tlb, which drops
// them all, commits about 1 GiB of memory per engine in Unicorn 2.0.1.)
void drop_translations(GuestMachine& m, uint64_t begin, uint64_t end) {
    for (uint32_t v = 0; v < m.vcpus(); ++v)
        if (uc_ctl_remove_cache(m.cpu(v).engine(), begin, end) != UC_ERR_OK) std::abort();
}

// What must hold after every action that returned.
void check(Backend& backend, const Scenario& s, GuestMachine& m, const GuestLog& guest) {
    std::vector<Location> places;
    for (SourceId id = 0; id < s.sources.size(); ++id) {
        places.clear();
        backend.where(id, places);
        if (backend.identity(id).empty()) std::abort();
    }
    // Every run ends at `idle` or throws (docs/guests.md "Bounded").
    for (uint32_t v = 0; v < m.vcpus(); ++v)
        if (m.cpu(v).pc() != m.idle()) std::abort();
    for (const Delivery& d : guest.deliveries())
        if (d.vcpu >= s.vcpus || d.source >= s.sources.size()) std::abort();
    for (const GuestRecord& r : guest.records())
        if (r.vcpu >= s.vcpus) std::abort();
}

void run_ops(FuzzInput& in, const Scenario& s, Backend& backend, GuestLog& guest,
             const std::vector<Action>& migration) {
    GuestMachine* machine = backend.unicorn_machine_for_testing();
    if (!machine) std::abort();  // guest: unicorn makes one
    GuestMachine& m = *machine;
    GuestRam& ram = m.ram();
    const GuestImage& image = m.image();
    const uint32_t vcpus = m.vcpus();
    std::vector<SourceId> routed;
    for (SourceId id = 0; id < s.sources.size(); ++id)
        if (s.sources[id].vcpu) routed.push_back(id);
    std::unique_ptr<BackendSnapshot> saved;
    unsigned migrations = 0;
    uint32_t index = 0;  // the actions' schedule index
    auto apply = [&](Action a) {
        guest.set_action(index++);
        backend.apply(a);
        check(backend, s, m, guest);
    };

    for (size_t op = 0; op < kMaxOps && !in.empty(); ++op) {
        switch (in.u8() % 10) {
            case 0: {
                const unsigned anchor = in.below(static_cast<unsigned>(image.symbol_count + 1));
                const uint16_t offset = in.u16();
                uint64_t at = anchor < image.symbol_count ? image.symbols[anchor].address + offset % 0x400
                                                          : image.base + offset % image.size;
                const size_t n = 1 + in.u8() % 16;
                uint8_t bytes[16] = {};
                const auto src = in.bytes(n);
                std::memcpy(bytes, src.data(), src.size());
                const uint64_t end = GuestAbi::kBase + GuestAbi::kProgramBytes;
                const uint64_t begin = at;
                for (size_t i = 0; i < n && at < end; ++i, ++at) ram.store<uint8_t>(at, bytes[i]);
                drop_translations(m, begin, at);
                break;
            }
            case 1: {
                const uint64_t area = GuestAbi::area(in.below(vcpus));
                const unsigned field = in.u8() % 4;
                const uint64_t value = in.u64();
                if (field == 0) ram.store<uint32_t>(area + GuestAbi::kMask, static_cast<uint32_t>(value));
                if (field == 1) ram.store<uint32_t>(area + GuestAbi::kIndex, static_cast<uint32_t>(value));
                if (field == 2) ram.store<uint64_t>(area + GuestAbi::kClock, value);
                if (field == 3) ram.store<uint32_t>(area + GuestAbi::kTimerCount, static_cast<uint32_t>(value));
                break;
            }
            case 2: {
                const uint64_t at = GuestAbi::area(in.below(vcpus)) + GuestAbi::kLogHead;
                const bool relative = in.flag();
                const uint32_t head = relative ? ram.load<uint32_t>(at) + static_cast<uint32_t>(static_cast<int8_t>(in.u8()))
                                               : in.u32();
                ram.store<uint32_t>(at, head);
                break;
            }
            case 3: {
                const uint64_t area = GuestAbi::area(in.below(vcpus));
                const uint32_t slot = (ram.load<uint32_t>(area + GuestAbi::kLogHead) + in.u16()) % GuestAbi::kLogEntries;
                const uint64_t at = area + GuestAbi::kLog + slot * GuestAbi::kLogEntryBytes;
                ram.store<uint32_t>(at, in.u32());
                ram.store<uint64_t>(at + 8, in.u64());
                break;
            }
            case 4: {
                uint64_t at = GuestAbi::area(in.below(vcpus)) + in.u16() % GuestAbi::kVcpuBytes;
                const uint64_t end = GuestAbi::area(vcpus - 1) + GuestAbi::kVcpuBytes;
                const size_t n = 1 + in.u8() % 16;
                const auto src = in.bytes(n);
                for (size_t i = 0; i < src.size() && at < end; ++i, ++at) ram.store<uint8_t>(at, src[i]);
                break;
            }
            case 5: {
                const uint8_t pick = in.u8();
                if (routed.empty()) break;
                Action a;
                a.kind = StepKind::Fire;
                a.source = routed[pick % routed.size()];
                apply(a);
                break;
            }
            case 6: {
                const unsigned v = in.below(vcpus + 1);
                Action a;
                a.kind = StepKind::Run;
                a.vcpu = v == vcpus ? -1 : static_cast<int32_t>(v);
                apply(a);
                break;
            }
            case 7: {
                const uint8_t b = in.u8();
                Action a;
                a.kind = (b & 1) ? StepKind::Mask : StepKind::Unmask;
                a.vcpu = static_cast<int32_t>((b >> 1) % vcpus);
                apply(a);
                break;
            }
            case 8:
                if (!saved) {
                    saved = backend.snapshot();
                } else {
                    backend.restore(*saved);
                    // the code ops wrote code behind Unicorn's back
                    drop_translations(m, GuestAbi::kBase, GuestAbi::kBase + GuestAbi::kProgramBytes);
                    check(backend, s, m, guest);
                }
                break;
            case 9:
                if (migrations++ >= 2) break;
                for (const Action& a : migration) apply(a);
                break;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2 || size > 4096) return -1;
    FuzzInput in(data, size);
    const uint8_t shape = in.u8();
    const uint8_t options = in.u8();
    const Scenario& s = scenario_for(scenario_text(shape, options));
    const BackendInfo& info = *builtin_backends().find((shape & 1) ? "x86" : "arm");
    const PolicyValues policy = resolve_policy(info.policies, s.policy, {});
    // The migrate step's actions, as a run lowers them (steps[1]).
    std::vector<Action> migration;
    for (const Action& a : lower(s, *info.plan, info.name, RunOptions{}).actions)
        if (a.scenario_step == 1) migration.push_back(a);

    static const bool verbose = std::getenv("GUEST_GLUE_VERBOSE") != nullptr;
    EventLog log(options & 1);
    GuestLog guest;
    GuestOptions guest_options;
    guest_options.kind = GuestKind::Unicorn;
    guest_options.trace_instructions = options & 2;
    guest_options.budget = kGuestBudget;
    try {
        std::unique_ptr<Backend> backend = make_backend(info, BackendContext{s, policy, log, guest, guest_options});
        run_ops(in, s, *backend, guest, migration);
        if (verbose)
            std::fprintf(stderr, "guest_glue: no fault; %zu deliveries, %zu guest-log records\n",
                         guest.deliveries().size(), guest.records().size());
    } catch (const GuestFault& f) {
        // The fault report names the vCPU, the PC, the instruction there and the reason.
        const std::string what = f.what();
        if (verbose) std::fprintf(stderr, "guest_glue: %s\n", what.c_str());
        if (f.reason().empty() || f.instruction().empty() || what.find(" vCPU ") == std::string::npos ||
            what.find("guest fault at pc") == std::string::npos)
            std::abort();
    } catch (const InputError& e) {
        // a scenario the backend refuses (none of these shapes is refused today)
        if (verbose) std::fprintf(stderr, "guest_glue: input error: %s\n", e.what());
    }
    return 0;
}
