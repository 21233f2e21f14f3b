#!/usr/bin/env bash
# The everyday loop on the local spool: init, send (DM, channel, stdin), inbox, drain,
# read, with the exact outputs of SPEC section 8.
source "$(dirname "$0")/lib.sh"

expect_run 0 'registered as "alice" (local spool)' "" "$BCH" init alice
# Another name never silently replaces the home's identity.
expect_fail 1 'error: this home is already "alice" on the local spool — add --force to make it "bob" (the old config is kept in a backup), or set BACKCHANNEL_AGENT=bob for one session' \
  "$BCH" init bob
expect_eq "$(jq -r .agent "$BACKCHANNEL_HOME/config.json")" "alice" "a refused init changes nothing"
# A session speaking as bob registers him and leaves the home's identity alone.
expect_run 0 'registered as "bob" (local spool)' "" as bob init bob
expect_eq "$(jq -r .agent "$BACKCHANNEL_HOME/config.json")" "alice" "as bob, init bob keeps alice"
expect_run 0 "*" "" "$BCH" init bob --force
expect_match "$RUN_OUT" "^registered as \"bob\" \(local spool\)
the identity it replaced is kept in $BACKCHANNEL_HOME/backups/config-[0-9T]+Z\.json$" "init --force"
expect_eq "$(jq -r .agent "$BACKCHANNEL_HOME/config.json")" "bob" "init --force saves the identity"
expect_eq "$(jq -r .agent "$BACKCHANNEL_HOME"/backups/config-*.json)" "alice" "the old config is backed up"
expect_eq "$(stat -c %a "$BACKCHANNEL_HOME"/backups/config-*.json)" "600" "backup mode"
expect_eq "$(stat -c %a "$BACKCHANNEL_HOME/config.json")" "600" "config mode"
expect_eq "$(stat -c %a "$BACKCHANNEL_HOME/spool/bob/new")" "700" "inbox mode"
expect_run 0 "bob via local spool" "" "$BCH" whoami  # whoami
expect_run 0 "alice via local spool" "" as alice whoami  # BACKCHANNEL_AGENT beats config

# Nothing yet.
expect_run 0 "inbox empty" "" "$BCH" inbox  # empty inbox
expect_run 0 "inbox empty" "" "$BCH" drain  # empty drain
expect_run 0 "[]" "" "$BCH" drain --json  # empty drain --json
expect_run 0 "" "" "$BCH" drain --hook  # empty drain --hook is silent, exit 0

