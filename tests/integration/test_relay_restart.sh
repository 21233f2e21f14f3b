#!/usr/bin/env bash
# The relay killed (-9) and restarted under load, for a bounded number of rounds: no
# message whose send was acknowledged is lost, an event-stream watcher reconnects and
# sees every one of them, and draining claims each exactly once.
source "$(dirname "$0")/lib.sh"

rounds=${BCH_RESTART_ROUNDS:-4}
# A load test from one address: the per-client rate limits are off.
limits=(--rate-per-address 0 --rate-per-token 0)
start_relay --token room-secret "${limits[@]}"
port=$RELAY_PORT
restart_relay() {
  kill -9 "$RELAY_PID" 2>/dev/null || true
  wait "$RELAY_PID" 2>/dev/null || true
  RELAY_FIXED_PORT=$port start_relay --token room-secret "${limits[@]}"
}

at a init alice --url "$RELAY_URL" --token room-secret >/dev/null
at b init bob --url "$RELAY_URL" --token room-secret >/dev/null

# bob watches without claiming; the watcher must ride out every restart.
BACKCHANNEL_HOME=$T/b "$BCH" watch --peek >"$T/watch.out" 2>"$T/watch.err" &
BG_PIDS+=($!)
watch_pid=$!

# alice sends continuously; each acknowledged send prints "sent <id8> to @bob".
(
  for i in $(seq 1 100000); do
    at a send @bob "load $i" 2>/dev/null || true
    [ -e "$T/stop" ] && break
  done
) >"$T/sent.out" &
sender=$!
BG_PIDS+=($sender)

# Each round waits for a few more acknowledged sends (load, not time), then restarts.
acked_now() { grep -c '^sent ' "$T/sent.out" || true; }
acked_at_least() { [ "$(acked_now)" -ge "$1" ]; }
for round in $(seq 1 "$rounds"); do
  target=$(($(acked_now) + 5))
  wait_for 30 acked_at_least "$target" || fail "no sends acknowledged in round $round"
  restart_relay
done
target=$(($(acked_now) + 5))
wait_for 30 acked_at_least "$target" || fail "no sends acknowledged after the last restart"
touch "$T/stop"
wait "$sender" || true

acked=$(grep -c '^sent ' "$T/sent.out" || true)
[ "$acked" -ge 5 ] || fail "too few acknowledged sends under restarts: $acked"
sed -n 's/^sent \([0-9a-f]*\) to @bob$/\1/p' "$T/sent.out" | sort >"$T/acked.ids"

# The watcher reconnects and, by the end, has seen every acknowledged message.
seen_all() {
  sed -n 's/.*, id \([0-9a-f]*\)): .*/\1/p' "$T/watch.out" | sort -u >"$T/seen.ids"
  [ -z "$(comm -23 "$T/acked.ids" "$T/seen.ids")" ]
}
wait_for 30 seen_all || fail "the watcher missed: $(comm -23 "$T/acked.ids" "$T/seen.ids" | head -5 | tr '\n' ' ')"
expect_eq "$(sed -n 's/.*, id \([0-9a-f]*\)): .*/\1/p' "$T/watch.out" | sort | uniq -d)" "" "the watcher saw no message twice"
kill "$watch_pid"

# Nothing acknowledged was lost, and each is claimed once.
at b drain --json | jq -r '.[].id[-8:]' | sort >"$T/drained.ids"
expect_eq "$(comm -23 "$T/acked.ids" "$T/drained.ids")" "" "acknowledged messages lost"
expect_eq "$(uniq -d "$T/drained.ids")" "" "messages claimed twice"
expect_run 0 "inbox empty" "" at b drain  # all claimed

# A send the journal acknowledged but that the relay died before writing into bob's
# inbox (BCH_CRASH_AT kills it right there) is in the inbox once the relay is back.
kill -9 "$RELAY_PID" 2>/dev/null || true
wait "$RELAY_PID" 2>/dev/null || true
BCH_CRASH_AT=journal.materialize RELAY_FIXED_PORT=$port start_relay --token room-secret "${limits[@]}"
at a send @bob "in the journal only" >/dev/null 2>&1 || true
relay_dead() {
  local state
  state=$(ps -o stat= -p "$RELAY_PID" 2>/dev/null) || return 0
  [[ "$state" == Z* ]]
}
wait_for 10 relay_dead || fail "the relay did not stop at journal.materialize"
wait "$RELAY_PID" 2>/dev/null || true
expect_eq "$(find "$T/relay" -path '*/bob/new/*.json' | wc -l)" "0" "not in the inbox before the restart"
RELAY_FIXED_PORT=$port start_relay --token room-secret "${limits[@]}"
expect_contains "$(at b inbox 2>&1)" "in the journal only" "the journal's delivery is in the inbox after the restart"
expect_contains "$(cat "$T/relay.log")" "written into inboxes again" "the relay says it replayed"
