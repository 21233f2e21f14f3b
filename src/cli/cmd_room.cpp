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

struct RoomRotateOptions {
  std::string room;
  std::string url;
  std::string token;
  std::vector<std::string> channels;
};

// The relay a room command talks to: --url, BACKCHANNEL_URL, config url, then
// BACKCHANNEL_DEFAULT_RELAY.
std::string relay_url(const std::string& flag, Globals& g) {
  if (!flag.empty()) {
    return flag;
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
  invite.url = relay_url(o.url, g);
  auto room = spool::create_room(invite.url, g.env.admin_token);
  invite.room = room.room_id;
  invite.token = room.room_token;
  print(
      fmt::format("created room {} on {}\n"
                  "\n"
                  "Send this line to each teammate; it lets its holder join the room, so share it\n"
                  "privately. Each picks their own agent name:\n"
                  "\n"
                  "  bch join {} --as their-name\n"
                  "\n"
                  "{}",
                  room.room_id,
                  invite.url,
                  encode_invite(invite),
                  install_hint()));
}

// `bch room rotate <room>`: a fresh join token for a created room (with the admin token,
// or the current join token as --token), and the invite that carries it.
void run_room_rotate(const RoomRotateOptions& o, Globals& g) {
  Invite invite;
  for (const auto& ch : o.channels) {
    invite.channels.push_back(normalize_channel(ch));
  }
  invite.url = relay_url(o.url, g);
  auto bearer = non_empty(o.token) ? non_empty(o.token) : g.env.admin_token;
  auto room = spool::rotate_room_token(invite.url, o.room, bearer);
  invite.room = room.room_id;
  invite.token = room.room_token;
  print(fmt::format(
      "rotated the join token of room {} on {}: earlier invites admit no one now (agents\n"
      "already in keep their tokens). The new invite, to share privately:\n"
      "\n"
      "  bch join {} --as their-name\n",
      room.room_id,
      invite.url,
      encode_invite(invite)));
}

}  // namespace

void add_room(CLI::App& app, Globals& g) {
  auto* room = app.add_subcommand("room", "manage relay rooms (`bch room new`, `rotate`)");
  room->require_subcommand(1);
  auto o = std::make_shared<RoomNewOptions>();
  auto* cmd = room->add_subcommand("new", "create a room on a relay and print its invite");
  cmd->add_option("channels", o->channels, "channels everyone who joins subscribes to");
  cmd->add_option("--channel", o->more_channels, "another channel (repeatable)");
  cmd->add_option(
      "--url", o->url, "the relay (default: BACKCHANNEL_URL, config, BACKCHANNEL_DEFAULT_RELAY)");
  cmd->callback([o, &g] { run_room_new(*o, g); });

  auto r = std::make_shared<RoomRotateOptions>();
  auto* rotate = room->add_subcommand(
      "rotate", "give a room a new join token (earlier invites stop working) and print its invite");
  rotate->add_option("room", r->room, "the room id")->required();
  rotate->add_option("--token",
                     r->token,
                     "the room's current join token (default: BACKCHANNEL_ADMIN_TOKEN, the admin "
                     "token)");
  rotate->add_option("--channel", r->channels, "a channel for the new invite (repeatable)");
  rotate->add_option(
      "--url", r->url, "the relay (default: BACKCHANNEL_URL, config, BACKCHANNEL_DEFAULT_RELAY)");
  rotate->callback([r, &g] { run_room_rotate(*r, g); });
}

}  // namespace bch::cli
