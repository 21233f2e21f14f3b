// One contract for both folder watches (util/folder_watch.hpp), run on Linux for the
// kernel's and for the portable one, so the one macOS builds with is the one tested here.
#include "support.hpp"

#include <bch/error.hpp>
#include <bch/util/folder_watch.hpp>
#include <bch/util/waker.hpp>

#include <catch2/catch.hpp>

#include <poll.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using bch::test::TempDir;
using bch::test::write_text;
using bch::util::FolderWatch;
using bch::util::FolderWatchKind;

namespace {

// Events until `done` holds of all seen so far, or 5 s pass (each wait on fd()).
std::vector<FolderWatch::Event> events_until(
    FolderWatch& watch, const std::function<bool(const std::vector<FolderWatch::Event>&)>& done) {
  std::vector<FolderWatch::Event> seen;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done(seen) && std::chrono::steady_clock::now() < deadline) {
    pollfd fd{watch.fd(), POLLIN, 0};
    if (::poll(&fd, 1, 100) > 0) {
      for (auto& e : watch.take()) {
        seen.push_back(std::move(e));
      }
    }
  }
  return seen;
}

bool has_name(const std::vector<FolderWatch::Event>& events, const std::string& name) {
  for (const auto& e : events) {
    if (e.name == name) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("a folder watch reports entries that arrive, and the folder going", "[folder watch]") {
  auto kind = GENERATE(FolderWatchKind::kernel, FolderWatchKind::polling);
  CAPTURE(kind == FolderWatchKind::kernel ? "kernel" : "polling");
  TempDir t;
  fs::create_directories(t.path() / "new");
  write_text(t.path() / "new/old.json", "{}");
  auto watch = bch::util::make_folder_watch(kind, std::chrono::milliseconds(20));
  int id = watch->add(t.path() / "new");
  CHECK(watch->add(t.path() / "new") == id);

  // Created in place, and renamed in (how a delivery lands); what was there is not news.
  write_text(t.path() / "new/a.json", "{}");
  write_text(t.path() / "tmp.json", "{}");
  fs::rename(t.path() / "tmp.json", t.path() / "new/b.json");
  auto seen = events_until(
      *watch, [](const auto& e) { return has_name(e, "a.json") && has_name(e, "b.json"); });
  CHECK(has_name(seen, "a.json"));
  CHECK(has_name(seen, "b.json"));
  CHECK_FALSE(has_name(seen, "old.json"));
  for (const auto& e : seen) {
    CHECK(e.id == id);
    CHECK_FALSE(e.gone);
  }

  // A removed watch says nothing more.
  watch->remove(id);
  write_text(t.path() / "new/c.json", "{}");
  seen = events_until(*watch, [](const auto&) { return false; });
  CHECK_FALSE(has_name(seen, "c.json"));

  // A folder deleted, or moved away, ends its watch with one `gone`.
  for (const char* how : {"deleted", "moved"}) {
    CAPTURE(how);
    fs::create_directories(t.path() / "inbox");
    int inbox = watch->add(t.path() / "inbox");
    if (std::string(how) == "deleted") {
      fs::remove_all(t.path() / "inbox");
    } else {
      fs::rename(t.path() / "inbox", t.path() / "elsewhere");
    }
    seen = events_until(*watch, [](const auto& e) { return !e.empty() && e.back().gone; });
    REQUIRE(!seen.empty());
    CHECK(seen.back().id == inbox);
    CHECK(seen.back().gone);
    fs::remove_all(t.path() / "elsewhere");
  }

  // A folder that is not there cannot be watched, and says which.
  CHECK_THROWS_WITH(watch->add(t.path() / "missing"),
                    Catch::StartsWith("cannot watch '" + (t.path() / "missing").string() + "'"));
}

TEST_CASE("a waker wakes a poll from another thread, and drains", "[folder watch]") {
  bch::util::Waker waker;
  pollfd fd{waker.fd(), POLLIN, 0};
  CHECK(::poll(&fd, 1, 0) == 0);
  waker.notify();
  waker.notify();
  CHECK(::poll(&fd, 1, 0) == 1);
  waker.drain();
  CHECK(::poll(&fd, 1, 0) == 0);
}

TEST_CASE("BCH_PORTABLE=1 picks the portable watch", "[folder watch]") {
  bch::test::ScopedEnv env("BCH_PORTABLE", std::string("1"));
  CHECK(bch::util::portable());
  CHECK(bch::util::default_folder_watch() == FolderWatchKind::polling);
}
