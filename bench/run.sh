#!/usr/bin/env bash
# `make bench`: runs bch_bench against the static release binary. Figures vary with the
# machine; compare ratios (against /bin/true, the first line) across machines.
set -euo pipefail
bch=$1
bench=$(dirname "$bch")/../bench/bch_bench
exec "$bench" "$bch" "${BENCH_REPS:-200}"
