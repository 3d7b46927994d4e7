#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (docs/fuzzing.md) into tests/fuzz/corpus/TARGET/.

Deterministic: the same files every time. The binary seeds follow each target's input layout (the
comment at the top of TARGET.cc); scenario_loader's are library scenarios; machine_code's are small
hand-assembled programs and test guests; machine_stream's is a real stream, made by
  build/dev/cli/irqdiff machine build/dev/tests/machine/guests/lpi_migrate.bin --stream s.bin
(--build BUILD names the dev build; without the build those two keep what is committed).

  scripts: /usr/bin/python3 tests/fuzz/make_seeds.py [--build build/dev]
"""
import argparse
import pathlib
import shutil
import struct
import subprocess

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
u8 = lambda v: struct.pack("<B", v & 0xFF)
u16 = lambda v: struct.pack("<H", v & 0xFFFF)
u32 = lambda v: struct.pack("<I", v & 0xFFFFFFFF)
u64 = lambda v: struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def write(target, name, data):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


# ---- scenario_loader: library scenarios ---------------------------------------------------------
LOADER = ["seed/pending_across_migration", "arm/gicv4_0", "ipi/arm_pending_across_migration_vsgi",
          "x86_2025/timer_early_tick_at_least_once", "save_hazards/creadr_before_cbaser",
          "teardown/deassign_clobber_X3", "live_update/eventfd_medium", "nmi/x86_pending_across_migration",
          "regression/two_migrations"]


def scenario_loader():
    for s in LOADER:
        write("scenario_loader", s.replace("/", "_") + ".yaml", (ROOT / "scenarios" / (s + ".yaml")).read_bytes())


# ---- host_its (tests/fuzz/host_its.cc) ----------------------------------------------------------
def baser(valid=True, indirect=False, page=2, size=3):  # address placed by the region byte
    return (valid << 63) | (indirect << 62) | (page << 8) | size


def its_cmd(dw, opcode_index=0x7F):  # 0x7F: the opcode as given, DW2 not placed
    return u8(0) + u8(0) + b"".join(u64(w) for w in dw) + u8(opcode_index)


def mapd(dev, bits, itt):
    return [0x08 | dev << 32, bits, (1 << 63) | itt, 0]


def mapc(icid, rd):
    return [0x09, 0, (1 << 63) | rd << 16 | icid, 0]


def mapti(dev, ev, intid, icid):
    return [0x0a | dev << 32, ev | intid << 32, icid, 0]


def simple(op, dev=0, ev=0):
    return [op | dev << 32, ev, 0, 0]


def vmapp(vpe, rd, vpt, vconf, db=8300):
    return [0x29 | 1 << 8 | 1 << 9 | vconf, vpe << 32 | db, (1 << 63) | rd << 16, vpt | 15]


def vmapti(dev, ev, vpe, vintid, db=1023):
    return [0x2a | dev << 32, ev | vpe << 32, vintid | db << 32, 0]


def header(cfg, level2=False):
    out = u8(cfg)
    for region, (page, size) in ((1, (2, 3)), (2, (0, 0)), (3, (2, 1))):
        out += u64(baser(True, level2 and region == 1, page, size)) + u8(region)
    return out + u8(15)


def host_its():
    itt, vpt, vconf = 0x0100_0000, 0x0200_0000, 0x0300_0000
    phys = [mapd(1, 7, itt), mapc(0, 0), mapti(1, 0, 8192, 0), simple(0x03, 1, 0), simple(0x05),
            simple(0x0c, 1, 0), [0x01 | 1 << 32, 0, 1, 0], mapc(1, 1), simple(0x0f, 1, 0)]
    virt = [mapd(2, 7, itt + 0x1000), vmapp(1, 0, vpt, vconf), vmapti(2, 0, 1, 8192), simple(0x03, 2, 0),
            [0x25, 1 << 32, 0, 0], [0x2d, 1 << 32, 0, 0]]
    rd_enable = (u8(5) + u8(0) + u8(0) + u8(1) + u64(0x0400_0000 | 15) + u8(5) + u8(0) + u8(0) + u8(2)
                 + u64(0x0500_0000 | 1 << 62) + u8(5) + u8(0) + u8(0) + u8(0) + u64(1))
    schedule41 = u8(5) + u8(0) + u8(0) + u8(8) + u64((1 << 63) | (1 << 58) | 1)  # Valid, vGrp1En, vPEID 1
    ack = u8(7) + u8(0) + u8(0) + u8(3) + u8(0xFF) + u8(7) + u8(0) + u8(0) + u8(0)
    write("host_its", "phys_v41", header(1) + rd_enable + b"".join(its_cmd(c) for c in phys))
    write("host_its", "phys_v40_stall", header(2) + rd_enable + b"".join(its_cmd(c) for c in phys))
    write("host_its", "virt_v41", header(1) + b"".join(its_cmd(c) for c in virt) + schedule41 + ack)
    write("host_its", "virt_v40", header(0) + b"".join(its_cmd(c) for c in virt)
          + u8(5) + u8(0) + u8(0) + u8(7) + u64(vconf | 15) + u8(5) + u8(0) + u8(0) + u8(8) + u64((1 << 63) | vpt))
    write("host_its", "two_level_two_its", header(0x41, level2=True) + header(0x41)[1:]
          + u8(1) + u8(0) + u8(1) + u16(0) + u64((1 << 63) | 0x0050_0000)
          + b"".join(its_cmd(c) for c in phys[:4]) + u8(2) + u8(0) + u16(0) + u16(1))
    write("host_its", "msi_and_regs", header(1) + b"".join(its_cmd(c) for c in phys[:3])
          + u8(2) + u8(0) + u16(0) + u16(1) + u8(3) + u8(0) + u8(4) + u64(0x40) + u8(4) + u8(0) + u8(5) + u8(6) + u8(0))


# ---- gic_registers, vits_save_restore (tests/fuzz/gicv3_ops.h) ---------------------------------
RAM = 0x4000_0000
GUEST_ITTS = RAM + 0x40_0000


def gcmd(dw, vcpu=0):
    return u8(5) + u8(vcpu) + b"".join(u64(w) for w in dw) + u8(0x7F)


def guest_boot_cmds(devices=1):
    out = b""
    for d in range(devices):
        out += gcmd(mapd(d + 1, 4, GUEST_ITTS + d * 0x1000))
    out += gcmd(mapc(0, 0))
    for d in range(devices):
        out += gcmd(mapti(d + 1, 0, 8192 + 2 * d, 0)) + gcmd(mapti(d + 1, 1, 8193 + 2 * d, 0))
    return out


def ack(vcpu=0):
    return u8(7) + u8(vcpu) + u8(3)


def msi(dev, ev, vcpu=0):
    return u8(6) + u8(vcpu) + u8(2) + u16(dev) + u16(ev)


def mmio(write, region, offset, size_index, value=0, vcpu=0):
    r = region | (size_index << 2)
    if region == 0:
        addr = u16(offset)
    else:
        addr = u32(offset)
    return u8(0 if write else 1) + u8(vcpu) + u8(r) + addr + (u64(value) if write else b"")


def sysreg(write, reg, value=0, vcpu=0):
    return u8(2 if write else 3) + u8(vcpu) + u8(reg) + (u64(value) if write else b"")


ICC_SGI1R, ICC_PMR, ICC_CTLR = 9, 0, 16


def gic_registers():
    cmds = guest_boot_cmds()
    write("gic_registers", "lpi_v41", u8(0x08) + cmds + gcmd(simple(0x03, 1, 0)) + ack() + msi(1, 1) + ack())
    write("gic_registers", "lpi_v40_2cpu", u8(0x0D) + cmds + gcmd(mapc(1, 1)) + gcmd([0x01 | 1 << 32, 1, 1, 0])
          + msi(1, 1) + ack(1) + u8(7) + u8(1) + u8(0) + msi(1, 1) + u8(7) + u8(1) + u8(1) + u8(7) + u8(1) + u8(2) + ack(1))
    write("gic_registers", "sgi_and_spi", u8(0x09) + sysreg(True, ICC_SGI1R, (1 << 24) | 2) + ack(1)
          + mmio(True, 0, 0x104, 2, 0xFFFFFFFF) + u8(6) + u8(0) + u8(1) + u8(1) + u8(1) + ack()
          + mmio(True, 2, 0x10100, 2, 0xFFFF) + u8(6) + u8(0) + u8(0) + u8(11) + u8(1) + ack())
    write("gic_registers", "raw_no_boot", u8(0x00) + mmio(False, 0, 0x0004, 2) + mmio(False, 1, 0x0008, 3)
          + mmio(False, 2, 0x0008, 3) + mmio(True, 1, 0x0080, 3, (1 << 63) | (RAM + 0x10_0000))
          + mmio(True, 1, 0x0100, 3, (1 << 63) | (RAM + 0x20_0000)) + mmio(True, 1, 0, 2, 1)
          + sysreg(False, ICC_CTLR) + sysreg(True, ICC_PMR, 0x80) + sysreg(False, 20))
    write("gic_registers", "wfi_wakeup_v41", u8(0x38) + cmds + u8(7) + u8(0) + u8(0) + msi(1, 0)
          + u8(7) + u8(0) + u8(1) + u8(7) + u8(0) + u8(2) + ack())


def vits_save_restore():
    cmds = guest_boot_cmds(2)
    pend = msi(1, 0) + msi(2, 1)
    after = msi(1, 1) + ack() + ack() + ack()
    corrupt = lambda region, off, value: u8(region) + u16(off) + u64(value)
    write("vits_save_restore", "clean_v41", u8(0x00) + cmds + pend + b"\xff" + b"\xff" + after)
    write("vits_save_restore", "clean_v40_2cpu", u8(0x05) + cmds + gcmd(mapc(1, 1)) + pend + b"\xff" + b"\xff" + after)
    write("vits_save_restore", "two_level", u8(0x08) + cmds + pend + b"\xff" + b"\xff" + after)
    write("vits_save_restore", "corrupt_dte", u8(0x00) + cmds + pend + b"\xff"
          + corrupt(0, 1, 0xFFFF_FFFF_FFFF_FFFF) + b"\xff" + after)
    write("vits_save_restore", "corrupt_ite_cte", u8(0x00) + cmds + pend + b"\xff"
          + corrupt(2, 0, 0x8000_0000_0000_0001) + corrupt(1, 0, 0x8000_0000_0000_0000 | 70) + b"\xff" + after)
    write("vits_save_restore", "corrupt_pending", u8(0x00) + cmds + pend + b"\xff"
          + corrupt(4, 128, 0xFFFF_FFFF_FFFF_FFFF) + b"\xff" + after)


# ---- vtd (tests/fuzz/vtd.cc) ---------------------------------------------------------------------
def vtd():
    pid = 0x0200_0000
    posted_low = 1 | (1 << 15) | (0x41 << 16) | ((pid >> 6) << 38)
    posted_high = (pid >> 32) << 32 | (1 << 18) | 0x100  # SVT=1: verify SID 0x100
    remapped_low = 1 | (0x31 << 16) | (1 << 40)
    req = lambda h, sid: u8(4) + u8(0) + u16(h) + u16(0) + u16(sid)
    pid_bytes = bytes(32) + u64(0xF2 << 16) + u64(0) + bytes(16)
    write("vtd", "posted", u8(2) + u16(0) + u64(posted_low) + u64(posted_high) + u8(3) + u8(0) + pid_bytes
          + req(0, 0x100) + req(0, 0x100) + req(0, 0x200))
    write("vtd", "remapped", u8(2) + u16(3) + u64(remapped_low) + u64(0) + req(3, 0) + u8(5) + u16(3) + u8(0) + req(3, 0))
    write("vtd", "iec_stale", u8(2) + u16(1) + u64(posted_low) + u64(0) + u8(4) + u8(0) + u16(1) + u16(0) + u16(0)
          + u8(2) + u16(1) + u64(0) + u64(0) + u8(4) + u8(0) + u16(1) + u16(0) + u16(0) + u8(0x85)
          + u8(4) + u8(0) + u16(1) + u16(0) + u16(0))
    write("vtd", "irta_x2apic", u8(0) + u64(0x800 | 3) + u8(2) + u16(2) + u64(posted_low | 0xFC) + u64(0)
          + u8(4) + u8(2) + u16(2) + u16(0) + u16(0) + u8(0x81) + u8(4) + u8(0) + u16(2) + u16(0) + u16(0))
    write("vtd", "roundtrip", u8(6) + u64(posted_low) + u64(posted_high) + pid_bytes + u8(6) + bytes(16 + 64))


# ---- set_lapic (tests/fuzz/set_lapic.cc) --------------------------------------------------------
def lapic_page(pending=None, tmict=0, lvtt=0x10000, svr=0x1FF):
    regs = bytearray(1024)
    struct.pack_into("<I", regs, 0x20, 0)          # APIC ID 0 (xAPIC ID[31:24])
    struct.pack_into("<I", regs, 0x30, 0x50014)    # version
    struct.pack_into("<I", regs, 0xD0, 1 << 24)    # LDR
    struct.pack_into("<I", regs, 0xE0, 0xFFFFFFFF)  # DFR flat
    struct.pack_into("<I", regs, 0xF0, svr)
    struct.pack_into("<I", regs, 0x320, lvtt)
    struct.pack_into("<I", regs, 0x380, tmict)
    if pending is not None:
        regs[0x200 + (pending // 32) * 16 + (pending % 32) // 8] |= 1 << (pending % 8)
    return bytes(regs)


def set_lapic():
    base = 0xFEE00000 | 1 << 11 | 1 << 8  # enabled, BSP
    ops = u8(0) + u8(0) + u8(1) + u8(0x0B) + u32(0) + u8(2) + u8(0)
    write("set_lapic", "pending_vector", u8(0) + u64(base) + lapic_page(pending=0x41) + bytes(32) + ops)
    write("set_lapic", "timer_oneshot", u8(2) + u64(base) + lapic_page(tmict=1000, lvtt=0x30) + bytes(32) + ops)
    write("set_lapic", "tsc_deadline_halted", u8(4) + u64(base) + lapic_page(lvtt=0x40030) + bytes(32) + ops)
    write("set_lapic", "apicv_off_disabled", u8(1) + u64(0xFEE00000) + lapic_page(svr=0xFF) + bytes(32) + ops)
    write("set_lapic", "x2apic", u8(0) + u64(base | 1 << 10) + lapic_page(pending=0xEC) + b"\x01" + bytes(31) + ops)


# ---- machine_code (tests/fuzz/machine_code.cc) --------------------------------------------------
def insns(*words):
    return b"".join(u32(w) for w in words)


def machine_code(build):
    off = (0x52800100, 0x72B08000)  # w0 = 0x84000008 (PSCI SYSTEM_OFF)
    write("machine_code", "psci_off_hvc", u8(0) + insns(*off, 0xD4000002))
    write("machine_code", "psci_off_smc", u8(4) + insns(*off, 0xD4000003))
    write("machine_code", "loop_budget", u8(1) + insns(0x14000000))
    write("machine_code", "udf_fault", u8(0) + insns(0x00000000))
    write("machine_code", "gic_access", u8(0) + insns(0xD50342FF, 0xD538CC01, 0xD518CC21, 0xD2A10001, 0xB9400022,
                                                         0xB9000422, 0xD518CBA1, 0xD503207F, 0x14000000))
    write("machine_code", "no_gic", u8(16) + insns(0xD538CC01, 0x14000000))
    if build:
        guests = build / "tests/machine/guests"
        for g, cfg in (("hello", 0), ("fault", 0), ("gic_sgi", 1)):
            if (guests / f"{g}.bin").exists():
                write("machine_code", f"guest_{g}", u8(cfg) + (guests / f"{g}.bin").read_bytes())


def machine_stream(build):
    guest = build / "tests/machine/guests/lpi_migrate.bin" if build else None
    if not guest or not guest.exists() or not (build / "cli/irqdiff").exists():
        print("make_seeds: no dev build with lpi_migrate.bin: corpus/machine_stream kept as it is")
        return
    out = HERE / "corpus" / "machine_stream"
    out.mkdir(parents=True, exist_ok=True)
    for name, args in (("lpi_migrate_1cpu", ["--smp", "1", "--append", "lpis=2 pending=1"]),
                       ("lpi_migrate_2cpu", ["--smp", "2", "--append", "lpis=4 pending=2"])):
        subprocess.run([str(build / "cli/irqdiff"), "machine", str(guest),
                        "--stream", str(out / name), *args], check=True, capture_output=True)


# ---- scenario_gen: generator choices ------------------------------------------------------------
def scenario_gen():
    """Byte strings of the generator's choices (tests/fuzz/scenario_gen.cc): both vocabularies, a
    few lengths; random.Random with fixed seeds, so the files never change."""
    import random
    for k in range(12):
        rng = random.Random(1000 + k)
        flags = k % 4  # bit 0: both guests' vocabulary, bit 1: the explorer check
        body = bytes(rng.randrange(256) for _ in range(16 + 24 * k))
        write("scenario_gen", f"choices_{k:02d}", u8(flags) + body)
# ---- guest_glue: scenario shapes, runs, and each kind of corruption -----------------------------
def guest_glue():
    def g(op, *operands):
        return u8(op) + b"".join(operands)
    fire = lambda i=0: g(5, u8(i))
    run = lambda v=0xFF: g(6, u8(v))  # 0xFF % (vcpus + 1): all with one vCPU (0xFF % 2 = 1) and two (0xFF % 3 = 0: vCPU 0)
    run_all = lambda vcpus: g(6, u8(vcpus))
    mask = lambda v, on: g(7, u8(v << 1 | on))
    code = lambda anchor, off, data: g(0, u8(anchor), u16(off), u8(len(data) - 1), data)
    mailbox = lambda v, field, value: g(1, u8(v), u8(field), u64(value))
    head_rel = lambda v, delta: g(2, u8(v), u8(1), u8(delta))
    head_raw = lambda v, value: g(2, u8(v), u8(0), u32(value))
    entry = lambda v, slot, ident, ts: g(3, u8(v), u16(slot), u32(ident), u64(ts))
    area = lambda v, off, data: g(4, u8(v), u16(off), u8(len(data) - 1), data)
    snap, migrate = g(8), g(9)
    takes = fire(0) + run_all(1) + mask(0, 1) + fire(0) + mask(0, 0) + run_all(1)
    for arch, name in ((0, "arm"), (1, "x86")):
        write("guest_glue", f"{name}_1cpu_fire_mask_run", u8(arch) + u8(1) + takes)
        write("guest_glue", f"{name}_2cpu_3vec_migrate", u8(arch | 0x0A) + u8(0) + fire(0) + fire(1) + fire(2)
              + run_all(2) + mask(1, 1) + fire(1) + migrate + mask(1, 0) + run_all(2))
        write("guest_glue", f"{name}_emulated_traced", u8(arch | 0x44) + u8(3) + fire(0) + fire(1) + run_all(1))
        write("guest_glue", f"{name}_snapshot_restore", u8(arch | 0x06) + u8(0) + snap + fire(0) + fire(1)
              + run_all(2) + snap + run_all(2) + fire(1) + run(1))
        write("guest_glue", f"{name}_head_ahead", u8(arch) + u8(0) + fire(0) + head_rel(0, 1) + run_all(1))
        write("guest_glue", f"{name}_head_raw", u8(arch) + u8(0) + head_raw(0, 0xFFFFFFF0) + fire(0) + run_all(1))
        write("guest_glue", f"{name}_log_entry", u8(arch) + u8(0) + entry(0, 0, 0x2000, 7) + fire(0) + run_all(1))
        write("guest_glue", f"{name}_mailbox", u8(arch) + u8(0) + mailbox(0, 0, 1) + mailbox(0, 1, 9)
              + mailbox(0, 2, 1 << 63) + mailbox(0, 3, 1) + fire(0) + mask(0, 0) + run_all(1))
        write("guest_glue", f"{name}_stack_bytes", u8(arch) + u8(0) + area(0, 0x3FF0, bytes(16)) + fire(0) + run_all(1))
    # Code: the idle loop's body (symbol 3: `mailbox_poll`, `poll`; a run stops as it reaches
    # `idle`, which never executes) and the handler replaced, gates of the IDT cleared.
    write("guest_glue", "arm_poll_udf", u8(0) + u8(0) + code(3, 0, u32(0)) + mask(0, 1))
    write("guest_glue", "arm_handler_no_eoi", u8(0) + u8(0) + code(2, 0x34, u32(0xD503201F)) + fire(0) + run_all(1))
    write("guest_glue", "arm_vbar_misaligned", u8(0) + u8(0) + code(2, 0, u32(0xD518C000)) + fire(0) + run_all(1))
    write("guest_glue", "x86_poll_hlt", u8(1) + u8(0) + code(3, 0, b"\xf4\xf4") + mask(0, 1))
    write("guest_glue", "x86_idt_gate_cleared", u8(1) + u8(0) + code(2, 0, bytes(16)) + fire(0) + run_all(1)
          + code(4, 0x2040 + 0x21 * 16, bytes(16)) + fire(0) + run_all(1))
    write("guest_glue", "x86_timer", u8(0x81) + u8(1) + fire(1) + run_all(1) + mailbox(0, 3, 1) + fire(1) + run_all(1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", type=pathlib.Path, default=ROOT / "build/dev")
    a = p.parse_args()
    build = a.build if a.build.exists() else None
    for t in ("host_its", "gic_registers", "vits_save_restore", "vtd", "set_lapic", "machine_code",
              "guest_glue"):
        shutil.rmtree(HERE / "corpus" / t, ignore_errors=True)
    scenario_loader()
    host_its()
    gic_registers()
    vits_save_restore()
    vtd()
    set_lapic()
    machine_code(build)
    machine_stream(build)
    scenario_gen()
    guest_glue()


if __name__ == "__main__":
    main()
