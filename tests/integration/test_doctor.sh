#!/usr/bin/env bash
# `bch doctor`: one line per check, the fix beside each failure, exit 1 on a failure.
source "$(dirname "$0")/lib.sh"

# An installed copy (a binary in a build folder is itself a finding).
mkdir -p "$T/installed"
cp "$BCH" "$T/installed/bch"
BCH=$T/installed/bch
export BACKCHANNEL_SETUP_HOME=$T/sh
mkdir -p "$T/sh/.claude"

# doctor_fails: runs doctor, which must exit 1 with nothing on stderr; its stdout in RUN_OUT.
doctor_fails() {
  local rc=0
  RUN_OUT=$("$BCH" doctor 2>"$T/doctor.err") || rc=$?
  expect_eq "$rc" "1" "doctor exits 1 on a failure"
  expect_eq "$(cat "$T/doctor.err")" "" "doctor says nothing on stderr"
}

doctor_fails
expect_eq "$RUN_OUT" "FAIL  identity: no agent identity — fix: bch init <name> (or bch join <invite> --as <name>)
FAIL  claude prompt hook: not set up in ~/.claude/settings.json — fix: bch setup
FAIL  claude MCP server: not set up in ~/.claude.json — fix: bch setup
ok    wake service: not installed (optional: bch setup --wake)" "a fresh home"

"$BCH" init alice >/dev/null
"$BCH" setup >/dev/null
expect_run 0 "ok    identity: \"alice\" ($BACKCHANNEL_HOME)
ok    backend: local spool as \"alice\": 0 unread
ok    permissions: $BACKCHANNEL_HOME is mode 700
ok    permissions: $BACKCHANNEL_HOME/config.json is mode 600
ok    claude prompt hook: ~/.claude/settings.json runs $BCH (this bch)
ok    claude MCP server: ~/.claude.json runs $BCH (this bch)
ok    wake service: not installed (optional: bch setup --wake)" "" "$BCH" doctor  # all well

# Findings: loose permissions, unreadable messages, another bch, a missing one.
chmod 644 "$BACKCHANNEL_HOME/config.json"
mkdir -p "$BACKCHANNEL_HOME/spool/alice/bad"
echo junk >"$BACKCHANNEL_HOME/spool/alice/bad/x.json"
printf '#!/bin/sh\necho "bch 0.0.1 (000000000000, x86_64-linux)"\n' >"$T/old-bch"
chmod +x "$T/old-bch"
jq --arg c "$T/old-bch" '.mcpServers.backchannel.command = $c' "$T/sh/.claude.json" >"$T/c.json" && mv "$T/c.json" "$T/sh/.claude.json"
jq '.hooks.UserPromptSubmit[0].hooks[0].command = "/gone/bch drain --hook --match \"$(git remote get-url origin 2>/dev/null || pwd)\""' \
  "$T/sh/.claude/settings.json" >"$T/s.json" && mv "$T/s.json" "$T/sh/.claude/settings.json"
doctor_fails
expect_match "$RUN_OUT" "warn  permissions: $BACKCHANNEL_HOME/config.json is mode 644: others can read it — fix: chmod 600 '$BACKCHANNEL_HOME/config.json'" \
  "loose permissions"
expect_match "$RUN_OUT" "warn  unreadable messages: 1 file\\(s\\) in $BACKCHANNEL_HOME/spool/alice/bad could not be read as messages" \
  "unreadable messages"
expect_match "$RUN_OUT" "FAIL  claude prompt hook: ~/.claude/settings.json runs /gone/bch, which does not exist — fix: bch setup" \
  "a hook whose binary is gone"
expect_match "$RUN_OUT" "warn  claude MCP server: ~/.claude.json runs $T/old-bch, which is bch 0.0.1 \\(000000000000, x86_64-linux\\) — fix: bch setup" \
  "an MCP entry running another version"

# Codex in CODEX_HOME is checked where it is.
mkdir -p "$T/codex"
CODEX_HOME=$T/codex "$BCH" setup >/dev/null
expect_match "$(CODEX_HOME=$T/codex "$BCH" doctor)" "ok    codex MCP server: $T/codex/config.toml runs $BCH \(this bch\)" \
  "doctor reads CODEX_HOME"

# A relay that cannot be reached, and --json.
"$BCH" setup >/dev/null
chmod 600 "$BACKCHANNEL_HOME/config.json"
rm -r "$BACKCHANNEL_HOME/spool/alice/bad"
rc=0
BACKCHANNEL_URL=http://127.0.0.1:1 "$BCH" doctor --json >"$T/doctor.json" || rc=$?
expect_eq "$rc" "1" "doctor exits 1 on a failure"
expect_eq "$(jq -c '[.[] | select(.status != "ok") | {check, status, detail}]' "$T/doctor.json")" \
  '[{"check":"backend","status":"FAIL","detail":"http://127.0.0.1:1: relay http://127.0.0.1:1 unreachable: connection refused or timed out"}]' \
  "the unreachable relay, as JSON"
expect_eq "$(jq -r '.[] | select(.check == "backend") | .fix' "$T/doctor.json")" \
  "check that the relay is up and reachable from here" "with its fix"
echo "ok"
