// The test guests' GICv3 + ITS driver (gic.h). Our own code after Arm IHI 0069 and
// reference/arm_virt_machine.md §1, §7.
#include "gic.h"

struct gic_info gic;
struct its_info its;
volatile unsigned gic_irqs[MAX_CPUS], gic_acks[MAX_CPUS], gic_unhandled[MAX_CPUS];
volatile unsigned gic_last_unhandled[MAX_CPUS];

static gic_handler_fn handlers[1020 + GIC_LPI_HANDLERS];

// ---- memory ------------------------------------------------------------------------------------
extern char __bss_end[];
static unsigned long heap_next;
static unsigned long heap_limit = 0x40000000ul + (48ul << 20);  // below QEMU's DTB at RAM + 64 MiB

void gic_heap_below(const void* dtb) {
    unsigned long d = (unsigned long)dtb;
    if (d > (unsigned long)__bss_end && d < heap_limit) heap_limit = d;
}

void* gic_alloc(unsigned long size, unsigned long align) {
    if (!heap_next) heap_next = (unsigned long)__bss_end;
    unsigned long p = (heap_next + align - 1) & ~(align - 1);
    if (p + size > heap_limit) {
        check(0, "gic_alloc: %lu bytes aligned %lu do not fit below %lx", size, align, heap_limit);
        return 0;
    }
    for (unsigned long a = p; a < p + size; a += 8) *(volatile uint64_t*)a = 0;
    heap_next = p + size;
    return (void*)p;
}

// ---- ICC system registers (IHI 0069 §12.2) ---------------------------------------------------
#define ICC_READ(enc)                                    \
    ({                                                   \
        unsigned long v_;                                \
        __asm__ volatile("mrs %0, " enc : "=r"(v_)::"memory"); \
        v_;                                              \
    })
#define ICC_WRITE(enc, v) __asm__ volatile("msr " enc ", %0" ::"r"((unsigned long)(v)) : "memory")
#define ICC_PMR_EL1 "s3_0_c4_c6_0"
#define ICC_IAR1_EL1 "s3_0_c12_c12_0"
#define ICC_EOIR1_EL1 "s3_0_c12_c12_1"
#define ICC_HPPIR1_EL1 "s3_0_c12_c12_2"
#define ICC_BPR1_EL1 "s3_0_c12_c12_3"
#define ICC_CTLR_EL1 "s3_0_c12_c12_4"
#define ICC_SRE_EL1 "s3_0_c12_c12_5"
#define ICC_IGRPEN1_EL1 "s3_0_c12_c12_7"
#define ICC_SGI1R_EL1 "s3_0_c12_c11_5"
#define ICC_RPR_EL1 "s3_0_c12_c11_3"

unsigned long gic_read_iar(void) {
    unsigned long v = ICC_READ(ICC_IAR1_EL1);
    dsb_sy();  // the acknowledge completes before the handler touches what the interrupt signals
    return v;
}
void gic_write_eoir(unsigned long intid) {
    ICC_WRITE(ICC_EOIR1_EL1, intid);
    isb();
}
unsigned long gic_read_pmr(void) { return ICC_READ(ICC_PMR_EL1); }
unsigned long gic_read_rpr(void) { return ICC_READ(ICC_RPR_EL1); }
unsigned long gic_read_hppir(void) { return ICC_READ(ICC_HPPIR1_EL1); }

