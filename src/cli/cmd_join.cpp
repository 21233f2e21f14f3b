#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/invite.hpp>
#include <bch/protocol/relay_api.hpp>
#include <bch/spool/http_spool.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace bch::cli {
namespace {

struct JoinOptions {
  std::string invite;
  std::string name;
  bool no_hooks = false;
  bool wake = false;
  bool force = false;
};

bool same_room(const Membership& m, const Invite& invite) {
  return bch::same_room(m, Membership{invite.url, invite.room, "", ""});
}

// Where this home's identity is, for the refusal that names it.
std::string describe_identity(const Config& config) {
  if (auto primary = config.primary()) {
    return fmt::format(
        "{} in room {} on {}", in_quotes(primary->agent), room_label(primary->room), primary->url);
  }
  return fmt::format("{} on the local spool", in_quotes(config.agent.value_or("")));
}

void run_join(const JoinOptions& o, Globals& g) {
  // Everything is checked before the relay is contacted, and config.json is written
  // only after the registration succeeded.
  Invite invite = decode_invite(o.invite);
  check_agent_name(o.name);
  if (invite.room && !protocol::is_valid_room_id(*invite.room)) {
    throw Error(ErrorKind::usage, "malformed invite: invalid room id");
  }
  Config config = g.config();
  std::string label = room_label(invite.room);
  std::string where = invite.room ? "room " + *invite.room : "the default room";

  // The same room again: as the same name it is a re-join (the saved token re-registers);
  // as another name it would replace an identity, which takes --force.
  auto joined = config.memberships();
  auto again = std::find_if(
      joined.begin(), joined.end(), [&](const Membership& m) { return same_room(m, invite); });
  bool rejoin = again != joined.end() && again->agent == o.name;
  if (again != joined.end() && !rejoin && !o.force) {
    throw Error(ErrorKind::conflict,
                fmt::format("this home is already {} in {} on {} — `bch leave {}` first, or add "
                            "--force to replace it (its token is kept in a backup)",
                            in_quotes(again->agent),
                            where,
                            invite.url,
                            label));
  }
  // A home whose identity is not a relay room (a local name) would lose it.
  bool replaces_local = !config.primary() && config.agent && *config.agent != o.name;
  if (replaces_local && !o.force) {
    throw Error(ErrorKind::conflict,
                fmt::format("this home is {} — add --force to make it {} in {} on {} instead "
                            "(the old config is kept in a backup)",
                            describe_identity(config),
                            in_quotes(o.name),
                            where,
                            invite.url));
  }

  spool::RelayEndpoint endpoint;
  endpoint.url = invite.url;
  endpoint.token = rejoin ? std::optional<std::string>(again->token) : invite.token;
  endpoint.room = invite.room;
  auto record = spool::make_http_spool(endpoint)->register_agent(o.name);
  std::string token = rejoin && !record.token ? again->token : record.token.value_or("");
  if (token.empty()) {
    throw Error(ErrorKind::protocol, fmt::format("relay {} issued no agent token", invite.url));
  }

  std::optional<std::filesystem::path> backup;
  if ((again != joined.end() && !rejoin) || replaces_local) {
    backup = backup_config(g.home());
  }
  Membership room{invite.url, invite.room, o.name, token};
  bool top = !config.primary() || same_room(*config.primary(), invite);
  if (top) {
    config.agent = o.name;
    config.url = invite.url;
    config.token = token;
    config.room = invite.room;
    config.backend.reset();
  } else {
    std::erase_if(config.rooms, [&](const Membership& m) { return same_room(m, invite); });
    config.rooms.push_back(room);
  }
  save_config(g.home(), config);
  g.reload();
  print(fmt::format("{} {} on {} as {}\n",
                    rejoin ? "already in" : "joined",
                    where,
                    invite.url,
                    in_quotes(o.name)));
  if (backup) {
    print(
        fmt::format("the identity it replaced (token included) is kept in {}\n", backup->string()));
  }
  print(fmt::format("agent token saved to {} — keep it private; it is your identity on the relay\n",
                    (g.home() / "config.json").string()));
  if (auto count = config.memberships().size(); count > 1) {
    print(
        fmt::format("this home is in {} rooms — `bch rooms` lists them, `--room {}` acts in "
                    "this one; hooks and watch read them all\n",
                    count,
                    label));
  }

  endpoint.token = token;
  auto spool = spool::make_http_spool(endpoint);
  for (const auto& channel : invite.channels) {
    spool->subscribe(o.name, channel);
    print(fmt::format("subscribed to {}\n", channel));
  }
  if (!o.no_hooks || o.wake) {
    run_harness_setup(g, !o.no_hooks, true, o.wake);
  }
}

}  // namespace

void add_join(CLI::App& app, Globals& g) {
  auto o = std::make_shared<JoinOptions>();
  auto* cmd = app.add_subcommand("join", "join a relay room with an invite (bch1-…)");
  cmd->add_option("invite", o->invite, "the bch1-… invite you were sent")->required();
  cmd->add_option("--as", o->name, "your agent name in the room")->required();
  cmd->add_flag("--no-hooks", o->no_hooks, "do not set up agent harnesses (`bch setup` later)");
  cmd->add_flag("--wake", o->wake, "also install the urgent-message wake daemon");
  cmd->add_flag("--force",
                o->force,
                "replace this home's identity in that room (or its local identity); the old "
                "config is kept in <home>/backups/");
  cmd->callback([o, &g] { run_join(*o, g); });
}

}  // namespace bch::cli
