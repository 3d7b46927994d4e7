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
     "--order: 'fastest' is not an order of backend ideal (expected one of: all, qemu, {set: NAME} or a list of steps)\n"),
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


def test_list_events_prints_the_catalogue_by_who_declares_it(cli):
    events = cli("list", "events")
    assert events.returncode == 0, events.stderr
    assert events.stdout.startswith("core (every backend)")
    assert "ITS.write_CTLR" in events.stdout and "IOMMU.post" in events.stdout
    x86 = cli("list", "events", "--arch", "x86")
    assert x86.returncode == 0 and "IOMMU.post" in x86.stdout and "ITS.write_CTLR" not in x86.stdout
    md = cli("list", "events", "--markdown")
    assert md.returncode == 0 and "| `ITS.write_CTLR` | op | hw | `its` int, `enabled` bool |" in md.stdout
    assert cli("list", "events", "--arch", "sparc").returncode == 2


def test_list_scenarios_reports_a_bad_file_and_exits_2(cli):
    r = cli("list", "scenarios", "--dir", SOURCE / "tests" / "data")
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == len(MALFORMED)
    assert "expectation_not_met.yaml" in r.stdout


def test_explore_reports_every_cell_with_a_schedule_count(cli):
    # The "done when": every cell of the seed study with its schedule count, in JSON.
    r = cli("explore", SEED, "--arch", "both", "--policy", "arm.transfer=all", "--json")
    assert r.returncode == 1, r.stderr  # transfer points none/its_restore/enable_lpis break a rule
    doc = json.loads(r.stdout)
    assert doc["schedules"] == 6 and doc["explored"] == 6
    assert sum(c["schedules"] for c in doc["cells"]) == 6
    assert all(c["schedules"] >= 1 and "outcomes" in c for c in doc["cells"])
    swept = {(p["arch"], p["swept"]): p["fragility"] for p in doc["policies"]}
    assert swept[("arm", "arm.transfer=set_forwarding")] == 0.0
    assert swept[("arm", "arm.transfer=none")] == 1.0
    assert swept[("x86", "-")] == 0.0
    failing = [c for c in doc["cells"] if c["failing"]]
    assert failing and all(c["example"]["run"]["events"] for c in failing)


def test_explore_jobs_and_ranges_give_the_same_matrix(cli):
    one = json.loads(cli("explore", SEED, "--policy", "arm.transfer=all", "--order", "all", "--json").stdout)
    two = json.loads(cli("explore", SEED, "--policy", "arm.transfer=all", "--order", "all", "--jobs", "2",
                         "--json").stdout)
    assert one == two and one["schedules"] == 810
    part = json.loads(cli("explore", SEED, "--policy", "arm.transfer=all", "--order", "all", "--range", "100:130",
                          "--json").stdout)
    assert part["range"] == [100, 130] and part["matrix"] == one["matrix"][100:130]


def test_explore_bad_input(cli):
    assert cli("explore", SEED, "--range", "5:2").stderr == "--range: '5:2': expected LO:HI with 0 <= LO <= HI\n"
    r = cli("explore", SEED, "--range", "0:7")
    assert r.returncode == 2 and r.stderr == "--range: '0:7': this exploration has 2 schedules (0:2)\n"
    r = cli("explore", SEED, "--before", "start_vcpus")
    assert r.returncode == 2 and r.stderr.startswith("--before: 'start_vcpus': expected any")
    r = cli("explore", SEED, "--jobs", "0")
    assert r.returncode == 2 and r.stderr.startswith("--jobs: 0:")
    r = cli("explore", SEED, "--policy", "arm.transfer=all", "--policy", "arm.transfer=none")
    assert r.returncode == 2 and "arm.transfer is both swept (=all) and fixed (=none)" in r.stderr
    bad = cli("explore", MALFORMED[0])
    assert bad.returncode == 2 and bad.stderr.startswith(str(MALFORMED[0]))
    r = cli("explore", SEED, "--order-set", "libvirt")
    assert r.returncode == 2 and r.stderr == ("--order-set: 'libvirt': expected one of data, abi, qemu, qemu-7.2, "
                                              "cloud-hypervisor or each\n")
    r = cli("explore", SEED, "--order-set", "each", "--range", "0:1")
    assert r.returncode == 2 and r.stderr.startswith("--range: one order set at a time")


