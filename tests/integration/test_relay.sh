#!/usr/bin/env bash
# Two and more homes talking through `bch relay` on 127.0.0.1: registration, DMs,
# channels, scopes, peek/take, watch over SSE, auth errors, a restart with messages
# waiting, and the relay being down.
source "$(dirname "$0")/lib.sh"

start_relay --token team-secret
expect_eq "$RELAY_URL" "http://127.0.0.1:$RELAY_PORT" "first stdout line names the url"
expect_eq "$(curl -s "$RELAY_URL/v1/health")" '{"ok":true,"service":"backchannel-relay"}' "health"
# Headers are capped in all (64 KiB), not only line by line; the relay keeps serving.
expect_eq "$(padded_status "$RELAY_URL/v1/health" 20)" "200" "20 KiB of headers"
expect_eq "$(padded_status "$RELAY_URL/v1/health" 70)" "400" "70 KiB of headers refused"

# Registration needs the room token; the saved token is the agent's own.
expect_fail 1 'error: unauthorized — a new name on this relay needs the room token: `bch join <invite> --as alice`, or `bch init alice --token <room token>`' \
  at a init alice --url "$RELAY_URL"
[ ! -e "$T/a/config.json" ] || fail "a refused init wrote config.json"
out=$(at a init alice --url "$RELAY_URL" --token team-secret)
expect_eq "$(head -n1 <<<"$out")" "registered as \"alice\" (relay $RELAY_URL)" "init over the relay"
expect_match "$(sed -n 2p <<<"$out")" "^agent token saved to $T/a/config.json" "token line"
token=$(jq -r .token "$T/a/config.json")
expect_match "$token" '^[0-9a-f]{64}$' "the agent token replaced the room token"
expect_eq "$(stat -c %a "$T/a/config.json")" "600" "config mode"
BACKCHANNEL_TOKEN=team-secret at b init bob --url "$RELAY_URL" >/dev/null
at c init carol --url "$RELAY_URL" --token team-secret >/dev/null
expect_run 0 "alice via $RELAY_URL" "" at a whoami  # whoami
expect_run 0 "{\"agent\":\"alice\",\"home\":\"$T/a\",\"backend\":\"relay\",\"url\":\"$RELAY_URL\",\"room\":\"default\"}" \
  "" at a whoami --json  # whoami --json, no token
# Another name takes --force; even then, the agent token a joined config holds cannot
# register it.
expect_fail 1 "error: this home is already \"alice\" on $RELAY_URL — add --force to make it \"alicia\" (the old config is kept in a backup), or set BACKCHANNEL_AGENT=alicia for one session" \
  at a init alicia
expect_fail 1 'error: unauthorized — a new name on this relay needs the room token: `bch join <invite> --as alicia`, or `bch init alicia --token <room token>`' \
  at a init alicia --force
expect_eq "$(jq -r .agent "$T/a/config.json")" "alice" "a refused init changes nothing"
expect_fail 1 'error: agent name "bob" is registered — present its token to re-register' \
  at d init bob --url "$RELAY_URL" --token team-secret

# DM, peek, drain.
expect_run 0 "*" "" at a send @bob "over the wire"
expect_match "$RUN_OUT" '^sent [0-9a-f]{8} to @bob$' "send"
expect_run 0 "*" "" at b inbox --brief
expect_match "$RUN_OUT" '^alice -> @bob \(.*\): over the wire$' "peek"
expect_run 0 "*" "" at b inbox --brief
expect_match "$RUN_OUT" 'over the wire' "peek again"
expect_run 0 "*" "" at b drain
expect_match "$RUN_OUT" 'over the wire' "drain"
expect_run 0 "[]" "" at b drain --json  # then empty

# send --json answers the stored message.
expect_run 0 "*" "" at a send --json @bob "as json"
expect_eq "$(jq -c '{from, to, body, priority}' <<<"$RUN_OUT")" \
  '{"from":"alice","to":"@bob","body":"as json","priority":"normal"}' "send --json"
expect_eq "$(at b drain --json | jq -r '.[0].id')" "$(jq -r .id <<<"$RUN_OUT")" "the id send --json showed"

# from cannot be forged: the relay stamps it from the token.
expect_eq "$(BACKCHANNEL_AGENT=carol at a send @bob "who am i" >/dev/null; at b drain --json | jq -r '.[0].from')" \
  "alice" "from comes from the token"

