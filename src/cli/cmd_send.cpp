#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/util/fs.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <cerrno>

namespace bch::cli {
namespace {

struct SendOptions {
  std::string target;
  std::vector<std::string> words;
  bool urgent = false;
  std::string scope;
  std::string thread;
  std::vector<std::string> refs;
  bool json = false;
};

std::string read_stdin() {
  std::string body;
  char buffer[16384];
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw Error(ErrorKind::io, util::errno_message("cannot read the message from stdin", errno));
    }
    if (n == 0) {
      break;
    }
    body.append(buffer, static_cast<std::size_t>(n));
    if (body.size() > k_max_body_bytes) {
      throw Error(ErrorKind::usage,
                  "message body over 1 MiB — send a file path with --ref instead");
    }
  }
  return body;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

void run_send(const SendOptions& o, Globals& g) {
  parse_target(o.target);  // a bad target is a usage error even before identity
  std::string body =
      prepare_body(o.words.size() == 1 && o.words[0] == "-" ? read_stdin() : join(o.words));
  spool::SendOptions options;
  options.priority = o.urgent ? Priority::urgent : Priority::normal;
  options.scope = non_empty(o.scope);
  if (auto thread = non_empty(o.thread)) {
    check_message_id(*thread);
    options.thread = thread;
  }
  options.refs = o.refs;
  const std::string& from = g.agent();
  Message sent = g.spool().send(from, o.target, body, options);
  print(o.json ? json_line(to_json(sent))
               : fmt::format("sent {} to {}\n", short_id(sent.id), o.target));
}

}  // namespace

void add_send(CLI::App& app, Globals& g) {
  auto o = std::make_shared<SendOptions>();
  auto* cmd = app.add_subcommand("send", "send a message to @agent or #channel");
  cmd->add_option("target", o->target, "@agent for a DM, #channel for everyone subscribed")
      ->required();
  cmd->add_option("body", o->words, "the message; `-` reads it from stdin")->required();
  cmd->add_flag("--urgent", o->urgent, "mark urgent (wakes the recipient's human)");
  cmd->add_option("--scope", o->scope, "only a session whose --match covers this may claim it");
  cmd->add_option("--thread", o->thread, "id of the message this answers");
  cmd->add_option("--ref", o->refs, "a file path or URL to attach (repeatable)");
  cmd->add_flag("--json", o->json, "print the stored message as JSON (its full id, ts, from)");
  cmd->callback([o, &g] { run_send(*o, g); });
}

}  // namespace bch::cli
