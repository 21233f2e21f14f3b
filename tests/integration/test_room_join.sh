#!/usr/bin/env bash
# Rooms and invites end to end: `room new` on a relay that restricts room creation,
# `join` from the printed line, isolation between rooms, `invite` for the default room,
# and every invite error.
source "$(dirname "$0")/lib.sh"

start_relay --token default-secret --admin-token admin-secret --max-body 4096

# --max-body: a larger request is refused with 413 and a JSON error.
big=$(head -c 6000 /dev/zero | tr '\0' x)
expect_eq "$(curl -s -o "$T/413.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "{\"name\":\"$big\"}" "$RELAY_URL/v1/register")" "413" "oversized request"
expect_eq "$(jq -r .error "$T/413.json")" "request body too large (over 4096 bytes)" "413 body"

expect_fail 1 'error: room creation is restricted on this relay' at a room new '#proj' --url "$RELAY_URL"
out=$(BACKCHANNEL_ADMIN_TOKEN=admin-secret at a room new '#proj' --channel ops --url "$RELAY_URL")
expect_match "$(head -n1 <<<"$out")" "^created room [0-9a-f]+ on $RELAY_URL\$" "room new first line"
line=$(grep -E '^  bch join bch1-[A-Za-z0-9_-]+ --as their-name$' <<<"$out") || fail "no join line in: $out"
invite=$(awk '{print $3}' <<<"$line")
expect_contains "$out" 'Teammates without bch install it first: see "Install" in bch'"'"'s README' \
  "the invite text says how a teammate gets bch (this build names no release)"
room=$(sed -n 's/^created room \([0-9a-f]*\) .*/\1/p' <<<"$out")
payload=$(printf '%s' "${invite#bch1-}" | tr '_-' '/+' | base64 -d 2>/dev/null || true)
expect_eq "$(jq -r '[.url, .room, (.channels | join(","))] | join(" ")' <<<"$payload")" \
  "$RELAY_URL $room #proj,#ops" "the invite carries url, room and channels"

# The URL may also come from config or BACKCHANNEL_DEFAULT_RELAY.
expect_fail 2 'error: no relay to create the room on — pass --url, or set BACKCHANNEL_URL or BACKCHANNEL_DEFAULT_RELAY' \
  at z room new
BACKCHANNEL_DEFAULT_RELAY=$RELAY_URL BACKCHANNEL_ADMIN_TOKEN=admin-secret at z room new >/dev/null

out=$(at a join "$invite" --as alice)
expect_eq "$out" "joined room $room on $RELAY_URL as \"alice\"
agent token saved to $T/a/config.json — keep it private; it is your identity on the relay
subscribed to #proj
subscribed to #ops
[none] no known harness detected — see docs/integrations/generic.md" "join output"
expect_eq "$(jq -r '[.agent, .url, .room] | join(" ")' "$T/a/config.json")" "alice $RELAY_URL $room" "join config"
at b join "$invite" --as bob --no-hooks >/dev/null
expect_fail 1 'error: agent name "bob" is registered — present its token to re-register' at c join "$invite" --as bob
[ ! -e "$T/c/config.json" ] || fail "a refused join wrote config.json"

at a send '#proj' "room hello" >/dev/null
expect_run 0 "*" "" at b drain --json
expect_eq "$(jq -r '.[0].body' <<<"$RUN_OUT")" "room hello" "fan-out inside the room"
expect_eq "$(at b agents | cut -d' ' -f1 | tr '\n' ' ')" "alice bob " "only room members listed"

# The relay settings can come from the environment alone, which beats config.json.
expect_eq "$(BACKCHANNEL_URL=$RELAY_URL BACKCHANNEL_TOKEN=$(jq -r .token "$T/a/config.json") \
  BACKCHANNEL_RELAY_ROOM=$room BACKCHANNEL_AGENT=alice at nohome agents | cut -d' ' -f1 | tr '\n' ' ')" \
  "alice bob " "BACKCHANNEL_URL/TOKEN/RELAY_ROOM reach the room without a config"

# A default-room agent can neither see nor reach room members.
line=$(at d invite --url "$RELAY_URL" --token default-secret --channel general)
expect_match "$line" '^bch join bch1-[A-Za-z0-9_-]+ --as their-name$' "invite prints a join line"
at d join "$(awk '{print $3}' <<<"$line")" --as dave >/dev/null
expect_eq "$(jq -r '.room // "none"' "$T/d/config.json")" "none" "default room invite has no room"
expect_run 0 "*" "" at d agents
expect_eq "$(cut -d' ' -f1 <<<"$RUN_OUT")" "dave" "the default room does not see room members"
expect_fail 1 'error: unknown agent "alice" in this room — they join it with an invite: `bch invite` (or `bch room new`) prints one, they run `bch join <invite> --as alice`' at d send @alice "hi"
expect_fail 1 'error: unknown agent "dave" in this room — they join it with an invite: `bch invite` (or `bch room new`) prints one, they run `bch join <invite> --as dave`' at a send @dave "hi"
expect_run 0 "#general" "" at d channels  # channels are per room

