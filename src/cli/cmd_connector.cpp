#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/error.hpp>
#include <bch/format.hpp>
#include <bch/spool/http_spool.hpp>
#include <bch/util/text.hpp>

#include <fmt/format.h>

#include <memory>

namespace bch::cli {
namespace {

// This agent on its relay, as the connector routes need it (refused off a relay).
spool::RelayEndpoint agent_endpoint(Globals& g) {
  return agent_relay(
      g, "connectors live on a relay and this home is not on one (`bch join` one first)");
}

// `bch connector new`: a secret URL that acts as this agent over MCP, for clients that
// cannot send a token (claude.ai's "Add custom connector", ChatGPT's connectors).
void run_new(const std::string& label, Globals& g) {
  auto made = spool::create_connector(agent_endpoint(g), label);
  print(fmt::format(
      "connector {}{} acts as \"{}\": paste this URL into the client's custom-connector "
      "setting; anyone who has it acts as \"{}\" until `bch connector revoke {}`\n{}\n",
      made.connector.id,
      label.empty() ? "" : " (" + util::sanitize(label, false) + ")",
      g.agent(),
      g.agent(),
      made.connector.id,
      made.url));
}

void run_list(Globals& g) {
  auto all = spool::list_connectors(agent_endpoint(g));
  if (all.empty()) {
    print("no connectors — `bch connector new` makes one\n");
    return;
  }
  std::string out;
  for (const auto& c : all) {
    out += fmt::format("{}  {}{}\n",
                       util::sanitize(c.id, false),
                       util::sanitize(c.created_at, false),
                       c.label.empty() ? "" : "  " + util::sanitize(c.label, false));
  }
  print(out);
}

void run_revoke(const std::string& id, bool all, Globals& g) {
  if (all == !id.empty()) {
    throw Error(ErrorKind::usage, "give a connector's id, or --all");
  }
  auto n = spool::revoke_connectors(agent_endpoint(g), all ? "all" : id);
  print(fmt::format("revoked {} connector{}\n", n, n == 1 ? "" : "s"));
}

}  // namespace

void add_connector(CLI::App& app, Globals& g) {
  auto* connector = app.add_subcommand(
      "connector", "secret MCP URLs for agents that cannot run bch (web and desktop apps)");
  connector->require_subcommand(1);
  auto label = std::make_shared<std::string>();
  auto* add = connector->add_subcommand(
      "new", "make a connector URL that acts as this agent on the relay's /mcp endpoint");
  add->add_option("--label", *label, "a note to tell it apart in `bch connector list`");
  add->callback([label, &g] { run_new(*label, g); });
  connector->add_subcommand("list", "this agent's connectors: id, when made, label")
      ->callback([&g] { run_list(g); });
  auto id = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  auto* revoke =
      connector->add_subcommand("revoke", "end a connector (its URL gets 401 from then on)");
  revoke->add_option("id", *id, "the connector's id (or its first 6+ characters)");
  revoke->add_flag("--all", *all, "every connector of this agent");
  revoke->callback([id, all, &g] { run_revoke(*id, *all, g); });
}

}  // namespace bch::cli
