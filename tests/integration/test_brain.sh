#!/usr/bin/env bash
# The CLI and the MCP server over the brain backend, against the stand-in brain API
# (bch_fake_brain) on 127.0.0.1: init --brain, config, whoami, send/drain/read between two
# homes, environment selection, bad rooms and tokens, the hook with the brain down, and
# the token never printed.
source "$(dirname "$0")/lib.sh"
: "${BCH_FAKE_BRAIN:?set BCH_FAKE_BRAIN (ctest does)}"

token=usk_integration_secret_42
"$BCH_FAKE_BRAIN" "$token" >"$T/brain.out" 2>"$T/brain.err" &
BG_PIDS+=($!)
brain_pid=$!
wait_for 10 grep -q 'listening on' "$T/brain.out" || fail "fake brain did not start"
BRAIN_URL=$(sed -n 's/^fake brain listening on //p' "$T/brain.out")

out=$(at a init alice --brain --brain-token "$token" --brain-room proj --brain-url "$BRAIN_URL")
expect_eq "$out" "registered as \"alice\" (brain (room: proj, $BRAIN_URL))" "init --brain"
expect_eq "$(jq -c '[.agent, .backend, .brainToken, .brainRoom, .brainUrl]' "$T/a/config.json")" \
  "[\"alice\",\"brain\",\"$token\",\"proj\",\"$BRAIN_URL\"]" "config.json after init --brain"
expect_eq "$(stat -c %a "$T/a/config.json")" "600" "config.json holds the token: 0600"
expect_run 0 "alice via brain (room: proj, $BRAIN_URL)" "" at a whoami  # whoami

# bob selects the brain through the environment only.
export UNISON_TOKEN=$token UNISON_API_URL=$BRAIN_URL BACKCHANNEL_ROOM=proj BACKCHANNEL_BACKEND=brain
at b init bob >/dev/null
expect_run 0 "bob via brain (room: proj, $BRAIN_URL)" "" at b whoami  # whoami from the environment
unset UNISON_TOKEN UNISON_API_URL BACKCHANNEL_ROOM BACKCHANNEL_BACKEND
bob() { UNISON_TOKEN=$token UNISON_API_URL=$BRAIN_URL BACKCHANNEL_ROOM=proj BACKCHANNEL_BACKEND=brain at b "$@"; }

expect_run 0 "*" "" at a send @bob "PR 42 merged"
expect_match "$RUN_OUT" '^sent [0-9a-f]{8} to @bob$' "send over the brain"
printf 'line one\n---\nline "three"\n' | at a send @bob --urgent - >/dev/null
expect_eq "$(bob inbox --json | jq length)" "2" "bob's inbox"
expect_eq "$(bob agents | sed 's/ — last seen.*//')" "alice
bob" "agents"
drained=$(bob drain)
expect_match "$drained" 'alice -> @bob \(.*\)' "drain prints the messages"
expect_match "$drained" 'line "three"' "multi-line body intact"
expect_eq "$(bob drain)" "inbox empty" "drained"
# The archive keeps both.
expect_eq "$(curl -s "$BRAIN_URL/_docs" | jq '[keys[] | select(startswith("/private/backchannel/proj/log/"))] | length')" "2" "archive"

# Channels.
bob sub dev >/dev/null
expect_run 0 "#dev" "" at a channels  # channels
at a send '#dev' "standup in 5" >/dev/null
expect_match "$(bob drain --json | jq -r '.[0].to')" '^#dev$' "channel delivery"

# MCP over the brain.
mcp=$(printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"bch_send","arguments":{"target":"@bob","body":"via mcp"}}}' | at a mcp)
expect_match "$(jq -r '.result.content[0].text' <<<"$mcp")" '^sent [0-9a-f]{8} to @bob$' "bch_send over the brain"
expect_match "$(bob drain)" 'via mcp' "the MCP message arrived"

# Errors: bad room, wrong token (never printed), unknown agent.
expect_fail 2 'error: invalid brain room "Bad/Room" (use a-z, 0-9, - and _; at most 64)' \
  env BACKCHANNEL_ROOM=Bad/Room BACKCHANNEL_HOME="$T/a" "$BCH" inbox
rc=0
UNISON_TOKEN=usk_wrong_token_value at a inbox >"$T/out" 2>"$T/err" || rc=$?
expect_eq "$rc" "2" "wrong token exit code"
expect_eq "$(cat "$T/err")" "error: brain $BRAIN_URL rejected the token (HTTP 401: invalid or missing token) — check UNISON_TOKEN or \`bch init <name> --brain --brain-token …\`" "wrong token message"
! grep -q usk_wrong_token_value "$T/err" "$T/out" || fail "the token was printed"
expect_fail 1 'error: unknown agent "zed" — they must `bch init zed` first' at a send @zed hi

# Verbose logs never carry the token either.
BCH_LOG=debug at a -v inbox >/dev/null 2>"$T/verbose" || true
! grep -q "$token" "$T/verbose" || fail "the token appeared in the logs"

# The brain down: a command fails with exit 3 after its retries; the hook stays quiet.
at a send @bob "waiting" >/dev/null
kill "$brain_pid"
wait "$brain_pid" 2>/dev/null || true
rc=0
bob inbox >/dev/null 2>"$T/err" || rc=$?
expect_eq "$rc" "3" "brain down: exit 3"
expect_match "$(cat "$T/err")" "^error: brain $BRAIN_URL unreachable after 3 attempts: " "brain down: message"
hook_err=$(bob drain --hook 2>&1 >/dev/null) || fail "drain --hook failed with the brain down"
expect_match "$hook_err" '^bch: inbox not checked: brain ' "hook warning"
