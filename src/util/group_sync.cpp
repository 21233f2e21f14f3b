#include <bch/util/fs.hpp>
#include <bch/util/group_sync.hpp>

namespace bch::util {

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
    lock.unlock();
    try {
      fsync_dir(dir);
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
