#!/usr/bin/env bash
# The release build is one fully static executable (the sanitizer build is not, and
# skips this test).
source "$(dirname "$0")/lib.sh"

if [ "${BCH_EXPECT_STATIC:-0}" != "1" ]; then
  exit 77
fi
expect_match "$(file -L "$BCH")" "statically linked" "file(1) on bch"
# It runs with an empty environment and no dynamic loader help.
expect_match "$(env -i "$BCH" --version)" '^bch [0-9.]+ \(' "static binary runs with env -i"
echo "ok"
