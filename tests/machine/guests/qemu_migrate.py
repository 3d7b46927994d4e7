#!/usr/bin/python3
"""Runs a machine-mode test guest on QEMU TCG and migrates it for real at its migration prompt.

The reference run for lpi_migrate (docs/machine.md "Test guests"): the source QEMU runs the guest
until the UART prints the prompt of reference/arm_virt_machine.md §8, the host stops it
(`stop`), saves it (`migrate "exec:cat > STATE"`) and quits it; a fresh destination QEMU loads the
stream (`-incoming "exec:cat STATE"`), resumes (`cont`) and the host sends one byte to the UART.
Prints the guest's UART text from both sides and exits with the guest's EXIT status (0 = pass).
Standard library only.

    tests/machine/guests/qemu_migrate.py build/dev/tests/machine/guests/lpi_migrate.bin \
        --smp 8 --append "lpis=64 pending=40"
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

PROMPT = b"Now migrate the VM, then press a key to continue..."


def connect(path):
    for _ in range(200):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"cannot connect to {path}")


def read_until(sock, marks, timeout):
    sock.settimeout(timeout)
    buf = b""
    try:
        while not any(m in buf for m in marks):
            data = sock.recv(4096)
            if not data:
                break
            buf += data
    except socket.timeout:
        pass
    return buf


def monitor(sock, cmd):
    sock.sendall(cmd.encode() + b"\n")
    time.sleep(0.2)
    sock.settimeout(1)
    try:
        return sock.recv(65536).decode("utf-8", "replace")
    except socket.timeout:
        return ""


def start(args, tmp, tag, incoming=None):
    ser, mon = os.path.join(tmp, tag + ".serial"), os.path.join(tmp, tag + ".monitor")
    cmd = [args.qemu, "-machine", "virt,gic-version=3", "-accel", "tcg", "-cpu", "max", "-smp", str(args.smp),
           "-m", "128M", "-display", "none", "-nic", "none",
           "-chardev", f"socket,id=ser,path={ser},server=on,wait=off", "-serial", "chardev:ser",
           "-monitor", f"unix:{mon},server=on,wait=off", "-kernel", args.image, "-append", args.append]
    if incoming:
        cmd += ["-incoming", incoming]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    return proc, connect(ser), connect(mon)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image")
    ap.add_argument("--smp", type=int, default=4)
    ap.add_argument("--append", default="")
    ap.add_argument("--qemu", default="qemu-system-aarch64")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()
    # The guest's own key wait must outlast the host's migration.
    if "wait=" not in args.append:
        args.append = (args.append + " wait=60000").strip()
    with tempfile.TemporaryDirectory(prefix="qemu_migrate.") as tmp:
        state = os.path.join(tmp, "state")
        src, ser, mon = start(args, tmp, "src")
        out = read_until(ser, [PROMPT, b"EXIT: STATUS="], args.timeout)
        sys.stdout.write(out.decode("utf-8", "replace"))
        if PROMPT not in out:
            src.kill()
            print("\nqemu_migrate: the guest never printed the migration prompt", file=sys.stderr)
            return 2
        monitor(mon, "stop")
        monitor(mon, f'migrate "exec:cat > {state}"')
        for _ in range(300):
            if "completed" in monitor(mon, "info migrate"):
                break
        size = os.path.getsize(state)
        monitor(mon, "quit")
        src.wait(30)
        print(f"\n[qemu_migrate: source stopped, {size} bytes saved, source quit; starting the destination]",
              flush=True)
        dst, ser, mon = start(args, tmp, "dst", incoming=f"exec:cat {state}")
        for _ in range(300):
            r = monitor(mon, "info status")
            if ("paused" in r or "running" in r) and "inmigrate" not in r:
                break
        monitor(mon, "cont")
        print("[qemu_migrate: destination resumed; sending a key]", flush=True)
        ser.sendall(b"x")
        out = read_until(ser, [b"EXIT: STATUS="], args.timeout)
        out += read_until(ser, [b"\n"], 2)
        text = out.decode("utf-8", "replace")
        sys.stdout.write(text)
        try:
            dst.wait(30)
        except subprocess.TimeoutExpired:
            dst.kill()
        m = re.search(r"EXIT: STATUS=(\d+)", text)
        return (int(m.group(1)) >> 1) if m else 2


if __name__ == "__main__":
    sys.exit(main())
