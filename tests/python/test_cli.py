"""The irqdiff command: exit codes 0/1/2, table and JSON output, located errors (DESIGN.md
"Interfaces")."""

import json

import pytest

from conftest import MALFORMED, SEED, SOURCE, stated_error


def test_version_names_unicorn_and_capstone(cli):
    r = cli("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("irqdiff 0.1.0 (unicorn 2.0.1, capstone 4.0.2")


def test_run_prints_the_outcome_table_and_exits_0(cli):
    r = cli("run", SEED, "--arch", "ideal")
    assert r.returncode == 0, r.stderr
    assert "scenario pending-interrupt-across-migration" in r.stdout
    lines = [line.split() for line in r.stdout.splitlines()]
    rows = [l for l in lines if l[:1] == ["ideal"] and len(l) >= 6]
    assert [(row[3], row[4], row[5]) for row in rows] == [
        ("nic.0", "delivered-once", "delivered-once"), ("nic.1", "delivered-once", "delivered-once")]
    assert "every expectation holds (2 of 2)" in r.stdout


def test_run_defaults_to_every_virtualizing_backend(cli):
    r = cli("run", SEED, "--json")
    assert r.returncode == 0, r.stderr
    assert [run["arch"] for run in json.loads(r.stdout)["runs"]] == ["arm", "x86"]


def test_run_json_is_one_document_with_the_designed_keys(cli):
    r = cli("run", SEED, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["scenario"] == "pending-interrupt-across-migration"
    run = doc["runs"][0]
    for key in ("arch", "policy", "order", "outcomes", "expectations_met", "violations", "metrics", "locations",
                "events"):
        assert key in run
    assert run["outcomes"] == {"nic.0": "delivered-once", "nic.1": "delivered-once"}
    assert run["expectations_met"] is True


def test_run_json_is_byte_identical_across_runs(cli):
    assert cli("run", SEED, "--json").stdout == cli("run", SEED, "--json").stdout


def test_several_files_give_json_lines(cli):
    r = cli("run", SEED, SEED, "--json")
    assert r.returncode == 0
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(docs) == 2 and docs[0] == docs[1]


@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.stem)
def test_malformed_file_exits_2_with_one_located_line(cli, path):
    rel = path.relative_to(SOURCE)
    r = cli("run", rel)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == f"{rel}:{stated_error(path)}\n"


def test_unmet_expectation_exits_1(cli):
    r = cli("run", SOURCE / "tests" / "data" / "expectation_not_met.yaml")
    assert r.returncode == 1
    assert "EXPECTATIONS NOT MET (0 of 1 hold)" in r.stdout
    assert "expected nic.0 lost, got delivered-once" in r.stdout


def test_bad_file_among_good_ones_exits_2_and_still_runs_the_others(cli):
    r = cli("run", SEED, MALFORMED[0])
    assert r.returncode == 2
    assert "every expectation holds" in r.stdout
    assert len(r.stderr.splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    (["run", "missing.yaml"], "missing.yaml: cannot open the scenario file\n"),
    (["run", SEED, "--policy", "arm.transfer"],
     "--policy: 'arm.transfer': expected KEY=VALUE, e.g. arm.transfer=set_forwarding\n"),
    (["run", SEED, "--policy", "arm.transfer=later"],
     "--policy: 'later' is not a value of policy arm.transfer (expected one of: none, its_restore, enable_lpis, "
     "set_forwarding, vm_start)\n"),
    (["run", SEED, "--arch", "riscv"], "--arch: unknown backend 'riscv' (this build has: ideal, arm, x86; 'both' means "
                                       "arm and x86)\n"),
    (["run", SEED, "--arch", "ideal", "--order", "fastest"],
     "--order: 'fastest' is not an order of backend ideal (expected one of: all, qemu, or a list of steps)\n"),
])
def test_bad_arguments_exit_2_with_one_line_naming_the_place(cli, args, message):
    r = cli(*args)
    assert r.returncode == 2
    assert r.stderr == message


def test_usage_errors_exit_2(cli):
    assert cli().returncode == 2
    r = cli("run", SEED, "--bogus")
    assert r.returncode == 2
    assert r.stderr == "irqdiff: The following argument was not expected: --bogus (see 'irqdiff --help')\n"
    assert cli("list", "everything").returncode == 2
    both = cli("run", SEED, "--json", "--events")
    assert both.returncode == 2 and "--json excludes --events" in both.stderr


def test_list_steps_policies_and_scenarios(cli):
    steps = cli("list", "steps")
    assert steps.returncode == 0
    assert "backend ideal" in steps.stdout and "admissible restore orders (order: all): 4" in steps.stdout
    policies = cli("list", "policies")
    assert policies.returncode == 0
    assert "arm.transfer" in policies.stdout and "set_forwarding*" in policies.stdout
    scenarios = cli("list", "scenarios")
    assert scenarios.returncode == 0, scenarios.stderr
    assert "seed/pending_across_migration.yaml" in scenarios.stdout


def test_list_scenarios_reports_a_bad_file_and_exits_2(cli):
    r = cli("list", "scenarios", "--dir", SOURCE / "tests" / "data")
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == len(MALFORMED)
    assert "expectation_not_met.yaml" in r.stdout


def test_explore_needs_a_backend_with_sub_steps(cli):
    r = cli("explore", SEED, "--policy", "arm.transfer=all")
    assert r.returncode == 2
    assert "needs a backend that declares restore sub-steps" in r.stderr
    assert cli("explore", SEED, "--range", "5:2").stderr == "--range: '5:2': expected LO:HI with 0 <= LO <= HI\n"
    bad = cli("explore", MALFORMED[0])
    assert bad.returncode == 2 and bad.stderr.startswith(str(MALFORMED[0]))