def test_explore_order_set_each_prints_the_study_table_per_set(cli):
    r = cli("explore", SEED, "--arch", "both", "--policy", "arm.transfer=all", "--order", "all", "--order-set", "each")
    assert r.returncode == 1  # the failing transfer points do not meet the seed's expectations
    table = r.stdout[r.stdout.index("fragility by order set"):].splitlines()
    rows = {tuple(line.split()[:3]): line.split()[3:] for line in table[2:]}
    assert rows[("data", "arm", "arm.transfer=vm_start")] == ["120", "108", "0.90"]
    assert rows[("qemu", "arm", "arm.transfer=vm_start")] == ["1", "0", "0.00"]
    assert rows[("cloud-hypervisor", "arm", "arm.transfer=set_forwarding")] == ["1", "0", "0.00"]
    assert rows[("qemu-7.2", "x86", "-")] == ["2", "0", "0.00"]
    doc = json.loads(cli("explore", SEED, "--arch", "x86", "--order", "all", "--order-set", "each", "--json").stdout)
    assert [d["space"][0]["migrations"][0]["order_set"] for d in doc["order_sets"]] == [
        "data", "abi", "qemu", "qemu-7.2", "cloud-hypervisor"]


# The `arch` key (core/scenario_loader.cc Loader::arch, Registry::arches_for in core/backend.cc) and the
# x86 backend. scenarios/README.md: "Files under scenarios/ARCH/ are meant for that backend; the others
# run on every backend."
X86_SCENARIOS = sorted((SOURCE / "scenarios" / "x86").glob("*.yaml"))
ARM_SCENARIOS = sorted((SOURCE / "scenarios" / "arm").glob("*.yaml"))
TIMER_WITHOUT_ARCH = """name: timer-without-arch
vm: {vcpus: 1}
devices:
  - {name: tm, kind: timer}
routes:
  - {source: tm.0, vcpu: 0}
steps:
  - fire: tm.0
  - run: all
expect: {tm.0: delivered-once}
"""


