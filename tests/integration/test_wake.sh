#!/usr/bin/env bash
# The wake watcher (`bch watch --urgent-only --notify`, what the wake service runs) with a
# fake notify-send on PATH: a hostile urgent body arrives as plain arguments and runs
# nothing, normal messages produce no notification, and nothing is claimed.
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/bin" "$T/cwd"
cat >"$T/bin/notify-send" <<FAKE
#!/bin/sh
{ printf 'call %s\n' "\$#"; for a in "\$@"; do printf '[%s]\n' "\$a"; done; } >>"$T/notify.log"
FAKE
chmod +x "$T/bin/notify-send"

"$BCH" init alice >/dev/null
as bob init bob >/dev/null

(cd "$T/cwd" && PATH="$T/bin:$PATH" BACKCHANNEL_AGENT=alice exec "$BCH" watch --urgent-only --notify \
  >"$T/watch.out" 2>"$T/watch.err") &
BG_PIDS+=($!)
watch_pid=$!
wait_for 10 grep -q 'watching the inbox of alice' "$T/watch.err" || fail "watch did not start: $(cat "$T/watch.err")"

as bob send @alice "a normal message: no notification" >/dev/null
hostile='--help $(touch pwned) `touch pwned2`; touch pwned3 <b>bold</b> & "q" '"'s'"
printf '%s\nsecond line, not shown\n' "$hostile" | as bob send @alice --urgent - >/dev/null
wait_for 10 test -s "$T/notify.log" || fail "no notification: $(cat "$T/watch.err")"
# Messages are handled in order: once a later urgent one is notified, anything the
# earlier ones caused has landed too.
as bob send @alice --urgent "sentinel" >/dev/null
wait_for 10 grep -q '^\[sentinel\]$' "$T/notify.log" || fail "no notification for the sentinel"
expect_eq "$(grep -c '^call ' "$T/notify.log")" "2" "one notification per urgent message, none for the normal one"

expect_eq "$(sed -n 1,6p "$T/notify.log")" "call 5
[--app-name=backchannel]
[--urgency=critical]
[--]
[urgent message from bob]
[--help \$(touch pwned) \`touch pwned2\`; touch pwned3 &lt;b&gt;bold&lt;/b&gt; &amp; \"q\" 's']" "notifier arguments"
for f in pwned pwned2 pwned3; do
  [ ! -e "$T/cwd/$f" ] && [ ! -e "$T/bin/$f" ] && [ ! -e "$f" ] || fail "a message body ran a command ($f)"
done

# Peeking, not claiming: the agent still gets both on its next turn.
expect_run 0 "*" "" as alice inbox --json
expect_eq "$(jq length <<<"$RUN_OUT")" "3" "messages stay unread"

# Without a notifier the watcher warns once and keeps going.
kill -TERM "$watch_pid"
wait "$watch_pid" || fail "watch did not exit 0 on SIGTERM"
(cd "$T/cwd" && PATH=/nonexistent BACKCHANNEL_AGENT=alice exec "$BCH" watch --urgent-only --notify \
  >"$T/watch2.out" 2>"$T/watch2.err") &
BG_PIDS+=($!)
wait_for 10 grep -q 'cannot show a desktop notification' "$T/watch2.err" || fail "no warning: $(cat "$T/watch2.err")"
as bob send @alice --urgent "another one" >/dev/null
wait_for 10 grep -q 'another one' "$T/watch2.out" || fail "watcher stopped after a failed notification"
expect_eq "$(grep -c 'cannot show a desktop notification' "$T/watch2.err")" "1" "warned once"
