"""`irqdiff generate` (cli/generate_cmd.cc): generated scenarios are valid and stable, `--check`
runs the invariants (core/invariants.h) and says what it checked, bad options are exit 2."""

import irqdiff


def test_the_same_seed_gives_the_same_loadable_scenario(cli, tmp_path):
    a = cli("generate", "--seed", 42)
    b = cli("generate", "--seed", 42)
    assert a.returncode == 0 and b.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    assert a.stdout.startswith("name: gen-42\n")
    path = tmp_path / "gen-42.yaml"
    path.write_text(a.stdout)
    assert irqdiff.load(str(path)).name == "gen-42"
    assert cli("generate", "--seed", 43).stdout != a.stdout


def test_several_scenarios_go_to_a_directory(cli, tmp_path):
    p = cli("generate", "--seed", 5, "--count", 3, "--out", tmp_path / "g")
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in (tmp_path / "g").iterdir()) == ["gen-5.yaml", "gen-6.yaml", "gen-7.yaml"]
    assert "wrote 3 scenarios" in p.stdout
    p = cli("generate", "--count", 2)
    assert p.returncode == 2 and "--count: more than one scenario needs --out DIR" in p.stderr


def test_check_runs_the_invariants_and_is_the_same_with_two_jobs(cli):
    one = cli("generate", "--check", "--seed", 1, "--count", 4)
    two = cli("generate", "--check", "--seed", 1, "--count", 4, "--jobs", 2)
    assert one.returncode == 0, one.stdout + one.stderr
    assert one.stdout == two.stdout  # the time goes to stderr
    assert one.stdout.startswith("checked 4 generated scenarios (seeds 1..4, vocabulary mixed): 0 invariants broken")
    assert "scenarios/s" in one.stderr


def test_bad_options_are_exit_2_naming_the_option(cli):
    for args, message in [
        (["--vocabulary", "some"], "--vocabulary: 'some': expected unicorn, full or mixed"),
        (["--count", 0], "--count: 0: expected 1..100000000 scenarios"),
        (["--jobs", 2], "--jobs: only with --check"),
        (["--max-vcpus", 0], "--max-vcpus: 0: expected 1..64"),
        (["--max-devices", 50, "--max-vectors", 16], "--max-vectors: --max-devices 50 x --max-vectors 16 = 800"),
    ]:
        p = cli("generate", *args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert p.stderr.startswith(message), (args, p.stderr)
