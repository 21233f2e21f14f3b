#!/usr/bin/env bash
# kill -9 at random moments: senders, drainers and subscribers die mid-operation for a
# bounded number of rounds. Afterwards no partial message is visible in new/, every
# message whose send succeeded was either drained exactly once or is still in the
# spool (shown again only if its drainer died before deleting it), and every agent
# record parses.
source "$(dirname "$0")/lib.sh"

rounds=${BCH_CRASH_ROUNDS:-30}
"$BCH" init alice >/dev/null
as bob init bob >/dev/null
as alice sub crash >/dev/null
RANDOM=${BCH_CRASH_SEED:-4242}  # reproducible kill times

# The shell's "Killed" job reports are expected noise here. Each worker runs as its own
# process group (set -m), so one kill reaches the loop and the bch it is running at
# once: killing the children and then the loop left a window in which the loop started
# one more bch, which outlived the round and drained the spool during the checks.
exec 3>&2 2>/dev/null
set -m
for round in $(seq 1 "$rounds"); do
  pids=()
  (for i in $(seq 1 40); do as alice send @bob "round $round message $i $(head -c 300 /dev/zero | tr '\0' x)"; done \
    >>"$T/sent.$round.a") &
  pids+=($!)
  (for i in $(seq 1 40); do as alice send @bob --urgent "round $round urgent $i"; done >>"$T/sent.$round.b") &
  pids+=($!)
  (for i in $(seq 1 20); do as bob drain --json >>"$T/drained.$round.$i" || true; done) &
  pids+=($!)
  (for i in $(seq 1 20); do as bob sub "r${round}c$i" >/dev/null; as bob unsub "r${round}c$i" >/dev/null; done) &
  pids+=($!)
  sleep "0.0$((RANDOM % 9 + 1))"
  # Kill every process of this round, at whatever it was doing.
  for pid in "${pids[@]}"; do
    kill -9 -- "-$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  # A killed process may linger a moment as a zombie; none may still be running.
  for pid in "${pids[@]}"; do
    deadline=$((SECONDS + 5))
    while ps -o stat= -g "$pid" | grep -qv '^Z'; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        exec 2>&3
        fail "a process of round $round survived its kill"
      fi
      sleep 0.05
    done
  done
done
set +m
exec 2>&3 3>&-

# 1. Nothing partial in new/: every file there parses as a message, nothing set aside.
for f in "$BACKCHANNEL_HOME"/spool/bob/new/*.json; do
  [ -e "$f" ] || continue
  jq -e '.id and .body and .from' "$f" >/dev/null 2>&1 || fail "partial or corrupt message visible: $f"
done
[ ! -d "$BACKCHANNEL_HOME/spool/bob/bad" ] || [ -z "$(ls "$BACKCHANNEL_HOME/spool/bob/bad")" ] \
  || fail "messages were set aside as corrupt: $(ls "$BACKCHANNEL_HOME/spool/bob/bad")"

# 2. Agent records all parse (replaced atomically, never torn).
for f in "$BACKCHANNEL_HOME"/agents/*.json; do
  jq -e '.name and (.subscriptions | type == "array")' "$f" >/dev/null || fail "corrupt agent record: $f"
done
expect_eq "$(jq -r '.subscriptions | join(",")' "$BACKCHANNEL_HOME/agents/alice.json")" "#crash" \
  "alice's record intact"

# 3. Every successful send is drained exactly once or still in the spool.
cat "$T"/sent.* 2>/dev/null | grep -o '^sent [0-9a-f]\{8\} to @bob$' | cut -d' ' -f2 | sort >"$T/sent" || true
# A drainer killed mid-array leaves an unterminated array; each element is one line
# that starts with the id field (awk ends every file's last line).
awk 1 "$T"/drained.* 2>/dev/null | sed -n 's/^\[\{0,1\}{"id":"\([0-9a-f-]*\)".*/\1/p' | sort >"$T/drained" || true
# A drainer killed between printing a message and deleting it leaves that message to
# be shown again (at-least-once display: it is never lost). Such a repeat is the last
# element of an array cut short; any other repeat would be two claims of one message.
shown_again=0
for id in $(uniq -d "$T/drained"); do
  cut_short=no
  for f in "$T"/drained.*; do
    last=$(tail -n 1 "$f")
    if [[ $last != *"]" && $last =~ ^\[?\{\"id\":\"$id\" ]]; then
      cut_short=yes
    fi
  done
  [ "$cut_short" = yes ] || fail "message $id claimed twice"
  shown_again=$((shown_again + 1))
done
# A claim cut short is cur/.<id>.claiming until the next reader puts it back.
ls -A "$BACKCHANNEL_HOME/spool/bob/new" "$BACKCHANNEL_HOME/spool/bob/cur" \
  | grep -E '\.json$|^\..*\.claiming$' | sed -E 's/^\.//; s/\.(json|claiming)$//' | sort >"$T/stored" || true
sent=$(wc -l <"$T/sent")
[ "$sent" -gt 0 ] || fail "no send completed in $rounds rounds: the test proves nothing"
missing=0
while read -r short; do
  if ! grep -q -- "$short\$" "$T/drained" "$T/stored"; then
    echo "lost: $short" >&2
    missing=$((missing + 1))
  fi
done <"$T/sent"
expect_eq "$missing" "0" "messages lost"
echo "ok: $sent sends survived $rounds rounds of kill -9 ($(wc -l <"$T/drained") drained, $shown_again shown again after a kill)"

# 4. The spool still works normally afterwards.
as alice send @bob "after the storm" >/dev/null
expect_run 0 "*" "*" as bob drain --json
expect_match "$(jq -r '.[].body' <<<"$RUN_OUT")" "after the storm" "spool usable after crashes"
