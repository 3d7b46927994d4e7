// The guest's vITS frames of machine mode (GITS at 0x0808_0000: control frame + translation frame,
// reference/arm_virt_machine.md §7): access-width checks and KVM's register values on top of the
// KVM vITS model (arm_gic/kvm/vgic_its.cc), which reads the guest's command queue and tables from
// guest memory and runs the commands (vgic_its_process_commands).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace irqdiff::arm::kvm {
class Kvm;
struct VirtualIts;
}

namespace irqdiff::arm::machine {

class VitsMmio {
   public:
    /// GITS_IIDR of KVM's vITS: ProductID 0x4B (PRODUCT_ID_KVM), Revision = the table ABI (0),
    /// Implementer 0x43B (vgic_mmio_read_its_iidr).
    static constexpr uint32_t kIidr = 0x4B00'043B;
    /// The requester ID of a CPU's own write to GITS_TRANSLATER (QEMU's MemTxAttrs of a CPU access:
    /// requester_id 0; arm_gicv3_its_kvm.c kvm_its_send_msi).
    static constexpr uint32_t kCpuRequesterId = 0;

    /// vgic_its_create: GITS_BASER0/1 read their Type, Entry_Size and 64 KiB pages before any write.
    static void reset(kvm::VirtualIts& its);
    /// `bad(what)` is called for an access the vITS treats as RAZ/WI.
    uint64_t read(kvm::Kvm k, uint64_t offset, unsigned size, const std::function<void(const std::string&)>& bad);
    void write(kvm::Kvm k, uint64_t offset, uint64_t value, unsigned size,
               const std::function<void(const std::string&)>& bad);
};

}  // namespace irqdiff::arm::machine
