// A small freestanding GICv3 + ITS driver for the machine-mode test guests (docs/machine.md
// "Test guests"). Our own code: the register layouts and command formats come from Arm IHI 0069
// (GICv3/4 architecture specification; section numbers below are from that document) and
// reference/arm_virt_machine.md §1 (addresses) and §7 (what KVM's guest-visible GICv3/ITS offers).
// The guests run with the MMU off, so every GIC access is a Device access through volatile
// pointers; the barriers the architecture needs are in the driver (dsb before CWRITER, isb after
// ICC_SGI1R_EL1 and ICC_EOIR1_EL1).
#pragma once

#include <stdint.h>

#include "lib.h"

// QEMU virt memory map (reference/arm_virt_machine.md §1).
#define GICD_BASE 0x08000000ul
#define GITS_BASE 0x08080000ul
#define GICR_BASE 0x080A0000ul
#define GICR_REGION_SIZE 0x00F60000ul

// Distributor (IHI 0069 §12.9).
#define GICD_CTLR 0x0000
#define GICD_TYPER 0x0004
#define GICD_IIDR 0x0008
#define GICD_IGROUPR 0x0080
#define GICD_ISENABLER 0x0100
#define GICD_ICENABLER 0x0180
#define GICD_ISPENDR 0x0200
#define GICD_ICPENDR 0x0280
#define GICD_ICACTIVER 0x0380
#define GICD_IPRIORITYR 0x0400
#define GICD_ICFGR 0x0C00
#define GICD_IROUTER 0x6000
#define GICD_PIDR2 0xFFE8
#define GICD_CTLR_ENABLE_G1A (1u << 1)  // EnableGrp1NS/Grp1A (non-secure view), EnableGrp1 with DS = 1
#define GICD_CTLR_ARE (1u << 4)         // ARE_NS (non-secure view), ARE with DS = 1
#define GICD_CTLR_RWP (1u << 31)

// Redistributor: RD_base frame (IHI 0069 §12.11) and SGI_base frame at +64 KiB.
#define GICR_CTLR 0x0000
#define GICR_IIDR 0x0004
#define GICR_TYPER 0x0008
#define GICR_WAKER 0x0014
#define GICR_PROPBASER 0x0070
#define GICR_PENDBASER 0x0078
#define GICR_SGI_OFFSET 0x10000
#define GICR_IGROUPR0 (GICR_SGI_OFFSET + 0x0080)
#define GICR_ISENABLER0 (GICR_SGI_OFFSET + 0x0100)
#define GICR_ICENABLER0 (GICR_SGI_OFFSET + 0x0180)
#define GICR_ICPENDR0 (GICR_SGI_OFFSET + 0x0280)
#define GICR_ICACTIVER0 (GICR_SGI_OFFSET + 0x0380)
#define GICR_IPRIORITYR0 (GICR_SGI_OFFSET + 0x0400)
#define GICR_CTLR_ENABLE_LPIS (1u << 0)
#define GICR_TYPER_PLPIS (1ul << 0)
#define GICR_TYPER_VLPIS (1ul << 1)
#define GICR_TYPER_LAST (1ul << 4)
#define GICR_WAKER_PROCESSOR_SLEEP (1u << 1)
#define GICR_WAKER_CHILDREN_ASLEEP (1u << 2)

// ITS control frame (IHI 0069 §12.19) and translation frame.
#define GITS_CTLR 0x0000
#define GITS_IIDR 0x0004
#define GITS_TYPER 0x0008
#define GITS_CBASER 0x0080
#define GITS_CWRITER 0x0088
#define GITS_CREADR 0x0090
#define GITS_BASER 0x0100
#define GITS_TRANSLATER 0x10040
#define GITS_CTLR_ENABLED (1u << 0)
#define GITS_CTLR_QUIESCENT (1u << 31)

// ITS command numbers (IHI 0069 §5.3).
#define ITS_CMD_MOVI 0x01
#define ITS_CMD_INT 0x03
#define ITS_CMD_CLEAR 0x04
#define ITS_CMD_SYNC 0x05
#define ITS_CMD_MAPD 0x08
#define ITS_CMD_MAPC 0x09
#define ITS_CMD_MAPTI 0x0A
#define ITS_CMD_MAPI 0x0B
#define ITS_CMD_INV 0x0C
#define ITS_CMD_INVALL 0x0D
#define ITS_CMD_MOVALL 0x0E
#define ITS_CMD_DISCARD 0x0F

#define LPI_BASE 8192u
#define LPI_PRIO 0xA0u        // the LPI configuration byte: priority [7:2], RES1 [1], enable [0]
#define SGI_PPI_PRIO 0x80u
#define SPI_PRIO 0xA0u
#define TIMER_PPI 27u         // the virtual timer (reference/arm_virt_machine.md §3, §6)

