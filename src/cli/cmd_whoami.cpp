#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/util/text.hpp>

#include <fmt/format.h>

#include <memory>

namespace bch::cli {
namespace {

// The identity and where its messages live; never a token.
nlohmann::ordered_json whoami_json(Globals& g) {
  const Settings& s = g.settings();
  nlohmann::ordered_json out = {{"agent", g.agent()}, {"home", g.home().string()}};
  switch (s.backend) {
    case Backend::local:
      out["backend"] = "local";
      break;
    case Backend::relay:
      out["backend"] = "relay";
      out["url"] = s.url.value_or("");
      out["room"] = s.room.value_or("default");
      break;
    case Backend::brain:
      out["backend"] = "brain";
      out["url"] = s.brain_url;
      out["room"] = s.brain_room;
      break;
  }
  return out;
}

}  // namespace

void add_whoami(CLI::App& app, Globals& g) {
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("whoami", "show this session's agent name and transport");
  cmd->add_flag("--json", *json, "agent, backend, home, url and room as JSON (never the token)");
  cmd->callback([json, &g] {
    if (*json) {
      print(json_line(whoami_json(g)));
      return;
    }
    print(util::sanitize(
              fmt::format("{} via {}", g.agent(), spool::describe_location(g.settings())), false)
          + "\n");
  });
}

}  // namespace bch::cli
