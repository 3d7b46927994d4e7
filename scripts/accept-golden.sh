#!/usr/bin/env bash
# Accepts the traces and event logs the golden tests wrote (tests/golden/**/*.trace.new and
# *.events.new) after you have reviewed them: each NAME.EXT.new replaces NAME.EXT. Lists what it
# renamed.
set -euo pipefail
cd "$(dirname "$0")/.."
found=0
while IFS= read -r -d '' f; do
  mv "$f" "${f%.new}"
  echo "accepted ${f%.new}"
  found=1
done < <(find tests/golden \( -name '*.trace.new' -o -name '*.events.new' \) -print0 2>/dev/null)
[[ $found -eq 1 ]] || echo "no *.trace.new or *.events.new files: nothing to accept"
