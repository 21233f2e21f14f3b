#include "support.hpp"

#include <bch/error.hpp>
#include <bch/spool/fs_spool.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace fs = std::filesystem;
using bch::test::count_entries;
using bch::test::read_text;
using bch::test::TempDir;
using bch::test::write_text;

namespace {

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

struct Fixture {
  TempDir dir;
  bch::spool::FsSpool spool{dir.path()};
  fs::path bob = dir.path() / "spool" / "bob";
  Fixture() {
    spool.register_agent("alice");
    spool.register_agent("bob");
  }
};

}  // namespace

TEST_CASE_METHOD(Fixture, "a delivered message is new/<id>.json and tmp/ is left empty", "[fs]") {
  auto m = spool.send("alice", "@bob", "hi", {});
  CHECK(fs::exists(bob / "new" / (m.id + ".json")));
  CHECK(count_entries(bob / "tmp") == 0);
  auto stored = bch::parse_message(read_text(bob / "new" / (m.id + ".json")));
  CHECK(stored.body == "hi");
  CHECK(mode_of(bob / "new" / (m.id + ".json")) == 0600);
}

TEST_CASE_METHOD(Fixture, "folders are 0700 and records 0600", "[fs]") {
  for (const char* sub : {"tmp", "new", "cur"}) {
    CHECK(mode_of(bob / sub) == 0700);
  }
  CHECK(mode_of(dir.path() / "agents") == 0700);
  CHECK(mode_of(dir.path() / "spool") == 0700);
  CHECK(mode_of(dir.path() / "agents" / "bob.json") == 0600);
}

TEST_CASE_METHOD(Fixture, "take with keep leaves the message in cur/", "[fs]") {
  auto m = spool.send("alice", "@bob", "keep me", {});
  REQUIRE(spool.take("bob", m.id, true));
  CHECK(fs::exists(bob / "cur" / (m.id + ".json")));
  CHECK(count_entries(bob / "new") == 0);
  auto gone = spool.send("alice", "@bob", "drop me", {});
  REQUIRE(spool.take("bob", gone.id, false));
  CHECK_FALSE(fs::exists(bob / "cur" / (gone.id + ".json")));
}

TEST_CASE_METHOD(Fixture,
                 "a corrupt message is moved to bad/ and does not block the inbox",
                 "[fs]") {
  auto good = spool.send("alice", "@bob", "fine", {});
  write_text(bob / "new" / "0190d6e2-0000-7000-8000-000000000001.json", "{truncated");
  write_text(
      bob / "new" / "0190d6e2-0000-7000-8000-000000000002.json",
      R"({"id":"0190d6e2-0000-7000-8000-999999999999","from":"x","to":"bob","body":"b","ts":"t"})");
  write_text(bob / "new" / "notes.txt", "not a message");
  auto unread = spool.inbox("bob");
  REQUIRE(unread.size() == 1);
  CHECK(unread[0].id == good.id);
  CHECK(count_entries(bob / "bad") == 2);
  CHECK(fs::exists(bob / "bad" / "0190d6e2-0000-7000-8000-000000000001.json"));
  CHECK(fs::exists(bob / "new" / "notes.txt"));  // not *.json: ignored, left alone
  CHECK(spool.inbox("bob").size() == 1);
}

TEST_CASE_METHOD(Fixture, "an unreadable message file is set aside, not fatal", "[fs]") {
  if (::geteuid() == 0) {
    // root reads 0000 files; a directory in place of the file is unreadable for anyone
    fs::create_directories(bob / "new" / "0190d6e2-0000-7000-8000-000000000003.json");
  } else {
    write_text(bob / "new" / "0190d6e2-0000-7000-8000-000000000003.json", "{}");
    fs::permissions(bob / "new" / "0190d6e2-0000-7000-8000-000000000003.json", fs::perms::none);
  }
  CHECK(spool.inbox("bob").empty());
  CHECK(count_entries(bob / "bad") == 1);
}

TEST_CASE_METHOD(Fixture, "stale tmp/ files are swept, fresh ones kept", "[fs]") {
  write_text(bob / "tmp" / "old.json", "partial");
  write_text(bob / "tmp" / "fresh.json", "partial");
  struct timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 37 * 3600, 0}};
  REQUIRE(::utimensat(AT_FDCWD, (bob / "tmp" / "old.json").c_str(), times, 0) == 0);
  spool.send("alice", "@bob", "hi", {});
  CHECK_FALSE(fs::exists(bob / "tmp" / "old.json"));
  CHECK(fs::exists(bob / "tmp" / "fresh.json"));
  CHECK(spool.inbox("bob").size() == 1);  // tmp/ is never read as mail
}

