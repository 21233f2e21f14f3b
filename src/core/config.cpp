#include <bch/address.hpp>
#include <bch/config.hpp>
#include <bch/error.hpp>
#include <bch/util/atomic_file.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/json.hpp>

#include <fmt/format.h>

#include <cstdlib>

namespace bch {
namespace {

namespace fs = std::filesystem;

constexpr const char* k_default_brain_url = "https://brain.unisonlabs.ai";

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

}  // namespace

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
  for (const auto& [name, value] : config.raw.items()) {
    bool known = false;
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

const std::string& require_agent(const Settings& settings) {
  if (!settings.agent) {
    throw Error(ErrorKind::usage,
                "no agent identity — run `bch init <name>` first (or set BACKCHANNEL_AGENT)");
  }
  check_agent_name(*settings.agent);
  return *settings.agent;
}

}  // namespace bch
