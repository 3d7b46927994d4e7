// Every physical ITS command (IHI 0069 §5.3) with its observable effect, each LPI counted exactly
// by the CPU that takes it: MAPD, MAPC, MAPTI, MAPI, INT, INV, INVALL, CLEAR, DISCARD, MOVI,
// MOVALL (smp >= 2; SKIP at smp 1), SYNC, and MAPD V=0. Every command sequence ends in SYNC and a
// bounded wait for GITS_CREADR == GITS_CWRITER. A masked LPI is one whose configuration byte has
// the enable bit 0 made effective by INV/INVALL (KVM caches the configuration until then,
// reference/arm_virt_machine.md §7).
// Run: qemu-system-aarch64 -machine virt,gic-version=3 -cpu max -smp 2 -nographic -kernel its_cmds.bin
#include "gic.h"

#define DEV 1           // device with 32 events (MAPTI)
#define DEV_EVENT_BITS 5
#define DEV_MAPI 2      // device for MAPI: the EventID is the LPI INTID, so it needs 14 EventID bits
#define MAPI_LPI (LPI_BASE + 512)
#define NEVENTS 8

static int ncpus;
static volatile unsigned taken[MAX_CPUS][GIC_LPI_HANDLERS];
static volatile int ready[MAX_CPUS], done;

static unsigned lpi_of(unsigned ev) { return LPI_BASE + 32 + ev; }

static void on_lpi(unsigned intid, int cpu) { ++taken[cpu][intid - LPI_BASE]; }
void secondary_main(int cpu) {
    if (gic_init_cpu()) return;
    __atomic_store_n(&ready[cpu], 1, __ATOMIC_RELEASE);
    gic_idle_until(&done);
}

static unsigned count(int cpu, unsigned lpi) { return taken[cpu][lpi - LPI_BASE]; }

// Waits until CPU `cpu` took `lpi` `expect` times (or `us` passed), lets 1 ms pass for extra ones,
// and returns the count.
static unsigned settle(int cpu, unsigned lpi, unsigned expect, unsigned long us) {
    gic_wait_count(&taken[cpu][lpi - LPI_BASE], expect, us);
    gic_spin_us(1000);
    return count(cpu, lpi);
}
#define TAKEN_US 1000000ul  // something expected: up to 1 s
#define QUIET_US 20000ul    // something not expected: 20 ms

static int sync_wait(int cpu, const char* what) {
    its_sync(cpu);
    return its_wait(what);
}

// The LPI's configuration (enable bit) made effective by INV (IHI 0069 §5.3.13).
static void set_enable(uint32_t dev, uint32_t ev, unsigned lpi, int enable, int target) {
    gic_lpi_config(lpi, enable);
    its_inv(dev, ev);
    sync_wait(target, enable ? "enable + INV" : "disable + INV");
}

