"""`irqdiff run --trace FILE`: a Chrome trace-event JSON file of the runs (docs/traces.md); bad
paths and several scenario files are usage errors (exit 2)."""

import json

from conftest import SEED


def test_trace_is_a_trace_event_document_with_one_process_per_arch(cli, tmp_path):
    path = tmp_path / "seed.json"
    r = cli("run", SEED, "--trace", path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(path.read_text())
    events = doc["traceEvents"]
    processes = {e["pid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert [name.split()[0] for _, name in sorted(processes.items())] == ["arm", "x86"]
    lifetimes = {(e["pid"], e["name"]) for e in events if e["ph"] == "b" and e["cat"] == "interrupt"}
    assert lifetimes == {(pid, src) for pid in processes for src in ("nic.0", "nic.1")}
    assert doc["otherData"]["scenario"] == "pending-interrupt-across-migration"
    # The table is still printed, and the same run gives the same bytes.
    assert "every expectation holds" in r.stdout
    again = tmp_path / "again.json"
    assert cli("run", SEED, "--trace", again).returncode == 0
    assert again.read_bytes() == path.read_bytes()


def test_unwritable_trace_path_exits_2_naming_it(cli, tmp_path):
    path = tmp_path / "missing" / "t.json"
    r = cli("run", SEED, "--trace", path)
    assert r.returncode == 2
    assert r.stderr.strip() == f"--trace: cannot write {path}: No such file or directory"
    assert r.stdout == ""


def test_trace_takes_one_scenario_file_at_a_time(cli, tmp_path):
    r = cli("run", SEED, SEED, "--trace", tmp_path / "t.json")
    assert r.returncode == 2
    assert r.stderr.strip() == "--trace: one scenario file at a time (got 2)"
    assert not (tmp_path / "t.json").exists()
