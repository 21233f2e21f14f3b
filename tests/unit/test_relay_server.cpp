// The relay's HTTP API, request by request: status codes, error bodies, auth tiers,
// rooms, hostile input and SSE, against an in-process relay on 127.0.0.1:0.

#include "relay/task_queue.hpp"
#include "support.hpp"

#include <bch/protocol/relay_api.hpp>
#include <bch/relay/relay_server.hpp>
#include <bch/util/httplib.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

namespace {

using Json = nlohmann::json;

struct Relay {
  bch::test::TempDir dir;
  std::unique_ptr<bch::relay::RelayServer> server;
  std::thread thread;

  explicit Relay(std::optional<std::string> token = std::nullopt,
                 std::optional<std::string> admin = std::nullopt,
                 std::size_t max_body = 1024 * 1024,
                 const std::function<void(bch::relay::RelayOptions&)>& tweak = {}) {
    bch::relay::RelayOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.data_dir = dir.path();
    o.token = std::move(token);
    o.admin_token = std::move(admin);
    o.max_body = max_body;
    o.keepalive = std::chrono::milliseconds(200);
    if (tweak) {
      tweak(o);
    }
    server = std::make_unique<bch::relay::RelayServer>(o);
    server->start();
    thread = std::thread([this] { server->serve(); });
  }
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;
  ~Relay() {
    server->stop();
    thread.join();
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(std::chrono::seconds(5));
    return c;
  }

  struct Reply {
    int status = 0;
    Json json;
  };

  Reply request(const std::string& method,
                const std::string& path,
                const std::string& body = "",
                const std::string& token = "",
                const std::string& room = "") const {
    auto c = client();
    httplib::Headers h;
    if (!token.empty()) {
      h.emplace("Authorization", "Bearer " + token);
    }
    if (!room.empty()) {
      h.emplace("X-Backchannel-Room", room);
    }
    auto res = method == "GET" ? c.Get(path, h) : c.Post(path, h, body, "application/json");
    REQUIRE(res);
    Reply r;
    r.status = res->status;
    r.json = Json::parse(res->body, nullptr, false);
    return r;
  }

  std::string register_agent(const std::string& name,
                             const std::string& token = "",
                             const std::string& room = "") {
    auto r = request("POST", "/v1/register", Json{{"name", name}}.dump(), token, room);
    REQUIRE(r.status == 200);
    return r.json["token"].get<std::string>();
  }
};

// An event stream read on a thread of its own until stop() (or destruction): what has
// arrived, its headers, and a bounded wait for a piece of text.
class EventReader {
public:
  EventReader(const Relay& relay, const std::string& agent, httplib::Headers headers)
      : m_client(relay.client()) {
    m_thread = std::thread([this, agent, headers = std::move(headers)] {
      m_client.Get(
          "/v1/events/" + agent,
          headers,
          [this](const httplib::Response& res) {
            std::lock_guard lock(m_mutex);
            m_accel = res.get_header_value("X-Accel-Buffering");
            return true;
          },
          [this](const char* data, std::size_t n) {
            std::lock_guard lock(m_mutex);
            m_received.append(data, n);
            return !m_stop.load();
          });
    });
  }
  EventReader(const EventReader&) = delete;
  EventReader& operator=(const EventReader&) = delete;
  ~EventReader() { stop(); }

