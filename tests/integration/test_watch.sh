#!/usr/bin/env bash
# `bch watch`: existing messages first, then each new one once; claims unless --peek;
# --urgent-only; --exec never runs code from a message; SIGINT → 130, SIGTERM → 0.
source "$(dirname "$0")/lib.sh"

"$BCH" init alice >/dev/null
as bob init bob >/dev/null

# start_watch <name> <args...>: a watcher as bob, output in $T/<name>.out/.err.
start_watch() {
  local name=$1
  shift
  BACKCHANNEL_AGENT=bob "$BCH" watch "$@" >"$T/$name.out" 2>"$T/$name.err" &
  WATCH_PID=$!
  BG_PIDS+=("$WATCH_PID")
  wait_for 5 grep -qs "watching" "$T/$name.err" || fail "no banner from watch $*"
}
lines() { wc -l <"$1" | tr -d ' '; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }

# Existing first, then new, claimed, in brief form.
as alice send @bob "waiting already" >/dev/null
start_watch claim
wait_for 5 has_lines "$T/claim.out" 1 || fail "existing message not delivered"
expect_match "$(head -n1 "$T/claim.out")" '^alice -> @bob \(.*\): waiting already$' "brief form"
as alice send @bob "$(printf 'arrives\nlater')" >/dev/null
wait_for 5 has_lines "$T/claim.out" 2 || fail "new message not delivered"
expect_match "$(sed -n 2p "$T/claim.out")" ': arrives later$' "second message, folded"
expect_run 0 "inbox empty" "" as bob inbox  # watch claimed both
expect_eq "$(cat "$T/claim.err")" "watching the inbox of bob (local spool) — ctrl-c to stop" "banner on stderr"
kill -INT "$WATCH_PID"
rc=0
wait "$WATCH_PID" || rc=$?
expect_eq "$rc" "130" "SIGINT exits 130"
expect_eq "$(lines "$T/claim.out")" "2" "each message once"

# Idle, the watcher sleeps in the kernel (inotify): traced for a second once it has shown
# what was waiting, it completes no system call at all (a poller, at any interval under a
# second, would), and each new message still reaches it.
as alice send @bob "ping 0" >/dev/null
start_watch idle --peek
wait_for 5 has_lines "$T/idle.out" 1 || fail "ping 0 not delivered"
# (Under ThreadSanitizer its runtime has a thread of its own that wakes every 100 ms: the
# check runs in the plain and ASan builds. The portable watch, BCH_PORTABLE=1, is a
# poller by design.)
if [ -z "${TSAN_OPTIONS:-}" ] && [ "${BCH_PORTABLE:-}" != 1 ]; then
  timeout -s INT 1 strace -qq -f -p "$WATCH_PID" -o "$T/idle.trace" || true
  [ -s "$T/idle.trace" ] || fail "strace could not attach to the watcher"
  expect_eq "$(grep -c ') = ' "$T/idle.trace" || true)" "0" "system calls of an idle watcher"
fi
for n in 1 2 3; do
  as alice send @bob "ping $n" >/dev/null
  wait_for 5 has_lines "$T/idle.out" $((n + 1)) || fail "ping $n not delivered"
done
kill -TERM "$WATCH_PID"
wait "$WATCH_PID" || true
as bob drain >/dev/null

# --peek leaves messages unread; SIGTERM exits 0.
start_watch peek --peek
as alice send @bob "peek at me" >/dev/null
wait_for 5 has_lines "$T/peek.out" 1 || fail "peek did not deliver"
expect_run 0 "*" "" as bob inbox --brief
expect_match "$RUN_OUT" "peek at me" "--peek did not claim"
kill -TERM "$WATCH_PID"
rc=0
wait "$WATCH_PID" || rc=$?
expect_eq "$rc" "0" "SIGTERM exits 0"
as bob drain >/dev/null

# --urgent-only: normal messages are neither shown nor claimed.
start_watch urgent --urgent-only
as alice send @bob "routine" >/dev/null
as alice send @bob --urgent "prod is down" >/dev/null
wait_for 5 has_lines "$T/urgent.out" 1 || fail "urgent message not delivered"
expect_match "$(cat "$T/urgent.out")" '^alice -> @bob \[URGENT\] .*: prod is down$' "only the urgent one"
expect_run 0 "*" "" as bob inbox --json
expect_eq "$(jq -r '.[].body' <<<"$RUN_OUT")" "routine" "normal message still unread"
kill -TERM "$WATCH_PID"
wait "$WATCH_PID" || true
as bob drain >/dev/null