// The C handler table: INTIDs 0..1019 and LPIs LPI_BASE..LPI_BASE + GIC_LPI_HANDLERS - 1.
#define GIC_LPI_HANDLERS 1024u
typedef void (*gic_handler_fn)(unsigned intid, int cpu);

// MMIO (volatile, MMU off: Device-nGnRnE).
static inline uint32_t rd32(unsigned long a) { return *(volatile uint32_t*)a; }
static inline void wr32(unsigned long a, uint32_t v) { *(volatile uint32_t*)a = v; }
static inline uint64_t rd64(unsigned long a) { return *(volatile uint64_t*)a; }
static inline void wr64(unsigned long a, uint64_t v) { *(volatile uint64_t*)a = v; }
static inline void dsb_sy(void) { __asm__ volatile("dsb sy" ::: "memory"); }
static inline void isb(void) { __asm__ volatile("isb" ::: "memory"); }
static inline void irq_unmask(void) { __asm__ volatile("msr daifclr, #2" ::: "memory"); }
static inline void irq_mask(void) { __asm__ volatile("msr daifset, #2" ::: "memory"); }

static inline unsigned long cntvct(void) {
    unsigned long v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v)::"memory");
    return v;
}
static inline unsigned long cntfrq(void) {
    unsigned long v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}

// This CPU's index on the virt board (Aff0 = n % 16, Aff1 = n / 16: lib.h cpu_mpidr).
static inline int gic_cpu_index(void) {
    unsigned long m = read_mpidr();
    return (int)(((m >> 8) & 0xFF) * 16 + (m & 0xFF));
}

// Zeroed memory after the image's BSS (bump allocator; align is a power of two). Returns 0 and
// reports a FAIL when it would pass RAM + 48 MiB (or the limit gic_heap_below set).
void* gic_alloc(unsigned long size, unsigned long align);
// Lowers that limit to the DTB's address when the DTB lies above the image (this board puts it in
// the last 2 MiB of RAM, QEMU at RAM + 64 MiB with 128 MiB). Call before the first gic_alloc.
void gic_heap_below(const void* dtb);

// ---- distributor, redistributors, CPU interface --------------------------------------------
struct gic_info {
    uint32_t gicd_typer, gicd_iidr, pidr2;
    unsigned nr_lines;     // SPIs + 32 (GICD_TYPER.ITLinesNumber)
    unsigned idbits;       // GICD_TYPER.IDbits + 1
    int lpis;              // GICD_TYPER.LPIS
    int nr_redists;        // frames found by the walk
    int lpi_bits;          // LPI INTID bits in use (0: LPIs not initialised)
};
extern struct gic_info gic;

// Primary, once: installs the vectors (VBAR_EL1), walks the redistributors, initialises the
// distributor (ARE, Group 1, every SPI disabled, Group 1, priority SPI_PRIO, routed to `route_cpu`
// by GICD_IROUTER), then enables Group 1. Returns 0 on success (each failure is a FAIL line).
int gic_init_dist(void);
// Every CPU, for itself: VBAR_EL1, redistributor wake-up (GICR_WAKER), SGIs/PPIs Group 1 with
// priority SGI_PPI_PRIO, every SGI enabled, PPI TIMER_PPI enabled, ICC_SRE/CTLR/BPR1/PMR/IGRPEN1,
// and EnableLPIs when gic_lpi_init ran. Returns 0 on success.
int gic_init_cpu(void);
// The RD_base frame of CPU `cpu` (found by GICR_TYPER.Affinity), 0 if there is none.
unsigned long gic_redist(int cpu);
// GICR_TYPER.Processor_Number of CPU `cpu` (-1 if none).
int gic_processor_number(int cpu);

void gic_set_handler(unsigned intid, gic_handler_fn fn);
// A handler that does nothing: for the SGI that only wakes a CPU from WFI.
void gic_wake_handler(unsigned intid, int cpu);
void gic_enable_spi(unsigned intid, int target_cpu, int edge);
void gic_enable_ppi(unsigned intid);  // on the calling CPU

// SGIs through ICC_SGI1R_EL1 (IHI 0069 §12.2.22): to CPU `cpu`, to the CPUs of one cluster
// (Aff1 = `aff1`, `targets` = Aff0 bit list), or to every CPU but the sender (IRM = 1).
void gic_send_sgi(unsigned sgi, int cpu);
void gic_send_sgi_list(unsigned sgi, unsigned aff1, uint16_t targets);
void gic_send_sgi_others(unsigned sgi);

// ICC_* accessors (s3_0_c12_* encodings; ICC_PMR_EL1 is s3_0_c4_c6_0).
unsigned long gic_read_iar(void);
void gic_write_eoir(unsigned long intid);
unsigned long gic_read_pmr(void);
unsigned long gic_read_rpr(void);
unsigned long gic_read_hppir(void);

// Statistics by CPU: IRQ exceptions taken, interrupts acknowledged, unhandled INTIDs seen.
extern volatile unsigned gic_irqs[MAX_CPUS], gic_acks[MAX_CPUS], gic_unhandled[MAX_CPUS];
extern volatile unsigned gic_last_unhandled[MAX_CPUS];