# Channels fan out, sender excluded; scopes and --match work remotely.
at a sub dev >/dev/null
at b sub '#dev' >/dev/null
at c sub dev >/dev/null
expect_run 0 "#dev" "" at b channels  # channels
at a send '#dev' --urgent "standup" >/dev/null
expect_run 0 "inbox empty" "" at a inbox  # sender excluded
expect_run 0 "*" "" at b drain --json
expect_eq "$(jq -r '.[0] | .to + " " + .priority' <<<"$RUN_OUT")" "#dev urgent" "fan-out to bob"
expect_run 0 "*" "" at c drain --json
expect_eq "$(jq -r '.[0].body' <<<"$RUN_OUT")" "standup" "fan-out to carol"
at a send @bob --scope github.com/org/myrepo "scoped" >/dev/null
expect_run 0 "[]" "" at b drain --json --match github.com/org/notmyrepo  # scope mismatch
expect_run 0 "*" "" at b drain --json --match git@github.com:org/myrepo.git
expect_eq "$(jq -r '.[0].body' <<<"$RUN_OUT")" "scoped" "scope match"

# read by short id, with --keep.
out=$(at a send @bob "read me")
short=${out#sent }
short=${short%% *}
expect_run 0 "*" "" at b read "$short" --keep
expect_match "$RUN_OUT" "read me" "read over the relay"
expect_run 0 "inbox empty" "" at b inbox  # read claimed it

# Errors from the relay come through as the local ones would.
expect_fail 1 'error: unknown agent "zed" in this room — they join it with an invite: `bch invite` (or `bch room new`) prints one, they run `bch join <invite> --as zed`' at a send @zed hi
expect_fail 1 'error: channel #nobody has no other subscribers — nothing to deliver' at a send '#nobody' hi
expect_fail 2 'error: invalid agent name "../x" (use letters, digits, . _ -)' at a send @../x hi
jq '.token = "0000000000000000000000000000000000000000000000000000000000000000"' "$T/a/config.json" >"$T/bad.json"
cp "$T/a/config.json" "$T/good.json"
cp "$T/bad.json" "$T/a/config.json"
expect_fail 1 'error: unauthorized — agent token required (get one via /v1/register)' at a inbox
cp "$T/good.json" "$T/a/config.json"

# watch over SSE: existing first, then live, claimed.
at a send @bob "waiting" >/dev/null
BACKCHANNEL_HOME=$T/b "$BCH" watch >"$T/watch.out" 2>"$T/watch.err" &
watch_pid=$!
BG_PIDS+=("$watch_pid")
wait_for 5 grep -q waiting "$T/watch.out" || fail "watch did not get the waiting message"
at c send @bob "live" >/dev/null
wait_for 5 grep -q live "$T/watch.out" || fail "watch did not get the live message"
expect_run 0 "inbox empty" "" at b inbox  # watch claimed both

# A restart with messages waiting loses nothing, and the watcher reconnects by itself.
stop_relay
expect_fail 3 "error: relay $RELAY_URL unreachable: connection refused or timed out" at a send @bob x
out=$(at b drain --hook 2>"$T/hook.err"; echo "rc=$?")
expect_eq "$out" "rc=0" "drain --hook exits 0 with the relay down"
expect_eq "$(cat "$T/hook.err")" "bch: inbox not checked: relay $RELAY_URL unreachable: connection refused or timed out" \
  "one short warning"
old_port=$RELAY_PORT
BACKCHANNEL_HOME=$T/relay "$BCH" relay --host 127.0.0.1 --port "$old_port" --token team-secret \
  >"$T/relay.out" 2>>"$T/relay.log" &
RELAY_PID=$!
BG_PIDS+=("$RELAY_PID")
wait_for 10 curl -sf "$RELAY_URL/v1/health" -o /dev/null || fail "relay did not restart on port $old_port"
at a send @bob "after restart" >/dev/null
wait_for 15 grep -q "after restart" "$T/watch.out" || fail "watch did not reconnect after the restart"
kill -INT "$watch_pid"
wait "$watch_pid" || true
at c send @bob "kept across restart" >/dev/null
stop_relay
BACKCHANNEL_HOME=$T/relay "$BCH" relay --host 127.0.0.1 --port "$old_port" >"$T/relay.out" 2>>"$T/relay.log" &
RELAY_PID=$!
BG_PIDS+=("$RELAY_PID")
wait_for 10 curl -sf "$RELAY_URL/v1/health" -o /dev/null || fail "relay did not restart"
expect_run 0 "*" "" at b drain
expect_match "$RUN_OUT" "kept across restart" "a message waiting through a restart is delivered"
expect_match "$(cat "$T/relay.log")" 'info: POST /v1/send 200 [0-9.]+ms' "one log line per request"
if grep -q "$token" "$T/relay.log"; then
  fail "the relay logged a token"
fi
stop_relay

# --max-connections: beyond it, connections wait in line (not refused, no new thread).
expect_fail 2 "error: --max-connections: Value 0 not in range 1 to 1000000 — see \`bch --help\`" \
  env BACKCHANNEL_HOME="$T/relay" "$BCH" relay --max-connections 0
expect_fail 2 "error: --max-streams: Value 0 not in range 1 to 10000000 — see \`bch --help\`" \
  env BACKCHANNEL_HOME="$T/relay" "$BCH" relay --max-streams 0
expect_fail 2 "error: --max-streams: Value 99999999999 not in range 1 to 10000000 — see \`bch --help\`" \
  env BACKCHANNEL_HOME="$T/relay" "$BCH" relay --max-streams 99999999999
start_relay --max-connections 2
exec 5<>"/dev/tcp/127.0.0.1/$RELAY_PORT" 6<>"/dev/tcp/127.0.0.1/$RELAY_PORT"  # silent: both busy
rc=0
curl -s -m 1 "$RELAY_URL/v1/health" >/dev/null || rc=$?
expect_eq "$rc" "28" "a third connection waits while two hold the workers"
# The hook against a relay that accepts and never answers: one warning, exit 0, and the
# prompt waits at most its short timeouts (3 s to read), never the usual 30 s.
start_ns=$(date +%s%N)
BACKCHANNEL_URL=$RELAY_URL expect_run 0 "" "*" at a drain --hook
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
expect_match "$RUN_ERR" '^bch: inbox not checked: ' "the hook says why, in one line"
[ "$elapsed_ms" -lt 4500 ] || fail "drain --hook blocked a prompt for $elapsed_ms ms"
exec 5>&- 6>&-
expect_eq "$(curl -s -m 5 "$RELAY_URL/v1/health")" '{"ok":true,"service":"backchannel-relay"}' \
  "served once a worker is free"
stop_relay

# A port file that cannot be written: one line naming it, nothing announced, and the
# relay shuts down cleanly (its signal thread once reached the destroyed server here).
expect_fail 1 "error: cannot write '$T/missing/port': No such file or directory" \
  env BACKCHANNEL_HOME="$T/relay" "$BCH" relay --host 127.0.0.1 --port 0 --port-file "$T/missing/port"
# Defaults: with neither a room token nor an admin token the relay is open, so it serves
# this machine only (a token would make it listen on every interface).
rm -f "$T/default.port"
BACKCHANNEL_HOME=$T/default "$BCH" relay --port 0 --port-file "$T/default.port" >"$T/default.out" 2>"$T/default.log" &
default_pid=$!
BG_PIDS+=("$default_pid")
wait_for 10 grep -q '^backchannel relay listening on ' "$T/default.out" || fail "relay did not start"
expect_eq "$(cat "$T/default.out")" "backchannel relay listening on http://127.0.0.1:$(cat "$T/default.port")" \
  "an open relay binds 127.0.0.1 by default"
kill -TERM "$default_pid"
wait "$default_pid"
# The log is honest: a request path cannot forge a log line or reach the terminal raw.
start_relay
curl -s -o /dev/null "$RELAY_URL/v1/x%0afake:%20POST%20/v1/send%20200%1b%5b31m" || true
wait_for 5 grep -q '/v1/x' "$T/relay.log" || fail "the request was not logged"
if grep -q '^fake' "$T/relay.log" || grep -q $'\x1b' "$T/relay.log"; then
  fail "a request path forged a log line or wrote an escape: $(grep -a 'v1/x' -A1 "$T/relay.log")"
fi
stop_relay

# Limits before memory: a 64 MiB chunked body (no length announced) is refused with 413
# after at most about --max-body of it, and the relay's memory does not grow with it.
start_relay --max-body 65536 --request-timeout 1
rss_before=$(awk '/^VmHWM/{print $2}' "/proc/$RELAY_PID/status")
code=$(head -c 67108864 /dev/zero | curl -s -o "$T/chunked.json" -w '%{http_code}' \
  -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' --data-binary @- \
  "$RELAY_URL/v1/register" || true)
expect_eq "$code" "413" "a chunked body over --max-body"
expect_eq "$(jq -r .error "$T/chunked.json")" "request body too large (over 65536 bytes)" "413 body"
rss_after=$(awk '/^VmHWM/{print $2}' "/proc/$RELAY_PID/status")
[ $((rss_after - rss_before)) -lt 20000 ] || fail "a refused body grew the relay by $((rss_after - rss_before)) KB"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect: 100-continue' \
  -H 'Content-Length: 300000000' -X POST "$RELAY_URL/v1/register" || true)" "413" \
  "Expect: 100-continue over the limit gets 413, not 100"
# Slowloris: one header byte every 0.3 s is cut off (408) within two request timeouts.
exec 7<>"/dev/tcp/127.0.0.1/$RELAY_PORT"
( printf 'POST /v1/send HTTP/1.1\r\n' >&7
  for i in $(seq 1 40); do printf 'X' >&7 2>/dev/null || exit 0; sleep 0.3; done ) &
dripper=$!
BG_PIDS+=("$dripper")
start_ns=$(date +%s%N)
answer=$(timeout 10 head -c 12 <&7 || true)
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
exec 7>&-
expect_eq "$answer" "HTTP/1.1 408" "a dripping request is answered 408"
[ "$elapsed_ms" -lt 3000 ] || fail "a dripping request held its worker for $elapsed_ms ms"
kill "$dripper" 2>/dev/null || true
stop_relay

# Per-client limits: requests over the rate get 429 with Retry-After (health checks are
# never limited), and connections over the per-address cap are refused with 429.
start_relay --rate-per-address 5 --max-connections-per-address 2 --admin-token admin-secret
code=
for i in $(seq 1 60); do
  code=$(curl -s -D "$T/limited.headers" -o "$T/limited.json" -w '%{http_code}' "$RELAY_URL/v1/agents")
  [ "$code" != 429 ] || break
done
expect_eq "$code" "429" "requests over the rate are refused"
expect_match "$(cat "$T/limited.headers")" $'[Rr]etry-[Aa]fter: [0-9]+\r' "with Retry-After"
expect_eq "$(jq -r .error "$T/limited.json")" "too many requests — slow down" "429 body"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$RELAY_URL/v1/health")" "200" "health is not limited"
exec 5<>"/dev/tcp/127.0.0.1/$RELAY_PORT" 6<>"/dev/tcp/127.0.0.1/$RELAY_PORT"
# Two unfinished requests hold their places until the request deadline (10 s); silent
# connections would be let go after the 5 s idle wait, racing the loop below. A worker
# counts a connection when it picks it up, which a slow build (TSan) may do after a later
# connection is served: retry for up to 5 s.
printf 'GET /v1/health HTTP/1.1\r\n' >&5
printf 'GET /v1/health HTTP/1.1\r\n' >&6
code=
for i in $(seq 1 50); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$RELAY_URL/v1/health")
  [ "$code" != 429 ] || break
  sleep 0.1
done
expect_eq "$code" "429" "a third connection from the same address is refused"
exec 5>&- 6>&-
# /metrics (admin token only) counts both refusals by reason; it is rate-limited too.
for i in $(seq 1 50); do
  code=$(curl -s -o "$T/metrics" -w '%{http_code}' -H 'Authorization: Bearer admin-secret' \
    "$RELAY_URL/metrics")
  [ "$code" != 200 ] || break
  sleep 0.1
done
expect_eq "$code" "200" "/metrics answers the admin token"
expect_match "$(cat "$T/metrics")" 'bch_relay_rejected_total\{reason="rate"\} [1-9]' \
  "requests over the rate are counted"
expect_match "$(cat "$T/metrics")" 'bch_relay_rejected_total\{reason="connections"\} [1-9]' \
  "connections over the per-address cap are counted"
for i in $(seq 1 50); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$RELAY_URL/metrics")
  [ "$code" = 429 ] || break
  sleep 0.1
done
expect_eq "$code" "401" "/metrics without the admin token is refused"
stop_relay

# Event streams hold no worker: with four workers, 1,000 streams connecting at once are
# all served and all reached by a message (a stream per worker served four).
if [ -n "${BCH_STREAM_LOAD:-}" ]; then
  start_relay --max-connections 4 --max-connections-per-address 0 --rate-per-address 0 \
    --rate-per-token 0
  at w init walt --url "$RELAY_URL" >/dev/null
  at s init sara --url "$RELAY_URL" >/dev/null
  expect_run 0 "*" "" "$BCH_STREAM_LOAD" "$RELAY_PORT" walt \
    "$(jq -r .token "$T/w/config.json")" "$(jq -r .token "$T/s/config.json")" 1000 20
  expect_match "$RUN_OUT" $'^served 1000 slowest [0-9]+\nreached 1000 within [0-9]+$' \
    "1,000 streams on four workers: all served, all reached"
  stop_relay
fi

# The listen backlog is large (httplib's default of 5 dropped reconnecting watchers' SYNs):
# ss shows a listening socket's backlog as its Send-Q.
start_relay
backlog=$(ss -ltnH "sport = :$RELAY_PORT" | awk '{print $3}')
somaxconn=$(cat /proc/sys/net/core/somaxconn)
expect_eq "$backlog" "$((somaxconn < 4096 ? somaxconn : 4096))" "listen backlog"
stop_relay

echo "ok"
