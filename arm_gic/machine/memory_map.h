// The machine-mode board's physical memory map: QEMU `virt`'s base_memmap entries for the devices
// this board has (reference/arm_virt_machine.md §1, from QEMU hw/arm/virt.c), and where the boot
// protocol puts the image, the initrd and the DTB (§2 and the policy in docs/machine.md "Boot").
#pragma once

#include <cstdint>

namespace irqdiff::arm::machine {

struct MemoryMap {
    // reference/arm_virt_machine.md §1.
    static constexpr uint64_t kGicd = 0x0800'0000, kGicdSize = 0x1'0000;
    static constexpr uint64_t kGits = 0x0808'0000, kGitsSize = 0x2'0000;
    static constexpr uint64_t kGicr = 0x080A'0000, kGicrSize = 0xF6'0000;
    static constexpr uint64_t kGicrFrame = 0x2'0000;  // RD_base + SGI_base, 64 KiB each, per CPU
    static constexpr uint64_t kUart = 0x0900'0000, kUartSize = 0x1000;
    static constexpr uint32_t kUartSpi = 1;  // SPI 1 -> INTID 33, level
    // The MSI test device (board.h MsiTestDevice): a hole of QEMU virt's map (after VIRT_SECURE_GPIO).
    static constexpr uint64_t kMsiTest = 0x090C'0000, kMsiTestSize = 0x1000;
    static constexpr uint64_t kRam = 0x4000'0000;
    // reference/arm_virt_machine.md §2: the image at RAM + 0x80000 (arm64 text_offset convention).
    static constexpr uint64_t kImageOffset = 0x8'0000;
    // Linux Documentation/arch/arm64/booting.rst: the DTB is 8-byte aligned and at most 2 MiB;
    // this board's policy puts it in the last 2 MiB of RAM (docs/machine.md "Boot").
    static constexpr uint64_t kDtbMax = 0x20'0000;
};

/// The generic timer's frequency: QEMU 7.2 virt's CNTFRQ_EL0 (reference/arm_virt_machine.md §6,
/// reference/unicorn_2_0_1.md AArch64 item 8). One retired instruction is one tick (docs/machine.md
/// "Virtual time"), so each vCPU runs at 62.5 M instructions per second of guest time.
constexpr uint64_t kCntfrq = 62'500'000;

/// --smp bounds: 1..64 (issue 16 item 1; GICR region room is 123 CPUs, reference §1).
constexpr uint32_t kMaxVcpus = 64;

/// MPIDR affinity of vCPU n: Aff0 = n % 16, Aff1 = n / 16, as QEMU virt groups GICv3 CPUs into
/// clusters of 16 (a policy following QEMU hw/arm/virt.c virt_cpu_mp_affinity; docs/machine.md).
constexpr uint64_t mpidr_affinity(uint32_t vcpu) { return (uint64_t{vcpu / 16} << 8) | (vcpu % 16); }

}  // namespace irqdiff::arm::machine
