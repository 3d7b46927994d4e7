// Boot, UART hello, SYSTEM_OFF (docs/machine.md "Test guests").
#include "lib.h"

void guest_main(const void* dtb) {
    printf_uart("hello from the irqdiff machine (cpus %d, bootargs '%s')\n", fdt_cpu_count(dtb), fdt_bootargs(dtb));
    check(((unsigned long)dtb & 7) == 0, "the DTB at %lx is 8-byte aligned", (unsigned long)dtb);
    check((read_mpidr() & 0xFF00FFFFFFul) == 0, "the boot CPU is MPIDR affinity 0");
    unsigned long daif;
    __asm__ volatile("mrs %0, daif" : "=r"(daif));
    check(daif == 0x3c0, "DAIF is masked at entry (%lx)", daif);
    unsigned long el;
    __asm__ volatile("mrs %0, currentel" : "=r"(el));
    check((el >> 2) == 1, "entered at EL1");
    report_summary();
}

void secondary_main(int cpu) { (void)cpu; }
