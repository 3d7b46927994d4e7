"""`cmake --install` puts an importable package (with its compiled module) under the prefix."""

import os
import subprocess
import sys


def test_cmake_install_gives_an_importable_package(build_dir, tmp_path):
    r = subprocess.run(["cmake", "--install", str(build_dir), "--prefix", str(tmp_path)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    site = tmp_path / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "dist-packages"
    assert (site / "irqdiff" / "__init__.py").exists()
    assert (tmp_path / "bin" / "irqdiff").exists()
    env = dict(os.environ, PYTHONPATH=str(site))
    code = ("import irqdiff, sys; s = irqdiff.Scenario.from_yaml(open(sys.argv[1]).read());"
            "print(irqdiff.run(s, arch='ideal').outcomes['ideal']['nic.0'], irqdiff.__file__)")
    seed = os.path.join(os.path.dirname(__file__), "..", "..", "scenarios", "seed", "pending_across_migration.yaml")
    out = subprocess.run([sys.executable, "-c", code, seed], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result, path = out.stdout.split()
    assert result == "delivered-once"
    assert path.startswith(str(site))
