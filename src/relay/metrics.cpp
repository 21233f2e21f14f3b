#include "relay/metrics.hpp"

#include <bch/protocol/relay_api.hpp>
#include <bch/util/group_sync.hpp>

#include <fmt/format.h>

namespace bch::relay {
namespace {

constexpr std::array<std::string_view, static_cast<std::size_t>(Metrics::Reject::count)>
    k_reject_names{"rate",
                   "connections",
                   "body_too_large",
                   "headers_too_large",
                   "too_slow",
                   "unauthorized",
                   "too_many_streams"};

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string_view Metrics::route_of(std::string_view path) {
  struct Route {
    std::string_view path;
    std::string_view name;
  };
  static constexpr std::array<Route, 11> k_exact{{{protocol::k_health, "health"},
                                                  {protocol::k_rooms, "rooms"},
                                                  {protocol::k_register, "register"},
                                                  {protocol::k_agents, "agents"},
                                                  {protocol::k_channels, "channels"},
                                                  {protocol::k_subscribe, "subscribe"},
                                                  {protocol::k_unsubscribe, "unsubscribe"},
                                                  {protocol::k_send, "send"},
                                                  {protocol::k_take, "take"},
                                                  {protocol::k_rotate, "rotate"},
                                                  {"/metrics", "metrics"}}};
  for (const auto& route : k_exact) {
    if (path == route.path) {
      return route.name;
    }
  }
  if (starts_with(path, protocol::k_inbox)) {
    return "inbox";
  }
  if (starts_with(path, protocol::k_events)) {
    return "events";
  }
  if (path == protocol::k_mcp) {
    return "mcp";
  }
  if (starts_with(path, protocol::k_mcp_connector)) {
    return "mcp_connector";
  }
  if (starts_with(path, protocol::k_connectors)) {
    return "connectors";
  }
  if (starts_with(path, "/v1/rooms/") && path.ends_with("/check")) {
    return "room_check";
  }
  if (starts_with(path, "/v1/rooms/")) {
    return "room_rotate";
  }
  return "other";
}

void Metrics::request(std::string_view path, int status) {
  if (status < 100 || status > 599) {
    status = 0;
  }
  std::lock_guard lock(m_mutex);
  ++m_requests[{route_of(path), status}];
}

std::string Metrics::render(const Gauges& gauges) const {
  std::string out;
  auto add = [&out](std::string_view text) { out.append(text); };
  add("# HELP bch_relay_requests_total Requests answered, by route and status.\n"
      "# TYPE bch_relay_requests_total counter\n");
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [key, count] : m_requests) {
      out += fmt::format("bch_relay_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                         key.first,
                         key.second,
                         count);
    }
  }
  add("# HELP bch_relay_rejected_total Requests and connections refused before a handler "
      "ran, by reason.\n# TYPE bch_relay_rejected_total counter\n");
  for (std::size_t i = 0; i < k_reject_names.size(); ++i) {
    out += fmt::format("bch_relay_rejected_total{{reason=\"{}\"}} {}\n",
                       k_reject_names.at(i),
                       m_rejects.at(i).load());
  }
  out += fmt::format(
      "# HELP bch_relay_sends_total Messages accepted by /v1/send (durable when counted).\n"
      "# TYPE bch_relay_sends_total counter\nbch_relay_sends_total {}\n"
      "# HELP bch_relay_claims_total Messages claimed by /v1/take.\n"
      "# TYPE bch_relay_claims_total counter\nbch_relay_claims_total {}\n"
      "# HELP bch_relay_open_streams Event streams open now.\n"
      "# TYPE bch_relay_open_streams gauge\nbch_relay_open_streams {}\n"
      "# HELP bch_relay_watched_inboxes Inboxes with an inotify watch (an open stream reads "
      "them).\n# TYPE bch_relay_watched_inboxes gauge\nbch_relay_watched_inboxes {}\n"
      "# HELP bch_relay_rooms Rooms opened since the relay started.\n"
      "# TYPE bch_relay_rooms gauge\nbch_relay_rooms {}\n",
      m_sends.load(),
      m_claims.load(),
      gauges.streams,
      gauges.watched_inboxes,
      gauges.rooms);
  auto syncs = util::GroupSync::stats();
  add("# HELP bch_relay_sync_batch_seconds Syncs shared by concurrent deliveries (the "
      "journal's group commit), by duration.\n# TYPE bch_relay_sync_batch_seconds histogram\n");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < util::GroupSync::k_buckets.size(); ++i) {
    cumulative += syncs.by_duration.at(i);
    out += fmt::format("bch_relay_sync_batch_seconds_bucket{{le=\"{}\"}} {}\n",
                       util::GroupSync::k_buckets.at(i),
                       cumulative);
  }
  out += fmt::format(
      "bch_relay_sync_batch_seconds_bucket{{le=\"+Inf\"}} {}\n"
      "bch_relay_sync_batch_seconds_sum {:.6f}\n"
      "bch_relay_sync_batch_seconds_count {}\n"
      "# HELP bch_relay_sync_batched_deliveries_total Deliveries made durable by "
      "those syncs.\n"
      "# TYPE bch_relay_sync_batched_deliveries_total counter\n"
      "bch_relay_sync_batched_deliveries_total {}\n",
      syncs.rounds,
      syncs.seconds,
      syncs.rounds,
      syncs.callers);
  return out;
}

}  // namespace bch::relay