void guest_main(const void* dtb) {
    gic_heap_below(dtb);
    ncpus = fdt_cpu_count(dtb);
    if (ncpus < 1 || ncpus > MAX_CPUS) ncpus = 1;
    printf_uart("its_cmds: %d cpus\n", ncpus);
    if (gic_init_dist() || gic_lpi_init(14, ncpus) || its_init() || gic_init_cpu()) {
        report_summary();
        return;
    }
    printf_uart("its_cmds: GITS_IIDR %x GITS_TYPER %lx (ITT entry %u bytes, %u DeviceID bits, %u EventID bits, PTA %d)\n",
                its.iidr, (unsigned long)its.typer, its.ite_size, its.devbits, its.idbits, its.pta);
    printf_uart("its_cmds: device table %lx (entry %u, page %u), collection table %lx (entry %u, page %u)\n",
                its.dev_table, its.dev_esz, its.dev_page, its.coll_table, its.coll_esz, its.coll_page);
    for (unsigned ev = 0; ev < 32; ++ev) gic_set_handler(lpi_of(ev), on_lpi);
    gic_set_handler(MAPI_LPI, on_lpi);
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

    // MAPD, MAPC (one collection per CPU: ICID c -> RDbase of cpu c), MAPTI of every event.
    unsigned long itt = its_alloc_itt(DEV_EVENT_BITS), itt2 = its_alloc_itt(14);
    its_mapd(DEV, DEV_EVENT_BITS, itt, 1);
    its_mapd(DEV_MAPI, 14, itt2, 1);
    for (int c = 0; c < ncpus; ++c) its_mapc((unsigned)c, c, 1);
    for (unsigned ev = 0; ev < NEVENTS; ++ev) {
        its_mapti(DEV, ev, lpi_of(ev), 0);
        gic_lpi_config(lpi_of(ev), 1);
    }
    its_invall(0);
    check(sync_wait(0, "MAPD/MAPC/MAPTI/INVALL"), "MAPD, MAPC x%d, MAPTI x%d, INVALL, SYNC completed", ncpus, NEVENTS);

    // INT: the LPI becomes pending and is taken (IHI 0069 §5.3.9).
    unsigned a = lpi_of(0);
    its_int(DEV, 0);
    sync_wait(0, "INT");
    check(settle(0, a, 1, TAKEN_US) == 1, "INT: LPI %u pending and taken once on cpu 0 (%u)", a, count(0, a));
    // Two INTs before the CPU takes the LPI (PSTATE.I is masked here) set one pending bit.
    its_int(DEV, 0);
    its_int(DEV, 0);
    sync_wait(0, "INT x2");
    check(settle(0, a, 3, QUIET_US) == 2, "INT twice before it is taken: one pending state, LPI %u taken once more (%u)",
          a, count(0, a));
    its_int(DEV, 0);
    sync_wait(0, "INT");
    check(settle(0, a, 3, TAKEN_US) == 3, "INT after it was taken: LPI %u taken again (%u)", a, count(0, a));

    // MAPI: EventID = pINTID (IHI 0069 §5.3.11).
    its_mapi(DEV_MAPI, MAPI_LPI, 0);
    gic_lpi_config(MAPI_LPI, 1);
    its_inv(DEV_MAPI, MAPI_LPI);
    sync_wait(0, "MAPI + INV");
    its_int(DEV_MAPI, MAPI_LPI);
    sync_wait(0, "INT after MAPI");
    check(settle(0, MAPI_LPI, 1, TAKEN_US) == 1, "MAPI: device %d event %u is LPI %u, taken once on INT", DEV_MAPI,
          MAPI_LPI, MAPI_LPI);

    // INV: a configuration change takes effect (IHI 0069 §5.3.13).
    unsigned b = lpi_of(1);
    set_enable(DEV, 1, b, 0, 0);
    its_int(DEV, 1);
    sync_wait(0, "INT while disabled");
    check(settle(0, b, 1, QUIET_US) == 0, "INV of enable 0: LPI %u stays pending, not taken (%u)", b, count(0, b));
    set_enable(DEV, 1, b, 1, 0);
    check(settle(0, b, 1, TAKEN_US) == 1, "INV of enable 1: the pending LPI %u is taken once (%u)", b, count(0, b));

    // INVALL: the same through the collection (IHI 0069 §5.3.14).
    unsigned c2 = lpi_of(2);
    gic_lpi_config(c2, 0);
    its_invall(0);
    sync_wait(0, "disable + INVALL");
    its_int(DEV, 2);
    sync_wait(0, "INT while disabled");
    check(settle(0, c2, 1, QUIET_US) == 0, "INVALL of enable 0: LPI %u stays pending, not taken (%u)", c2, count(0, c2));
    gic_lpi_config(c2, 1);
    its_invall(0);
    sync_wait(0, "enable + INVALL");
    check(settle(0, c2, 1, TAKEN_US) == 1, "INVALL of enable 1: the pending LPI %u is taken once (%u)", c2,
          count(0, c2));

    // CLEAR removes a pending LPI (IHI 0069 §5.3.2): masked, INT, CLEAR, unmasked -> not taken.
    unsigned d = lpi_of(3);
    set_enable(DEV, 3, d, 0, 0);
    its_int(DEV, 3);
    its_clear(DEV, 3);
    sync_wait(0, "INT + CLEAR");
    set_enable(DEV, 3, d, 1, 0);
    check(settle(0, d, 1, QUIET_US) == 0, "CLEAR: the masked pending LPI %u is gone when unmasked (%u)", d, count(0, d));
    its_int(DEV, 3);
    sync_wait(0, "INT after CLEAR");
    check(settle(0, d, 1, TAKEN_US) == 1, "CLEAR left the mapping: a new INT on LPI %u is taken once (%u)", d,
          count(0, d));

    // DISCARD removes the mapping (and a pending state) (IHI 0069 §5.3.4).
    unsigned e = lpi_of(4);
    its_discard(DEV, 4);
    its_int(DEV, 4);
    int queue_ok = sync_wait(0, "DISCARD + INT");
    check(queue_ok && settle(0, e, 1, QUIET_US) == 0,
          "DISCARD then INT: nothing (LPI %u not taken; the queue went on past the INT) (%u)", e, count(0, e));
    unsigned f = lpi_of(5);
    set_enable(DEV, 5, f, 0, 0);
    its_int(DEV, 5);
    its_discard(DEV, 5);
    sync_wait(0, "INT + DISCARD");
    gic_lpi_config(f, 1);
    its_invall(0);
    sync_wait(0, "enable + INVALL");
    check(settle(0, f, 1, QUIET_US) == 0, "DISCARD of a masked pending LPI %u: not taken once unmasked (%u)", f,
          count(0, f));
    its_mapti(DEV, 4, e, 0);
    its_inv(DEV, 4);
    its_int(DEV, 4);
    sync_wait(0, "MAPTI again + INT");
    check(settle(0, e, 1, TAKEN_US) == 1, "after DISCARD the event maps again (MAPTI): LPI %u taken once (%u)", e,
          count(0, e));

    if (ncpus >= 2) {
        // MOVI: the event's collection changes; delivery (and a pending state) moves (IHI 0069 §5.3.12).
        unsigned g = lpi_of(6);
        its_movi(DEV, 6, 1);
        sync_wait(0, "MOVI");
        sync_wait(1, "MOVI");
        its_int(DEV, 6);
        sync_wait(1, "INT after MOVI");
        check(settle(1, g, 1, TAKEN_US) == 1 && count(0, g) == 0,
              "MOVI to ICID 1: LPI %u taken once on cpu 1, never on cpu 0 (%u, %u)", g, count(1, g), count(0, g));
        set_enable(DEV, 6, g, 0, 1);
        its_int(DEV, 6);
        sync_wait(1, "INT while masked on cpu 1");
        its_movi(DEV, 6, 0);
        sync_wait(1, "MOVI back");
        sync_wait(0, "MOVI back");
        set_enable(DEV, 6, g, 1, 0);
        check(settle(0, g, 1, TAKEN_US) == 1 && settle(1, g, 1, 0) == 1,
              "MOVI of a masked pending LPI %u back to ICID 0: taken on cpu 0 when unmasked (cpu0 %u, cpu1 %u)", g,
              count(0, g), count(1, g));

        // MOVALL: the pending LPIs of one redistributor move to another (IHI 0069 §5.3.10),
        // after MAPC retargets the collection, as an OS moves a CPU's interrupts away.
        unsigned h = lpi_of(7);
        set_enable(DEV, 7, h, 0, 0);
        its_int(DEV, 7);
        sync_wait(0, "INT while masked on cpu 0");
        its_mapc(0, 1, 1);
        its_movall(0, 1);
        sync_wait(1, "MAPC ICID 0 -> cpu 1 + MOVALL 0 -> 1");
        set_enable(DEV, 7, h, 1, 1);
        check(settle(1, h, 1, TAKEN_US) == 1 && count(0, h) == 0,
              "MAPC + MOVALL cpu 0 -> cpu 1: the masked pending LPI %u is taken on cpu 1 when unmasked (cpu1 %u, "
              "cpu0 %u)",
              h, count(1, h), count(0, h));
        its_mapc(0, 0, 1);
        sync_wait(0, "MAPC ICID 0 -> cpu 0");
        its_int(DEV, 7);
        sync_wait(0, "INT");
        check(settle(0, h, 1, TAKEN_US) == 1, "MAPC ICID 0 back to cpu 0: LPI %u taken there once (%u)", h,
              count(0, h));
    } else {
        skip("MOVI and MOVALL need a second cpu (-smp 2)");
    }

    // MAPD V=0 unmaps the device: its events translate no more (IHI 0069 §5.3.6).
    its_mapd(DEV, DEV_EVENT_BITS, itt, 0);
    sync_wait(0, "MAPD V=0");
    its_int(DEV, 0);
    queue_ok = sync_wait(0, "INT after MAPD V=0");
    check(queue_ok && settle(0, a, 4, QUIET_US) == 3,
          "MAPD V=0: an INT on the unmapped device does nothing (LPI %u count stays 3: %u)", a, count(0, a));

    // Totals: every LPI taken exactly as many times as each check above expected.
    static const unsigned expect_total[NEVENTS] = {3, 1, 1, 1, 1, 0, 2, 2};
    for (unsigned ev = 0; ev < NEVENTS; ++ev) {
        unsigned t = 0;
        for (int c = 0; c < ncpus; ++c) t += count(c, lpi_of(ev));
        unsigned want = expect_total[ev];
        if (ncpus < 2 && ev >= 6) want = 0;
        check(t == want, "LPI %u (event %u) taken %u times in all (expected %u)", lpi_of(ev), ev, t, want);
    }
    check(its.timeouts == 0, "SYNC: every command sequence completed (CREADR reached CWRITER; %u commands)", its.cmds);
    unsigned unhandled = 0;
    for (int j = 0; j < ncpus; ++j) unhandled += gic_unhandled[j];
    check(unhandled == 0, "no unexpected INTID was acknowledged (%u)", unhandled);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    if (ncpus > 1) gic_send_sgi_others(15);
    report_summary();
}
