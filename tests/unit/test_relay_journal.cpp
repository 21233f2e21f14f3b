// The relay's journal (src/relay/journal.hpp): what it acknowledges survives a crash
// before the inboxes are written, a replay never brings back what was taken, a torn or
// forged journal is read only as far as it is whole, and concurrent sends share syncs.

#include "relay/journal.hpp"
#include "support.hpp"

#include <bch/error.hpp>
#include <bch/spool/fs_spool.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using bch::Message;
using bch::relay::Journal;
using bch::relay::JournalDelivery;
using bch::spool::FsSpool;

Message message_to(const std::string& to, const std::string& body, int n) {
  Message m;
  // Valid UUIDv7-shaped ids, distinct per n.
  m.id = fmt::format("0190a1b2-c3d4-7e5f-8a6b-{:012x}", n);
  m.ts = "2026-12-02T12:00:00.000Z";
  m.from = "alice";
  m.to = to;
  m.body = body;
  return m;
}

// One room ("default") on a spool in `root`, with alice, bob and carol registered.
struct Room {
  explicit Room(const fs::path& root) : spool(root / "room") {
    for (const char* name : {"alice", "bob", "carol"}) {
      spool.register_agent(name);
    }
  }
  FsSpool spool;
  Journal::Options options(const fs::path& root, std::size_t segment = 1u << 20) const {
    Journal::Options o;
    o.dir = root / "journal";
    o.sync_root = root;
    o.segment_bytes = segment;
    o.full_wait = std::chrono::seconds(20);
    return o;
  }
  Journal::Materialize writer() {
    return [this](const JournalDelivery& d) { spool.write_copies(d.recipients, d.message); };
  }
  Journal::Holds holds() {
    return [this](const std::string&, const std::string& agent, const std::string& id) {
      return spool.holds(agent, id);
    };
  }
  // A journal over this room, replayed and started.
  std::unique_ptr<Journal> open(const fs::path& root, std::size_t segment) {
    auto journal = std::make_unique<Journal>(options(root, segment), writer());
    journal->recover(holds());
    journal->start();
    return journal;
  }
  bool has_unread(const std::string& agent, const std::string& id) {
    return fs::exists(spool.unread_dir(agent) / (id + ".json"));
  }
};

// A journal whose inbox writes fail, as if the relay died before making them: what it
// acknowledged is only in the journal when it is destroyed.
void deliver_then_crash(Room& room,
                        const fs::path& root,
                        const std::vector<JournalDelivery>& deliveries,
                        const std::vector<std::pair<std::string, std::string>>& claims = {}) {
  Journal journal(room.options(root), [](const JournalDelivery&) {
    throw bch::Error(bch::ErrorKind::io, "the relay died first");
  });
  journal.recover(room.holds());
  journal.start();
  for (const auto& d : deliveries) {
    journal.deliver(d);
  }
  for (const auto& [agent, id] : claims) {
    journal.claimed("default", agent, id);
  }
}

}  // namespace

TEST_CASE(
    "journal: an acknowledged delivery that never reached its inbox is written at the "
    "next start, and a claimed one is not brought back",
    "[relay][journal]") {
  bch::test::TempDir t;
  Room room(t.path());
  Message one = message_to("@bob", "first", 1);
  Message two = message_to("#crew", "second, to two", 2);
  Message three = message_to("@bob", "third, taken before the crash", 3);
  deliver_then_crash(
      room,
      t.path(),
      {{"default", {"bob"}, one}, {"default", {"bob", "carol"}, two}, {"default", {"bob"}, three}},
      {{"bob", three.id}});
  CHECK_FALSE(room.has_unread("bob", one.id));

  Journal journal(room.options(t.path()), room.writer());
  CHECK(journal.recover(room.holds()) == 3);  // one, and two for bob and carol
  CHECK(room.has_unread("bob", one.id));
  CHECK(room.has_unread("bob", two.id));
  CHECK(room.has_unread("carol", two.id));
  CHECK_FALSE(room.has_unread("bob", three.id));
  auto inbox = room.spool.inbox("bob");
  REQUIRE(inbox.size() == 2);
  CHECK(inbox[0].body == "first");

  // Replayed once: the journal was emptied, so a second start writes nothing.
  room.spool.take("bob", one.id, false, nullptr);
  Journal again(room.options(t.path()), room.writer());
  CHECK(again.recover(room.holds()) == 0);
  CHECK_FALSE(room.has_unread("bob", one.id));
}

