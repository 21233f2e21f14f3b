#pragma once

#include <bch/util/folder_watch.hpp>
#include <bch/util/waker.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <stop_token>

namespace bch::spool {

// Waits for entries to appear in one folder or for a stop request, whichever comes
// first, through a util::FolderWatch: the kernel's, or the portable one when the kernel
// refuses (no inotify instance or watch left) or util::portable() asks for it. Private to fs_spool.
class DirWatcher {
public:
  // Starts watching `dir`, which must exist; throws Error(io) naming it otherwise.
  DirWatcher(const std::filesystem::path& dir, std::stop_token stop);

  // Blocks until something may have been added to the folder (true) or stop was
  // requested (false). Spurious wake-ups are allowed; callers rescan.
  bool wait();

private:
  std::unique_ptr<util::FolderWatch> m_watch;
  util::Waker m_stop_event;
  std::stop_token m_stop;
  std::stop_callback<std::function<void()>> m_on_stop;
};

}  // namespace bch::spool
