#!/usr/bin/env bash
# `make fuzz`: runs every libFuzzer target of tests/fuzz for FUZZ_SECONDS (default 60)
# each, starting from the seeds in tests/fuzz/corpus/<name>/ (never modified: the
# growing corpus lives in the build folder). Any crash, leak, sanitizer report or
# timeout fails the run and leaves the input in <build>/crashes/ — turn it into a
# regression test.
#
#   scripts/fuzz.sh <fuzz build dir> [seconds] [targets run at once]
set -euo pipefail

build=$1
seconds=${2:-${FUZZ_SECONDS:-60}}
jobs=${3:-1}
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build/corpus" "$build/crashes"
# fuzz_one <binary>: runs one target; its verdict goes to <build>/fuzz_<name>.status.
fuzz_one() {
  local bin=$1 name=${1##*/fuzz_}
  mkdir -p "$build/corpus/$name"
  local log="$build/fuzz_$name.log"
  if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/crashes/$name-" "$build/corpus/$name" "$src/tests/fuzz/corpus/$name" \
      >"$log" 2>&1; then
    echo ok >"$build/fuzz_$name.status"
  else
    echo failed >"$build/fuzz_$name.status"
  fi
}
running=0
for bin in "$build"/tests/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  fuzz_one "$bin" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait
failed=()
for bin in "$build"/tests/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=${bin##*/fuzz_}
  log="$build/fuzz_$name.log"
  if [ "$(cat "$build/fuzz_$name.status" 2>/dev/null)" = ok ]; then
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
