#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/util/text.hpp>

#include <fmt/format.h>

namespace bch::cli {

void add_whoami(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("whoami", "show this session's agent name and transport");
  cmd->callback([&g] {
    print(util::sanitize(
              fmt::format("{} via {}", g.agent(), spool::describe_location(g.settings())), false)
          + "\n");
  });
}

}  // namespace bch::cli
