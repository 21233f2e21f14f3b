#!/usr/bin/env bash
# `bch setup --dry-run` shows, as a diff that `patch` applies, exactly what setup would
# write, and writes nothing; `bch setup --undo` takes out exactly what setup added: the
# user's files come back byte for byte, files setup created go, and what setup did not
# write (a hand-written hook, another program's MCP entry, a table with the user's keys)
# stays, with a word.
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/installed"
cp "$BCH" "$T/installed/bch"
BCH=$T/installed/bch
export BACKCHANNEL_SETUP_HOME=$T/sh
as alice init alice >/dev/null

# A home as a user has it: compact arrays, comments, other tables, their own texts.
mkdir -p "$T/sh/.claude" "$T/sh/.codex" "$T/sh/.gemini"
printf '{\n  "theme": "dark",\n  "numbers": [1,2,3],\n  "hooks": {\n    "Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]\n  }\n}\n' \
  >"$T/sh/.claude/settings.json"
printf '{"projects": {"/src/a": {"allowedTools": []}}, "big": 123456789012345678901234567890}\n' \
  >"$T/sh/.claude.json"
printf '# my codex\nmodel = "o3"\n\n[mcp_servers.other]\ncommand = "other"\n' >"$T/sh/.codex/config.toml"
printf '# Mine\n\nBe terse.\n' >"$T/sh/.codex/AGENTS.md"
printf '{\n  // the theme\n  "ui": {"theme": "x"}, /* tail */\n  "n": 1E2\n}\n' >"$T/sh/.gemini/settings.json"
cp -a "$T/sh" "$T/before"

# --dry-run: a diff of every file, nothing written; the diff is what setup then writes.
dry=$("$BCH" setup --dry-run 2>/dev/null)
diff -r "$T/before" "$T/sh" >/dev/null || fail "setup --dry-run changed the home"
expect_eq "$(tail -n1 <<<"$dry")" "dry run: 7 files would change; nothing was written" "dry run summary"
expect_eq "$(grep -E '^(---|\+\+\+) ' <<<"$dry" | paste -sd' ')" \
  "--- ~/.claude/settings.json +++ ~/.claude/settings.json --- /dev/null +++ ~/.claude/skills/backchannel/SKILL.md --- ~/.claude.json +++ ~/.claude.json --- ~/.codex/config.toml +++ ~/.codex/config.toml --- ~/.codex/AGENTS.md +++ ~/.codex/AGENTS.md --- ~/.gemini/settings.json +++ ~/.gemini/settings.json --- /dev/null +++ ~/.gemini/GEMINI.md" \
  "the dry run names each file it would change, and new ones as such"
cp -a "$T/before" "$T/patched"
sed '$d' <<<"$dry" | sed -E 's#^(---|[+]{3}) ~/#\1 #' | (cd "$T/patched" && patch -s -p0 --no-backup-if-mismatch) ||
  fail "patch does not apply the dry run's diff"
"$BCH" setup >/dev/null 2>&1
diff -r "$T/patched" "$T/sh" || fail "the dry run's diff is not what setup wrote"
expect_eq "$("$BCH" setup --dry-run 2>/dev/null)" "dry run: nothing would change" "a dry run after setup"

# --undo --dry-run shows the removal; --undo does it, and the home is as it was.
undo_dry=$("$BCH" setup --undo --dry-run)
expect_eq "$(tail -n1 <<<"$undo_dry")" "dry run: 7 files would change; nothing was written" "undo dry run"
diff -r "$T/patched" "$T/sh" >/dev/null || fail "setup --undo --dry-run changed the home"
expect_match "$undo_dry" $'\n-      "command": "/' "the undo dry run shows the hook going"
out=$("$BCH" setup --undo)
expect_eq "$out" "[claude] removed the prompt hook from ~/.claude/settings.json
[claude] removed the backchannel skill ~/.claude/skills/backchannel/SKILL.md
[claude] removed the MCP server from ~/.claude.json
[codex] removed the MCP server from ~/.codex/config.toml
[codex] removed the messaging section from ~/.codex/AGENTS.md
[gemini] removed the MCP server from ~/.gemini/settings.json
[gemini] removed ~/.gemini/GEMINI.md (it held only the messaging section)" "undo says what it took out"
diff -r "$T/before" "$T/sh" || fail "setup then undo did not give back the home byte for byte"
expect_eq "$("$BCH" setup --undo)" "[none] nothing to undo: no hook, skill, MCP entry, section or wake service of bch's setup was found" \
  "a second undo finds nothing"

