// Stub: replaced by the x86 guest program (issue 7).
    .text
    .global _start, idle
_start:
idle:
    jmp idle