# --match: scoped messages for other repos stay put.
start_watch scoped --match github.com/org/myrepo
as alice send @bob --scope otherrepo "not for this session" >/dev/null
as alice send @bob --scope myrepo "for this session" >/dev/null
wait_for 5 has_lines "$T/scoped.out" 1 || fail "scoped message not delivered"
# Messages come in order: once a later matching one is shown, the other scope was passed.
as alice send @bob --scope myrepo "sentinel" >/dev/null
wait_for 5 has_lines "$T/scoped.out" 2 || fail "sentinel not delivered"
expect_eq "$(cut -d: -f4- "$T/scoped.out")" " for this session
 sentinel" "only the matching scope"
expect_run 0 "*" "" as bob inbox --json --match otherrepo
expect_eq "$(jq -r '.[].body' <<<"$RUN_OUT")" "not for this session" "other scope unread"
kill -TERM "$WATCH_PID"
wait "$WATCH_PID" || true
as bob drain --match otherrepo >/dev/null

# --exec with hostile bodies: every one arrives as data, none runs.
hostile=(
  '$(touch '"$T"'/pwned1)'
  '`touch '"$T"'/pwned2`'
  "'; touch $T/pwned3; '"
  '"; touch '"$T"'/pwned4; "'
  "\$BCH_BODY \${IFS} * ; | & > $T/pwned5"
  $'line1\n$(touch '"$T"$'/pwned6)\nline3'
)
exec_template='printf "%s|" {{from}} >>'"$T"'/plain; printf "%s\n" {{body}} | od -c >>'"$T"'/plain.od;'
exec_template+=' printf "%s\n" "dq:{{body}}" | od -c >>'"$T"'/dq.od;'
exec_template+=' printf "%s\n" '"'"'sq:{{body}}'"'"' | od -c >>'"$T"'/sq.od;'
exec_template+=' printf "%s\n" "$BCH_BODY" | od -c >>'"$T"'/env.od;'
# Templates that hand text to another shell: the value is expanded only there, as data.
exec_template+=' sh -c '"'"'printf "%s\n" {{body}}'"'"' | od -c >>'"$T"'/nested1.od;'
exec_template+=' bash -c "sh -c '"'"'printf \"%s\\n\" {{body}}'"'"'" | od -c >>'"$T"'/nested2.od'
start_watch exec --exec "$exec_template"
for body in "${hostile[@]}"; do
  as alice send @bob "$body" >/dev/null
done
wait_for 10 has_lines "$T/exec.out" "${#hostile[@]}" || fail "not every hostile message was handled"
# The last command of the template has run for every message.
od_lines=$(for body in "${hostile[@]}"; do printf '%s\n' "$body" | od -c; done | wc -l)
wait_for 10 has_lines "$T/nested2.od" "$od_lines" || fail "exec did not run for every message"
kill -TERM "$WATCH_PID"
wait "$WATCH_PID" || true
for n in 1 2 3 4 5 6; do
  [ ! -e "$T/pwned$n" ] || fail "a message body ran code (pwned$n)"
done
expected_od=$(for body in "${hostile[@]}"; do printf '%s\n' "$body" | od -c; done)
expect_eq "$(cat "$T/plain.od")" "$expected_od" "{{body}} outside quotes is the exact body"
expect_eq "$(cat "$T/env.od")" "$expected_od" "BCH_BODY is the exact body"
expect_eq "$(cat "$T/nested1.od")" "$expected_od" "{{body}} in sh -c '…' is the exact body"
expect_eq "$(cat "$T/nested2.od")" "$expected_od" "{{body}} two shells deep is the exact body"
# Inside quotes that are only data, the reference is passed on unexpanded.
expected_dq=$(for body in "${hostile[@]}"; do printf '%s\n' 'dq:"$BCH_BODY"' | od -c; done)
expect_eq "$(cat "$T/dq.od")" "$expected_dq" "{{body}} inside double quotes stays a reference"
expected_sq=$(for body in "${hostile[@]}"; do printf '%s\n' 'sq:"$BCH_BODY"' | od -c; done)
expect_eq "$(cat "$T/sq.od")" "$expected_sq" "{{body}} inside single quotes stays a reference"
expect_eq "$(cat "$T/plain")" "$(printf 'alice|%.0s' "${hostile[@]}")" "{{from}}"
expect_run 0 "inbox empty" "" as bob inbox  # exec'd messages were claimed
echo "ok"
