#include "support.hpp"

#include <bch/config.hpp>
#include <bch/error.hpp>

#include <catch2/catch.hpp>

#include <sys/stat.h>

using bch::test::TempDir;

TEST_CASE("a config.json written by the TypeScript tool is read as it is", "[config]") {
  TempDir t;
  bch::test::write_text(t.path() / "config.json", R"({
  "agent": "bob",
  "url": "https://relay.example.com",
  "token": "abc123",
  "room": "r1",
  "someFutureKey": [1, 2]
})");
  auto config = bch::load_config(t.path());
  CHECK(config.agent == "bob");
  CHECK(config.url == "https://relay.example.com");
  CHECK(config.token == "abc123");
  CHECK(config.room == "r1");

  bch::Environment env;
  auto s = bch::resolve_settings(env, config, t.path());
  CHECK(s.backend == bch::Backend::relay);
  CHECK(s.agent == "bob");
}

TEST_CASE("environment beats config", "[config]") {
  bch::Config config;
  config.agent = "bob";
  config.url = "http://a";
  config.backend = "brain";
  bch::Environment env;
  env.agent = "carol";
  env.url = "http://b";
  env.backend = "relay";
  auto s = bch::resolve_settings(env, config, "/h");
  CHECK(s.agent == "carol");
  CHECK(s.url == "http://b");
  CHECK(s.backend == bch::Backend::relay);

  env.backend.reset();
  CHECK(bch::resolve_settings(env, config, "/h").backend == bch::Backend::brain);
  CHECK(bch::resolve_settings(bch::Environment{}, bch::Config{}, "/h").backend
        == bch::Backend::local);
}

TEST_CASE("the home is BACKCHANNEL_HOME, else ~/.backchannel", "[config]") {
  bch::Environment env;
  env.user_home = "/home/u";
  CHECK(bch::resolve_home(env) == "/home/u/.backchannel");
  env.home = "/x";
  CHECK(bch::resolve_home(env) == "/x");
  CHECK_THROWS_AS(bch::resolve_home(bch::Environment{}), bch::Error);
}

TEST_CASE("a missing config is empty, a broken one is a clear error", "[config]") {
  TempDir t;
  CHECK_FALSE(bch::load_config(t.path()).agent);
  bch::test::write_text(t.path() / "config.json", "{not json");
  CHECK_THROWS_WITH(bch::load_config(t.path()),
                    Catch::Contains("config.json") && Catch::Contains("not a JSON object"));
  bch::test::write_text(t.path() / "config.json", R"({"agent": 7})");
  CHECK_THROWS_WITH(bch::load_config(t.path()), Catch::Contains("\"agent\" is not a string"));
}

