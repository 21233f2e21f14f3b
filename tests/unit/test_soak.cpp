// A bounded soak on loopback: one relay, many agents and channels, event-stream
// watchers, and threads mixing sends, peeks, takes and drains for a fixed time
// (BCH_SOAK_SECONDS, default 6). Afterwards every copy sent was claimed exactly once,
// and the process holds no more descriptors or threads than before, and about the same
// memory.

#include "support.hpp"

#include <bch/error.hpp>
#include <bch/relay/relay_server.hpp>
#include <bch/spool/http_spool.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace {

std::size_t count_dir(const char* path) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(path)) {
    ++n;
  }
  return n;
}

// Resident memory in KiB.
long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      long kib = 0;
      status >> kib;
      return kib;
    }
    status.ignore(4096, '\n');
  }
  return 0;
}

}  // namespace

TEST_CASE("soak: mixed traffic on one relay loses, duplicates and leaks nothing", "[soak]") {
  using namespace std::chrono_literals;
  const char* env = std::getenv("BCH_SOAK_SECONDS");
  const auto duration = std::chrono::seconds(env != nullptr ? std::atoi(env) : 6);
  constexpr int k_agents = 16;
  constexpr int k_channels = 4;
  constexpr int k_watchers = 8;

  bch::test::TempDir dir;
  bch::relay::RelayOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.data_dir = dir.path();
  // Short keep-alives and idle timeouts, so closed streams and surplus workers go away
  // within the test instead of after 25 s and a minute.
  options.keepalive = 100ms;
  options.idle_worker_timeout = 200ms;
  bch::relay::RelayServer server(options);
  server.start();
  std::thread serving([&] { server.serve(); });

  bch::spool::RelayEndpoint endpoint;
  endpoint.url = server.url();
  endpoint.tokens = std::make_shared<bch::spool::TokenBook>();
  auto admin = bch::spool::make_http_spool(endpoint);
  std::vector<std::string> agents;
  for (int i = 0; i < k_agents; ++i) {
    agents.push_back(fmt::format("agent{:02}", i));
    admin->register_agent(agents.back());
    admin->subscribe(agents.back(), fmt::format("#ch{}", i % k_channels));
  }

  std::mutex mutex;
  std::multiset<std::pair<std::string, std::string>> expected;  // (recipient, id)
  std::multiset<std::pair<std::string, std::string>> claimed;
  auto record_claim = [&](const std::string& agent, const bch::Message& m) {
    std::lock_guard lock(mutex);
    claimed.emplace(agent, m.id);
  };

  // Warm up: one round of every kind of call, so lazily created state exists before
  // the baseline is taken.
  admin->send(agents[0], "@" + agents[1], "warm-up", {});
  {
    std::lock_guard lock(mutex);
    expected.emplace(agents[1], admin->inbox(agents[1]).at(0).id);
  }
  std::this_thread::sleep_for(200ms);
  std::size_t fds_before = count_dir("/proc/self/fd");
  std::size_t threads_before = count_dir("/proc/self/task");
  long rss_before = rss_kib();

  std::atomic<bool> stop{false};
  std::atomic<long> events{0};
  std::vector<std::thread> workers;
  {
    std::stop_source watch_stop;
    std::vector<std::thread> watchers;
    for (int w = 0; w < k_watchers; ++w) {
      watchers.emplace_back([&, w] {
        auto own = bch::spool::make_http_spool(endpoint);
        own->watch(
            agents[static_cast<std::size_t>(w)],
            [&](const bch::Message&) { ++events; },
            watch_stop.get_token());
      });
    }
    for (int t = 0; t < 3; ++t) {  // senders: DMs and channel posts
      workers.emplace_back([&, t] {
        auto own = bch::spool::make_http_spool(endpoint);
        std::mt19937 rng(static_cast<unsigned>(t));
        for (int n = 0; !stop; ++n) {
          const std::string& from = agents[rng() % agents.size()];
          if (n % 4 == 0) {
            std::string channel = fmt::format("#ch{}", rng() % k_channels);
            auto m = own->send(from, channel, fmt::format("post {} {}", t, n), {});
            std::lock_guard lock(mutex);
            for (int i = 0; i < k_agents; ++i) {
              if (fmt::format("#ch{}", i % k_channels) == channel
                  && agents[static_cast<std::size_t>(i)] != from) {
                expected.emplace(agents[static_cast<std::size_t>(i)], m.id);
              }
            }
          } else {
            const std::string& to = agents[rng() % agents.size()];
            auto m = own->send(from, "@" + to, fmt::format("dm {} {}", t, n), {});
            std::lock_guard lock(mutex);
            expected.emplace(to, m.id);
          }
        }
      });
    }
    for (int t = 0; t < 3; ++t) {  // readers: peek then take one, or drain all
      workers.emplace_back([&, t] {
        auto own = bch::spool::make_http_spool(endpoint);
        std::mt19937 rng(static_cast<unsigned>(100 + t));
        while (!stop) {
          const std::string& agent = agents[rng() % agents.size()];
          auto unread = own->inbox(agent);
          if (unread.empty()) {
            continue;
          }
          if (rng() % 2 == 0) {
            own->take(agent, unread[rng() % unread.size()].id, false, [&](const bch::Message& m) {
              record_claim(agent, m);
            });
          } else {
            for (const auto& m : unread) {
              own->take(
                  agent, m.id, false, [&](const bch::Message& got) { record_claim(agent, got); });
            }
          }
        }
      });
    }
    std::this_thread::sleep_for(duration);
    stop = true;
    for (auto& w : workers) {
      w.join();
    }
    watch_stop.request_stop();
    for (auto& w : watchers) {
      w.join();
    }
  }

  // Drain what is left; then every copy sent was claimed exactly once.
  for (const auto& agent : agents) {
    for (const auto& m : admin->inbox(agent)) {
      admin->take(agent, m.id, false, [&](const bch::Message& got) { record_claim(agent, got); });
    }
  }
  INFO("copies sent: " << expected.size() << ", stream events: " << events.load());
  CHECK(expected.size() > 100);
  CHECK(events.load() > 0);
  CHECK(claimed == expected);
  CHECK(std::set(claimed.begin(), claimed.end()).size() == claimed.size());

  // No leaks: give closing connections a moment, then compare with the baseline.
  // The relay's task queue keeps 8 idle workers for the next burst; the rest must exit.
  constexpr std::size_t k_kept_workers = 8;
  std::size_t fds_after = 0;
  std::size_t threads_after = 0;
  for (int i = 0; i < 200; ++i) {
    fds_after = count_dir("/proc/self/fd");
    threads_after = count_dir("/proc/self/task");
    if (fds_after <= fds_before && threads_after <= threads_before + k_kept_workers) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  CHECK(fds_after <= fds_before);
  CHECK(threads_after <= threads_before + k_kept_workers);
  long rss_after = rss_kib();
  INFO("RSS before " << rss_before << " KiB, after " << rss_after << " KiB");
#ifndef BCH_TEST_SANITIZED
  CHECK(rss_after - rss_before < 64 * 1024);
#endif

  server.stop();
  serving.join();
}
