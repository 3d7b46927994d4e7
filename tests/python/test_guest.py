"""Real guest code in Unicorn Engine (docs/guests.md): `--guest`, `--trace-guest`, the guest log
in JSON and Python, the abstract-vs-Unicorn differential check, and bad guest options."""

import json

import pytest

import irqdiff
from conftest import SEED


def test_seed_gives_the_same_outcomes_with_the_unicorn_guest(cli):
    abstract = json.loads(cli("run", SEED, "--arch", "both", "--json").stdout)
    r = cli("run", SEED, "--arch", "both", "--guest", "unicorn", "--json")
    assert r.returncode == 0, r.stderr
    unicorn = json.loads(r.stdout)
    assert [run["guest"] for run in unicorn["runs"]] == ["unicorn", "unicorn"]
    assert [run["outcomes"] for run in unicorn["runs"]] == [run["outcomes"] for run in abstract["runs"]]
    assert [run["deliveries"] for run in unicorn["runs"]] == [run["deliveries"] for run in abstract["runs"]]
    for run in abstract["runs"]:
        assert run["guest"] == "abstract" and run["guest_log"] == []


def test_guest_log_holds_what_the_handler_logged():
    r = irqdiff.run(SEED, arch="arm", guest="unicorn")["arm"]
    log = r.guest_log
    # One entry per interrupt the guest took, with the INTID it acknowledged (the guest's driver
    # maps nic.0 and nic.1 to LPIs 8192 and 8193), on the vCPU it was routed to.
    assert [(e["vcpu"], e["id"]) for e in log] == [(d["vcpu"], 8192 + int(d["source"][-1])) for d in r.deliveries]
    assert [e["action"] for e in log] == [d["action"] for d in r.deliveries]
    # The timestamp is the event-log position: increasing, and inside the run's events.
    stamps = [e["timestamp"] for e in log]
    assert stamps == sorted(stamps) and stamps[-1] <= r.metrics["events"]
    # Every interrupt interrupted the idle loop.
    assert len({e["pc"] for e in log}) == 1
    df = r.guest_log_to_pandas()
    assert list(df.columns) == ["action", "vcpu", "id", "timestamp", "pc"] and len(df) == len(log)


def test_guest_both_compares_the_guests_and_finds_no_difference(cli):
    r = cli("run", SEED, "--guest", "both")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "arm/unicorn" in r.stdout and "x86/unicorn" in r.stdout
    assert "guest differs" not in r.stdout
    results = irqdiff.run(SEED, guest="both")
    assert results.guest_differences == []
    assert [(run.arch, run.guest) for run in results.runs] == [
        ("arm", "abstract"), ("arm", "unicorn"), ("x86", "abstract"), ("x86", "unicorn")]
    assert results["x86", "unicorn"].outcomes == results["x86", "abstract"].outcomes


def test_trace_guest_lists_the_handlers_instructions(cli):
    r = cli("run", SEED, "--arch", "arm", "--guest", "unicorn", "--trace-guest", "--json")
    assert r.returncode == 0, r.stderr
    events = json.loads(r.stdout)["runs"][0]["events"]
    entries = [e for e in events if e["op"] == "GUEST.irq_entry"]
    returns = [e for e in events if e["op"] == "GUEST.irq_return"]
    assert entries and len(entries) == len(returns)
    # The interrupted instruction, disassembled by Capstone.
    assert all(e["args"]["pc"].startswith("0x") and e["args"]["insn"] for e in entries)
    assert "icc_iar1_el1" in returns[0]["args"]["handler"] and "eret" in returns[0]["args"]["handler"]


def test_trace_file_names_the_unicorn_process(cli, tmp_path):
    out = tmp_path / "t.json"
    r = cli("run", SEED, "--arch", "x86", "--guest", "unicorn", "--trace", str(out))
    assert r.returncode == 0, r.stderr
    trace = json.loads(out.read_text())
    names = [e["args"]["name"] for e in trace["traceEvents"] if e.get("name") == "process_name"]
    assert any(n.startswith("x86/unicorn") for n in names)
    assert any(e.get("name") == "GUEST.irq_entry" and "insn" in e.get("args", {}) for e in trace["traceEvents"])


def test_unicorn_runs_are_deterministic(cli):
    args = ("run", SEED, "--guest", "unicorn", "--json")
    assert cli(*args).stdout == cli(*args).stdout


def test_bad_guest_option_exits_2(cli):
    r = cli("run", SEED, "--guest", "qemu")
    assert r.returncode == 2
    assert r.stderr.strip() == "--guest: 'qemu': expected abstract, unicorn or both"
    with pytest.raises(irqdiff.ScenarioError, match=r"run\(guest=...\): 'qemu'"):
        irqdiff.run(SEED, guest="qemu")


def test_explore_with_the_unicorn_guest(cli):
    r = cli("explore", SEED, "--arch", "x86", "--order", "all", "--guest", "unicorn", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    abstract = json.loads(cli("explore", SEED, "--arch", "x86", "--order", "all", "--json").stdout)
    assert doc["policies"] == abstract["policies"]


def test_the_unicorn_guest_on_the_ideal_backend_raises(cli):
    # The ideal reference has no guest program: asking for one is an error, not a silent abstract run.
    with pytest.raises(irqdiff.ScenarioError, match=r"^run\(guest=...\): 'unicorn': backend ideal has no guest "
                                                    r"program .* with run\(arch=...\), or the abstract guest$"):
        irqdiff.run(SEED, arch="ideal", guest="unicorn")
    assert irqdiff.run(SEED, arch="ideal", guest="both").outcomes == {"ideal": {"nic.0": "delivered-once",
                                                                               "nic.1": "delivered-once"}}
