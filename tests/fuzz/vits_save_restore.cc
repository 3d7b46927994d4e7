// Fuzz target vits_save_restore (docs/fuzzing.md): the guest's vITS saved and restored over
// tables the guest (or anyone with its RAM) corrupted in between, as the KVM selftests'
// vgic_its_save restore does and a migration stream allows. The input:
//   byte 0   bits 0-1 vCPUs - 1, bit 2 a GICv4.0 host, bit 3 two-level device table (GITS_BASER0
//            Indirect, its level-2 pages in the ITT region), bits 4-6 arm.transfer
//   then     source ops (gicv3_ops.h) until a 0xFF byte (at most 256)
//   then     KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES and KVM_DEV_ARM_ITS_SAVE_TABLES on the source, and
//            corruptions of the destination's copy of RAM, 11 bytes each, until a 0xFF byte: a
//            doubleword (8 bytes) at an offset (2 bytes, x8) of a region (1 byte: device table,
//            collection table, ITTs, level-2 pages, pending tables, command queue)
//   then     QEMU's restore on a fresh destination (arm_gic/vmm: GICR_PROPBASER/PENDBASER/CTLR, the
//            ITS registers in KVM's documented order, KVM_DEV_ARM_ITS_RESTORE_TABLES, GITS_CTLR)
//            and the rest of the input as destination ops
// The rule (Documentation/virt/kvm/devices/arm-vgic-its.rst, vgic_its_restore_tables_v0): a
// corrupt table makes RESTORE_TABLES fail with an error code (-EINVAL, -EFAULT, ...) or restores
// what it can; the guest runs on; never a crash, exception, UB or hang.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "arm_gic/machine/gicv3_gic.h"
#include "arm_gic/vmm/qemu.h"
#include "core/event_log.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/gicv3_ops.h"

using namespace irqdiff;
using namespace irqdiff::arm;
using namespace irqdiff::arm::machine;

namespace {

bool at_separator(fuzz::FuzzInput& in, const uint8_t* data, size_t size) {
    const size_t pos = size - in.remaining();
    if (pos < size && data[pos] == 0xFF) {
        (void)in.u8();
        return true;
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 8192) return -1;
    fuzz::FuzzInput in(data, size);
    const uint8_t cfg = in.u8();
    GicV3Config config;
    config.vcpus = 1 + (cfg & 3);
    config.host = (cfg & 4) ? GicVersion::V4_0 : GicVersion::V4_1;
    config.transfer = static_cast<kvm::TransferPoint>(((cfg >> 4) & 7) % 5);
    EventLog log(false);
    log.set_kept_limit(256);

    std::vector<uint8_t>& ram = fuzz::fresh_ram(0);
    GicV3 src(config, ram.data(), fuzz::kRamBase, ram.size(), log);
    fuzz::GuestDriver guest(src, ram);
    guest.boot();
    if (cfg & 8) {  // a two-level device table: one level-1 page whose first entry points into the ITT region
        src.mmio_write(GicV3::kGitsBase + GITS_CTLR, 0, 4, 0);
        src.mmio_write(GicV3::kGitsBase + gits_baser(0), (uint64_t{1} << 63) | (uint64_t{1} << 62) | fuzz::kDevTable, 8, 0);
        guest.put64(fuzz::kDevTable, (uint64_t{1} << 63) | (fuzz::kItts + 0x8'0000));
        src.mmio_write(GicV3::kGitsBase + GITS_CTLR, 1, 4, 0);
    }
    for (unsigned ops = 0; ops < 256 && !in.empty() && !at_separator(in, data, size); ++ops) guest.op(in);

    // The save side: QEMU's order (pending tables, then the ITS tables), then its register reads.
    kvm::Kvm from = src.kvm();
    (void)from.save_pending_tables();
    (void)from.its_save_tables();
    std::vector<uint64_t> propbaser, pendbaser, ctlr;
    for (uint32_t v = 0; v < config.vcpus; ++v) {
        propbaser.push_back(from.gicr_read(v, GICR_PROPBASER));
        pendbaser.push_back(from.gicr_read(v, GICR_PENDBASER));
        ctlr.push_back(from.gicr_read(v, GICR_CTLR));
    }
    const vmm::ItsRegs regs{from.its_read(GITS_CBASER), from.its_read(GITS_CREADR), from.its_read(GITS_CWRITER),
                            from.its_read(gits_baser(0)), from.its_read(gits_baser(1))};
    const uint64_t its_ctlr = from.its_read(GITS_CTLR);

    // The stream: a copy of RAM, corrupted.
    std::vector<uint8_t>& dst_ram = fuzz::fresh_ram(1);
    dst_ram = ram;
    static constexpr uint64_t kCorrupt[] = {fuzz::kDevTable, fuzz::kCollTable, fuzz::kItts,
                                            fuzz::kItts + 0x8'0000, fuzz::kPend, fuzz::kCmdq};
    fuzz::GuestDriver corrupter(src, dst_ram);  // only put64 on the copy
    for (unsigned n = 0; n < 64 && !in.empty() && !at_separator(in, data, size); ++n) {
        const uint64_t at = kCorrupt[in.u8() % 6] + uint64_t{in.u16()} * 8;
        corrupter.put64(at, in.u64());
    }

    // The restore side on a fresh destination (tests/arm_gic/kvm_harness.h restore_vgic).
    GicV3 dst(config, dst_ram.data(), fuzz::kRamBase, dst_ram.size(), log);
    kvm::Kvm to = dst.kvm();
    for (uint32_t v = 0; v < config.vcpus; ++v) {
        to.gicr_write(v, GICR_PROPBASER, propbaser[v]);
        to.gicr_write(v, GICR_PENDBASER, pendbaser[v]);
    }
    for (uint32_t v = 0; v < config.vcpus; ++v) to.gicr_write(v, GICR_CTLR, ctlr[v]);
    to.restore_its_registers(vmm::its_register_writes(regs, vmm::ItsRegsOrder::Abi));
    (void)to.its_restore_tables();
    to.its_write(GITS_CTLR, its_ctlr & GitsCtlr::Enabled.kMask);
    for (uint32_t v = 0; v < config.vcpus; ++v) dst.vcpu_runs(v);

    fuzz::GuestDriver dest_guest(dst, dst_ram);
    for (unsigned ops = 0; ops < 256 && !in.empty(); ++ops) dest_guest.op(in);
    return 0;
}
