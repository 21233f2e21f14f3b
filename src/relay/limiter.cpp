// Per-client limits (nginx's limit_conn and limit_req, in miniature). One client, or one
// agent token, must not be able to take the relay from everyone else: it may hold only
// so many connections, and send only so many requests a second with a burst allowance.
// Both tables are keyed by strings from the network, so both are bounded: the
// connection table holds only addresses with open connections (each at most the cap),
// and the bucket table drops idle buckets, or pools newcomers, past its size.

#include "relay/limiter.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace bch::relay {

TokenBuckets::TokenBuckets(double rate, double burst, std::size_t max_keys)
    : m_rate(rate), m_burst(std::max(burst, 1.0)), m_max_keys(max_keys) {
  m_overflow.tokens = m_burst;
}

void TokenBuckets::refill(Bucket& b, Clock::time_point now) const {
  double elapsed = std::chrono::duration<double>(now - b.last).count();
  if (elapsed > 0) {
    b.tokens = std::min(m_burst, b.tokens + elapsed * m_rate);
    b.last = now;
  }
}

std::optional<std::chrono::seconds> TokenBuckets::take(const std::string& key,
                                                       Clock::time_point now) {
  if (m_rate <= 0) {
    return std::nullopt;
  }
  std::lock_guard lock(m_mutex);
  auto it = m_buckets.find(key);
  Bucket* bucket = nullptr;
  if (it != m_buckets.end()) {
    bucket = &it->second;
  } else {
    if (m_buckets.size() >= m_max_keys) {
      for (auto b = m_buckets.begin(); b != m_buckets.end();) {
        refill(b->second, now);
        b = b->second.tokens >= m_burst ? m_buckets.erase(b) : std::next(b);
      }
    }
    if (m_buckets.size() < m_max_keys) {
      bucket = &m_buckets.emplace(key, Bucket{m_burst, now}).first->second;
    } else {
      bucket = &m_overflow;
    }
  }
  refill(*bucket, now);
  if (bucket->tokens >= 1) {
    bucket->tokens -= 1;
    return std::nullopt;
  }
  double wait = (1 - bucket->tokens) / m_rate;
  return std::chrono::seconds(static_cast<long long>(std::ceil(wait)));
}

bool ConnectionCounter::acquire(const std::string& address) {
  if (m_max == 0) {
    return true;
  }
  std::lock_guard lock(m_mutex);
  auto& open = m_open[address];  // m_max > 0, so a new entry is below it
  if (open >= m_max) {
    return false;
  }
  ++open;
  return true;
}

void ConnectionCounter::release(const std::string& address) {
  if (m_max == 0) {
    return;
  }
  std::lock_guard lock(m_mutex);
  auto it = m_open.find(address);
  if (it != m_open.end() && --it->second == 0) {
    m_open.erase(it);
  }
}

}  // namespace bch::relay