  bool has(const std::string& needle) {
    std::lock_guard lock(m_mutex);
    return m_received.find(needle) != std::string::npos;
  }
  // Waits up to 5 s for `needle`.
  bool wait_for(const std::string& needle) {
    for (int i = 0; i < 500 && !has(needle); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return has(needle);
  }
  void stop() {
    m_stop = true;
    if (m_thread.joinable()) {
      m_thread.join();
    }
  }
  // After stop():
  const std::string& received() const { return m_received; }
  const std::string& accel() const { return m_accel; }

private:
  httplib::Client m_client;
  std::mutex m_mutex;
  std::string m_received;
  std::string m_accel;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
};

std::string error_of(const Relay::Reply& r) {
  return r.json.value("error", std::string("<no error field>"));
}

}  // namespace

TEST_CASE("health, unknown routes and the default room", "[relay]") {
  Relay relay;
  auto health = relay.request("GET", "/v1/health");
  CHECK(health.status == 200);
  CHECK(health.json == Json{{"ok", true}, {"service", "backchannel-relay"}});
  auto missing = relay.request("GET", "/v1/nope");
  CHECK(missing.status == 404);
  CHECK(error_of(missing) == "not found");
  CHECK(std::filesystem::exists(relay.dir.path() / "rooms" / "default"));
}

TEST_CASE("registration: tokens issued once, stored hashed, names not taken over", "[relay]") {
  Relay relay;
  std::string token = relay.register_agent("alice");
  CHECK(token.size() == 64);
  auto record =
      Json::parse(bch::test::read_text(relay.dir.path() / "rooms/default/agents/alice.json"));
  CHECK(record["tokenHash"].get<std::string>().size() == 64);
  CHECK(bch::test::read_text(relay.dir.path() / "rooms/default/agents/alice.json").find(token)
        == std::string::npos);

  auto taken = relay.request("POST", "/v1/register", R"({"name":"alice"})");
  CHECK(taken.status == 409);
  CHECK(error_of(taken) == "agent name \"alice\" is registered — present its token to re-register");
  auto again = relay.request("POST", "/v1/register", R"({"name":"alice"})", token);
  CHECK(again.status == 200);
  CHECK_FALSE(again.json.contains("token"));
  CHECK_FALSE(again.json.contains("tokenHash"));
  CHECK(again.json["name"] == "alice");
}

TEST_CASE("the room token admits registrations only", "[relay]") {
  Relay relay(std::string("join-secret"));
  auto no = relay.request("POST", "/v1/register", R"({"name":"bob"})");
  CHECK(no.status == 401);
  CHECK(error_of(no) == "unauthorized — registration requires the room token");
  CHECK(relay.request("POST", "/v1/register", R"({"name":"bob"})", "wrong").status == 401);
  std::string bob = relay.register_agent("bob", "join-secret");
  auto agents = relay.request("GET", "/v1/agents", "", "join-secret");
  CHECK(agents.status == 401);
  CHECK(error_of(agents) == "unauthorized — agent token required (get one via /v1/register)");
  agents = relay.request("GET", "/v1/agents", "", bob);
  REQUIRE(agents.status == 200);
  CHECK(agents.json.size() == 1);
  CHECK_FALSE(agents.json[0].contains("tokenHash"));
}

TEST_CASE("every agent route needs an agent token, and inboxes are private", "[relay]") {
  Relay relay;
  std::string alice = relay.register_agent("alice");
  std::string bob = relay.register_agent("bob");
  for (auto [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/v1/agents"},
                                                        {"GET", "/v1/channels"},
                                                        {"POST", "/v1/subscribe"},
                                                        {"POST", "/v1/unsubscribe"},
                                                        {"POST", "/v1/send"},
                                                        {"GET", "/v1/inbox/alice"},
                                                        {"POST", "/v1/take"},
                                                        {"GET", "/v1/events/alice"}}) {
    INFO(method << " " << path);
    auto r = relay.request(method, path, "{}", "not-a-token");
    CHECK(r.status == 401);
  }
  auto other = relay.request("GET", "/v1/inbox/alice", "", bob);
  CHECK(other.status == 403);
  CHECK(error_of(other) == "token is for \"bob\", not \"alice\"");
  CHECK(relay.request("GET", "/v1/events/alice", "", bob).status == 403);
  CHECK(relay.request("GET", "/v1/inbox/alice", "", alice).status == 200);
}

TEST_CASE("send stamps from, take claims once, stray fields are ignored", "[relay]") {
  Relay relay;
  std::string alice = relay.register_agent("alice");
  std::string bob = relay.register_agent("bob");
  auto sent = relay.request(
      "POST",
      "/v1/send",
      R"({"to":"@bob","body":"hi","from":"mallory","priority":"urgent","refs":["a"]})",
      alice);
  REQUIRE(sent.status == 200);
  CHECK(sent.json["from"] == "alice");
  CHECK(sent.json["priority"] == "urgent");
  std::string id = sent.json["id"];
  auto inbox = relay.request("GET", "/v1/inbox/bob", "", bob);
  REQUIRE(inbox.json.size() == 1);
  auto take = relay.request("POST", "/v1/take", Json{{"id", id}, {"agent", "alice"}}.dump(), bob);
  CHECK(take.status == 200);
  CHECK(take.json["message"]["body"] == "hi");
  auto again = relay.request("POST", "/v1/take", Json{{"id", id}}.dump(), bob);
  CHECK(again.json == Json{{"message", nullptr}});
  auto unknown = relay.request("POST", "/v1/send", R"({"to":"@zed","body":"x"})", alice);
  CHECK(unknown.status == 404);
  CHECK(error_of(unknown) == "unknown agent \"zed\" — they must `bch init zed` first");
}

TEST_CASE("hostile bodies get 400 or 413 and change nothing", "[relay]") {
  Relay relay(std::nullopt, std::nullopt, 4096);
  std::string alice = relay.register_agent("alice");
  relay.register_agent("bob");
  bch::test::write_text(relay.dir.path() / "rooms/default/agents/victim.txt", "keep");
  struct Case {
    std::string path;
    std::string body;
    std::string error;
  };
  std::vector<Case> cases = {
      {"/v1/send", "{not json", "request body is not valid JSON"},
      {"/v1/send", "[1,2]", "request body must be a JSON object"},
      {"/v1/send", R"({"to":"@bob"})", "missing \"body\""},
      {"/v1/send", R"({"to":"@bob","body":42})", "\"body\" must be a string"},
      {"/v1/send", R"({"to":"@bob","body":""})", "empty message body — nothing to send"},
      {"/v1/send",
       R"({"to":"@bob","body":"x","priority":"high"})",
       "\"priority\" must be \"normal\" or \"urgent\""},
      {"/v1/send",
       R"({"to":"@bob","body":"x","refs":"a"})",
       "\"refs\" must be an array of strings"},
      {"/v1/send",
       R"({"to":"@bob","body":"x","refs":[1]})",
       "\"refs\" must be an array of strings"},
      {"/v1/send",
       R"({"to":"@../agents/victim","body":"x"})",
       "invalid agent name \"../agents/victim\" (use letters, digits, . _ -)"},
      {"/v1/take",
       R"({"id":"../../agents/victim"})",
       "invalid message id \"../../agents/victim\" (use letters, digits and -)"},
      {"/v1/take", R"({"id":7})", "\"id\" must be a string"},
      {"/v1/take", R"({"id":"abc","keep":"yes"})", "\"keep\" must be true or false"},
      {"/v1/subscribe",
       R"({"channel":"#../x"})",
       "invalid channel name \"#../x\" (use # then letters, digits, . _ -)"},
      {"/v1/register",
       R"({"name":"../x"})",
       "invalid agent name \"../x\" (use letters, digits, . _ -)"},
      {"/v1/register", R"({"name":null})", "missing \"name\""},
  };
  for (const auto& c : cases) {
    INFO(c.path << " " << c.body);
    auto r = relay.request("POST", c.path, c.body, alice);
    CHECK(r.status == 400);
    CHECK(error_of(r) == c.error);
  }
  auto big = relay.request(
      "POST", "/v1/send", Json{{"to", "@bob"}, {"body", std::string(10000, 'x')}}.dump(), alice);
  CHECK(big.status == 413);
  CHECK(error_of(big) == "request body too large (over 4096 bytes)");
  CHECK(relay.request("GET", "/v1/inbox/..", "", alice).status == 400);
  CHECK(relay.request("GET", "/v1/inbox/..%2F..%2Fagents", "", alice).status == 404);
  CHECK(bch::test::read_text(relay.dir.path() / "rooms/default/agents/victim.txt") == "keep");
  CHECK(relay.request("GET", "/v1/health").status == 200);  // still serving
}

TEST_CASE("rooms: created with fresh tokens, isolated, unknown ones 404", "[relay]") {
  Relay relay(std::nullopt, std::string("admin"));
  auto denied = relay.request("POST", "/v1/rooms", "");
  CHECK(denied.status == 401);
  CHECK(error_of(denied) == "room creation is restricted on this relay");
  auto created = relay.request("POST", "/v1/rooms", "", "admin");
  REQUIRE(created.status == 200);
  std::string room = created.json["roomId"];
  std::string room_token = created.json["roomToken"];
  CHECK(room_token.size() == 64);
  CHECK(std::filesystem::exists(relay.dir.path() / "rooms" / room / "room.json"));

  auto unknown = relay.request("POST", "/v1/register", R"({"name":"x"})", "", "nosuchroom");
  CHECK(unknown.status == 404);
  CHECK(error_of(unknown) == "unknown room \"nosuchroom\" — create one with `bch room new`");
  CHECK(relay.request("POST", "/v1/register", R"({"name":"x"})", "", room).status == 401);

  std::string in_room = relay.register_agent("alice", room_token, room);
  std::string outside = relay.register_agent("alice");  // the same name in another room
  CHECK(relay.request("GET", "/v1/agents", "", in_room).json.size() == 1);
  // A room member's token means nothing in the default room, and the other way round.
  CHECK(relay.request("GET", "/v1/agents", "", in_room, "default").status == 401);
  CHECK(relay.request("GET", "/v1/agents", "", outside, room).status == 401);
  relay.register_agent("bob");  // in the default room only
  auto cross = relay.request("POST", "/v1/send", R"({"to":"@bob","body":"x"})", in_room, room);
  CHECK(cross.status == 404);
  CHECK(error_of(cross) == "unknown agent \"bob\" — they must `bch init bob` first");
}

TEST_CASE("SSE: existing messages first, then new ones, with ids and no buffering", "[relay]") {
  Relay relay;
  std::string alice = relay.register_agent("alice");
  std::string bob = relay.register_agent("bob");
  relay.request("POST", "/v1/send", R"({"to":"@bob","body":"before"})", alice);

  EventReader reader(relay, "bob", {{"Authorization", "Bearer " + bob}});
  CHECK(reader.wait_for("before"));
  relay.request("POST", "/v1/send", R"({"to":"@bob","body":"after"})", alice);
  CHECK(reader.wait_for("after"));
  CHECK(reader.wait_for(": keepalive"));
  reader.stop();
  const std::string& received = reader.received();
  CHECK(reader.accel() == "no");
  CHECK(received.find("id: ") != std::string::npos);
  CHECK(received.find("before") < received.find("after"));
  CHECK(relay.request("GET", "/v1/inbox/bob", "", bob).json.size() == 2);  // streams never claim
}

TEST_CASE("open event streams never starve other requests", "[relay]") {
  Relay relay;
  std::string bob = relay.register_agent("bob");
  unsigned streams = std::max(8u, 4 * std::thread::hardware_concurrency());
  std::atomic<bool> stop{false};
  std::atomic<unsigned> open{0};
  std::vector<std::thread> readers;
  for (unsigned i = 0; i < streams; ++i) {
    readers.emplace_back([&] {
      auto c = relay.client();
      c.Get(
          "/v1/events/bob",
          httplib::Headers{{"Authorization", "Bearer " + bob}},
          [&](const httplib::Response&) {
            ++open;  // the stream is served: its headers arrived
            return true;
          },
          [&](const char*, std::size_t) { return !stop.load(); });
    });
  }
  // Every stream holds its worker before the other requests start (bounded wait).
  for (int i = 0; i < 1000 && open.load() < streams; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(open.load() == streams);
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    CHECK(relay.request("GET", "/v1/health").status == 200);
  }
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
  stop = true;
  for (auto& t : readers) {
    t.join();
  }
}

TEST_CASE("sockets numbered past 1024 are served (poll, not select)", "[relay]") {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_max < 1200) {
    WARN("RLIMIT_NOFILE hard limit below 1200: cannot test descriptors past 1024");
    return;
  }
  rlimit raised = limit;
  raised.rlim_cur = std::max<rlim_t>(limit.rlim_cur, 1200);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &raised) == 0);
  Relay relay;
  // Occupy the low descriptors, so the next connection's socket is numbered > 1024.
  std::vector<int> filler;
  for (int fd = ::dup(0); fd >= 0 && fd < 1030; fd = ::dup(0)) {
    filler.push_back(fd);
  }
  auto health = relay.request("GET", "/v1/health");
  std::string token = relay.register_agent("alice");
  auto agents = relay.request("GET", "/v1/agents", "", token);
  for (int fd : filler) {
    ::close(fd);
  }
  ::setrlimit(RLIMIT_NOFILE, &limit);
  CHECK(health.status == 200);
  CHECK(agents.status == 200);
}

