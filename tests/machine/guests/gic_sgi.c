// SGIs between every pair of CPUs through ICC_SGI1R_EL1 (IHI 0069 §12.2.22), counted exactly.
// Round s: CPU s sends SGI 1 to each other CPU one by one (TargetList + Aff1), SGI 2 to every other
// CPU with one write per Aff1 cluster (a TargetList of several CPUs), SGI 3 to everyone but itself
// (IRM = 1), and SGI 4 to itself. The primary waits until every receiver counted what round s
// sent, lets 1 ms pass, and checks the counts are exact (no SGI lost, duplicated or misrouted).
// SGI 14 tells CPU s that its round started; SGI 15 wakes the secondaries to finish.
// Then SPI routing: an edge SPI (INTID 80: unused on QEMU virt with GICv3, inside irqdiff's 64
// SPIs) routed by GICD_IROUTER to each CPU in turn and made pending with GICD_ISPENDR must be
// taken exactly once, on that CPU only (IHI 0069 §12.9.22, §12.9.28).
// Run: qemu-system-aarch64 -machine virt,gic-version=3 -cpu max -smp N -nographic -kernel gic_sgi.bin
#include "gic.h"

#define SGI_UNICAST 1
#define SGI_MULTICAST 2
#define SGI_BROADCAST 3
#define SGI_SELF 4
#define SGI_TURN 14
#define SGI_WAKE 15

static int ncpus;
static volatile unsigned got[5][MAX_CPUS];  // got[sgi][receiver]
static volatile int ready[MAX_CPUS], turn[MAX_CPUS], sent[MAX_CPUS], done;
static volatile unsigned bad_intid[MAX_CPUS];
#define TEST_SPI 80u
static volatile unsigned spi_got[MAX_CPUS];

static void count_spi(unsigned intid, int cpu) {
    (void)intid;
    __atomic_add_fetch(&spi_got[cpu], 1, __ATOMIC_RELAXED);
}

static void count_sgi(unsigned intid, int cpu) {
    if (intid >= 1 && intid <= 4)
        __atomic_add_fetch(&got[intid][cpu], 1, __ATOMIC_RELAXED);
    else
        bad_intid[cpu] = intid;
}
static void on_turn(unsigned intid, int cpu) {
    (void)intid;
    turn[cpu] = 1;
}
static void send_round(int s) {
    for (int j = 0; j < ncpus; ++j)
        if (j != s) gic_send_sgi(SGI_UNICAST, j);
    for (int cluster = 0; cluster * 16 < ncpus; ++cluster) {
        uint16_t list = 0;
        for (int j = cluster * 16; j < ncpus && j < cluster * 16 + 16; ++j)
            if (j != s) list |= (uint16_t)(1u << (j % 16));
        if (list) gic_send_sgi_list(SGI_MULTICAST, (unsigned)cluster, list);
    }
    gic_send_sgi_others(SGI_BROADCAST);
    gic_send_sgi(SGI_SELF, s);
    __atomic_store_n(&sent[s], 1, __ATOMIC_RELEASE);
}

static int idle_cond(void* p) {
    int cpu = *(int*)p;
    return done || turn[cpu];
}

void secondary_main(int cpu) {
    if (gic_init_cpu()) return;
    __atomic_store_n(&ready[cpu], 1, __ATOMIC_RELEASE);
    for (;;) {
        // WFI until our turn or the end (no timeout: the primary's SGIs wake us).
        irq_mask();
        while (!idle_cond(&cpu)) {
            __asm__ volatile("wfi" ::: "memory");
            irq_unmask();
            isb();
            irq_mask();
        }
        if (done) break;
        turn[cpu] = 0;
        send_round(cpu);
    }
}

struct round_arg {
    int s;
    unsigned expect[5][MAX_CPUS];
};
static int round_complete(void* p) {
    struct round_arg* a = p;
    if (!sent[a->s]) return 0;
    for (int sgi = 1; sgi <= 4; ++sgi)
        for (int j = 0; j < ncpus; ++j)
            if (got[sgi][j] < a->expect[sgi][j]) return 0;
    return 1;
}

static struct round_arg ra;

