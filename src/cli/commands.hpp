#pragma once

#include <bch/config.hpp>
#include <bch/setup/setup.hpp>
#include <bch/spool/http_spool.hpp>
#include <bch/spool/spool.hpp>

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>

namespace bch::cli {

// State shared by every subcommand: the environment captured at start-up, and the
// configuration and spool, loaded on first use so that commands that need neither
// (help, --version) never touch the disk.
class Globals {
public:
  Environment env = Environment::from_process();
  int verbosity = 0;
  bool quick = false;  // short network timeouts: the caller must not block a prompt
  std::string room;    // --room: act in this joined room (see find_membership)

  const std::filesystem::path& home();
  Config& config();
  // The room this command acts in: --room, else BACKCHANNEL_RELAY_ROOM when it names a
  // joined room, else the top-level identity (environment beats config).
  const Settings& settings();
  spool::Spool& spool();
  // Every room a reader covers (drain --hook, watch, MCP): the selected one only when
  // --room, BACKCHANNEL_URL, BACKCHANNEL_RELAY_ROOM or BACKCHANNEL_BACKEND says which;
  // else each joined room, the top-level one first.
  std::vector<Settings> reading_rooms();
  // The identity, or the "no agent identity" usage error.
  const std::string& agent() { return require_agent(settings()); }
  // Forgets loaded config and settings (after `init` rewrote them).
  void reload();

private:
  std::optional<std::filesystem::path> m_home;
  std::optional<Config> m_config;
  std::optional<Settings> m_settings;
  std::unique_ptr<spool::Spool> m_spool;
};

// One add_<name>() per cmd_<name>.cpp: declares the subcommand, its flags, and the
// callback that runs it.
void add_init(CLI::App& app, Globals& globals);
void add_send(CLI::App& app, Globals& globals);
void add_inbox(CLI::App& app, Globals& globals);
void add_drain(CLI::App& app, Globals& globals);
void add_read(CLI::App& app, Globals& globals);
void add_watch(CLI::App& app, Globals& globals);
void add_sub(CLI::App& app, Globals& globals);
void add_unsub(CLI::App& app, Globals& globals);
void add_agents(CLI::App& app, Globals& globals);
void add_channels(CLI::App& app, Globals& globals);
void add_whoami(CLI::App& app, Globals& globals);
void add_room(CLI::App& app, Globals& globals);
void add_token(CLI::App& app, Globals& globals);
// This agent on its relay (url, agent token, room), for the routes outside the Spool
// calls; Error(usage) with `refusal` when the home is not on a relay.
spool::RelayEndpoint agent_relay(Globals& globals, const char* refusal);
void add_connector(CLI::App& app, Globals& globals);
void add_invite(CLI::App& app, Globals& globals);
void add_join(CLI::App& app, Globals& globals);
void add_rooms(CLI::App& app, Globals& globals);
void add_leave(CLI::App& app, Globals& globals);
void add_relay(CLI::App& app, Globals& globals);
void add_setup(CLI::App& app, Globals& globals);
void add_mcp(CLI::App& app, Globals& globals);
void add_completion(CLI::App& app, Globals& globals);
void add_doctor(CLI::App& app, Globals& globals);

// The absolute path of this binary (/proc/self/exe).
std::string own_path();

// Whether `program` lies in a build folder (a CMakeCache.txt up to 4 levels above it),
// which `make clean` or a rebuild would pull from under the hooks that run it.
bool in_build_folder(const std::string& program);

// "bch <version> (<commit>, <target>)", as --version prints it.
std::string version_line();

// How a teammate without bch gets it (ends an invite): the release's one-line install
// when this build names its release, else where the README says how.
std::string install_hint();

// What `bch setup` works with: the home it looks in, the bch the harnesses will run,
// the variables they must carry.
setup::Options harness_options(Globals& globals);

// `bch setup`'s work, also the tail of `bch join`: configures the harnesses found in
// the home (unless `harnesses` is false), the prompt hook with `hooks`, the wake service
// with `wake`; with `undo` takes out what setup adds instead; with `dry_run` prints the
// diffs instead of writing; with `remote`, the MCP entries reach that endpoint over HTTP.
// Throws the last refusal after printing any others.
void run_harness_setup(Globals& globals,
                       bool harnesses,
                       bool hooks,
                       bool wake,
                       bool undo = false,
                       bool dry_run = false,
                       const std::optional<setup::Remote>& remote = std::nullopt);

// Keeps `message` (a --match or --scope value) optional: CLI11 binds std::string.
std::optional<std::string> non_empty(const std::string& text);

}  // namespace bch::cli