# Invite errors.
expect_fail 2 'error: not a backchannel invite (expected it to start with bch1-)' at e join hello --as eve
expect_fail 2 'error: malformed invite' at e join 'bch1-***' --as eve
expect_fail 2 'error: malformed invite: missing relay url' \
  at e join "bch1-$(printf '{"token":"x"}' | base64 -w0 | tr '+/' '-_' | tr -d '=')" --as eve
expect_fail 2 'error: malformed invite: invalid room id' \
  at e join "bch1-$(printf '{"url":"%s","room":"../x"}' "$RELAY_URL" | base64 -w0 | tr '+/' '-_' | tr -d '=')" --as eve
expect_fail 2 'error: invalid agent name "../eve" (use letters, digits, . _ -)' at e join "$invite" --as ../eve
expect_fail 1 "error: unknown room \"nosuchroom\" — create one with \`bch room new\`" \
  at e join "bch1-$(printf '{"url":"%s","room":"nosuchroom"}' "$RELAY_URL" | base64 -w0 | tr '+/' '-_' | tr -d '=')" --as eve
expect_fail 2 'error: --token is required — see `bch --help`' at e invite --url "$RELAY_URL"
# invite asks the relay whether the token admits anyone before printing an invite.
expect_fail 1 "error: the relay refused this token (unauthorized — that is not this room's join token) — an invite with it cannot work; use the relay's --token" \
  at e invite --url "$RELAY_URL" --token WRONG
expect_run 0 "*" "warning: the token was not checked (relay http://127.0.0.1:9 unreachable: connection refused or timed out) — make sure it is the relay's --token" \
  at e invite --url "http://127.0.0.1:9" --token anything
expect_match "$RUN_OUT" '^bch join bch1-' "an unchecked invite is still printed"
[ ! -e "$T/e/config.json" ] || fail "a refused join wrote config.json"

# Rotation and revocation, live (no restart).
# An agent rotates its own token: the old one stops working, the new one is saved.
old=$(jq -r .token "$T/b/config.json")
expect_run 0 "rotated the token of \"bob\" on $RELAY_URL; the new one is saved in $T/b/config.json" "" \
  at b token rotate
new=$(jq -r .token "$T/b/config.json")
[ "$new" != "$old" ] && [ ${#new} -eq 64 ] || fail "no new token saved"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $old" \
  -H "X-Backchannel-Room: $room" "$RELAY_URL/v1/inbox/bob")" "401" "the old token is refused"
expect_run 0 "*" "" at b send @alice "after rotation"
expect_fail 2 'error: no relay token to rotate — this home is not on a relay (`bch join` one first)' \
  env BACKCHANNEL_HOME="$T/local" BACKCHANNEL_AGENT=x "$BCH" token rotate
# A room's join token rotates: the old invite admits no one, the new one does.
expect_fail 1 'error: unauthorized — rotating a room'"'"'s join token needs the admin token or the current join token' \
  at a room rotate "$room" --url "$RELAY_URL"
expect_run 0 "*" "" env BACKCHANNEL_ADMIN_TOKEN=admin-secret BACKCHANNEL_HOME="$T/a" "$BCH" room rotate "$room" --url "$RELAY_URL" --channel proj
new_invite=$(awk '/^  bch join /{print $3}' <<<"$RUN_OUT")
expect_match "$RUN_OUT" "^rotated the join token of room $room on " "room rotate says so"
expect_fail 1 'error: unauthorized — registration requires the room token' at f join "$invite" --as frank
expect_run 0 "*" "" at f join "$new_invite" --as frank --no-hooks
expect_eq "$(jq -r .room "$T/f/config.json")" "$room" "the new invite joins the same room"
# The operator deletes an agent's record: its token is refused at once, and the freed name
# cannot be taken back with it.
rm "$T/relay/rooms/$room/agents/frank.json"
expect_fail 1 'error: unauthorized — agent token required (get one via /v1/register)' at f inbox

# SIGINT stops the relay as cleanly as SIGTERM: exit 0.
kill -INT "$RELAY_PID"
rc=0
wait "$RELAY_PID" || rc=$?
expect_eq "$rc" "0" "relay exit code on SIGINT"
echo "ok"
