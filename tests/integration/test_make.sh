#!/usr/bin/env bash
# The Makefile's user-facing targets do what README says: `make demo` builds bch only
# (the unit tests are built by `make test`) and says what it is doing.
source "$(dirname "$0")/lib.sh"

src=$(cd "$(dirname "$0")/../.." && pwd)
command -v make >/dev/null || fail "make is needed"

# make -n prints the plan without running it.
plan=$(make -s -C "$src" -n demo BUILD="$T/b" JOBS=2)
builds=$(grep -E 'scripts/build.sh|cmake --build' <<<"$plan")
expect_eq "$builds" "scripts/build.sh $T/b/release 2 bch" "make demo builds the bch target only"
expect_match "$plan" 'echo "building bch"' "and says so"
expect_match "$(make -s -C "$src" -n test BUILD="$T/b" JOBS=2 | grep -E 'scripts/build.sh|cmake --build')" \
  "^scripts/build.sh $T/b/release 2$" "make test builds everything"
echo "ok"
