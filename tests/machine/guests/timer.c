// The generic timer on virtual time (docs/machine.md "Virtual time"): CNTFRQ, CNTVCT advancing
// with retired instructions, CNTV_TVAL/CVAL/CTL, and WFI with a time jump to the deadline (phase
// 1: the timer output line wakes WFI without a GIC, a placeholder policy; no IRQ is taken).
#include "lib.h"

#define READ(reg)                                       \
    ({                                                  \
        unsigned long v_;                               \
        __asm__ volatile("mrs %0, " #reg : "=r"(v_)); \
        v_;                                             \
    })
#define WRITE(reg, v) __asm__ volatile("msr " #reg ", %0" ::"r"((unsigned long)(v)))

void secondary_main(int cpu) { (void)cpu; }

void guest_main(const void* dtb) {
    (void)dtb;
    unsigned long frq = READ(cntfrq_el0);
    check(frq == 62500000, "CNTFRQ_EL0 is 62.5 MHz (%lu)", frq);
    unsigned long t0 = READ(cntvct_el0);
    for (volatile int i = 0; i < 1000; ++i) {
    }
    unsigned long t1 = READ(cntvct_el0);
    check(t1 > t0 + 1000, "CNTVCT_EL0 advances with the instructions run (%lu -> %lu)", t0, t1);
    check(READ(cntpct_el0) >= t1, "CNTPCT_EL0 follows CNTVCT_EL0 (CNTVOFF = 0)");

    WRITE(cntv_ctl_el0, 0);
    WRITE(cntv_cval_el0, t1 + 5000000);
    check(READ(cntv_cval_el0) == t1 + 5000000, "CNTV_CVAL_EL0 reads back");
    long tval = (int)READ(cntv_tval_el0);
    check(tval > 0 && tval <= 5000000, "CNTV_TVAL_EL0 = CVAL - CNTVCT (%ld)", tval);
    check((READ(cntv_ctl_el0) & 4) == 0, "ISTATUS clear before the deadline");

    // reference/arm_virt_machine.md §1, §7: GICD 0x0800_0000, CPU 0's SGI_base 0x080B_0000.
    *(volatile unsigned*)0x08000000ul = 2;                                // GICD_CTLR.EnableGrp1A
    *(volatile unsigned char*)(0x080B0000ul + 0x400 + 27) = 0x80;         // GICR_IPRIORITYR
    *(volatile unsigned*)(0x080B0000ul + 0x100) = 1u << 27;               // GICR_ISENABLER0
    WRITE(s3_0_c4_c6_0, 0xF0);                                            // ICC_PMR_EL1
    WRITE(s3_0_c12_c12_7, 1);                                             // ICC_IGRPEN1_EL1
    // Arm the virtual timer 1 s of virtual time ahead (62.5 M ticks) and wait in WFI: the run
    // would need 62.5 M instructions to get there; time jumps instead.
    unsigned long start = READ(cntvct_el0);
    WRITE(cntv_tval_el0, frq);
    WRITE(cntv_ctl_el0, 1);  // ENABLE, IMASK clear
    __asm__ volatile("wfi");
    unsigned long woke = READ(cntvct_el0);
    check(woke >= start + frq, "WFI woke at the deadline (+%lu ticks)", woke - start);
    check(woke < start + frq + 100000, "and no later than one quantum after it (+%lu)", woke - start);
    check((READ(cntv_ctl_el0) & 5) == 5, "CNTV_CTL_EL0 shows ENABLE and ISTATUS");
    WRITE(cntv_ctl_el0, 3);  // mask the output
    check((READ(cntv_ctl_el0) & 7) == 7, "IMASK set, ISTATUS still set");
    WRITE(cntv_ctl_el0, 0);
    report_summary();
}
