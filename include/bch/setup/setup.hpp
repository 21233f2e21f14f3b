#pragma once

// `bch setup` and the tail of `bch join` (SPEC section 10): wires the agent harnesses
// found in the home (Claude Code, Codex, Gemini CLI) to bch, and optionally installs the
// wake service that turns urgent messages into desktop notifications.
//
// Every step is idempotent (a second run changes no byte), keeps everything else in the
// files it edits, writes atomically, refuses to edit a file it cannot parse (the file
// stays untouched), and never writes outside the home, even through a symlink.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bch::setup {

// `bch setup --remote`: the harnesses reach the relay's /mcp endpoint over HTTP as this
// agent (SPEC 11, ours) instead of running `bch mcp`.
struct Remote {
  std::string url;                  // the endpoint: <relay URL>/mcp
  std::string token;                // the agent token, sent as "Authorization: Bearer …"
  std::optional<std::string> room;  // sent as X-Backchannel-Room; none: the relay's default room
};

// The headers every request to `remote` carries, in order.
std::vector<std::pair<std::string, std::string>> remote_headers(const Remote& remote);

struct Options {
  std::filesystem::path home;       // BACKCHANNEL_SETUP_HOME, else $HOME
  bool test_home = false;           // BACKCHANNEL_SETUP_HOME is set: never run systemctl/launchctl
  std::string bch;                  // absolute path of the bch binary the harnesses will run
  std::optional<std::string> path;  // PATH, where harness CLIs are looked for
  // BACKCHANNEL_HOME and BACKCHANNEL_AGENT, when set: the hook, the MCP servers and the
  // wake service carry them, so they read the same spool as the same agent.
  std::optional<std::string> backchannel_home;
  std::optional<std::string> agent;
  // CODEX_HOME, when set: where Codex keeps config.toml and AGENTS.md (else ~/.codex).
  std::optional<std::string> codex_home;
  bool harnesses = true;  // configure the harnesses (false: only the wake service, if asked)
  bool hooks = true;      // install the Claude Code prompt hook
  bool wake = false;      // install and start the wake service
  // Take out what setup adds instead (hook, skill, MCP entries, instruction sections,
  // wake service), leaving every other byte; entries setup did not write are left.
  bool undo = false;
  // Write nothing and run nothing: report a unified diff of every file that would change.
  bool dry_run = false;
  // Register the relay's /mcp endpoint instead of the stdio server. The files that then
  // hold the agent token are made readable by their owner only.
  std::optional<Remote> remote;
};

// Runs every step. Each action is reported as one line "[<harness>] <what was done>"; in a
// dry run, each file that would change is reported as a unified diff instead, then a
// summary line. A step that refuses (a file it cannot parse, a path leading outside the
// home) does not stop the others; its error message, naming the file, is returned.
std::vector<std::string> run(const Options& options,
                             const std::function<void(const std::string&)>& report);

// One thing setup wires, as found in the harness's file now (for `bch doctor`).
struct Wiring {
  std::string harness;                 // "claude", "codex", "gemini"
  std::string what;                    // "prompt hook", "MCP server"
  std::string file;                    // "~/.claude/settings.json"
  std::optional<std::string> program;  // the bch it runs; nothing when not wired
  std::optional<std::string> problem;  // the file could not be read
  // An MCP entry `setup --remote` wrote: the endpoint, and the token and room it sends.
  std::optional<std::string> url;
  std::optional<std::string> token;
  std::optional<std::string> room;
};

// What the harnesses found in the home (as `run` finds them) are wired to run: the
// Claude Code prompt hook and each MCP server entry (a stdio one's program, a remote
// one's endpoint). Harnesses not present are left out.
std::vector<Wiring> inspect(const Options& options);

// The etiquette skill installed for Claude Code: the repository's SKILL.md, built in.
std::string_view skill_text();

// The variables the harnesses' bch commands must carry: BACKCHANNEL_HOME and
// BACKCHANNEL_AGENT when set at setup time, in that order.
std::vector<std::pair<std::string, std::string>> environment(const Options& options);

// The Claude Code UserPromptSubmit hook command for the binary at `bch`, with `env`
// assigned before it.
std::string hook_command(const std::string& bch,
                         const std::vector<std::pair<std::string, std::string>>& env = {});

// The section added to Codex's AGENTS.md and Gemini's GEMINI.md.
std::string_view instructions_section();

// The systemd user unit (Linux) and launchd agent (macOS) of the wake service.
std::string systemd_unit(const Options& options);
std::string launchd_plist(const Options& options);

}  // namespace bch::setup
