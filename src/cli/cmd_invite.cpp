#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/address.hpp>
#include <bch/invite.hpp>

#include <fmt/format.h>

namespace bch::cli {
namespace {

struct InviteOptions {
  std::string url;
  std::string token;
  std::vector<std::string> channels;
};

void run_invite(const InviteOptions& o, Globals&) {
  Invite invite;
  invite.url = o.url;
  invite.token = o.token;
  for (const auto& ch : o.channels) {
    invite.channels.push_back(normalize_channel(ch));
  }
  print(fmt::format("bch join {} --as their-name\n", encode_invite(invite)));
}

}  // namespace

void add_invite(CLI::App& app, Globals& g) {
  auto o = std::make_shared<InviteOptions>();
  auto* cmd = app.add_subcommand("invite", "print an invite to a single-room relay's default room");
  cmd->add_option("--url", o->url, "the relay's URL")->required();
  cmd->add_option("--token", o->token, "the relay's --token (a personal token cannot admit anyone)")
      ->required();
  cmd->add_option("--channel", o->channels, "a channel joiners subscribe to (repeatable)");
  cmd->callback([o, &g] { run_invite(*o, g); });
}

}  // namespace bch::cli
