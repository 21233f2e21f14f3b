#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/error.hpp>
#include <bch/setup/setup.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

namespace bch::cli {
namespace {

struct SetupOptions {
  bool no_hooks = false;
  bool wake = false;
};

// The absolute path of this binary: what the hooks, MCP registrations and the wake
// service will run.
std::string own_path() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    throw Error(ErrorKind::io, "cannot find the path of the bch binary (/proc/self/exe)");
  }
  return path.string();
}

}  // namespace

void run_harness_setup(Globals& g, bool harnesses, bool hooks, bool wake) {
  setup::Options options;
  auto home = g.env.setup_home ? g.env.setup_home : g.env.user_home;
  if (!home) {
    throw Error(ErrorKind::usage, "HOME is not set — cannot find the agent harnesses");
  }
  options.home = *home;
  options.test_home = g.env.setup_home.has_value();
  options.bch = own_path();
  options.path = g.env.path;
  options.backchannel_home = g.env.home;
  options.harnesses = harnesses;
  options.hooks = hooks;
  options.wake = wake;
  auto errors = setup::run(options, [](const std::string& line) { print(line + "\n"); });
  if (errors.empty()) {
    return;
  }
  for (std::size_t i = 0; i + 1 < errors.size(); ++i) {
    (void)std::fprintf(stderr, "error: %s\n", errors[i].c_str());
  }
  throw Error(ErrorKind::protocol, errors.back());
}

void add_setup(CLI::App& app, Globals& g) {
  auto o = std::make_shared<SetupOptions>();
  auto* cmd = app.add_subcommand(
      "setup", "connect the agent harnesses found here (Claude Code, Codex, Gemini CLI) to bch");
  cmd->add_flag("--no-hooks", o->no_hooks, "do not install the Claude Code prompt hook");
  cmd->add_flag("--wake", o->wake, "also install the urgent-message desktop notifier service");
  cmd->callback([o, &g] { run_harness_setup(g, true, !o->no_hooks, o->wake); });
}

}  // namespace bch::cli
