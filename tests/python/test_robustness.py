"""Python API robustness (issue 17 §5): _core.summarize converts rows with a depth limit and checks
each field, sweep checks its `chunk` and every manifest chunk, and the arch lists of run, explore and
sweep name each backend once. Every case is a ScenarioError (a ValueError) naming the place, never
a crash or a silently wrong document. No Dask: a sweep whose manifest holds every chunk starts no
cluster."""

import json
import math

import pytest

import irqdiff
from irqdiff import _core
from conftest import SEED

# x86 with every restore order: 210 schedules, 3 chunks of 70 in the sweeps below.
ARCH, ORDER, TOTAL, CHUNK = "x86", "all", 210, 70


@pytest.fixture(scope="module")
def seed():
    return irqdiff.load(SEED)


@pytest.fixture(scope="module")
def rows(seed):
    return _core.explore_rows(seed, ARCH, None, ORDER, None, 0, TOTAL)


def summarize(seed, rows, lo=0, hi=TOTAL):
    return _core.summarize(seed, ARCH, None, ORDER, None, rows, lo, hi, False)


def error_of(call) -> str:
    with pytest.raises(irqdiff.ScenarioError) as e:
        call()
    return str(e.value)


def test_summarize_accepts_the_rows_explore_rows_gives(seed, rows):
    # The baseline for the refusals below: the same rows, untouched, give explore's document.
    assert summarize(seed, rows) == _core.explore(seed, arch=ARCH, order=ORDER, traces=False)


# A row is a flat record; a list that contains itself used to recurse until the C stack overflowed.
def test_summarize_refuses_a_cyclic_row(seed, rows):
    cyclic = []
    cyclic.append(cyclic)
    row = dict(rows[3], violations=cyclic)
    message = error_of(lambda: summarize(seed, [rows[0], rows[1], rows[2], row]))
    assert message.startswith("summarize(rows[3].violations[0][0]"), message
    assert message.endswith("nesting deeper than 64 (a schedule row is a flat record; is a list part of itself?)")


def test_summarize_refuses_a_200000_deep_row(seed, rows):
    deep = []
    for _ in range(200_000):
        deep = [deep]
    row = dict(rows[0], sources={"nic.0": deep})
    message = error_of(lambda: summarize(seed, [row]))
    assert message.startswith("summarize(rows[0].sources['nic.0'][0][0]"), message
    assert "nesting deeper than 64" in message


def with_field(row, key, value, source=None):
    row = json.loads(json.dumps(row))
    (row["sources"][source] if source else row)[key] = value
    return row


# core/explorer.cc row_from_json: counts are integers from 0; nlohmann's get<uint64_t>() used to
# cast a bool to 1, -1 to 2^64-1 (a window of 4294967295) and NaN by undefined behaviour.
@pytest.mark.parametrize("key, value, source, expected", [
    ("index", True, None, "index: true: expected an integer from 0 to 18446744073709551615"),
    ("index", 2.0, None, "index: 2.0: expected an integer from 0"),
    ("index", math.nan, None, "index: nan: expected an integer from 0"),
    ("index", -1, None, "index: -1: expected an integer from 0"),
    ("events", 1.5, None, "events: 1.5: expected an integer from 0"),
    ("window", -1, "nic.0", "sources['nic.0'].window: -1: expected an integer from 0 to 4294967295"),
    ("hops", 2 ** 32, "nic.1", "sources['nic.1'].hops: 4294967296: expected an integer from 0 to 4294967295"),
    ("window", math.inf, "nic.0", "sources['nic.0'].window: inf: expected an integer from 0"),
])
def test_summarize_refuses_a_row_field_that_is_not_a_count(seed, rows, key, value, source, expected):
    bad = with_field(rows[5], key, value, source)
    message = error_of(lambda: summarize(seed, [rows[4], bad]))
    assert message.startswith(f"summarize(rows[1]): {expected}"), message


def test_summarize_refuses_an_integer_beyond_64_bits(seed, rows):
    message = error_of(lambda: summarize(seed, [with_field(rows[0], "events", 2 ** 64)]))
    assert message == "summarize(rows[0].events): 18446744073709551616: expected an integer from -2**63 to 2**64-1"


def test_summarize_refuses_rows_outside_its_range(seed, rows):
    # Rows of [0, 70) summarized as [70, 140): they used to be counted in a document claiming 70..139.
    message = error_of(lambda: summarize(seed, rows[70:72] + rows[:1], lo=70, hi=140))
    assert message == "summarize(rows[2]): index 0: expected a schedule in [70, 140) (summarize(lo=..., hi=...))"
    message = error_of(lambda: summarize(seed, [with_field(rows[0], "index", TOTAL)]))
    assert message.startswith("summarize(rows[0]): schedule 210 is outside this exploration (210 schedules)")


def test_summarize_still_merges_repeated_rows(seed, rows):
    # A resumed sweep may run a chunk twice: repeats are merged, not counted twice.
    assert summarize(seed, rows + rows[:70])["explored"] == TOTAL


# ---- arch lists: each backend once ------------------------------------------------------------

@pytest.mark.parametrize("arch, expected", [
    (["x86", "x86"], "'x86' is named twice (arch[0] 'x86' and arch[1] 'x86')"),
    (("both", "arm"), "'arm' is named twice (arch[0] 'both' and arch[1] 'arm')"),
    (["arm", "both"], "'arm' is named twice (arch[0] 'arm' and arch[1] 'both')"),
])
def test_arch_lists_name_each_backend_once(seed, arch, expected):
    rule = "; expected each backend once ('both' means arm and x86)"
    assert error_of(lambda: irqdiff.run(seed, arch=arch)) == f"run(arch=...): {expected}{rule}"
    assert error_of(lambda: irqdiff.explore(seed, arch=arch)) == f"explore(arch=...): {expected}{rule}"
    assert error_of(lambda: irqdiff.explore_size(seed, arch=arch)) == f"explore(arch=...): {expected}{rule}"
    assert error_of(lambda: irqdiff.sweep(seed, arch=arch, progress=False)) == f"explore(arch=...): {expected}{rule}"