TEST_CASE("answer(): raw requests routed without a socket, as a connection would be", "[relay]") {
  bch::test::TempDir dir;
  bch::relay::RelayOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.data_dir = dir.path();
  o.keepalive = std::chrono::milliseconds(1);
  bch::relay::RelayServer relay(o);
  auto post = [&](const std::string& path, const std::string& token, const std::string& body) {
    return relay.answer("POST " + path + " HTTP/1.1\r\nAuthorization: Bearer " + token
                        + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  auto body_of = [](const std::string& answer) {
    auto at = answer.find("\r\n\r\n");
    REQUIRE(at != std::string::npos);
    return Json::parse(answer.substr(at + 4), nullptr, false);
  };

  CHECK(relay.answer("GET /v1/health HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(relay.answer("GARBAGE\r\n\r\n").rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(relay.answer("").empty());  // a connection closed before a request: no answer
  // A body shorter than announced is a bad request, not a wait.
  CHECK(relay.answer("POST /v1/send HTTP/1.1\r\nContent-Length: 99\r\n\r\n{}")
            .rfind("HTTP/1.1 400 ", 0)
        == 0);

  std::string alice = body_of(post("/v1/register", "", R"({"name":"alice"})"))["token"];
  std::string bob = body_of(post("/v1/register", "", R"({"name":"bob"})"))["token"];
  auto sent = body_of(post("/v1/send", alice, R"({"to":"bob","body":"over no socket"})"));
  REQUIRE(sent.contains("id"));
  std::string events_request =
      "GET /v1/events/bob HTTP/1.1\r\nAuthorization: Bearer " + bob + "\r\n\r\n";

  // Not started: the stream is set up (auth) and ends after its headers.
  auto unstarted = relay.answer(events_request);
  CHECK(unstarted.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(unstarted.find("text/event-stream") != std::string::npos);
  CHECK(unstarted.find("over no socket") == std::string::npos);

  // Started, but with no connection to hand to the stream hub: one chunk of what the
  // inbox holds, then the end.
  relay.start();
  auto started = relay.answer(events_request);
  CHECK(started.find("id: " + sent["id"].get<std::string>()) != std::string::npos);
  CHECK(started.find("over no socket") != std::string::npos);
  // Streams never claim: the message is still there to take.
  auto taken = body_of(post("/v1/take", bob, Json{{"id", sent["id"]}}.dump()));
  CHECK(taken["message"]["body"] == "over no socket");
}

TEST_CASE("a request's headers are capped in all, not only line by line", "[relay]") {
  bch::test::TempDir dir;
  bch::relay::RelayOptions o;
  o.data_dir = dir.path();
  o.max_header = 4096;
  bch::relay::RelayServer relay(o);
  auto with_headers = [](int count) {
    std::string request = "GET /v1/health HTTP/1.1\r\n";
    for (int i = 0; i < count; ++i) {
      request += "X-Pad-" + std::to_string(i) + ": " + std::string(100, 'a') + "\r\n";
    }
    return request + "\r\n";
  };
  CHECK(relay.answer(with_headers(30)).rfind("HTTP/1.1 200 ", 0) == 0);
  // Each line is far below httplib's own 8 KiB line limit; together they pass 4 KiB.
  auto refused = relay.answer(with_headers(60));
  CHECK(refused.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(refused.find(R"({"error":"malformed request, or headers over 4096 bytes"})")
        != std::string::npos);
  // The body is not counted against the header cap (it has --max-body).
  std::string body = R"({"name":")" + std::string(40, 'a') + "\"}" + std::string(8000, ' ');
  auto registered = relay.answer("POST /v1/register HTTP/1.1\r\nContent-Length: "
                                 + std::to_string(body.size()) + "\r\n\r\n" + body);
  CHECK(registered.rfind("HTTP/1.1 200 ", 0) == 0);
}

TEST_CASE("the relay's workers stop growing at the limit, connections wait in line", "[relay]") {
  std::mutex mutex;
  std::condition_variable changed;
  int running = 0;
  int most = 0;
  int finished = 0;
  bool release = false;
  bch::relay::GrowingTaskQueue::Sizes sizes;
  sizes.keep_idle = 0;
  sizes.eager = 1;
  sizes.max_workers = 2;
  sizes.idle_timeout = std::chrono::milliseconds(50);
  bch::relay::GrowingTaskQueue queue(sizes);
  // Whatever fails below, the tasks are let go before the queue waits for them.
  struct Release {
    std::mutex& mutex;
    std::condition_variable& changed;
    bool& release;
    Release(std::mutex& m, std::condition_variable& c, bool& r)
        : mutex(m), changed(c), release(r) {}
    Release(const Release&) = delete;
    Release& operator=(const Release&) = delete;
    ~Release() {
      std::lock_guard lock(mutex);
      release = true;
      changed.notify_all();
    }
  } guard(mutex, changed, release);
  for (int i = 0; i < 5; ++i) {
    queue.enqueue([&] {
      std::unique_lock lock(mutex);
      most = std::max(most, ++running);
      changed.notify_all();
      changed.wait(lock, [&] { return release; });
      --running;
      ++finished;
      changed.notify_all();
    });
  }
  {
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, std::chrono::seconds(5), [&] { return running >= 2; }));
    // Two run; three wait for a worker instead of getting threads of their own.
    CHECK_FALSE(
        changed.wait_for(lock, std::chrono::milliseconds(100), [&] { return running > 2; }));
    release = true;
    changed.notify_all();
    REQUIRE(changed.wait_for(lock, std::chrono::seconds(5), [&] { return finished == 5; }));
  }
  CHECK(most == 2);
  queue.shutdown();
}

TEST_CASE("relay: a burst of quick requests runs on the eager workers, held ones add workers",
          "[relay]") {
  bch::relay::GrowingTaskQueue::Sizes sizes;
  sizes.keep_idle = 0;
  sizes.eager = 2;
  sizes.max_workers = 64;
  sizes.idle_timeout = std::chrono::milliseconds(50);
  bch::relay::GrowingTaskQueue queue(sizes);
  std::mutex mutex;
  std::condition_variable changed;
  int running = 0;
  int most = 0;
  int finished = 0;
  // 300 quick tasks (about a millisecond each): never more than the 2 eager workers.
  for (int i = 0; i < 300; ++i) {
    queue.enqueue([&] {
      {
        std::lock_guard lock(mutex);
        most = std::max(most, ++running);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      std::lock_guard lock(mutex);
      --running;
      ++finished;
      changed.notify_all();
    });
  }
  {
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return finished == 300; }));
    CHECK(most == 2);
  }
  // Six tasks that hold their workers (slow clients): the pool grows to run them all.
  bool release = false;
  for (int i = 0; i < 6; ++i) {
    queue.enqueue([&] {
      std::unique_lock lock(mutex);
      ++running;
      changed.notify_all();
      changed.wait(lock, [&] { return release; });
      --running;
    });
  }
  {
    std::unique_lock lock(mutex);
    CHECK(changed.wait_for(lock, std::chrono::seconds(5), [&] { return running == 6; }));
    release = true;
    changed.notify_all();
  }
  queue.shutdown();
}

TEST_CASE("relay: /metrics counts requests, rejections, sends, claims and streams", "[relay]") {
  Relay relay(std::nullopt, std::string("admin-secret"));
  auto metrics = [&](const std::string& token) {
    auto c = relay.client();
    auto res = c.Get("/metrics", httplib::Headers{{"Authorization", "Bearer " + token}});
    REQUIRE(res);
    return std::make_pair(res->status, res->body);
  };
  CHECK(metrics("").first == 401);
  CHECK(metrics("wrong").first == 401);
  std::string alice = relay.register_agent("alice");
  std::string bob = relay.register_agent("bob");
  auto first = relay.request("POST", "/v1/send", R"({"to":"@bob","body":"one"})", alice);
  relay.request("POST", "/v1/send", R"({"to":"@bob","body":"two"})", alice);
  relay.request("POST", "/v1/take", Json{{"id", first.json["id"]}}.dump(), bob);
  relay.request("GET", "/v1/agents", "", "not-a-token");
  relay.request("GET", "/v1/x%1b%5b31m%0aforged");
  EventReader reader(relay, "bob", {{"Authorization", "Bearer " + bob}});
  REQUIRE(reader.wait_for("two"));
  auto [status, text] = metrics("admin-secret");
  CHECK(status == 200);
  CHECK(text.find("bch_relay_requests_total{route=\"send\",status=\"200\"} 2\n")
        != std::string::npos);
  CHECK(text.find("bch_relay_requests_total{route=\"agents\",status=\"401\"} 1\n")
        != std::string::npos);
  CHECK(text.find("bch_relay_requests_total{route=\"other\",status=\"404\"} 1\n")
        != std::string::npos);
  CHECK(text.find("bch_relay_rejected_total{reason=\"unauthorized\"} 3\n")
        != std::string::npos);  // two /metrics tries and the bad agent token
  CHECK(text.find("bch_relay_sends_total 2\n") != std::string::npos);
  CHECK(text.find("bch_relay_claims_total 1\n") != std::string::npos);
  CHECK(text.find("bch_relay_open_streams 1\n") != std::string::npos);
  CHECK(text.find("bch_relay_rooms 1\n") != std::string::npos);
  CHECK(text.find("bch_relay_sync_batch_seconds_count ") != std::string::npos);
  CHECK(text.find("forged") == std::string::npos);  // nothing a client sent is echoed
  CHECK(text.find('\x1b') == std::string::npos);
  // Every line is a comment or "name{labels} value".
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    CHECK((line.rfind("# ", 0) == 0 || line.rfind("bch_relay_", 0) == 0));
  }
  // A relay without an admin token has no metrics to give.
  Relay open;
  CHECK(open.request("GET", "/metrics").status == 401);
}

