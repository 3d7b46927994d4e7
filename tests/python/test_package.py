"""The Python package: load, Scenario.from_yaml, run, Results (.outcomes, .to_dict(),
.to_pandas()), errors as ScenarioError (a ValueError), docstring examples."""

import doctest
import json

import pytest

import irqdiff
from conftest import SEED, SOURCE


def test_load_and_inspect_the_seed():
    s = irqdiff.load(SEED)
    assert s.name == "pending-interrupt-across-migration"
    assert s.sources == ["nic.0", "nic.1"]
    assert s.routes == {"nic.0": 0, "nic.1": 1}
    assert s.devices == [{"name": "nic", "kind": "msi", "vectors": 2, "passthrough": True}]
    assert s.arch == []
    assert s.policy == {"arm.transfer": "set_forwarding"}
    assert s.steps == ["run", "mask", "fire", "migrate", "unmask", "run"]
    assert s.expect == {"nic.0": "delivered-once", "nic.1": "delivered-once"}
    assert repr(s) == "<irqdiff.Scenario pending-interrupt-across-migration (2 sources, 6 steps)>"


def test_run_returns_results_with_outcomes_and_a_dict(cli):
    r = irqdiff.run(SEED, arch="ideal")
    assert r.outcomes == {"ideal": {"nic.0": "delivered-once", "nic.1": "delivered-once"}}
    assert r["ideal"].outcomes["nic.0"] == "delivered-once"
    assert r.expectations_met
    # The dict is the document `irqdiff run --json` prints.
    assert r.to_dict() == json.loads(cli("run", SEED, "--arch", "ideal", "--json").stdout)


def test_to_pandas_has_one_row_per_backend_and_source():
    df = irqdiff.run(SEED, arch="ideal").to_pandas()
    assert list(df["source"]) == ["nic.0", "nic.1"]
    assert list(df["outcome"]) == ["delivered-once", "delivered-once"]
    assert df["met"].all()
    assert list(df["fired"]) == [1, 1]
    assert set(df.columns) >= {"arch", "policy", "order", "expected", "deliveries", "late", "forwarded"}
    events = irqdiff.run(SEED, arch="ideal").runs[0].events_to_pandas()
    assert events["seq"].tolist() == list(range(len(events)))


def test_from_yaml_and_a_failing_expectation():
    s = irqdiff.Scenario.from_yaml(
        "name: t\nvm: {vcpus: 1}\ndevices: [{name: d, vectors: 1}]\nroutes: [{source: d.0, vcpu: 0}]\n"
        "steps: [{mask: {vcpu: 0}}, {fire: d.0}, {run: all}]\nexpect: {d.0: delivered-once}\n")
    r = irqdiff.run(s, arch=["ideal"])
    assert r.outcomes["ideal"] == {"d.0": "pending"}
    assert not r.expectations_met
    assert r["ideal"].expectations[0]["actual"] == "pending"


def test_events_false_keeps_only_problems():
    r = irqdiff.run(SEED, arch="ideal", events=False)
    assert r["ideal"].events == []
    assert r["ideal"].metrics["events"] > 0


@pytest.mark.parametrize("kwargs, message", [
    ({"arch": "riscv"}, "run(arch=...): unknown backend 'riscv'"),
    ({"arch": ["ideal", "mips"]}, "run(arch=...): unknown backend 'mips'"),
    ({"arch": 3}, "run(arch=...): expected a backend name, 'both', or a list of backend names"),
    ({"policy": {"arm.gic": "v5"}}, "run(policy=...): 'v5' is not a value of policy arm.gic"),
    ({"policy": ["arm.gic"]}, "run(policy=...): expected a dict"),
    ({"order": "backwards"}, "run(order=...): 'backwards' is not an order of backend arm"),
])
def test_bad_arguments_raise_scenario_error_naming_the_argument(kwargs, message):
    with pytest.raises(irqdiff.ScenarioError) as err:
        irqdiff.run(SEED, **kwargs)
    assert str(err.value).startswith(message)
    assert isinstance(err.value, ValueError)


