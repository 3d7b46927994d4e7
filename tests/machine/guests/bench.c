// The machine-mode benchmark guest (issue 16 "Performance"; bench/machine_qemu.py). bootargs
// `op=lpi|msi|sgi|ipi|eoi|gicd iters=N`:
//   lpi   N x (ITS INT on the command queue -> LPI taken on cpu 0 -> EOI), one round trip at a time;
//   msi   N x (a device MSI -> LPI taken on cpu 0 -> EOI). On irqdiff's board (the device tree has
//         "irqdiff,msi-test-device"; run with --assign 0x10:1) the assigned device 0x10 raises it
//         through the MSI test device: host ITS -> VPT, a forwarded vLPI. Elsewhere (QEMU virt,
//         no such device) the guest writes the MSI to GITS_TRANSLATER itself, which QEMU's
//         emulated ITS translates with the CPU's requester ID 0 as DeviceID;
//   sgi   N x (SGI 1 to cpu 1, whose handler sends SGI 1 back to cpu 0), needs -smp 2;
//   ipi   N x (SGI 2 to cpu 1, whose handler counts in memory; cpu 0 polls that count): the
//         one-way IPI as the public micro-benchmark of reference §9 times it, needs -smp 2;
//   eoi   N x ICC_EOIR1_EL1 of the spurious INTID 1023 (the write alone, nothing active);
//   gicd  N x a 32-bit read of GICD_IIDR.
// `wait=wfi` (default) waits for the interrupt in WFI (PSTATE.I masked around the check, so no
// wake-up is lost), as an OS idles; `wait=spin` polls with interrupts unmasked. cpu 1 of op=sgi
// waits the same way. A watchdog on the virtual timer (10 s + 1 ms per iteration) ends a stuck run
// with a FAIL.
// Setup is the same for every N, so the host takes (t(N) - t(0)) / N as the cost of one operation:
// irqdiff's virtual time counts instructions, so wall-clock figures come from the host. Prints
// `BENCH: op=OP iters=N ticks=T` (T: CNTVCT ticks the loop took) and powers off.
// Run: qemu-system-aarch64 -machine virt,gic-version=3 -cpu max -smp 2 -nographic -kernel bench.bin
//        -append "op=lpi iters=65536"
#include "gic.h"

#define DEV 1
#define MSI_DEV_ASSIGNED 0x10u  // op=msi on irqdiff: --assign 0x10:1
#define MSI_DEV_CPU 0u          // op=msi without the test device: the CPU's requester ID
#define LPI (LPI_BASE + 64)
#define SPIN_LIMIT 100000000ul

static volatile unsigned count0;
static volatile int ready1, done, use_wfi = 1, watchdog;

static void on_timer(unsigned intid, int cpu) {
    (void)intid;
    (void)cpu;
    __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"(3ul));
    watchdog = 1;
}

static void on_lpi(unsigned intid, int cpu) {
    (void)intid;
    (void)cpu;
    ++count0;
}
static void on_sgi(unsigned intid, int cpu) {
    if (cpu == 0)
        ++count0;
    else
        gic_send_sgi(intid, 0);
}
static void on_ipi(unsigned intid, int cpu) {
    (void)intid;
    (void)cpu;
    __atomic_add_fetch(&count0, 1, __ATOMIC_RELEASE);
}

void secondary_main(int cpu) {
    (void)cpu;
    if (gic_init_cpu()) return;
    __atomic_store_n(&ready1, 1, __ATOMIC_RELEASE);
    if (use_wfi) {
        gic_idle_until(&done);
    } else {
        irq_unmask();
        while (!done) {
        }
        irq_mask();
    }
}

// Waits until count0 moves past `before`: WFI with PSTATE.I masked around the check (the loop
// runs masked), or polling with interrupts unmasked. Bounded by the watchdog / SPIN_LIMIT.
static int wait_past(unsigned before) {
    if (use_wfi) {
        while (count0 == before) {
            if (watchdog) return 0;
            __asm__ volatile("wfi" ::: "memory");
            irq_unmask();
            isb();
            irq_mask();
        }
        return 1;
    }
    irq_unmask();
    for (unsigned long i = 0; i < SPIN_LIMIT; ++i)
        if (count0 != before) {
            irq_mask();
            return 1;
        }
    irq_mask();
    return 0;
}

