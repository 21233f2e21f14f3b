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
# Exceptions find their frames through the linker's search table (find_fde.cpp), not
# libgcc's registry, which sorts every FDE of the binary on the first throw (10+ ms for
# each usage error or unreachable relay).
expect_match "$(readelf -lW "$BCH")" "GNU_EH_FRAME" "the binary has its FDE search table"
if nm "$BCH" | grep -q "__register_frame_info"; then
  fail "libgcc's frame registry is linked: the first exception sorts every FDE"
fi
# And they work: errors thrown deep in the code come out as one line.
expect_fail 1 'error: unknown agent "x" — they must `bch init x` first' env BACKCHANNEL_AGENT=x BACKCHANNEL_HOME="$T/h" "$BCH" read zzzz
expect_eq "$(env BACKCHANNEL_HOME="$T/h" BACKCHANNEL_AGENT=x BACKCHANNEL_URL=http://127.0.0.1:1 "$BCH" drain --hook 2>&1)" \
  "bch: inbox not checked: relay http://127.0.0.1:1 unreachable: connection refused or timed out" \
  "an unreachable relay in the hook"
echo "ok"