TEST_CASE("saving keeps unknown keys and writes 0600", "[config]") {
  TempDir t;
  bch::test::write_text(t.path() / "config.json", R"({"agent":"a","extra":{"k":true}})");
  auto config = bch::load_config(t.path());
  config.agent = "b";
  bch::save_config(t.path(), config);
  auto again = bch::load_config(t.path());
  CHECK(again.agent == "b");
  CHECK(again.raw["extra"]["k"] == true);
  struct stat st {};
  REQUIRE(::stat((t.path() / "config.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("no identity is the spec's usage error", "[config]") {
  bch::Settings s;
  CHECK_THROWS_WITH(bch::require_agent(s),
                    "no agent identity — run `bch init <name>` first (or set BACKCHANNEL_AGENT)");
  s.agent = "../x";
  CHECK_THROWS_AS(bch::require_agent(s), bch::Error);
}

TEST_CASE("joined rooms: the top level first, then rooms, saved and read back", "[config]") {
  TempDir t;
  bch::Config config;
  config.agent = "alice";
  config.url = "https://relay.example";
  config.token = "t1";
  config.room = "room-a";
  config.rooms.push_back({"https://relay.example", std::string("room-b"), "alice-b", "t2"});
  config.rooms.push_back({"http://other.example:7117", std::nullopt, "al", "t3"});
  bch::save_config(t.path(), config);
  auto again = bch::load_config(t.path());
  auto all = again.memberships();
  REQUIRE(all.size() == 3);
  CHECK(all[0].agent == "alice");
  CHECK(all[0].room == "room-a");
  CHECK(all[1].agent == "alice-b");
  CHECK(all[2].room == std::nullopt);
  CHECK(bch::room_label(all[2].room) == "default");
  CHECK(again.raw["rooms"].size() == 2);  // the TypeScript tool's keys stay at the top
  CHECK(again.raw["agent"] == "alice");

  CHECK(bch::find_membership(all, "room-b")->agent == "alice-b");
  CHECK_THROWS_WITH(bch::find_membership(all, "room"), Catch::Contains("is ambiguous"));
  CHECK_FALSE(bch::find_membership(all, "nope"));
  CHECK(bch::find_membership(all, "default")->agent == "al");
  CHECK(bch::find_membership(all, "http://other.example:7117")->agent == "al");
  CHECK(bch::settings_for(all[1], {}, t.path()).token == "t2");
  CHECK(bch::settings_for(all[1], {}, t.path()).backend == bch::Backend::relay);
}

TEST_CASE("a room selector that names several rooms is refused", "[config]") {
  std::vector<bch::Membership> rooms = {{"https://a", std::string("abcd1234"), "x", "t"},
                                        {"https://a", std::string("abcd9999"), "y", "t"},
                                        {"https://a", std::nullopt, "z", "t"},
                                        {"https://b", std::nullopt, "w", "t"}};
  CHECK_THROWS_WITH(bch::find_membership(rooms, "abcd"),
                    "room \"abcd\" is ambiguous — it names abcd1234 on https://a, abcd9999 on "
                    "https://a");
  CHECK(bch::find_membership(rooms, "abcd9")->agent == "y");
  CHECK_FALSE(bch::find_membership(rooms, "abc"));  // prefixes need 4 characters
  CHECK_THROWS_WITH(bch::find_membership(rooms, "default"), Catch::Contains("is ambiguous"));
  CHECK(bch::find_membership(rooms, "https://b")->agent == "w");
}

TEST_CASE("a hostile rooms list in config.json is a clear error", "[config]") {
  TempDir t;
  auto refused = [&](const std::string& rooms) {
    bch::test::write_text(t.path() / "config.json", R"({"agent":"a","rooms":)" + rooms + "}");
    try {
      bch::load_config(t.path());
    } catch (const bch::Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(refused("7")
        == "cannot read '" + (t.path() / "config.json").string()
               + "': \"rooms\" is not an array — fix or remove it");
  CHECK_THAT(refused("[1]"), Catch::Contains("an entry that is not an object"));
  CHECK_THAT(refused(R"([{"url":"https://a","agent":"b"}])"),
             Catch::Contains("without url, agent and token"));
  CHECK_THAT(refused(R"([{"url":"https://a","agent":"../b","token":"t"}])"),
             Catch::Contains("invalid url, room or agent"));
  CHECK_THAT(refused(R"([{"url":"https://a","room":"../r","agent":"b","token":"t"}])"),
             Catch::Contains("invalid url, room or agent"));
  CHECK_THAT(refused(R"([{"url":"file:///etc","agent":"b","token":"t"}])"),
             Catch::Contains("invalid url, room or agent"));
  CHECK_THAT(refused(R"([{"url":"https://a","agent":"b","token":7}])"),
             Catch::Contains("\"token\" is not a string"));
  std::string many = "[";
  for (int i = 0; i < 300; ++i) {
    many += std::string(i ? "," : "") + R"({"url":"https://a","agent":"b","token":"t"})";
  }
  CHECK_THAT(refused(many + "]"), Catch::Contains("more than 256 entries"));
  CHECK(refused("null") == "accepted");
}
