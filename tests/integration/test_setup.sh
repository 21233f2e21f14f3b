#!/usr/bin/env bash
# `bch setup` and the tail of `bch join` through the real binary: a home with all three
# harnesses, detection through PATH, a refused file (exit 1, untouched, the rest done),
# byte-for-byte idempotence, and `join` against a relay ending with hooks installed.
source "$(dirname "$0")/lib.sh"

# An installed copy: setup warns about a binary in a build folder (tested below).
build_bch=$BCH
mkdir -p "$T/installed"
cp "$BCH" "$T/installed/bch"
BCH=$T/installed/bch
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
# This home is not ~/.backchannel: every command setup writes carries it.
expect_eq "$hook" "BACKCHANNEL_HOME=$BACKCHANNEL_HOME $bch_abs drain --hook --match \"\$(git remote get-url origin 2>/dev/null || pwd)\"" "hook command"
expect_eq "$(jq -r '.hooks.Stop[0].hooks[0].command' "$T/sh/.claude/settings.json")" "say done" "other hooks kept"
expect_eq "$(jq -c '.mcpServers.backchannel' "$T/sh/.claude.json")" \
  "{\"type\":\"stdio\",\"command\":\"$bch_abs\",\"args\":[\"mcp\"],\"env\":{\"BACKCHANNEL_HOME\":\"$BACKCHANNEL_HOME\"}}" "claude MCP entry"
expect_eq "$(jq -c '.mcpServers.backchannel' "$T/sh/.gemini/settings.json")" \
  "{\"command\":\"$bch_abs\",\"args\":[\"mcp\"],\"env\":{\"BACKCHANNEL_HOME\":\"$BACKCHANNEL_HOME\"}}" "gemini MCP entry"
expect_eq "$(cat "$T/sh/.codex/config.toml")" "[mcp_servers.backchannel]
command = \"$bch_abs\"
args = [\"mcp\"]
env = { BACKCHANNEL_HOME = \"$BACKCHANNEL_HOME\" }" "codex config"
cmp -s "$T/sh/.claude/skills/backchannel/SKILL.md" "$(dirname "$0")/../../SKILL.md" ||
  fail "the installed skill is not the repository's SKILL.md"

# The hook itself works: run it the way Claude Code does, in a git-less folder.
BACKCHANNEL_AGENT=alice "$BCH" init alice >/dev/null
as bob init bob >/dev/null
as bob send @alice "via the hook" >/dev/null
# The harness runs it without our environment: the hook must find the home by itself.
hook_out=$(cd "$T" && env -u BACKCHANNEL_HOME BACKCHANNEL_AGENT=alice sh -c "$hook")
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

# The default home (~/.backchannel) needs no variable; an agent set for the session is
# carried; a hook setup wrote for another binary or home is brought up to date, one
# written by hand is left alone.
export BACKCHANNEL_SETUP_HOME=$T/sh
rm -rf "$T/sh" && mkdir -p "$T/sh/.claude"
tail_cmd=' drain --hook --match "$(git remote get-url origin 2>/dev/null || pwd)"'
jq -n --arg c "/old/build/bch$tail_cmd" '{hooks: {UserPromptSubmit: [{hooks: [{type: "command", command: $c}]}]}}' \
  >"$T/sh/.claude/settings.json"
out=$(BACKCHANNEL_HOME=$HOME/.backchannel BACKCHANNEL_AGENT=alice "$BCH" setup)
expect_match "$out" '^\[claude\] updated the UserPromptSubmit hook in ~/.claude/settings.json' "an old hook is updated"
expect_eq "$(jq -r '.hooks.UserPromptSubmit | length' "$T/sh/.claude/settings.json")" "1" "not added twice"
expect_eq "$(jq -r '.hooks.UserPromptSubmit[0].hooks[0].command' "$T/sh/.claude/settings.json")" \
  "BACKCHANNEL_AGENT=alice $bch_abs$tail_cmd" "default home: no BACKCHANNEL_HOME; the agent is carried"
expect_eq "$(jq -c '.mcpServers.backchannel.env' "$T/sh/.claude.json")" '{"BACKCHANNEL_AGENT":"alice"}' \
  "the MCP entry carries the agent"
jq -n '{hooks: {UserPromptSubmit: [{hooks: [{type: "command", command: "my-wrapper bch drain --hook"}]}]}}' \
  >"$T/sh/.claude/settings.json"
expect_match "$("$BCH" setup)" '^\[claude\] prompt hook already in ~/.claude/settings.json' "a hand-written hook is the user's"
expect_eq "$(jq -r '.hooks.UserPromptSubmit[0].hooks[0].command' "$T/sh/.claude/settings.json")" \
  "my-wrapper bch drain --hook" "and stays as written"

# CODEX_HOME: inside the home and elsewhere; AGENTS.override.md (which Codex reads
# instead of AGENTS.md) gets the section too.
rm -rf "$T/sh" && mkdir -p "$T/sh/codexhome" "$T/elsewhere/codex"
printf '# my overrides\n' >"$T/sh/codexhome/AGENTS.override.md"
out=$(CODEX_HOME=$T/sh/codexhome "$BCH" setup)
expect_eq "$out" "[codex] registered the MCP server in ~/codexhome/config.toml
[codex] added the messaging section to ~/codexhome/AGENTS.md
[codex] added the messaging section to ~/codexhome/AGENTS.override.md" "CODEX_HOME inside the home"
expect_match "$(cat "$T/sh/codexhome/AGENTS.override.md")" "^# my overrides

## Backchannel: messages from other agents" "the override file keeps its text and gains the section"
[ ! -e "$T/sh/.codex" ] || fail "setup wrote ~/.codex although CODEX_HOME is set"
out=$(CODEX_HOME=$T/elsewhere/codex "$BCH" setup)
expect_eq "$out" "[codex] registered the MCP server in $T/elsewhere/codex/config.toml
[codex] added the messaging section to $T/elsewhere/codex/AGENTS.md" "CODEX_HOME outside the home"

# The hooks name a stable path: a bch on PATH that is this binary (as found, a link
# included); a binary in a build folder is named with a warning.
rm -rf "$T/sh" && mkdir -p "$T/sh/.claude" "$T/links"
ln -s "$T/installed/bch" "$T/links/bch"
PATH="$T/links:$PATH" "$T/installed/bch" setup >/dev/null
expect_match "$(jq -r '.hooks.UserPromptSubmit[0].hooks[0].command' "$T/sh/.claude/settings.json")" \
  "^BACKCHANNEL_HOME=[^ ]+ $T/links/bch drain --hook" "the hook names the bch on PATH, as found"
if [ -e "$(dirname "$build_bch")/../CMakeCache.txt" ] || [ -e "$(dirname "$build_bch")/../../CMakeCache.txt" ]; then
  rm -rf "$T/sh" && mkdir -p "$T/sh/.claude"
  "$build_bch" setup >/dev/null 2>"$T/err"
  expect_eq "$(cat "$T/err")" "warning: $build_bch is in a build folder: the hooks would break at the next \`make clean\` — install bch (\`make install\`) and run \`bch setup\` again" \
    "a build folder binary is warned about"
fi
echo "ok"
