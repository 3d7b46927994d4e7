// WFI woken by a doorbell (issue 16 item 8; docs/machine.md "Interrupt controller"). Run with
// `--smp 2 --assign 0x10:1`: DeviceID 0x10 is a passthrough (VFIO) device whose event 0 the guest
// maps to an LPI on CPU 0, so KVM forwards it as a vLPI (kvm_vgic_v4_set_forwarding). CPU 0 then
// waits in WFI; KVM blocks the vCPU (kvm_vcpu_block -> vgic_v4_put with the doorbell enabled, so
// the vPE is no longer resident). CPU 1 sees CPU 0 waiting and makes the device raise the MSI
// through the MSI test device: the host ITS sets the bit in the VPT of a non-resident vPE, the
// redistributor rings the vPE's doorbell (GICv4.1: the default doorbell), KVM's doorbell handler
// (vgic_v4_doorbell_handler) kicks the vCPU, and CPU 0 wakes and takes the vLPI. Repeated
// `rounds=N` times (default 8); prints `doorbell: round r taken k` and a summary line.
// Not for QEMU: its virt board has no MSI test device (the guest SKIPs without one).
#include "gic.h"

#define DEV 0x10u
#define LPI (LPI_BASE + 32)
#define MAX_ROUNDS 256u

static volatile unsigned taken;
static volatile int ready1, waiting, round_go, done;

static void on_lpi(unsigned intid, int cpu) {
    (void)intid;
    (void)cpu;
    __atomic_add_fetch(&taken, 1, __ATOMIC_RELEASE);
}
// gic_wait's condition, checked with PSTATE.I masked right before each WFI: CPU 0 says it waits.
static int taken_past(void* before) {
    __atomic_store_n(&waiting, 1, __ATOMIC_RELEASE);
    return taken != *(unsigned*)before;
}

// CPU 1: for each round, waits until CPU 0 says it is about to wait, then raises the MSI.
void secondary_main(int cpu) {
    (void)cpu;
    if (gic_init_cpu()) return;
    __atomic_store_n(&ready1, 1, __ATOMIC_RELEASE);
    for (;;) {
        while (!__atomic_load_n(&round_go, __ATOMIC_ACQUIRE) && !done) {
        }
        if (done) break;
        while (!__atomic_load_n(&waiting, __ATOMIC_ACQUIRE)) {
        }
        gic_spin_us(20);  // CPU 0 is in WFI by now (on irqdiff: its turn ended at the WFI)
        __atomic_store_n(&round_go, 0, __ATOMIC_RELEASE);
        msi_test_raise(DEV, 0);
    }
}

void guest_main(const void* dtb) {
    int ncpus = fdt_cpu_count(dtb);
    const char* args = fdt_bootargs(dtb);
    unsigned rounds = (unsigned)arg_ulong(args, "rounds", 8);
    if (rounds < 1) rounds = 1;
    if (rounds > MAX_ROUNDS) rounds = MAX_ROUNDS;
    printf_uart("doorbell: %d cpus, device %#x event 0 -> LPI %u on cpu 0, %u rounds\n", ncpus, DEV, LPI, rounds);
    if (!fdt_has_compatible(dtb, "irqdiff,msi-test-device")) {
        skip("no irqdiff,msi-test-device in the device tree (this board is not irqdiff's)");
        report_summary();
        return;
    }
    if (ncpus < 2) {
        check(0, "needs --smp 2 or more (%d cpus)", ncpus);
        report_summary();
        return;
    }
    if (gic_init_dist() || gic_lpi_init(14, ncpus) || its_init() || gic_init_cpu()) {
        report_summary();
        return;
    }
    if (rd32(MSI_TEST + MSI_COUNT) < 1) {
        check(0, "the MSI test device needs an assigned device: --assign %#x:1", DEV);
        report_summary();
        return;
    }
    gic_set_handler(LPI, on_lpi);
    gic_set_handler(15, gic_wake_handler);
    its_mapd(DEV, 1, its_alloc_itt(1), 1);
    its_mapc(0, 0, 1);
    its_mapti(DEV, 0, LPI, 0);
    gic_lpi_config(LPI, 1);
    its_inv(DEV, 0);
    its_sync(0);
    int mapped = its_wait("MAPD/MAPC/MAPTI/INV");
    check(mapped, "device %#x event 0 mapped to LPI %u", DEV, LPI);
    if (!mapped) {
        report_summary();
        return;
    }
    long r = psci_hvc(PSCI_CPU_ON, cpu_mpidr(1), (unsigned long)secondary_entry, 1);
    unsigned long end = cntvct() + cntfrq();
    while (!__atomic_load_n(&ready1, __ATOMIC_ACQUIRE) && cntvct() < end) {
    }
    check(r == 0 && ready1, "cpu 1 came up (CPU_ON %ld)", r);
    if (r != 0 || !ready1) {
        report_summary();
        return;
    }

    unsigned good = 0;
    for (unsigned i = 0; i < rounds; ++i) {
        unsigned before = taken;
        __atomic_store_n(&waiting, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&round_go, 1, __ATOMIC_RELEASE);
        // gic_wait: WFI with PSTATE.I masked around the check, as an OS idles (no lost wake-up),
        // bounded by the virtual timer so a lost doorbell is a FAIL, not a hang.
        gic_wait(taken_past, &before, 100000);
        unsigned got = taken - before;
        printf_uart("doorbell: round %u taken %u\n", i, got);
        good += got == 1;
    }
    check(good == rounds, "each of %u MSIs raised while cpu 0 waited in WFI woke it and was taken once (%u)", rounds,
          good);
    check(rd32(MSI_TEST + MSI_FORWARDED) == 1, "device %#x event 0 is a forwarded vLPI", DEV);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    report_summary();
}
