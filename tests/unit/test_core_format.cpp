#include <bch/format.hpp>

#include <catch2/catch.hpp>

namespace {

bch::Message sample(std::string body) {
  bch::Message m;
  m.id = "019a3e7c-5b1d-7c2e-9a41-8e0f6d2c1b3a";
  m.from = "alice";
  m.to = "@bob";
  m.body = std::move(body);
  m.ts = "2026-06-12T12:00:00.000Z";
  return m;
}

std::size_t utf8_length(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) {
    n += (static_cast<unsigned char>(c) & 0xc0) != 0x80 ? 1 : 0;
  }
  return n;
}

}  // namespace

TEST_CASE("the full form has the header, optional lines, then the body", "[output]") {
  auto m = sample("hello\nworld");
  CHECK(bch::format_message(m)
        == "alice -> @bob (2026-06-12T12:00:00.000Z, id 6d2c1b3a)\n  │ hello\n  │ world\n");
  m.priority = bch::Priority::urgent;
  m.scope = "repo";
  m.thread = "t1";
  m.refs = {"a", "b"};
  CHECK(bch::format_message(m)
        == "alice -> @bob [URGENT] (2026-06-12T12:00:00.000Z, id 6d2c1b3a)\n"
           "  scope: repo\n  thread: t1\n  refs: a, b\n  │ hello\n  │ world\n");
}

TEST_CASE("the brief form folds whitespace and cuts the body to 120 characters", "[output]") {
  CHECK(bch::format_brief(sample("  a \n\n b\tc  "))
        == "alice -> @bob (2026-06-12T12:00:00.000Z, id 6d2c1b3a): a b c");
  std::string header = "alice -> @bob (2026-06-12T12:00:00.000Z, id 6d2c1b3a): ";
  std::string exact(120, 'x');
  CHECK(bch::format_brief(sample(exact)) == header + exact);
  std::string longer;
  for (int i = 0; i < 200; ++i) {
    longer += "é";
  }
  auto brief = bch::format_brief(sample(longer));
  REQUIRE(brief.starts_with(header));
  std::string body = brief.substr(header.size());
  CHECK(utf8_length(body) == 120);
  CHECK(body.ends_with("é…"));
}

TEST_CASE("control characters cannot reach the terminal", "[output]") {
  auto m = sample("red \x1b[31mtext\x07 and \xc2\x9b c1");
  m.from = "ev\x1bil";
  auto full = bch::format_message(m);
  CHECK(full.find('\x1b') == std::string::npos);
  CHECK(full.find('\x07') == std::string::npos);
  CHECK(full.find("\xc2\x9b") == std::string::npos);
  CHECK(full.find("\xef\xbf\xbd[31mtext") != std::string::npos);
  CHECK(bch::format_brief(m).find('\x1b') == std::string::npos);
}

TEST_CASE("agents list their channels and last activity", "[output]") {
  bch::spool::AgentRecord a{"bob", {"#a", "#b"}, "c", "2026-01-01T00:00:00.000Z", std::nullopt};
  CHECK(bch::format_agent(a) == "bob (#a, #b) — last seen 2026-01-01T00:00:00.000Z");
  a.subscriptions.clear();
  CHECK(bch::format_agent(a) == "bob — last seen 2026-01-01T00:00:00.000Z");
}
