#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/util/text.hpp>

#include <fmt/format.h>

#include <memory>

namespace bch::cli {
namespace {

void run_leave(const std::string& selector, Globals& g) {
  Config config = g.config();
  auto joined = config.memberships();
  auto room = find_membership(joined, selector);
  if (!room) {
    throw Error(ErrorKind::not_found,
                fmt::format("this home has not joined room {} — `bch rooms` lists the ones it has",
                            in_quotes(selector)));
  }
  auto backup = backup_config(g.home());
  if (config.primary() && same_room(*config.primary(), *room)) {
    // The top level is what the TypeScript tool reads: the next room takes its place.
    if (config.rooms.empty()) {
      config.agent.reset();
      config.url.reset();
      config.token.reset();
      config.room.reset();
    } else {
      Membership next = config.rooms.front();
      config.rooms.erase(config.rooms.begin());
      config.agent = next.agent;
      config.url = next.url;
      config.token = next.token;
      config.room = next.room;
    }
  } else {
    std::erase_if(config.rooms, [&](const Membership& m) { return same_room(m, *room); });
  }
  save_config(g.home(), config);
  print(util::sanitize(
      fmt::format("left {} on {}: {} stays registered there, and its token is kept in {} (to "
                  "come back as {}, put it back in config.json)\n",
                  room->room ? "room " + *room->room : "the default room",
                  room->url,
                  in_quotes(room->agent),
                  backup ? backup->string() : std::string("no backup"),
                  in_quotes(room->agent)),
      true));
}

}  // namespace

void add_leave(CLI::App& app, Globals& g) {
  auto selector = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("leave", "forget a joined relay room (its token is backed up)");
  cmd->add_option("room",
                  *selector,
                  "the room: its id (or a 4+ character prefix), `default`, or its relay URL")
      ->required();
  cmd->callback([selector, &g] { run_leave(*selector, g); });
}

}  // namespace bch::cli
