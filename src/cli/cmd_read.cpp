#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>

#include <fmt/format.h>

namespace bch::cli {
namespace {

struct ReadOptions {
  std::string prefix;
  bool keep = false;
};

void run_read(const ReadOptions& o, Globals& g) {
  check_message_id(o.prefix);
  const std::string& agent = g.agent();
  auto& spool = g.spool();
  auto id = spool::find_unread(spool, agent, o.prefix);
  bool taken =
      id && spool.take(agent, *id, o.keep, [](const Message& m) { print(format_message(m)); });
  if (!taken) {
    throw Error(ErrorKind::not_found, fmt::format("no unread message with id {}", o.prefix));
  }
}

}  // namespace

void add_read(CLI::App& app, Globals& g) {
  auto o = std::make_shared<ReadOptions>();
  auto* cmd = app.add_subcommand("read", "claim and print one message by id (or id prefix)");
  cmd->add_option("id",
                  o->prefix,
                  "the message id, its first characters, or the 8-character id shown with it")
      ->required();
  cmd->add_flag("--keep", o->keep, "keep the claimed message in cur/ instead of deleting it");
  cmd->callback([o, &g] { run_read(*o, g); });
}

}  // namespace bch::cli