TEST_CASE("journal: a copy the inbox already holds is not written twice", "[relay][journal]") {
  bch::test::TempDir t;
  Room room(t.path());
  Message m = message_to("@bob", "already there", 7);
  deliver_then_crash(room, t.path(), {{"default", {"bob"}, m}});
  room.spool.write_copies({"bob"}, m);
  Journal journal(room.options(t.path()), room.writer());
  CHECK(journal.recover(room.holds()) == 0);
  CHECK(room.spool.inbox("bob").size() == 1);
}

TEST_CASE("journal: a copy half-written in tmp/ when the relay died is replayed all the same",
          "[relay][journal]") {
  // Killed after the acknowledgement, while the inbox writer had created tmp/<id>.json
  // but not yet renamed it: the replay must replace that file, not give up on it.
  bch::test::TempDir t;
  Room room(t.path());
  Message m = message_to("@bob", "acknowledged, then the relay was killed", 8);
  deliver_then_crash(room, t.path(), {{"default", {"bob"}, m}});
  fs::path stale = t.path() / "room" / "spool" / "bob" / "tmp" / (m.id + ".json");
  std::ofstream(stale) << R"({"id":)";  // torn
  Journal journal(room.options(t.path()), room.writer());
  CHECK(journal.recover(room.holds()) == 1);
  REQUIRE(room.has_unread("bob", m.id));
  CHECK(room.spool.inbox("bob").at(0).body == m.body);
  CHECK_FALSE(fs::exists(stale));
}

TEST_CASE("journal: a torn, corrupted or forged journal is read only as far as it is whole",
          "[relay][journal][hostile]") {
  bch::test::TempDir t;
  Room room(t.path());
  Message good = message_to("@bob", "whole", 1);
  Message torn = message_to("@bob", "torn-record-marker", 2);
  deliver_then_crash(room, t.path(), {{"default", {"bob"}, good}, {"default", {"bob"}, torn}});

  // Flip one byte inside the second record: its check fails, so it and anything after
  // it are not trusted.
  fs::path segment = t.path() / "journal" / "0.seg";
  std::string data = bch::test::read_text(segment);
  auto at = data.find("torn-record-marker");
  REQUIRE(at != std::string::npos);
  data[at] = 'T';
  bch::test::write_text(segment, data);

  Journal journal(room.options(t.path()), room.writer());
  CHECK(journal.recover(room.holds()) == 1);
  CHECK(room.has_unread("bob", good.id));
  CHECK_FALSE(room.has_unread("bob", torn.id));
}

TEST_CASE("journal: records naming a path outside the room, or garbage, are not replayed",
          "[relay][journal][hostile]") {
  bch::test::TempDir t;
  Room room(t.path());
  fs::create_directories(t.path() / "journal");
  std::string segment = bch::relay::journal_segment_header(5);
  segment.resize(4096, '\0');
  auto add = [&](const std::string& payload) { segment += bch::relay::journal_record(5, payload); };
  add(R"({"op":"deliver","room":"../../etc","to":["bob"],"message":{}})");
  add(R"({"op":"deliver","room":"default","to":["../../../tmp/x"],"message":)"
      R"({"id":"0190a1b2-c3d4-7e5f-8a6b-000000000001","ts":"2026-12-02T12:00:00.000Z",)"
      R"("from":"alice","to":"@bob","body":"x","priority":"normal"}})");
  add(R"({"op":"deliver","room":"default","to":["bob"],"message":{"id":"../../x"}})");
  add("not json at all");
  add(std::string(100000, '['));
  add(R"({"op":"deliver","room":"default","to":["bob"],"message":)"
      R"({"id":"0190a1b2-c3d4-7e5f-8a6b-000000000002","ts":"2026-12-02T12:00:00.000Z",)"
      R"("from":"alice","to":"@bob","body":"the one good record","priority":"normal"}})");
  bch::test::write_text(t.path() / "journal" / "0.seg", segment);
  // The other segment: random bytes.
  std::string noise;
  for (int i = 0; i < 100000; ++i) {
    noise.push_back(static_cast<char>((i * 7919) % 251));
  }
  bch::test::write_text(t.path() / "journal" / "1.seg", noise);

  std::vector<JournalDelivery> replayed;
  Journal journal(room.options(t.path()), [&](const JournalDelivery& d) {
    replayed.push_back(d);
    room.spool.write_copies(d.recipients, d.message);
  });
  CHECK(journal.recover(room.holds()) == 1);
  REQUIRE(replayed.size() == 1);
  CHECK(replayed[0].message.body == "the one good record");
  CHECK(room.spool.inbox("bob").size() == 1);
  CHECK_FALSE(fs::exists(t.path() / "tmp" / "x"));
}

