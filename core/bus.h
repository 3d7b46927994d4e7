// The modelled bus a device's MSI travels on: a 32-bit memory write of `data` to `address`,
// tagged by the bus with the requester's id. Each stack decodes it the way its interconnect does:
//   ARM  Gic::msi         the ITS whose GITS_TRANSLATER is at `address` translates it, EventID =
//                         data, DeviceID = requester id (reference/arm_gicv41_kvm_migration.md
//                         §1.1; IHI 0069 GITS_TRANSLATER); a write no GITS_TRANSLATER decodes is
//                         dropped and logged
//   x86  Platform::msi    the VT-d interrupt-remapping unit takes it (address 0xFEEx_xxxx in
//                         remappable format, source-id = requester id, VT-d §5.1.2.2)
// Only interrupt writes travel here: device DMA into memory is not modelled.
#pragma once

#include <cstdint>

namespace irqdiff {

/// One MSI as the bus carries it.
struct MsiWrite {
    uint64_t address = 0;       // the doorbell the device's driver programmed
    uint32_t data = 0;          // the 32-bit payload
    uint32_t requester_id = 0;  // the device id the bus adds (PCI requester ID, or a DeviceID)
    bool operator==(const MsiWrite&) const = default;
};

}  // namespace irqdiff
