# The x86-64 guest program the `guest: unicorn` x86 backend runs on every vCPU (issue 7): what a
# small kernel's interrupt code does, as real instructions in Unicorn Engine 2.0.1. It loads its
# own GDT and IDT, takes a stack, sets up its xAPIC through MMIO (SVR, DFR, LDR, TPR, the one-shot
# timer), honours the mailbox's mask word with CLI/STI and idles. Each interrupt enters through
# the IDT: a per-vector stub pushes the vector and jumps to one common handler, which reads the
# xAPIC ISR word holding its vector, appends {vector, timestamp} to its log, writes EOI, re-arms
# the timer after a timer interrupt, and returns with IRETQ.
#
# Boot protocol (x86_pi/guest/unicorn_guest.cc): each vCPU starts at `_start` in 64-bit mode with
# flat segments and CPL 0 (Unicorn's UC_MODE_64 reset state, reference/unicorn_2_0_1.md x86-64
# item 1) and RDI = its area in guest RAM (GuestAbi::area(v), 16-KiB aligned: mailbox, log,
# stack; core/guest_program.h). Nothing else is set for it. The glue writes the mailbox (mask 0,
# timer count) before `_start`.
#
# Finding its vCPU's area: the stack lives at the top of the area, so the area is the stack
# pointer rounded down to 16 KiB (as Linux's i386 current_thread_info() once found its task from
# %esp). `lea -1(%rsp)` keeps that right when RSP is exactly the (empty) stack's top.
#
# The xAPIC is at 0xFEE00000 (SDM Vol. 3A "Local APIC Register Address Map"); the glue maps it
# with uc_mmio_map and sends every access to the modelled CPU and KVM (x86-64 item 2). Its address
# does not fit a sign-extended 32-bit displacement, so it is loaded into a register first.
#
# Symbols the glue uses: _start, idle (every run ends when RIP gets there), poll (the idle loop's
# body: the glue resumes a vCPU there to make it look at its mailbox's mask word).
#
# Unicorn delivers no interrupts (x86-64 item 4): the glue performs the interrupt entry itself
# (aligned 64-bit frame SS, RSP, RFLAGS, CS, RIP; RFLAGS.IF cleared; RIP from the IDT gate) at
# `idle`, after setting the mailbox's clock word, and runs the handler until IRETQ returns to
# `idle`. RDTSC cannot be hooked (x86-64 item 3), so timestamps come from that clock word.

    # ---- constants ---------------------------------------------------------------------------
    .set APIC_BASE,     0xFEE00000
    .set APIC_TPR,      0x080
    .set APIC_EOI,      0x0B0
    .set APIC_LDR,      0x0D0
    .set APIC_DFR,      0x0E0
    .set APIC_SVR,      0x0F0
    .set APIC_ISR,      0x100      # ISR bits 32n..32n+31 at 0x100 + 0x10 n
    .set APIC_LVTT,     0x320
    .set APIC_TMICT,    0x380
    .set SVR_ENABLED,   0x1FF      # APIC software enable [8], spurious vector 0xFF
    .set DFR_FLAT,      0xFFFFFFFF # flat logical destinations
    .set TIMER_VECTOR,  0xEC       # Linux's LOCAL_TIMER_VECTOR; LVTT one-shot, unmasked

    # The vCPU's area (core/guest_program.h, GuestAbi).
    .set AREA_BYTES,    0x4000
    .set MB_MASK,       0x00       # u32, 1: RFLAGS.IF clear (written by the emulator)
    .set MB_INDEX,      0x04       # u32 vCPU index
    .set MB_CLOCK,      0x08       # u64 the emulator's clock, set before each interrupt entry
    .set MB_TIMER,      0x10       # u32 timer initial count (0: no timer on this vCPU)
    .set LOG_HEAD,      0x40       # u32 entries ever written (written by this program)
    .set LOG,           0x80       # 512 entries of {u32 vector, u32 0, u64 timestamp}
    .set LOG_ENTRIES,   512
    .set LOG_ENTRY,     16

    # GDT selectors: entry 1 the 64-bit code segment, entry 2 the data segment.
    .set KERNEL_CS,     0x08
    .set KERNEL_DS,     0x10
    # The low quadword of an IDT gate (SDM Vol. 3A §6.14.1, "64-Bit IDT Gate Descriptors"):
    # offset[15:0] at 15:0, selector at 31:16, IST 0 at 34:32, type 0xE (64-bit interrupt gate)
    # at 43:40, DPL 0 at 46:45, P at 47, offset[31:16] at 63:48; the high quadword holds
    # offset[63:32] (and reserved zeros).
    .set GATE_ATTRS,    (0x8E << 40) | (KERNEL_CS << 16)
    .set STUB_BYTES,    16

    .macro this_area reg           # \reg = this vCPU's area (see the file comment)
    lea -1(%rsp), \reg
    and $-AREA_BYTES, \reg
    .endm

    .text
    .global _start, idle, poll

# ---- boot ------------------------------------------------------------------------------------
_start:
    lea AREA_BYTES(%rdi), %rsp     # the stack: top of this vCPU's area
    mov %rdi, %rbx                 # rbx = the area for the rest of boot

    # Our own GDT, then CS reloaded from it with a far return (IRETQ checks CS and SS against
    # the GDT; Unicorn's reset segments have none, x86-64 item 1).
    lgdt gdt_ptr(%rip)
    pushq $KERNEL_CS
    lea 1f(%rip), %rax
    pushq %rax
    lretq
