#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace bch::relay {

// The relay's counters for GET /metrics, in the Prometheus text format (version 0.0.4).
//
// Every label value comes from a fixed list, never from the request: a route is named by
// the pattern it matched ("/v1/events/<agent>" is "events"), a status is a number, a
// rejection one of a few reasons. So the series a hostile client can create are bounded
// by the code, not by its creativity, and nothing it sends appears in the output.
// Counters are cheap to bump from any thread (atomics; the route table under a mutex).
class Metrics {
public:
  // Why a request or connection was refused before a handler ran.
  enum class Reject : std::size_t {
    rate,               // 429: over --rate-per-address or --rate-per-token
    connections,        // 429: over --max-connections-per-address
    body_too_large,     // 413
    headers_too_large,  // 400 for a request line and headers over the cap
    too_slow,           // 408
    unauthorized,       // 401
    too_many_streams,   // 503 past --max-streams
    count               // (the number of reasons)
  };

  // The route label of a request path (a fixed name, or "other").
  static std::string_view route_of(std::string_view path);

  void request(std::string_view path, int status);
  void reject(Reject reason) { m_rejects.at(static_cast<std::size_t>(reason)).fetch_add(1); }
  void sent() { m_sends.fetch_add(1); }
  void claimed() { m_claims.fetch_add(1); }

  // The gauges are read when rendered.
  struct Gauges {
    std::size_t streams = 0;
    std::size_t watched_inboxes = 0;
    std::size_t rooms = 0;
  };
  std::string render(const Gauges& gauges) const;

private:
  mutable std::mutex m_mutex;
  std::map<std::pair<std::string_view, int>, std::uint64_t> m_requests;
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(Reject::count)> m_rejects{};
  std::atomic<std::uint64_t> m_sends{0};
  std::atomic<std::uint64_t> m_claims{0};
};

}  // namespace bch::relay
