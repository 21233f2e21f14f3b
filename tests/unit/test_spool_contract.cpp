// The spool contract: the same scenarios against every Spool implementation. A backend
// joins by adding a case to make_backend() below; a behaviour difference between
// backends is a bug in one of them.

#include "support.hpp"
#include "support/fake_brain.hpp"

#include <bch/error.hpp>
#include <bch/relay/relay_server.hpp>
#include <bch/spool/brain_spool.hpp>
#include <bch/spool/fs_spool.hpp>
#include <bch/spool/http_spool.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace {

using bch::Message;
using bch::spool::SendOptions;
using bch::spool::Spool;

// One backend under test: open() gives a fresh client of the same store, as another
// process would have.
struct Backend {
  virtual ~Backend() = default;
  virtual std::unique_ptr<Spool> open() = 0;
};

struct FsBackend final : Backend {
  explicit FsBackend(std::filesystem::path dir) : m_dir(std::move(dir)) {}
  std::unique_ptr<Spool> open() override { return std::make_unique<bch::spool::FsSpool>(m_dir); }
  std::filesystem::path m_dir;
};

// HttpSpool against an in-process relay on 127.0.0.1:0. The clients share a token book,
// so one client can act for every agent it registered, as the tests need.
struct RelayBackend final : Backend {
  explicit RelayBackend(const std::filesystem::path& dir) {
    bch::relay::RelayOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.data_dir = dir;
    m_server = std::make_unique<bch::relay::RelayServer>(options);
    m_server->start();
    m_thread = std::thread([this] { m_server->serve(); });
    m_endpoint.url = m_server->url();
    m_endpoint.tokens = std::make_shared<bch::spool::TokenBook>();
  }
  RelayBackend(const RelayBackend&) = delete;
  RelayBackend& operator=(const RelayBackend&) = delete;
  ~RelayBackend() override {
    m_server->stop();
    m_thread.join();
  }
  std::unique_ptr<Spool> open() override { return bch::spool::make_http_spool(m_endpoint); }

  std::unique_ptr<bch::relay::RelayServer> m_server;
  std::thread m_thread;
  bch::spool::RelayEndpoint m_endpoint;
};

// BrainSpool against the stand-in brain API, polling fast for the watch scenarios.
struct BrainBackend final : Backend {
  BrainBackend() {
    m_endpoint.url = m_brain.url();
    m_endpoint.token = m_brain.token();
    m_endpoint.room = "contract";
    m_endpoint.poll_interval = std::chrono::milliseconds(50);
  }
  std::unique_ptr<Spool> open() override { return bch::spool::make_brain_spool(m_endpoint); }

  bch::test::FakeBrain m_brain;
  bch::spool::BrainEndpoint m_endpoint;
};

constexpr const char* k_backend_names[] = {"fs", "relay", "brain"};

std::unique_ptr<Backend> make_backend(std::size_t index, const std::filesystem::path& dir) {
  if (index == 0) {
    return std::make_unique<FsBackend>(dir);
  }
  if (index == 2) {
    return std::make_unique<BrainBackend>();
  }
  return std::make_unique<RelayBackend>(dir);
}

bch::ErrorKind error_kind(const std::function<void()>& f) {
  try {
    f();
  } catch (const bch::Error& e) {
    return e.kind();
  }
  FAIL("no bch::Error thrown");
  return bch::ErrorKind::internal;
}

}  // namespace

