#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>

#include <fmt/format.h>

namespace bch::cli {
namespace {

struct InitOptions {
  std::string name;
  std::string url;
  std::string token;
  bool brain = false;
  std::string brain_token;
  std::string brain_room;
  std::string brain_url;
  bool force = false;
};

void run_init(const InitOptions& o, Globals& g) {
  check_agent_name(o.name);
  // The flags go into config.json; environment variables still win when resolving.
  Config config = g.config();
  // Another name would replace this home's identity (and on a relay, its token): that
  // takes --force. A session that speaks as the name through BACKCHANNEL_AGENT on the
  // local spool (two agents sharing a home) registers it and leaves the home's alone.
  bool switching = config.agent && *config.agent != o.name;
  bool flags_change_backend = !o.url.empty() || o.brain;
  if (switching && !o.force && g.env.agent == o.name && !flags_change_backend
      && g.settings().backend == Backend::local) {
    spool::open_spool(g.settings())->register_agent(o.name);
    print(fmt::format("registered as {} (local spool)\n", in_quotes(o.name)));
    return;
  }
  if (switching && !o.force) {
    std::string where = config.primary() ? "on " + *config.url : "on the local spool";
    throw Error(ErrorKind::conflict,
                fmt::format("this home is already {} {} — add --force to make it {} (the old "
                            "config is kept in a backup), or set BACKCHANNEL_AGENT={} for one "
                            "session",
                            in_quotes(*config.agent),
                            where,
                            in_quotes(o.name),
                            o.name));
  }
  config.agent = o.name;
  if (auto url = non_empty(o.url)) {
    config.url = url;
    config.token = non_empty(o.token);
    config.backend.reset();
  }
  if (o.brain) {
    config.backend = "brain";
    if (auto t = non_empty(o.brain_token)) {
      config.brain_token = t;
    }
    if (auto r = non_empty(o.brain_room)) {
      config.brain_room = r;
    }
    if (auto u = non_empty(o.brain_url)) {
      config.brain_url = u;
    }
  }
  Settings settings = resolve_settings(g.env, config, g.home());
  // Register first: if that fails, config.json is left as it was. On a relay the token
  // presented is the room's join secret; the answer carries this agent's own token,
  // which replaces it in config.json (re-registering presents the agent token itself).
  spool::AgentRecord record;
  try {
    record = spool::open_spool(settings)->register_agent(o.name);
  } catch (const Error& e) {
    // Without --token, what is presented is a joined config's agent token (or none):
    // neither registers a new name. Say where the room token comes from.
    if (settings.backend == Backend::relay && o.token.empty()
        && std::string_view(e.what()) == "unauthorized — registration requires the room token") {
      throw Error(
          e.kind(),
          fmt::format("unauthorized — a new name on this relay needs the room token: "
                      "`bch join <invite> --as {0}`, or `bch init {0} --token <room token>`",
                      o.name));
    }
    throw;
  }
  if (record.token) {
    config.token = record.token;
  }
  std::optional<std::filesystem::path> backup;
  if (switching) {
    backup = backup_config(g.home());
  }
  save_config(g.home(), config);
  std::string where = settings.backend == Backend::relay
                          ? "relay " + spool::describe_location(settings)
                          : spool::describe_location(settings);
  print(fmt::format("registered as {} ({})\n", in_quotes(o.name), where));
  if (backup) {
    print(fmt::format("the identity it replaced is kept in {}\n", backup->string()));
  }
  if (record.token) {
    print(
        fmt::format("agent token saved to {} — keep it private; it is your identity on the relay\n",
                    (g.home() / "config.json").string()));
  }
}

}  // namespace

void add_init(CLI::App& app, Globals& g) {
  auto o = std::make_shared<InitOptions>();
  auto* cmd = app.add_subcommand("init", "register an agent name and make it this home's identity");
  cmd->add_option("name", o->name, "agent name: letters, digits, . _ -")->required();
  cmd->add_option("--url", o->url, "relay URL (default: the local spool)");
  cmd->add_option("--token", o->token, "relay room token");
  cmd->add_flag("--brain", o->brain, "use the brain backend");
  cmd->add_option("--brain-token", o->brain_token, "brain API token (usk_…)");
  cmd->add_option("--brain-room", o->brain_room, "brain room slug");
  cmd->add_option("--brain-url", o->brain_url, "brain API base URL");
  cmd->add_flag("--force",
                o->force,
                "replace this home's identity with another name (the old config is kept in "
                "<home>/backups/)");
  cmd->callback([o, &g] { run_init(*o, g); });
}

}  // namespace bch::cli
