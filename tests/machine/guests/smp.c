// SMP bring-up: CPU_ON on every CPU the device tree lists; each prints, then CPU_OFF; the
// primary checks AFFINITY_INFO (reference/arm_virt_machine.md §4).
#include "lib.h"

static volatile int online[MAX_CPUS];

void secondary_main(int cpu) {
    check((read_mpidr() & 0xFF00FFFFFFul) == cpu_mpidr(cpu), "cpu %d runs with MPIDR affinity %lx", cpu,
          cpu_mpidr(cpu));
    __atomic_store_n(&online[cpu], 1, __ATOMIC_RELEASE);
    psci_hvc(PSCI_CPU_OFF, 0, 0, 0);
    printf_uart("FAIL: cpu %d returned from CPU_OFF\n", cpu);
}

void guest_main(const void* dtb) {
    int n = fdt_cpu_count(dtb);
    printf_uart("smp: %d cpus in the device tree\n", n);
    for (int c = 1; c < n; ++c) {
        long r = psci_hvc(PSCI_CPU_ON, cpu_mpidr(c), (unsigned long)secondary_entry, (unsigned long)c);
        check(r == 0, "CPU_ON cpu %d returned %ld", c, r);
    }
    for (int c = 1; c < n; ++c) {
        long spins = 0;
        while (!__atomic_load_n(&online[c], __ATOMIC_ACQUIRE) && spins < 100000000) ++spins;
        check(online[c], "cpu %d came online", c);
    }
    // Each secondary calls CPU_OFF right after flagging itself: wait until AFFINITY_INFO says OFF.
    for (int c = 1; c < n; ++c) {
        long r = 0, spins = 0;
        while ((r = psci_hvc(PSCI_AFFINITY_INFO, cpu_mpidr(c), 0, 0)) == 0 && spins < 1000000) ++spins;
        check(r == 1, "AFFINITY_INFO cpu %d is OFF after its CPU_OFF (%ld)", c, r);
    }
    check(psci_hvc(PSCI_AFFINITY_INFO, cpu_mpidr(0), 0, 0) == 0, "AFFINITY_INFO of the boot cpu is ON");
    report_summary();
}
