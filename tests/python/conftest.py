"""Shared fixtures: the source tree, and the build tree's CLI (ctest passes IRQDIFF_CLI and
IRQDIFF_BUILD_DIR; run by hand with e.g.
IRQDIFF_CLI=$PWD/build/dev/cli/irqdiff IRQDIFF_BUILD_DIR=$PWD/build/dev PYTHONPATH=$PWD/build/dev/python
/usr/bin/python3 -m pytest tests/python)."""

import os
import pathlib
import subprocess

import pytest

SOURCE = pathlib.Path(__file__).resolve().parents[2]
SEED = SOURCE / "scenarios" / "seed" / "pending_across_migration.yaml"
MALFORMED = sorted((SOURCE / "tests" / "data" / "malformed").glob("*.yaml"))


def pytest_configure(config):
    # ctest runs `-m "not slow"` as pytest and `-m slow` (Dask clusters) as pytest.slow.
    config.addinivalue_line("markers", "slow: starts worker processes (Dask); ctest label slow")


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set; run the Python tests through ctest (make test)")
    return value


@pytest.fixture(scope="session")
def cli():
    """Runs the irqdiff CLI; returns the CompletedProcess (text mode)."""
    path = _env("IRQDIFF_CLI")

    def run(*args, cwd=SOURCE):
        return subprocess.run([path, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)

    return run


@pytest.fixture(scope="session")
def build_dir():
    return pathlib.Path(_env("IRQDIFF_BUILD_DIR"))


def stated_error(path: pathlib.Path) -> str:
    """The '# error: LINE:COL: message' a malformed file states it must be rejected with."""
    for line in path.read_text().splitlines():
        if line.startswith("# error: "):
            return line[len("# error: "):]
    raise AssertionError(f"{path} states no '# error:' line")
