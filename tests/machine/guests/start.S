#define STACK_BYTES 0x2000
// Entry points of the machine-mode test guests (docs/machine.md "Test guests"): the primary
// enters at _start with x0 = the DTB (reference/arm_virt_machine.md §2), a secondary at
// secondary_entry with x0 = the context id PSCI CPU_ON passed (= its CPU index here, §4).
    .section .text.boot, "ax"
    .global _start
_start:
    adrp x1, stacks
    add x1, x1, :lo12:stacks
    add x1, x1, #STACK_BYTES
    mov sp, x1
    adrp x1, __bss_start
    add x1, x1, :lo12:__bss_start
    adrp x2, __bss_end
    add x2, x2, :lo12:__bss_end
1:  cmp x1, x2
    b.hs 2f
    str xzr, [x1], #8
    b 1b
2:  bl guest_main          // x0 = DTB
    bl system_off
3:  wfi
    b 3b

    .global secondary_entry
secondary_entry:           // x0 = CPU index (context id)
    adrp x1, stacks
    add x1, x1, :lo12:stacks
    add x2, x0, #1
    mov x3, #STACK_BYTES
    madd x1, x2, x3, x1
    mov sp, x1
    bl secondary_main
4:  wfi
    b 4b

    .global psci_hvc
psci_hvc:                  // x0 = function id, x1..x3 = arguments -> x0
    hvc #0
    ret

    .global psci_smc
psci_smc:
    smc #0
    ret
