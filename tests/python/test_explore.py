"""irqdiff.explore and irqdiff.sweep (python/irqdiff/explore.py): the exploration document, its
pandas views, and a sweep on a 2-worker Dask LocalCluster that writes a manifest and resumes."""

import json

import pytest

import irqdiff
from conftest import SEED


@pytest.fixture(scope="module")
def seed():
    return irqdiff.load(SEED)


def test_explore_the_seed_study(seed):
    x = irqdiff.explore(seed, arch="both", policy={"arm.transfer": "all"}, order="all")
    assert x.schedules == 810 and x.explored == 810 and x.range == (0, 810)  # arm 5 x 120, x86 210
    fragility = x.policies_to_pandas().set_index(["arch", "swept"])["fragility"]
    assert fragility[("arm", "arm.transfer=set_forwarding")] == 0.0
    assert fragility[("arm", "arm.transfer=none")] == 1.0
    assert 0.0 < fragility[("arm", "arm.transfer=vm_start")] < 1.0
    assert fragility[("x86", "-")] == 0.0
    df = x.to_pandas()
    assert len(df) == 810 * 2  # one row per schedule and source
    assert set(df["outcome"]) <= {"delivered-once", "lost", "duplicated", "pending", "save-refused", "impossible", "spurious"}
    assert x.cells_to_pandas()["schedules"].sum() == 810
    failing = [c for c in x.cells if c["failing"]]
    assert failing and all(c["example"]["run"]["violations"] for c in failing)


def test_explore_per_order_set(seed):
    # docs/design.md "Order sets": vm_start fails in 108 of the 120 data orders and in none of the
    # orders QEMU or Cloud Hypervisor produce.
    def vm_start(order_set):
        x = irqdiff.explore(seed, arch="arm", policy={"arm.transfer": "vm_start"}, order="all", order_set=order_set,
                            traces=False)
        p = x.policies_to_pandas().iloc[0]
        return p["failing_orders"], p["orders"]
    assert vm_start("data") == (108, 120)
    assert vm_start("qemu") == (0, 1)
    assert vm_start("cloud-hypervisor") == (0, 1)
    assert irqdiff.explore_size(seed, arch="x86", order="all", order_set="qemu-7.2") == 2
    sets = {b["name"]: b["order_sets"] for b in irqdiff.backends()}
    assert sets["arm"]["abi"]["count"] == 120 and sets["x86"]["qemu-7.2"]["count"] == 2
    assert sets["x86"]["data"]["count"] == 210 and sets["x86"]["abi"]["count"] == 105  # set_lapic -> set_msrs


def test_explore_slices_and_sizes(seed):
    assert irqdiff.explore_size(seed, arch="x86", order="all", before="any") == 210 * 11
    whole = irqdiff.explore(seed, arch="x86", order="all", traces=False)
    part = irqdiff.explore(seed, arch="x86", order="all", lo=10, hi=20, traces=False)
    assert part.matrix == whole.matrix[10:20]


@pytest.mark.parametrize("kwargs, message", [
    ({"policy": {"arm.nope": "all"}}, "explore(policy=...)"),
    ({"before": "start_vcpus"}, "explore(before=...): 'start_vcpus': expected 'any' or None"),
    ({"lo": 5, "hi": 3}, "explore(lo=..., hi=...): 5:3: expected 0 <= lo <= hi <= 2"),
    ({"order": "nope"}, "explore(order=...)"),
    ({"arch": "sparc"}, "explore(arch=...)"),
])
def test_explore_bad_arguments(seed, kwargs, message):
    with pytest.raises(irqdiff.ScenarioError) as e:
        irqdiff.explore(seed, **kwargs)
    assert str(e.value).startswith(message), str(e.value)


@pytest.mark.slow
def test_sweep_on_two_workers_resumes_from_its_manifest(seed, tmp_path):
    from dask.distributed import Client, LocalCluster

    kwargs = dict(arch="both", policy={"arm.transfer": "all"}, order="all")
    expected = irqdiff.explore(seed, **kwargs).to_dict()
    manifest = tmp_path / "sweep.jsonl"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        x = irqdiff.sweep(seed, chunk=64, client=client, manifest=manifest, progress=False, **kwargs)
        assert x.to_dict() == expected
        lines = manifest.read_text().splitlines()
        assert json.loads(lines[0])["exploration"]["schedules"] == 810
        assert len(lines) == 1 + 13  # 810 schedules in chunks of 64
        # An interrupted sweep: drop two chunks and cut the last line short; the sweep reruns
        # exactly those and gives the same result.
        kept = lines[:-3] + [lines[-1][:20]]
        manifest.write_text("\n".join(kept))  # no final newline: the write was cut
        again = irqdiff.sweep(seed, chunk=64, client=client, manifest=manifest, progress=False, **kwargs)
        assert again.to_dict() == expected
        # Nothing left to do: no cluster needed at all.
        assert irqdiff.sweep(seed, chunk=64, manifest=manifest, progress=False, **kwargs).to_dict() == expected
    with pytest.raises(irqdiff.ScenarioError, match="belongs to another exploration"):
        irqdiff.sweep(seed, chunk=32, manifest=manifest, progress=False, **kwargs)
    with pytest.raises(irqdiff.ScenarioError, match="sweep\\(chunk=...\\): 0"):
        irqdiff.sweep(seed, chunk=0)