void guest_main(const void* dtb) {
    gic_heap_below(dtb);
    ncpus = fdt_cpu_count(dtb);
    if (ncpus < 1 || ncpus > MAX_CPUS) ncpus = 1;
    printf_uart("gic_sgi: %d cpus\n", ncpus);
    if (gic_init_dist() || gic_init_cpu()) {
        report_summary();
        return;
    }
    printf_uart("gic_sgi: GICD_IIDR %x, GICD_TYPER %x, %d redistributors\n", gic.gicd_iidr, gic.gicd_typer,
                gic.nr_redists);
    check(gic.nr_redists >= ncpus, "the GICR walk found a frame per CPU (%d frames, %d cpus)", gic.nr_redists, ncpus);
    for (unsigned s = 1; s <= 4; ++s) gic_set_handler(s, count_sgi);
    gic_set_handler(SGI_TURN, on_turn);
    gic_set_handler(SGI_WAKE, gic_wake_handler);
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
    check(all, "every cpu initialised its redistributor and CPU interface");
    if (!all) {
        report_summary();
        return;
    }

    for (int s = 0; s < ncpus; ++s) {
        ra.s = s;
        for (int sgi = 1; sgi <= 4; ++sgi)
            for (int j = 0; j < ncpus; ++j) ra.expect[sgi][j] = got[sgi][j] + (sgi == SGI_SELF ? j == s : j != s);
        if (s == 0)
            send_round(0);
        else
            gic_send_sgi(SGI_TURN, s);
        int ok = gic_wait(round_complete, &ra, 2000000);
        gic_spin_us(1000);  // anything extra arrives now
        int exact[5] = {0, 1, 1, 1, 1};
        for (int sgi = 1; sgi <= 4; ++sgi)
            for (int j = 0; j < ncpus; ++j)
                if (got[sgi][j] != ra.expect[sgi][j]) exact[sgi] = 0;
        check(ok && exact[SGI_UNICAST], "cpu %d -> each other cpu, SGI %d one target at a time: counted exactly", s,
              SGI_UNICAST);
        check(ok && exact[SGI_MULTICAST], "cpu %d -> the other cpus, SGI %d one TargetList per Aff1: counted exactly",
              s, SGI_MULTICAST);
        check(ok && exact[SGI_BROADCAST], "cpu %d -> all but itself, SGI %d IRM=1: counted exactly", s, SGI_BROADCAST);
        check(ok && exact[SGI_SELF], "cpu %d -> itself, SGI %d: counted exactly", s, SGI_SELF);
        if (!ok || !exact[1] || !exact[2] || !exact[3] || !exact[4])
            for (int j = 0; j < ncpus; ++j)
                printf_uart("  cpu %d got %u %u %u %u, expected %u %u %u %u\n", j, got[1][j], got[2][j], got[3][j],
                            got[4][j], ra.expect[1][j], ra.expect[2][j], ra.expect[3][j], ra.expect[4][j]);
    }
    for (int j = 0; j < ncpus; ++j) {
        unsigned others = (unsigned)ncpus - 1;
        check(got[1][j] == others && got[2][j] == others && got[3][j] == others && got[4][j] == 1,
              "cpu %d received %u/%u/%u SGIs 1/2/3 (expected %u each) and %u SGI 4 (expected 1)", j, got[1][j],
              got[2][j], got[3][j], others, got[4][j]);
    }
    if (TEST_SPI < gic.nr_lines) {
        gic_set_handler(TEST_SPI, count_spi);
        for (int c = 0; c < ncpus; ++c) {
            unsigned before[MAX_CPUS];
            for (int j = 0; j < ncpus; ++j) before[j] = spi_got[j];
            gic_enable_spi(TEST_SPI, c, 1);
            wr32(GICD_BASE + GICD_ISPENDR + (TEST_SPI / 32) * 4, 1u << (TEST_SPI % 32));
            gic_wait_count(&spi_got[c], before[c] + 1, 1000000);
            gic_spin_us(1000);
            int exact = 1;
            for (int j = 0; j < ncpus; ++j)
                if (spi_got[j] != before[j] + (j == c)) exact = 0;
            check(exact, "SPI %u routed by GICD_IROUTER to cpu %d, pended by GICD_ISPENDR: taken once there only (%u)",
                  TEST_SPI, c, spi_got[c] - before[c]);
        }
        wr32(GICD_BASE + GICD_ICENABLER + (TEST_SPI / 32) * 4, 1u << (TEST_SPI % 32));
    } else {
        skip("SPI %u is beyond GICD_TYPER.ITLinesNumber (%u lines)", TEST_SPI, gic.nr_lines);
    }
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    if (ncpus > 1) gic_send_sgi_others(SGI_WAKE);
    unsigned unhandled = 0, bad = 0;
    for (int j = 0; j < ncpus; ++j) unhandled += gic_unhandled[j], bad += bad_intid[j] != 0;
    check(unhandled == 0 && bad == 0, "no unexpected INTID was acknowledged (%u unhandled)", unhandled);
    report_summary();
}
