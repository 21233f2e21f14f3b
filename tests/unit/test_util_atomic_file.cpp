#include "support.hpp"

#include <bch/error.hpp>
#include <bch/util/atomic_file.hpp>
#include <bch/util/file_lock.hpp>

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <atomic>
#include <thread>

using bch::test::TempDir;

TEST_CASE("an atomic file replaces the target only on commit", "[fs]") {
  TempDir t;
  auto target = t.path() / "f.json";
  bch::test::write_text(target, "old");
  {
    bch::util::AtomicFile f(target, 0600);
    f.write("new");
    CHECK(bch::test::read_text(target) == "old");
  }
  CHECK(bch::test::read_text(target) == "old");
  CHECK(bch::test::count_entries(t.path()) == 1);  // the abandoned temp file is gone

  bch::util::AtomicFile f(target, 0640);
  f.write("new");
  f.commit();
  CHECK(bch::test::read_text(target) == "new");
  CHECK(bch::test::count_entries(t.path()) == 1);
  struct stat st {};
  REQUIRE(::stat(target.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("an atomic file named without a folder lands in the current one", "[fs]") {
  // `bch relay --port-file port` once failed with "cannot sync folder ''".
  TempDir t;
  auto old = std::filesystem::current_path();
  std::filesystem::current_path(t.path());
  try {
    bch::util::AtomicFile f("port", 0600);
    f.write("8080");
    f.commit();
  } catch (...) {
    std::filesystem::current_path(old);
    throw;
  }
  std::filesystem::current_path(old);
  CHECK(bch::test::read_text(t.path() / "port") == "8080");
}

TEST_CASE("an atomic file in a missing folder names the path", "[fs]") {
  TempDir t;
  CHECK_THROWS_WITH(bch::util::AtomicFile(t.path() / "nope" / "f", 0600), Catch::Contains("nope"));
}

TEST_CASE("file locks exclude each other across threads", "[fs]") {
  TempDir t;
  std::atomic<int> inside{0};
  std::atomic<bool> overlap{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 50; ++j) {
        bch::util::FileLock lock(t.path() / ".lock");  // separate open → separate flock
        if (inside.fetch_add(1) != 0) {
          overlap = true;
        }
        std::this_thread::yield();
        inside.fetch_sub(1);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  CHECK_FALSE(overlap);
}