TEST_CASE(
    "journal: concurrent sends share syncs, segments are reused, and every delivery "
    "reaches its inbox",
    "[relay][journal]") {
  bch::test::TempDir t;
  Room room(t.path());
  // Small segments: thousands of deliveries go round both many times.
  auto opened = room.open(t.path(), 64u << 10);
  Journal& journal = *opened;
  constexpr int k_threads = 8;
  constexpr int k_each = 150;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < k_threads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < k_each; ++j) {
        try {
          journal.deliver(
              {"default", {j % 2 ? "bob" : "carol"}, message_to("@x", "load", i * k_each + j + 1)});
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  CHECK(failures == 0);
  journal.flush();
  CHECK(room.spool.inbox("bob").size() + room.spool.inbox("carol").size()
        == std::size_t{k_threads * k_each});
  auto stats = journal.stats();
  CHECK(stats.records == std::uint64_t{k_threads * k_each});
  CHECK(stats.commits < stats.records);  // shared syncs
  CHECK(stats.checkpoints >= 2);         // both segments were filled and freed
  journal.stop();

  // A clean stop leaves nothing to replay.
  Journal next(room.options(t.path(), 64u << 10), room.writer());
  CHECK(next.recover(room.holds()) == 0);
}

TEST_CASE("journal: a message too large for a segment is refused, nothing is written",
          "[relay][journal]") {
  bch::test::TempDir t;
  Room room(t.path());
  auto opened = room.open(t.path(), 64u << 10);
  Journal& journal = *opened;
  CHECK_THROWS_AS(
      journal.deliver({"default", {"bob"}, message_to("@bob", std::string(100000, 'x'), 1)}),
      bch::Error);
  journal.deliver({"default", {"bob"}, message_to("@bob", "small", 2)});
  journal.flush();
  CHECK(room.spool.inbox("bob").size() == 1);
}

TEST_CASE(
    "journal: a read right after an acknowledged send shows it, though the inboxes are "
    "written behind",
    "[relay][journal]") {
  bch::test::TempDir t;
  Room room(t.path());
  Journal journal(room.options(t.path()), [&room](const JournalDelivery& d) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a slow disk
    room.spool.write_copies(d.recipients, d.message);
  });
  journal.recover(room.holds());
  journal.start();
  struct Log final : bch::spool::DeliveryLog {
    explicit Log(Journal& j) : journal(j) {}
    void deliver(const std::vector<std::string>& recipients, const Message& m) override {
      journal.deliver({"default", recipients, m});
    }
    void flush() override { journal.flush(); }
    void claimed(const std::string& agent, const std::string& id) override {
      journal.claimed("default", agent, id);
    }
    Journal& journal;
  } log(journal);
  room.spool.set_delivery_log(&log);

  Message sent = room.spool.send("alice", "@bob", "read me at once", {});
  auto inbox = room.spool.inbox("bob");
  REQUIRE(inbox.size() == 1);
  CHECK(inbox[0].id == sent.id);
  Message again = room.spool.send("alice", "@bob", "take me at once", {});
  CHECK(room.spool.take("bob", again.id, false, nullptr));
}
