#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/error.hpp>
#include <bch/setup/setup.hpp>
#include <bch/shell.hpp>
#include <bch/spool/http_spool.hpp>
#include <bch/util/log.hpp>
#include <bch/util/platform.hpp>
#include <bch/util/text.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <optional>

namespace bch::cli {

std::string own_path() {
  auto path = util::executable_path();
  if (!path) {
    throw Error(ErrorKind::io, "cannot find the path of the bch binary");
  }
  return *path;
}

namespace {

struct SetupOptions {
  bool no_hooks = false;
  bool wake = false;
  bool undo = false;
  bool dry_run = false;
  bool remote = false;
};

// What the harnesses should run: this binary under a name that survives rebuilds and
// upgrades. The first `bch` on PATH that is this binary (an installed copy, or a link
// such as ~/.local/bin/bch) is named as it is found, not resolved; else this binary's own
// path.
std::string stable_path(const std::string& own, const std::optional<std::string>& path) {
  namespace fs = std::filesystem;
  const std::string dirs = path.value_or("");
  std::string_view rest = dirs;
  while (!rest.empty()) {
    auto colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? "" : rest.substr(colon + 1);
    if (dir.empty() || dir.front() != '/') {
      continue;  // a relative PATH entry names nothing stable
    }
    std::error_code ec;
    fs::path candidate = fs::path(std::string(dir)) / "bch";
    if (fs::equivalent(candidate, own, ec) && !ec) {
      return candidate.string();
    }
  }
  return own;
}

}  // namespace

bool in_build_folder(const std::string& program) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::path(program).parent_path();
  for (int up = 0; up < 4 && !dir.empty() && dir != dir.root_path();
       ++up, dir = dir.parent_path()) {
    if (fs::exists(dir / "CMakeCache.txt", ec)) {
      return true;
    }
  }
  return false;
}

setup::Options harness_options(Globals& g) {
  setup::Options options;
  auto home = g.env.setup_home ? g.env.setup_home : g.env.user_home;
  if (!home) {
    throw Error(ErrorKind::usage, "HOME is not set — cannot find the agent harnesses");
  }
  options.home = *home;
  options.test_home = g.env.setup_home.has_value();
  options.bch = stable_path(own_path(), g.env.path);
  options.path = g.env.path;
  // The default home needs no variable; any other must travel with the commands.
  bool default_home =
      g.env.home && g.env.user_home
      && std::filesystem::path(*g.env.home).lexically_normal()
             == (std::filesystem::path(*g.env.user_home) / ".backchannel").lexically_normal();
  options.backchannel_home = default_home ? std::nullopt : g.env.home;
  options.agent = g.env.agent;
  options.codex_home = g.env.codex_home;
  return options;
}

void run_harness_setup(Globals& g,
                       bool harnesses,
                       bool hooks,
                       bool wake,
                       bool undo,
                       bool dry_run,
                       const std::optional<setup::Remote>& remote) {
  setup::Options options = harness_options(g);
  // Only what runs this binary breaks with it: the hook, the stdio server, the wake service.
  bool runs_bch = harnesses && (hooks || !remote);
  if (!undo && (runs_bch || wake) && in_build_folder(options.bch)) {
    util::warn(
        fmt::format("{} is in a build folder: the hooks would break at the next `make "
                    "clean` — install bch (`make install`) and run `bch setup` again",
                    options.bch));
  }
  options.harnesses = harnesses;
  options.hooks = hooks;
  options.wake = wake;
  options.undo = undo;
  options.dry_run = dry_run;
  options.remote = remote;
  auto errors = setup::run(options, [](const std::string& line) { print(line + "\n"); });
  if (errors.empty()) {
    return;
  }
  for (std::size_t i = 0; i + 1 < errors.size(); ++i) {
    (void)std::fprintf(stderr, "error: %s\n", errors[i].c_str());
  }
  throw Error(ErrorKind::protocol, errors.back());
}

namespace {

// `setup --remote`: this agent's /mcp endpoint on its relay, in the room it acts in.
setup::Remote remote_endpoint(Globals& g) {
  auto endpoint = agent_relay(g,
                              "setup --remote registers a relay's /mcp endpoint and this home is "
                              "not on a relay (`bch join` one first)");
  return {spool::mcp_url(endpoint.url), endpoint.token.value_or(""), endpoint.room};
}

// For the MCP clients setup does not write: the endpoint, its headers, and Claude Code's
// command line for another machine.
void print_remote(const setup::Remote& remote) {
  std::string headers;
  std::string flags;
  for (const auto& [name, value] : setup::remote_headers(remote)) {
    headers += fmt::format("{}\"{}: {}\"", headers.empty() ? "" : " and ", name, value);
    flags += " --header ";
    flags += shell_word(fmt::format("{}: {}", name, value));
  }
  print(fmt::format(
      "[remote] other MCP clients: Streamable HTTP at {} with the headers {}\n"
      "[remote] Claude Code on another machine: claude mcp add --scope user --transport http "
      "backchannel {}{}\n"
      "[remote] apps that cannot send headers (claude.ai, ChatGPT): `bch connector new` makes "
      "a URL to paste\n",
      util::sanitize(remote.url, false),
      util::sanitize(headers, false),
      util::sanitize(shell_word(remote.url), false),
      util::sanitize(flags, false)));
}

}  // namespace

void add_setup(CLI::App& app, Globals& g) {
  auto o = std::make_shared<SetupOptions>();
  auto* cmd = app.add_subcommand(
      "setup", "connect the agent harnesses found here (Claude Code, Codex, Gemini CLI) to bch");
  cmd->add_flag("--no-hooks", o->no_hooks, "do not install the Claude Code prompt hook");
  cmd->add_flag("--wake", o->wake, "also install the urgent-message desktop notifier service");
  cmd->add_flag("--undo",
                o->undo,
                "take out what setup added (hook, skill, MCP entries, instructions, wake "
                "service), nothing else");
  cmd->add_flag(
      "--dry-run", o->dry_run, "write nothing: print the diff of each file it would change");
  cmd->add_flag("--remote",
                o->remote,
                "register the relay's /mcp endpoint (MCP over HTTP, as this agent) instead of "
                "`bch mcp`, and print it for other clients");
  cmd->callback([o, &g] {
    if (o->undo) {
      std::string extra;
      for (auto [given, flag] : {std::pair{o->wake, "--wake"},
                                 std::pair{o->no_hooks, "--no-hooks"},
                                 std::pair{o->remote, "--remote"}}) {
        if (given) {
          extra += (extra.empty() ? "" : " and ") + std::string(flag);
        }
      }
      if (!extra.empty()) {
        throw Error(ErrorKind::usage, "--undo takes out everything setup added: drop " + extra);
      }
    }
    std::optional<setup::Remote> remote;
    if (o->remote) {
      remote = remote_endpoint(g);
      spool::warn_if_clear(remote->url);
    }
    run_harness_setup(g, true, !o->no_hooks, o->wake, o->undo, o->dry_run, remote);
    if (remote) {
      print_remote(*remote);
    }
  });
}

}  // namespace bch::cli