// ---- vectors -----------------------------------------------------------------------------------
// VBAR_EL1 (2 KiB aligned): the IRQ from the current EL with SP_ELx at + 0x280 saves every
// caller-saved register (x0..x18, x29, x30; the guests are -mgeneral-regs-only) and ELR/SPSR, calls
// gic_irq_dispatch, restores and ERETs. Every other vector reports the exception and powers off.
__asm__(
    "    .section .text.vectors, \"ax\"\n"
    "    .balign 2048\n"
    "    .global gic_vectors\n"
    "gic_vectors:\n"
    "    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15\n"
    "    .balign 128\n"
    "    .if \\n == 5\n"
    "    b gic_irq_entry\n"
    "    .else\n"
    "    mov x0, #\\n\n"
    "    b gic_bad_entry\n"
    "    .endif\n"
    "    .endr\n"
    "gic_irq_entry:\n"
    "    sub sp, sp, #192\n"
    "    stp x0, x1, [sp, #0]\n"
    "    stp x2, x3, [sp, #16]\n"
    "    stp x4, x5, [sp, #32]\n"
    "    stp x6, x7, [sp, #48]\n"
    "    stp x8, x9, [sp, #64]\n"
    "    stp x10, x11, [sp, #80]\n"
    "    stp x12, x13, [sp, #96]\n"
    "    stp x14, x15, [sp, #112]\n"
    "    stp x16, x17, [sp, #128]\n"
    "    stp x18, x29, [sp, #144]\n"
    "    mrs x0, elr_el1\n"
    "    mrs x1, spsr_el1\n"
    "    stp x30, x0, [sp, #160]\n"
    "    str x1, [sp, #176]\n"
    "    bl gic_irq_dispatch\n"
    "    ldr x1, [sp, #176]\n"
    "    ldp x30, x0, [sp, #160]\n"
    "    msr elr_el1, x0\n"
    "    msr spsr_el1, x1\n"
    "    ldp x0, x1, [sp, #0]\n"
    "    ldp x2, x3, [sp, #16]\n"
    "    ldp x4, x5, [sp, #32]\n"
    "    ldp x6, x7, [sp, #48]\n"
    "    ldp x8, x9, [sp, #64]\n"
    "    ldp x10, x11, [sp, #80]\n"
    "    ldp x12, x13, [sp, #96]\n"
    "    ldp x14, x15, [sp, #112]\n"
    "    ldp x16, x17, [sp, #128]\n"
    "    ldp x18, x29, [sp, #144]\n"
    "    add sp, sp, #192\n"
    "    eret\n"
    "gic_bad_entry:\n"
    "    mrs x1, esr_el1\n"
    "    mrs x2, elr_el1\n"
    "    mrs x3, far_el1\n"
    "    bl gic_bad_exception\n"
    "    .text\n");
extern char gic_vectors[];

void gic_irq_dispatch(void);
void gic_bad_exception(unsigned long vector, unsigned long esr, unsigned long elr, unsigned long far);

void gic_bad_exception(unsigned long vector, unsigned long esr, unsigned long elr, unsigned long far) {
    check(0, "unexpected exception: vector %lu (offset %lx) on cpu %d, ESR_EL1 %lx, ELR_EL1 %lx, FAR_EL1 %lx",
          vector, vector * 0x80, gic_cpu_index(), esr, elr, far);
    report_summary();
    system_off();
}

static gic_handler_fn* handler_slot(unsigned intid) {
    if (intid < 1020) return &handlers[intid];
    if (intid >= LPI_BASE && intid < LPI_BASE + GIC_LPI_HANDLERS) return &handlers[1020 + intid - LPI_BASE];
    return 0;
}

void gic_wake_handler(unsigned intid, int cpu) {
    (void)intid;
    (void)cpu;
}

void gic_set_handler(unsigned intid, gic_handler_fn fn) {
    gic_handler_fn* s = handler_slot(intid);
    if (s) *s = fn;
}

static void timer_handler(unsigned intid, int cpu) {
    (void)intid;
    (void)cpu;
    __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"(3ul));  // ENABLE | IMASK: the level drops
}

// Acknowledges until the CPU interface has nothing left (bounded), dispatching by INTID, then EOI.
void gic_irq_dispatch(void) {
    int cpu = gic_cpu_index();
    ++gic_irqs[cpu];
    for (int i = 0; i < 64; ++i) {
        unsigned long iar = gic_read_iar();
        unsigned intid = (unsigned)(iar & 0xFFFFFF);
        if (intid >= 1020 && intid <= 1023) break;  // spurious: nothing (left) to take
        ++gic_acks[cpu];
        gic_handler_fn* s = handler_slot(intid);
        if (s && *s) {
            (*s)(intid, cpu);
        } else {
            ++gic_unhandled[cpu];
            gic_last_unhandled[cpu] = intid;
        }
        gic_write_eoir(intid);
    }
}

// ---- waits -------------------------------------------------------------------------------------
static unsigned long us_to_ticks(unsigned long us) { return us * (cntfrq() / 1000000ul); }