def arch_position(path) -> str:
    """LINE:COL of the `arch:` value in a scenario file (the place arch conflicts are reported)."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("arch: "):
            return f"{number}:{len('arch: ') + 1}"
    raise AssertionError(f"{path} has no top-level arch key")


def json_runs(r):
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["runs"]


@pytest.mark.parametrize("path, arch", [(p, "x86") for p in X86_SCENARIOS] + [(p, "arm") for p in ARM_SCENARIOS],
                         ids=lambda v: v.stem if hasattr(v, "stem") else v)
def test_run_without_arch_uses_the_scenarios_arch_key(cli, path, arch):
    assert [run["arch"] for run in json_runs(cli("run", path.relative_to(SOURCE), "--json"))] == [arch]


def test_seed_has_no_arch_key_and_runs_on_arm_and_x86_delivered_once(cli):
    assert not any(line.startswith("arch:") for line in SEED.read_text().splitlines())
    runs = json_runs(cli("run", SEED, "--arch", "both", "--json"))
    assert [run["arch"] for run in runs] == ["arm", "x86"]
    for run in runs:
        assert run["outcomes"] == {"nic.0": "delivered-once", "nic.1": "delivered-once"}, run["arch"]
        assert run["expectations_met"] is True
    assert json_runs(cli("run", SEED, "--json")) == runs


@pytest.mark.parametrize("path, asked", [
    (SOURCE / "scenarios" / "x86" / "coalescing.yaml", "arm"),
    (SOURCE / "scenarios" / "x86" / "timer_before_load.yaml", "arm"),
    (SOURCE / "scenarios" / "arm" / "gicv4_0.yaml", "x86"),
], ids=lambda v: v.stem if hasattr(v, "stem") else v)
def test_arch_the_scenario_does_not_allow_exits_2_located_at_its_arch_key(cli, path, asked):
    rel = path.relative_to(SOURCE)
    meant = "x86" if asked == "arm" else "arm"
    message = (f"{rel}:{arch_position(path)}: arch: the scenario is meant for {meant} only, "
               f"but --arch asks for {asked}\n")
    for arch in (asked, "both"):
        r = cli("run", rel, "--arch", arch)
        assert r.returncode == 2, arch
        assert r.stdout == ""
        assert r.stderr == message, arch


def test_arch_conflict_in_one_file_still_runs_the_others(cli):
    x86 = (SOURCE / "scenarios" / "x86" / "coalescing.yaml").relative_to(SOURCE)
    r = cli("run", SEED, x86, "--arch", "arm")
    assert r.returncode == 2
    assert "arm: every expectation holds (2 of 2)" in r.stdout
    assert r.stderr.splitlines() == [f"{x86}:8:7: arch: the scenario is meant for x86 only, but --arch asks for arm"]


@pytest.mark.parametrize("path", [SOURCE / "scenarios" / "x86" / "coalescing.yaml",
                                  SOURCE / "scenarios" / "arm" / "seed_transfer_set_forwarding.yaml"],
                         ids=lambda p: p.stem)
def test_ideal_may_always_run_an_arch_restricted_scenario(cli, path):
    r = cli("run", path.relative_to(SOURCE), "--arch", "ideal", "--json")
    assert [run["arch"] for run in json_runs(r)] == ["ideal"]
    assert r.stderr == ""


def test_arm_rejects_a_timer_at_its_kind_and_x86_and_ideal_run_it(cli, tmp_path):
    path = tmp_path / "timer.yaml"
    path.write_text(TIMER_WITHOUT_ARCH)
    r = cli("run", "timer.yaml", "--arch", "arm", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == ("timer.yaml:4:22: devices[0].kind: timer is the x86 local-APIC timer; the arm backend models "
                        "no timer (give the scenario 'arch: x86')\n")
    for arch in ("x86", "ideal"):
        runs = json_runs(cli("run", "timer.yaml", "--arch", arch, "--json", cwd=tmp_path))
        assert [(run["arch"], run["outcomes"]) for run in runs] == [(arch, {"tm.0": "delivered-once"})]
    # With `arch: x86` the default run skips arm.
    path.write_text(TIMER_WITHOUT_ARCH.replace("vm:", "arch: x86\nvm:", 1))
    assert [run["arch"] for run in json_runs(cli("run", "timer.yaml", "--json", cwd=tmp_path))] == ["x86"]


def test_x86_rejects_toggle_lpis_at_the_step(cli, tmp_path):
    (tmp_path / "toggle.yaml").write_text(
        "name: toggle\nvm: {vcpus: 1}\ndevices: [{name: nic, vectors: 1}]\nroutes: [{source: nic.0, vcpu: 0}]\n"
        "steps:\n  - fire: nic.0\n  - toggle_lpis: {vcpu: 0}\n  - run: all\n")
    r = cli("run", "toggle.yaml", "--arch", "x86", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == ("toggle.yaml:7:5: steps[1].toggle_lpis: an ARM step (GICR_CTLR.EnableLPIs): the x86 backend "
                        "has no LPIs (give the scenario 'arch: arm')\n")
    assert cli("run", "toggle.yaml", "--arch", "arm", cwd=tmp_path).returncode == 0


def test_list_steps_x86_prints_its_sub_steps_dependencies_and_orders(cli):
    r = cli("list", "steps", "--arch", "x86")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "backend x86:" in out and "backend arm" not in out and "backend ideal" not in out
    table = out.split("backend x86:")[1].split("restore dependencies")[0]
    rows = {line.split()[0]: line.split()[1:3] for line in table.splitlines()
            if len(line.split()) >= 3 and line.split()[1] in ("save", "restore")}
    assert rows == {
        "stop_vcpus": ["save", "stop_vcpus"], "stop_devices": ["save", "stop_devices"],
        "get_lapic": ["save", "save_irqchip"], "copy_memory": ["save", "copy_memory"],
        "set_lapic": ["restore", "restore_irqchip"], "vfio_load_config": ["restore", "restore_devices"],
        "msix_enable": ["restore", "restore_translation"], "irq_bypass_connect": ["restore", "restore_devices"],
        "set_msrs": ["restore", "restore_irqchip"],
        "start_vcpus": ["restore", "start_vcpus"], "start_devices": ["restore", "start_devices"]}
    dependencies = out.split("the kernel documents it):")[1].split("named orders:")[0].strip().splitlines()
    deps = [line.split("[")[0].split() for line in dependencies]
    # Each with its rule (docs/design.md "Order sets"): set_lapic -> set_msrs is documented only (Kata #13798).
    assert all(("[abi]" if "set_lapic -> set_msrs" in line else "[data]") in line for line in dependencies)
    assert sorted(deps) == sorted([["vfio_load_config", "->", "msix_enable"],
                                   ["msix_enable", "->", "irq_bypass_connect"],
                                   ["set_lapic", "->", "start_vcpus"],
                                   ["vfio_load_config", "->", "start_devices"],
                                   ["set_msrs", "->", "start_vcpus"],
                                   ["set_lapic", "->", "set_msrs"]])
    for line in dependencies:  # each dependency gives its reason
        assert line.rstrip().endswith(")") and len(line.split("(", 1)[1]) > 1, line
    assert ("qemu: set_lapic, vfio_load_config, msix_enable, irq_bypass_connect, set_msrs, start_devices, "
            "start_vcpus" in out)
    assert "    qemu-7.2: 2 orders: QEMU 7.2 (Debian 12), before MIG_PRI_APIC" in out
    assert "    cloud-hypervisor: 1 order: Cloud Hypervisor" in out
    assert ("lapic_after_vfio: vfio_load_config, msix_enable, irq_bypass_connect, set_lapic, set_msrs, "
            "start_devices, start_vcpus" in out)
    assert ("cloud_hypervisor: set_lapic, set_msrs, vfio_load_config, msix_enable, irq_bypass_connect, "
            "start_vcpus, start_devices" in out)
    # The linear extensions of the 5 data dependencies over the 7 restore steps; abi keeps half.
    assert "admissible restore orders (order: all): 210" in out
    assert "    abi: 105 orders:" in out


def test_list_policies_mentions_x86_guest_apic_dest(cli):
    r = cli("list", "policies")
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if l.startswith("x86.guest_apic_dest"))
    assert line.split()[1:4] == ["logical*", "physical", "x86"]


# ---- output failures and overwritten inputs (issue 17 §5) ------------------------------------------

def _cli_path():
    import os
    return os.environ["IRQDIFF_CLI"]


def cli_to(stdout_spec, *args, cwd=SOURCE):
    """Runs the CLI with stdout on /dev/full ("full") or closed ("closed", `>&-` in a shell: a
    subprocess with stdout=DEVNULL would give it an open descriptor)."""
    import subprocess
    args = [_cli_path(), *map(str, args)]
    if stdout_spec == "full":
        with open("/dev/full", "w") as full:
            return subprocess.run(args, stdout=full, stderr=subprocess.PIPE, text=True, cwd=cwd, timeout=120)
    return subprocess.run(["sh", "-c", '"$@" >&-', "sh", *args], stderr=subprocess.PIPE, text=True, cwd=cwd,
                          timeout=120)


STDOUT_COMMANDS = [
    ("run", SEED), ("run", SEED, "--json"), ("run", SEED, "--events"), ("run", SEED, SEED, "--json"),
    ("explore", SEED, "--arch", "ideal"), ("explore", SEED, "--arch", "ideal", "--json"),
    ("explore", SEED, "--arch", "x86", "--order", "all", "--jobs", "2"),
    ("list", "steps"), ("list", "policies"), ("list", "events"), ("list", "scenarios"), ("--help",),
]
WRITE_ERRORS = {"full": "No space left on device", "closed": "Bad file descriptor"}


@pytest.mark.parametrize("how", ["full", "closed"])
@pytest.mark.parametrize("args", STDOUT_COMMANDS, ids=lambda a: " ".join(map(str, a)).replace(str(SEED), "SEED"))
def test_a_failed_write_to_stdout_exits_2_saying_so(args, how):
    r = cli_to(how, *args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.endswith(f"irqdiff: writing the results to stdout failed: {WRITE_ERRORS[how]}\n"), r.stderr
    assert "internal error" not in r.stderr


def test_a_failed_write_still_reports_bad_input_first(tmp_path):
    r = cli_to("full", "run", MALFORMED[0])
    assert r.returncode == 2
    assert r.stderr.startswith(str(MALFORMED[0]))


def test_trace_to_a_full_disk_exits_2_naming_the_option(cli):
    r = cli("run", SEED, "--trace", "/dev/full")
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == "--trace: cannot write /dev/full: No space left on device\n"


def test_trace_refuses_to_overwrite_the_scenario_file(cli, tmp_path):
    scenario = tmp_path / "x.yaml"
    scenario.write_text(SEED.read_text())
    (tmp_path / "link.yaml").symlink_to(scenario)
    import os
    os.link(scenario, tmp_path / "hard.yaml")
    for trace in (scenario, tmp_path / "link.yaml", tmp_path / "hard.yaml", tmp_path / "sub" / ".." / "x.yaml"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        r = cli("run", scenario, "--trace", trace)
        assert r.returncode == 2
        assert r.stderr == f"--trace: '{trace}' is the input FILE ('{scenario}'): refusing to overwrite an input\n"
        assert scenario.read_text() == SEED.read_text()
    r = cli("run", scenario, "--trace", tmp_path / "t.json")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "t.json").read_text())["traceEvents"]


# ---- explore --jobs N reports a worker's bad input as --jobs 1 does (issue 17 §5) -----------------

NMI_ON_ARM = """name: nmi-on-arm
vm: {vcpus: 2}
devices:
  - {name: nic, vectors: 1, passthrough: true}
