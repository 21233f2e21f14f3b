#!/usr/bin/env bash
# Bad input of every kind: one exact "error:" line, the right exit code, nothing on
# stdout, and nothing changed on disk.
source "$(dirname "$0")/lib.sh"

# Help and version are not errors.
"$BCH" >/dev/null
"$BCH" --help >/dev/null
"$BCH" help >/dev/null
expect_run 0 "*" "" "$BCH" help send
expect_match "$RUN_OUT" "Usage: bch send" "help for one command"
expect_run 0 "*" "" "$BCH" send --help
expect_match "$RUN_OUT" "--urgent" "command --help"
expect_run 0 "*" "" "$BCH" --version
expect_match "$RUN_OUT" '^bch [0-9]+\.[0-9]+\.[0-9]+ \(([0-9a-f]{12}(-dirty)?|unknown), [a-z0-9_]+-[a-z]+\)$' \
  "version, commit and target"
expect_run 0 "$RUN_OUT" "" "$BCH" version  # the same as a command

# No identity.
expect_fail 2 'error: no agent identity — run `bch init <name>` first (or set BACKCHANNEL_AGENT)' \
  "$BCH" send @bob hi
expect_fail 2 'error: no agent identity — run `bch init <name>` first (or set BACKCHANNEL_AGENT)' \
  "$BCH" drain
expect_eq "$("$BCH" drain --hook 2>&1; echo "rc=$?")" "rc=0" "hook without identity: silent, exit 0"
[ ! -e "$BACKCHANNEL_HOME" ] || fail "reading commands created the home"

"$BCH" init bob >/dev/null  # the home is bob; alice speaks through BACKCHANNEL_AGENT
as alice init alice >/dev/null
before=$(snapshot)

# Names that could reach outside the spool, and other invalid names.
expect_fail 2 'error: invalid agent name "../config" (use letters, digits, . _ -)' "$BCH" send @../config x
expect_fail 2 'error: invalid agent name "../../etc/passwd" (use letters, digits, . _ -)' \
  "$BCH" send ../../etc/passwd x
expect_fail 2 'error: invalid agent name "a/b" (use letters, digits, . _ -)' "$BCH" init a/b
expect_fail 2 'error: invalid agent name "" (use letters, digits, . _ -)' "$BCH" send @ x
expect_fail 2 'error: invalid agent name "-x" (use letters, digits, . _ -)' "$BCH" init -- -x
expect_fail 2 'error: invalid message id "../../x" (use letters, digits and -)' "$BCH" read ../../x
expect_fail 2 'error: invalid channel name "#../x" (use # then letters, digits, . _ -)' "$BCH" sub '#../x'
expect_fail 2 'error: invalid channel name "#" (use # then letters, digits, . _ -)' "$BCH" send '#' x
expect_fail 2 'error: invalid agent name "../x" (use letters, digits, . _ -)' \
  env BACKCHANNEL_AGENT=../x "$BCH" send @bob hi
expect_fail 2 'error: invalid message id "x/y" (use letters, digits and -)' "$BCH" send @alice hi --thread x/y

# Empty bodies.
expect_fail 2 'error: empty message body — nothing to send' "$BCH" send @alice ""
expect_fail 2 'error: empty message body — nothing to send' "$BCH" send @alice "   "
expect_fail 2 'error: empty message body — nothing to send' sh -c "printf '\n\n' | \"$BCH\" send @alice -"
expect_fail 2 'error: empty message body — nothing to send' sh -c "\"$BCH\" send @alice - </dev/null"

# Unknown recipients and lonely channels.
expect_fail 1 'error: unknown agent "carol" — they must `bch init carol` first' "$BCH" send @carol hi
expect_fail 1 'error: channel #dev has no other subscribers — nothing to deliver' "$BCH" send '#dev' hi
"$BCH" sub dev >/dev/null
expect_fail 1 'error: channel #dev has no other subscribers — nothing to deliver' "$BCH" send '#dev' hi
"$BCH" unsub dev >/dev/null

# Usage errors from the parser.
expect_fail 2 'error: unknown command "frob" — run `bch help`' "$BCH" frob
expect_fail 2 'error: unknown command "frob" — run `bch help`' "$BCH" help frob
expect_fail 2 'error: target is required — see `bch --help`' "$BCH" send
expect_fail 2 'error: body is required — see `bch --help`' "$BCH" send @alice
expect_fail 2 'error: unknown flag --bogus for `bch drain` — see `bch drain --help`' "$BCH" drain --bogus
# Did you mean: the nearest command or flag, when one is near enough.
expect_fail 2 'error: unknown command "drian" — did you mean `bch drain`?' "$BCH" drian
expect_fail 2 'error: unknown command "sned" — did you mean `bch send`?' "$BCH" help sned
expect_fail 2 'error: unknown flag --jsno for `bch inbox` — did you mean --json? see `bch inbox --help`' \
  "$BCH" inbox --jsno
