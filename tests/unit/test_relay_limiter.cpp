#include "relay/auth_cache.hpp"
#include "relay/limiter.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using bch::relay::ConnectionCounter;
using bch::relay::TokenBuckets;
using namespace std::chrono_literals;

TEST_CASE("limiter: a bucket allows its burst, then its rate, and says how long to wait",
          "[relay][limiter]") {
  TokenBuckets buckets(2, 4);  // 2 a second, bursts of 4
  auto t0 = TokenBuckets::Clock::now();
  for (int i = 0; i < 4; ++i) {
    CHECK_FALSE(buckets.take("a", t0));
  }
  auto wait = buckets.take("a", t0);
  REQUIRE(wait);
  CHECK(*wait == 1s);
  CHECK_FALSE(buckets.take("b", t0));          // another key has its own bucket
  CHECK_FALSE(buckets.take("a", t0 + 500ms));  // one token back after half a second
  CHECK(buckets.take("a", t0 + 500ms));
  CHECK_FALSE(buckets.take("a", t0 + 10s));  // refilled, up to the burst
}

TEST_CASE("limiter: rate 0 is no limit", "[relay][limiter]") {
  TokenBuckets off(0, 0);
  auto now = TokenBuckets::Clock::now();
  for (int i = 0; i < 10000; ++i) {
    REQUIRE_FALSE(off.take("a", now));
  }
}

TEST_CASE("limiter: the bucket table stays bounded whatever the keys", "[relay][limiter]") {
  TokenBuckets buckets(1, 1, 100);
  auto now = TokenBuckets::Clock::now();
  // Thousands of clients at once: past 100 live buckets they share one, so none of them
  // grows the table, and together they are limited like one client.
  int allowed = 0;
  for (int i = 0; i < 5000; ++i) {
    allowed += buckets.take("client" + std::to_string(i), now) ? 0 : 1;
  }
  CHECK(allowed <= 101);
  // Once the first ones are idle (refilled), their room is reused.
  CHECK_FALSE(buckets.take("late", now + 10s));
}

TEST_CASE("limiter: connections per address are capped and released", "[relay][limiter]") {
  ConnectionCounter open(2);
  CHECK(open.acquire("1.2.3.4"));
  CHECK(open.acquire("1.2.3.4"));
  CHECK_FALSE(open.acquire("1.2.3.4"));
  CHECK(open.acquire("5.6.7.8"));
  open.release("1.2.3.4");
  CHECK(open.acquire("1.2.3.4"));
  ConnectionCounter off(0);
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(off.acquire("1.2.3.4"));
  }
}

TEST_CASE("auth cache: a file is read again only when it changed", "[relay][limiter]") {
  bch::test::TempDir dir;
  auto file = dir.path() / "record.json";
  bch::relay::FileValueCache cache;
  int reads = 0;
  auto read = [&]() -> std::optional<std::string> {
    ++reads;
    return bch::test::read_text(file);
  };
  CHECK_FALSE(cache.get(file, read));  // missing: nothing, nothing read
  CHECK(reads == 0);
  bch::test::write_text(file, "one");
  CHECK(cache.get(file, read) == "one");
  CHECK(cache.get(file, read) == "one");
  CHECK(reads == 1);
  bch::test::write_text(file, "two!");  // a rewrite: another size (and mtime)
  CHECK(cache.get(file, read) == "two!");
  CHECK(reads == 2);
  std::filesystem::remove(file);
  CHECK_FALSE(cache.get(file, read));
}