// Waits with WFI (PSTATE.I masked around the check, unmasked to take what woke it) until
// cond(arg) holds or `timeout_us` of CNTVCT passed (the virtual timer, PPI 27, bounds the WFI).
// Returns 1 if cond held, 0 on timeout. Needs gic_init_cpu on the calling CPU.
int gic_wait(int (*cond)(void*), void* arg, unsigned long timeout_us);
// Waits until *counter >= target (same rules).
int gic_wait_count(volatile unsigned* counter, unsigned target, unsigned long timeout_us);
// Secondary idle loop: WFI, taking interrupts, until *flag != 0 (no timeout: send an SGI to
// wake it after setting the flag).
void gic_idle_until(volatile int* flag);
// Busy-waits `us` of CNTVCT with interrupts unmasked.
void gic_spin_us(unsigned long us);

// ---- LPIs (IHI 0069 §5.1) ------------------------------------------------------------------
// Primary, before gic_init_cpu of any CPU that should get LPIs: the property table (all LPIs
// disabled, priority LPI_PRIO) for `bits` INTID bits (clamped to GICD_TYPER.IDbits and the ITS),
// and one pending table per CPU (64 KiB aligned, zeroed). Returns 0 on success.
int gic_lpi_init(int bits, int ncpus);
// The LPI configuration byte (enable bit 0) in the property table; the change takes effect after
// an ITS INV/INVALL (KVM caches it: reference §7).
void gic_lpi_config(unsigned lpi, int enable);
uint8_t gic_lpi_config_read(unsigned lpi);
// The pending bit of `lpi` in CPU `cpu`'s pending table (what the GIC wrote back, if anything).
int gic_lpi_pending_bit(int cpu, unsigned lpi);

// ---- ITS (IHI 0069 §5.2, §5.3) -------------------------------------------------------------
struct its_info {
    uint64_t typer;
    uint32_t iidr;
    unsigned ite_size, devbits, idbits;
    int pta;                // GITS_TYPER.PTA: RDbase is a physical address (1) or a processor number (0)
    unsigned dev_esz, coll_esz;
    unsigned dev_page, coll_page;  // table page sizes as read back
    unsigned long dev_table, coll_table, cmdq;
    unsigned cmdq_size;
    unsigned cmds;          // commands written
    unsigned timeouts;      // CREADR polls that timed out
};
extern struct its_info its;

// Discovers GITS_TYPER and GITS_BASERn, allocates the device and collection tables (one page each,
// 64 KiB pages as KVM forces), the command queue (CBASER, CWRITER = 0), and enables the ITS.
int its_init(void);
// RDbase field of ITS commands for CPU `cpu` (processor number when PTA = 0, as in KVM).
uint64_t its_rdbase(int cpu);
// Each command below is queued and CWRITER advanced (dsb first); it does not wait.
void its_mapd(uint32_t dev, unsigned event_bits, unsigned long itt, int valid);
void its_mapc(unsigned icid, int cpu, int valid);
void its_mapti(uint32_t dev, uint32_t event, unsigned lpi, unsigned icid);
void its_mapi(uint32_t dev, uint32_t event, unsigned icid);
void its_movi(uint32_t dev, uint32_t event, unsigned icid);
void its_inv(uint32_t dev, uint32_t event);
void its_invall(unsigned icid);
void its_int(uint32_t dev, uint32_t event);
void its_clear(uint32_t dev, uint32_t event);
void its_discard(uint32_t dev, uint32_t event);
void its_movall(int from_cpu, int to_cpu);
void its_sync(int cpu);
// Waits (bounded poll) until GITS_CREADR == GITS_CWRITER; a timeout or a stalled queue is a
// FAIL line naming `what`. Returns 1 on success.
int its_wait(const char* what);
// An ITT for a device with `event_bits` EventID bits (256-byte aligned, zeroed).
unsigned long its_alloc_itt(unsigned event_bits);

// irqdiff's MSI test device (docs/machine.md "Assigned devices and the MSI test device"; in the
// device tree as "irqdiff,msi-test-device" on irqdiff's board only, absent on QEMU's virt).
#define MSI_TEST 0x090C0000ul
#define MSI_DEVID 0x0      // the assigned device the next TRIGGER raises
#define MSI_TRIGGER 0x4    // write N: that device raises event N (an MSI to GITS_TRANSLATER)
#define MSI_COUNT 0x8      // read: how many devices are assigned (--assign)
#define MSI_FORWARDED 0xC  // read: 1 when (DEVID, the last TRIGGER) is forwarded as a vLPI now
static inline void msi_test_raise(uint32_t dev, uint32_t event) {
    wr32(MSI_TEST + MSI_DEVID, dev);
    wr32(MSI_TEST + MSI_TRIGGER, event);
}
