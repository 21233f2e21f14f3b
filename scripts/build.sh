#!/usr/bin/env bash
# Builds targets of a configured tree and says what it is doing, one short line per
# step, so a first build (minutes on 2 cores) is not silent.
#
#   scripts/build.sh <build-dir> <jobs> [target...]   (no target: everything)
set -euo pipefail

dir=$1
jobs=$2
shift 2
args=()
for t in "$@"; do
  args+=(--target "$t")
done

start=$SECONDS
# CMake's Makefile generator prints "[ 42%] Building CXX object <dir>/<name>.o" and
# "Linking ..."; keep those, shortened, with the time so far.
cmake --build "$dir" -j "$jobs" "${args[@]}" -- --no-print-directory 2>&1 |
  while IFS= read -r line; do
    case $line in
      \[*%\]\ Building*)
        what=${line##*/}
        what=${what%.o}
        if [[ $what == unity_*_cxx.cxx && $line =~ /([^/]+)\.dir/ ]]; then
          what="${BASH_REMATCH[1]} (unity batch ${what//[!0-9]/})"
        fi
        what="compiling $what" ;;
      \[*%\]\ Linking*) what="linking ${line##* }" ;;
      \[*%\]*) continue ;;
      *) printf '%s\n' "$line"; continue ;;  # compiler messages pass through
    esac
    printf '  %s %-40s %3ds\n' "${line%%]*}]" "$what" $((SECONDS - start))
  done
exit "${PIPESTATUS[0]}"
