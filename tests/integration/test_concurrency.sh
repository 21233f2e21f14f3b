#!/usr/bin/env bash
# Several processes at once: drainers racing over one inbox (1,200 messages by default)
# claim each exactly once; sessions subscribing at the same moment lose no subscription.
# BCH_LOAD_PER_SENDER (default 300) scales the inbox down for slow sanitizer builds.
source "$(dirname "$0")/lib.sh"
per=${BCH_LOAD_PER_SENDER:-300}
all=$((4 * per))

"$BCH" init alice >/dev/null
as bob init bob >/dev/null

# 4 concurrent senders.
for s in 1 2 3 4; do
  (for i in $(seq 1 "$per"); do as alice send @bob "sender $s message $i"; done >"$T/sent.$s") &
done
wait
total=$(cat "$T"/sent.* | wc -l)
expect_eq "$total" "$all" "every send reported success"
expect_eq "$(ls "$BACKCHANNEL_HOME/spool/bob/new" | wc -l)" "$all" "every message is in new/"
expect_eq "$(ls "$BACKCHANNEL_HOME/spool/bob/tmp" | wc -l)" "0" "tmp/ is empty"

# 4 drainers at once over the same inbox.
for d in 1 2 3 4; do
  as bob drain --json >"$T/drained.$d" &
done
wait
for d in 1 2 3 4; do
  jq -e 'type == "array"' "$T/drained.$d" >/dev/null || fail "drainer $d printed invalid JSON"
done
jq -r '.[].id' "$T"/drained.* | sort >"$T/ids"
expect_eq "$(wc -l <"$T/ids")" "$all" "$all claims in all"
expect_eq "$(sort -u "$T/ids" | wc -l)" "$all" "no message claimed twice"
expect_eq "$(cut -c 29-36 "$T/ids" | sort)" "$(sed 's/^sent \([0-9a-f]*\) .*/\1/' "$T"/sent.* | sort)" \
  "the claimed ids are exactly the sent ones"
expect_run 0 "inbox empty" "" as bob inbox  # nothing left
expect_eq "$(ls "$BACKCHANNEL_HOME/spool/bob/cur" | wc -l)" "0" "nothing left in cur/"

# 24 sessions of one agent subscribing at the same moment, plus another agent's.
for i in $(seq 1 24); do
  as bob sub "ch$i" >/dev/null &
  as alice sub "other$i" >/dev/null &
done
wait
expect_eq "$(jq '.subscriptions | length' "$BACKCHANNEL_HOME/agents/bob.json")" "24" "no subscription lost"
expect_eq "$(jq '.subscriptions | length' "$BACKCHANNEL_HOME/agents/alice.json")" "24" "no subscription lost (alice)"
for i in $(seq 1 24); do
  as bob unsub "ch$i" >/dev/null &
done
wait
expect_eq "$(jq '.subscriptions | length' "$BACKCHANNEL_HOME/agents/bob.json")" "0" "no unsubscription lost"
echo "ok"
