#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/invite.hpp>
#include <bch/protocol/relay_api.hpp>
#include <bch/spool/http_spool.hpp>
#include <bch/util/log.hpp>

#include <fmt/format.h>

namespace bch::cli {
namespace {

struct InviteOptions {
  std::string url;
  std::string token;
  std::vector<std::string> channels;
};

// An invite whose token the relay refuses cannot work: refuse to print it. A relay that
// cannot be asked (down, or one without the check) gets the invite printed, with a word.
void check_token(const InviteOptions& o) {
  try {
    spool::check_room_token(o.url, protocol::k_default_room, o.token);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::unavailable || e.kind() == ErrorKind::not_found) {
      util::warn(fmt::format("the token was not checked ({}) — make sure it is the relay's --token",
                             e.what()));
      return;
    }
    throw Error(e.kind(),
                fmt::format("the relay refused this token ({}) — an invite with it cannot work; "
                            "use the relay's --token",
                            e.what()));
  }
}

void run_invite(const InviteOptions& o, Globals&) {
  check_token(o);
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
