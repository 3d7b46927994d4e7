// Assigned-device MSIs pending across a migration (issue 16 items 5, 8; docs/machine.md "MSI test
// device"). Run with `--assign 0x10:N`: DeviceID 0x10 is a passthrough (VFIO) device, so once its
// events are mapped KVM forwards them as vLPIs (kvm_vgic_v4_set_forwarding). The guest maps N
// events to LPIs (LPI i on CPU i % ncpus), checks that an MSI the device raises through the
// MSI test device is taken once and forwarded, then masks the first P LPIs (configuration enable
// 0 + INV), makes the device raise them (a disabled vLPI stays pending in the VPT), prints the
// migration prompt (reference/arm_virt_machine.md §8), waits for the key, unmasks them and counts
// how often each is taken. It prints `msi_migrate: LPI n taken k` for each: across the migration
// the VPT's pending state goes guest pending table -> pending_latch -> (the transfer point,
// arm.transfer) -> VPT, and the count is what the model predicts for the chosen transfer point.
// bootargs: events=N pending=P wait=MS (defaults 4, 2, 3000). Not for QEMU: its virt board has no
// MSI test device (the guest SKIPs without one in the device tree).
#include "gic.h"

#define DEV 0x10u
#define LPI0 (LPI_BASE + 128)
#define MAX_EVENTS 64u

static int ncpus;
static volatile unsigned taken[MAX_EVENTS];
static volatile int done, ready[MAX_CPUS];

static void on_lpi(unsigned intid, int cpu) {
    (void)cpu;
    __atomic_add_fetch(&taken[intid - LPI0], 1, __ATOMIC_RELAXED);
}
static int never(void* p) {
    (void)p;
    return 0;
}

void secondary_main(int cpu) {
    if (gic_init_cpu()) return;
    __atomic_store_n(&ready[cpu], 1, __ATOMIC_RELEASE);  // KVM drops an MSI for a vCPU without EnableLPIs
    gic_idle_until(&done);
}

static void raise_msi(unsigned event) { msi_test_raise(DEV, event); }

struct one_arg {
    unsigned i;
};
static int taken_once(void* p) { return taken[((struct one_arg*)p)->i] >= 1; }

void guest_main(const void* dtb) {
    ncpus = fdt_cpu_count(dtb);
    if (ncpus < 1 || ncpus > MAX_CPUS) ncpus = 1;
    const char* args = fdt_bootargs(dtb);
    unsigned n = (unsigned)arg_ulong(args, "events", 4);
    unsigned p = (unsigned)arg_ulong(args, "pending", 2);
    unsigned long wait_ms = arg_ulong(args, "wait", 3000);
    if (n < 1) n = 1;
    if (n > MAX_EVENTS) n = MAX_EVENTS;
    if (p > n) p = n;
    unsigned bits = 1;
    while ((1u << bits) < n) ++bits;
    printf_uart("msi_migrate: %d cpus, device %#x with %u events (LPIs %u..%u), %u pending across the migration\n",
                ncpus, DEV, n, LPI0, LPI0 + n - 1, p);
    if (!fdt_has_compatible(dtb, "irqdiff,msi-test-device")) {
        skip("no irqdiff,msi-test-device in the device tree (this board is not irqdiff's)");
        report_summary();
        return;
    }
    if (gic_init_dist() || gic_lpi_init(14, ncpus) || its_init() || gic_init_cpu()) {
        report_summary();
        return;
    }
    check(rd32(MSI_TEST + MSI_COUNT) >= 1, "the MSI test device has an assigned device (--assign %#x:%u)", DEV, n);
    for (unsigned i = 0; i < n; ++i) gic_set_handler(LPI0 + i, on_lpi);
    gic_set_handler(15, gic_wake_handler);
    for (int c = 1; c < ncpus; ++c) psci_hvc(PSCI_CPU_ON, cpu_mpidr(c), (unsigned long)secondary_entry, (unsigned long)c);
    int all = 1;
    for (int c = 1; c < ncpus; ++c) {
        unsigned long end = cntvct() + cntfrq();
        while (!__atomic_load_n(&ready[c], __ATOMIC_ACQUIRE) && cntvct() < end) {
        }
        all &= ready[c];
    }
    check(all, "every cpu initialised its redistributor with EnableLPIs");

    unsigned long itt = its_alloc_itt(bits);
    its_mapd(DEV, bits, itt, 1);
    for (int c = 0; c < ncpus; ++c) its_mapc((unsigned)c, c, 1);
    for (unsigned i = 0; i < n; ++i) {
        its_mapti(DEV, i, LPI0 + i, (unsigned)(i % (unsigned)ncpus));
        gic_lpi_config(LPI0 + i, 1);
    }
    for (int c = 0; c < ncpus; ++c) its_invall((unsigned)c);
    for (int c = 0; c < ncpus; ++c) its_sync(c);
    check(its_wait("MAPD/MAPC/MAPTI/INVALL"), "%u events of device %#x mapped", n, DEV);

    // Before the migration: each event raised by the device is forwarded and taken once.
    for (unsigned i = 0; i < n; ++i) {
        raise_msi(i);
        struct one_arg a = {i};
        gic_wait(taken_once, &a, 100000);
        check(taken[i] == 1 && rd32(MSI_TEST + MSI_FORWARDED) == 1,
              "event %u: the device's MSI is forwarded (a vLPI) and taken once (%u)", i, taken[i]);
        taken[i] = 0;
    }

    // Mask P of them and let the device raise them: pending in the VPT.
    for (unsigned i = 0; i < p; ++i) {
        gic_lpi_config(LPI0 + i, 0);
        its_inv(DEV, i);
    }
    for (int c = 0; c < ncpus; ++c) its_sync(c);
    its_wait("disable + INV");
    for (unsigned i = 0; i < p; ++i) raise_msi(i);
    gic_spin_us(2000);
    unsigned early = 0;
    for (unsigned i = 0; i < p; ++i) early += taken[i];
    check(early == 0, "the %u masked events are pending, none taken before the migration (%u)", p, early);

    printf_uart("Now migrate the VM, then press a key to continue...\n");
    int key = -1;
    for (unsigned long t = 0; t < wait_ms && key < 0; ++t) {
        key = getc_uart();
        if (key < 0) gic_wait(never, 0, 1000);
    }
    if (key < 0) skip("no key within %lu ms: migration skipped, going on", wait_ms);

    for (unsigned i = 0; i < p; ++i) {
        gic_lpi_config(LPI0 + i, 1);
        its_inv(DEV, i);
    }
    for (int c = 0; c < ncpus; ++c) its_sync(c);
    its_wait("enable + INV");
    for (unsigned i = 0; i < p; ++i) {
        struct one_arg a = {i};
        gic_wait(taken_once, &a, 100000);
    }
    gic_spin_us(5000);
    for (unsigned i = 0; i < p; ++i) {
        printf_uart("msi_migrate: LPI %u taken %u\n", LPI0 + i, taken[i]);
        check(taken[i] == 1, "event %u pending across the migration: taken exactly once when unmasked (%u)", i,
              taken[i]);
    }
    // After the migration the device's MSIs are forwarded again.
    for (unsigned i = p; i < n; ++i) {
        raise_msi(i);
        struct one_arg a = {i};
        gic_wait(taken_once, &a, 100000);
        check(taken[i] == 1, "event %u raised after the migration: taken once (%u; forwarded %u)", i, taken[i],
              rd32(MSI_TEST + MSI_FORWARDED));
    }
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    if (ncpus > 1) gic_send_sgi_others(15);
    report_summary();
}