expect_fail 2 'error: unknown flag --urgnet for `bch send` — did you mean --urgent? see `bch send --help`' \
  "$BCH" send @alice hi --urgnet
expect_fail 2 'error: unknown flag --matc for `bch drain` — did you mean --match? see `bch drain --help`' \
  "$BCH" drain --matc=repo
expect_fail 2 'error: the following argument was not expected: extra — see `bch inbox --help`' \
  "$BCH" inbox extra
expect_fail 2 'error: unknown placeholder {{nope}} in --exec template (known: body, from, to, id, priority, scope, thread)' \
  "$BCH" watch --exec 'echo {{nope}}'

# Reading what is not there.
expect_fail 1 'error: no unread message with id abc123' "$BCH" read abc123
expect_fail 1 'error: unknown agent "dave" — they must `bch init dave` first' \
  env BACKCHANNEL_AGENT=dave "$BCH" inbox

expect_eq "$(snapshot)" "$before" "refused commands changed nothing on disk"

# An ambiguous prefix claims nothing.
as alice send @bob one >/dev/null
as alice send @bob two >/dev/null
prefix=$("$BCH" inbox --json | jq -r '.[0].id[0:4]')
expect_fail 2 "error: id prefix $prefix is ambiguous — it matches 2 unread messages" "$BCH" read "$prefix"
expect_run 0 "*" "" "$BCH" inbox --json
expect_eq "$(jq length <<<"$RUN_OUT")" "2" "ambiguous read claimed nothing"
"$BCH" drain >/dev/null

# The hook never fails a prompt: unregistered identity → one warning line, exit 0.
out=$(BACKCHANNEL_AGENT=ghost "$BCH" drain --hook 2>"$T/err"; echo "rc=$?")
expect_eq "$out" "rc=0" "hook with an unregistered identity exits 0 with no stdout"
expect_eq "$(cat "$T/err")" 'bch: inbox not checked: unknown agent "ghost" — they must `bch init ghost` first' \
  "hook warning"

# A corrupt config is named; the hook still exits 0.
cp "$BACKCHANNEL_HOME/config.json" "$T/config.good"
echo '{"agent": 42}' >"$BACKCHANNEL_HOME/config.json"
expect_fail 1 "error: cannot read '$BACKCHANNEL_HOME/config.json': \"agent\" is not a string" "$BCH" inbox
expect_eq "$("$BCH" drain --hook 2>/dev/null; echo "rc=$?")" "rc=0" "hook survives a corrupt config"
echo 'garbage' >"$BACKCHANNEL_HOME/config.json"
expect_fail 1 "error: cannot read '$BACKCHANNEL_HOME/config.json': not a JSON object — fix or remove it" \
  "$BCH" whoami
cp "$T/config.good" "$BACKCHANNEL_HOME/config.json"

# A corrupt message is set aside with one warning; the good one still arrives.
as alice send @bob "still fine" >/dev/null
echo '{"id": "half' >"$BACKCHANNEL_HOME/spool/bob/new/0190d6e2-0000-7000-8000-00000000000a.json"
out=$("$BCH" drain 2>"$T/err")
expect_match "$out" "still fine" "good message delivered past a corrupt one"
expect_match "$(cat "$T/err")" "^warning: moved unreadable message '.*0190d6e2-0000-7000-8000-00000000000a.json' to '.*/bad/" \
  "one warning line"
expect_eq "$(wc -l <"$T/err")" "1" "exactly one warning line"
[ -f "$BACKCHANNEL_HOME/spool/bob/bad/0190d6e2-0000-7000-8000-00000000000a.json" ] || fail "not moved to bad/"

# A corrupt agent record: listing skips it with a warning, writing to it is refused.
echo 'nope' >"$BACKCHANNEL_HOME/agents/zed.json"
expect_run 0 "*" "*" "$BCH" agents
expect_match "$RUN_OUT" "^alice" "agents still lists the rest"
expect_fail 1 "error: agent record '$BACKCHANNEL_HOME/agents/zed.json' is not a JSON object — fix or remove it" \
  "$BCH" send @zed hi
expect_eq "$(cat "$BACKCHANNEL_HOME/agents/zed.json")" "nope" "the corrupt record is left alone"

# Output that cannot be written does not lose the message: it goes back to unread.
as alice send @bob "do not lose me" >/dev/null
rc=0
"$BCH" drain >&- 2>"$T/err" || rc=$?
expect_eq "$rc" "1" "drain with stdout closed fails"
expect_match "$(cat "$T/err")" "^error: cannot write 'standard output'" "and says why"
expect_run 0 "*" "" "$BCH" inbox --brief
expect_match "$RUN_OUT" "do not lose me" "the message is unread again"
echo "ok"
