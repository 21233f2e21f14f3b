#!/usr/bin/env bash
# A ~/.backchannel written by the TypeScript tool keeps working as it is: its config,
# its agent records (with fields we do not know) and the messages waiting in new/.
source "$(dirname "$0")/lib.sh"

mkdir -p "$BACKCHANNEL_HOME"/agents "$BACKCHANNEL_HOME"/spool/bob/{tmp,new,cur} "$BACKCHANNEL_HOME"/spool/alice/new
cat >"$BACKCHANNEL_HOME/config.json" <<'JSON'
{
  "agent": "bob"
}
JSON
cat >"$BACKCHANNEL_HOME/agents/bob.json" <<'JSON'
{
  "name": "bob",
  "subscriptions": [
    "#dev"
  ],
  "createdAt": "2026-05-01T09:00:00.000Z",
  "lastSeen": "2026-05-01T09:00:00.000Z"
}
JSON
cat >"$BACKCHANNEL_HOME/agents/alice.json" <<'JSON'
{"name":"alice","subscriptions":["#dev","#ops"],"createdAt":"2026-05-01T08:00:00.000Z","lastSeen":"2026-05-01T08:30:00.000Z","futureField":{"x":1}}
JSON
# Messages as the TypeScript tool writes them: UUIDv4 ids, pretty-printed, key order of
# its own, and a field this version does not know.
cat >"$BACKCHANNEL_HOME/spool/bob/new/3b241101-e2bb-4255-8caf-4136c566a962.json" <<'JSON'
{
  "id": "3b241101-e2bb-4255-8caf-4136c566a962",
  "from": "alice",
  "to": "@bob",
  "body": "older message",
  "priority": "normal",
  "ts": "2026-05-01T08:59:00.000Z",
  "x-extra": true
}
JSON
cat >"$BACKCHANNEL_HOME/spool/bob/new/9f8e7d6c-5b4a-4321-8fed-cba987654321.json" <<'JSON'
{"ts":"2026-05-01T09:01:00.000Z","to":"#dev","from":"alice","id":"9f8e7d6c-5b4a-4321-8fed-cba987654321","body":"newer, on #dev","priority":"urgent","refs":["a.md"]}
JSON

expect_run 0 "bob via local spool" "" "$BCH" whoami  # identity from a TypeScript config
expect_run 0 "alice (#dev, #ops) — last seen 2026-05-01T08:30:00.000Z
bob (#dev) — last seen 2026-05-01T09:00:00.000Z" "" "$BCH" agents  # agents from TypeScript records
expect_run 0 "#dev
#ops" "" "$BCH" channels  # channels
expect_run 0 "alice -> @bob (2026-05-01T08:59:00.000Z, id c566a962): older message
alice -> #dev [URGENT] (2026-05-01T09:01:00.000Z, id 87654321): newer, on #dev" "" "$BCH" inbox --brief  # waiting messages, in ts order
expect_run 0 "alice -> @bob (2026-05-01T08:59:00.000Z, id c566a962)
  │ older message" "" "$BCH" read c566a962  # read a UUIDv4 message by its short id

# Our writes keep their fields and their shape.
"$BCH" sub ops >/dev/null
expect_eq "$(jq -c . "$BACKCHANNEL_HOME/agents/bob.json")" \
  "$(jq -c '.subscriptions += ["#ops"] | .lastSeen = (input | .lastSeen)' \
    <(echo '{"name":"bob","subscriptions":["#dev"],"createdAt":"2026-05-01T09:00:00.000Z","lastSeen":"x"}') \
    "$BACKCHANNEL_HOME/agents/bob.json")" "record keeps its shape"
as bob send @alice "hello from bch" >/dev/null
expect_eq "$(jq -r .futureField.x "$BACKCHANNEL_HOME/agents/alice.json")" "1" "unknown fields survive"
f=$(ls "$BACKCHANNEL_HOME/spool/alice/new/")
expect_eq "$(jq -r 'keys_unsorted | join(",")' "$BACKCHANNEL_HOME/spool/alice/new/$f")" \
  "id,from,to,body,priority,ts" "the message file has the spec's fields"
expect_eq "${f%.json}" "$(jq -r .id "$BACKCHANNEL_HOME/spool/alice/new/$f")" "file is <id>.json"
expect_eq "$(jq -r .agent "$BACKCHANNEL_HOME/config.json")" "bob" "config untouched by normal use"
echo "ok"
