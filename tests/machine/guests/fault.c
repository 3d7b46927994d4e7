// Deliberate guest faults (docs/machine.md "Fault reports"); bootargs picks one: undef (an
// undefined instruction, the default), unmapped (a read where nothing is mapped), gic (a GICD
// read, which phase 1 reports as "no GIC model attached"), smc (SMC under --psci hvc), runaway
// (a loop that never ends: the --max-insns budget stops it).
#include "lib.h"

void secondary_main(int cpu) { (void)cpu; }

void guest_main(const void* dtb) {
    const char* what = fdt_bootargs(dtb);
    printf_uart("fault guest: %s\n", *what ? what : "undef");
    if (str_eq(what, "unmapped")) {
        (void)*(volatile uint32_t*)0x20000000ul;
    } else if (str_eq(what, "gic")) {
        (void)*(volatile uint32_t*)0x08000004ul;  // GICD_TYPER
    } else if (str_eq(what, "smc")) {
        psci_smc(PSCI_VERSION, 0, 0, 0);
    } else if (str_eq(what, "runaway")) {
        for (;;) __asm__ volatile("nop");
    } else {
        __asm__ volatile(".inst 0x00000000");  // UDF #0
    }
    puts_uart("FAIL: the fault did not stop the guest\n");
}