int gic_wait(int (*cond)(void*), void* arg, unsigned long timeout_us) {
    unsigned long deadline = cntvct() + us_to_ticks(timeout_us);
    int ok = 0;
    irq_mask();
    __asm__ volatile("msr cntv_cval_el0, %0; msr cntv_ctl_el0, %1; isb" ::"r"(deadline), "r"(1ul));
    for (;;) {
        if (cond(arg)) {
            ok = 1;
            break;
        }
        if (cntvct() >= deadline) break;
        // PSTATE.I masked: a pending interrupt still ends WFI (ARM DDI 0487 D1.16.2, WFI wake-up
        // events), then it is taken in the unmasked window: no lost wake-up between check and WFI.
        __asm__ volatile("wfi" ::: "memory");
        irq_unmask();
        isb();
        irq_mask();
    }
    __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"(0ul));
    // Take whatever is still pending (e.g. the timer's level before it dropped) with the timer off.
    irq_unmask();
    isb();
    irq_mask();
    return ok;
}

struct count_arg {
    volatile unsigned* counter;
    unsigned target;
};
static int count_reached(void* p) {
    struct count_arg* a = p;
    return *a->counter >= a->target;
}
int gic_wait_count(volatile unsigned* counter, unsigned target, unsigned long timeout_us) {
    struct count_arg a = {counter, target};
    return gic_wait(count_reached, &a, timeout_us);
}

void gic_idle_until(volatile int* flag) {
    irq_mask();
    while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
        __asm__ volatile("wfi" ::: "memory");
        irq_unmask();
        isb();
        irq_mask();
    }
}

void gic_spin_us(unsigned long us) {
    unsigned long end = cntvct() + us_to_ticks(us);
    irq_unmask();
    while (cntvct() < end) {
    }
    irq_mask();
}

// ---- distributor / redistributors ----------------------------------------------------------------
#define POLL_LIMIT 1000000

static int poll_clear32(unsigned long addr, uint32_t bits, const char* what) {
    for (long i = 0; i < POLL_LIMIT; ++i)
        if (!(rd32(addr) & bits)) return 1;
    check(0, "%s: bits %x of %lx still set after %d polls", what, bits, addr, POLL_LIMIT);
    return 0;
}

#define MAX_REDISTS MAX_CPUS
static struct {
    unsigned long base;
    uint64_t typer;
} redists[MAX_REDISTS];

// Walks the GICR frames from GICR_BASE until GICR_TYPER.Last (IHI 0069 §9.2.1, §12.11.35);
// a frame is 128 KiB (RD_base + SGI_base), 256 KiB when VLPIS (GICv4 vLPI frames follow).
static int walk_redists(void) {
    int n = 0;
    unsigned long base = GICR_BASE;
    while (n < MAX_REDISTS && base < GICR_BASE + GICR_REGION_SIZE) {
        uint32_t pidr2 = rd32(base + 0xFFE8);
        unsigned arch = (pidr2 >> 4) & 0xF;
        if (arch != 3 && arch != 4) {
            check(0, "GICR frame %lx: GICR_PIDR2.ArchRev %u is not GICv3/4", base, arch);
            break;
        }
        uint64_t typer = rd64(base + GICR_TYPER);
        redists[n].base = base;
        redists[n].typer = typer;
        ++n;
        if (typer & GICR_TYPER_LAST) break;
        base += (typer & GICR_TYPER_VLPIS) ? 0x40000ul : 0x20000ul;
    }
    gic.nr_redists = n;
    return n;
}

static unsigned long affinity_of(int cpu) {  // GICR_TYPER.Affinity layout: Aff3.Aff2.Aff1.Aff0
    unsigned long m = cpu_mpidr(cpu);
    return ((m >> 8) & 0xFF) << 8 | (m & 0xFF);
}

static int redist_index(int cpu) {
    for (int i = 0; i < gic.nr_redists; ++i)
        if ((redists[i].typer >> 32) == affinity_of(cpu)) return i;
    return -1;
}

unsigned long gic_redist(int cpu) {
    int i = redist_index(cpu);
    return i < 0 ? 0 : redists[i].base;
}

int gic_processor_number(int cpu) {
    int i = redist_index(cpu);
    return i < 0 ? -1 : (int)((redists[i].typer >> 8) & 0xFFFF);
}