def test_bad_scenario_text_raises_a_located_value_error():
    with pytest.raises(ValueError, match=r"^mine\.yaml:1:1: missing key 'vm'$"):
        irqdiff.Scenario.from_yaml("name: x\n", "mine.yaml")
    with pytest.raises(irqdiff.ScenarioError, match=r"cannot open the scenario file"):
        irqdiff.load("/nonexistent/x.yaml")


def test_backends_and_policies_describe_the_build():
    names = [b["name"] for b in irqdiff.backends()]
    assert names == ["ideal", "arm", "x86"]
    ideal = next(b for b in irqdiff.backends() if b["name"] == "ideal")
    assert ideal["order_count"] == 4
    assert ideal["orders"]["qemu"][0] == "restore_irqchip"
    keys = [p["key"] for p in irqdiff.policies()]
    assert keys == ["arm.transfer", "arm.gic", "arm.its_command_error", "arm.its_table_fault", "arm.vpt_writeback",
                    "arm.vfio_vector_enable", "arm.list_registers", "arm.vpendbaser_dirty_reads", "arm.save",
                    "arm.its_save_error", "arm.vmm_gicr_save", "arm.irqfd_deassign", "arm.vmm_its_regs",
                    "arm.vsgi_ispendr", "arm.guest_nassgireq", "arm.cpr_detach", "x86.set_lapic_clears_pir",
                    "x86.posting", "x86.ipiv", "x86.guest_apic_dest", "x86.sn_on_put", "x86.irqfd_deassign",
                    "x86.vfio_vector_enable", "x86.cpr_detach", "x86.vcpu_events_nmi"]
    assert irqdiff.version().startswith("irqdiff " + irqdiff.__version__)


def test_events_are_the_declared_catalogue():
    events = irqdiff.events()
    assert [e["declared_by"] for e in events[:1]] == ["core"]
    assert {e["declared_by"] for e in events} == {"core", "ideal", "arm", "x86"}
    lr = [e for e in events if e["op"] == "VCPU.write_LR" and e["kind"] == "violation"]
    assert len(lr) == 3 and all(e["declared_by"] == "arm" and e["layer"] == "kvm" for e in lr)
    shapes = [(e["op"], e["layer"], e["kind"], tuple(a["key"] for a in e["args"])) for e in events]
    assert len(shapes) == len(set(shapes))
    assert all(a["type"] in ("int", "hex", "bool", "string") for e in events for a in e["args"])


@pytest.mark.parametrize("obj", [irqdiff, irqdiff.results, irqdiff.Scenario], ids=lambda o: getattr(o, "__name__", "x"))
def test_docstring_examples_run(obj):
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(obj, globs={"irqdiff": irqdiff, "Scenario": irqdiff.Scenario})
    for t in tests:
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0
    if obj is not irqdiff.results:
        assert result.attempted > 0


