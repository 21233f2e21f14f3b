#!/usr/bin/env bash
# One home in several relay rooms: join A, join B, send and receive in both, the hook
# and watch read both (each message labelled with its room), --room picks one, `rooms`
# lists them, `leave` forgets one, and neither init nor join ever silently replaces an
# identity.
source "$(dirname "$0")/lib.sh"

start_relay --admin-token admin-secret
new_room() { BACKCHANNEL_ADMIN_TOKEN=admin-secret at maker room new --url "$RELAY_URL" | awk '/bch join/ {print $3}'; }
room_of() { printf '%s' "${1#bch1-}" | tr '_-' '/+' | base64 -d 2>/dev/null | jq -r .room; }
invite_a=$(new_room)
invite_b=$(new_room)
room_a=$(room_of "$invite_a")
room_b=$(room_of "$invite_b")

# Teammates: bob in room A, carol in room B.
at bob join "$invite_a" --as bob --no-hooks >/dev/null
at carol join "$invite_b" --as carol --no-hooks >/dev/null

# alice joins A, then B: the second join keeps the first.
at alice join "$invite_a" --as alice --no-hooks >/dev/null
expect_run 0 "*" "" at alice join "$invite_b" --as alice-b --no-hooks
expect_eq "$(head -n1 <<<"$RUN_OUT")" "joined room $room_b on $RELAY_URL as \"alice-b\"" "second join"
expect_match "$RUN_OUT" "this home is in 2 rooms — \`bch rooms\` lists them, \`--room $room_b\` acts in this one" \
  "it says the home is in two rooms"
cfg=$T/alice/config.json
expect_eq "$(jq -r '[.agent, .room] | join(" ")' "$cfg")" "alice $room_a" \
  "the first room stays at the top level (what the TypeScript tool reads)"
expect_eq "$(jq -r '.rooms | map(.agent + " " + .room) | join(",")' "$cfg")" "alice-b $room_b" \
  "the second room is kept under rooms"
expect_eq "$(stat -c %a "$cfg")" "600" "config mode"
expect_run 0 "* $room_a on $RELAY_URL as \"alice\"
  $room_b on $RELAY_URL as \"alice-b\"" "" at alice rooms  # rooms
expect_eq "$(at alice rooms --json | jq -c 'map([.room, .agent, .current])')" \
  "[[\"$room_a\",\"alice\",true],[\"$room_b\",\"alice-b\",false]]" "rooms --json"

# Sending: the top-level room by default, another with --room (id, prefix, env).
at alice send @bob "to bob in A" >/dev/null
at alice --room "$room_b" send @carol "to carol in B" >/dev/null
expect_eq "$(at bob drain --json | jq -r '.[0] | .from + ": " + .body')" "alice: to bob in A" \
  "bob receives in room A"
expect_eq "$(at carol drain --json | jq -r '.[0] | .from + ": " + .body')" "alice-b: to carol in B" \
  "carol receives in room B"
expect_fail 1 'error: unknown agent "carol" in this room — they join it with an invite: `bch invite` (or `bch room new`) prints one, they run `bch join <invite> --as carol`' \
  at alice send @carol "carol is not in A"
expect_eq "$(at alice --room "${room_b:0:6}" whoami)" "alice-b via $RELAY_URL" "--room takes a prefix"
expect_eq "$(BACKCHANNEL_RELAY_ROOM=$room_b at alice whoami)" "alice-b via $RELAY_URL" \
  "BACKCHANNEL_RELAY_ROOM picks a joined room"
expect_fail 2 "error: this home has not joined room \"nowhere\" — \`bch rooms\` lists the ones it has" \
  at alice --room nowhere inbox

# Receiving: the hook reads both rooms, oldest first, each message labelled.
at bob send @alice "from bob in A" >/dev/null
at carol send @alice-b "from carol in B" >/dev/null
out=$(at alice drain --hook)
expect_eq "$(head -n1 <<<"$out")" "[backchannel] 2 message(s) for alice, alice-b:" "hook header names both"
expect_match "$out" "bob -> @alice \\(.*, room $room_a\\)
  │ from bob in A" "room A's message, labelled"
expect_match "$out" "carol -> @alice-b \\(.*, room $room_b\\)
  │ from carol in B" "room B's message, labelled"
expect_run 0 "" "" at alice drain --hook  # both claimed
# A room whose relay refuses this home (a revoked token) is named; the others still show.
at carol send @alice-b "still delivered" >/dev/null
jq '.token = "0000000000000000000000000000000000000000000000000000000000000000"' "$cfg" >"$T/cfg" && cp "$cfg" "$T/cfg.good" && cp "$T/cfg" "$cfg"
out=$(at alice drain --hook 2>"$T/hook.err")
expect_match "$out" "still delivered" "the readable room still shows"
expect_eq "$(cat "$T/hook.err")" "bch: inbox (room $room_a) not checked: unauthorized — agent token required (get one via /v1/register)" \
  "the unreadable room is named on stderr"
cp "$T/cfg.good" "$cfg"

