#!/usr/bin/env bash
# Wire compatibility (SPEC 6): a client that speaks as the TypeScript tool's HTTP spool does
# (ts_client.mjs, on Node's fetch) uses a real `bch relay` through every route it knows,
# beside a `bch` CLI agent reading the config that tool writes.
source "$(dirname "$0")/lib.sh"

command -v node >/dev/null || fail "node is needed (scripts/install-deps.sh installs nodejs)"
ts() { node "$(dirname "$0")/ts_client.mjs" "$@"; }

start_relay --token team-secret
U=$RELAY_URL

expect_run 0 '{"ok":true,"service":"backchannel-relay"}' "" ts "$U" - - health  # health

# A fresh room, and two agents registered in it with its token.
room_json=$(ts "$U" - - room-new)
room=$(jq -r .roomId <<<"$room_json")
room_token=$(jq -r .roomToken <<<"$room_json")
[ -n "$room" ] && [ -n "$room_token" ] || fail "room-new answered $room_json"
alice_json=$(ts "$U" "$room_token" "$room" register alice)
alice=$(jq -r .token <<<"$alice_json")
expect_match "$alice" '^[0-9a-f]{64}$' "register answers a 64-hex agent token"
expect_eq "$(jq -r '.name + " " + (has("tokenHash") | tostring)' <<<"$alice_json")" "alice false" \
  "register answers the record without tokenHash"
bob=$(ts "$U" "$room_token" "$room" register bob | jq -r .token)
expect_fail 1 'error: agent name "bob" is registered — present its token to re-register' \
  ts "$U" "$room_token" "$room" register bob
expect_fail 1 'error: unauthorized — registration requires the room token' \
  ts "$U" wrong "$room" register carol
expect_eq "$(ts "$U" "$alice" "$room" register alice | jq -r '.name + " " + (has("token") | tostring)')" \
  "alice false" "re-register with the agent's own token"

# bob is a bch CLI agent with the config the TypeScript tool writes for a room.
mkdir -p "$T/bob"
jq -n --arg u "$U" --arg t "$bob" --arg r "$room" '{agent: "bob", url: $u, token: $t, room: $r}' \
  >"$T/bob/config.json"
expect_run 0 "bob via $U" "" at bob whoami  # the CLI reads that config

# Channels: the client names the agent in subscribe and unsubscribe.
expect_run 0 '{"ok":true}' "" ts "$U" "$alice" "$room" subscribe alice '#dev'  # subscribe
at bob sub dev >/dev/null
expect_run 0 '["#dev"]' "" ts "$U" "$alice" "$room" channels  # channels
expect_eq "$(ts "$U" "$alice" "$room" agents | jq -c '[.[] | {name, subscriptions, h: has("tokenHash")}]')" \
  '[{"name":"alice","subscriptions":["#dev"],"h":false},{"name":"bob","subscriptions":["#dev"],"h":false}]' \
  "agents, tokenHash stripped"

# A send with every option reaches the CLI agent as sent; from comes from the token.
sent=$(ts "$U" "$alice" "$room" send @bob "rebase now" \
  '{"priority":"urgent","scope":"github.com/org/repo","thread":"t-1","refs":["a.md","b.md"]}')
expect_eq "$(jq -c '{from, to, body, priority, scope, thread, refs}' <<<"$sent")" \
  '{"from":"alice","to":"@bob","body":"rebase now","priority":"urgent","scope":"github.com/org/repo","thread":"t-1","refs":["a.md","b.md"]}' \
  "the stored message comes back"
expect_match "$(jq -r .id <<<"$sent")" '^[0-9a-f-]{36}$' "with a UUID"
expect_eq "$(at bob drain --json --match github.com/org/repo | jq -c '[.[] | {id, from, body}]')" \
  "[{\"id\":$(jq .id <<<"$sent"),\"from\":\"alice\",\"body\":\"rebase now\"}]" "the CLI drains it"
ts "$U" "$alice" "$room" send '#dev' "to the channel" >/dev/null
expect_eq "$(at bob drain --json | jq -r '.[0].to + " " + .[0].body')" "#dev to the channel" \
  "a channel send fans out"

# The CLI's messages reach the client: inbox peeks, take claims (keep too), once.
at bob send @alice "first" >/dev/null
at bob send @alice "second" >/dev/null
inbox=$(ts "$U" "$alice" "$room" inbox alice)
expect_eq "$(jq -r '[.[].body] | join(",")' <<<"$inbox")" "first,second" "inbox, oldest first"
id1=$(jq -r '.[0].id' <<<"$inbox")
id2=$(jq -r '.[1].id' <<<"$inbox")
expect_eq "$(ts "$U" "$alice" "$room" take alice "$id1" | jq -r .body)" "first" "take"
expect_run 0 "null" "" ts "$U" "$alice" "$room" take alice "$id1"  # taken once
expect_eq "$(ts "$U" "$alice" "$room" take alice "$id2" keep | jq -r .body)" "second" "take, keep"
expect_run 0 "[]" "" ts "$U" "$alice" "$room" inbox alice  # inbox empty after

# Events: what waits first, then a live send, parsed as the tool parses them.
at bob send @alice "waiting" >/dev/null
ts "$U" "$alice" "$room" events alice 2 10000 >"$T/events.out" 2>"$T/events.err" &
events_pid=$!
BG_PIDS+=("$events_pid")
wait_for 10 grep -qs connected "$T/events.err" || fail "events did not connect: $(cat "$T/events.err")"
at bob send @alice "live" >/dev/null
wait "$events_pid" || fail "events failed: $(cat "$T/events.err")"
expect_eq "$(jq -r '[.[].body] | join(",")' "$T/events.out")" "waiting,live" "events stream"
expect_eq "$(ts "$U" "$alice" "$room" inbox alice | jq length)" "2" "streaming does not claim"

# Errors come back as the tool reads them: {"error": ...} with the spec's texts.
expect_fail 1 'error: unauthorized — agent token required (get one via /v1/register)' \
  ts "$U" nope "$room" inbox alice
expect_fail 1 'error: token is for "alice", not "bob"' ts "$U" "$alice" "$room" inbox bob
expect_fail 1 'error: unknown room "no-such-room" — create one with `bch room new`' \
  ts "$U" "$room_token" no-such-room register dave
expect_run 0 '{"ok":true}' "" ts "$U" "$alice" "$room" unsubscribe alice '#dev'  # unsubscribe
expect_run 0 '["#dev"]' "" ts "$U" "$alice" "$room" channels  # bob still holds #dev

# The default room: no room header, the relay's --token admits.
carol=$(ts "$U" team-secret - register carol | jq -r .token)
expect_match "$carol" '^[0-9a-f]{64}$' "register in the default room"
expect_eq "$(ts "$U" "$carol" - agents | jq -r '[.[].name] | join(",")')" "carol" \
  "rooms are apart"
stop_relay