int gic_init_dist(void) {
    __asm__ volatile("msr vbar_el1, %0; isb" ::"r"(gic_vectors));
    gic_set_handler(TIMER_PPI, timer_handler);
    gic.gicd_typer = rd32(GICD_BASE + GICD_TYPER);
    gic.gicd_iidr = rd32(GICD_BASE + GICD_IIDR);
    gic.pidr2 = rd32(GICD_BASE + GICD_PIDR2);
    gic.nr_lines = 32 * ((gic.gicd_typer & 0x1F) + 1);
    if (gic.nr_lines > 1020) gic.nr_lines = 1020;
    gic.idbits = ((gic.gicd_typer >> 19) & 0x1F) + 1;
    gic.lpis = (gic.gicd_typer >> 17) & 1;
    unsigned arch = (gic.pidr2 >> 4) & 0xF;
    if (arch != 3 && arch != 4) {
        check(0, "GICD_PIDR2.ArchRev %u is not GICv3/4", arch);
        return -1;
    }
    if (walk_redists() < 1) {
        check(0, "no redistributor frame found");
        return -1;
    }
    // Disable, set ARE (with the groups off, IHI 0069 §12.9.4), then configure the SPIs.
    wr32(GICD_BASE + GICD_CTLR, 0);
    if (!poll_clear32(GICD_BASE + GICD_CTLR, GICD_CTLR_RWP, "GICD_CTLR.RWP")) return -1;
    wr32(GICD_BASE + GICD_CTLR, GICD_CTLR_ARE);
    if (!poll_clear32(GICD_BASE + GICD_CTLR, GICD_CTLR_RWP, "GICD_CTLR.RWP")) return -1;
    for (unsigned i = 32; i < gic.nr_lines; i += 32) {
        wr32(GICD_BASE + GICD_ICENABLER + i / 8, 0xFFFFFFFFu);
        wr32(GICD_BASE + GICD_ICPENDR + i / 8, 0xFFFFFFFFu);
        wr32(GICD_BASE + GICD_ICACTIVER + i / 8, 0xFFFFFFFFu);
        wr32(GICD_BASE + GICD_IGROUPR + i / 8, 0xFFFFFFFFu);
    }
    for (unsigned i = 32; i < gic.nr_lines; i += 4)
        wr32(GICD_BASE + GICD_IPRIORITYR + i, SPI_PRIO * 0x01010101u);
    for (unsigned i = 32; i < gic.nr_lines; ++i) wr64(GICD_BASE + GICD_IROUTER + 8 * i, affinity_of(0));
    if (!poll_clear32(GICD_BASE + GICD_CTLR, GICD_CTLR_RWP, "GICD_CTLR.RWP")) return -1;
    wr32(GICD_BASE + GICD_CTLR, GICD_CTLR_ARE | GICD_CTLR_ENABLE_G1A);
    if (!poll_clear32(GICD_BASE + GICD_CTLR, GICD_CTLR_RWP, "GICD_CTLR.RWP")) return -1;
    if (!(rd32(GICD_BASE + GICD_CTLR) & GICD_CTLR_ARE)) {
        check(0, "GICD_CTLR.ARE did not stick (%x)", rd32(GICD_BASE + GICD_CTLR));
        return -1;
    }
    return 0;
}

void gic_enable_spi(unsigned intid, int target_cpu, int edge) {
    if (intid < 32 || intid >= gic.nr_lines) return;
    // Disabled while its configuration and routing change (IHI 0069 §12.9.9: changing ICFGR of an
    // enabled interrupt is UNPREDICTABLE), then enabled.
    wr32(GICD_BASE + GICD_ICENABLER + (intid / 32) * 4, 1u << (intid % 32));
    poll_clear32(GICD_BASE + GICD_CTLR, GICD_CTLR_RWP, "GICD_CTLR.RWP");
    unsigned long cfg = GICD_BASE + GICD_ICFGR + (intid / 16) * 4;
    unsigned shift = (intid % 16) * 2 + 1;
    wr32(cfg, (rd32(cfg) & ~(1u << shift)) | ((edge ? 1u : 0u) << shift));
    wr64(GICD_BASE + GICD_IROUTER + 8 * intid, affinity_of(target_cpu));
    wr32(GICD_BASE + GICD_ISENABLER + (intid / 32) * 4, 1u << (intid % 32));
}

