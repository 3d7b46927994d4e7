"""Machine mode from Python (phase 1; docs/machine.md): run `irqdiff machine IMAGE --json` and read
a bare-metal test guest's report (`PASS:`/`FAIL:`/`SKIP:` lines, `SUMMARY:`, `EXIT: STATUS=n` with
n = (code << 1) | 1; reference/arm_virt_machine.md §8) as a table.

>>> from irqdiff import machine
>>> machine.parse_report("PASS: a\\nFAIL: b\\nSUMMARY: 2 tests\\nEXIT: STATUS=3\\n").failed
1

In process: `irqdiff.Machine(image, smp=, append=, assign=, policy=, dest_policy=, order=, ...)` with
`.run(insns=None)` (migrating at every trigger), `.migrate()`, `.uart`, `.stop_reason`, `.result`,
`.trace()` and `.report` (the parsed PASS/FAIL table); docs/machine.md "Python".
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from typing import List, Optional, Sequence

__all__ = ["Machine", "Report", "parse_report", "run"]


@dataclasses.dataclass
class Report:
    """The results a test guest printed, in order."""

    rows: List[dict]              # {"status": "PASS"|"FAIL"|"SKIP", "test": text}
    summary: Optional[str]        # the text after SUMMARY:
    exit_code: Optional[int]      # from EXIT: STATUS=n (n odd), n >> 1

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r["status"] == status)

    @property
    def failed(self) -> int:
        return self.count("FAIL")

    @property
    def passed(self) -> bool:
        """At least one result, none failed, and the exit code (if printed) is 0."""
        return bool(self.rows) and self.failed == 0 and self.exit_code in (None, 0)

    def table(self):
        """The rows as a pandas DataFrame (pandas is a Debian package the notebooks use)."""
        import pandas
        return pandas.DataFrame(self.rows, columns=["status", "test"])


def parse_report(uart: str) -> Report:
    rows, summary, code = [], None, None
    for line in uart.splitlines():
        line = line.strip()
        for status in ("PASS", "FAIL", "SKIP"):
            if line.startswith(status + ":"):
                rows.append({"status": status, "test": line[len(status) + 1:].strip()})
        if line.startswith("SUMMARY:"):
            summary = line[len("SUMMARY:"):].strip()
        if line.startswith("EXIT: STATUS="):
            n = line[len("EXIT: STATUS="):]
            if n.isdigit() and int(n) & 1:
                code = int(n) >> 1
    return Report(rows, summary, code)


def run(image: str, *args: str, irqdiff: Optional[str] = None, timeout: float = 600) -> dict:
    """Runs `irqdiff machine IMAGE ARGS... --json`; returns its JSON document plus "report" (a
    Report of the UART text) and "returncode". `irqdiff`: the CLI (default: $IRQDIFF_CLI, else
    `irqdiff` on PATH). Bad input (exit 2) raises ValueError with the CLI's message."""
    exe = irqdiff or os.environ.get("IRQDIFF_CLI") or shutil.which("irqdiff")
    if not exe:
        raise FileNotFoundError("the irqdiff CLI: pass irqdiff= or set IRQDIFF_CLI")
    p = subprocess.run([exe, "machine", str(image), *map(str, args), "--json"], capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode == 2:
        raise ValueError(p.stderr.strip())
    if p.returncode not in (0, 1):
        raise RuntimeError(p.stderr.strip())
    doc = json.loads(p.stdout)
    doc["report"] = parse_report(doc["uart"])
    doc["returncode"] = p.returncode
    return doc


class Machine:
    """A machine-mode VM in this process (arm_gic/machine/session.h, the same Session the CLI runs).
    Bad arguments raise ValueError naming the argument."""

    def __init__(self, image=None, **kwargs):
        from irqdiff import _core
        self._m = _core.Machine(image, **kwargs)

    def run(self, insns=None) -> dict:
        """Runs until SYSTEM_OFF, reset, fault or budget (migrating at every trigger); with `insns`,
        pauses after that many more instructions (stop_reason "paused")."""
        return self._m.run(insns)

    def migrate(self) -> dict:
        """Migrates now: save, stream, fresh destination, restore, key. Returns the migration report."""
        return self._m.migrate()

    @property
    def uart(self) -> str:
        return self._m.uart

    @property
    def stop_reason(self) -> str:
        return self._m.stop_reason

    @property
    def result(self) -> dict:
        return self._m.result

    @property
    def report(self) -> Report:
        return parse_report(self.uart)

    def trace(self) -> dict:
        return self._m.trace()

    def log(self) -> str:
        """The model's event log over every board the VM ran on, one line per entry: every
        operation with ``record_log=True``, otherwise the notes only (guest errors, ignored
        accesses, refusals; also in ``result["log"]["notes"]``)."""
        return self._m.log()