# The `arch` key (core/scenario_loader.cc Loader::arch) and Registry::arches_for (core/backend.cc): with
# no arch=, a scenario with `arch` runs only on those backends, one without on arm and x86; a requested
# backend the key does not allow (other than ideal) raises ScenarioError at the key.
X86 = SOURCE / "scenarios" / "x86" / "coalescing.yaml"
ARM = SOURCE / "scenarios" / "arm" / "seed_transfer_set_forwarding.yaml"
TIMER = """name: timer-without-arch
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


@pytest.mark.parametrize("path, arch", [(X86, "x86"), (ARM, "arm")], ids=["x86", "arm"])
def test_run_without_arch_uses_the_scenarios_arch_key(path, arch):
    assert irqdiff.load(path).arch == [arch]
    r = irqdiff.run(path)
    assert list(r.outcomes) == [arch]
    assert r.expectations_met


def test_run_without_arch_key_runs_on_arm_and_x86():
    assert irqdiff.run(SEED).outcomes == {
        "arm": {"nic.0": "delivered-once", "nic.1": "delivered-once"},
        "x86": {"nic.0": "delivered-once", "nic.1": "delivered-once"}}
    assert irqdiff.run(SEED, arch="both").outcomes == irqdiff.run(SEED).outcomes


@pytest.mark.parametrize("path, arch, asked", [
    (X86, "arm", "arm"), (X86, "both", "arm"), (X86, ["ideal", "arm"], "arm"), (X86, ("x86", "arm"), "arm"),
    (ARM, "x86", "x86"),
])
def test_arch_the_scenario_does_not_allow_raises_at_its_arch_key(path, arch, asked):
    meant = "x86" if path == X86 else "arm"
    line = next(n for n, l in enumerate(path.read_text().splitlines(), 1) if l.startswith("arch: "))
    with pytest.raises(irqdiff.ScenarioError) as err:
        irqdiff.run(path, arch=arch)
    assert str(err.value) == (f"{path}:{line}:7: arch: the scenario is meant for {meant} only, "
                              f"but run(arch=...) asks for {asked}")
    assert isinstance(err.value, ValueError)
    with pytest.raises(irqdiff.ScenarioError):
        irqdiff.run(irqdiff.load(path), arch=arch)


def test_ideal_may_always_run_an_arch_restricted_scenario():
    for path in (X86, ARM):
        assert list(irqdiff.run(path, arch="ideal").outcomes) == ["ideal"]
    assert list(irqdiff.run(X86, arch=["ideal", "x86"]).outcomes) == ["ideal", "x86"]


def test_arm_rejects_a_timer_scenario_without_arch_at_its_kind():
    s = irqdiff.Scenario.from_yaml(TIMER)
    assert s.devices == [{"name": "tm", "kind": "timer", "vectors": 1, "passthrough": False}]
    assert s.arch == []
    message = ("<string>:4:22: devices[0].kind: timer is the x86 local-APIC timer; the arm backend models no timer "
               "(give the scenario 'arch: x86')")
    with pytest.raises(irqdiff.ScenarioError) as err:
        irqdiff.run(s, arch="arm")
    assert str(err.value) == message
    assert isinstance(err.value, ValueError)
    with pytest.raises(irqdiff.ScenarioError) as named:
        irqdiff.run(irqdiff.Scenario.from_yaml(TIMER, "mine.yaml"), arch="arm")
    assert str(named.value) == "mine.yaml" + message[len("<string>"):]
    # x86 runs the LAPIC timer; the ideal reference runs it as an ordinary source.
    assert irqdiff.run(s, arch=["ideal", "x86"]).outcomes == {
        "ideal": {"tm.0": "delivered-once"}, "x86": {"tm.0": "delivered-once"}}


def test_scenario_text_with_a_bad_arch_or_timer_raises_a_located_value_error():
    with pytest.raises(irqdiff.ScenarioError,
                       match=r"^<string>:2:7: arch: unknown backend 'ideal' \(expected arm or x86\)$"):
        irqdiff.Scenario.from_yaml(TIMER.replace("vm:", "arch: ideal\nvm:", 1))
    with pytest.raises(ValueError, match=r"^<string>:4:42: devices\[0\]\.passthrough: a timer is not a PCI device"):
        irqdiff.Scenario.from_yaml(TIMER.replace("kind: timer}", "kind: timer, passthrough: true}"))


def test_x86_guest_apic_dest_is_a_policy_of_the_x86_backend():
    p = next(p for p in irqdiff.policies() if p["key"] == "x86.guest_apic_dest")
    assert (p["arch"], p["values"], p["default"]) == ("x86", ["logical", "physical"], "logical")
    for dest in ("logical", "physical"):
        assert list(irqdiff.run(X86, policy={"x86.guest_apic_dest": dest}).outcomes) == ["x86"]
    with pytest.raises(irqdiff.ScenarioError, match=r"^run\(policy=...\): 'cluster' is not a value of policy "
                                                    r"x86\.guest_apic_dest"):
        irqdiff.run(X86, policy={"x86.guest_apic_dest": "cluster"})