void gic_enable_ppi(unsigned intid) {
    unsigned long rd = gic_redist(gic_cpu_index());
    if (!rd || intid >= 32) return;
    wr32(rd + GICR_ISENABLER0, 1u << intid);
}

// Pending tables, one per CPU (gic_lpi_init).
static unsigned long pend_tables[MAX_CPUS];
static uint8_t* prop_table;

int gic_init_cpu(void) {
    int cpu = gic_cpu_index();
    __asm__ volatile("msr vbar_el1, %0; isb" ::"r"(gic_vectors));
    unsigned long rd = gic_redist(cpu);
    if (!rd) {
        check(0, "cpu %d: no redistributor with affinity %lx", cpu, affinity_of(cpu));
        return -1;
    }
    // Wake the redistributor (IHI 0069 §12.11.44; KVM: RAZ/WI).
    wr32(rd + GICR_WAKER, rd32(rd + GICR_WAKER) & ~GICR_WAKER_PROCESSOR_SLEEP);
    if (!poll_clear32(rd + GICR_WAKER, GICR_WAKER_CHILDREN_ASLEEP, "GICR_WAKER.ChildrenAsleep")) return -1;
    // SGIs and PPIs: Group 1, priority, every SGI enabled, PPIs off but the timer's.
    wr32(rd + GICR_ICENABLER0, 0xFFFFFFFFu);
    wr32(rd + GICR_ICPENDR0, 0xFFFFFFFFu);
    wr32(rd + GICR_ICACTIVER0, 0xFFFFFFFFu);
    wr32(rd + GICR_IGROUPR0, 0xFFFFFFFFu);
    for (unsigned i = 0; i < 32; i += 4) wr32(rd + GICR_IPRIORITYR0 + i, SGI_PPI_PRIO * 0x01010101u);
    if (!poll_clear32(rd + GICR_CTLR, 1u << 3, "GICR_CTLR.RWP")) return -1;
    wr32(rd + GICR_ISENABLER0, 0x0000FFFFu | (1u << TIMER_PPI));
    // The CPU interface (IHI 0069 §12.2): system-register access, EOImode 0, priorities.
    ICC_WRITE(ICC_SRE_EL1, ICC_READ(ICC_SRE_EL1) | 1);
    isb();
    if (!(ICC_READ(ICC_SRE_EL1) & 1)) {
        check(0, "cpu %d: ICC_SRE_EL1.SRE is not set", cpu);
        return -1;
    }
    ICC_WRITE(ICC_CTLR_EL1, 0);
    ICC_WRITE(ICC_BPR1_EL1, 0);
    ICC_WRITE(ICC_PMR_EL1, 0xFF);
    ICC_WRITE(ICC_IGRPEN1_EL1, 1);
    isb();
    // LPIs (IHI 0069 §5.1.1): the shared property table, this CPU's pending table, EnableLPIs.
    if (gic.lpi_bits) {
        uint64_t typer = rd64(rd + GICR_TYPER);
        if (!(typer & GICR_TYPER_PLPIS)) {
            check(0, "cpu %d: GICR_TYPER.PLPIS is 0", cpu);
            return -1;
        }
        wr32(rd + GICR_CTLR, rd32(rd + GICR_CTLR) & ~GICR_CTLR_ENABLE_LPIS);
        wr64(rd + GICR_PROPBASER, (uint64_t)(unsigned long)prop_table | (uint64_t)(gic.lpi_bits - 1));
        wr64(rd + GICR_PENDBASER, (uint64_t)pend_tables[cpu]);
        dsb_sy();
        wr32(rd + GICR_CTLR, rd32(rd + GICR_CTLR) | GICR_CTLR_ENABLE_LPIS);
        if (!(rd32(rd + GICR_CTLR) & GICR_CTLR_ENABLE_LPIS)) {
            check(0, "cpu %d: GICR_CTLR.EnableLPIs did not stick", cpu);
            return -1;
        }
    }
    return 0;
}

// ---- SGIs (ICC_SGI1R_EL1: TargetList [15:0], Aff1 [23:16], INTID [27:24], Aff2 [39:32], IRM [40],
// RS [47:44], Aff3 [55:48]) ---------------------------------------------------------------------
static void sgi1r(uint64_t v) {
    dsb_sy();  // memory written before the SGI is visible to its handler
    ICC_WRITE(ICC_SGI1R_EL1, v);
    isb();
}

