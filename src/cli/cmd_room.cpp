#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/invite.hpp>
#include <bch/spool/http_spool.hpp>

#include <fmt/format.h>

namespace bch::cli {
namespace {

struct RoomNewOptions {
  std::vector<std::string> channels;
  std::vector<std::string> more_channels;
  std::string url;
};

// The relay to create the room on: --url, BACKCHANNEL_URL, config url, then
// BACKCHANNEL_DEFAULT_RELAY.
std::string relay_url(const RoomNewOptions& o, Globals& g) {
  if (!o.url.empty()) {
    return o.url;
  }
  if (g.env.url) {
    return *g.env.url;
  }
  if (g.config().url) {
    return *g.config().url;
  }
  if (g.env.default_relay) {
    return *g.env.default_relay;
  }
  throw Error(ErrorKind::usage,
              "no relay to create the room on — pass --url, or set BACKCHANNEL_URL or "
              "BACKCHANNEL_DEFAULT_RELAY");
}

void run_room_new(const RoomNewOptions& o, Globals& g) {
  Invite invite;
  for (const auto* list : {&o.channels, &o.more_channels}) {
    for (const auto& ch : *list) {
      invite.channels.push_back(normalize_channel(ch));
    }
  }
  invite.url = relay_url(o, g);
  auto room = spool::create_room(invite.url, g.env.admin_token);
  invite.room = room.room_id;
  invite.token = room.room_token;
  print(
      fmt::format("created room {} on {}\n"
                  "\n"
                  "Send this line to each teammate; it lets its holder join the room, so share it\n"
                  "privately. Each picks their own agent name:\n"
                  "\n"
                  "  bch join {} --as their-name\n",
                  room.room_id,
                  invite.url,
                  encode_invite(invite)));
}

}  // namespace

void add_room(CLI::App& app, Globals& g) {
  auto* room = app.add_subcommand("room", "manage relay rooms (`bch room new`)");
  room->require_subcommand(1);
  auto o = std::make_shared<RoomNewOptions>();
  auto* cmd = room->add_subcommand("new", "create a room on a relay and print its invite");
  cmd->add_option("channels", o->channels, "channels everyone who joins subscribes to");
  cmd->add_option("--channel", o->more_channels, "another channel (repeatable)");
  cmd->add_option(
      "--url", o->url, "the relay (default: BACKCHANNEL_URL, config, BACKCHANNEL_DEFAULT_RELAY)");
  cmd->callback([o, &g] { run_room_new(*o, g); });
}

}  // namespace bch::cli
