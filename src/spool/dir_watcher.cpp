// DirWatcher: the "wake me when mail lands" primitive behind `bch watch`.
//
// Delivery into an inbox is a rename() into new/, which inotify reports as IN_MOVED_TO
// (IN_CREATE covers writers that create files in place). The watcher never reports what
// changed, only that something may have: the caller rescans new/, which is the only
// reliable source of truth (inotify queues can overflow). A stop request writes to an
// eventfd so that a blocked poll() returns at once; there is no busy polling unless the
// kernel refused an inotify instance, in which case we rescan once a second.

#include "spool/dir_watcher.hpp"

#include <bch/error.hpp>
#include <bch/util/fs.hpp>

#include <fmt/format.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace bch::spool {

DirWatcher::DirWatcher(const std::filesystem::path& dir, std::stop_token stop)
    : m_inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)),
      m_stop_event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      m_stop(std::move(stop)),
      m_on_stop(m_stop, std::function<void()>([this] {
                  std::uint64_t one = 1;
                  // Only fails if the counter would overflow, which one write cannot do.
                  [[maybe_unused]] auto n = ::write(m_stop_event.get(), &one, sizeof one);
                })) {
  if (!m_stop_event) {
    throw Error(ErrorKind::io, util::errno_message("cannot create an eventfd", errno));
  }
  if (m_inotify
      && ::inotify_add_watch(m_inotify.get(), dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)
             < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR || err == EACCES) {
      throw Error(ErrorKind::io,
                  util::errno_message(fmt::format("cannot watch '{}'", dir.string()), err));
    }
    m_inotify.reset();  // ENOSPC and friends: fall back to polling
  }
}

bool DirWatcher::wait() {
  if (m_stop.stop_requested()) {
    return false;
  }
  std::array<pollfd, 2> fds{};
  fds[0] = {m_stop_event.get(), POLLIN, 0};
  fds[1] = {m_inotify.get(), POLLIN, 0};
  nfds_t count = m_inotify ? 2 : 1;
  int timeout_ms = m_inotify ? -1 : 1000;
  int n = ::poll(fds.data(), count, timeout_ms);
  if (n < 0 && errno != EINTR) {
    throw Error(ErrorKind::io, util::errno_message("cannot wait for new messages", errno));
  }
  if (m_stop.stop_requested()) {
    return false;
  }
  if (m_inotify && (fds[1].revents & POLLIN) != 0) {
    // Drain the queue; the events themselves do not matter, only that there were some.
    alignas(inotify_event) std::array<char, 4096> buffer{};
    while (::read(m_inotify.get(), buffer.data(), buffer.size()) > 0) {
    }
  }
  return true;
}

}  // namespace bch::spool
