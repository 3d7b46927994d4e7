// Stub: replaced by the arm guest program (issue 7).
    .text
    .global _start, idle
_start:
idle:
    b
// Stub: replaced by the idle guest program (issue 7).
    .text
    .global _start, idle
_start:
idle:
    
