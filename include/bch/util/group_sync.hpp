#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <unordered_map>

namespace bch::util {

// Group commit for folder fsyncs. Many threads renaming files into the same folder each
// need "my rename is durable" before they answer; one fsync of the folder, started after
// their renames, gives it to all of them. sync(dir) returns once an fsync of `dir` that
// began after the call was made has completed: the first caller runs it, callers that
// arrive meanwhile wait for the next one, which one of them runs for the whole group.
// Thread-safe. Throws Error(io) naming the folder if the fsync fails (waiters then retry).
class GroupSync {
public:
  void sync(const std::filesystem::path& dir);

  // Every GroupSync of the process together: rounds run (one fsync each, shared by the
  // callers of its group), callers served, and the rounds' durations in buckets (upper
  // bounds in seconds, k_buckets; the last bucket is everything slower).
  static constexpr std::array<double, 10> k_buckets{
      0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0};
  struct Stats {
    std::uint64_t rounds = 0;
    std::uint64_t callers = 0;
    double seconds = 0;
    std::array<std::uint64_t, k_buckets.size() + 1> by_duration{};
  };
  static Stats stats();
  // Counts a shared sync made elsewhere (the relay journal's group commit) into stats().
  static void note_round(std::chrono::steady_clock::duration took, std::uint64_t callers);

private:
  struct State {
    std::uint64_t requested = 0;  // tickets handed out
    std::uint64_t done = 0;       // every ticket up to this one is durable
    bool running = false;
  };
  std::mutex m_mutex;
  std::condition_variable m_done;
  std::unordered_map<std::string, State> m_dirs;
};

}  // namespace bch::util
