#!/usr/bin/python3
"""Machine-mode benchmark: the bench guest on QEMU TCG and on irqdiff, side by side.

Issue 16 "Performance". Runs tests/machine/guests/bench.bin (bench.c) under
``qemu-system-aarch64 -machine virt,gic-version=3 -accel tcg -cpu max -smp 2`` for each
operation (lpi, msi, sgi, ipi, eoi, gicd) with ``iters=0`` and ``iters=N``, each REPEAT times, takes the
median wall-clock time of each and reports the cost of one operation as
``(t(N) - t(0)) / N`` (boot, setup and power-off cancel out). With ``--irqdiff PATH`` it runs
``PATH machine bench.bin --smp 2 --append "op=OP iters=N"`` the same way and prints both
columns and the ratio (QEMU / irqdiff: how many times faster irqdiff is). op=msi runs irqdiff with
``--assign 0x10:1`` (the assigned device's MSI: host ITS -> VPT, a forwarded vLPI) and QEMU with
the guest's own GITS_TRANSLATER write (QEMU's emulated ITS: virt has no passthrough device). A run that fails
(non-zero exit, no ``BENCH:`` line, a ``FAIL:`` line) is reported as such, and the other column
is still printed. irqdiff's virtual time counts instructions, so only host wall-clock figures
are compared. Standard library only.

    /usr/bin/python3 bench/machine_qemu.py [--iters 65536] [--repeat 3] [--irqdiff build/dev/cli/irqdiff]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

OPS = ("lpi", "msi", "sgi", "ipi", "eoi", "gicd")
DESCRIPTION = {
    "lpi": "ITS INT -> LPI taken -> EOI round trip",
    "msi": "device MSI -> LPI taken -> EOI round trip",
    "sgi": "SGI to cpu 1 and back round trip",
    "ipi": "SGI to cpu 1, its handler's store seen",
    "eoi": "ICC_EOIR1_EL1 write",
    "gicd": "GICD_IIDR read",
}
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BIN = os.path.join(HERE, "..", "build", "dev", "tests", "machine", "guests", "bench.bin")


class RunError(Exception):
    pass


def qemu_command(qemu, image, smp, append, op):
    # -nic none: virt's default virtio NIC wants efi-virtio.rom (Debian ipxe-qemu, a Recommends that
    # --no-install-recommends leaves out); the bench guest has no use for a NIC.
    del op  # op=msi on QEMU: the guest writes GITS_TRANSLATER itself (bench.c)
    return [qemu, "-machine", "virt,gic-version=3", "-accel", "tcg", "-cpu", "max", "-smp", str(smp),
            "-m", "128M", "-nographic", "-nic", "none", "-kernel", image, "-append", append]


def irqdiff_command(irqdiff, image, smp, append, op):
    # op=msi raises the MSI from assigned device 0x10 through the MSI test device (bench.c).
    assign = ["--assign", "0x10:1"] if op == "msi" else []
    return [irqdiff, "machine", image, "--smp", str(smp), "--append", append] + assign


def run_once(cmd, op, iters, timeout):
    """Runs one guest; returns the wall-clock seconds. Raises RunError with the reason."""
    start = time.perf_counter()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except FileNotFoundError as e:
        raise RunError(f"cannot run {cmd[0]}: {e.strerror}")
    except subprocess.TimeoutExpired:
        raise RunError(f"timed out after {timeout} s")
    elapsed = time.perf_counter() - start
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace").strip()
    if p.returncode != 0:
        lines = err.splitlines() or out.strip().splitlines()[-1:] or ["(no output)"]
        reason = " | ".join(line.strip() for line in lines[:3])
        raise RunError(f"exit {p.returncode}: {reason[:400]}")
    want = f"BENCH: op={op} iters={iters}"
    if not any(line.startswith(want) for line in out.splitlines()):
        raise RunError(f"no '{want}' line in the output")
    fails = [line for line in out.splitlines() if line.startswith("FAIL:")]
    if fails:
        raise RunError(fails[0])
    return elapsed


def first_line_seconds(cmd, timeout):
    """Wall-clock seconds from starting `cmd` to the first complete line on its stdout (the
    guest's first UART line: both emulators put the PL011 on stdout). Raises RunError."""
    start = time.perf_counter()
    try:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except FileNotFoundError as e:
        raise RunError(f"cannot run {cmd[0]}: {e.strerror}")
    try:
        line = p.stdout.readline()
        elapsed = time.perf_counter() - start
    finally:
        p.kill()
        p.wait(timeout)
    if not line.endswith(b"\n"):
        raise RunError("no UART line")
    return elapsed


def op_iters(op, iters, mmio_factor):
    """eoi and gicd cost ~0.1 us on QEMU: N of them vanish in the boot's jitter, so they run
    mmio_factor x N (reported in the header)."""
    return iters * mmio_factor if op in ("eoi", "gicd") else iters


def measure(make_cmd, op, iters, repeat, timeout, wait):
    """Median seconds of t(0) and t(iters) for one op; raises RunError."""
    times = {}
    for n in (0, iters):
        append = f"op={op} iters={n} wait={wait}"
        times[n] = statistics.median(run_once(make_cmd(append, op), op, n, timeout) for _ in range(repeat))
    return times[0], times[iters]


def fmt_us(us):
    if us is None:
        return "-"
    return f"{us:.3f}" if us < 10 else f"{us:.1f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=DEFAULT_BIN, help="the bench guest image (default: %(default)s)")
    ap.add_argument("--iters", type=int, default=65536, help="N (default 65536)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per point, the median is taken (default 3)")
    ap.add_argument("--ops", default=",".join(OPS), help="comma-separated subset of " + ",".join(OPS))
    ap.add_argument("--wait", choices=("wfi", "spin"), default="wfi",
                    help="how the guest waits for an interrupt (bench.c; default wfi)")
    ap.add_argument("--mmio-factor", type=int, default=16,
                    help="eoi and gicd run this many times N iterations (default 16)")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--qemu", default="qemu-system-aarch64")
    ap.add_argument("--irqdiff", metavar="PATH", help="also run PATH machine bench.bin ... and print the ratio")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run (default 600)")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON document")
    ap.add_argument("--boot-image", default=os.path.join(os.path.dirname(DEFAULT_BIN), "hello.bin"),
                    help="the guest whose time to its first UART line is measured (default: hello.bin "
                         "next to --bin)")
    a = ap.parse_args(argv)

    ops = [o for o in a.ops.split(",") if o]
    bad = [o for o in ops if o not in OPS]
    if bad:
        ap.error(f"--ops: unknown operation {bad[0]!r} (expected some of {', '.join(OPS)})")
    if a.iters < 1 or a.repeat < 1:
        ap.error("--iters and --repeat must be at least 1")
    if not os.path.isfile(a.bin):
        ap.error(f"--bin: {a.bin} does not exist (cmake --build --preset dev --target machine_guests)")
    if shutil.which(a.qemu) is None:
        print(f"machine_qemu: {a.qemu} not found (Debian qemu-system-arm); the QEMU column is skipped",
              file=sys.stderr)

    columns = [("qemu", lambda app, op: qemu_command(a.qemu, a.bin, a.smp, app, op))]
    if a.irqdiff:
        columns.append(("irqdiff", lambda app, op: irqdiff_command(a.irqdiff, a.bin, a.smp, app, op)))

    results = {}
    for op in ops:
        results[op] = {}
        for name, make in columns:
            try:
                n = op_iters(op, a.iters, a.mmio_factor)
                t0, tn = measure(make, op, n, a.repeat, a.timeout, a.wait)
                results[op][name] = {"us": (tn - t0) / n * 1e6, "t0_s": t0, "tn_s": tn, "iters": n, "error": None}
            except RunError as e:
                results[op][name] = {"us": None, "t0_s": None, "tn_s": None, "iters": None, "error": str(e)}
            r = results[op][name]
            if not a.json:
                status = f"{fmt_us(r['us'])} us" if r["error"] is None else f"FAILED ({r['error']})"
                print(f"  {name:8} op={op:5} {status}", file=sys.stderr, flush=True)

    # Boot to the first UART line (issue 16 goal: under 50 ms), median of 5 per column.
    boot_image = a.boot_image if os.path.isfile(a.boot_image) else os.path.join(os.path.dirname(a.bin), "hello.bin")
    first_line = {}
    if os.path.isfile(boot_image):
        for name, make in columns:
            try:
                cmd = (qemu_command(a.qemu, boot_image, 1, "", None) if name == "qemu"
                       else irqdiff_command(a.irqdiff, boot_image, 1, "", None))
                first_line[name] = statistics.median(first_line_seconds(cmd, a.timeout) for _ in range(5))
            except RunError as e:
                first_line[name] = None
                print(f"  {name:8} first UART line: FAILED ({e})", file=sys.stderr)

    sys.stderr.flush()
    if a.json:
        doc = {"iters": a.iters, "mmio_factor": a.mmio_factor, "repeat": a.repeat, "smp": a.smp, "wait": a.wait,
               "image": a.bin, "ops": results, "first_uart_line_s": first_line}
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        print(f"machine benchmark: bench.bin, -smp {a.smp}, wait={a.wait}, N = {a.iters} iterations "
              f"({a.mmio_factor} x N for eoi, gicd), median of {a.repeat}; us per operation = (t(N) - t(0)) / N")
        head = f"{'op':5}  {'operation':40}  {'QEMU TCG us':>12}"
        if a.irqdiff:
            head += f"  {'irqdiff us':>12}  {'QEMU/irqdiff':>12}"
        print(head)
        for op in ops:
            q = results[op]["qemu"]
            line = f"{op:5}  {DESCRIPTION[op]:40}  {fmt_us(q['us']) if not q['error'] else 'FAILED':>12}"
            if a.irqdiff:
                i = results[op]["irqdiff"]
                ratio = "-"
                if q["us"] and i["us"] and i["us"] > 0:
                    ratio = f"{q['us'] / i['us']:.2f}x"
                line += f"  {fmt_us(i['us']) if not i['error'] else 'FAILED':>12}  {ratio:>12}"
            print(line)
        boot = {name: [results[op][name]["t0_s"] for op in ops if results[op][name]["t0_s"] is not None]
                for name, _ in columns}
        for name, t in boot.items():
            if t:
                print(f"{name}: boot + setup + power-off (iters=0), median over ops: "
                      f"{statistics.median(t) * 1e3:.0f} ms")
        for name, t in first_line.items():
            if t is not None:
                print(f"{name}: process start to the first UART line of {os.path.basename(boot_image)}, "
                      f"median of 5: {t * 1e3:.1f} ms")
        for op in ops:
            for name, _ in columns:
                if results[op][name]["error"]:
                    print(f"{name} op={op} failed: {results[op][name]['error']}")
    failed = any(results[op]["qemu"]["error"] for op in ops)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
