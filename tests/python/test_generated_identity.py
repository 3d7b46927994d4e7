"""Generated scenarios explored three ways give one answer (issue 17 §2): `irqdiff explore --jobs 1`,
`--jobs 2` (local worker processes) and `irqdiff.sweep` on a 2-worker Dask LocalCluster, against
`irqdiff.explore` in this process. The scenarios come from `irqdiff generate` (the seeded generator,
core/scenario_generator.h), so the check covers more than the library's scenarios."""

import json

import pytest

import irqdiff

MAX_SCHEDULES = 1500  # per scenario, so the three explorations stay quick


def generated(cli, tmp_path, count):
    """Up to `count` generated scenarios whose exploration (every order, every arrival point when
    that stays small) has at most MAX_SCHEDULES schedules, with the explore arguments to use."""
    out = []
    for seed in range(1, 200):
        p = cli("generate", "--seed", seed, "--max-migrations", 1,
                "--vocabulary", "full" if seed % 2 == 0 else "unicorn")
        assert p.returncode == 0, p.stderr
        text = p.stdout
        path = tmp_path / f"gen-{seed}.yaml"
        path.write_text(text)
        s = irqdiff.load(str(path))
        for kwargs in (dict(order="all", before="any"), dict(order="all"), {}):
            try:
                size = irqdiff.explore_size(s, **kwargs)
            except irqdiff.ScenarioError:
                continue  # e.g. a cancelled migration has no order to explore
            if 2 <= size <= MAX_SCHEDULES:
                out.append((path, kwargs, size))
                break
        if len(out) == count:
            break
    return out


def cli_explore(cli, path, kwargs, jobs):
    args = ["explore", path, "--json", "--jobs", jobs]
    if "order" in kwargs:
        args += ["--order", kwargs["order"]]
    if "before" in kwargs:
        args += ["--before", kwargs["before"]]
    p = cli(*args)
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout)


@pytest.mark.slow
def test_generated_scenarios_explore_the_same_with_jobs_and_on_dask(cli, tmp_path):
    from dask.distributed import Client, LocalCluster

    cases = generated(cli, tmp_path, 6)
    assert len(cases) == 6, cases
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        for path, kwargs, size in cases:
            one = cli_explore(cli, path, kwargs, 1)
            two = cli_explore(cli, path, kwargs, 2)
            assert one == two, f"{path.name} {kwargs}: --jobs 1 and --jobs 2 differ"
            here = irqdiff.explore(str(path), **kwargs).to_dict()
            # Chunks of a third of the space, so the sweep really splits it between the workers.
            swept = irqdiff.sweep(str(path), chunk=max(1, size // 3), client=client, progress=False,
                                  **kwargs).to_dict()
            assert swept == here, f"{path.name} {kwargs}: the Dask sweep and explore differ"
            assert one == here, f"{path.name} {kwargs}: the CLI and the Python explorer differ"
