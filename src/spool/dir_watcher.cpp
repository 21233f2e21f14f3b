// DirWatcher: the "wake me when mail lands" primitive behind `bch watch`.
//
// Delivery into an inbox is a rename() into new/ (a created file for writers that make
// it in place). The watcher never reports what changed, only that something may have:
// the caller rescans new/, which is the only reliable source of truth (event queues can
// overflow). A stop request wakes a blocked poll() at once through a Waker.

#include "spool/dir_watcher.hpp"

#include <bch/error.hpp>
#include <bch/util/fs.hpp>

#include <poll.h>

#include <array>
#include <cerrno>

namespace bch::spool {

namespace {

// The kernel's watch when it has one to give; the portable one when it refuses for
// want of resources (the folder itself is checked by both).
std::unique_ptr<util::FolderWatch> watch_folder(const std::filesystem::path& dir) {
  auto kind = util::default_folder_watch();
  if (kind == util::FolderWatchKind::kernel) {
    try {
      auto watch = util::make_folder_watch(kind);
      watch->add(dir);
      return watch;
    } catch (const Error&) {
      std::error_code ec;
      if (!std::filesystem::is_directory(dir, ec)) {
        throw;
      }
    }
  }
  auto watch = util::make_folder_watch(util::FolderWatchKind::polling);
  watch->add(dir);
  return watch;
}

}  // namespace

DirWatcher::DirWatcher(const std::filesystem::path& dir, std::stop_token stop)
    : m_watch(watch_folder(dir)),
      m_stop(std::move(stop)),
      m_on_stop(m_stop, std::function<void()>([this] { m_stop_event.notify(); })) {}

bool DirWatcher::wait() {
  if (m_stop.stop_requested()) {
    return false;
  }
  std::array<pollfd, 2> fds{};
  fds[0] = {m_stop_event.fd(), POLLIN, 0};
  fds[1] = {m_watch->fd(), POLLIN, 0};
  int n = ::poll(fds.data(), fds.size(), -1);
  if (n < 0 && errno != EINTR) {
    throw Error(ErrorKind::io, util::errno_message("cannot wait for new messages", errno));
  }
  if (m_stop.stop_requested()) {
    return false;
  }
  if ((fds[1].revents & POLLIN) != 0) {
    // The events themselves do not matter, only that there were some.
    (void)m_watch->take();
  }
  return true;
}

}  // namespace bch::spool
