// LPIs pending in the redistributors (and the guest pending tables) across a migration, counted
// exactly (issue 16 item 8). bootargs `lpis=N pending=P wait=MS` (defaults 8, 5, 3000): N LPIs on
// one device, LPI i in collection i % ncpus (ICID c -> cpu c); the first P are masked (enable bit 0
// + INV) and made pending with INT; then the migration prompt of reference/arm_virt_machine.md §8,
// and the UART is polled for one byte for at most MS ms (none: SKIP, go on). Then each masked LPI
// is unmasked (enable 1 + INV) and must be taken exactly once on its CPU (a PASS per LPI), and the
// N - P others, raised by INT after the migration, exactly once each too.
// Run: qemu-system-aarch64 -machine virt,gic-version=3 -cpu max -smp 4 -nographic
//        -kernel lpi_migrate.bin -append "lpis=8 pending=5"   (stdin: a byte, or wait out the poll)
#include "gic.h"

#define DEV 1
#define LPI0 (LPI_BASE + 64)
#define MAX_LPIS 512u

static int ncpus;
static volatile unsigned taken[MAX_CPUS][MAX_LPIS];
static volatile int ready[MAX_CPUS], done;

static void on_lpi(unsigned intid, int cpu) { ++taken[cpu][intid - LPI0]; }
static int never(void* p) {
    (void)p;
    return 0;
}

void secondary_main(int cpu) {
    if (gic_init_cpu()) return;
    __atomic_store_n(&ready[cpu], 1, __ATOMIC_RELEASE);
    gic_idle_until(&done);
}

static int cpu_of(unsigned i) { return (int)(i % (unsigned)ncpus); }

struct one_arg {
    unsigned i;
};
static int taken_once(void* p) {
    unsigned i = ((struct one_arg*)p)->i;
    return taken[cpu_of(i)][i] >= 1;
}

static unsigned total(unsigned i) {
    unsigned t = 0;
    for (int c = 0; c < ncpus; ++c) t += taken[c][i];
    return t;
}

void guest_main(const void* dtb) {
    gic_heap_below(dtb);
    ncpus = fdt_cpu_count(dtb);
    if (ncpus < 1 || ncpus > MAX_CPUS) ncpus = 1;
    const char* args = fdt_bootargs(dtb);
    unsigned n = (unsigned)arg_ulong(args, "lpis", 8);
    unsigned p = (unsigned)arg_ulong(args, "pending", 5);
    unsigned long wait_ms = arg_ulong(args, "wait", 3000);
    if (n < 1) n = 1;
    if (n > MAX_LPIS) n = MAX_LPIS;
    if (p > n) p = n;
    unsigned bits = 1;
    while ((1u << bits) < n) ++bits;
    printf_uart("lpi_migrate: %d cpus, %u LPIs (%u..%u), %u pending across the migration\n", ncpus, n, LPI0,
                LPI0 + n - 1, p);
    if (gic_init_dist() || gic_lpi_init(14, ncpus) || its_init() || gic_init_cpu()) {
        report_summary();
        return;
    }
    for (unsigned i = 0; i < n; ++i) gic_set_handler(LPI0 + i, on_lpi);
    gic_set_handler(15, gic_wake_handler);
    for (int c = 1; c < ncpus; ++c) {
        long r = psci_hvc(PSCI_CPU_ON, cpu_mpidr(c), (unsigned long)secondary_entry, (unsigned long)c);
        if (r) check(0, "CPU_ON cpu %d returned %ld", c, r);
    }
    int all = 1;
    for (int c = 1; c < ncpus; ++c) {
        unsigned long end = cntvct() + cntfrq() * 2;
        while (!__atomic_load_n(&ready[c], __ATOMIC_ACQUIRE) && cntvct() < end) {
        }
        all &= ready[c];
    }
    check(all, "every cpu initialised its redistributor with EnableLPIs");
    if (!all) {
        report_summary();
        return;
    }

    unsigned long itt = its_alloc_itt(bits);
    its_mapd(DEV, bits, itt, 1);
    for (int c = 0; c < ncpus; ++c) its_mapc((unsigned)c, c, 1);
    for (unsigned i = 0; i < n; ++i) {
        its_mapti(DEV, i, LPI0 + i, (unsigned)cpu_of(i));
        gic_lpi_config(LPI0 + i, i >= p);  // the first P masked
    }
    for (int c = 0; c < ncpus; ++c) its_invall((unsigned)c);
    for (int c = 0; c < ncpus; ++c) its_sync(c);
    check(its_wait("MAPD/MAPC/MAPTI/INVALL"), "%u LPIs mapped over %d collections, the first %u masked", n, ncpus, p);
    for (unsigned i = 0; i < p; ++i) its_int(DEV, i);
    for (int c = 0; c < ncpus; ++c) its_sync(c);
    its_wait("INT of the masked LPIs");
    gic_spin_us(20000);
    unsigned early = 0;
    for (unsigned i = 0; i < p; ++i) early += total(i);
    check(early == 0, "the %u masked LPIs are pending, none taken before the migration (%u)", p, early);

    // The migration point (reference/arm_virt_machine.md §8).
    printf_uart("Now migrate the VM, then press a key to continue...\n");
    int key = -1;
    for (unsigned long t = 0; t < wait_ms && key < 0; ++t) {
        key = getc_uart();
        if (key < 0) gic_wait(never, 0, 1000);
    }
    if (key < 0)
        skip("no key within %lu ms: migration skipped, going on", wait_ms);
    else
        printf_uart("lpi_migrate: key %u received, continuing\n", (unsigned)key);

    for (unsigned i = 0; i < p; ++i) {
        gic_lpi_config(LPI0 + i, 1);
        its_inv(DEV, i);
    }
    for (int c = 0; c < ncpus; ++c) its_sync(c);
    its_wait("enable + INV of the masked LPIs");
    for (unsigned i = 0; i < p; ++i) {
        struct one_arg a = {i};
        gic_wait(taken_once, &a, 1000000);
    }
    gic_spin_us(2000);
    for (unsigned i = 0; i < p; ++i)
        check(taken[cpu_of(i)][i] == 1 && total(i) == 1,
              "LPI %u pending across the migration: taken exactly once on cpu %d when unmasked (%u; %u in all)",
              LPI0 + i, cpu_of(i), taken[cpu_of(i)][i], total(i));

    for (unsigned i = p; i < n; ++i) its_int(DEV, i);
    for (int c = 0; c < ncpus; ++c) its_sync(c);
    its_wait("INT of the other LPIs");
    for (unsigned i = p; i < n; ++i) {
        struct one_arg a = {i};
        gic_wait(taken_once, &a, 1000000);
    }
    gic_spin_us(2000);
    for (unsigned i = p; i < n; ++i)
        check(taken[cpu_of(i)][i] == 1 && total(i) == 1,
              "LPI %u not pending at the migration: taken exactly once on cpu %d after an INT (%u; %u in all)",
              LPI0 + i, cpu_of(i), taken[cpu_of(i)][i], total(i));
    unsigned unhandled = 0;
    for (int j = 0; j < ncpus; ++j) unhandled += gic_unhandled[j];
    check(unhandled == 0 && its.timeouts == 0, "no unexpected INTID (%u) and every ITS command completed", unhandled);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    if (ncpus > 1) gic_send_sgi_others(15);
    report_summary();
}
