"""irqdiff: a differential emulator of interrupt virtualization.

Load a scenario, run it on one or more backends, and compare every interrupt source with the
oracle (an ideal controller without virtualization or migration):

>>> import irqdiff, pathlib
>>> s = irqdiff.load(pathlib.Path(irqdiff.SOURCE_DIR, "scenarios/seed/pending_across_migration.yaml"))
>>> r = irqdiff.run(s, arch="ideal")
>>> r.outcomes["ideal"]
{'nic.0': 'delivered-once', 'nic.1': 'delivered-once'}
>>> r.expectations_met
True

Bad input raises ScenarioError (a ValueError) whose message starts with the place:

>>> irqdiff.Scenario.from_yaml("name: x\\nvm: {vcpus: 02}\\ndevices: []\\nsteps: [{run: all}]\\n", "inline.yaml")
Traceback (most recent call last):
  ...
irqdiff._core.ScenarioError: inline.yaml:2:13: vm.vcpus: '02' has a leading zero (write decimals without leading zeros, or hexadecimal as 0x...)
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping, Optional, Union

from ._core import Scenario, ScenarioError, __version__
from . import _core
from ._paths import SOURCE_DIR
from .machine import Machine
from .results import Results, Run
from .explore import Exploration, explore, explore_size, sweep

__all__ = ["Scenario", "ScenarioError", "Results", "Run", "Exploration", "load", "run", "explore", "explore_size",
           "sweep", "backends", "policies", "events", "version", "SOURCE_DIR", "__version__"]



def load(path: Union[str, os.PathLike]) -> Scenario:
    """Loads and validates a scenario file (YAML, format v1).

    Raises ScenarioError("FILE:LINE:COL: what was expected") for a bad file.
    """
    return Scenario.load(os.fspath(path))


def run(scenario: Union[Scenario, str, os.PathLike], arch: Union[None, str, Iterable[str]] = None,
        policy: Optional[Mapping[str, str]] = None, order: Optional[str] = None, events: bool = True,
        guest: Optional[str] = None, trace_guest: bool = False, order_set: Optional[str] = None) -> Results:
    """Runs a scenario and compares each fired source with the oracle.

    scenario: a Scenario, or the path of a scenario file.
    arch:     "ideal", "arm", "x86", "both" (= arm and x86) or a list of them naming each backend
              once (["arm", "arm"] or ["both", "x86"] is a ScenarioError); default: every
              virtualizing backend in this build, else "ideal".
    policy:   overrides of the scenario's policy, e.g. {"arm.transfer": "set_forwarding"}.
    order:    the restore order for every migrate step: a named order ("qemu") or "a,b,c".
    events:   record the full event log (False keeps only violations and guest errors).
    guest:    "abstract", "unicorn" (AArch64 / x86-64 guest code in Unicorn Engine, docs/guests.md)
              or "both" (each backend with each guest; Results.guest_differences must be empty);
              default: the scenario's `guest`, else "abstract".
    trace_guest: with the Unicorn guest, list each handler's instructions in its GUEST.irq_return
              event.
    order_set: every migrate step's order must belong to this order set ("data", "abi", "qemu",
              "qemu-7.2", "cloud-hypervisor"; docs/design.md "Order sets"), else ScenarioError.

    >>> r = irqdiff.run(irqdiff.SOURCE_DIR + "/scenarios/seed/pending_across_migration.yaml", arch="x86",
    ...                 guest="unicorn")
    >>> r["x86"].guest, [e["id"] for e in r["x86"].guest_log] == [0x21, 0x21]
    ('unicorn', True)
    """
    if not isinstance(scenario, Scenario):
        scenario = load(scenario)
    return Results(_core.run(scenario, arch=arch, policy=policy, order=order, events=events, guest=guest,
                             trace_guest=trace_guest, order_set=order_set))


def backends() -> list:
    """The backends in this build, each with its migration plan (steps, dependencies, orders)."""
    return _core.backends()


def policies() -> list:
    """The policy catalogue: key, backend, values, default, what it chooses, where it comes from."""
    return _core.policies()


def events() -> list:
    """The event catalogue: every declared event (op, layer, kind, typed args, doc, source) and who
    declares it (core or a backend), core's first (docs/traces.md "Declared events").

    >>> [e for e in irqdiff.events() if e["op"] == "ITS.write_CTLR"][0]["args"]
    [{'key': 'its', 'type': 'int'}, {'key': 'enabled', 'type': 'bool'}]
    """
    return _core.events()


def version() -> str:
    """irqdiff's version with the Unicorn and Capstone versions it was built with."""
    return _core.version()