TEST_CASE("records written by the TypeScript tool are read, and unknown fields survive", "[fs]") {
  TempDir dir;
  write_text(dir.path() / "agents" / "bob.json", R"({
  "name": "bob",
  "subscriptions": ["#dev"],
  "createdAt": "2026-01-01T00:00:00.000Z",
  "lastSeen": "2026-01-01T00:00:00.000Z",
  "tokenHash": "abcd"
})");
  bch::spool::FsSpool spool(dir.path());
  auto agents = spool.agents();
  REQUIRE(agents.size() == 1);
  CHECK(agents[0].subscriptions == std::vector<std::string>{"#dev"});
  spool.subscribe("bob", "#ops");
  auto json = nlohmann::json::parse(read_text(dir.path() / "agents" / "bob.json"));
  CHECK(json["tokenHash"] == "abcd");
  CHECK(json["subscriptions"] == nlohmann::json({"#dev", "#ops"}));
  // An inbox folder the TypeScript tool never created is made on first delivery.
  spool.register_agent("alice");
  spool.send("alice", "@bob", "hi", {});
  CHECK(spool.inbox("bob").size() == 1);
}

TEST_CASE_METHOD(Fixture, "lastSeen is rewritten at most once a minute", "[fs]") {
  auto record = dir.path() / "agents" / "bob.json";
  auto before = read_text(record);
  spool.inbox("bob");
  CHECK(read_text(record) == before);  // fresh: the read path writes nothing

  auto json = nlohmann::json::parse(before);
  json["lastSeen"] = "2020-01-01T00:00:00.000Z";
  write_text(record, json.dump());
  spool.inbox("bob");
  auto after = nlohmann::json::parse(read_text(record));
  CHECK(after["lastSeen"] != "2020-01-01T00:00:00.000Z");
}

TEST_CASE_METHOD(Fixture,
                 "a corrupt agent record is a clear error, and others still list",
                 "[fs]") {
  write_text(dir.path() / "agents" / "carol.json", "garbage");
  CHECK(spool.agents().size() == 2);
  CHECK_THROWS_WITH(spool.subscribe("carol", "#x"),
                    Catch::Contains("carol.json") && Catch::Contains("not a JSON object"));
  CHECK(read_text(dir.path() / "agents" / "carol.json") == "garbage");
}

TEST_CASE("nothing outside the root is touched by hostile names", "[fs]") {
  TempDir dir;
  auto root = dir.path() / "home";
  bch::spool::FsSpool spool(root);
  spool.register_agent("bob");
  write_text(dir.path() / "victim.json", "precious");
  CHECK_THROWS_AS(spool.register_agent("../victim"), bch::Error);
  CHECK_THROWS_AS(spool.take("bob", "../../../victim", false), bch::Error);
  CHECK_THROWS_AS(spool.subscribe("../../victim", "#x"), bch::Error);
  CHECK_THROWS_AS(spool.inbox("../../victim"), bch::Error);
  CHECK(read_text(dir.path() / "victim.json") == "precious");
  CHECK(count_entries(dir.path()) == 2);
}

TEST_CASE_METHOD(Fixture, "a claim whose process died is undone, one in progress is not", "[fs]") {
  auto m = spool.send("alice", "@bob", "survive me", {});
  auto unread = bob / "new" / (m.id + ".json");
  auto claiming = bob / "cur" / ("." + m.id + ".claiming");
  // A claimer that died: its claim file sits in cur/, unlocked.
  fs::rename(unread, claiming);
  {
    // While another process holds the claim's lock, nothing is undone.
    int fd = ::open(claiming.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    bch::spool::FsSpool busy(dir.path());
    CHECK(busy.inbox("bob").empty());
    CHECK(fs::exists(claiming));
    ::close(fd);
  }
  bch::spool::FsSpool next(dir.path());  // the next process to read the inbox
  auto back = next.inbox("bob");
  REQUIRE(back.size() == 1);
  CHECK(back[0].id == m.id);
  CHECK(!fs::exists(claiming));
  CHECK(next.take("bob", m.id, false));
  CHECK(count_entries(bob / "cur") == 0);
}

TEST_CASE_METHOD(Fixture, "a message being claimed is not claimed twice", "[fs]") {
  auto m = spool.send("alice", "@bob", "once", {});
  int claims = 0;
  bch::spool::FsSpool other(dir.path());
  CHECK(spool.take("bob", m.id, true, [&](const bch::Message&) {
    ++claims;
    // A second claimer while the first is handling: it must give way.
    CHECK_FALSE(other.take("bob", m.id, false, [&](const bch::Message&) { ++claims; }));
  }));
  CHECK(claims == 1);
  CHECK(fs::exists(bob / "cur" / (m.id + ".json")));  // kept
}
