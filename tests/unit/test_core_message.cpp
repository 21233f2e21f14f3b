#include <bch/error.hpp>
#include <bch/message.hpp>

#include <catch2/catch.hpp>

#include <regex>
#include <set>

using bch::Message;

TEST_CASE("a message round-trips through JSON with optional fields omitted", "[message]") {
  Message m;
  m.id = "0190d6e2-7b1c-7a3e-9f00-123456789abc";
  m.from = "alice";
  m.to = "@bob";
  m.body = "line one\nline \"two\" --- $(x)";
  m.ts = "2026-06-12T12:00:00.000Z";
  std::string text = bch::serialize(m);
  CHECK(text.find("scope") == std::string::npos);
  CHECK(text.find("thread") == std::string::npos);
  CHECK(text.find("refs") == std::string::npos);
  CHECK(text.find("null") == std::string::npos);

  Message back = bch::parse_message(text);
  CHECK(back.id == m.id);
  CHECK(back.body == m.body);
  CHECK(back.priority == bch::Priority::normal);
  CHECK_FALSE(back.scope);

  m.scope = "github.com/org/repo";
  m.thread = "0190d6e2-0000-7000-8000-000000000000";
  m.refs = {"src/a.cpp", "https://x/y"};
  m.priority = bch::Priority::urgent;
  back = bch::parse_message(bch::serialize(m));
  CHECK(back.scope == m.scope);
  CHECK(back.thread == m.thread);
  CHECK(back.refs == m.refs);
  CHECK(back.priority == bch::Priority::urgent);
}

TEST_CASE("the JSON keeps the spec's field order", "[message]") {
  Message m{"id-1",
            "a",
            "b",
            "hi",
            bch::Priority::normal,
            std::nullopt,
            std::nullopt,
            {},
            "2026-01-01T00:00:00.000Z"};
  CHECK(
      bch::serialize(m)
      == R"({"id":"id-1","from":"a","to":"b","body":"hi","priority":"normal","ts":"2026-01-01T00:00:00.000Z"})");
}

TEST_CASE("unknown fields are ignored and nulls count as absent", "[message]") {
  auto m = bch::parse_message(
      R"({"id":"abc","from":"a","to":"#dev","body":"x","priority":"urgent","ts":"t","extra":{"n":1},"scope":null})");
  CHECK(m.to == "#dev");
  CHECK_FALSE(m.scope);
}

TEST_CASE("malformed messages are refused with the field named", "[message]") {
  auto fails_with = [](const std::string& text, const std::string& needle) {
    try {
      bch::parse_message(text);
    } catch (const bch::Error& e) {
      CHECK(e.kind() == bch::ErrorKind::protocol);
      CHECK_THAT(e.what(), Catch::Contains(needle));
      return;
    }
    FAIL("no error for " << text);
  };
  fails_with("not json", "not valid JSON");
  fails_with("[1]", "not a JSON object");
  fails_with(R"({"from":"a","to":"b","body":"x","ts":"t"})", "\"id\"");
  fails_with(R"({"id":"a","from":"a","to":"b","body":7,"ts":"t"})", "\"body\"");
  fails_with(R"({"id":"a","from":"a","to":"b","body":"x","ts":"t","priority":"high"})", "priority");
  fails_with(R"({"id":"a","from":"a","to":"b","body":"x","ts":"t","refs":[1]})", "refs");
  fails_with(R"({"id":"../../etc/x","from":"a","to":"b","body":"x","ts":"t"})", "id");
}

TEST_CASE("UUIDv7 ids are well-formed, unique and sort by time", "[message]") {
  std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = bch::make_uuid_v7(1700000000000 + i, static_cast<unsigned>(i));
    CHECK(std::regex_match(id, shape));
    CHECK(seen.insert(id).second);
  }
  CHECK(bch::make_uuid_v7(1700000000000, 4095) < bch::make_uuid_v7(1700000000001, 0));
  CHECK(bch::make_uuid_v7(1700000000000, 0) < bch::make_uuid_v7(1700000000000, 1));
  CHECK(bch::make_uuid_v7(1700000000000, 0xabc).substr(0, 18) == "018bcfe5-6800-7abc");
}

TEST_CASE("new message ids increase strictly, even within one millisecond", "[message]") {
  auto previous = bch::new_message_id();
  for (int i = 0; i < 20000; ++i) {
    auto next = bch::new_message_id();
    REQUIRE(previous.id < next.id);
    REQUIRE(previous.unix_ms <= next.unix_ms);
    REQUIRE(next.id.substr(0, 8) == bch::make_uuid_v7(next.unix_ms, 0).substr(0, 8));
    previous = next;
  }
}

TEST_CASE("short ids are the random tail, and handles match prefix or tail", "[message]") {
  std::string id = "0190d6e2-7b1c-7a3e-9f00-123456789abc";
  CHECK(bch::short_id(id) == "56789abc");
  CHECK(bch::id_matches(id, "0190d6"));
  CHECK(bch::id_matches(id, "56789abc"));
  CHECK(bch::id_matches(id, id));
  CHECK(bch::id_matches(id, "5678"));  // any 4+ prefix of the short id shown
  CHECK(bch::id_matches(id, "56789a"));
  CHECK_FALSE(bch::id_matches(id, "567"));   // shorter is too loose
  CHECK_FALSE(bch::id_matches(id, "9abc"));  // tails shorter than 8 are too loose
  CHECK_FALSE(bch::id_matches(id, ""));
}

TEST_CASE("timestamps format with milliseconds in UTC and parse back", "[message]") {
  CHECK(bch::format_timestamp(1781265600000) == "2026-06-12T12:00:00.000Z");
  CHECK(bch::format_timestamp(1781265600123) == "2026-06-12T12:00:00.123Z");
  CHECK(bch::parse_timestamp("2026-06-12T12:00:00.123Z") == 1781265600123);
  CHECK(bch::parse_timestamp("2026-06-12T12:00:00Z") == 1781265600000);
  CHECK_FALSE(bch::parse_timestamp("yesterday"));
}

TEST_CASE("inbox order is ts then id", "[message]") {
  Message a{"b", "x", "y", "1", bch::Priority::normal, {}, {}, {}, "2026-01-01T00:00:00.000Z"};
  Message b = a;
  b.id = "c";
  Message c = a;
  c.id = "a";
  c.ts = "2026-01-01T00:00:00.001Z";
  CHECK(bch::message_before(a, b));
  CHECK(bch::message_before(b, c));
  CHECK_FALSE(bch::message_before(c, a));
}
