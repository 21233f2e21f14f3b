#include <bch/util/fs.hpp>
#include <bch/util/group_sync.hpp>

#include <chrono>

namespace bch::util {
namespace {

std::mutex g_stats_mutex;
GroupSync::Stats g_stats;

void record_round(std::chrono::steady_clock::duration took, std::uint64_t callers) {
  double seconds = std::chrono::duration<double>(took).count();
  std::size_t bucket = 0;
  while (bucket < GroupSync::k_buckets.size() && seconds > GroupSync::k_buckets.at(bucket)) {
    ++bucket;
  }
  std::lock_guard lock(g_stats_mutex);
  ++g_stats.rounds;
  g_stats.callers += callers;
  g_stats.seconds += seconds;
  ++g_stats.by_duration.at(bucket);
}

}  // namespace

void GroupSync::note_round(std::chrono::steady_clock::duration took, std::uint64_t callers) {
  record_round(took, callers);
}

GroupSync::Stats GroupSync::stats() {
  std::lock_guard lock(g_stats_mutex);
  return g_stats;
}

void GroupSync::sync(const std::filesystem::path& dir) {
  std::unique_lock lock(m_mutex);
  State& state = m_dirs[dir.string()];  // node-based map: the reference stays valid
  std::uint64_t ticket = ++state.requested;
  while (state.done < ticket) {
    if (state.running) {
      m_done.wait(lock);
      continue;
    }
    // Lead a round: every ticket taken so far belongs to a rename that is complete.
    state.running = true;
    std::uint64_t covers = state.requested;
    std::uint64_t callers = covers - state.done;
    lock.unlock();
    auto started = std::chrono::steady_clock::now();
    try {
      fsync_dir(dir);
      record_round(std::chrono::steady_clock::now() - started, callers);
    } catch (...) {
      lock.lock();
      state.running = false;
      m_done.notify_all();
      throw;
    }
    lock.lock();
    state.running = false;
    state.done = covers;
    m_done.notify_all();
  }
}

}  // namespace bch::util