void guest_main(const void* dtb) {
    gic_heap_below(dtb);
    int ncpus = fdt_cpu_count(dtb);
    const char* args = fdt_bootargs(dtb);
    unsigned long iters = arg_ulong(args, "iters", 1024);
    const char* op = arg_is(args, "op", "lpi")    ? "lpi"
                     : arg_is(args, "op", "msi")  ? "msi"
                     : arg_is(args, "op", "sgi")  ? "sgi"
                     : arg_is(args, "op", "ipi")  ? "ipi"
                     : arg_is(args, "op", "eoi")  ? "eoi"
                     : arg_is(args, "op", "gicd") ? "gicd"
                                                  : 0;
    if (!op) {
        check(0, "bootargs '%s': op= must be lpi, msi, sgi, ipi, eoi or gicd", args);
        report_summary();
        return;
    }
    int msi = str_eq(op, "msi"), lpi = str_eq(op, "lpi") || msi;
    int ipi = str_eq(op, "ipi"), sgi = str_eq(op, "sgi") || ipi;
    int test_device = msi && fdt_has_compatible(dtb, "irqdiff,msi-test-device");
    uint32_t dev = !msi ? DEV : test_device ? MSI_DEV_ASSIGNED : MSI_DEV_CPU;
    use_wfi = !arg_is(args, "wait", "spin");
    if (gic_init_dist() || (lpi && (gic_lpi_init(14, 1) || its_init())) || gic_init_cpu()) {
        report_summary();
        return;
    }
    if (lpi) {
        gic_set_handler(LPI, on_lpi);
        its_mapd(dev, 1, its_alloc_itt(1), 1);
        its_mapc(0, 0, 1);
        its_mapti(dev, 0, LPI, 0);
        gic_lpi_config(LPI, 1);
        its_inv(dev, 0);
        its_sync(0);
        if (!its_wait("bench setup")) {
            report_summary();
            return;
        }
    }
    if (test_device && rd32(MSI_TEST + MSI_COUNT) < 1) {
        check(0, "op=msi on irqdiff's board needs an assigned device: --assign %#x:1", MSI_DEV_ASSIGNED);
        report_summary();
        return;
    }
    if (sgi) {
        if (ncpus < 2) {
            check(0, "op=%s needs -smp 2 (%d cpus)", op, ncpus);
            report_summary();
            return;
        }
        gic_set_handler(1, on_sgi);
        gic_set_handler(2, on_ipi);
        gic_set_handler(15, gic_wake_handler);
        long r = psci_hvc(PSCI_CPU_ON, cpu_mpidr(1), (unsigned long)secondary_entry, 1);
        unsigned long end = cntvct() + cntfrq() * 2;
        while (!__atomic_load_n(&ready1, __ATOMIC_ACQUIRE) && cntvct() < end) {
        }
        if (r || !ready1) {
            check(0, "cpu 1 did not come up (CPU_ON %ld)", r);
            report_summary();
            return;
        }
    }

    gic_set_handler(TIMER_PPI, on_timer);
    unsigned long t0 = cntvct(), n = 0;
    __asm__ volatile("msr cntv_cval_el0, %0; msr cntv_ctl_el0, %1; isb" ::"r"(t0 + cntfrq() * 10 + iters * (cntfrq() / 1000)),
                     "r"(1ul));
    int ok = 1;
    if (msi) {
        for (; n < iters && ok; ++n) {
            unsigned before = count0;
            if (test_device)
                msi_test_raise(dev, 0);
            else
                wr32(GITS_BASE + GITS_TRANSLATER, 0);  // EventID 0
            ok = wait_past(before);
        }
    } else if (lpi) {
        for (; n < iters && ok; ++n) {
            unsigned before = count0;
            its_int(dev, 0);
            ok = wait_past(before);
        }
    } else if (ipi) {
        for (; n < iters && ok; ++n) {
            unsigned before = count0;
            gic_send_sgi(2, 1);
            unsigned long i = 0;
            while (__atomic_load_n(&count0, __ATOMIC_ACQUIRE) == before && ++i < SPIN_LIMIT) {
            }
            ok = i < SPIN_LIMIT;
        }
    } else if (sgi) {
        for (; n < iters && ok; ++n) {
            unsigned before = count0;
            gic_send_sgi(1, 1);
            ok = wait_past(before);
        }
    } else if (str_eq(op, "eoi")) {
        for (; n < iters; ++n) gic_write_eoir(1023);
    } else {
        volatile uint32_t sink = 0;
        for (; n < iters; ++n) sink = rd32(GICD_BASE + GICD_IIDR);
        (void)sink;
    }
    unsigned long t1 = cntvct();
    __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"(0ul));
    printf_uart("BENCH: op=%s iters=%lu ticks=%lu wait=%s\n", op, iters, t1 - t0, use_wfi ? "wfi" : "spin");
    if (msi && test_device)
        check(iters == 0 || rd32(MSI_TEST + MSI_FORWARDED) == 1, "op=msi: device %#x's MSI is a forwarded vLPI",
              MSI_DEV_ASSIGNED);
    if (lpi || sgi)
        check(ok && count0 == iters, "op=%s: %lu round trips, %u interrupts counted", op, iters, count0);
    else
        check(n == iters && gic_unhandled[0] == 0, "op=%s: %lu iterations, nothing acknowledged", op, n);
    if (sgi) {
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
        gic_send_sgi(15, 1);
    }
    report_summary();
}
