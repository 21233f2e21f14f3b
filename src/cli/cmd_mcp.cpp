#include "cli/commands.hpp"

#include <bch/mcp/server.hpp>

#include <unistd.h>

namespace bch::cli {
namespace {

void run_mcp(Globals& g) {
  // Identity and spool are looked up per tool call: a server started before `bch init`
  // still answers, and reports the missing identity as a tool error.
  mcp::Session session;
  session.spool = [&g]() -> spool::Spool& { return g.spool(); };
  session.agent = [&g]() -> const std::string& { return g.agent(); };
  session.default_match = mcp::session_context();
  mcp::Server(std::move(session)).serve(STDIN_FILENO, STDOUT_FILENO);
}

}  // namespace

void add_mcp(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "mcp", "serve the bch tools to an agent over MCP (JSON-RPC on stdin/stdout)");
  cmd->callback([&g] { run_mcp(g); });
}

}  // namespace bch::cli
