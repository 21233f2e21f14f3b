#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/invite.hpp>
#include <bch/protocol/relay_api.hpp>
#include <bch/spool/http_spool.hpp>

#include <fmt/format.h>

namespace bch::cli {
namespace {

struct JoinOptions {
  std::string invite;
  std::string name;
  bool no_hooks = false;
  bool wake = false;
};

void run_join(const JoinOptions& o, Globals& g) {
  // Everything is checked before the relay is contacted, and config.json is written
  // only after the registration succeeded.
  Invite invite = decode_invite(o.invite);
  check_agent_name(o.name);
  if (invite.room && !protocol::is_valid_room_id(*invite.room)) {
    throw Error(ErrorKind::usage, "malformed invite: invalid room id");
  }
  spool::RelayEndpoint endpoint;
  endpoint.url = invite.url;
  endpoint.token = invite.token;
  endpoint.room = invite.room;
  auto record = spool::make_http_spool(endpoint)->register_agent(o.name);
  if (!record.token) {
    throw Error(ErrorKind::protocol, fmt::format("relay {} issued no agent token", invite.url));
  }

  Config config = g.config();
  config.agent = o.name;
  config.url = invite.url;
  config.token = record.token;
  config.room = invite.room;
  config.backend.reset();
  save_config(g.home(), config);
  print(fmt::format("joined {} on {} as {}\n",
                    invite.room ? "room " + *invite.room : "the default room",
                    invite.url,
                    in_quotes(o.name)));
  print(fmt::format("agent token saved to {} — keep it private; it is your identity on the relay\n",
                    (g.home() / "config.json").string()));

  endpoint.token = record.token;
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
  cmd->callback([o, &g] { run_join(*o, g); });
}

}  // namespace bch::cli
