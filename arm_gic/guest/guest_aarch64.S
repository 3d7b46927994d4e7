// Stub: replaced by the arm guest program (issue 7).
    .text
    .global _start, idle
_start:
idle:
    b idle
