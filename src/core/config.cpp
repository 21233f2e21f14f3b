#include <bch/address.hpp>
#include <bch/config.hpp>
#include <bch/error.hpp>
#include <bch/message.hpp>
#include <bch/protocol/relay_api.hpp>
#include <bch/util/atomic_file.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/json.hpp>

#include <fmt/format.h>

#include <cstdlib>

namespace bch {
namespace {

namespace fs = std::filesystem;

constexpr const char* k_default_brain_url = "https://brain.unisonlabs.ai";

// More joined rooms than anyone works in: a bound on what a config file can make us do.
constexpr std::size_t k_max_rooms = 256;

std::optional<std::string> env_var(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    return std::nullopt;
  }
  return std::string(value);
}

// The config keys, in the order the TypeScript tool writes them.
struct Key {
  const char* name;
  std::optional<std::string> Config::*field;
};
constexpr Key k_keys[] = {
    {"agent", &Config::agent},
    {"url", &Config::url},
    {"token", &Config::token},
    {"room", &Config::room},
    {"backend", &Config::backend},
    {"brainToken", &Config::brain_token},
    {"brainUrl", &Config::brain_url},
    {"brainRoom", &Config::brain_room},
};

// config.json's "rooms": an array of {url, room?, agent, token}, each checked as an
// invite's fields are (a URL, a room id, an agent name) before anything uses them.
std::vector<Membership> parse_rooms(const nlohmann::json& json, const fs::path& path) {
  auto bad = [&](std::string_view what) {
    return Error(
        ErrorKind::protocol,
        fmt::format("cannot read '{}': \"rooms\" {} — fix or remove it", path.string(), what));
  };
  if (!json.is_array()) {
    throw bad("is not an array");
  }
  if (json.size() > k_max_rooms) {
    throw bad(fmt::format("has more than {} entries", k_max_rooms));
  }
  std::vector<Membership> out;
  for (const auto& entry : json) {
    auto text = [&](const char* key) -> std::optional<std::string> {
      auto it = entry.find(key);
      if (it == entry.end() || it->is_null()) {
        return std::nullopt;
      }
      if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
        throw bad(fmt::format("has an entry whose \"{}\" is not a string", key));
      }
      return it->get<std::string>();
    };
    if (!entry.is_object()) {
      throw bad("has an entry that is not an object");
    }
    Membership m;
    auto url = text("url");
    auto agent = text("agent");
    auto token = text("token");
    if (!url || !agent || !token) {
      throw bad("has an entry without url, agent and token");
    }
    m.url = *url;
    m.agent = *agent;
    m.token = *token;
    m.room = text("room");
    if (!is_valid_agent_name(m.agent) || (m.room && !protocol::is_valid_room_id(*m.room))
        || !(m.url.starts_with("http://") || m.url.starts_with("https://"))) {
      throw bad("has an entry with an invalid url, room or agent");
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

bool same_room(const Membership& a, const Membership& b) {
  return a.url == b.url && a.room == b.room;
}

std::string room_label(const std::optional<std::string>& room) {
  return room.value_or("default");
}

std::optional<Membership> Config::primary() const {
  if (!url || !token || !agent || backend) {
    return std::nullopt;
  }
  return Membership{*url, room, *agent, *token};
}

std::vector<Membership> Config::memberships() const {
  std::vector<Membership> out;
  if (auto first = primary()) {
    out.push_back(std::move(*first));
  }
  out.insert(out.end(), rooms.begin(), rooms.end());
  return out;
}

Environment Environment::from_process() {
  Environment env;
  env.home = env_var("BACKCHANNEL_HOME");
  env.agent = env_var("BACKCHANNEL_AGENT");
  env.url = env_var("BACKCHANNEL_URL");
  env.token = env_var("BACKCHANNEL_TOKEN");
  env.relay_room = env_var("BACKCHANNEL_RELAY_ROOM");
  env.default_relay = env_var("BACKCHANNEL_DEFAULT_RELAY");
  env.backend = env_var("BACKCHANNEL_BACKEND");
  env.brain_token = env_var("UNISON_TOKEN");
  env.brain_room = env_var("BACKCHANNEL_ROOM");
  env.brain_url = env_var("UNISON_API_URL");
  env.setup_home = env_var("BACKCHANNEL_SETUP_HOME");
  env.codex_home = env_var("CODEX_HOME");
  env.admin_token = env_var("BACKCHANNEL_ADMIN_TOKEN");
  env.log_level = env_var("BCH_LOG");
  env.user_home = env_var("HOME");
  env.path = env_var("PATH");
  return env;
}

fs::path resolve_home(const Environment& env) {
  if (env.home) {
    return fs::path(*env.home);
  }
  if (env.user_home) {
    return fs::path(*env.user_home) / ".backchannel";
  }
  throw Error(ErrorKind::usage,
              "neither BACKCHANNEL_HOME nor HOME is set — cannot find the bch home");
}

Config load_config(const fs::path& home) {
  fs::path path = home / "config.json";
  Config config;
  auto text = util::read_file(path);
  if (!text) {
    return config;
  }
  auto json = util::parse_json(*text);
  if (json.is_discarded() || !json.is_object()) {
    throw Error(
        ErrorKind::protocol,
        fmt::format("cannot read '{}': not a JSON object — fix or remove it", path.string()));
  }
  for (const auto& key : k_keys) {
    auto it = json.find(key.name);
    if (it == json.end() || it->is_null()) {
      continue;
    }
    if (!it->is_string()) {
      throw Error(ErrorKind::protocol,
                  fmt::format("cannot read '{}': \"{}\" is not a string", path.string(), key.name));
    }
    if (!it->get_ref<const std::string&>().empty()) {
      config.*key.field = it->get<std::string>();
    }
  }
  if (auto it = json.find("rooms"); it != json.end() && !it->is_null()) {
    config.rooms = parse_rooms(*it, path);
  }
  config.raw = std::move(json);
  return config;
}

void save_config(const fs::path& home, const Config& config) {
  util::make_private_dirs(home);
  nlohmann::ordered_json out;
  for (const auto& key : k_keys) {
    if (const auto& value = config.*key.field) {
      out[key.name] = *value;
    }
  }
  if (!config.rooms.empty()) {
    auto& rooms = out["rooms"] = nlohmann::ordered_json::array();
    for (const auto& m : config.rooms) {
      nlohmann::ordered_json entry = {{"url", m.url}};
      if (m.room) {
        entry["room"] = *m.room;
      }
      entry["agent"] = m.agent;
      entry["token"] = m.token;
      rooms.push_back(std::move(entry));
    }
  }
  for (const auto& [name, value] : config.raw.items()) {
    bool known = name == "rooms";
    for (const auto& key : k_keys) {
      known = known || name == key.name;
    }
    if (!known) {
      out[name] = value;
    }
  }
  util::AtomicFile file(home / "config.json", 0600);
  file.write(out.dump(2) + "\n");
  file.commit();
}

std::optional<fs::path> backup_config(const fs::path& home) {
  auto text = util::read_file(home / "config.json");
  if (!text) {
    return std::nullopt;
  }
  std::string stamp;
  for (char c : format_timestamp(now_unix_ms())) {  // 2026-12-03T02:10:00.123Z
    if (c != '-' && c != ':' && c != '.') {
      stamp += c;
    }
  }
  fs::path dir = home / "backups";
  util::make_private_dirs(dir);
  fs::path path = dir / fmt::format("config-{}.json", stamp);
  util::AtomicFile file(path, 0600);
  file.write(*text);
  file.commit();
  return path;
}

Settings resolve_settings(const Environment& env, const Config& config, const fs::path& home) {
  Settings s;
  s.home = home;
  s.agent = env.agent ? env.agent : config.agent;
  s.url = env.url ? env.url : config.url;
  s.token = env.token ? env.token : config.token;
  s.room = env.relay_room ? env.relay_room : config.room;
  s.brain_token = env.brain_token ? env.brain_token : config.brain_token;
  s.brain_url = env.brain_url.value_or(config.brain_url.value_or(k_default_brain_url));
  s.brain_room = env.brain_room.value_or(config.brain_room.value_or("default"));
  std::string backend = env.backend.value_or(config.backend.value_or(""));
  if (backend == "brain") {
    s.backend = Backend::brain;
  } else if (s.url) {
    s.backend = Backend::relay;
  } else {
    s.backend = Backend::local;
  }
  return s;
}

Settings settings_for(const Membership& room, const Environment& env, const fs::path& home) {
  Environment only_home;  // the room's own values, not BACKCHANNEL_URL and the like
  only_home.brain_url = env.brain_url;
  Config config;
  config.agent = room.agent;
  config.url = room.url;
  config.token = room.token;
  config.room = room.room;
  return resolve_settings(only_home, config, home);
}

std::optional<Membership> find_membership(const std::vector<Membership>& rooms,
                                          std::string_view selector) {
  std::vector<const Membership*> exact;
  std::vector<const Membership*> near;
  for (const auto& m : rooms) {
    if (room_label(m.room) == selector) {
      exact.push_back(&m);
    } else if ((m.room && selector.size() >= 4 && m.room->starts_with(selector))
               || m.url == selector) {
      near.push_back(&m);
    }
  }
  const auto& found = exact.empty() ? near : exact;  // an exact label wins
  if (found.size() > 1) {
    std::string names;
    for (const auto* m : found) {
      names += fmt::format("{}{} on {}", names.empty() ? "" : ", ", room_label(m->room), m->url);
    }
    throw Error(ErrorKind::usage,
                fmt::format("room {} is ambiguous — it names {}", in_quotes(selector), names));
  }
  if (found.empty()) {
    return std::nullopt;
  }
  return *found[0];
}

const std::string& require_agent(const Settings& settings) {
  if (!settings.agent) {
    throw Error(ErrorKind::usage,
                "no agent identity — run `bch init <name>` first (or set BACKCHANNEL_AGENT)");
  }
  check_agent_name(*settings.agent);
  return *settings.agent;
}

}  // namespace bch
