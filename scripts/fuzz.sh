#!/usr/bin/env bash
# `make fuzz`: runs every libFuzzer target of tests/fuzz for FUZZ_SECONDS (default 60)
# each, starting from the seeds in tests/fuzz/corpus/<name>/ (never modified: the
# growing corpus lives in the build folder). Any crash, leak, sanitizer report or
# timeout fails the run and leaves the input in <build>/crashes/ — turn it into a
# regression test.
#
#   scripts/fuzz.sh <fuzz build dir> [seconds]
set -euo pipefail

build=$1
seconds=${2:-${FUZZ_SECONDS:-60}}
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build/corpus" "$build/crashes"
failed=()
for bin in "$build"/tests/fuzz/fuzz_*; do
  name=${bin##*/fuzz_}
  mkdir -p "$build/corpus/$name"
  log="$build/fuzz_$name.log"
  if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/crashes/$name-" "$build/corpus/$name" "$src/tests/fuzz/corpus/$name" \
      >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    printf 'fuzz %-16s ok: %s runs in %ss\n' "$name" "${runs:-?}" "$seconds"
  else
    printf 'fuzz %-16s FAILED — see %s\n' "$name" "$log"
    tail -n 40 "$log" >&2
    failed+=("$name")
  fi
done
if ((${#failed[@]})); then
  echo "fuzzing found problems in: ${failed[*]} (inputs in $build/crashes/)" >&2
  exit 1
fi
