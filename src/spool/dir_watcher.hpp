#pragma once

#include <bch/util/fd.hpp>

#include <filesystem>
#include <functional>
#include <stop_token>

namespace bch::spool {

// Waits for entries to appear in one folder (inotify IN_CREATE/IN_MOVED_TO) or for a
// stop request, whichever comes first. If inotify is unavailable (no instances left),
// falls back to waking once a second. Private to fs_spool.
class DirWatcher {
public:
  // Starts watching `dir`, which must exist; throws Error(io) naming it otherwise.
  DirWatcher(const std::filesystem::path& dir, std::stop_token stop);

  // Blocks until something may have been added to the folder (true) or stop was
  // requested (false). Spurious wake-ups are allowed; callers rescan.
  bool wait();

private:
  util::Fd m_inotify;
  util::Fd m_stop_event;
  std::stop_token m_stop;
  std::stop_callback<std::function<void()>> m_on_stop;
};

}  // namespace bch::spool