# A DM, peeked twice, then drained.
out=$(as alice send @bob "PR 42 merged, rebase now")
expect_match "$out" '^sent [0-9a-f]{8} to @bob$' "send output"
short=${out#sent }
short=${short%% *}
json=$("$BCH" inbox --json)
expect_eq "$(jq length <<<"$json")" "1" "one unread"
id=$(id_of <<<"$json")
expect_eq "${id: -8}" "$short" "the short id is the id's tail"
expect_eq "$(jq -r '.[0] | [.from, .to, .body, .priority] | join("|")' <<<"$json")" \
  "alice|@bob|PR 42 merged, rebase now|normal" "stored fields"
expect_eq "$(jq -r '.[0] | has("scope") or has("thread") or has("refs")' <<<"$json")" "false" \
  "absent optional fields are omitted"
ts=$(jq -r '.[0].ts' <<<"$json")
expect_match "$ts" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' "ts format"
expect_run 0 "alice -> @bob ($ts, id $short)
  │ PR 42 merged, rebase now" "" "$BCH" inbox  # inbox full form
expect_run 0 "alice -> @bob ($ts, id $short): PR 42 merged, rebase now" "" "$BCH" inbox --brief  # brief form
expect_run 0 "alice -> @bob ($ts, id $short)
  │ PR 42 merged, rebase now" "" "$BCH" drain  # drain prints it
expect_run 0 "inbox empty" "" "$BCH" inbox  # drain deleted it
expect_eq "$(ls "$BACKCHANNEL_HOME/spool/bob/cur" "$BACKCHANNEL_HOME/spool/bob/new")" \
  "$(printf '%s\n\n%s' "$BACKCHANNEL_HOME/spool/bob/cur:" "$BACKCHANNEL_HOME/spool/bob/new:")" \
  "nothing left behind"

# Urgent, scoped, threaded, with refs; multi-line body from stdin.
printf 'line one\n\n  line   three\n' | as alice send bob - --urgent --scope github.com/org/myrepo \
  --thread "$id" --ref src/a.cpp --ref https://x.test/y >/dev/null
json=$("$BCH" inbox --json --match github.com/org/myrepo)
expect_eq "$(jq -r '.[0].body' <<<"$json")" "$(printf 'line one\n\n  line   three')" "stdin body"
expect_eq "$(jq -r '.[0] | [.to, .priority, .scope, .thread, (.refs | join(","))] | join("|")' <<<"$json")" \
  "bob|urgent|github.com/org/myrepo|$id|src/a.cpp,https://x.test/y" "options stored"
m=$(id_of <<<"$json")
ts=$(jq -r '.[0].ts' <<<"$json")
expect_run 0 "inbox empty" "" "$BCH" inbox --match /home/me/src/other  # scope hides from other repos
expect_run 0 "inbox empty" "" "$BCH" inbox  # scope hides from readers without --match
expect_run 0 "alice -> bob [URGENT] ($ts, id ${m: -8})
  scope: github.com/org/myrepo
  thread: $id
  refs: src/a.cpp, https://x.test/y
  │ line one
  │
  │   line   three" "" "$BCH" inbox --match git@github.com:org/myrepo.git  # full form with every field
expect_run 0 "alice -> bob [URGENT] ($ts, id ${m: -8}): line one line three" "" "$BCH" inbox --brief --match https://github.com/org/myrepo  # brief folds whitespace
expect_run 0 "[]" "" "$BCH" drain --match github.com/org/notmyrepo --json  # whole-segment scope match

# drain --hook prints a header, then the messages.
out=$("$BCH" drain --hook --match git@github.com:org/myrepo.git)
expect_eq "$(head -n1 <<<"$out")" "[backchannel] 1 message(s) for bob:" "hook header"
expect_match "$out" "alice -> bob \[URGENT\]" "hook prints the message"
expect_run 0 "" "" "$BCH" drain --hook --match git@github.com:org/myrepo.git  # then silent

# Channels: fan-out excludes the sender; each copy is claimed on its own.
as carol init carol >/dev/null
expect_run 0 'registered as "bob" (local spool)' "" "$BCH" init bob  # init again is harmless
expect_run 0 "subscribed to #dev" "" as bob sub dev  # sub output
expect_run 0 "subscribed to #dev" "" as carol sub '#dev'  # sub with #
expect_run 0 "subscribed to #dev" "" as alice sub dev  # sub
expect_run 0 "#dev" "" as alice channels  # channels
out=$(as alice send '#dev' "standup in 5")
expect_match "$out" '^sent [0-9a-f]{8} to #dev$' "channel send output"
expect_run 0 "inbox empty" "" as alice inbox  # sender excluded
bob_id=$(as bob drain --json | id_of)
carol_id=$(as carol inbox --json | id_of)
expect_eq "$bob_id" "$carol_id" "one id across the fan-out"
expect_run 0 "*" "" as carol drain --json
expect_eq "$(jq -r '.[0].to' <<<"$RUN_OUT")" "#dev" "to is the channel"

# read by short id and by prefix; --keep leaves it in cur/.
out=$(as alice send @bob "one")
as alice send @bob "two" >/dev/null
s1=${out#sent }
s1=${s1%% *}
expect_run 0 "*" "" "$BCH" read "${s1:0:4}"  # the first 4 characters of the id shown
expect_match "$RUN_OUT" "^alice -> @bob .*id $s1\)"$'\n'"  │ one$" "read by a short-id prefix"
id2=$("$BCH" inbox --json | id_of)
"$BCH" read "${id2:0:20}" --keep >/dev/null
expect_eq "$(ls "$BACKCHANNEL_HOME/spool/bob/cur")" "$id2.json" "--keep keeps it in cur/"
expect_run 0 "inbox empty" "" "$BCH" inbox  # read claimed it

# A send refreshes the sender's lastSeen (at most once a minute); reading refreshes the
# reader's.
for a in alice bob; do
  jq '.lastSeen = "2020-01-01T00:00:00.000Z"' "$BACKCHANNEL_HOME/agents/$a.json" >"$T/rec.json"
  cat "$T/rec.json" >"$BACKCHANNEL_HOME/agents/$a.json"
done
as alice send @bob "seen" >/dev/null
expect_match "$(jq -r .lastSeen "$BACKCHANNEL_HOME/agents/alice.json")" "^$(date -u +%Y-%m-%d)T" "send refreshes the sender"
expect_eq "$(jq -r .lastSeen "$BACKCHANNEL_HOME/agents/bob.json")" "2020-01-01T00:00:00.000Z" "send leaves the recipient"
"$BCH" drain >/dev/null
expect_match "$(jq -r .lastSeen "$BACKCHANNEL_HOME/agents/bob.json")" "^$(date -u +%Y-%m-%d)T" "drain refreshes the reader"

# agents lists names, channels and last seen.
out=$("$BCH" agents)
expect_match "$out" '^alice \(#dev\) — last seen [0-9T:.-]+Z$' "agents line with channels"
expect_run 0 "unsubscribed from #dev" "" as bob unsub '#dev'  # unsub
expect_run 0 "*" "" "$BCH" agents
expect_match "$(grep '^bob' <<<"$RUN_OUT")" '^bob — last seen ' "no parenthesis without channels"

# A message sent to the name without @ and a DM to oneself both work.
as bob send bob "note to self" >/dev/null
expect_run 0 "*" "" "$BCH" drain --json
expect_eq "$(jq -r '.[0].body' <<<"$RUN_OUT")" "note to self" "DM to self"
echo "ok"
