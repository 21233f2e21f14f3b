#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/address.hpp>

#include <fmt/format.h>

namespace bch::cli {
namespace {

struct SubOptions {
  std::string channel;
};

void run_sub(const SubOptions& o, Globals& g, bool subscribe) {
  std::string channel = normalize_channel(o.channel);
  const std::string& agent = g.agent();
  if (subscribe) {
    g.spool().subscribe(agent, channel);
    print(fmt::format("subscribed to {}\n", channel));
  } else {
    g.spool().unsubscribe(agent, channel);
    print(fmt::format("unsubscribed from {}\n", channel));
  }
}

void add(CLI::App& app, Globals& g, bool subscribe) {
  auto o = std::make_shared<SubOptions>();
  auto* cmd = subscribe ? app.add_subcommand("sub", "subscribe to a channel (`dev` or `#dev`)")
                        : app.add_subcommand("unsub", "unsubscribe from a channel");
  cmd->add_option("channel", o->channel, "the channel, #name or name")->required();
  cmd->callback([o, &g, subscribe] { run_sub(*o, g, subscribe); });
}

}  // namespace

void add_sub(CLI::App& app, Globals& g) {
  add(app, g, true);
}

void add_unsub(CLI::App& app, Globals& g) {
  add(app, g, false);
}

}  // namespace bch::cli