TEST_CASE("spool contract", "[contract]") {
  auto index = GENERATE(range<std::size_t>(0, 3));
  INFO("backend: " << k_backend_names[index]);
  bch::test::TempDir dir;
  auto backend = make_backend(index, dir.path());
  auto spool = backend->open();
  spool->register_agent("alice");
  spool->register_agent("bob");
  spool->register_agent("carol");

  SECTION("register is idempotent and agents are sorted") {
    auto again = spool->register_agent("bob");
    CHECK(again.name == "bob");
    auto agents = spool->agents();
    REQUIRE(agents.size() == 3);
    CHECK(agents[0].name == "alice");
    CHECK(agents[2].name == "carol");
    CHECK_FALSE(agents[0].created_at.empty());
    CHECK_FALSE(agents[0].last_seen.empty());
  }

  SECTION("a DM waits in the inbox in order until taken") {
    auto m1 = spool->send("alice", "@bob", "first", {});
    auto m2 = spool->send("carol", "bob", "second", {});
    CHECK(m1.from == "alice");
    CHECK(m1.to == "@bob");
    CHECK(m2.to == "bob");
    auto unread = spool->inbox("bob");
    REQUIRE(unread.size() == 2);
    CHECK(unread[0].id == m1.id);
    CHECK(unread[1].id == m2.id);
    CHECK(spool->inbox("bob").size() == 2);  // peeking never claims
    CHECK(spool->inbox("alice").empty());

    auto taken = spool->take("bob", m1.id, false);
    REQUIRE(taken);
    CHECK(taken->body == "first");
    CHECK_FALSE(spool->take("bob", m1.id, false));  // gone
    REQUIRE(spool->inbox("bob").size() == 1);
  }

  SECTION("optional fields survive delivery") {
    SendOptions o;
    o.priority = bch::Priority::urgent;
    o.scope = "github.com/org/repo";
    o.thread = "0190d6e2-0000-7000-8000-000000000000";
    o.refs = {"a.txt", "https://x"};
    spool->send("alice", "@bob", "multi\nline \"quoted\"\n---\nbody", o);
    auto m = spool->inbox("bob").at(0);
    CHECK(m.priority == bch::Priority::urgent);
    CHECK(m.scope == o.scope);
    CHECK(m.thread == o.thread);
    CHECK(m.refs == o.refs);
    CHECK(m.body == "multi\nline \"quoted\"\n---\nbody");
  }

  SECTION("a channel fans out one copy per subscriber, sender excluded, same id") {
    spool->subscribe("alice", "#dev");
    spool->subscribe("bob", "dev");
    spool->subscribe("carol", "#dev");
    auto sent = spool->send("alice", "#dev", "ship it", {});
    CHECK(sent.to == "#dev");
    CHECK(spool->inbox("alice").empty());
    REQUIRE(spool->inbox("bob").size() == 1);
    REQUIRE(spool->inbox("carol").size() == 1);
    CHECK(spool->inbox("bob")[0].id == sent.id);
    CHECK(spool->inbox("carol")[0].id == sent.id);
    CHECK(spool->take("bob", sent.id, false));
    CHECK(spool->inbox("carol").size() == 1);  // copies are independent
  }

  SECTION("subscriptions are idempotent and channels are sorted") {
    spool->subscribe("bob", "#zeta");
    spool->subscribe("bob", "#alpha");
    spool->subscribe("bob", "#alpha");
    spool->subscribe("carol", "#alpha");
    CHECK(spool->channels() == std::vector<std::string>{"#alpha", "#zeta"});
    auto bob = spool->agents()[1];
    CHECK(bob.subscriptions == std::vector<std::string>{"#alpha", "#zeta"});
    spool->unsubscribe("bob", "zeta");
    spool->unsubscribe("bob", "#zeta");
    CHECK(spool->channels() == std::vector<std::string>{"#alpha"});
  }

  SECTION("refused sends deliver nothing") {
    CHECK(error_kind([&] { spool->send("alice", "@dave", "hi", {}); })
          == bch::ErrorKind::not_found);
    CHECK_THROWS_WITH(spool->send("alice", "#empty", "hi", {}),
                      "channel #empty has no other subscribers — nothing to deliver");
    spool->subscribe("alice", "#solo");
    CHECK(error_kind([&] { spool->send("alice", "#solo", "hi", {}); })
          == bch::ErrorKind::not_found);
    CHECK(error_kind([&] { spool->send("alice", "@bob", "", {}); }) == bch::ErrorKind::usage);
    CHECK(error_kind([&] { spool->send("alice", "@../config", "x", {}); })
          == bch::ErrorKind::usage);
    CHECK(error_kind([&] { spool->send("../alice", "@bob", "x", {}); }) == bch::ErrorKind::usage);
    CHECK(spool->inbox("bob").empty());
    CHECK(spool->inbox("alice").empty());
  }

  SECTION("unknown DM recipients get the spec's message (a relay's user: how to join)") {
    CHECK_THROWS_WITH(spool->send("alice", "@dave", "hi", {}),
                      std::string(k_backend_names[index]) == "relay"
                          ? "unknown agent \"dave\" in this room — they join it with an invite: "
                            "`bch invite` (or `bch room new`) prints one, they run `bch join "
                            "<invite> --as dave`"
                          : "unknown agent \"dave\" — they must `bch init dave` first");
  }

  SECTION("take refuses ids that could name a path, and misses are not errors") {
    CHECK(error_kind([&] { spool->take("bob", "../../agents/alice", false); })
          == bch::ErrorKind::usage);
    CHECK(error_kind([&] { spool->take("../bob", "abc", false); }) == bch::ErrorKind::usage);
    CHECK_FALSE(spool->take("bob", "0190d6e2-0000-7000-8000-000000000000", false));
    CHECK(spool->agents().size() == 3);
  }

  // Over the relay a take is final when the answer arrives (the relay API has no
  // "unclaim"); the local spool renames the file back and the brain writes it back.
  SECTION("a handler that fails leaves the message unread (local spool, brain)") {
    if (index == 1) {
      return;
    }
    auto m = spool->send("alice", "@bob", "retry me", {});
    CHECK_THROWS(
        spool->take("bob", m.id, false, [](const Message&) { throw std::runtime_error("boom"); }));
    REQUIRE(spool->inbox("bob").size() == 1);
    CHECK(spool->take("bob", m.id, false));
  }

  SECTION("concurrent takers claim each message exactly once") {
    std::vector<std::string> ids;
    for (int i = 0; i < 60; ++i) {
      ids.push_back(spool->send("alice", "@bob", fmt::format("m{}", i), {}).id);
    }
    std::mutex mutex;
    std::multiset<std::string> claimed;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        auto own = backend->open();
        for (const auto& id : ids) {
          own->take("bob", id, false, [&](const Message& m) {
            std::lock_guard lock(mutex);
            claimed.insert(m.id);
          });
        }
        (void)t;
      });
    }
    for (auto& th : threads) {
      th.join();
    }
    CHECK(claimed.size() == ids.size());
    CHECK(std::set<std::string>(claimed.begin(), claimed.end()).size() == ids.size());
    CHECK(spool->inbox("bob").empty());
  }

  SECTION("watch delivers existing messages first, then new ones, once each") {
    auto early = spool->send("alice", "@bob", "early", {});
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::string> seen;
    std::stop_source stop;
    std::thread watcher([&] {
      auto own = backend->open();
      own->watch(
          "bob",
          [&](const Message& m) {
            std::lock_guard lock(mutex);
            seen.push_back(m.id);
            cv.notify_all();
          },
          stop.get_token());
    });
    auto wait_for = [&](std::size_t n) {
      std::unique_lock lock(mutex);
      return cv.wait_for(lock, std::chrono::seconds(10), [&] { return seen.size() >= n; });
    };
    REQUIRE(wait_for(1));
    auto late = spool->send("carol", "@bob", "late", {});
    REQUIRE(wait_for(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop.request_stop();
    watcher.join();
    CHECK(seen == std::vector<std::string>{early.id, late.id});
    CHECK(spool->inbox("bob").size() == 2);  // watching never claims
  }

  SECTION("watch stops promptly when asked") {
    std::stop_source stop;
    auto started = std::chrono::steady_clock::now();
    std::thread watcher([&] {
      spool->watch(
          "bob", [](const Message&) {}, stop.get_token());
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop.request_stop();
    watcher.join();
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
  }

  SECTION("operations on unknown agents are not_found") {
    CHECK(error_kind([&] { spool->subscribe("dave", "#dev"); }) == bch::ErrorKind::not_found);
    CHECK(error_kind([&] { spool->inbox("dave"); }) == bch::ErrorKind::not_found);
  }
}
