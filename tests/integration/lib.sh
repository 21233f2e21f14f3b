# Sourced by every integration test: a private temp folder and BACKCHANNEL_HOME, clean
# environment, helpers that run the real binary and compare exactly, and a trap that
# stops background processes and removes the folder unless the test failed.
set -euo pipefail
export LC_ALL=C

: "${BCH:?set BCH to the bch binary (ctest does)}"
T=$(mktemp -d "${TMPDIR:-/tmp}/bch-it-XXXXXX")
export BACKCHANNEL_HOME=$T/home
export HOME=$T/user
mkdir -p "$HOME"
for v in BACKCHANNEL_AGENT BACKCHANNEL_URL BACKCHANNEL_TOKEN BACKCHANNEL_RELAY_ROOM \
         BACKCHANNEL_DEFAULT_RELAY BACKCHANNEL_BACKEND UNISON_TOKEN BACKCHANNEL_ROOM \
         UNISON_API_URL BACKCHANNEL_SETUP_HOME BACKCHANNEL_ADMIN_TOKEN BCH_LOG CODEX_HOME; do
  unset "$v"
done

BG_PIDS=()
MOUNTS=()  # mount points a test made under $T, unmounted before $T is removed
cleanup() {
  local rc=$?
  for pid in "${BG_PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
  done
  for m in "${MOUNTS[@]}"; do
    umount "$m" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ "$rc" -eq 0 ]; then
    rm -rf "$T"
  else
    echo "test failed (exit $rc); kept $T" >&2
  fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# as <agent> <bch args...>: run bch as that agent.
as() {
  local agent=$1
  shift
  BACKCHANNEL_AGENT=$agent "$BCH" "$@"
}

# expect_eq <actual> <expected> <what>
expect_eq() {
  if [ "$1" != "$2" ]; then
    printf 'FAIL: %s\n--- expected\n%s\n--- actual\n%s\n' "$3" "$2" "$1" >&2
    exit 1
  fi
}

# expect_match <actual> <extended regex> <what>
# (A here-string, not a pipe: grep -q stops reading at its first match, and a writer
# still writing then dies of SIGPIPE, which pipefail took for a mismatch.)
expect_match() {
  if ! grep -Eq -- "$2" <<<"$1"; then
    printf 'FAIL: %s\n--- expected to match\n%s\n--- actual\n%s\n' "$3" "$2" "$1" >&2
    exit 1
  fi
}

# expect_contains <actual> <fixed string> <what>
expect_contains() {
  if ! grep -Fq -- "$2" <<<"$1"; then
    printf 'FAIL: %s\n--- expected to contain\n%s\n--- actual\n%s\n' "$3" "$2" "$1" >&2
    exit 1
  fi
}

# expect_fail <exit code> <exact stderr> <command...>: the command fails with that code,
# prints exactly that on stderr and nothing on stdout.
expect_fail() {
  local code=$1 err=$2
  shift 2
  local out rc=0
  out=$("$@" 2>"$T/stderr") || rc=$?
  [ "$rc" -eq "$code" ] || fail "expected exit $code, got $rc from: $*  (stderr: $(cat "$T/stderr"))"
  expect_eq "$(cat "$T/stderr")" "$err" "stderr of: $*"
  expect_eq "$out" "" "stdout of: $*"
}

# expect_run <exit code> <exact stdout> <exact stderr> <command...>: runs the command once
# and checks its status, stdout and stderr together (a `$(cmd)` alone never sees the
# status). Use "*" for an output that is not checked; RUN_OUT and RUN_ERR hold both.
expect_run() {
  local code=$1 want_out=$2 want_err=$3 rc=0
  shift 3
  RUN_OUT=$("$@" 2>"$T/run.err") || rc=$?
  RUN_ERR=$(cat "$T/run.err")
  [ "$rc" -eq "$code" ] || fail "expected exit $code, got $rc from: $*  (stderr: $RUN_ERR)"
  [ "$want_out" = "*" ] || expect_eq "$RUN_OUT" "$want_out" "stdout of: $*"
  [ "$want_err" = "*" ] || expect_eq "$RUN_ERR" "$want_err" "stderr of: $*"
}

# snapshot: a listing of every file under the home with its content hash, for
# "nothing changed" checks.
snapshot() {
  (cd "$BACKCHANNEL_HOME" 2>/dev/null && find . -print0 | sort -z | xargs -0 -I{} sh -c \
    'if [ -f "{}" ]; then printf "%s %s\n" "{}" "$(md5sum < "{}")"; else printf "%s\n" "{}"; fi') || true
}

# wait_for <seconds> <command...>: poll until the command succeeds (bounded).
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# start_relay [bch relay flags...]: a relay on 127.0.0.1 with a free port (or
# $RELAY_FIXED_PORT, to restart on the same one), data in
# $T/relay unless --data-dir is given; sets RELAY_PID, RELAY_PORT and RELAY_URL.
start_relay() {
  # The last start's output goes first: its "listening" line must not pass for this one's.
  rm -f "$T/relay.port" "$T/relay.out"
  BACKCHANNEL_HOME=$T/relay "$BCH" relay --host 127.0.0.1 --port "${RELAY_FIXED_PORT:-0}" --port-file "$T/relay.port" "$@" \
    >"$T/relay.out" 2>>"$T/relay.log" &
  RELAY_PID=$!
  BG_PIDS+=("$RELAY_PID")
  # The port file is written first, then the "listening" line: wait for the line.
  wait_for 10 grep -qs '^backchannel relay listening on ' "$T/relay.out" \
    || fail "relay did not start: $(cat "$T/relay.log")"
  RELAY_PORT=$(cat "$T/relay.port")
  RELAY_URL=$(sed -n 's/^backchannel relay listening on //p' "$T/relay.out")
}

# stop_relay: SIGTERM, and the relay must exit 0 promptly.
stop_relay() {
  kill -TERM "$RELAY_PID"
  local rc=0
  wait "$RELAY_PID" || rc=$?
  [ "$rc" -eq 0 ] || fail "relay exited $rc on SIGTERM"
}

# at <home> <bch args...>: run bch with that BACKCHANNEL_HOME.
at() {
  local home=$1
  shift
  BACKCHANNEL_HOME=$T/$home "$BCH" "$@"
}

# id_of <json message or array>: the first message's id.
id_of() { jq -r 'if type == "array" then .[0].id else .id end'; }

# padded_status <url> <headers> [curl options...]: the HTTP status of a GET carrying that
# many 1000-byte headers (each far below a line limit; 70 pass the relay's 64 KiB cap).
padded_status() {
  local url=$1 count=$2 args=()
  shift 2
  for i in $(seq 1 "$count"); do
    args+=(-H "X-Pad-$i: $(printf '%0990d' 0)")
  done
  curl -s -o /dev/null -w '%{http_code}' "$@" "${args[@]}" "$url" || true
}
