"""The explorer from Python: every restore order x arrival point x policy value of a scenario, on one
or more backends, as the JSON document of `irqdiff explore --json` (docs/results.md "Explore") with
pandas views; and `sweep`, the same exploration split into integer-range chunks on a Dask
distributed cluster, resumable through a JSON Lines manifest."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from . import _core
from ._core import Scenario, ScenarioError

ArchArg = Union[None, str, Iterable[str]]


class Exploration:
    """The result of irqdiff.explore / irqdiff.sweep.

    schedules:  how many schedules the exploration has (all ranges together)
    policies:   per backend and swept policy combination: schedules, orders, failing orders,
                fragility (share of the admissible orders with a schedule that loses or duplicates
                an interrupt or breaks an architectural rule), outcome counts per source
    cells:      schedules of one backend and policy with the same outcomes, with a schedule count
                and, when failing, the shortest failing schedule with its whole event log
    matrix:     one entry per schedule: order, arrival points, each source's outcome, window, hops
    """

    def __init__(self, doc: Dict[str, Any]):
        self._doc = doc

    schedules = property(lambda self: self._doc["schedules"])
    explored = property(lambda self: self._doc["explored"])
    range = property(lambda self: tuple(self._doc["range"]))
    space = property(lambda self: self._doc["space"])
    policies = property(lambda self: self._doc["policies"])
    cells = property(lambda self: self._doc["cells"])
    matrix = property(lambda self: self._doc["matrix"])
    expectations_met = property(lambda self: self._doc["expectations_met"])

    def to_dict(self) -> Dict[str, Any]:
        return self._doc

    def to_pandas(self):
        """The outcome matrix in long form: one row per schedule and source, with columns index,
        arch, policy (the swept values), order, arrivals, source, outcome, forwarded, late, window,
        hops, failing (the schedule loses, duplicates or breaks a rule), violations, events."""
        import pandas as pd

        rows = []
        for r in self._doc["matrix"]:
            failing = bool(r["violations"]) or any(
                s["outcome"] in ("lost", "duplicated") for s in r["sources"].values())
            for source, s in r["sources"].items():
                rows.append({
                    "index": r["index"], "arch": r["arch"], "policy": r["swept"],
                    "order": ",".join(r["order"]), "arrivals": ",".join(r["arrivals"]),
                    "source": source, "outcome": s["outcome"], "forwarded": s["forwarded"],
                    "late": s["late"], "window": s["window"], "hops": s["hops"], "failing": failing,
                    "violations": ",".join(r["violations"]), "events": r["events"],
                })
        return pd.DataFrame(rows, columns=["index", "arch", "policy", "order", "arrivals", "source", "outcome",
                                           "forwarded", "late", "window", "hops", "failing", "violations",
                                           "events"])

    def policies_to_pandas(self):
        """One row per backend and swept policy combination, with its fragility."""
        import pandas as pd

        return pd.DataFrame([{k: p[k] for k in ("arch", "swept", "schedules", "orders", "failing_orders",
                                                 "failing_schedules", "fragility")}
                             for p in self._doc["policies"]])

    def cells_to_pandas(self):
        """One row per cell: backend, policy, outcomes (text), failing, schedules, orders, example."""
        import pandas as pd

        rows = []
        for c in self._doc["cells"]:
            outcomes = ", ".join(
                f"{src} {o['outcome']}" + (" (forwarded=false)" if o["forwarded"] is False else "")
                for src, o in c["outcomes"].items())
            rows.append({"arch": c["arch"], "policy": c["swept"], "outcomes": outcomes,
                         "violations": ",".join(c["violations"]), "failing": c["failing"],
                         "schedules": c["schedules"], "orders": c["orders"], "example": c["example"]["index"]})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return (f"<irqdiff.Exploration {self._doc['scenario']}: {self.explored} of {self.schedules} schedules, "
                f"{len(self.cells)} cells>")


def _scenario(scenario) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    return Scenario.load(os.fspath(scenario))


def explore(scenario, arch: ArchArg = None, policy: Optional[Mapping[str, str]] = None,
            order: Optional[str] = None, before: Optional[str] = None, lo: Optional[int] = None,
            hi: Optional[int] = None, traces: bool = True, order_set: Optional[str] = None) -> Exploration:
    """Runs every schedule of a scenario (or the slice lo..hi-1) and groups the outcomes.

    scenario: a Scenario, or the path of a scenario file.
    arch:     as for irqdiff.run ("arm", "x86", "both", a list naming each backend once; default:
              the scenario's backends).
    policy:   {"KEY": "VALUE"} fixes a policy; {"KEY": "all"} explores every value of it.
    order:    "all" explores every admissible restore order of every migrate step; a named order
              or "a,b,c" fixes it; None keeps what the scenario says (which may be `order: all`).
    before:   "any" makes every interrupt fired during a migration arrive at every point.
    traces:   re-run each failing cell's shortest schedule with its whole event log.
    order_set: the order set (docs/design.md "Order sets": "data", "abi", "qemu", "qemu-7.2",
              "cloud-hypervisor") whose orders `order: all` explores; every fixed order must be in it.
              None: each step's own (`all` is "data").
    """
    return Exploration(_core.explore(_scenario(scenario), arch=arch, policy=policy, order=order, before=before,
                                     lo=lo, hi=hi, traces=traces, order_set=order_set))


def explore_size(scenario, arch: ArchArg = None, policy: Optional[Mapping[str, str]] = None,
                 order: Optional[str] = None, before: Optional[str] = None,
                 order_set: Optional[str] = None) -> int:
    """How many schedules explore(...) with these arguments has."""
    return _core.explore_size(_scenario(scenario), arch=arch, policy=policy, order=order, before=before,
                              order_set=order_set)


# ---- distributed sweeps ------------------------------------------------------------------------

def _chunk(text: str, file: str, arch, policy, order, before, lo: int, hi: int,
           order_set=None) -> List[Dict[str, Any]]:
    """One chunk, run on a worker: the scenario travels as its text (workers need no shared files)."""
    from irqdiff import _core as core  # imported on the worker

    scenario = core.Scenario.from_yaml(text, file)
    return core.explore_rows(scenario, arch, policy, order, before, lo, hi, order_set)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)  # bool is an int subclass: True is not 1 schedule


def _check_chunk(rows, lo: int, hi: int, where: str) -> None:
    """A chunk's rows are exactly its schedules lo..hi-1, each once (a chunk of 0 rows, a repeated
    or missing schedule, or one from outside the chunk is an error naming the chunk). Repeats are
    allowed only across chunks: a resumed sweep may run a whole chunk again."""
    place = f"{where}: chunk [{lo}, {hi})"
    if not isinstance(rows, list):
        raise ScenarioError(f"{place}: rows: expected a list of schedule rows, got {type(rows).__name__}")
    seen = set()
    for i, row in enumerate(rows):
        index = row.get("index") if isinstance(row, dict) else None
        if not _is_int(index):
            raise ScenarioError(f"{place}: rows[{i}]: expected a schedule row with an integer 'index'")
        if not lo <= index < hi:
            raise ScenarioError(f"{place}: rows[{i}]: schedule {index} is outside the chunk")
        if index in seen:
            raise ScenarioError(f"{place}: rows[{i}]: schedule {index} appears twice")
        seen.add(index)
    if len(seen) != hi - lo:
        missing = next(n for n in range(lo, hi) if n not in seen)
        raise ScenarioError(f"{place}: {len(seen)} rows; expected {hi - lo}, one per schedule "
                            f"(schedule {missing} is missing)")


def _read_manifest(path: str, key: Dict[str, Any], ranges: List[tuple]) -> Dict[tuple, list]:
    """Chunks already done, from a manifest written for the same exploration. A line cut short by
    an interrupted write is skipped (that chunk runs again); any other line must be a chunk of
    `ranges` holding exactly its rows. A chunk found twice keeps its last line."""
    done: Dict[tuple, list] = {}
    if not os.path.exists(path):
        return done
    wanted = set(ranges)
    header = False
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                if not header:  # chunks after an unreadable header could belong to any exploration
                    raise ScenarioError(f"{path}:{n}: the manifest's first line, which names the exploration, is "
                                        f"cut short; expected {{\"exploration\": ...}} (delete the file to start "
                                        f"again)") from None
                continue
            if not header:
                if not isinstance(entry, dict) or entry.get("exploration") != key:
                    found = entry.get("exploration") if isinstance(entry, dict) else entry
                    raise ScenarioError(f"{path}:{n}: the manifest belongs to another exploration "
                                        f"({found}); expected {key}")
                header = True
                continue
            if not (isinstance(entry, dict) and _is_int(entry.get("lo")) and _is_int(entry.get("hi"))
                    and "rows" in entry):
                raise ScenarioError(f"{path}:{n}: expected a finished chunk {{\"lo\": N, \"hi\": N, \"rows\": "
                                    f"[...]}}")
            lo, hi = entry["lo"], entry["hi"]
            if (lo, hi) not in wanted:
                raise ScenarioError(f"{path}:{n}: chunk [{lo}, {hi}) is not a chunk of this exploration "
                                    f"(chunks of {key['chunk']} schedules from 0 to {key['schedules']})")
            _check_chunk(entry["rows"], lo, hi, f"{path}:{n}")
            done[(lo, hi)] = entry["rows"]
    return done


def sweep(scenario, arch: ArchArg = None, policy: Optional[Mapping[str, str]] = None,
          order: Optional[str] = None, before: Optional[str] = None, chunk: int = 1000,
          client=None, scheduler: Optional[str] = None, workers: int = 2,
          manifest: Optional[Union[str, os.PathLike]] = None, progress: bool = True,
          traces: bool = True, order_set: Optional[str] = None) -> Exploration:
    """explore(...) split into integer-range chunks of `chunk` schedules on a Dask cluster.

    chunk:     a positive int (a bool is refused, though Python counts True as 1).
    client:    a dask.distributed Client to use; else `scheduler` (an address such as
               "tcp://host:8786") is connected to; else a LocalCluster of `workers` processes is
               started for the sweep and closed after it.
    manifest:  a JSON Lines file: its first line names the exploration, each further line is one
               finished chunk {"lo", "hi", "rows"}. Chunks already in it are not run again, so an
               interrupted sweep resumes where it stopped; chunks are idempotent (a chunk's rows
               depend only on its range), so one that ran twice changes nothing (a chunk found twice
               keeps its last line). A line cut short by an interrupted write is skipped; any other
               line must be a chunk of this exploration holding exactly one row per schedule of its
               range, else ScenarioError("MANIFEST:LINE: chunk [lo, hi): ..."). A worker's chunk is
               checked the same way.
    progress:  show a progress bar (tqdm) over the chunks.
    """
    if not _is_int(chunk) or chunk < 1:
        raise ScenarioError(f"sweep(chunk=...): {chunk!r}: expected a positive number of schedules (an int, "
                            f"not a bool)")
    s = _scenario(scenario)
    total = _core.explore_size(s, arch=arch, policy=policy, order=order, before=before, order_set=order_set)
    text = s.text
    arch_arg = list(arch) if arch is not None and not isinstance(arch, str) else arch
    policy_arg = dict(policy) if policy is not None else None
    key = {"scenario": s.name, "file": s.file, "arch": arch_arg, "policy": policy_arg, "order": order,
           "before": before, "schedules": total, "chunk": chunk}
    if order_set is not None:
        key["order_set"] = order_set  # absent otherwise, so manifests written before order sets still match
    ranges = [(lo, min(lo + chunk, total)) for lo in range(0, total, chunk)]
    done: Dict[tuple, list] = {}
    out = None
    if manifest is not None:
        manifest = os.fspath(manifest)
        done = _read_manifest(manifest, key, ranges)
        fresh = not os.path.exists(manifest) or os.path.getsize(manifest) == 0
        cut = False
        if not fresh:
            with open(manifest, "rb") as f:
                f.seek(-1, os.SEEK_END)
                cut = f.read(1) != b"\n"
        out = open(manifest, "a", encoding="utf-8")
        if cut:
            out.write("\n")  # end the line an interrupted write left unfinished
        if fresh:
            out.write(json.dumps({"exploration": key}) + "\n")
            out.flush()
    todo = [r for r in ranges if r not in done]

    own_cluster = None
    try:
        if todo:
            from dask.distributed import Client, LocalCluster, as_completed

            if client is None:
                if scheduler is not None:
                    client = own_cluster = Client(scheduler)
                else:
                    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
                    client = own_cluster = Client(cluster)
            futures = [client.submit(_chunk, text, s.file, arch_arg, policy_arg, order, before, lo, hi, order_set,
                                     key=f"irqdiff-{s.name}-{order_set or 'own'}-{total}-{lo}-{hi}", pure=False, retries=2)
                       for lo, hi in todo]
            bounds = {f.key: r for f, r in zip(futures, todo)}
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(ranges), initial=len(ranges) - len(todo), unit="chunk",
                           desc=f"sweep {s.name}")
            for future in as_completed(futures):
                rows = future.result()
                lo, hi = bounds[future.key]
                _check_chunk(rows, lo, hi, "sweep: worker")
                done[(lo, hi)] = rows
                if out is not None:
                    out.write(json.dumps({"lo": lo, "hi": hi, "rows": rows}) + "\n")
                    out.flush()
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
    finally:
        if out is not None:
            out.close()
        if own_cluster is not None:
            cluster = getattr(own_cluster, "cluster", None)
            own_cluster.close()
            if cluster is not None:
                cluster.close()
    rows = [row for r in ranges for row in done[r]]
    return Exploration(_core.summarize(s, arch_arg, policy_arg, order, before, rows, 0, total, traces,
                                       order_set=order_set))
