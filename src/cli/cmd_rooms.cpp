#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/address.hpp>
#include <bch/util/text.hpp>

#include <fmt/format.h>

#include <memory>

namespace bch::cli {
namespace {

void run_rooms(bool json, Globals& g) {
  auto joined = g.config().memberships();
  // The room a command without --room acts in (the environment may pick another).
  const Settings& current = g.settings();
  auto is_current = [&](const Membership& m) {
    return current.backend == Backend::relay && current.url == m.url && current.room == m.room;
  };
  if (json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& m : joined) {
      out.push_back({{"room", room_label(m.room)},
                     {"url", m.url},
                     {"agent", m.agent},
                     {"current", is_current(m)}});
    }
    print(json_line(out));
    return;
  }
  if (joined.empty()) {
    print("no relay rooms joined — `bch join <invite> --as <name>` joins one\n");
    return;
  }
  std::string out;
  for (const auto& m : joined) {
    out += util::sanitize(fmt::format("{} {} on {} as {}\n",
                                      is_current(m) ? "*" : " ",
                                      room_label(m.room),
                                      m.url,
                                      in_quotes(m.agent)),
                          true);
  }
  print(out);
}

}  // namespace

void add_rooms(CLI::App& app, Globals& g) {
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("rooms", "list the relay rooms this home has joined");
  cmd->add_flag("--json", *json, "a JSON array of {room, url, agent, current}");
  cmd->callback([json, &g] { run_rooms(*json, g); });
}

}  // namespace bch::cli
