#include "x86_pi/vmm/qemu.h"

#include "x86_pi/trace_points.h"

namespace irqdiff::x86::vmm {

void QemuPort::send_to_host(PciDevice& d, uint32_t v) {
    int irq = d.vectors.at(v).host_irq;
    if (irq < 0) {
        m_.log->emit(tp::kDeviceMsiLostError, "the vector has no host IRQ (VFIO_DEVICE_SET_IRQS failed): lost", d.name,
                     v);
        return;
    }
    const MsiRequest m = m_.iommu().physical_msi(irq);  // what the host driver programmed into the device
    m_.hw.msi(MsiWrite{m.address, m.data, m.sid});
}

}  // namespace irqdiff::x86::vmm
