#!/usr/bin/env bash
# make fuzz (docs/fuzzing.md): runs every libFuzzer target of the fuzz preset for FUZZ_SECONDS
# (default 60) each on a scratch copy of its seed corpus and prints, per target, the executions,
# executions per second, libFuzzer's coverage edges (cov:) of the seeds alone and at the end, and
# the crashes, timeouts and OOMs found.
#   scripts/fuzz.sh [TARGET...]      (default: every build/fuzz/tests/fuzz/fuzz_* program)
# Environment: FUZZ_SECONDS (per target), FUZZ_BUILD (build/fuzz). Crash, timeout and OOM inputs
# are kept in build/fuzz/findings/TARGET/ for you to turn into tests/fuzz/regressions/TARGET/
# files; the run goes on after a crash (libFuzzer's fork mode), so one bug does not hide the next.
# Exit status: 1 when some target found a crash (a sanitizer report, an abort, an escaping
# exception, a leak); timeouts and OOMs are printed and kept but fail the run only with
# FUZZ_STRICT=1 (a slow input on a loaded machine must not fail CI's smoke at random).
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-build/fuzz}
bin=$build/tests/fuzz
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for f in "$bin"/fuzz_*; do [[ -x $f ]] && targets+=("${f##*/fuzz_}"); done
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz: no fuzz targets in $bin (cmake --preset fuzz && cmake --build --preset fuzz)" >&2
  exit 2
fi

status=0
rows=()
for t in "${targets[@]}"; do
  work=$build/work/$t
  findings=$build/findings/$t
  rm -rf "$work"
  mkdir -p "$work/corpus" "$findings"
  cp tests/fuzz/corpus/"$t"/* "$work/corpus/" 2>/dev/null || true
  dict=()
  [[ -f tests/fuzz/$t.dict ]] && dict=(-dict=tests/fuzz/$t.dict)
  touch "$work/start"
  # The seeds' coverage: one pass over the corpus (libFuzzer's INITED line).
  first=$("$bin/fuzz_$t" -runs=0 -timeout=10 -rss_limit_mb=2048 "$work/corpus" 2>&1 \
          | grep -m1 -oE 'INITED cov: [0-9]+' | sed 's/.*cov: //')
  # Fork mode with one worker: a crash, timeout or OOM is recorded and the run goes on. A single
  # input gets 10 s (a hang is a finding); RSS is capped at 2 GiB.
  "$bin/fuzz_$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 "${dict[@]}" \
      -artifact_prefix="$findings/" "$work/corpus" > "$work/log" 2>&1
  # fork mode's progress lines: "#N: cov: C ft: F corp: K exec/s: E oom/timeout/crash: a/b/c time: Ts ..."
  last=$(grep -E '^#[0-9]+: cov: [0-9]+' "$work/log" | tail -1)
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
  cov=$(sed -E 's/.* cov: ([0-9]+).*/\1/' <<<"$last")
  eps=$(sed -E 's/.* exec\/s:? ([0-9]+).*/\1/' <<<"$last")
  # This run's findings (the directory keeps earlier runs' too).
  new=$(find "$findings" -type f -newer "$work/start" -printf '%f\n')
  crashes=$(grep -c '^\(crash\|leak\)-' <<<"$new" || true)
  timeouts=$(grep -c '^timeout-' <<<"$new" || true)
  ooms=$(grep -c '^oom-' <<<"$new" || true)
  found=$((crashes + timeouts + ooms))
  [[ $crashes -gt 0 ]] && status=1
  [[ ${FUZZ_STRICT:-0} == 1 && $found -gt 0 ]] && status=1
  rows+=("$(printf '%-18s %12s %8s %10s %10s %8s %8s %8s' "$t" "${execs:-?}" "${eps:-?}" "${first:-?}" "${cov:-?}" \
            "$crashes" "$timeouts" "$ooms")")
done

echo
printf '%-18s %12s %8s %10s %10s %8s %8s %8s\n' target execs exec/s seed-cov cov crashes timeouts ooms
for r in "${rows[@]}"; do echo "$r"; done
echo "($seconds s per target; logs in $build/work/TARGET/log, inputs found in $build/findings/TARGET/)"
exit $status
