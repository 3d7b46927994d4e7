"""The teardown family's generators (irqdiff.teardown_gen, after vfio_irq_test, kernel_history X2):
the checked-in scenarios/teardown/gen_*.yaml are exactly what the generators emit, and each meets
its expectations on its architecture."""

from pathlib import Path

from irqdiff import teardown_gen

from conftest import SOURCE

TEARDOWN = SOURCE / "scenarios" / "teardown"


def test_generated_teardown_scenarios_are_checked_in_unchanged_X2():
    for name, text in teardown_gen.library().items():
        assert (TEARDOWN / name).read_text() == text, f"{name}: rerun teardown_gen.write_library"
    on_disk = {p.name for p in TEARDOWN.glob("gen_*.yaml")}
    assert on_disk == set(teardown_gen.library())


def test_generated_names_are_stable_X2():
    assert "name: gen-route-flip-arm-4\n" in teardown_gen.route_flip("arm")
    assert teardown_gen.route_flip("x86") == teardown_gen.route_flip("x86")


def test_generated_teardown_scenarios_meet_their_expectations_X2(cli):
    for name in teardown_gen.library():
        r = cli("run", Path("scenarios") / "teardown" / name)
        assert r.returncode == 0, r.stdout + r.stderr


def test_the_nmi_interleave_generator_makes_x86_scenarios_only_X2():
    text = teardown_gen.nmi_interleave("x86", 8)
    assert text.count("nmi: true") == 2 and text.count("fire: nic.0") == 8
    try:
        teardown_gen.nmi_interleave("arm")
    except ValueError as e:
        assert "only x86 has NMI-mode MSIs" in str(e)
    else:
        raise AssertionError("nmi_interleave('arm') did not refuse")
