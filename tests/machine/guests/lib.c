#include "lib.h"

#define UART_BASE 0x09000000ul  // QEMU virt PL011 (reference/arm_virt_machine.md §1)
#define UART_DR 0x000
#define UART_FR 0x018
#define UART_FR_RXFE (1u << 4)
#define UART_FR_TXFF (1u << 5)

unsigned char stacks[(MAX_CPUS + 1) * STACK_BYTES] __attribute__((aligned(16)));

static inline uint32_t mmio_read32(unsigned long a) { return *(volatile uint32_t*)a; }
static inline void mmio_write32(unsigned long a, uint32_t v) { *(volatile uint32_t*)a = v; }

void putc_uart(char c) {
    while (mmio_read32(UART_BASE + UART_FR) & UART_FR_TXFF) {
    }
    mmio_write32(UART_BASE + UART_DR, (unsigned char)c);
}

int getc_uart(void) {
    if (mmio_read32(UART_BASE + UART_FR) & UART_FR_RXFE) return -1;
    return (int)(mmio_read32(UART_BASE + UART_DR) & 0xFF);
}

void puts_uart(const char* s) {
    while (*s) putc_uart(*s++);
}

static void put_unsigned(unsigned long v, unsigned base, int width, char pad) {
    char buf[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (n < width) {
        putc_uart(pad);
        --width;
    }
    while (n) putc_uart(buf[--n]);
}

static void vprintf_uart(const char* fmt, va_list ap) {
    for (; *fmt; ++fmt) {
        if (*fmt != '%') {
            putc_uart(*fmt);
            continue;
        }
        ++fmt;
        char pad = ' ';
        int width = 0, lng = 0, alt = 0;
        if (*fmt == '#') alt = 1, ++fmt;  // %#x: 0x prefix
        if (*fmt == '0') pad = '0', ++fmt;
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') lng = 1, ++fmt;
        switch (*fmt) {
            case 'd': {
                long v = lng ? va_arg(ap, long) : va_arg(ap, int);
                if (v < 0) putc_uart('-'), v = -v;
                put_unsigned((unsigned long)v, 10, width, pad);
                break;
            }
            case 'u': put_unsigned(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, width, pad); break;
            case 'x':
                if (alt) puts_uart("0x");
                put_unsigned(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, width, pad);
                break;
            case 's': puts_uart(va_arg(ap, const char*)); break;
            case 'c': putc_uart((char)va_arg(ap, int)); break;
            case '%': putc_uart('%'); break;
            default: putc_uart('?'); break;
        }
    }
}

// One CPU prints a whole line at a time (ldaxr/stlxr spinlock).
static volatile int print_lock;
static void lock(void) {
    while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE)) {
    }
}
static void unlock(void) { __atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE); }

void printf_uart(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lock();
    vprintf_uart(fmt, ap);
    unlock();
    va_end(ap);
}

void system_off(void) {
    psci_hvc(PSCI_SYSTEM_OFF, 0, 0, 0);
    for (;;) __asm__ volatile("wfi");
}

// ---- device tree (Devicetree Specification v0.4 §5: header, structure block tokens) -----------
static uint32_t be32(const void* p) {
    const unsigned char* b = p;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}
static int str_len(const char* s) {
    int n = 0;
    while (s[n]) ++n;
    return n;
}
int str_eq(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}
static int starts_with(const char* s, const char* p) {
    while (*p)
        if (*s++ != *p++) return 0;
    return 1;
}

#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9

