#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/error.hpp>
#include <bch/util/log.hpp>
#include <bch/util/text.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <memory>

namespace bch::cli {
namespace {

struct DrainOptions {
  bool json = false;
  bool hook = false;
  std::string match;
  std::size_t budget = spool::k_default_budget;
};

constexpr std::string_view k_more_hint =
    "The next prompts show them; `bch read <id>` shows one whole, `bch inbox --brief` lists "
    "them.";

// Claims and prints every matching message. Each one is printed while it is claimed and
// deleted only after its output was written, so a drainer killed mid-way never loses a
// message that it did not print.
void drain(const DrainOptions& o, Globals& g) {
  const std::string& agent = g.agent();
  auto& spool = g.spool();
  auto candidates = spool::unread_matching(spool, agent, non_empty(o.match));
  std::size_t claimed = 0;
  for (const auto& candidate : candidates) {
    spool.take(agent, candidate.id, false, [&](const Message& m) {
      std::string out;
      if (o.json) {
        out = (claimed == 0 ? "[" : ",\n") + message_json(m);
      } else {
        out = (claimed == 0 ? "" : "\n") + format_message(m);
      }
      print(out);
      ++claimed;
    });
  }
  if (o.json) {
    print(claimed == 0 ? "[]\n" : "]\n");
  } else if (claimed == 0 && !o.hook) {
    print("inbox empty\n");
  }
}

void not_checked(const std::string& room, const std::exception& e) {
  std::string where = room.empty() ? "" : " (room " + room + ")";
  (void)std::fprintf(stderr,
                     "bch: inbox%s not checked: %s\n",
                     util::sanitize(where, false).c_str(),
                     util::sanitize(e.what(), false).c_str());
}

// The hook: every joined room's messages, oldest first, each labelled with its room when
// there are several. A room that cannot be read is named on stderr; the others still
// show.
void drain_hook(const DrainOptions& o, Globals& g) {
  auto rooms = g.reading_rooms();
  bool labelled = rooms.size() > 1;
  std::vector<std::unique_ptr<spool::Spool>> spools;
  std::vector<spool::InboxSource> sources;
  std::vector<spool::Candidate> candidates;
  for (const auto& settings : rooms) {
    std::string label = labelled ? room_label(settings.room) : "";
    try {
      if (!settings.agent) {
        continue;
      }
      auto spool = spool::open_spool(settings, g.quick);
      const std::string& agent = require_agent(settings);
      auto unread = spool::unread_matching(*spool, agent, non_empty(o.match));
      sources.push_back({spool.get(), agent, label});
      spools.push_back(std::move(spool));
      for (auto& m : unread) {
        candidates.push_back({std::move(m), sources.size() - 1});
      }
    } catch (const std::exception& e) {
      not_checked(label, e);
    }
  }
  spool::show_within_budget(
      sources, std::move(candidates), o.budget, k_more_hint, [](const std::string& text) {
        print(text);
      });
}

void run_drain(const DrainOptions& o, Globals& g) {
  if (!o.hook) {
    drain(o, g);
    return;
  }
  // The hook runs before every prompt: it must never block one or fill the agent's
  // context with noise. No identity: silence. Any failure: one line on stderr, exit 0.
  g.quick = true;
  try {
    if (!g.settings().agent) {
      return;
    }
    drain_hook(o, g);
  } catch (const std::exception& e) {
    not_checked("", e);
  }
}

}  // namespace

void add_drain(CLI::App& app, Globals& g) {
  auto o = std::make_shared<DrainOptions>();
  auto* cmd = app.add_subcommand("drain", "claim and print unread messages (they are then gone)");
  cmd->add_flag("--json", o->json, "a JSON array of messages ([] when none)");
  cmd->add_flag("--hook", o->hook, "for agent hooks: silent when nothing, never fails");
  cmd->add_option("--budget",
                  o->budget,
                  "with --hook: at most this many characters of output (default 8000); what "
                  "does not fit stays unread")
      ->check(CLI::Range(spool::k_min_budget, std::size_t{100'000'000}));
  cmd->add_option(
      "--match", o->match, "this session's repo or path: scoped messages must match it");
  cmd->callback([o, &g] { run_drain(*o, g); });
}

}  // namespace bch::cli