void gic_send_sgi(unsigned sgi, int cpu) {
    unsigned long m = cpu_mpidr(cpu);
    gic_send_sgi_list(sgi, (unsigned)((m >> 8) & 0xFF), (uint16_t)(1u << (m & 0xF)));
}

void gic_send_sgi_list(unsigned sgi, unsigned aff1, uint16_t targets) {
    sgi1r((uint64_t)targets | ((uint64_t)(aff1 & 0xFF) << 16) | ((uint64_t)(sgi & 0xF) << 24));
}

void gic_send_sgi_others(unsigned sgi) { sgi1r(((uint64_t)(sgi & 0xF) << 24) | (1ull << 40)); }

// ---- LPIs ------------------------------------------------------------------------------------------
int gic_lpi_init(int bits, int ncpus) {
    if (!gic.lpis) {
        check(0, "GICD_TYPER.LPIS is 0: no LPIs");
        return -1;
    }
    if ((unsigned)bits > gic.idbits) bits = (int)gic.idbits;
    if (bits < 14) bits = 14;  // the smallest table that holds LPI INTIDs (8192 = 2^13)
    unsigned long ids = 1ul << bits;
    prop_table = gic_alloc(ids - LPI_BASE, 4096);
    if (!prop_table) return -1;
    for (unsigned long i = 0; i < ids - LPI_BASE; ++i) ((volatile uint8_t*)prop_table)[i] = LPI_PRIO | 2;
    for (int c = 0; c < ncpus && c < MAX_CPUS; ++c) {
        pend_tables[c] = (unsigned long)gic_alloc(ids / 8, 0x10000);
        if (!pend_tables[c]) return -1;
    }
    dsb_sy();
    gic.lpi_bits = bits;
    return 0;
}

void gic_lpi_config(unsigned lpi, int enable) {
    volatile uint8_t* b = (volatile uint8_t*)prop_table + (lpi - LPI_BASE);
    *b = (uint8_t)(LPI_PRIO | 2 | (enable ? 1 : 0));
    dsb_sy();  // the ITS/redistributor reads the table after the INV this precedes
}

uint8_t gic_lpi_config_read(unsigned lpi) { return ((volatile uint8_t*)prop_table)[lpi - LPI_BASE]; }

int gic_lpi_pending_bit(int cpu, unsigned lpi) {
    volatile uint8_t* t = (volatile uint8_t*)pend_tables[cpu];
    return (t[lpi / 8] >> (lpi % 8)) & 1;
}

// ---- ITS -------------------------------------------------------------------------------------------
#define BASER_VALID (1ull << 63)
#define BASER_INDIRECT (1ull << 62)
#define BASER_TYPE(v) (((v) >> 56) & 7)
#define BASER_ESZ(v) ((unsigned)(((v) >> 48) & 0x1F) + 1)
#define BASER_PAGE_SHIFT 8
#define BASER_PAGE_MASK (3ull << 8)
#define BASER_TYPE_DEVICE 1
#define BASER_TYPE_COLLECTION 4
#define CMDQ_BYTES 4096u

static unsigned page_bytes(uint64_t baser) {
    switch ((baser & BASER_PAGE_MASK) >> BASER_PAGE_SHIFT) {
        case 0: return 4096;
        case 1: return 16384;
        default: return 65536;
    }
}

