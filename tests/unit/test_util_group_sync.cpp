#include "support.hpp"

#include <bch/error.hpp>
#include <bch/util/group_sync.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

TEST_CASE("group sync: every concurrent caller returns, across folders", "[fs]") {
  bch::test::TempDir t;
  std::filesystem::create_directories(t.path() / "a");
  std::filesystem::create_directories(t.path() / "b");
  bch::util::GroupSync syncs;
  std::atomic<int> returned{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 40; ++j) {
        syncs.sync(t.path() / (i % 2 ? "a" : "b"));
        ++returned;
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  CHECK(returned == 320);
}

TEST_CASE("group sync: a failing fsync is reported to every caller, none hangs", "[fs]") {
  bch::test::TempDir t;
  bch::util::GroupSync syncs;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      try {
        syncs.sync(t.path() / "missing");
      } catch (const bch::Error& e) {
        ++failures;
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  CHECK(failures == 4);
}