# watch covers both rooms.
BACKCHANNEL_HOME=$T/alice "$BCH" watch >"$T/watch.out" 2>"$T/watch.err" &
watch_pid=$!
BG_PIDS+=("$watch_pid")
wait_for 5 grep -q "watching the inboxes of alice" "$T/watch.err" || fail "watch did not start: $(cat "$T/watch.err")"
at bob send @alice "live in A" >/dev/null
at carol send @alice-b "live in B" >/dev/null
wait_for 10 grep -q "live in B" "$T/watch.out" || fail "watch missed room B: $(cat "$T/watch.out" "$T/watch.err")"
wait_for 10 grep -q "live in A" "$T/watch.out" || fail "watch missed room A: $(cat "$T/watch.out")"
expect_match "$(cat "$T/watch.out")" "room $room_b\\): live in B" "watch labels the room"
kill -INT "$watch_pid"
wait "$watch_pid" || true

# MCP: bch_peek reads both rooms (labelled), bch_take finds the room that holds the
# message, and a room argument makes a tool act in that room only.
at bob send @alice "mcp from A" >/dev/null
at carol send @alice-b "mcp from B" >/dev/null
mcp() {
  printf '%s\n' "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"$1\",\"arguments\":$2}}" |
    BACKCHANNEL_HOME=$T/alice "$BCH" mcp | jq -r '(if .result.isError then "ERROR: " else "" end) + .result.content[0].text'
}
out=$(mcp bch_peek '{}')
expect_match "$out" "bob -> @alice \(.*, room $room_a\)
  │ mcp from A" "bch_peek shows room A's message, labelled"
expect_match "$out" "carol -> @alice-b \(.*, room $room_b\)
  │ mcp from B" "and room B's"
expect_eq "$(mcp bch_peek "{\"room\":\"$room_b\"}" | grep -c 'mcp from')" "1" "a room argument reads one room"
short=$(at alice --room "$room_b" inbox --json | jq -r '.[0].id[-8:]')
expect_match "$(mcp bch_take "{\"id\":\"$short\"}")" "carol -> @alice-b \(.*, room $room_b\)" \
  "bch_take finds the room that holds the message"
expect_eq "$(mcp bch_send "{\"room\":\"$room_b\",\"target\":\"@carol\",\"body\":\"via mcp\"}" | cut -c1-5)" "sent " \
  "bch_send in room B"
expect_eq "$(at carol drain --json | jq -r '.[0] | .from + ": " + .body')" "alice-b: via mcp" "carol gets it"
expect_eq "$(mcp bch_agents '{"room":"nowhere"}')" \
  "ERROR: room \"nowhere\" is not one this home has joined — joined: $room_a, $room_b" "an unknown room"
at alice drain >/dev/null

# Joining again: the same name is a re-join; another name in the same room takes --force.
expect_run 0 "*" "" at alice join "$invite_a" --as alice --no-hooks
expect_eq "$(head -n1 <<<"$RUN_OUT")" "already in room $room_a on $RELAY_URL as \"alice\"" "re-join"
before=$(cat "$cfg")
expect_fail 1 "error: this home is already \"alice\" in room $room_a on $RELAY_URL — \`bch leave $room_a\` first, or add --force to replace it (its token is kept in a backup)" \
  at alice join "$invite_a" --as alicia --no-hooks
expect_eq "$(cat "$cfg")" "$before" "a refused join changes nothing"
# A local identity is not silently replaced either.
at local init lou >/dev/null
expect_fail 1 "error: this home is \"lou\" on the local spool — add --force to make it \"lou2\" in room $room_a on $RELAY_URL instead (the old config is kept in a backup)" \
  at local join "$invite_a" --as lou2 --no-hooks
expect_run 0 "*" "" at local join "$invite_a" --as lou2 --no-hooks --force
expect_match "$RUN_OUT" "the identity it replaced \\(token included\\) is kept in $T/local/backups/config-" \
  "join --force names the backup"
expect_eq "$(jq -r .agent "$T/local"/backups/config-*.json)" "lou" "the backup holds the old identity"

# leave: the top-level room goes, the next takes its place; the token is backed up.
expect_run 0 "*" "" at alice leave "$room_a"
expect_match "$RUN_OUT" "^left room $room_a on $RELAY_URL: \"alice\" stays registered there, and its token is kept in $T/alice/backups/config-" \
  "leave"
expect_eq "$(jq -r '[.agent, .room, (.rooms // [] | length)] | map(tostring) | join(" ")' "$cfg")" \
  "alice-b $room_b 0" "the remaining room moves to the top level"
expect_run 0 "* $room_b on $RELAY_URL as \"alice-b\"" "" at alice rooms  # one room left
expect_fail 1 "error: this home has not joined room \"$room_a\" — \`bch rooms\` lists the ones it has" \
  at alice leave "$room_a"
expect_run 0 "no relay rooms joined — \`bch join <invite> --as <name>\` joins one" "" at local2 rooms
stop_relay
echo "ok"
