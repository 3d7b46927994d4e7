#!/usr/bin/env bash
# make coverage (docs/fuzzing.md "Coverage"): line coverage of the coverage preset (gcc --coverage,
# Debug) per top folder, measured by gcovr (Debian gcovr) twice:
#   1. the C++ test suite alone (ctest -L cpp, without the fuzz replays);
#   2. the same plus every fuzz target's seed corpus and regressions replayed (ctest -L fuzz), and
#      the corpora a `make fuzz` run grew (build/fuzz/work/TARGET/corpus, when present; FUZZ_WORK
#      names another directory), each replay bounded by 10 minutes.
# Prints both tables; the gcovr JSON summaries stay in build/coverage/coverage-*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${COVERAGE_BUILD:-build/coverage}
[[ -d $build ]] || { echo "coverage: $build missing (cmake --preset coverage)" >&2; exit 2; }

summary() {  # summary NAME: gcovr over the counters so far into $build/coverage-NAME.json
  gcovr -r . --object-directory "$build" -j 2 --exclude 'tests/' --exclude 'build/' --exclude 'bench/' \
        --exclude 'python/' --json-summary "$build/coverage-$1.json" >/dev/null
}

find "$build" -name '*.gcda' -delete
ctest --test-dir "$build" -L cpp -LE fuzz -j 2 --output-on-failure
summary tests
ctest --test-dir "$build" -L fuzz -j 2 --output-on-failure
work=${FUZZ_WORK:-build/fuzz/work}
grown=0
for dir in "$work"/*/corpus; do
  [[ -d $dir ]] || continue
  t=$(basename "$(dirname "$dir")")
  [[ -x $build/tests/fuzz/fuzz_replay_$t ]] || continue
  n=$(ls "$dir" | wc -l)
  if timeout 600 "$build/tests/fuzz/fuzz_replay_$t" "$dir" >/dev/null 2>&1; then
    echo "coverage: replayed $n inputs of $dir"
    grown=$((grown + n))
  else
    echo "coverage: the replay of $dir failed or ran over 10 min (a finding: see make fuzz)" >&2
  fi
done
summary tests+fuzz

/usr/bin/python3 - "$build" <<'PY'
import json, sys, collections
build = sys.argv[1]
def folders(name):
    data = json.load(open(f"{build}/coverage-{name}.json"))
    acc = collections.defaultdict(lambda: [0, 0])
    for f in data["files"]:
        top = f["filename"].split("/")[0] if "/" in f["filename"] else "."
        acc[top][0] += f["line_covered"]
        acc[top][1] += f["line_total"]
    acc["total"] = [data["line_covered"], data["line_total"]]
    return acc
tables = {n: folders(n) for n in ("tests", "tests+fuzz")}
keys = sorted(k for k in tables["tests"] if k != "total") + ["total"]
print()
print(f"{'folder':<10} {'lines':>7}  {'tests':>14}  {'tests + fuzz corpora':>21}")
for k in keys:
    a = tables["tests"][k]; b = tables["tests+fuzz"].get(k, a)
    pct = lambda c: f"{100.0 * c[0] / c[1]:5.1f} % ({c[0]})" if c[1] else "-"
    print(f"{k:<10} {a[1]:>7}  {pct(a):>14}  {pct(b):>21}")
PY
