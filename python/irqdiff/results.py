"""Results of irqdiff.run: the JSON document of `irqdiff run --json` with attribute access and
pandas views."""

from __future__ import annotations

from typing import Any, Dict, List


class Run:
    """One scenario run on one backend.

    outcomes:          {source: "delivered-once" | "lost" | "duplicated" | "pending"}
    expectations_met:  every expectation holds and there was no architectural violation
    events:            the event log (dicts with seq, action, layer, kind, op, args, sources)
    locations:         after which action each source's pending state moved, and where to
    guest:             "abstract" or "unicorn" (docs/guests.md)
    guest_log:         the Unicorn guest's own log, read back from guest memory: one dict per
                       interrupt its handler logged (action, vcpu, id = INTID or vector,
                       timestamp = the guest's clock, pc = the interrupted PC); empty for the
                       abstract guest
    """

    def __init__(self, doc: Dict[str, Any]):
        self._doc = doc

    arch = property(lambda self: self._doc["arch"])
    guest = property(lambda self: self._doc["guest"])
    guest_log = property(lambda self: self._doc["guest_log"])
    policy = property(lambda self: dict(self._doc["policy"]))
    order = property(lambda self: self._doc["order"])
    outcomes = property(lambda self: dict(self._doc["outcomes"]))
    outcome_details = property(lambda self: self._doc["outcome_details"])
    expectations_met = property(lambda self: self._doc["expectations_met"])
    expectations = property(lambda self: self._doc["expectations"])
    violations = property(lambda self: self._doc["violations"])
    metrics = property(lambda self: self._doc["metrics"])
    identities = property(lambda self: self._doc["identities"])
    schedule = property(lambda self: self._doc["schedule"])
    deliveries = property(lambda self: self._doc["deliveries"])
    locations = property(lambda self: self._doc["locations"])
    events = property(lambda self: self._doc["events"])

    def to_dict(self) -> Dict[str, Any]:
        return self._doc

    def to_pandas(self):
        """One row per source with an outcome (see Results.to_pandas)."""
        import pandas as pd

        return pd.DataFrame(_rows(self._doc), columns=_COLUMNS)

    def events_to_pandas(self):
        """The event log as a DataFrame, one row per event."""
        import pandas as pd

        return pd.DataFrame(self._doc["events"], columns=["seq", "action", "layer", "kind", "op", "args", "sources"])

    def guest_log_to_pandas(self):
        """The Unicorn guest's log as a DataFrame, one row per logged interrupt."""
        import pandas as pd

        return pd.DataFrame(self._doc["guest_log"], columns=["action", "vcpu", "id", "timestamp", "pc"])

    def __repr__(self) -> str:
        guest = "/unicorn" if self.guest == "unicorn" else ""
        return f"<irqdiff.Run {self.arch}{guest} {self.outcomes}>"


_COLUMNS = ["arch", "policy", "order", "source", "outcome", "expected", "met", "fired", "coalesced",
            "oracle_deliveries", "deliveries", "late", "forwarded"]


def _rows(run: Dict[str, Any]) -> List[list]:
    expected = {}
    for e in run["expectations"]:
        expected[e["source"]] = e["expected"]
    policy = ",".join(f"{k}={v}" for k, v in run["policy"].items())
    rows = []
    for source, outcome in run["outcomes"].items():
        d = run["outcome_details"][source]
        want = expected.get(source, expected.get("all"))
        rows.append([run["arch"], policy, run["order"], source, outcome, want,
                     None if want is None else want == outcome, d["fired"], d["coalesced"], d["expected"],
                     d["delivered"], d["late"], d["forwarded"]])
    return rows


class Results:
    """The results of one scenario on one or more backends.

    runs:      one Run per backend, in the order asked for (with guest="both": each backend's
               abstract-guest run, then its Unicorn-guest run)
    outcomes:  {arch: {source: outcome}}
    guest_differences: with guest="both", each vCPU whose deliveries differ between the abstract
               and the Unicorn guest (arch, vcpu, index, abstract, unicorn); must be empty
    r["ideal"] is the ideal backend's Run; r["arm", "unicorn"] picks a guest.
    """

    def __init__(self, doc: Dict[str, Any]):
        self._doc = doc
        self.runs = [Run(r) for r in doc["runs"]]

    scenario = property(lambda self: self._doc["scenario"])
    file = property(lambda self: self._doc["file"])
    expectations_met = property(lambda self: self._doc["expectations_met"])
    guest_differences = property(lambda self: self._doc["guest_differences"])

    @property
    def outcomes(self) -> Dict[str, Dict[str, str]]:
        return {r.arch: r.outcomes for r in self.runs}

    def __getitem__(self, key) -> Run:
        arch, guest = key if isinstance(key, tuple) else (key, None)
        for r in self.runs:
            if r.arch == arch and (guest is None or r.guest == guest):
                return r
        have = ", ".join(f"{r.arch}/{r.guest}" for r in self.runs)
        raise KeyError(f"no run on backend {arch!r}{'' if guest is None else ' with guest ' + repr(guest)} "
                       f"(runs: {have})")

    def to_dict(self) -> Dict[str, Any]:
        """The same document `irqdiff run --json` prints."""
        return self._doc

    def to_pandas(self):
        """One row per (backend, source): outcome, expected outcome, whether it matches, and the
        counts behind it (fires, coalesced fires, oracle deliveries, backend deliveries), and the
        flags `late` and `forwarded`."""
        import pandas as pd

        rows = [row for r in self._doc["runs"] for row in _rows(r)]
        return pd.DataFrame(rows, columns=_COLUMNS)

    def __repr__(self) -> str:
        return f"<irqdiff.Results {self.scenario}: {self.outcomes}>"