TEST_CASE("relay: a stream sends what the inbox holds oldest first, UUIDv4 ids included",
          "[relay]") {
  Relay relay;
  std::string alice = relay.register_agent("alice");
  std::string bob = relay.register_agent("bob");
  // Two messages as the TypeScript tool writes them (UUIDv4 ids: their names do not sort
  // by time), delivered an hour apart, the later one first in name order.
  auto unread = relay.dir.path() / "rooms" / "default" / "spool" / "bob" / "new";
  std::filesystem::create_directories(unread);
  auto plant = [&](const std::string& id, const std::string& body, std::time_t when) {
    auto path = unread / (id + ".json");
    std::ofstream(path) << Json{{"id", id},
                                {"from", "alice"},
                                {"to", "@bob"},
                                {"body", body},
                                {"priority", "normal"},
                                {"ts", "2026-05-01T08:59:00.000Z"}}
                               .dump();
    timespec times[2] = {{when, 0}, {when, 0}};
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  };
  std::time_t now = std::time(nullptr);
  plant("0b241101-e2bb-4255-8caf-4136c566a962", "the later v4", now - 3600);
  plant("fb241101-e2bb-4255-8caf-4136c566a962", "the older v4", now - 7200);
  relay.request("POST", "/v1/send", R"({"to":"@bob","body":"sent now"})", alice);
  EventReader reader(relay, "bob", {{"Authorization", "Bearer " + bob}});
  REQUIRE(reader.wait_for("sent now"));
  reader.stop();
  const std::string& got = reader.received();
  CHECK(got.find("the older v4") < got.find("the later v4"));
  CHECK(got.find("the later v4") < got.find("sent now"));
}

TEST_CASE("relay: event streams keep alive every 25 s by default", "[relay]") {
  CHECK(bch::relay::RelayOptions{}.keepalive == std::chrono::milliseconds(25000));
}

TEST_CASE("relay: a deleted record or tokenHash revokes the token at once, for good", "[relay]") {
  Relay relay;
  std::string alice = relay.register_agent("alice");
  std::string bob = relay.register_agent("bob");
  auto agents = relay.dir.path() / "rooms" / "default" / "agents";
  CHECK(relay.request("GET", "/v1/inbox/bob", "", bob).status == 200);

  // The operator deletes bob's record: his token stops working with no restart.
  std::filesystem::remove(agents / "bob.json");
  CHECK(relay.request("GET", "/v1/inbox/bob", "", bob).status == 401);
  CHECK(relay.request("POST", "/v1/send", R"({"to":"@alice","body":"x"})", bob).status == 401);
  // Someone registers the freed name: the revoked token neither reads nor sends as them.
  std::string new_bob = relay.register_agent("bob");
  relay.request("POST", "/v1/send", R"({"to":"@bob","body":"for the new bob"})", alice);
  CHECK(relay.request("GET", "/v1/inbox/bob", "", bob).status == 401);
  CHECK(relay.request("POST", "/v1/send", R"({"to":"@alice","body":"x"})", bob).status == 401);
  auto inbox = relay.request("GET", "/v1/inbox/bob", "", new_bob);
  REQUIRE(inbox.status == 200);
  CHECK(inbox.json.size() == 1);

  // Removing tokenHash from a record revokes too.
  auto text = bch::test::read_text(agents / "alice.json");
  auto record = Json::parse(text);
  record.erase("tokenHash");
  bch::test::write_text(agents / "alice.json", record.dump(2));
  CHECK(relay.request("GET", "/v1/agents", "", alice).status == 401);
}