routes:
  - {source: nic.0, vcpu: 1, nmi: true}
steps:
  - run: all
  - migrate:
      fire: [{source: nic.0, before: any}]
  - run: all
"""


@pytest.mark.parametrize("arch", ["arm", "both"])
def test_a_workers_bad_input_is_reported_as_with_one_job(cli, tmp_path, arch):
    # The scenario loads; the arm backend refuses its NMI route when a schedule runs (make_backend),
    # inside the worker processes.
    path = tmp_path / "nmi.yaml"
    path.write_text(NMI_ON_ARM)
    one = cli("explore", path, "--arch", arch, "--jobs", "1")
    assert one.returncode == 2
    assert one.stderr == f"{path}:6:35: routes: nic.0: nmi: ARM has no NMI-mode MSI: a device MSI is an LPI, " \
        "and neither the GICv4.1 vLPI nor KVM's vgic gives an LPI an NMI property (arm64 pseudo-NMIs are SPIs " \
        "and PPIs only); run it with --arch x86\n"
    for jobs in ("2", "5"):
        r = cli("explore", path, "--arch", arch, "--jobs", jobs)
        assert (r.returncode, r.stderr, r.stdout) == (one.returncode, one.stderr, one.stdout)


# ---- --guest unicorn on the ideal backend (issue 17 §5) --------------------------------------------

GUEST_ON_IDEAL = ("--guest: 'unicorn': backend ideal has no guest program (it is the reference model: its vCPUs run "
                  "no code); choose a virtualizing backend (arm, x86) with --arch, or the abstract guest\n")


@pytest.mark.parametrize("command", ["run", "explore"])
def test_the_unicorn_guest_on_the_ideal_backend_is_refused(cli, command):
    r = cli(command, SEED, "--arch", "ideal", "--guest", "unicorn")
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == GUEST_ON_IDEAL


def test_both_guests_on_the_ideal_backend_run_it_once(cli):
    r = cli("run", SEED, "--arch", "ideal", "--guest", "both", "--json")
    assert r.returncode == 0, r.stderr
    assert [(run["arch"], run["guest"]) for run in json.loads(r.stdout)["runs"]] == [("ideal", "abstract")]


# ---- the loader's hostile-input rules through the CLI (issue 17 §6) -------------------------------

def test_a_name_that_is_not_utf8_is_an_error_for_table_and_json(cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(SEED.read_bytes().replace(b"name: pending-interrupt-across-migration",
                                               b"name: pending-\xff-migration"))
    for extra in ((), ("--json",)):
        r = cli("run", path, *extra)
        assert r.returncode == 2
        assert r.stderr == f"{path}:6:7: name: not valid UTF-8 (byte 0xff at offset 8)\n"


def test_a_step_name_no_backend_has_is_an_error_at_load(cli, tmp_path):
    import irqdiff
    path = tmp_path / "bad.yaml"
    path.write_text(SEED.read_text().replace("before: start_vcpus", "before: start_vcpu"))
    r = cli("list", "scenarios", "--dir", tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith(f"{path}:22:")
    assert ": steps[3].migrate.fire[0].before: 'start_vcpu' is not a migration step of any backend" in r.stderr
    with pytest.raises(irqdiff.ScenarioError, match=r"steps\[3\]\.migrate\.fire\[0\]\.before: 'start_vcpu'"):
        irqdiff.load(path)


# ---- irqdiff machine: its outputs (issue 17 §5) ----------------------------------------------------

@pytest.fixture(scope="module")
def hello(build_dir):
    image = build_dir / "tests" / "machine" / "guests" / "hello.bin"
    if not image.exists():
        pytest.skip("no machine test guests (aarch64-linux-gnu-gcc missing at configure time)")
    return image


@pytest.mark.parametrize("how", ["full", "closed"])
@pytest.mark.parametrize("extra", [(), ("--json",)], ids=["uart", "json"])
def test_machine_output_to_a_failed_stdout_exits_2(hello, how, extra):
    r = cli_to(how, "machine", hello, *extra)
    assert r.returncode == 2, r.stderr
    assert r.stderr.endswith(f"irqdiff: writing the results to stdout failed: {WRITE_ERRORS[how]}\n"), r.stderr


def test_machine_json_to_a_closed_stdout_does_not_land_in_the_serial_file(hello, tmp_path):
    # Without descriptor 1 the --serial FILE would get it, and the JSON document would follow the UART.
    serial = tmp_path / "uart.txt"
    r = cli_to("closed", "machine", hello, "--serial", serial, "--json")
    assert r.returncode == 2
    text = serial.read_text()
    assert "SUMMARY: 4 tests" in text and '"exit"' not in text


@pytest.mark.parametrize("option", ["--trace", "--log", "--dump-dtb", "--serial"])
def test_machine_file_outputs_to_a_full_disk_exit_2_naming_the_option(cli, hello, option):
    r = cli("machine", hello, option, "/dev/full")
    assert r.returncode == 2
    assert r.stderr.startswith(f"{option}: '/dev/full': "), r.stderr
    assert r.stderr.endswith("No space left on device\n"), r.stderr


@pytest.mark.parametrize("option", ["--trace", "--log", "--dump-dtb", "--serial", "--stream"])
def test_machine_refuses_an_output_that_is_the_image(cli, hello, tmp_path, option):
    image = tmp_path / "hello.bin"
    image.write_bytes(hello.read_bytes())
    r = cli("machine", image, option, image)
    assert r.returncode == 2
    assert r.stderr == f"{option}: '{image}' is the input IMAGE ('{image}'): refusing to overwrite an input\n"
    assert image.read_bytes() == hello.read_bytes()


def test_machine_refuses_an_output_that_is_an_input_stream_or_another_output(cli, hello, tmp_path):
    stream = tmp_path / "vm.stream"
    r = cli("machine", hello.parent / "lpi_migrate.bin", "--stream", stream, "--serial", "none")
    assert r.returncode == 0, r.stderr
    saved = stream.read_bytes()
    r = cli("machine", "--restore", stream, "--stream", stream)
    assert r.returncode == 2
    assert r.stderr == f"--stream: '{stream}' is the input --restore ('{stream}'): refusing to overwrite an input\n"
    assert stream.read_bytes() == saved
    uart = tmp_path / "uart.txt"
    r = cli("machine", hello, "--serial", uart, "--log", uart)
    assert r.returncode == 2
    assert r.stderr == f"--log: '{uart}' is also the output of --serial: give each output its own file\n"
    # /dev/null may be named by several outputs and as an input.
    r = cli("machine", hello, "--serial", "/dev/null", "--log", "/dev/null", "--input", "/dev/null")
    assert r.returncode == 0, r.stderr
