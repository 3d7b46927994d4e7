// IRQ entry through the board's interrupt-controller interface, run by machine_tests against a
// test-only controller (FakeGic in guests_test.cc) that signals the virtual timer's PPI 27: the
// guest sets VBAR_EL1, arms CNTV, unmasks IRQs and waits in WFI; the handler at VBAR_EL1 + 0x280
// acknowledges with ICC_IAR1_EL1, masks the timer, EOIs and returns with ERET. Under phase 1's
// NoGic the ICC access is a fault (there is no GIC to take the interrupt from).
#include "lib.h"

volatile unsigned long irq_count, irq_intid, irq_elr, irq_spsr;

__asm__(
    "    .section .text.vectors, \"ax\"\n"
    "    .balign 2048\n"
    "    .global vectors\n"
    "vectors:\n"
    "    .skip 0x280\n"
    "    stp x0, x1, [sp, #-16]!\n"
    "    mrs x0, s3_0_c12_c12_0\n"  // ICC_IAR1_EL1
    "    adrp x1, irq_intid\n"
    "    str x0, [x1, :lo12:irq_intid]\n"
    "    mov x1, #3\n"
    "    msr cntv_ctl_el0, x1\n"     // ENABLE | IMASK: the line drops
    "    msr s3_0_c12_c12_1, x0\n"  // ICC_EOIR1_EL1
    "    mrs x0, elr_el1\n"
    "    adrp x1, irq_elr\n"
    "    str x0, [x1, :lo12:irq_elr]\n"
    "    mrs x0, spsr_el1\n"
    "    adrp x1, irq_spsr\n"
    "    str x0, [x1, :lo12:irq_spsr]\n"
    "    adrp x1, irq_count\n"
    "    ldr x0, [x1, :lo12:irq_count]\n"
    "    add x0, x0, #1\n"
    "    str x0, [x1, :lo12:irq_count]\n"
    "    ldp x0, x1, [sp], #16\n"
    "    eret\n"
    "    .text\n");
extern char vectors[];

void secondary_main(int cpu) { (void)cpu; }

void guest_main(const void* dtb) {
    (void)dtb;
    __asm__ volatile("msr vbar_el1, %0; isb" ::"r"(vectors));
    unsigned long now;
    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(now));
    __asm__ volatile("msr cntv_cval_el0, %0" ::"r"(now + 100000));
    __asm__ volatile("msr cntv_ctl_el0, %0" ::"r"(1ul));
    __asm__ volatile("msr daifclr, #2");
    while (!irq_count) __asm__ volatile("wfi");
    __asm__ volatile("msr daifset, #2");
    check(irq_count == 1, "one IRQ taken (%lu)", irq_count);
    check(irq_intid == 27, "ICC_IAR1_EL1 read the virtual timer's INTID 27 (%lu)", irq_intid);
    check((irq_spsr & 0x80) == 0 && (irq_spsr & 0xf) == 5, "SPSR_EL1 holds the interrupted EL1h, I clear (%lx)",
          irq_spsr);
    check(irq_elr >= 0x40080000ul, "ELR_EL1 is the interrupted PC (%lx)", irq_elr);
    report_summary();
}
