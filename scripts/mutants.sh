#!/usr/bin/env bash
# `make mutants`: applies each mutant of tests/mutants/list, one at a time, to a copy of
# the sources, rebuilds what it touches and runs the tests it names. Every mutant must be
# killed (those tests fail); one that survives means the suite cannot see that breakage,
# and fails the run. A mutant whose string no longer occurs exactly once fails it too.
#
#   scripts/mutants.sh <build dir> [cmake flags...]
#   MUTANTS_ONLY=<regex>: only the mutants whose name matches (a quick re-check)
#   MUTANTS_SHARE=k (k > 1): every mutant of a file that the last commit touched, and
#     one in k of the others, chosen by the commit, so that successive commits cover
#     them all; MUTANTS_SHARE=0 (CI): only those of the touched files, and no build at
#     all when there are none; `make mutants` alone runs every one. Every mutant's
#     string is checked whichever run.
set -euo pipefail

build=$1
shift
src=$(cd "$(dirname "$0")/.." && pwd)
copy=$build/src
jobs=$(nproc 2>/dev/null || echo 2)

# A fresh copy of the tracked sources (the working tree's, so uncommitted work counts).
rm -rf "$copy"
mkdir -p "$copy"
(cd "$src" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$copy"
# Warnings are not errors here: a mutant that only adds a warning must still run its tests.
# Built for rebuilding: no optimisation and no debug info (faster to compile and link),
# and no unity batches, since each mutant recompiles the batch it is in (one file: half
# the time of a batch of four, which pays for the slower first build within 7 mutants).
cmake -S "$copy" -B "$build/tree" -DCMAKE_BUILD_TYPE=None -DBCH_UNITY_BATCH=1 -DBCH_BENCH=OFF "$@" \
  -DCMAKE_COMPILE_WARNING_AS_ERROR=OFF >/dev/null
# The unmutated tree is built before the first mutant that runs, not before a run that
# only checks the strings.
built=0

share=${MUTANTS_SHARE:-1}
touched=$(git -C "$src" log -1 --name-only --format= 2>/dev/null | sort -u || true)
head=$(git -C "$src" rev-parse HEAD 2>/dev/null || echo 0)
turn=$((share > 1 ? 16#${head:0:6} % share : 0))
index=-1
skipped=0
killed=0
survived=()
while IFS=$'\t' read -r name file from to tests; do
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  [[ -z "${MUTANTS_ONLY:-}" || "$name" =~ ${MUTANTS_ONLY} ]] || continue
  index=$((index + 1))
  target=$copy/$file
  cp "$target" "$build/original"
  count=$(FROM="$from" perl -0ne '$n = () = /\Q$ENV{FROM}\E/g; print $n' "$target")
  if [ "$count" != 1 ]; then
    echo "mutants: $name: its string occurs $count times in $file (must be once)" >&2
    survived+=("$name (stale)")
    continue
  fi
  if [ "$share" != 1 ] && ! grep -qxF "$file" <<<"$touched" &&
    { [ "$share" = 0 ] || [ $((index % share)) -ne "$turn" ]; }; then
    skipped=$((skipped + 1))  # its string is still checked above
    continue
  fi
  if [ "$built" = 0 ]; then
    echo "mutants: building the unmutated tree"
    cmake --build "$build/tree" -j "$jobs" --target bch bch_unit_tests bch_fake_brain bch_stream_load -- -s >/dev/null
    built=1
  fi
  FROM="$from" TO="$to" perl -0pi -e '$t = $ENV{TO}; $t =~ s/\\n/\n/g; s/\Q$ENV{FROM}\E/$t/' "$target"
  # Scripts need only bch; unit tests need their binary relinked too.
  targets=(bch)
  IFS='|' read -ra parts <<<"$tests"
  for part in "${parts[@]}"; do
    [[ "$part" == integration.* ]] || targets=(bch bch_unit_tests)
  done
  status=killed
  if ! cmake --build "$build/tree" -j "$jobs" --target "${targets[@]}" -- -s >"$build/$name.build.log" 2>&1; then
    status="BROKEN (does not build: see $build/$name.build.log)"  # proves nothing
  elif ctest --test-dir "$build/tree" -R "$tests" --timeout 300 >"$build/$name.test.log" 2>&1; then
    status=SURVIVED
  fi
  if grep -q 'No tests were found' "$build/$name.test.log" 2>/dev/null; then
    status="SURVIVED (no test matches '$tests')"
  fi
  cp "$build/original" "$target"
  echo "mutants: $name: $status"
  if [[ "$status" == killed* ]]; then
    killed=$((killed + 1))
  else
    survived+=("$name")
  fi
done <"$src/tests/mutants/list"
# The tree is left built with the last mutant undone in the sources but not rebuilt: the
# next run rebuilds what it needs.

left=""
if [ "$skipped" -gt 0 ]; then
  left=", $skipped left for other commits"
  [ "$share" != 0 ] || left=", $skipped not run (files the last commit did not touch)"
fi
echo "mutants: ${killed} killed, ${#survived[@]} survived$left"
if [ "${#survived[@]}" -gt 0 ]; then
  printf 'mutants: the suite misses: %s\n' "${survived[@]}" >&2
  exit 1
fi
