// The test guests' freestanding library: PL011 output, a small printf, PSCI calls, a device-tree
// reader, and the PASS:/FAIL:/SUMMARY: report convention (reference/arm_virt_machine.md §8).
#pragma once

#include <stdarg.h>
#include <stdint.h>

#define STACK_BYTES 0x2000
#define MAX_CPUS 64

// PSCI (reference/arm_virt_machine.md §4).
#define PSCI_VERSION 0x84000000u
#define PSCI_CPU_SUSPEND 0xC4000001u
#define PSCI_CPU_OFF 0x84000002u
#define PSCI_CPU_ON 0xC4000003u
#define PSCI_CPU_ON32 0x84000003u
#define PSCI_AFFINITY_INFO 0xC4000004u
#define PSCI_MIGRATE_INFO_TYPE 0x84000006u
#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u
#define PSCI_FEATURES 0x8400000Au

long psci_hvc(unsigned long fid, unsigned long a1, unsigned long a2, unsigned long a3);
long psci_smc(unsigned long fid, unsigned long a1, unsigned long a2, unsigned long a3);
void secondary_entry(void);
void system_off(void) __attribute__((noreturn));

void putc_uart(char c);
void puts_uart(const char* s);
void printf_uart(const char* fmt, ...);  // %d %u %x %#x %s %c %%, a width, 0-padding, l
int getc_uart(void);  // -1 when no byte is waiting

// The device tree: the number of /cpus/cpu@ nodes, /chosen/bootargs ("" when absent).
int fdt_cpu_count(const void* dtb);
const char* fdt_bootargs(const void* dtb);
// 1 when some node's "compatible" list holds `compat` (e.g. "irqdiff,msi-test-device").
int fdt_has_compatible(const void* dtb, const char* compat);
int str_eq(const char* a, const char* b);

// MPIDR affinity of CPU n on this board (Aff0 = n % 16, Aff1 = n / 16; docs/machine.md).
static inline unsigned long cpu_mpidr(int n) { return ((unsigned long)(n / 16) << 8) | (unsigned long)(n % 16); }
static inline unsigned long read_mpidr(void) {
    unsigned long v;
    __asm__ volatile("mrs %0, mpidr_el1" : "=r"(v));
    return v;
}

void check(int ok, const char* fmt, ...);  // PASS:/FAIL: line
void skip(const char* fmt, ...);           // SKIP: line (counted in SUMMARY when there is one)
int report_summary(void);                  // SUMMARY: and EXIT: lines; returns the failure count

// Bootargs: "key=value" tokens separated by spaces (reference/arm_virt_machine.md §3 /chosen).
unsigned long arg_ulong(const char* args, const char* key, unsigned long dflt);
int arg_is(const char* args, const char* key, const char* value);
