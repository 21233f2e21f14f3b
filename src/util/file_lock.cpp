#include <bch/error.hpp>
#include <bch/util/file_lock.hpp>
#include <bch/util/fs.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace bch::util {

FileLock::FileLock(const std::filesystem::path& path)
    : m_fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) {
  if (!m_fd) {
    throw Error(ErrorKind::io,
                errno_message(fmt::format("cannot open lock '{}'", path.string()), errno));
  }
  while (::flock(m_fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      throw Error(ErrorKind::io,
                  errno_message(fmt::format("cannot lock '{}'", path.string()), errno));
    }
  }
}

}  // namespace bch::util
