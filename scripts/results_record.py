#!/usr/bin/python3
"""The results record: every library scenario's results, without its event log.

Issue 14 (one house for both architectures) redesigns the backends' structure with every outcome
unchanged. This script records, for each scenario under scenarios/, what irqdiff answers:

  * a run on each backend the scenario allows (and the ideal reference), with each guest (the
    abstract one and the Unicorn programs), under the defaults and under every value of every
    policy of that backend, one key at a time (so `arm.transfer` is the transfer-point sweep);
  * `explore` with every admissible restore order (`order: all`) and every `arm.transfer` value, on
    the `data` order set (key ARCH) and on each other order set (key ARCH@SET).

Event logs are left out (the redesign may add, rename or re-layer events), and so are the event
counts the metrics carry (`events`, `events_by_layer`); every outcome, delivery, location, path,
violation, expectation and operation count stays.

  scripts/results_record.py --write   records into tests/golden/results/DIR/NAME.json
  scripts/results_record.py --check   compares; a difference writes NAME.json.new beside the record

Run it with the build tree's package on PYTHONPATH (tests/python/test_results_record.py does).
"""
import argparse
import hashlib
import json
import os
import sys

import irqdiff

SOURCE = irqdiff.SOURCE_DIR
RECORD = os.path.join(SOURCE, "tests", "golden", "results")
EVENT_COUNTS = ("events", "events_by_layer")


def _defaults():
    return {p["key"]: p["default"] for p in irqdiff.policies()}


def _strip(value, in_metrics=False):
    """The document without event logs and without the metrics' event counts. A run's `policy`
    keeps only the keys set away from their defaults, so a policy added later (at a default that
    keeps today's behaviour) leaves the record as it is."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "events" and not in_metrics:
                continue
            if in_metrics and k in EVENT_COUNTS:
                continue
            if k == "policy" and isinstance(v, dict):
                defaults = _defaults()
                out[k] = {pk: pv for pk, pv in v.items() if defaults.get(pk) != pv}
                continue
            out[k] = _strip(v, in_metrics or k in ("metrics", "save", "restore"))
        return out
    if isinstance(value, list):
        return [_strip(v, in_metrics) for v in value]
    return value


def _policy_variants(arch):
    """Defaults, then each value of each policy of `arch` that is not its default."""
    out = [{}]
    for p in irqdiff.policies():
        if p["arch"] != arch:
            continue
        for v in p["values"]:
            if v != p["default"]:
                out.append({p["key"]: v})
    return out


def _label(policy):
    return ",".join(f"{k}={v}" for k, v in policy.items()) or "defaults"


def _explore_record(doc):
    """An exploration's matrix (one row per schedule) is kept as its row count and digest: the
    cells and policy summaries beside it say which orders fail and how."""
    matrix = doc.pop("matrix")
    text = json.dumps(matrix, separators=(",", ":"), sort_keys=True)
    doc["matrix"] = {"rows": len(matrix), "sha256": hashlib.sha256(text.encode()).hexdigest()}
    return doc


def _relative(value):
    """Scenario locations relative to the source tree (records are compared in other clones)."""
    if isinstance(value, dict):
        return {k: _relative(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v) for v in value]
    if isinstance(value, str) and SOURCE + os.sep in value:
        return value.replace(SOURCE + os.sep, "")
    return value


ORDER_SETS = ["data", "abi", "qemu", "qemu-7.2", "cloud-hypervisor"]


def _guarded(fn):
    try:
        return _relative(_strip(fn()))
    except (irqdiff.ScenarioError, ValueError) as e:
        return {"error": _relative(str(e))}


def record(path):
    scenario = irqdiff.load(path)
    arches = list(scenario.arch) or ["arm", "x86"]
    doc = {"scenario": scenario.name, "runs": {}, "explore": {}}
    for arch in ["ideal"] + arches:
        guests = ["abstract"] if arch == "ideal" else ["abstract", "unicorn"]
        variants = [{}] if arch == "ideal" else _policy_variants(arch)
        for guest in guests:
            for policy in variants:
                key = f"{arch}/{guest}/{_label(policy)}"
                doc["runs"][key] = _guarded(
                    lambda: irqdiff.run(scenario, arch=arch, policy=policy, guest=guest).to_dict()["runs"][0])
    for arch in arches:
        policy = {"arm.transfer": "all"} if arch == "arm" else {}
        doc["explore"][arch] = _guarded(
            lambda: _explore_record(irqdiff.explore(scenario, arch=arch, policy=policy, order="all").to_dict()))
        # docs/design.md "Order sets": ARCH alone is the data set; the VMMs' sets are a few orders
        # each (abi is tests/core/explorer_test.cc's, to keep this record quick).
        for order_set in ORDER_SETS[2:]:
            doc["explore"][f"{arch}@{order_set}"] = _guarded(
                lambda: _explore_record(irqdiff.explore(scenario, arch=arch, policy=policy, order="all",
                                                        order_set=order_set).to_dict()))
    return doc


def _dump(doc):
    """One run (or one backend's exploration) a line, so a difference shows which one moved."""
    compact = dict(separators=(",", ":"))
    lines = [f'{{"scenario":{json.dumps(doc["scenario"])},']
    for part in ("runs", "explore"):
        items = [f"  {json.dumps(k)}:{json.dumps(v, **compact)}" for k, v in doc[part].items()]
        lines.append(f'"{part}":{{\n' + ",\n".join(items) + "}" + ("," if part == "runs" else "}"))
    return "\n".join(lines) + "\n"


def scenario_files():
    root = os.path.join(SOURCE, "scenarios")
    out = []
    for d, _, files in os.walk(root):
        out += [os.path.relpath(os.path.join(d, f), root) for f in files if f.endswith(".yaml")]
    return sorted(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write the record")
    mode.add_argument("--check", action="store_true", help="compare with the record")
    ap.add_argument("files", nargs="*", help="scenario files relative to scenarios/ (default: all)")
    args = ap.parse_args(argv)
    differ = []
    for rel in args.files or scenario_files():
        text = _dump(record(os.path.join(SOURCE, "scenarios", rel)))
        out = os.path.join(RECORD, os.path.splitext(rel)[0] + ".json")
        fresh = out + ".new"
        if args.write:
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "w") as f:
                f.write(text)
            continue
        expected = open(out).read() if os.path.exists(out) else None
        if expected is not None and text != expected:
            # Runs under policy values added after the record was written are new, not different.
            fresh_doc, old = json.loads(text), json.loads(expected)
            new = [k for k in fresh_doc["runs"] if k not in old["runs"]]
            for k in new:
                del fresh_doc["runs"][k]
            if new:
                print(f"{rel}: {len(new)} run(s) not in the record (new policy values), not compared")
                text = _dump(fresh_doc)
        if text == expected:
            if os.path.exists(fresh):
                os.remove(fresh)
            continue
        with open(fresh, "w") as f:
            f.write(text)
        differ.append(f"{out}{'' if expected is not None else ' (missing)'} vs {fresh}")
    if differ:
        print("results differ from the record:\n  " + "\n  ".join(differ), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