// One page per table (flat), 64 KiB pages (KVM forces them: vgic_sanitise_its_baser; reference §7).
static int setup_baser(int n, uint64_t baser) {
    unsigned type = (unsigned)BASER_TYPE(baser);
    unsigned esz = BASER_ESZ(baser);
    uint64_t v = (baser & ~(BASER_PAGE_MASK | 0xFFull | BASER_INDIRECT | BASER_VALID)) | (2ull << BASER_PAGE_SHIFT);
    wr64(GITS_BASE + GITS_BASER + 8 * n, v);
    uint64_t back = rd64(GITS_BASE + GITS_BASER + 8 * n);
    unsigned page = page_bytes(back);
    unsigned long table = (unsigned long)gic_alloc(page, page);
    if (!table) return -1;
    // PA [47:12] (with 64 KiB pages bits [15:12] hold PA [51:48], 0 here), Size = pages - 1 = 0,
    // InnerCache/OuterCache/Shareability 0 (the MMU is off).
    v = (back & ~(0x0000FFFFFFFFF000ull | 0xFFull | BASER_INDIRECT)) | (uint64_t)table | BASER_VALID;
    wr64(GITS_BASE + GITS_BASER + 8 * n, v);
    back = rd64(GITS_BASE + GITS_BASER + 8 * n);
    if (!(back & BASER_VALID)) {
        check(0, "GITS_BASER%d did not keep Valid (%lx)", n, (unsigned long)back);
        return -1;
    }
    if (type == BASER_TYPE_DEVICE) {
        its.dev_esz = esz, its.dev_page = page, its.dev_table = table;
    } else {
        its.coll_esz = esz, its.coll_page = page, its.coll_table = table;
    }
    return 0;
}

int its_init(void) {
    uint32_t ctlr = rd32(GITS_BASE + GITS_CTLR);
    if (ctlr & GITS_CTLR_ENABLED) wr32(GITS_BASE + GITS_CTLR, ctlr & ~GITS_CTLR_ENABLED);
    for (long i = 0; i < POLL_LIMIT; ++i)
        if (rd32(GITS_BASE + GITS_CTLR) & GITS_CTLR_QUIESCENT) break;
    its.typer = rd64(GITS_BASE + GITS_TYPER);
    its.iidr = rd32(GITS_BASE + GITS_IIDR);
    its.ite_size = (unsigned)((its.typer >> 4) & 0xF) + 1;
    its.idbits = (unsigned)((its.typer >> 8) & 0x1F) + 1;
    its.devbits = (unsigned)((its.typer >> 13) & 0x1F) + 1;
    its.pta = (int)((its.typer >> 19) & 1);
    if (!(its.typer & 1)) {
        check(0, "GITS_TYPER.Physical is 0 (%lx)", (unsigned long)its.typer);
        return -1;
    }
    for (int n = 0; n < 8; ++n) {
        uint64_t b = rd64(GITS_BASE + GITS_BASER + 8 * n);
        unsigned type = (unsigned)BASER_TYPE(b);
        if (type == BASER_TYPE_DEVICE || type == BASER_TYPE_COLLECTION)
            if (setup_baser(n, b)) return -1;
    }
    if (!its.dev_table) {
        check(0, "no GITS_BASERn of type Device");
        return -1;
    }
    its.cmdq = (unsigned long)gic_alloc(CMDQ_BYTES, 4096);
    if (!its.cmdq) return -1;
    its.cmdq_size = CMDQ_BYTES;
    // CBASER: Valid [63], PA [51:12], Size [7:0] = 4 KiB pages - 1 (IHI 0069 §12.19.2).
    wr64(GITS_BASE + GITS_CBASER, (1ull << 63) | (uint64_t)its.cmdq | (CMDQ_BYTES / 4096 - 1));
    wr64(GITS_BASE + GITS_CWRITER, 0);
    if (!(rd64(GITS_BASE + GITS_CBASER) & (1ull << 63))) {
        check(0, "GITS_CBASER did not keep Valid");
        return -1;
    }
    wr32(GITS_BASE + GITS_CTLR, rd32(GITS_BASE + GITS_CTLR) | GITS_CTLR_ENABLED);
    if (!(rd32(GITS_BASE + GITS_CTLR) & GITS_CTLR_ENABLED)) {
        check(0, "GITS_CTLR.Enabled did not stick");
        return -1;
    }
    return 0;
}

uint64_t its_rdbase(int cpu) {
    // PTA = 1: the redistributor's physical address (64 KiB aligned); PTA = 0: the processor
    // number, in bits [51:16] of the command's third doubleword (IHI 0069 §5.3.8, MAPC).
    if (its.pta) return (uint64_t)gic_redist(cpu);
    return (uint64_t)(unsigned)gic_processor_number(cpu) << 16;
}

static unsigned long cwriter;  // our copy of GITS_CWRITER (offset in the queue)
static unsigned long creadr_seen;

