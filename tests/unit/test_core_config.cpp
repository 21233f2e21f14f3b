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
