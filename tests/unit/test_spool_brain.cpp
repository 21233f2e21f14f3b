// The brain backend beyond the shared contract: the exact documents it writes, every
// fault of the stand-in API retried or reported as SPEC section 9 says, partial fan-out,
// the archive, and the token kept out of every message.

#include "support.hpp"
#include "support/fake_brain.hpp"

#include <bch/error.hpp>
#include <bch/spool/brain_spool.hpp>
#include <bch/util/httplib.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

using bch::spool::SendOptions;
using bch::test::BrainFault;
using bch::test::FakeBrain;

namespace {

constexpr const char* k_base = "/private/backchannel/team/";

struct Brain {
  FakeBrain fake;
  bch::spool::BrainEndpoint endpoint;
  std::unique_ptr<bch::spool::Spool> spool;

  // Every retry wait the client asked for, in order (it does not sleep in tests).
  std::shared_ptr<std::vector<long long>> waits = std::make_shared<std::vector<long long>>();

  Brain() {
    endpoint.url = fake.url();
    endpoint.token = fake.token();
    endpoint.room = "team";
    endpoint.wait = [waits = waits](std::chrono::milliseconds w) { waits->push_back(w.count()); };
    endpoint.read_timeout = std::chrono::milliseconds(500);
    endpoint.poll_interval = std::chrono::milliseconds(50);
    spool = bch::spool::make_brain_spool(endpoint);
    for (const char* name : {"alice", "bob", "carol", "dave"}) {
      spool->register_agent(name);
    }
  }
};

// Splits a document into its front-matter lines and its markdown.
std::pair<std::vector<std::string>, std::string> split_document(const std::string& text) {
  REQUIRE(text.rfind("---\n", 0) == 0);
  std::vector<std::string> lines;
  std::size_t pos = 4;
  for (;;) {
    auto end = text.find('\n', pos);
    REQUIRE(end != std::string::npos);
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line == "---") {
      return {lines, text.substr(pos)};
    }
    lines.push_back(line);
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const bch::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("brain: documents have the spec's paths and front matter", "[brain]") {
  Brain b;
  SendOptions o;
  o.priority = bch::Priority::urgent;
  o.scope = "github.com/org/repo";
  o.refs = {"a.txt"};
  std::string body = "say \"hi\" \\ then\n---\nnot: front matter\nünïcødé ✓ 🚀\n---";
  auto sent = b.spool->send("alice", "@bob", body, o);

  auto docs = b.fake.documents();
  std::string log_path = std::string(k_base) + "log/" + sent.id + ".md";
  std::string inbox_path = std::string(k_base) + "inbox/bob/" + sent.id + ".md";
  REQUIRE(docs.count(log_path) == 1);
  REQUIRE(docs.count(inbox_path) == 1);
  CHECK(docs[log_path] == docs[inbox_path]);

  auto [lines, markdown] = split_document(docs[log_path]);
  std::vector<std::string> keys;
  nlohmann::json fields;
  for (const auto& line : lines) {
    auto colon = line.find(": ");
    REQUIRE(colon != std::string::npos);
    keys.push_back(line.substr(0, colon));
    fields[line.substr(0, colon)] = nlohmann::json::parse(line.substr(colon + 2));
  }
  CHECK(keys
        == std::vector<std::string>{"id", "from", "to", "priority", "ts", "scope", "refs", "body"});
  CHECK(fields["id"] == sent.id);
  CHECK(fields["from"] == "alice");
  CHECK(fields["to"] == "@bob");
  CHECK(fields["priority"] == "urgent");
  CHECK(fields["ts"] == sent.ts);
  CHECK(fields["scope"] == "github.com/org/repo");
  CHECK(fields["refs"] == nlohmann::json::array({"a.txt"}));
  CHECK(fields["body"] == body);
  CHECK(markdown == "# alice → @bob\n\n" + body + "\n");

  // Read back through the spool, the body is exact.
  auto unread = b.spool->inbox("bob");
  REQUIRE(unread.size() == 1);
  CHECK(unread[0].body == body);
  CHECK(unread[0].refs == o.refs);

  auto [agent_lines, agent_md] = split_document(docs[std::string(k_base) + "agents/bob.md"]);
  REQUIRE(agent_lines.size() == 3);
  CHECK(agent_lines[0] == "subscriptions: []");
  CHECK(agent_lines[1].rfind("createdAt: \"20", 0) == 0);
  CHECK(agent_lines[2].rfind("lastSeen: \"20", 0) == 0);
  CHECK(agent_md == "# Agent: bob\n");
}

TEST_CASE("brain: the archive copy survives take, take is read then delete", "[brain]") {
  Brain b;
  auto sent = b.spool->send("alice", "@bob", "keep a record", {});
  REQUIRE(b.spool->take("bob", sent.id, false));
  auto log = b.fake.requests();
  auto docs = b.fake.documents();
  CHECK(docs.count(std::string(k_base) + "inbox/bob/" + sent.id + ".md") == 0);
  CHECK(docs.count(std::string(k_base) + "log/" + sent.id + ".md") == 1);
  CHECK(b.spool->inbox("bob").empty());
  CHECK(log[log.size() - 2] == std::string("GET ") + k_base + "inbox/bob/" + sent.id + ".md");
  CHECK(log.back() == std::string("DELETE ") + k_base + "inbox/bob/" + sent.id + ".md");
}

TEST_CASE("brain: inbox is one list request, and list answers without bodies are completed",
          "[brain]") {
  Brain b;
  b.spool->send("alice", "@bob", "one", {});
  b.spool->send("carol", "@bob", "two", {});
  auto before = b.fake.requests().size();
  CHECK(b.spool->inbox("bob").size() == 2);
  CHECK(b.fake.requests().size() == before + 1);

  b.fake.omit_bodies(true);
  auto unread = b.spool->inbox("bob");
  REQUIRE(unread.size() == 2);
  CHECK(unread[0].body == "one");
  CHECK(unread[1].body == "two");
  CHECK(b.fake.requests().size() == before + 1 + 3);  // the list, then each document
}

TEST_CASE("brain: every transient fault is retried and the call succeeds", "[brain]") {
  struct Case {
    const char* what;
    BrainFault fault;
  };
  auto status = [](int code, std::string body, std::string type = "application/json") {
    BrainFault f;
    f.status = code;
    f.body = std::move(body);
    f.content_type = std::move(type);
    return f;
  };
  BrainFault retry_after = status(429, R"({"error":{"message":"slow down"}})");
  retry_after.retry_after = "1";
  BrainFault slow;
  slow.delay_ms = 900;  // past the 500 ms read timeout
  BrainFault drop;
  drop.drop = true;
  std::vector<Case> cases = {
      {"429 with Retry-After", retry_after},
      {"429 without Retry-After", status(429, "")},
      {"500 with a JSON error", status(500, R"({"error":{"message":"internal"}})")},
      {"502 with plain text", status(502, "Bad Gateway\n", "text/plain")},
      {"503 with a literal null", status(503, "null")},
      {"503 with an HTML page", status(503, "<html><body>down</body></html>", "text/html")},
      {"a slow answer", slow},
      {"a dropped connection", drop},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.what) {
      Brain b;
      for (const char* method : {"PUT", "GET"}) {
        BrainFault f = c.fault;
        f.method = method;
        f.times = 2;  // two failures, the third attempt succeeds
        b.fake.add_fault(f);
      }
      auto sent = b.spool->send("alice", "@bob", "through the storm", {});
      auto unread = b.spool->inbox("bob");
      REQUIRE(unread.size() == 1);
      CHECK(unread[0].id == sent.id);
    }
  }
}

TEST_CASE("brain: retries wait as the spec says", "[brain]") {
  Brain b;
  // The waits one call asks for when `f` strikes.
  auto waits_for = [&](const BrainFault& f) {
    b.fake.add_fault(f);
    b.waits->clear();
    b.spool->agents();
    return *b.waits;
  };
  BrainFault limited;
  limited.status = 429;
  limited.retry_after = "3";
  CHECK(waits_for(limited) == std::vector<long long>{3000});  // Retry-After 3 s
  limited.retry_after = "600";
  CHECK(waits_for(limited) == std::vector<long long>{5000});  // capped at 5 s
  limited.retry_after = "0.5";
  CHECK(waits_for(limited) == std::vector<long long>{500});
  limited.retry_after.reset();
  limited.times = 2;
  CHECK(waits_for(limited) == std::vector<long long>{1000, 2000});  // 1 s × attempt
  limited.retry_after = "soon";
  limited.times = 1;
  CHECK(waits_for(limited) == std::vector<long long>{1000});  // unreadable: as if absent
  BrainFault down;
  down.status = 503;
  down.times = 2;
  CHECK(waits_for(down) == std::vector<long long>{300, 600});  // 300 ms × attempt
}

TEST_CASE("brain: a fault that persists ends after 3 attempts with a clear error", "[brain]") {
  Brain b;
  BrainFault down;
  down.status = 503;
  down.body = "null";
  down.times = -1;
  b.fake.add_fault(down);
  auto before = b.fake.requests().size();
  std::string error;
  bch::ErrorKind kind = bch::ErrorKind::internal;
  try {
    b.spool->agents();
  } catch (const bch::Error& e) {
    error = e.what();
    kind = e.kind();
  }
  CHECK(kind == bch::ErrorKind::unavailable);
  CHECK(error == "brain " + b.fake.url() + " unreachable after 3 attempts: HTTP 503: HTTP 503");
  CHECK(b.fake.requests().size() == before + 3);

  b.fake.clear_faults();
  BrainFault limited;
  limited.status = 429;
  limited.times = -1;
  b.fake.add_fault(limited);
  CHECK(error_of([&] { b.spool->agents(); })
        == "brain " + b.fake.url()
               + " is rate-limiting requests (HTTP 429, 3 attempts) — try again later");

  b.fake.clear_faults();
  BrainFault refused;
  refused.status = 400;
  refused.body = R"({"error":{"message":"path is invalid"}})";
  b.fake.add_fault(refused);
  before = b.fake.requests().size();
  CHECK(error_of([&] { b.spool->agents(); })
        == "brain " + b.fake.url() + " refused the request (HTTP 400: path is invalid)");
  CHECK(b.fake.requests().size() == before + 1);  // a 4xx is not retried
}

TEST_CASE("brain: a recipient failing mid-fan-out is named, with those who got it", "[brain]") {
  Brain b;
  for (const char* name : {"bob", "carol", "dave"}) {
    b.spool->subscribe(name, "#dev");
  }
  BrainFault carol_down;
  carol_down.method = "PUT";
  carol_down.path_contains = "/inbox/carol/";
  carol_down.status = 502;
  carol_down.body = "upstream timeout";
  carol_down.content_type = "text/plain";
  carol_down.times = -1;
  b.fake.add_fault(carol_down);
  std::string error = error_of([&] { b.spool->send("alice", "#dev", "deploy at 5", {}); });
  CHECK_THAT(error,
             Catch::Matches("message [0-9a-f]{8} partly delivered: bob, dave got it, carol did "
                            "not: brain http://127.0.0.1:[0-9]+ unreachable after 3 attempts: HTTP "
                            "502: upstream timeout"));
  CHECK(b.spool->inbox("bob").size() == 1);
  CHECK(b.spool->inbox("dave").size() == 1);
  CHECK(b.spool->inbox("carol").empty());
  std::size_t archived = 0;
  for (const auto& [path, text] : b.fake.documents()) {
    archived += path.rfind(std::string(k_base) + "log/", 0) == 0 ? 1U : 0U;
  }
  CHECK(archived == 1);

  // When the archive itself fails, nobody gets anything.
  b.fake.clear_faults();
  BrainFault log_down;
  log_down.path_contains = "/log/";
  log_down.status = 500;
  log_down.times = -1;
  b.fake.add_fault(log_down);
  CHECK_THROWS(b.spool->send("alice", "@bob", "never", {}));
  CHECK(b.spool->inbox("bob").size() == 1);
}

TEST_CASE("brain: the token never appears in errors", "[brain]") {
  Brain b;
  BrainFault echo;
  echo.status = 500;
  echo.times = -1;
  echo.body = R"({"error":{"message":"bad auth header Bearer )" + b.fake.token() + R"("}})";
  b.fake.add_fault(echo);
  std::string error = error_of([&] { b.spool->agents(); });
  CHECK_THAT(error, Catch::Contains("Bearer <token>"));
  CHECK(error.find(b.fake.token()) == std::string::npos);

  auto wrong = b.endpoint;
  wrong.token = "usk_wrong_secret_value";
  auto spool = bch::spool::make_brain_spool(wrong);
  error = error_of([&] { spool->agents(); });
  CHECK(error
        == "brain " + b.fake.url()
               + " rejected the token (HTTP 401: invalid or missing token) — check UNISON_TOKEN "
                 "or `bch init <name> --brain --brain-token …`");
  CHECK(error.find("usk_wrong_secret_value") == std::string::npos);
}

TEST_CASE("brain: a broken document is skipped, the rest of the inbox still reads", "[brain]") {
  Brain b;
  b.spool->send("alice", "@bob", "good", {});
  // Someone else's tool wrote junk where a message belongs.
  auto raw = bch::spool::make_brain_spool(b.endpoint);
  httplib::Client client(b.fake.url());
  nlohmann::json junk{
      {"path", std::string(k_base) + "inbox/bob/0190d6e2-0000-7000-8000-000000000000.md"},
      {"bodyMd", "no front matter here"}};
  auto put = client.Put("/v1/brain/doc",
                        {{"Authorization", "Bearer " + b.fake.token()}},
                        junk.dump(),
                        "application/json");
  REQUIRE(put);
  auto unread = b.spool->inbox("bob");
  REQUIRE(unread.size() == 1);
  CHECK(unread[0].body == "good");
}

TEST_CASE("brain: watch polls and never writes", "[brain]") {
  Brain b;
  b.spool->send("alice", "@bob", "one", {});
  std::vector<std::string> seen;
  std::stop_source stop;
  auto before = b.fake.requests().size();
  std::thread watcher([&] {
    b.spool->watch(
        "bob", [&](const bch::Message& m) { seen.push_back(m.body); }, stop.get_token());
  });
  // Wait (bounded) for three more polls than the first listing, not for a time.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (b.fake.requests().size() <= before + 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop.request_stop();
  watcher.join();
  CHECK(seen == std::vector<std::string>{"one"});
  auto log = b.fake.requests();
  REQUIRE(log.size() > before + 4);  // it polled several times
  for (std::size_t i = before; i < log.size(); ++i) {
    CHECK(log[i].rfind("GET ", 0) == 0);
  }
}

TEST_CASE("brain: room names are slugs and a token is required", "[brain]") {
  CHECK_NOTHROW(bch::spool::check_brain_room("team-a_1"));
  for (const char* bad : {"", "Team", "../x", "a/b", "-a", "a b"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(bch::spool::check_brain_room(bad), bch::Error);
  }
  bch::spool::BrainEndpoint e;
  e.url = "https://brain.example";
  CHECK_THROWS_WITH(bch::spool::make_brain_spool(e), Catch::Contains("needs a token"));
}

TEST_CASE("brain: documents parse back whatever the body holds", "[brain]") {
  bch::Message m;
  m.id = "0190d6e2-0000-7000-8000-000000000000";
  m.from = "alice";
  m.to = "#dev";
  m.ts = "2026-06-12T12:00:00.000Z";
  m.thread = "0190d6e2-0000-7000-8000-000000000001";
  for (std::string body :
       {"plain", "---", "\n---\nkey: \"v\"\n---\n", "tab\there \\\"q\"", "日本語 ✓"}) {
    m.body = body;
    auto back = bch::spool::parse_message_document(bch::spool::message_document(m));
    CHECK(back.body == body);
    CHECK(back.thread == m.thread);
  }
  for (const char* junk :
       {"", "---", "---\nid: \"x\"\n", "---\nid: not json\n---\n", "# just markdown"}) {
    CAPTURE(junk);
    CHECK_THROWS_AS(bch::spool::parse_message_document(junk), bch::Error);
  }
  CHECK(bch::spool::parse_agent_document("---\nsubscriptions: [\"#b\", \"#a\", 3]\n---\n", "x")
            .subscriptions
        == std::vector<std::string>{"#a", "#b"});
}
