#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace bch::cli {
namespace {

struct ChannelsOptions {
  bool json = false;
};

void run_channels(const ChannelsOptions& o, Globals& g) {
  auto channels = g.spool().channels();
  std::string out;
  if (o.json) {
    out = json_line(nlohmann::ordered_json(channels));
  } else if (channels.empty()) {
    out = "no channels yet — `bch sub #general` to create one\n";
  } else {
    for (const auto& c : channels) {
      out += util::sanitize(c, false) + "\n";
    }
  }
  print(out);
}

}  // namespace

void add_channels(CLI::App& app, Globals& g) {
  auto o = std::make_shared<ChannelsOptions>();
  auto* cmd = app.add_subcommand("channels", "list channels that have subscribers");
  cmd->add_flag("--json", o->json, "a JSON array of channel names");
  cmd->callback([o, &g] { run_channels(*o, g); });
}

}  // namespace bch::cli
