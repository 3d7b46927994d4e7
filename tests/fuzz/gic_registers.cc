// Fuzz target gic_registers (docs/fuzzing.md): the guest-visible GICv3 + ITS of machine mode
// (arm_gic/machine/gicv3_gic.h over the KVM vgic/vITS and the GICv4.1/4.0 hardware model): GICD,
// GICR and GITS MMIO and ICC_* system registers in any order, guest RAM tables and ITS commands,
// lines and MSIs (gicv3_ops.h). The input:
//   byte 0   bits 0-1 vCPUs - 1 (1..4), bit 2 a GICv4.0 host (else 4.1), bit 3 boot first
//            (GuestDriver::boot), bits 4-6 arm.transfer
//   then     ops (gicv3_ops.h), at most 512
// The rule (IHI 0069, KVM's vgic-mmio*.c, vgic-its.c): an access is RAZ/WI, an error the
// architecture defines, or an Ignored/GuestError event; never a crash, exception, UB or hang.
// The host side's VPENDBASER/VPROPBASER writes (4.0 and 4.1 layouts) come from KVM's vgic_v4_load/put
// as the ops make the vCPUs wait and run (host_its writes them raw).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "arm_gic/machine/gicv3_gic.h"
#include "core/event_log.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/gicv3_ops.h"

using namespace irqdiff;
using namespace irqdiff::arm::machine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 8192) return -1;
    fuzz::FuzzInput in(data, size);
    const uint8_t cfg = in.u8();
    GicV3Config config;
    config.vcpus = 1 + (cfg & 3);
    config.host = (cfg & 4) ? arm::GicVersion::V4_0 : arm::GicVersion::V4_1;
    config.transfer = static_cast<arm::kvm::TransferPoint>(((cfg >> 4) & 7) % 5);
    EventLog log(false);
    log.set_kept_limit(256);
    std::vector<uint8_t>& ram = fuzz::fresh_ram();
    GicV3 gic(config, ram.data(), fuzz::kRamBase, ram.size(), log);
    fuzz::GuestDriver guest(gic, ram);
    if (cfg & 8) guest.boot();
    for (unsigned ops = 0; ops < 512 && !in.empty(); ++ops) guest.op(in);
    return 0;
}
