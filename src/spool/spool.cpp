#include <bch/address.hpp>
#include <bch/error.hpp>
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
        endpoint.read_timeout = std::chrono::milliseconds(5000);
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
        endpoint.read_timeout = std::chrono::milliseconds(5000);
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
