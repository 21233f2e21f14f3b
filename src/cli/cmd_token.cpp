#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/error.hpp>
#include <bch/spool/http_spool.hpp>

#include <fmt/format.h>

namespace bch::cli {
namespace {

// `bch token rotate`: the relay issues this agent a new token and the old one stops
// working at once; the new one is saved to config.json. The relay has already switched
// when the save runs, so a save that fails shows the new token rather than losing it.
void run_token_rotate(Globals& g) {
  const Settings& s = g.settings();
  const std::string& agent = g.agent();
  auto endpoint = agent_relay(
      g, "no relay token to rotate — this home is not on a relay (`bch join` one first)");
  std::string fresh = spool::rotate_agent_token(endpoint);
  if (g.env.token) {
    print(fmt::format(
        "rotated the token of \"{}\" on {}; BACKCHANNEL_TOKEN holds the old one: set it to\n"
        "{}\n",
        agent,
        *s.url,
        fresh));
    return;
  }
  Config config = g.config();
  config.token = fresh;
  try {
    save_config(g.home(), config);
  } catch (const Error& e) {
    throw Error(ErrorKind::io,
                fmt::format("the relay issued a new token but it could not be saved ({}) — put "
                            "it in config.json by hand: {}",
                            e.what(),
                            fresh));
  }
  print(fmt::format("rotated the token of \"{}\" on {}; the new one is saved in {}\n",
                    agent,
                    *s.url,
                    (g.home() / "config.json").string()));
}

}  // namespace

spool::RelayEndpoint agent_relay(Globals& g, const char* refusal) {
  const Settings& s = g.settings();
  g.agent();
  if (s.backend != Backend::relay || !s.url || !s.token) {
    throw Error(ErrorKind::usage, refusal);
  }
  spool::RelayEndpoint endpoint;
  endpoint.url = *s.url;
  endpoint.token = s.token;
  endpoint.room = s.room;
  return endpoint;
}

void add_token(CLI::App& app, Globals& g) {
  auto* token = app.add_subcommand("token", "manage this agent's relay token (`bch token rotate`)");
  token->require_subcommand(1);
  auto* rotate = token->add_subcommand(
      "rotate", "get a new agent token from the relay; the old one stops working at once");
  rotate->callback([&g] { run_token_rotate(g); });
}

}  // namespace bch::cli