// Walks the structure block; for each node at `depth` whose path parent is `parent`, counts
// names starting with `prefix`; returns the value of property `prop` of node `parent` if asked.
static const char* fdt_walk(const void* dtb, const char* parent, const char* prefix, int* count, const char* prop) {
    const char* base = dtb;
    if (be32(base) != 0xd00dfeed) return 0;
    const char* p = base + be32(base + 8);
    const char* strings = base + be32(base + 12);
    int depth = 0, in_parent = 0;
    for (;;) {
        uint32_t tok = be32(p);
        p += 4;
        if (tok == FDT_BEGIN_NODE) {
            const char* name = p;
            p += (str_len(name) + 4) & ~3;
            ++depth;
            if (depth == 2) in_parent = str_eq(name, parent);
            if (depth == 3 && in_parent && prefix && starts_with(name, prefix)) ++*count;
        } else if (tok == FDT_END_NODE) {
            if (depth == 2) in_parent = 0;
            --depth;
        } else if (tok == FDT_PROP) {
            uint32_t len = be32(p), nameoff = be32(p + 4);
            const char* val = p + 8;
            if (prop && depth == 2 && in_parent && str_eq(strings + nameoff, prop)) return val;
            p += 8 + ((len + 3) & ~3u);
        } else if (tok == FDT_NOP) {
        } else {
            return 0;
        }
    }
}

int fdt_cpu_count(const void* dtb) {
    int n = 0;
    fdt_walk(dtb, "cpus", "cpu@", &n, 0);
    return n;
}

const char* fdt_bootargs(const void* dtb) {
    const char* v = fdt_walk(dtb, "chosen", 0, 0, "bootargs");
    return v ? v : "";
}

int fdt_has_compatible(const void* dtb, const char* compat) {
    const char* base = dtb;
    if (be32(base) != 0xd00dfeed) return 0;
    const char* p = base + be32(base + 8);
    const char* strings = base + be32(base + 12);
    for (;;) {
        uint32_t tok = be32(p);
        p += 4;
        if (tok == FDT_BEGIN_NODE) {
            p += (str_len(p) + 4) & ~3;
        } else if (tok == FDT_PROP) {
            uint32_t len = be32(p), nameoff = be32(p + 4);
            const char* val = p + 8;
            if (str_eq(strings + nameoff, "compatible"))
                for (uint32_t at = 0; at < len; at += str_len(val + at) + 1)  // a list of NUL-ended strings
                    if (str_eq(val + at, compat)) return 1;
            p += 8 + ((len + 3) & ~3u);
        } else if (tok != FDT_END_NODE && tok != FDT_NOP) {
            return 0;  // FDT_END or a malformed block
        }
    }
}

// ---- reports ---------------------------------------------------------------------------------
static int tests, failures, skips;

void check(int ok, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lock();
    puts_uart(ok ? "PASS: " : "FAIL: ");
    vprintf_uart(fmt, ap);
    putc_uart('\n');
    unlock();
    va_end(ap);
    ++tests;
    if (!ok) ++failures;
}

void skip(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lock();
    puts_uart("SKIP: ");
    vprintf_uart(fmt, ap);
    putc_uart('\n');
    unlock();
    va_end(ap);
    ++skips;
}

int report_summary(void) {
    if (skips)
        printf_uart("SUMMARY: %d tests, %d unexpected failures, %d skipped\n", tests, failures, skips);
    else
        printf_uart("SUMMARY: %d tests, %d unexpected failures\n", tests, failures);
    printf_uart("EXIT: STATUS=%d\n", ((failures ? 1 : 0) << 1) | 1);
    return failures;
}

// ---- bootargs --------------------------------------------------------------------------------
// Finds "key=" at the start of a space-separated token; returns the value's first character.
static const char* arg_find(const char* args, const char* key) {
    const char* p = args;
    while (*p) {
        while (*p == ' ') ++p;
        if (!*p) break;
        if (starts_with(p, key) && p[str_len(key)] == '=') return p + str_len(key) + 1;
        while (*p && *p != ' ') ++p;
    }
    return 0;
}

unsigned long arg_ulong(const char* args, const char* key, unsigned long dflt) {
    const char* v = arg_find(args, key);
    if (!v || *v < '0' || *v > '9') return dflt;
    unsigned long n = 0;
    while (*v >= '0' && *v <= '9') n = n * 10 + (unsigned long)(*v++ - '0');
    return n;
}

int arg_is(const char* args, const char* key, const char* value) {
    const char* v = arg_find(args, key);
    if (!v) return 0;
    while (*value && *v == *value) ++v, ++value;
    return !*value && (*v == 0 || *v == ' ');
}
