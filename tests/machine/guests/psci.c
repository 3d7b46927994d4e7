// PSCI 1.0 return values and error codes (Arm DEN0022; reference/arm_virt_machine.md §4). Run
// with --smp 2 or more.
#include "lib.h"

#define EXPECT(call, want, desc)                               \
    do {                                                       \
        long r_ = (call);                                      \
        check(r_ == (want), desc " (%ld)", r_);                \
    } while (0)

static volatile int started;

void secondary_main(int cpu) {
    __atomic_store_n(&started, cpu, __ATOMIC_RELEASE);
    for (;;) __asm__ volatile("wfi");
}

void guest_main(const void* dtb) {
    int n = fdt_cpu_count(dtb);
    EXPECT(psci_hvc(PSCI_VERSION, 0, 0, 0), 0x10000, "PSCI_VERSION is 1.0");
    EXPECT(psci_hvc(PSCI_FEATURES, PSCI_CPU_ON, 0, 0), 0, "PSCI_FEATURES(CPU_ON) = 0");
    EXPECT(psci_hvc(PSCI_FEATURES, PSCI_SYSTEM_OFF, 0, 0), 0, "PSCI_FEATURES(SYSTEM_OFF) = 0");
    EXPECT(psci_hvc(PSCI_FEATURES, 0x8400001F, 0, 0), -1, "PSCI_FEATURES(unknown) = NOT_SUPPORTED");
    EXPECT(psci_hvc(0x8400001F, 0, 0, 0), -1, "an unknown function = NOT_SUPPORTED");
    EXPECT(psci_hvc(PSCI_MIGRATE_INFO_TYPE, 0, 0, 0), 2, "MIGRATE_INFO_TYPE = 2, no Trusted OS");
    EXPECT(psci_hvc(PSCI_CPU_ON, 0xFF, (unsigned long)secondary_entry, 1), -2, "CPU_ON of a missing MPIDR = INVALID_PARAMETERS");
    EXPECT(psci_hvc(PSCI_CPU_ON, cpu_mpidr(0), (unsigned long)secondary_entry, 0), -4, "CPU_ON of the running cpu = ALREADY_ON");
    EXPECT(psci_hvc(PSCI_AFFINITY_INFO, 0xFF, 0, 0), -2, "AFFINITY_INFO of a missing MPIDR = INVALID_PARAMETERS");
    EXPECT(psci_hvc(PSCI_AFFINITY_INFO, cpu_mpidr(0), 1, 0), -2, "AFFINITY_INFO at affinity level 1 = INVALID_PARAMETERS");
    if (n >= 2) {
        EXPECT(psci_hvc(PSCI_AFFINITY_INFO, cpu_mpidr(1), 0, 0), 1, "cpu 1 is OFF before CPU_ON");
        EXPECT(psci_hvc(PSCI_CPU_ON, cpu_mpidr(1), 0x1000, 1), -9, "CPU_ON with an entry outside RAM = INVALID_ADDRESS");
        EXPECT(psci_hvc(PSCI_CPU_ON, cpu_mpidr(1), (unsigned long)secondary_entry + 2, 1), -9, "CPU_ON with a misaligned entry = INVALID_ADDRESS");
        EXPECT(psci_hvc(PSCI_CPU_ON32, cpu_mpidr(1), (unsigned long)secondary_entry, 1), 0, "CPU_ON (SMC32 id) of cpu 1 = SUCCESS");
        EXPECT(psci_hvc(PSCI_CPU_ON, cpu_mpidr(1), (unsigned long)secondary_entry, 1), -4, "a second CPU_ON of cpu 1 = ALREADY_ON");
        EXPECT(psci_hvc(PSCI_AFFINITY_INFO, cpu_mpidr(1), 0, 0), 0, "cpu 1 is ON after CPU_ON");
        long spins = 0;
        while (!__atomic_load_n(&started, __ATOMIC_ACQUIRE) && spins < 10000000) ++spins;
        check(started == 1, "cpu 1 started with context id 1 (%d)", started);
    }
    report_summary();
}