# Files setup created (settings.json, .claude.json absent before) are removed whole.
rm -rf "$T/sh"
mkdir -p "$T/sh/.claude"
"$BCH" setup >/dev/null 2>&1
[ -s "$T/sh/.claude/settings.json" ] && [ -s "$T/sh/.claude.json" ] || fail "setup wrote no settings"
"$BCH" setup --undo >/dev/null
expect_eq "$(cd "$T/sh" && find . | sort | paste -sd' ')" ". ./.claude" "files setup created are gone"

# What setup did not write stays: a hand-written hook, a user's hook sharing our entry,
# another program's MCP entry, a Codex table with the user's own keys, an edited skill.
rm -rf "$T/sh"
mkdir -p "$T/sh/.claude" "$T/sh/.codex"
"$BCH" setup >/dev/null 2>&1
jq '.hooks.UserPromptSubmit[0].hooks += [{"type": "command", "command": "echo mine"}]
    | .hooks.UserPromptSubmit += [{"hooks": [{"type": "command", "command": "bch drain --hook"}]}]' \
  "$T/sh/.claude/settings.json" >"$T/s.json"
mv "$T/s.json" "$T/sh/.claude/settings.json"
jq '.mcpServers.backchannel = {"command": "backchannel", "args": ["serve"]}' "$T/sh/.claude.json" >"$T/c.json"
mv "$T/c.json" "$T/sh/.claude.json"
printf 'startup_timeout_sec = 30\n' >>"$T/sh/.codex/config.toml"
echo "my notes" >>"$T/sh/.claude/skills/backchannel/SKILL.md"
out=$("$BCH" setup --undo)
expect_eq "$out" "[claude] removed the prompt hook from ~/.claude/settings.json
[claude] left ~/.claude/skills/backchannel/SKILL.md: it is not the skill this bch installs (edited, or from another version) — remove it yourself if it should go
[claude] left mcpServers.backchannel in ~/.claude.json: it does not run \`bch mcp\` or reach a relay's /mcp
[codex] left [mcp_servers.backchannel] in ~/.codex/config.toml: it holds more than setup writes
[codex] removed ~/.codex/AGENTS.md (it held only the messaging section)" "undo leaves what it did not write"
expect_eq "$(jq -c .hooks.UserPromptSubmit "$T/sh/.claude/settings.json")" \
  '[{"hooks":[{"type":"command","command":"echo mine"}]},{"hooks":[{"type":"command","command":"bch drain --hook"}]}]' \
  "only setup's hook went; the user's hooks stay"
grep -q '^startup_timeout_sec = 30$' "$T/sh/.codex/config.toml" || fail "the Codex table was touched"

# A read-only file is refused (exit 1, untouched) and the other steps are still done.
rm -rf "$T/sh"
mkdir -p "$T/sh/.claude" "$T/sh/.gemini"
"$BCH" setup >/dev/null 2>&1
chmod 0444 "$T/sh/.claude.json"
cp "$T/sh/.claude.json" "$T/ro.json"
rc=0
out=$("$BCH" setup --undo 2>"$T/err") || rc=$?
expect_eq "$rc" 1 "undo with a read-only file exits 1"
expect_eq "$(cat "$T/err")" "error: cannot edit ~/.claude.json: it is read-only (mode 0444) — not touching it" "and says which"
cmp -s "$T/ro.json" "$T/sh/.claude.json" || fail "the read-only file changed"
expect_contains "$out" "[gemini] removed the MCP server from ~/.gemini/settings.json" "the other steps are done"

# The wake service goes too (never through systemctl with BACKCHANNEL_SETUP_HOME set).
rm -rf "$T/sh"
mkdir -p "$T/sh"
"$BCH" setup --wake >/dev/null 2>&1
[ -f "$T/sh/.config/systemd/user/backchannel-wake.service" ] || fail "no wake unit"
expect_eq "$("$BCH" setup --undo --dry-run | grep -c '^+++ /dev/null$')" 1 "the undo dry run shows the unit going"
expect_eq "$("$BCH" setup --undo)" "[none] no known harness detected — see docs/integrations/generic.md
[wake] not stopped (BACKCHANNEL_SETUP_HOME is set) and removed ~/.config/systemd/user/backchannel-wake.service" \
  "undo removes the wake unit"
[ ! -e "$T/sh/.config/systemd/user/backchannel-wake.service" ] || fail "the wake unit is still there"

expect_fail 2 "error: --undo takes out everything setup added: drop --wake" "$BCH" setup --undo --wake
expect_fail 2 "error: --undo takes out everything setup added: drop --no-hooks and --remote" "$BCH" setup --undo --remote --no-hooks
