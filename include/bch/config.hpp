#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace bch {

// The environment variables bch reads (SPEC section 8), captured once. config.cpp is
// the only file that calls getenv. Empty variables count as unset.
struct Environment {
  std::optional<std::string> home;           // BACKCHANNEL_HOME
  std::optional<std::string> agent;          // BACKCHANNEL_AGENT
  std::optional<std::string> url;            // BACKCHANNEL_URL
  std::optional<std::string> token;          // BACKCHANNEL_TOKEN
  std::optional<std::string> relay_room;     // BACKCHANNEL_RELAY_ROOM
  std::optional<std::string> default_relay;  // BACKCHANNEL_DEFAULT_RELAY
  std::optional<std::string> backend;        // BACKCHANNEL_BACKEND
  std::optional<std::string> brain_token;    // UNISON_TOKEN
  std::optional<std::string> brain_room;     // BACKCHANNEL_ROOM
  std::optional<std::string> brain_url;      // UNISON_API_URL
  std::optional<std::string> setup_home;     // BACKCHANNEL_SETUP_HOME
  std::optional<std::string> codex_home;     // CODEX_HOME
  std::optional<std::string> admin_token;    // BACKCHANNEL_ADMIN_TOKEN
  std::optional<std::string> log_level;      // BCH_LOG
  std::optional<std::string> user_home;      // HOME
  std::optional<std::string> path;           // PATH

  static Environment from_process();
};

// One relay room this home has joined: where, as whom, with which agent token.
struct Membership {
  std::string url;
  std::optional<std::string> room;  // none: the relay's default room
  std::string agent;
  std::string token;
};

// Whether two memberships are in the same room (same relay URL and room).
bool same_room(const Membership& a, const Membership& b);

// How a joined room is named on the command line and beside its messages: its room id,
// or "default" for a relay's own room.
std::string room_label(const std::optional<std::string>& room);

// config.json (SPEC section 4), as the TypeScript tool writes it. Unknown keys are kept
// in `raw` so a rewrite does not drop them. The top-level agent/url/token/room are the
// first joined room (the TypeScript tool reads those); `rooms` (ours) holds the others.
struct Config {
  std::optional<std::string> agent;
  std::optional<std::string> url;
  std::optional<std::string> token;
  std::optional<std::string> room;
  std::optional<std::string> backend;
  std::optional<std::string> brain_token;
  std::optional<std::string> brain_url;
  std::optional<std::string> brain_room;
  std::vector<Membership> rooms;  // joined rooms beyond the top-level one
  nlohmann::json raw = nlohmann::json::object();

  // The top-level identity as a joined room, if it is one (a relay URL, an agent token
  // and an agent).
  std::optional<Membership> primary() const;
  // Every joined room: the top-level one first, then `rooms`.
  std::vector<Membership> memberships() const;
};

// The bch home folder: BACKCHANNEL_HOME, else ~/.backchannel. Throws Error(usage) when
// neither it nor HOME is set.
std::filesystem::path resolve_home(const Environment& env);

// Reads <home>/config.json. A missing file is an empty Config; a file that is not a JSON
// object, or whose known keys are not strings, throws Error(protocol) naming the file.
Config load_config(const std::filesystem::path& home);

// Writes <home>/config.json atomically with mode 0600, creating the home (0700).
void save_config(const std::filesystem::path& home, const Config& config);

// Copies <home>/config.json, tokens and all, to <home>/backups/config-<UTC time>.json
// (0600) before an identity is replaced; returns the copy's path. Nothing when there is
// no config.json.
std::optional<std::filesystem::path> backup_config(const std::filesystem::path& home);

enum class Backend { local, relay, brain };

// Where this invocation's messages live, after environment-beats-config resolution.
struct Settings {
  std::filesystem::path home;
  std::optional<std::string> agent;  // identity: BACKCHANNEL_AGENT, else config agent
  Backend backend = Backend::local;
  std::optional<std::string> url;    // relay URL (relay backend)
  std::optional<std::string> token;  // relay token
  std::optional<std::string> room;   // relay room
  std::string brain_url;             // brain API base
  std::optional<std::string> brain_token;
  std::string brain_room;
};

// Applies SPEC section 5: BACKCHANNEL_BACKEND=brain or config backend "brain" → brain;
// else a relay URL from the environment or config → relay; else local.
Settings resolve_settings(const Environment& env,
                          const Config& config,
                          const std::filesystem::path& home);

// The settings for acting in one joined room (relay backend, its URL, token, room and
// agent); other fields as resolve_settings() gives them.
Settings settings_for(const Membership& room,
                      const Environment& env,
                      const std::filesystem::path& home);

// The joined room `selector` names: its label (a room id, or "default"), a prefix of a
// room id of at least 4 characters, or its relay URL; a selector that names several is
// refused unless one of them is matched exactly by label. Nothing when none matches.
// Throws Error(usage) when it is ambiguous, naming the candidates.
std::optional<Membership> find_membership(const std::vector<Membership>& rooms,
                                          std::string_view selector);

// The identity, or Error(usage) "no agent identity — run `bch init <name>` first (or set
// BACKCHANNEL_AGENT)".
const std::string& require_agent(const Settings& settings);

}  // namespace bch