1:  mov $KERNEL_DS, %eax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss

    # The IDT: gate n -> stub n, for all 256 vectors. Every vCPU writes the same shared table
    # (the writes are idempotent), then loads it.
    lea idt(%rip), %rdi
    lea vector_stubs(%rip), %rsi
    xor %ecx, %ecx
2:  mov %rsi, %rax
    movzwl %si, %edx               # offset[15:0]
    shr $16, %rax
    movzwl %ax, %r8d
    shl $48, %r8                   # offset[31:16] at 63:48
    or %r8, %rdx
    movabs $GATE_ATTRS, %r8
    or %r8, %rdx
    mov %rdx, (%rdi)
    mov %rsi, %rax
    shr $32, %rax                  # offset[63:32]
    mov %rax, 8(%rdi)
    add $16, %rdi
    add $STUB_BYTES, %rsi
    inc %ecx
    cmp $256, %ecx
    jb 2b
    lidt idt_ptr(%rip)

    # The xAPIC (what Linux's setup_local_APIC does, in xAPIC mode): software-enable it with
    # spurious vector 0xFF, flat logical mode with logical ID 1 << (index % 8), accept every
    # priority (TPR 0), and arm the one-shot timer if the mailbox gives a count.
    mov $APIC_BASE, %esi
    movl $SVR_ENABLED, APIC_SVR(%rsi)
    movl $DFR_FLAT, APIC_DFR(%rsi)
    mov MB_INDEX(%rbx), %ecx
    and $7, %ecx
    mov $1, %eax
    shl %cl, %eax
    shl $24, %eax                  # LDR logical ID [31:24]
    mov %eax, APIC_LDR(%rsi)
    movl $0, APIC_TPR(%rsi)
    mov MB_TIMER(%rbx), %eax
    test %eax, %eax
    jz poll
    movl $TIMER_VECTOR, APIC_LVTT(%rsi)
    mov %eax, APIC_TMICT(%rsi)
    jmp poll

# ---- the idle loop ---------------------------------------------------------------------------
# The mailbox's mask word decides RFLAGS.IF: 1 -> CLI, 0 -> STI. Then `idle`, where every run
# ends and where the glue enters interrupts.
poll:
    this_area %rax
    cmpl $0, MB_MASK(%rax)
    je 1f
    cli
    jmp idle
1:  sti
    nop                            # STI blocks interrupts until after the next instruction
                                   # (SDM Vol. 2B, STI): `idle` is past that shadow
idle:
    jmp poll

# ---- interrupts ------------------------------------------------------------------------------
# One 16-byte stub per vector: push the vector, join the common handler (as Linux's
# irq_entries_start does). The glue's frame has no error code (external interrupts push none).
    .balign STUB_BYTES
vector_stubs:
    .set vector, 0
    .rept 256
    .balign STUB_BYTES
    pushq $vector
    jmp interrupt_common
    .set vector, vector + 1
    .endr

# Stack at entry: vector, RIP, CS, RFLAGS, RSP, SS. RFLAGS.IF is 0 (interrupt gate).
interrupt_common:
    push %rax
    push %rcx
    push %rdx
    push %rbx
    push %rsi
    mov 40(%rsp), %ecx             # the vector (above the five saved registers)
    this_area %rbx
    mov $APIC_BASE, %esi

    # Is it in service? Read the ISR word holding the vector's bit. A vector not in service is
    # logged with bit 8 set, which the glue reports as a fault.
    mov %ecx, %eax
    shr $5, %eax
    shl $4, %eax
    mov APIC_ISR(%rsi,%rax), %eax
    mov %ecx, %edx
    bt %ecx, %eax                  # bit (vector % 32)
    jc 1f
    or $0x100, %edx
1:
    # Append {vector, 0, clock} at slot head % 512, then publish it: head += 1.
    mov LOG_HEAD(%rbx), %eax
    and $(LOG_ENTRIES - 1), %eax
    shl $4, %eax                   # * LOG_ENTRY
    lea LOG(%rbx,%rax), %rax
    mov %edx, (%rax)
    movl $0, 4(%rax)
    mov MB_CLOCK(%rbx), %rdx
    mov %rdx, 8(%rax)
    incl LOG_HEAD(%rbx)

    # End of interrupt, then (a timer interrupt) the next tick, in the order of Linux's
    # sysvec_apic_timer_interrupt: EOI first, then the clock-event handler re-arms the timer.
    movl $0, APIC_EOI(%rsi)
    cmp $TIMER_VECTOR, %ecx
    jne 2f
    mov MB_TIMER(%rbx), %eax
    test %eax, %eax
    jz 2f
    mov %eax, APIC_TMICT(%rsi)
2:
    pop %rsi
    pop %rbx
    pop %rdx
    pop %rcx
    pop %rax
    add $8, %rsp                   # the vector
    iretq

# ---- tables ----------------------------------------------------------------------------------
    .data
    .balign 4096                   # tables off the code's pages: writing the IDT at boot does not
                                   # make Unicorn (QEMU's TCG) discard translated code
gdt:
    .quad 0                        # null
    .quad 0x00209A0000000000       # 0x08: 64-bit code, present, DPL 0 (L=1, D=0)
    .quad 0x0000920000000000       # 0x10: data, present, writable
gdt_end:
    .balign 8
gdt_ptr:
    .word gdt_end - gdt - 1
    .quad gdt
    .balign 8
idt_ptr:
    .word 256 * 16 - 1
    .quad idt
    .balign 16
    .global idt
idt:                               # 256 gates of 16 bytes, filled at boot
    .fill 256 * 16, 1, 0
