// The AArch64 guest program of the `arm` backend (guest: unicorn; docs/guests.md). Each vCPU runs
// it in its own Unicorn engine at non-secure EL1h with the MMU off (flat physical addresses). It
// is the smallest GICv3 guest that takes interrupts the way Linux does: vectors, a stack, the CPU
// interface opened with ICC_PMR_EL1 and ICC_IGRPEN1_EL1, PSTATE.I from the emulator's mailbox, and
// an IRQ handler that acknowledges with ICC_IAR1_EL1 until 1023, logs each INTID with a timestamp,
// and ends each with ICC_EOIR1_EL1 (gic_handle_irq's loop, EOImode 0).
//
// Every ICC_* access traps to the emulator's MRS/MSR hook (arm_gic/guest/unicorn_guest.cc), which
// routes it to the modelled CPU interface of the machine the VM runs on; CNTVCT_EL0 reads return
// the emulator's deterministic clock (reference/unicorn_2_0_1.md, AArch64 items 1, 2 and 8).
// Unicorn delivers no exceptions: the emulator enters the IRQ vector itself when the model says
// an interrupt is deliverable and PSTATE.I is clear (item 5).
//
// Boot protocol (what the emulator sets before `_start`):
//   x0     this vCPU's area, GuestAbi::area(v) = 0x210000 + v * 0x4000 (core/guest_program.h)
//   PC     _start; PSTATE EL1h (the engine's reset state, SCR_EL3.NS=1, HCR_EL2.RW=1)
// The program keeps the area's address in TPIDR_EL1 (the handler finds its log there) and puts
// its stack at the area's top. Runs end at `idle`; to resume the idle loop the emulator does what
// the branch at `idle` does (PC = mailbox_poll), so the loop re-reads the mailbox and comes back.

// A vCPU's area (GuestAbi in core/guest_program.h).
    .equ MB_MASK,      0x00     // u32: 1 = run with PSTATE.I set (the emulator writes it)
    .equ LOG_HEAD,     0x40     // u32: entries ever written (the guest writes it)
    .equ LOG,          0x80     // 512 entries of 16 bytes: {u32 INTID, u32 0, u64 timestamp}
    .equ LOG_SLOTS,    512
    .equ STACK_TOP,    0x4000
    .equ SPURIOUS,     1023     // ICC_IAR1_EL1 when nothing is pending

    .text
    .global _start, idle, mailbox_poll, vectors, irq_handler

// ---- boot ---------------------------------------------------------------------------------------
_start:
    msr     tpidr_el1, x0           // the vCPU's area, for the handler
    add     x1, x0, #STACK_TOP
    mov     sp, x1                  // SP_EL1 (EL1h): the handler's frames go here
    adr     x1, vectors
    msr     vbar_el1, x1            // a QEMU register: the hook lets QEMU write it
    isb
    mov     x1, #0xff
    msr     icc_pmr_el1, x1         // priority mask: let every priority through
    mov     x1, #1
    msr     icc_igrpen1_el1, x1     // enable Group 1 (vLPIs are Group 1)
    isb
    // fall through: the idle loop sets PSTATE.I from the mailbox

// ---- the idle loop --------------------------------------------------------------------------------
// Between runs the vCPU sits at `idle`. After a mask or unmask step the emulator resumes it at
// `mailbox_poll` (where the branch at `idle` goes) and it comes back to `idle` through the
// mailbox check, so the guest itself sets or clears PSTATE.I; an interrupt the emulator injects
// returns (ERET) to `idle` too.
mailbox_poll:
    mrs     x0, tpidr_el1
    ldr     w1, [x0, #MB_MASK]
    cbz     w1, 1f
    msr     daifset, #2             // masked: PSTATE.I = 1
    b       idle
1:  msr     daifclr, #2             // unmasked: PSTATE.I = 0
idle:
    b       mailbox_poll

// ---- the IRQ handler ------------------------------------------------------------------------------
// Entered at VBAR_EL1 + 0x280 (IRQ, current EL with SP_ELx) with PSTATE = EL1h and DAIF masked,
// ELR_EL1 = the interrupted PC and SPSR_EL1 = its PSTATE. Saves what it uses, so the interrupted
// code sees no change. (Few stores: under Unicorn 2.0.1 every store to guest RAM takes QEMU's
// slow self-modifying-code check.)
irq_handler:
    stp     x0, x1, [sp, #-32]!
    stp     x2, x3, [sp, #16]
    mrs     x0, tpidr_el1           // this vCPU's area
2:  mrs     x1, icc_iar1_el1        // acknowledge the highest-priority pending interrupt
    cmp     x1, #SPURIOUS
    b.eq    3f                      // nothing (left) to take
    ldr     w3, [x0, #LOG_HEAD]
    and     w3, w3, #(LOG_SLOTS - 1)
    add     x3, x0, x3, lsl #4      // the entry is at area + LOG + slot * 16
    mrs     x2, cntvct_el0          // timestamp: the emulator's virtual clock
    stp     x1, x2, [x3, #LOG]      // {u32 INTID, u32 0} (IAR1[63:24] read as 0), u64 timestamp
    ldr     w3, [x0, #LOG_HEAD]
    add     w3, w3, #1
    str     w3, [x0, #LOG_HEAD]     // publish the entry
    msr     icc_eoir1_el1, x1       // priority drop and deactivation (EOImode 0)
    b       2b
3:  ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp], #32
    eret

// ---- the vector table -----------------------------------------------------------------------------
// 16 entries of 0x80 bytes: {synchronous, IRQ, FIQ, SError} taken from {the current EL with SP_EL0,
// the current EL with SP_ELx, a lower EL in AArch64, a lower EL in AArch32}. Only the IRQ entry
// from EL1h is ever entered (by the emulator); the others stop the run with BRK #entry, which the
// emulator reports as a GuestFault.
    .balign 2048
vectors:
    .irp entry, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    .if \entry == 5
    b       irq_handler             // +0x280: IRQ, current EL with SP_ELx
    .else
    brk     #\entry
    .endif
    .endr
    .balign 0x80