static void its_send(uint64_t d0, uint64_t d1, uint64_t d2, uint64_t d3) {
    unsigned long next = (cwriter + 32) % its.cmdq_size;
    // Queue full when the next write offset would reach CREADR (IHI 0069 §5.2.1).
    if (next == creadr_seen) {
        long i = 0;
        for (; i < POLL_LIMIT; ++i) {
            creadr_seen = (unsigned long)rd64(GITS_BASE + GITS_CREADR) & 0xFFFE0;
            if (next != creadr_seen) break;
        }
        if (i == POLL_LIMIT) {
            ++its.timeouts;
            check(0, "ITS command queue full: CREADR stuck at %lx", creadr_seen);
            return;
        }
    }
    volatile uint64_t* c = (volatile uint64_t*)(its.cmdq + cwriter);
    c[0] = d0, c[1] = d1, c[2] = d2, c[3] = d3;
    cwriter = next;
    ++its.cmds;
    dsb_sy();  // the command is in memory before the ITS sees the new CWRITER
    wr64(GITS_BASE + GITS_CWRITER, cwriter);
}

int its_wait(const char* what) {
    for (long i = 0; i < POLL_LIMIT; ++i) {
        uint64_t r = rd64(GITS_BASE + GITS_CREADR);
        if (r & 1) {
            ++its.timeouts;
            check(0, "%s: the ITS command queue stalled (GITS_CREADR %lx)", what, (unsigned long)r);
            return 0;
        }
        creadr_seen = (unsigned long)r & 0xFFFE0;
        if (creadr_seen == cwriter) return 1;
    }
    ++its.timeouts;
    check(0, "%s: GITS_CREADR %lx never reached GITS_CWRITER %lx", what, creadr_seen, cwriter);
    return 0;
}

static uint64_t dev_cmd(unsigned cmd, uint32_t dev) { return cmd | ((uint64_t)dev << 32); }

void its_mapd(uint32_t dev, unsigned event_bits, unsigned long itt, int valid) {
    its_send(dev_cmd(ITS_CMD_MAPD, dev), (event_bits ? event_bits - 1 : 0) & 0x1F,
             (valid ? 1ull << 63 : 0) | ((uint64_t)itt & 0x000FFFFFFFFFFF00ull), 0);
}
void its_mapc(unsigned icid, int cpu, int valid) {
    its_send(ITS_CMD_MAPC, 0, (valid ? 1ull << 63 : 0) | its_rdbase(cpu) | (icid & 0xFFFF), 0);
}
void its_mapti(uint32_t dev, uint32_t event, unsigned lpi, unsigned icid) {
    its_send(dev_cmd(ITS_CMD_MAPTI, dev), event | ((uint64_t)lpi << 32), icid & 0xFFFF, 0);
}
void its_mapi(uint32_t dev, uint32_t event, unsigned icid) {
    its_send(dev_cmd(ITS_CMD_MAPI, dev), event, icid & 0xFFFF, 0);
}
void its_movi(uint32_t dev, uint32_t event, unsigned icid) {
    its_send(dev_cmd(ITS_CMD_MOVI, dev), event, icid & 0xFFFF, 0);
}
void its_inv(uint32_t dev, uint32_t event) { its_send(dev_cmd(ITS_CMD_INV, dev), event, 0, 0); }
void its_invall(unsigned icid) { its_send(ITS_CMD_INVALL, 0, icid & 0xFFFF, 0); }
void its_int(uint32_t dev, uint32_t event) { its_send(dev_cmd(ITS_CMD_INT, dev), event, 0, 0); }
void its_clear(uint32_t dev, uint32_t event) { its_send(dev_cmd(ITS_CMD_CLEAR, dev), event, 0, 0); }
void its_discard(uint32_t dev, uint32_t event) { its_send(dev_cmd(ITS_CMD_DISCARD, dev), event, 0, 0); }
void its_movall(int from_cpu, int to_cpu) { its_send(ITS_CMD_MOVALL, 0, its_rdbase(from_cpu), its_rdbase(to_cpu)); }
void its_sync(int cpu) { its_send(ITS_CMD_SYNC, 0, its_rdbase(cpu), 0); }

unsigned long its_alloc_itt(unsigned event_bits) {
    return (unsigned long)gic_alloc((1ul << event_bits) * its.ite_size, 256);
}
