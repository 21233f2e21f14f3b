#include <bch/error.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/waker.hpp>

#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include <array>
#include <cerrno>
#include <cstdint>

namespace bch::util {

Waker::Waker() {
#ifdef __linux__
  m_read.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!m_read) {
    throw Error(ErrorKind::io, errno_message("cannot create an eventfd", errno));
  }
#else
  std::array<int, 2> fds{};
  if (::pipe(fds.data()) != 0) {
    throw Error(ErrorKind::io, errno_message("cannot create a pipe", errno));
  }
  m_read.reset(fds[0]);
  m_write.reset(fds[1]);
  for (int fd : fds) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
#endif
}

void Waker::notify() const {
  // Neither write can fail but for a full pipe or counter, which is already readable.
  if (m_write) {
    char one = 1;
    [[maybe_unused]] auto n = ::write(m_write.get(), &one, 1);
  } else {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(m_read.get(), &one, sizeof one);
  }
}

void Waker::drain() const {
  std::array<char, 64> buffer{};
  while (::read(m_read.get(), buffer.data(), m_write ? buffer.size() : sizeof(std::uint64_t)) > 0) {
  }
}

}  // namespace bch::util