def test_arch_lists_of_distinct_backends_still_run(seed):
    assert [r.arch for r in irqdiff.run(seed, arch=["x86", "arm"]).runs] == ["x86", "arm"]


# ---- sweep: chunk and manifest -------------------------------------------------------------

@pytest.mark.parametrize("chunk", [True, False, 0, -1, 1.5, "70"])
def test_sweep_refuses_a_chunk_that_is_not_a_positive_int(seed, chunk):
    # bool is an int subclass: chunk=True used to run chunks of 1 schedule.
    assert error_of(lambda: irqdiff.sweep(seed, arch=ARCH, order=ORDER, chunk=chunk, progress=False)) == (
        f"sweep(chunk=...): {chunk!r}: expected a positive number of schedules (an int, not a bool)")


def header(seed):
    key = {"scenario": seed.name, "file": seed.file, "arch": ARCH, "policy": None, "order": ORDER, "before": None,
           "schedules": TOTAL, "chunk": CHUNK}
    return json.dumps({"exploration": key})


def chunk_line(rows, lo, hi, chunk_rows=None):
    return json.dumps({"lo": lo, "hi": hi, "rows": rows[lo:hi] if chunk_rows is None else chunk_rows})


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def sweep(seed, manifest):
    return irqdiff.sweep(seed, arch=ARCH, order=ORDER, chunk=CHUNK, manifest=manifest, progress=False,
                         traces=False)


def complete(seed, rows):
    return [header(seed)] + [chunk_line(rows, lo, lo + CHUNK) for lo in range(0, TOTAL, CHUNK)]


def test_sweep_from_a_complete_manifest_needs_no_cluster(seed, rows, tmp_path):
    expected = _core.explore(seed, arch=ARCH, order=ORDER, traces=False)
    assert sweep(seed, write(tmp_path / "m.jsonl", complete(seed, rows))).to_dict() == expected
    # docs/results.md: a chunk found twice (a resumed sweep ran it again) keeps its last line.
    lines = complete(seed, rows)
    assert sweep(seed, write(tmp_path / "twice.jsonl", lines + lines[1:2])).to_dict() == expected


def bad_manifest(seed, rows, tmp_path, line2):
    lines = complete(seed, rows)
    lines[2] = line2  # the chunk [70, 140), on line 3
    return error_of(lambda: sweep(seed, write(tmp_path / "m.jsonl", lines)))


def test_sweep_refuses_a_manifest_chunk_of_no_rows(seed, rows, tmp_path):
    # It used to give explored 140 of 210, expectations met.
    message = bad_manifest(seed, rows, tmp_path, chunk_line(rows, 70, 140, []))
    assert message.endswith(":3: chunk [70, 140): 0 rows; expected 70, one per schedule (schedule 70 is missing)")
    assert message.startswith(str(tmp_path / "m.jsonl")), message


def test_sweep_refuses_a_manifest_chunk_with_a_duplicated_row(seed, rows, tmp_path):
    message = bad_manifest(seed, rows, tmp_path, chunk_line(rows, 70, 140, rows[70:140] + rows[80:81]))
    assert message.endswith(":3: chunk [70, 140): rows[70]: schedule 80 appears twice"), message


def test_sweep_refuses_a_manifest_chunk_with_a_missing_row(seed, rows, tmp_path):
    message = bad_manifest(seed, rows, tmp_path, chunk_line(rows, 70, 140, rows[70:100] + rows[101:140]))
    assert message.endswith(":3: chunk [70, 140): 69 rows; expected 70, one per schedule (schedule 100 is missing)")


def test_sweep_refuses_a_manifest_chunk_with_a_row_of_another_chunk(seed, rows, tmp_path):
    message = bad_manifest(seed, rows, tmp_path, chunk_line(rows, 70, 140, rows[69:139]))
    assert message.endswith(":3: chunk [70, 140): rows[0]: schedule 69 is outside the chunk"), message
    message = bad_manifest(seed, rows, tmp_path, chunk_line(rows, 70, 140, [True] + rows[71:140]))
    assert message.endswith(":3: chunk [70, 140): rows[0]: expected a schedule row with an integer 'index'")


def test_sweep_refuses_a_manifest_line_that_is_not_one_of_its_chunks(seed, rows, tmp_path):
    message = bad_manifest(seed, rows, tmp_path, chunk_line(rows, 70, 100))
    assert message.endswith(":3: chunk [70, 100) is not a chunk of this exploration (chunks of 70 schedules from 0 "
                            "to 210)"), message
    message = bad_manifest(seed, rows, tmp_path, json.dumps({"lo": True, "hi": 140, "rows": []}))
    assert message.endswith(':3: expected a finished chunk {"lo": N, "hi": N, "rows": [...]}'), message


def test_sweep_refuses_a_manifest_whose_header_is_cut(seed, rows, tmp_path):
    # The chunks after it could belong to any exploration.
    lines = complete(seed, rows)
    lines[0] = lines[0][:20]
    message = error_of(lambda: sweep(seed, write(tmp_path / "m.jsonl", lines)))
    assert message.endswith(":1: the manifest's first line, which names the exploration, is cut short; expected "
                            '{"exploration": ...} (delete the file to start again)'), message
