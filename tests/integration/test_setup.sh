#!/usr/bin/env bash
# `bch setup` and the tail of `bch join` through the real binary: a home with all three
# harnesses, detection through PATH, a refused file (exit 1, untouched, the rest done),
# byte-for-byte idempotence, and `join` against a relay ending with hooks installed.
source "$(dirname "$0")/lib.sh"

bch_abs=$(readlink -f "$BCH")
export BACKCHANNEL_SETUP_HOME=$T/sh
mkdir -p "$T/sh/.claude" "$T/sh/.gemini"
printf '{\n  "hooks": {\n    "Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]\n  }\n}\n' \
  >"$T/sh/.claude/settings.json"

# Codex is found through its CLI on PATH (no ~/.codex yet).
mkdir -p "$T/bin"
printf '#!/bin/sh\nexit 0\n' >"$T/bin/codex"
chmod +x "$T/bin/codex"

out=$(PATH="$T/bin:$PATH" "$BCH" setup)
expect_eq "$out" "[claude] added the UserPromptSubmit hook to ~/.claude/settings.json
[claude] installed the backchannel skill in ~/.claude/skills/backchannel/SKILL.md
[claude] registered the MCP server in ~/.claude.json
[codex] registered the MCP server in ~/.codex/config.toml
[codex] added the messaging section to ~/.codex/AGENTS.md
[gemini] registered the MCP server in ~/.gemini/settings.json
[gemini] added the messaging section to ~/.gemini/GEMINI.md" "setup output"

hook=$(jq -r '.hooks.UserPromptSubmit[0].hooks[0].command' "$T/sh/.claude/settings.json")
expect_eq "$hook" "$bch_abs drain --hook --match \"\$(git remote get-url origin 2>/dev/null || pwd)\"" "hook command"
expect_eq "$(jq -r '.hooks.Stop[0].hooks[0].command' "$T/sh/.claude/settings.json")" "say done" "other hooks kept"
expect_eq "$(jq -c '.mcpServers.backchannel' "$T/sh/.claude.json")" \
  "{\"type\":\"stdio\",\"command\":\"$bch_abs\",\"args\":[\"mcp\"]}" "claude MCP entry"
expect_eq "$(jq -c '.mcpServers.backchannel' "$T/sh/.gemini/settings.json")" \
  "{\"command\":\"$bch_abs\",\"args\":[\"mcp\"]}" "gemini MCP entry"
expect_eq "$(cat "$T/sh/.codex/config.toml")" "[mcp_servers.backchannel]
command = \"$bch_abs\"
args = [\"mcp\"]" "codex config"
cmp -s "$T/sh/.claude/skills/backchannel/SKILL.md" "$(dirname "$0")/../../SKILL.md" ||
  fail "the installed skill is not the repository's SKILL.md"

# The hook itself works: run it the way Claude Code does, in a git-less folder.
BACKCHANNEL_AGENT=alice "$BCH" init alice >/dev/null
as bob init bob >/dev/null
as bob send @alice "via the hook" >/dev/null
hook_out=$(cd "$T" && BACKCHANNEL_AGENT=alice sh -c "$hook")
expect_match "$hook_out" '^\[backchannel\] 1 message\(s\) for alice:' "the installed hook drains"

# Second run: no byte changes.
before=$(cd "$T/sh" && find . -type f -exec md5sum {} + | sort)
PATH="$T/bin:$PATH" "$BCH" setup >/dev/null
after=$(cd "$T/sh" && find . -type f -exec md5sum {} + | sort)
expect_eq "$after" "$before" "second setup run changes nothing"

# A file that is not JSON: exit 1, one error naming it, file untouched, the rest done.
rm -rf "$T/sh"
mkdir -p "$T/sh/.claude"
printf '{ "model": "opus", }\n' >"$T/sh/.claude/settings.json"
rc=0
out=$("$BCH" setup 2>"$T/err") || rc=$?
expect_eq "$rc" "1" "exit code of a refused setup"
expect_eq "$(cat "$T/err")" 'error: cannot edit ~/.claude/settings.json: not valid JSON (line 1) — fix it, then run `bch setup` again' "refusal message"
expect_eq "$(cat "$T/sh/.claude/settings.json")" '{ "model": "opus", }' "refused file untouched"
expect_eq "$out" "[claude] installed the backchannel skill in ~/.claude/skills/backchannel/SKILL.md
[claude] registered the MCP server in ~/.claude.json" "the other steps ran"

# Nothing detected.
rm -rf "$T/sh" && mkdir -p "$T/sh"
expect_run 0 "[none] no known harness detected — see docs/integrations/generic.md" "" "$BCH" setup  # no harness
expect_fail 2 "error: home folder $T/nohome does not exist" env BACKCHANNEL_SETUP_HOME="$T/nohome" "$BCH" setup

# --wake writes the unit and, with BACKCHANNEL_SETUP_HOME set, never calls systemctl.
mkdir -p "$T/fakebin"
printf '#!/bin/sh\necho called >>"%s/systemctl.log"\n' "$T" >"$T/fakebin/systemctl"
chmod +x "$T/fakebin/systemctl"
out=$(PATH="$T/fakebin:$PATH" "$BCH" setup --wake)
expect_match "$out" 'installed ~/.config/systemd/user/backchannel-wake.service' "wake unit installed"
grep -qx "ExecStart=\"$bch_abs\" watch --urgent-only --notify" "$T/sh/.config/systemd/user/backchannel-wake.service" ||
  fail "unit ExecStart: $(cat "$T/sh/.config/systemd/user/backchannel-wake.service")"
grep -qx "Environment=\"BACKCHANNEL_HOME=$BACKCHANNEL_HOME\"" "$T/sh/.config/systemd/user/backchannel-wake.service" ||
  fail "unit does not carry BACKCHANNEL_HOME"
[ ! -e "$T/systemctl.log" ] || fail "systemctl was called with BACKCHANNEL_SETUP_HOME set"

# join ends with the harness set-up (into the real HOME when no BACKCHANNEL_SETUP_HOME).
unset BACKCHANNEL_SETUP_HOME
start_relay --token room-secret
invite=$("$BCH" invite --url "$RELAY_URL" --token room-secret | awk '/bch join/ {print $3}')
mkdir -p "$HOME/.claude"
out=$(at j join "$invite" --as judy)
expect_match "$out" '\[claude\] added the UserPromptSubmit hook to ~/.claude/settings.json' "join installs the hook"
expect_eq "$(jq -r '.hooks.UserPromptSubmit | length' "$HOME/.claude/settings.json")" "1" "one hook after join"
out=$(at k join "$invite" --as kim --no-hooks)
expect_eq "$(grep -c '^\[' <<<"$out" || true)" "0" "--no-hooks skips the harness set-up"
