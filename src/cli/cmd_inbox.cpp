#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace bch::cli {
namespace {

struct InboxOptions {
  bool json = false;
  bool brief = false;
  std::string match;
};

void run_inbox(const InboxOptions& o, Globals& g) {
  const std::string& agent = g.agent();
  auto messages = spool::unread_matching(g.spool(), agent, non_empty(o.match));
  std::string out;
  if (o.json) {
    nlohmann::ordered_json array = nlohmann::ordered_json::array();
    for (const auto& m : messages) {
      array.push_back(to_json(m));
    }
    out = json_line(array);
  } else if (messages.empty()) {
    out = "inbox empty\n";
  } else {
    for (const auto& m : messages) {
      out += o.brief ? format_brief(m) + "\n" : (out.empty() ? "" : "\n") + format_message(m);
    }
  }
  print(out);
}

}  // namespace

void add_inbox(CLI::App& app, Globals& g) {
  auto o = std::make_shared<InboxOptions>();
  auto* cmd = app.add_subcommand("inbox", "list unread messages without claiming them");
  cmd->add_flag("--json", o->json, "a JSON array of messages");
  cmd->add_flag("--brief", o->brief, "one line per message");
  cmd->add_option(
      "--match", o->match, "this session's repo or path: scoped messages must match it");
  cmd->callback([o, &g] { run_inbox(*o, g); });
}

}  // namespace bch::cli
