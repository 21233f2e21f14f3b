#include <bch/address.hpp>
#include <bch/error.hpp>

#include <catch2/catch.hpp>

TEST_CASE("agent names follow the spec's charset and length", "[address]") {
  for (const char* ok : {"bob", "Bob-2", "a.b_c-d", "9lives", "x"}) {
    CHECK(bch::is_valid_agent_name(ok));
  }
  for (const char* bad : {"", "../x", "a/b", ".hidden", "-x", "_x", "a b", "bob\n", "é", "a:b"}) {
    CHECK_FALSE(bch::is_valid_agent_name(bad));
  }
  CHECK(bch::is_valid_agent_name(std::string(64, 'a')));
  CHECK_FALSE(bch::is_valid_agent_name(std::string(65, 'a')));
  CHECK_FALSE(bch::is_valid_agent_name(std::string("a\0b", 3)));
}

TEST_CASE("invalid names are refused with the spec's message", "[address]") {
  try {
    bch::check_agent_name("../config");
    FAIL("accepted ../config");
  } catch (const bch::Error& e) {
    CHECK(e.kind() == bch::ErrorKind::usage);
    CHECK(std::string(e.what())
          == R"(invalid agent name "../config" (use letters, digits, . _ -))");
  }
}

TEST_CASE("hostile text in an error message is escaped and capped", "[address]") {
  CHECK(bch::in_quotes("a\x1b[31mb") == R"("a\x1b[31mb")");
  CHECK(bch::in_quotes(std::string(200, 'x')).size() < 100);
}

TEST_CASE("targets: # is a channel, one leading @ is stripped", "[address]") {
  auto dm = bch::parse_target("@bob");
  CHECK_FALSE(dm.is_channel);
  CHECK(dm.name == "bob");
  CHECK(bch::parse_target("bob").name == "bob");
  auto ch = bch::parse_target("#dev");
  CHECK(ch.is_channel);
  CHECK(ch.name == "#dev");
  CHECK_THROWS_AS(bch::parse_target("@@bob"), bch::Error);
  CHECK_THROWS_AS(bch::parse_target("@../config"), bch::Error);
  CHECK_THROWS_AS(bch::parse_target("#"), bch::Error);
  CHECK_THROWS_AS(bch::parse_target("#a/b"), bch::Error);
  CHECK_THROWS_AS(bch::parse_target(""), bch::Error);
}

TEST_CASE("channels are stored with their #", "[address]") {
  CHECK(bch::normalize_channel("dev") == "#dev");
  CHECK(bch::normalize_channel("#dev") == "#dev");
  CHECK_THROWS_AS(bch::normalize_channel("##dev"), bch::Error);
  CHECK_THROWS_AS(bch::normalize_channel("#../x"), bch::Error);
}

TEST_CASE("message ids from outside are checked before any path", "[address]") {
  CHECK(bch::is_valid_message_id("0190d6e2-7b1c-7a3e-9f00-123456789abc"));
  CHECK(bch::is_valid_message_id("abc"));
  for (const char* bad : {"", "../../x", "a/b", "a.json", "a b", "..", "a\\b"}) {
    CHECK_FALSE(bch::is_valid_message_id(bad));
  }
  CHECK_FALSE(bch::is_valid_message_id(std::string(65, 'a')));
  CHECK_THROWS_WITH(bch::check_message_id("../../x"),
                    R"(invalid message id "../../x" (use letters, digits and -))");
}
