#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/format.hpp>
#include <bch/scope.hpp>
#include <bch/spool/brain_spool.hpp>
#include <bch/spool/fs_spool.hpp>
#include <bch/spool/http_spool.hpp>
#include <bch/spool/spool.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace bch::spool {

std::optional<Message> Spool::take(const std::string& agent, const std::string& id, bool keep) {
  std::optional<Message> out;
  take(agent, id, keep, [&](const Message& m) { out = m; });
  return out;
}

nlohmann::ordered_json to_json(const AgentRecord& agent) {
  return {{"name", agent.name},
          {"subscriptions", agent.subscriptions},
          {"createdAt", agent.created_at},
          {"lastSeen", agent.last_seen}};
}

Error unknown_agent(const std::string& name) {
  return Error(
      ErrorKind::not_found,
      fmt::format("unknown agent {} — they must `bch init {}` first", in_quotes(name), name));
}

std::optional<std::string> find_unread(Spool& spool,
                                       const std::string& agent,
                                       const std::string& handle) {
  std::vector<std::string> found;
  for (const auto& m : spool.inbox(agent)) {
    if (id_matches(m.id, handle)) {
      found.push_back(m.id);
    }
  }
  if (found.size() > 1) {
    throw Error(
        ErrorKind::usage,
        fmt::format(
            "id prefix {} is ambiguous — it matches {} unread messages", handle, found.size()));
  }
  if (found.empty()) {
    return std::nullopt;
  }
  return found[0];
}

std::vector<std::string> channel_recipients(const std::vector<AgentRecord>& agents,
                                            const std::string& channel,
                                            const std::string& from) {
  std::vector<std::string> out;
  for (const auto& agent : agents) {
    if (agent.name != from
        && std::binary_search(agent.subscriptions.begin(), agent.subscriptions.end(), channel)) {
      out.push_back(agent.name);
    }
  }
  if (out.empty()) {
    throw Error(ErrorKind::not_found,
                fmt::format("channel {} has no other subscribers — nothing to deliver", channel));
  }
  return out;
}

bool wanted(const Message& message, const std::optional<std::string>& match, bool urgent_only) {
  return scope_matches(message.scope, match)
         && (!urgent_only || message.priority == Priority::urgent);
}

std::vector<Message> unread_matching(Spool& spool,
                                     const std::string& agent,
                                     const std::optional<std::string>& match,
                                     bool urgent_only) {
  auto all = spool.inbox(agent);
  std::erase_if(all, [&](const Message& m) { return !wanted(m, match, urgent_only); });
  return all;
}

std::size_t show_within_budget(Spool& spool,
                               const std::string& agent,
                               const std::vector<Message>& candidates,
                               std::size_t budget,
                               std::string_view more_hint,
                               const std::function<void(const std::string&)>& emit) {
  std::vector<Candidate> all;
  all.reserve(candidates.size());
  for (const auto& m : candidates) {
    all.push_back({m, 0});
  }
  return show_within_budget({{&spool, agent, ""}}, std::move(all), budget, more_hint, emit);
}

std::size_t show_within_budget(const std::vector<InboxSource>& sources,
                               std::vector<Candidate> candidates,
                               std::size_t budget,
                               std::string_view more_hint,
                               const std::function<void(const std::string&)>& emit) {
  if (candidates.empty()) {
    return 0;
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return message_before(a.message, b.message);
  });
  std::vector<std::string> names;  // each agent once, in the order of the sources
  std::string agents;
  for (const auto& source : sources) {
    if (std::find(names.begin(), names.end(), source.agent) == names.end()) {
      names.push_back(source.agent);
      agents += (agents.empty() ? "" : ", ") + util::sanitize(source.agent, false);
    }
  }
  std::string top = fmt::format(
      "[backchannel] {} message(s) for {}:\n{}\n", candidates.size(), agents, k_frame_note);
  auto footer = [&](std::size_t waiting, bool cut) {
    return fmt::format(
        "\n[backchannel] {} message(s) wait unread{}: {} did not fit in this output ({} "
        "characters at most). {}\n",
        waiting,
        cut ? ", the one cut above included" : "",
        waiting == 1 ? "it" : "they",
        budget,
        more_hint);
  };
  // Room kept for the footer, so that the whole output stays within the budget.
  std::size_t reserve = util::utf8_length(footer(candidates.size(), true));
  std::size_t used = util::utf8_length(top);
  std::size_t claimed = 0;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Message& message = candidates[i].message;
    const InboxSource& source = sources.at(candidates[i].source);
    bool first = claimed == 0;  // the top lines go out with the first message
    std::string shown = "\n" + format_message(message, source.room);
    std::size_t chars = util::utf8_length(shown);
    if (used + chars + reserve > budget) {
      if (!first) {
        emit(footer(candidates.size() - i, false));
        return claimed;
      }
      // Alone over the budget: shown cut, and left unread.
      std::size_t space = budget > used + reserve + 1 ? budget - used - reserve - 1 : 0;
      emit(top + "\n" + format_message_cut(message, space, source.room)
           + footer(candidates.size() - i, true));
      return claimed;
    }
    // The claimed copy is the candidate (same id, same file): its text is already made.
    bool taken = source.spool->take(source.agent, message.id, false, [&](const Message&) {
      emit(first ? top + shown : shown);
    });
    if (taken) {
      used += chars;
      ++claimed;
    }
  }
  return claimed;
}

std::unique_ptr<Spool> open_spool(const Settings& settings, bool quick) {
  switch (settings.backend) {
    case Backend::local:
      return std::make_unique<FsSpool>(settings.home);
    case Backend::relay: {
      RelayEndpoint endpoint;
      endpoint.url = settings.url.value_or("");
      endpoint.token = settings.token;
      endpoint.room = settings.room;
      if (quick) {
        endpoint.connect_timeout = std::chrono::milliseconds(2000);
        endpoint.read_timeout = std::chrono::milliseconds(3000);
        endpoint.warn_plain_http = false;
      }
      return make_http_spool(endpoint);
    }
    case Backend::brain: {
      BrainEndpoint endpoint;
      endpoint.url = settings.brain_url;
      endpoint.token = settings.brain_token.value_or("");
      endpoint.room = settings.brain_room;
      if (quick) {
        endpoint.connect_timeout = std::chrono::milliseconds(2000);
        endpoint.read_timeout = std::chrono::milliseconds(3000);
      }
      return make_brain_spool(endpoint);
    }
  }
  throw Error(ErrorKind::internal, "unknown backend");
}

std::string describe_location(const Settings& settings) {
  switch (settings.backend) {
    case Backend::local:
      return "local spool";
    case Backend::relay:
      return settings.url.value_or("");
    case Backend::brain:
      return fmt::format("brain (room: {}, {})", settings.brain_room, settings.brain_url);
  }
  return "";
}

}  // namespace bch::spool