TEST_CASE("relay: /v1/rotate swaps an agent's token, the old one stops working", "[relay]") {
  Relay relay;
  std::string bob = relay.register_agent("bob");
  auto rotated = relay.request("POST", "/v1/rotate", "{}", bob);
  REQUIRE(rotated.status == 200);
  std::string fresh = rotated.json["token"].get<std::string>();
  CHECK(fresh.size() == 64);
  CHECK(fresh != bob);
  CHECK(relay.request("GET", "/v1/inbox/bob", "", bob).status == 401);
  CHECK(relay.request("GET", "/v1/inbox/bob", "", fresh).status == 200);
  CHECK(relay.request("POST", "/v1/rotate", "{}", bob).status == 401);
  CHECK(relay.request("POST", "/v1/rotate", "{}").status == 401);
  auto record = Json::parse(
      bch::test::read_text(relay.dir.path() / "rooms" / "default" / "agents" / "bob.json"));
  CHECK(record["tokenHash"] == bch::protocol::sha256_hex(fresh));
}

TEST_CASE("relay: an event stream ends when its token is revoked", "[relay]") {
  Relay relay;  // keep-alive every 200 ms: the check runs at least that often
  std::string bob = relay.register_agent("bob");
  std::atomic<bool> ended{false};
  std::thread reader([&] {
    auto c = relay.client();
    c.set_read_timeout(std::chrono::seconds(10));
    c.Get("/v1/events/bob",
          httplib::Headers{{"Authorization", "Bearer " + bob}},
          [&](const char*, std::size_t) { return true; });
    ended = true;
  });
  REQUIRE(relay.request("POST", "/v1/rotate", "{}", bob).status == 200);
  for (int i = 0; i < 500 && !ended; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(ended);
  reader.join();
}

TEST_CASE("relay: a room's join token changes when room.json does, with no restart", "[relay]") {
  Relay relay;
  auto created = relay.request("POST", "/v1/rooms");
  REQUIRE(created.status == 200);
  std::string room = created.json["roomId"];
  std::string old_token = created.json["roomToken"];
  relay.register_agent("alice", old_token, room);
  auto file = relay.dir.path() / "rooms" / room / "room.json";
  auto json = Json::parse(bch::test::read_text(file));
  json["tokenHash"] = bch::protocol::sha256_hex("new-join-secret");
  bch::test::write_text(file, json.dump(2));
  CHECK(relay.request("POST", "/v1/register", R"({"name":"bob"})", old_token, room).status == 401);
  relay.register_agent("bob", "new-join-secret", room);
}

TEST_CASE("relay: a created room's join token rotates with the admin or the join token",
          "[relay]") {
  Relay relay(std::nullopt, std::string("admin-secret"));
  auto created = relay.request("POST", "/v1/rooms", "{}", "admin-secret");
  REQUIRE(created.status == 200);
  std::string room = created.json["roomId"];
  std::string first = created.json["roomToken"];
  std::string alice = relay.register_agent("alice", first, room);
  std::string path = "/v1/rooms/" + room + "/rotate";
  CHECK(relay.request("POST", path, "{}").status == 401);
  CHECK(relay.request("POST", path, "{}", "wrong").status == 401);
  CHECK(relay.request("POST", path, "{}", alice).status == 401);  // an agent token is not one
  auto by_holder = relay.request("POST", path, "{}", first);
  REQUIRE(by_holder.status == 200);
  std::string second = by_holder.json["roomToken"];
  CHECK(relay.request("POST", "/v1/register", R"({"name":"bob"})", first, room).status == 401);
  relay.register_agent("bob", second, room);
  auto by_admin = relay.request("POST", path, "{}", "admin-secret");
  REQUIRE(by_admin.status == 200);
  CHECK(relay.request("POST", "/v1/register", R"({"name":"carol"})", second, room).status == 401);
  relay.register_agent("carol", by_admin.json["roomToken"], room);
  // Agents already in keep working.
  CHECK(relay.request("GET", "/v1/inbox/alice", "", alice, room).status == 200);
  CHECK(relay.request("POST", "/v1/rooms/default/rotate", "{}", "admin-secret").status == 400);
  CHECK(relay.request("POST", "/v1/rooms/nosuchroom/rotate", "{}", "admin-secret").status == 404);
}

TEST_CASE("relay: /v1/rooms/<id>/check says whether a token admits new names", "[relay]") {
  Relay relay(std::string("team-secret"), std::nullopt);
  auto created = relay.request("POST", "/v1/rooms", "{}");
  REQUIRE(created.status == 200);
  std::string room = created.json["roomId"];
  std::string join = created.json["roomToken"];
  auto ok = relay.request("POST", "/v1/rooms/" + room + "/check", "{}", join);
  REQUIRE(ok.status == 200);
  CHECK(ok.json == Json{{"roomId", room}, {"open", false}});
  auto refused = relay.request("POST", "/v1/rooms/" + room + "/check", "{}", "wrong");
  CHECK(refused.status == 401);
  CHECK(error_of(refused) == "unauthorized — that is not this room's join token");
  CHECK(relay.request("POST", "/v1/rooms/" + room + "/check", "{}").status == 401);
  CHECK(relay.request("POST", "/v1/rooms/default/check", "{}", "team-secret").status == 200);
  CHECK(relay.request("POST", "/v1/rooms/default/check", "{}", join).status == 401);
  CHECK(relay.request("POST", "/v1/rooms/nosuchroom/check", "{}", join).status == 404);
  CHECK(relay.request("POST", "/v1/rooms/bad.room!/check", "{}", join).status == 400);
  // It registers no one.
  std::string alice = relay.register_agent("alice", join, room);
  auto agents = relay.request("GET", "/v1/agents", "", alice, room);
  CHECK(agents.json.size() == 1);
}

TEST_CASE("relay: an open default room admits any token", "[relay]") {
  Relay relay(std::nullopt, std::nullopt);
  auto open = relay.request("POST", "/v1/rooms/default/check", "{}", "anything");
  REQUIRE(open.status == 200);
  CHECK(open.json["open"] == true);
}

TEST_CASE("relay: a body over --max-body gets 413 whatever its framing", "[relay]") {
  bch::test::TempDir dir;
  bch::relay::RelayOptions o;
  o.host = "127.0.0.1";
  o.data_dir = dir.path();
  o.max_body = 1000;
  bch::relay::RelayServer relay(o);
  auto status = [](const std::string& answer) { return answer.substr(0, 12); };
  std::string big(5000, 'x');
  std::string chunked = "POST /v1/register HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) {
    chunked += "1f4\r\n" + std::string(500, 'x') + "\r\n";
  }
  chunked += "0\r\n\r\n";
  CHECK(status(relay.answer(chunked)) == "HTTP/1.1 413");
  // Many tiny chunks: the raw bytes count, so framing cannot smuggle a larger body.
  std::string tiny = "POST /v1/register HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3000; ++i) {
    tiny += "1\r\nx\r\n";
  }
  tiny += "0\r\n\r\n";
  CHECK(status(relay.answer(tiny)) == "HTTP/1.1 413");
  // A chunked body within the limit is read as usual.
  std::string ok_body = R"({"name":"alice"})";
  CHECK(status(relay.answer("POST /v1/register HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                            + fmt::format("{:x}\r\n{}\r\n0\r\n\r\n", ok_body.size(), ok_body)))
        == "HTTP/1.1 200");
  // Content-Length over the limit, with or without Expect: 100-continue.
  CHECK(status(relay.answer("POST /v1/register HTTP/1.1\r\nContent-Length: 5000\r\n\r\n" + big))
        == "HTTP/1.1 413");
  auto expect = relay.answer(
      "POST /v1/register HTTP/1.1\r\nContent-Length: 300000000\r\nExpect: 100-continue\r\n\r\n");
  CHECK(status(expect) == "HTTP/1.1 413");
  CHECK(expect.find("100 Continue") == std::string::npos);
  // No framing at all: no body (RFC 9112), not "read until the client closes".
  auto unframed = relay.answer("POST /v1/register HTTP/1.1\r\n\r\n" + big);
  CHECK(status(unframed) == "HTTP/1.1 400");
  CHECK(unframed.find("request body too large") == std::string::npos);
}

TEST_CASE("relay: rooms past the inotify instance limit work, streams included", "[relay]") {
  Relay relay;
  // Linux allows 128 inotify instances per user by default; one per room broke room 126.
  std::vector<std::string> rooms;
  for (int i = 0; i < 200; ++i) {
    auto created = relay.request("POST", "/v1/rooms");
    REQUIRE(created.status == 200);
    std::string room = created.json["roomId"];
    std::string token = created.json["roomToken"];
    REQUIRE(relay.request("POST", "/v1/register", R"({"name":"alice"})", token, room).status
            == 200);
    rooms.push_back(room + " " + token);
  }
  auto last = rooms.back();
  std::string room = last.substr(0, last.find(' '));
  std::string token = last.substr(last.find(' ') + 1);
  std::string bob = relay.register_agent("bob", token, room);
  auto alice = relay.request("POST", "/v1/register", R"({"name":"carol"})", token, room);
  REQUIRE(alice.status == 200);
  std::string carol = alice.json["token"];
  EventReader reader(
      relay, "bob", {{"Authorization", "Bearer " + bob}, {"X-Backchannel-Room", room}});
  // The stream is open once its first keep-alive arrives; then a message is pushed.
  reader.wait_for(": keepalive");
  REQUIRE(relay.request("POST", "/v1/send", R"({"to":"@bob","body":"room 200 works"})", carol, room)
              .status
          == 200);
  CHECK(reader.wait_for("room 200 works"));
}

TEST_CASE("protocol: hosts are told apart for warnings about tokens in clear", "[relay]") {
  using bch::protocol::classify_host;
  using bch::protocol::HostReach;
  for (const char* h : {"localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "a.localhost"}) {
    INFO(h);
    CHECK(classify_host(h) == HostReach::loopback);
  }
  for (const char* h : {"100.64.0.1", "100.127.255.255", "box.tail1234.ts.net", "x.ts.net."}) {
    INFO(h);
    CHECK(classify_host(h) == HostReach::tailnet);
  }
  for (const char* h : {"0.0.0.0",
                        "::",
                        "10.0.0.1",
                        "100.63.0.1",
                        "100.128.0.1",
                        "relay.example.com",
                        "ts.net.evil",
                        "127.0.0.1.example.com",
                        "128.0.0.1"}) {
    INFO(h);
    CHECK(classify_host(h) == HostReach::other);
  }
  CHECK(bch::protocol::host_of_url("http://relay.example.com:7117/x") == "relay.example.com");
  CHECK(bch::protocol::host_of_url("https://[::1]:443") == "::1");
  CHECK(bch::protocol::host_of_url("http://user@127.0.0.1") == "127.0.0.1");
  CHECK(bch::protocol::host_of_url("nope").empty());
}

TEST_CASE("relay: serve() fails when its accept loop dies, so the service restarts", "[relay]") {
  bch::test::TempDir dir;
  bch::relay::RelayOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.data_dir = dir.path();
  bch::relay::RelayServer relay(o);
  int port = relay.start();
  std::atomic<bool> failed{false};
  std::atomic<bool> returned{false};
  std::thread server([&] {
    try {
      relay.serve();
    } catch (const bch::Error&) {
      failed = true;
    }
    returned = true;
  });
  // Find the listening socket among our descriptors and shut it down under the loop:
  // accept() then fails with EINVAL.
  int listening = -1;
  for (int fd = 3; fd < 4096 && listening < 0; ++fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    int accepting = 0;
    socklen_t optlen = sizeof accepting;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0
        && addr.sin_family == AF_INET && ntohs(addr.sin_port) == port
        && ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &optlen) == 0 && accepting) {
      listening = fd;
    }
  }
  REQUIRE(listening >= 0);
  httplib::Client client("127.0.0.1", port);
  REQUIRE(client.Get("/v1/health"));  // the accept loop runs
  client.stop();
  ::shutdown(listening, SHUT_RDWR);
  for (int i = 0; i < 1000 && !returned; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(returned);
  CHECK(failed);
  if (!returned) {
    relay.stop();
  }
  server.join();
}

TEST_CASE("relay: a stream that does not read is closed, not buffered", "[relay]") {
  Relay relay;
  std::string alice = relay.register_agent("alice");
  std::string bob = relay.register_agent("bob");
  // A client that sends its request and then never reads a byte.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(relay.server->port()));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  std::string get = "GET /v1/events/bob HTTP/1.1\r\nAuthorization: Bearer " + bob + "\r\n\r\n";
  REQUIRE(::send(fd, get.data(), get.size(), 0) == static_cast<ssize_t>(get.size()));
  // Messages far beyond what the socket's buffers and the stream's allowance hold.
  std::string body(100 * 1024, 'b');
  for (int i = 0; i < 20; ++i) {
    REQUIRE(
        relay.request("POST", "/v1/send", Json{{"to", "@bob"}, {"body", body}}.dump(), alice).status
        == 200);
  }
  // The relay closed the stream: reading everything that was sent ends in EOF.
  timeval second{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &second, sizeof second);
  std::vector<char> buffer(1 << 16);
  std::size_t total = 0;
  ssize_t n = 0;
  while ((n = ::recv(fd, buffer.data(), buffer.size(), 0)) > 0) {
    total += static_cast<std::size_t>(n);
  }
  ::close(fd);
  CHECK(n == 0);
  CHECK(total < std::size_t{16} * 100 * 1024);  // not all 2 MB of events
  // A reader that keeps up is never closed, and gets every message once, in order.
  EventReader reader(relay, "alice", {{"Authorization", "Bearer " + alice}});
  reader.wait_for(": keepalive");
  for (int i = 0; i < 30; ++i) {
    relay.request("POST",
                  "/v1/send",
                  Json{{"to", "@alice"}, {"body", fmt::format("m{}:{}", i, body)}}.dump(),
                  bob);
  }
  CHECK(reader.wait_for("\"m29:"));
  reader.stop();
  const std::string& got = reader.received();
  std::size_t at = 0;
  for (int i = 0; i < 30; ++i) {
    auto next = got.find(fmt::format("\"m{}:", i), at);
    REQUIRE(next != std::string::npos);
    at = next;
  }
}

// A client socket that sent an event stream's request; reads with a time limit.
int open_raw_stream(int port, const std::string& agent, const std::string& token) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  std::string get =
      fmt::format("GET /v1/events/{} HTTP/1.1\r\nAuthorization: Bearer {}\r\n\r\n", agent, token);
  REQUIRE(::send(fd, get.data(), get.size(), 0) == static_cast<ssize_t>(get.size()));
  timeval limit{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  return fd;
}

// Reads from `fd` until `needle` has arrived (or 5 s pass without a byte).
bool read_until(int fd, const std::string& needle) {
  std::string got;
  std::array<char, 4096> buffer{};
  while (got.find(needle) == std::string::npos) {
    ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n <= 0) {
      return false;
    }
    got.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return true;
}

TEST_CASE("relay: event streams hold no worker, hundreds are served by a pool of 4", "[relay]") {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  rlimit raised = limit;
  raised.rlim_cur = std::min<rlim_t>(limit.rlim_max, 4096);
  ::setrlimit(RLIMIT_NOFILE, &raised);
  const int streams = raised.rlim_cur >= 4096 ? 600 : 200;
  Relay relay(std::nullopt, std::nullopt, 1024 * 1024, [](bch::relay::RelayOptions& o) {
    o.max_connections = 4;
    o.keepalive = std::chrono::milliseconds(25000);
  });
  std::string alice = relay.register_agent("alice");
  std::string bob = relay.register_agent("bob");
  relay.request("POST", "/v1/send", R"({"to":"@bob","body":"waiting before"})", alice);
  std::vector<int> fds;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < streams; ++i) {
    fds.push_back(open_raw_stream(relay.server->port(), "bob", bob));
  }
  // Every stream is served (with what the inbox holds) although only 4 workers exist.
  int served = 0;
  for (int fd : fds) {
    if (!read_until(fd, "waiting before")) {
      break;  // (a stream per worker would leave the rest waiting: no need to wait 5 s each)
    }
    ++served;
  }
  CHECK(served == streams);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  // Other requests are answered at once, and a new message reaches every stream.
  CHECK(relay.request("GET", "/v1/health").status == 200);
  relay.request("POST", "/v1/send", R"({"to":"@bob","body":"to all of them"})", alice);
  int reached = 0;
  for (int fd : fds) {
    if (!read_until(fd, "to all of them")) {
      break;
    }
    ++reached;
  }
  CHECK(reached == streams);
  for (int fd : fds) {
    ::close(fd);
  }
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

TEST_CASE("relay: a stream whose inbox folder is deleted ends, a new one watches the new folder",
          "[relay]") {
  Relay relay;
  std::string alice = relay.register_agent("alice");
  std::string bob = relay.register_agent("bob");
  auto inbox = relay.dir.path() / "rooms" / "default" / "spool" / "bob";
  // Reads until the relay closes the stream, or `needle` arrives (true), or 5 s pass with
  // keepalives alone (false).
  auto ends_or_gets = [](int fd, const std::string& needle) {
    std::array<char, 4096> buffer{};
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
      if (n <= 0) {
        return n == 0;
      }
      got.append(buffer.data(), static_cast<std::size_t>(n));
      if (!needle.empty() && got.find(needle) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  int first = open_raw_stream(relay.server->port(), "bob", bob);
  REQUIRE(read_until(first, "200 OK"));
  // An operator's cleanup: the inbox folder goes, and comes back with the next message.
  std::filesystem::remove_all(inbox);
  CHECK(ends_or_gets(first, ""));
  ::close(first);
  // The same while streams are being set up: whenever the folder goes, a stream either
  // ends or watches the folder there now, and so gets the next message. (One whose
  // folder went between its watch and its hand-over to the event loop was left on a dead
  // watch, neither ending nor hearing of anything.)
  for (int i = 0; i < 20; ++i) {
    relay.request("POST", "/v1/send", R"({"to":"@bob","body":"again"})", alice);
    int racing = open_raw_stream(relay.server->port(), "bob", bob);
    // The relay may be writing the message into it meanwhile: "not empty" then, again.
    std::error_code ec;
    for (int tries = 0; tries < 100 && (std::filesystem::remove_all(inbox, ec), ec); ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    REQUIRE(!ec);
    std::string after = fmt::format("after {}", i);
    relay.request("POST", "/v1/send", Json{{"to", "@bob"}, {"body", after}}.dump(), alice);
    bool live = ends_or_gets(racing, after);
    ::close(racing);
    REQUIRE(live);
  }
  relay.request("POST", "/v1/send", R"({"to":"@bob","body":"into the new folder"})", alice);
  int second = open_raw_stream(relay.server->port(), "bob", bob);
  CHECK(read_until(second, "into the new folder"));
  relay.request("POST", "/v1/send", R"({"to":"@bob","body":"and after it"})", alice);
  CHECK(read_until(second, "and after it"));
  ::close(second);
}

TEST_CASE("relay: past --max-streams a new event stream gets 503", "[relay]") {
  Relay relay(std::nullopt, std::nullopt, 1024 * 1024, [](bch::relay::RelayOptions& o) {
    o.max_streams = 2;
  });
  std::string bob = relay.register_agent("bob");
  int first = open_raw_stream(relay.server->port(), "bob", bob);
  int second = open_raw_stream(relay.server->port(), "bob", bob);
  CHECK(read_until(first, "200 OK"));
  CHECK(read_until(second, "200 OK"));
  int third = open_raw_stream(relay.server->port(), "bob", bob);
  CHECK(read_until(third, "HTTP/1.1 503"));
  ::close(third);
  ::close(first);
  // A place freed is taken again (the hub sees the close, bounded wait).
  bool again = false;
  for (int i = 0; i < 100 && !again; ++i) {
    int next = open_raw_stream(relay.server->port(), "bob", bob);
    again = read_until(next, "200 OK");
    ::close(next);
    if (!again) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  CHECK(again);
  ::close(second);
}

TEST_CASE("relay: rotation refuses hostile room ids and hands out one token per old one",
          "[relay]") {
  Relay relay(std::nullopt, std::string("admin-secret"));
  for (const char* id : {"..%2f..", "a%00b", "x%1b%5b31m"}) {
    INFO(id);
    auto r =
        relay.request("POST", std::string("/v1/rooms/") + id + "/rotate", "{}", "admin-secret");
    CHECK((r.status == 400 || r.status == 404));  // a decoded '/' matches no route
  }
  auto long_id =
      relay.request("POST", "/v1/rooms/" + std::string(100, 'a') + "/rotate", "{}", "admin-secret");
  CHECK(long_id.status == 400);
  CHECK_FALSE(std::filesystem::exists(relay.dir.path() / "rooms" / std::string(100, 'a')));
  CHECK_FALSE(std::filesystem::exists(relay.dir.path().parent_path() / "room.json"));
  // Two rotations with the same token at once: exactly one gets a new token.
  std::string bob = relay.register_agent("bob");
  std::atomic<int> won{0};
  std::vector<std::thread> racers;
  for (int i = 0; i < 8; ++i) {
    // No Catch assertion off the main thread (Catch is not thread-safe): plain client.
    racers.emplace_back([&] {
      auto c = relay.client();
      auto res = c.Post("/v1/rotate",
                        httplib::Headers{{"Authorization", "Bearer " + bob}},
                        "{}",
                        "application/json");
      if (res && res->status == 200) {
        ++won;
      }
    });
  }
  for (auto& t : racers) {
    t.join();
  }
  CHECK(won == 1);
}

namespace {

// One MCP request to the relay's /mcp: status, session header and JSON answer.
struct McpReply {
  int status = 0;
  std::string session;
  Json json;
};

// Without Catch's macros, which other threads must not use: nothing when no answer came.
std::optional<McpReply> mcp_try_post(const Relay& relay,
                                     const Json& message,
                                     const std::string& token,
                                     const std::string& session = "",
                                     const std::string& path = "/mcp",
                                     httplib::Headers h = {}) {
  auto c = relay.client();
  h.emplace("Accept", "application/json, text/event-stream");
  if (!token.empty()) {
    h.emplace("Authorization", "Bearer " + token);
  }
  if (!session.empty()) {
    h.emplace("Mcp-Session-Id", session);
  }
  auto res = c.Post(path, h, message.dump(), "application/json");
  if (!res) {
    return std::nullopt;
  }
  return McpReply{
      res->status, res->get_header_value("Mcp-Session-Id"), Json::parse(res->body, nullptr, false)};
}

McpReply mcp_post(const Relay& relay,
                  const Json& message,
                  const std::string& token,
                  const std::string& session = "",
                  const std::string& path = "/mcp",
                  httplib::Headers h = {}) {
  auto reply = mcp_try_post(relay, message, token, session, path, std::move(h));
  REQUIRE(reply);
  return *reply;
}

const Json k_initialize{{"jsonrpc", "2.0"},
                        {"id", 1},
                        {"method", "initialize"},
                        {"params", {{"protocolVersion", "2025-06-18"}}}};
const Json k_ping{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "ping"}};

}  // namespace

TEST_CASE("mcp over http: sessions are bound to their token, capped and expire", "[relay]") {
  Relay relay("room", std::nullopt, 1024 * 1024, [](bch::relay::RelayOptions& o) {
    o.mcp_sessions_per_credential = 2;
    o.mcp_session_idle = std::chrono::milliseconds(300);
  });
  std::string alice = relay.register_agent("alice", "room");
  std::string bob = relay.register_agent("bob", "room");

  auto opened = mcp_post(relay, k_initialize, alice);
  REQUIRE(opened.status == 200);
  CHECK(opened.json["result"]["protocolVersion"] == "2025-06-18");
  REQUIRE(opened.session.size() == 64);
  CHECK(mcp_post(relay, k_ping, alice, opened.session).status == 200);
  CHECK(mcp_post(relay, k_ping, bob, opened.session).status == 404);  // not bob's
  CHECK(mcp_post(relay, k_ping, alice).status == 400);                // no session
  CHECK(mcp_post(relay, k_initialize, "").status == 401);

  // A third session for the same token retires the least recently used.
  auto second = mcp_post(relay, k_initialize, alice);
  CHECK(mcp_post(relay, k_ping, alice, opened.session).status == 200);  // now the newer
  auto third = mcp_post(relay, k_initialize, alice);
  CHECK(mcp_post(relay, k_ping, alice, second.session).status == 404);
  CHECK(mcp_post(relay, k_ping, alice, opened.session).status == 200);
  CHECK(mcp_post(relay, k_ping, alice, third.session).status == 200);

  // Idle past its limit, a session is gone.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  CHECK(mcp_post(relay, k_ping, alice, third.session).status == 404);

  // A tool call acts as the token's agent: the message is from alice.
  auto s = mcp_post(relay, k_initialize, alice).session;
  auto sent = mcp_post(
      relay,
      Json{{"jsonrpc", "2.0"},
           {"id", 3},
           {"method", "tools/call"},
           {"params",
            {{"name", "bch_send"}, {"arguments", {{"target", "@bob"}, {"body", "over mcp"}}}}}},
      alice,
      s);
  CHECK(sent.json["result"]["isError"] == false);
  auto inbox = relay.request("GET", "/v1/inbox/bob", "", bob);
  REQUIRE(inbox.json.size() == 1);
  CHECK(inbox.json[0]["from"] == "alice");
  CHECK(inbox.json[0]["body"] == "over mcp");
}

TEST_CASE("mcp over http: a request's protocol version must be its session's", "[relay]") {
  Relay relay("room");
  std::string alice = relay.register_agent("alice", "room");
  auto s = mcp_post(relay, k_initialize, alice).session;  // 2025-06-18
  auto with = [&](const char* version) {
    return mcp_post(relay, k_ping, alice, s, "/mcp", {{"MCP-Protocol-Version", version}});
  };
  CHECK(with("2025-06-18").status == 200);
  auto other = with("2025-11-25");  // supported, but not what this session agreed
  CHECK(other.status == 400);
  CHECK(other.json["error"]["message"]
        == "MCP-Protocol-Version \"2025-11-25\" is not this session's \"2025-06-18\"");
  CHECK(with("1999-01-01").status == 400);
  CHECK(mcp_post(relay, k_ping, alice, s).status == 200);  // 2025-03-26 clients send none
}

TEST_CASE("mcp over http: sessions opened, used, ended and expiring from many threads", "[relay]") {
  Relay relay("room", std::nullopt, 1024 * 1024, [](bch::relay::RelayOptions& o) {
    o.mcp_sessions_per_credential = 3;
    o.mcp_max_sessions = 8;
    o.mcp_session_idle = std::chrono::milliseconds(30);
  });
  std::vector<std::string> tokens;
  for (int i = 0; i < 4; ++i) {
    tokens.push_back(relay.register_agent(fmt::format("a{}", i), "room"));
  }
  std::atomic<int> unexpected{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      const std::string& token = tokens[static_cast<std::size_t>(t) % tokens.size()];
      auto c = relay.client();
      for (int i = 0; i < 25; ++i) {
        auto opened = mcp_try_post(relay, k_initialize, token);
        if (opened && opened->status == 503) {
          continue;  // the relay's cap: refused, nothing opened
        }
        if (!opened || opened->status != 200) {
          ++unexpected;
          continue;
        }
        auto ping = mcp_try_post(relay, k_ping, token, opened->session);
        // 404: retired by a newer session of the token, or expired
        if (!ping || (ping->status != 200 && ping->status != 404)) {
          ++unexpected;
        }
        if (i % 3 == 0) {
          auto ended = c.Delete("/mcp",
                                httplib::Headers{{"Authorization", "Bearer " + token},
                                                 {"Mcp-Session-Id", opened->session}});
          if (!ended || (ended->status != 204 && ended->status != 404)) {
            ++unexpected;
          }
        }
      }
    });
  }
  for (auto& t : clients) {
    t.join();
  }
  CHECK(unexpected == 0);
  // Once all are idle past the limit, a new session opens whatever came before.
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  for (const auto& token : tokens) {
    CHECK(mcp_post(relay, k_initialize, token).status == 200);
  }
}

TEST_CASE("mcp over http: a connector acts as its agent until revoked", "[relay]") {
  Relay relay("room");
  std::string alice = relay.register_agent("alice", "room");
  auto made = relay.request("POST", "/v1/connectors", R"({"label":"web"})", alice);
  REQUIRE(made.status == 200);
  std::string secret = made.json["secret"];
  std::string path = made.json["path"];
  CHECK(path == "/mcp/c/" + secret);
  CHECK(made.json["id"].get<std::string>().size() == 12);
  // Stored hashed: the secret is nowhere under the data folder.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(relay.dir.path())) {
    if (entry.is_regular_file()) {
      std::ifstream in(entry.path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      CHECK(text.find(secret) == std::string::npos);
    }
  }
  auto opened = mcp_post(relay, k_initialize, "", "", path);
  REQUIRE(opened.status == 200);
  CHECK(mcp_post(relay, k_ping, "", opened.session, path).status == 200);
  // The session is the connector's: alice's token cannot use it on /mcp.
  CHECK(mcp_post(relay, k_ping, alice, opened.session).status == 404);

  auto listed = relay.request("GET", "/v1/connectors", "", alice);
  REQUIRE(listed.json["connectors"].size() == 1);
  CHECK(listed.json["connectors"][0]["label"] == "web");
  CHECK(relay.request("POST", "/v1/connectors", R"({"label":"a\u001b[31m"})", alice).status == 400);
  CHECK(relay.request("POST", "/v1/connectors/revoke", R"({"id":"abc"})", alice).status == 400);
  CHECK(relay.request("POST", "/v1/connectors/revoke", R"({"id":"all"})", "").status == 401);
  auto revoked =
      relay.request("POST", "/v1/connectors/revoke", Json{{"id", made.json["id"]}}.dump(), alice);
  CHECK(revoked.json["revoked"] == 1);
  CHECK(mcp_post(relay, k_ping, "", opened.session, path).status == 401);
  CHECK(mcp_post(relay, k_initialize, "", "", path).status == 401);
}
