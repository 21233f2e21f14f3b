#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace bch::cli {
namespace {

struct AgentsOptions {
  bool json = false;
};

void run_agents(const AgentsOptions& o, Globals& g) {
  auto agents = g.spool().agents();
  std::string out;
  if (o.json) {
    nlohmann::ordered_json array = nlohmann::ordered_json::array();
    for (const auto& a : agents) {
      array.push_back(spool::to_json(a));
    }
    out = json_line(array);
  } else if (agents.empty()) {
    out = "no agents yet — `bch init <name>` registers one\n";
  } else {
    for (const auto& a : agents) {
      out += format_agent(a) + "\n";
    }
  }
  print(out);
}

}  // namespace

void add_agents(CLI::App& app, Globals& g) {
  auto o = std::make_shared<AgentsOptions>();
  auto* cmd =
      app.add_subcommand("agents", "list registered agents, their channels and last activity");
  cmd->add_flag("--json", o->json, "a JSON array of agent records");
  cmd->callback([o, &g] { run_agents(*o, g); });
}

}  // namespace bch::cli
