#include "cli/commands.hpp"

#include <bch/mcp/server.hpp>

#include <unistd.h>

#include <memory>
#include <vector>

namespace bch::cli {
namespace {

void run_mcp(std::size_t budget, Globals& g) {
  // Identity and spool are looked up per tool call: a server started before `bch init`
  // still answers, and reports the missing identity as a tool error.
  mcp::Session session;
  session.spool = [&g]() -> spool::Spool& { return g.spool(); };
  session.agent = [&g]() -> const std::string& { return g.agent(); };
  // The other joined rooms' spools, opened on first use and kept for the session.
  auto others = std::make_shared<std::vector<std::unique_ptr<spool::Spool>>>();
  session.rooms = [&g, others]() {
    auto settings = g.reading_rooms();
    std::vector<mcp::Room> rooms{{room_label(settings[0].room), &g.spool(), g.agent()}};
    for (std::size_t i = 1; i < settings.size(); ++i) {
      if (others->size() < i) {
        others->push_back(spool::open_spool(settings[i]));
      }
      rooms.push_back(
          {room_label(settings[i].room), (*others)[i - 1].get(), require_agent(settings[i])});
    }
    return rooms;
  };
  session.default_match = mcp::session_context();
  session.budget = budget;
  mcp::Server(std::move(session)).serve(STDIN_FILENO, STDOUT_FILENO);
}

}  // namespace

void add_mcp(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "mcp", "serve the bch tools to an agent over MCP (JSON-RPC on stdin/stdout)");
  auto budget = std::make_shared<std::size_t>(spool::k_default_budget);
  cmd->add_option("--budget",
                  *budget,
                  "at most this many characters in a bch_inbox result (default 8000); what does "
                  "not fit stays unread")
      ->check(CLI::Range(spool::k_min_budget, std::size_t{100'000'000}));
  cmd->callback([budget, &g] { run_mcp(*budget, g); });
}

}  // namespace bch::cli
