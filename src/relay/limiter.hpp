#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace bch::relay {

// Token buckets, one per key (a client address, or an agent token's hash): each holds up
// to `burst` tokens and refills at `rate` per second; a request takes one. The map is
// bounded: past `max_keys`, buckets that have refilled completely (their clients idle)
// are dropped, and if none has, the new key shares a single overflow bucket rather than
// growing the map.
class TokenBuckets {
public:
  using Clock = std::chrono::steady_clock;

  // `rate` 0 turns the limit off.
  TokenBuckets(double rate, double burst, std::size_t max_keys = 100000);

  // Takes a token for `key`: nothing when allowed, else how long until one is there
  // (what Retry-After says, rounded up to whole seconds).
  std::optional<std::chrono::seconds> take(const std::string& key, Clock::time_point now);

private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point last;
  };
  void refill(Bucket& b, Clock::time_point now) const;

  double m_rate;
  double m_burst;
  std::size_t m_max_keys;
  std::mutex m_mutex;
  std::unordered_map<std::string, Bucket> m_buckets;
  Bucket m_overflow;
};

// Open connections per client address, capped. `max` 0 turns the cap off.
class ConnectionCounter {
public:
  explicit ConnectionCounter(std::size_t max) : m_max(max) {}

  // Counts a connection from `address`; false (and not counted) when it is at the cap.
  bool acquire(const std::string& address);
  void release(const std::string& address);

private:
  std::size_t m_max;
  std::mutex m_mutex;
  std::unordered_map<std::string, std::size_t> m_open;
};

}  // namespace bch::relay
