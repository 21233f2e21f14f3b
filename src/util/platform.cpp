#include <bch/error.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/platform.hpp>

#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/random.h>
#endif
#ifdef __APPLE__
#include <mach-o/dyld.h>
#include <sys/random.h>
#endif

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>

namespace bch::util {

int sync_data(int fd) {
#if defined(__linux__)
  return ::fdatasync(fd);
#elif defined(__APPLE__)
  if (::fcntl(fd, F_FULLFSYNC) == 0) {
    return 0;
  }
  return ::fsync(fd);
#else
  return ::fsync(fd);
#endif
}

int sync_file_system(int fd) {
#ifdef __linux__
  return ::syncfs(fd);
#else
  (void)fd;
  ::sync();
  return 0;
#endif
}

std::int64_t mtime_ns(const struct stat& st) {
#ifdef __APPLE__
  const auto& t = st.st_mtimespec;
#else
  const auto& t = st.st_mtim;
#endif
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + static_cast<std::int64_t>(t.tv_nsec);
}

void system_random(unsigned char* out, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
#ifdef __linux__
    ssize_t n = ::getrandom(out + done, size - done, 0);
#else
    // getentropy gives at most 256 bytes a call.
    std::size_t chunk = std::min<std::size_t>(size - done, 256);
    ssize_t n = ::getentropy(out + done, chunk) == 0 ? static_cast<ssize_t>(chunk) : -1;
#endif
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw Error(ErrorKind::io, errno_message("cannot read random bytes", errno));
    }
    done += static_cast<std::size_t>(n);
  }
}

int pipe_cloexec(int fds[2]) {
#ifdef __linux__
  return ::pipe2(fds, O_CLOEXEC);
#else
  if (::pipe(fds) != 0) {
    return -1;
  }
  ::fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  ::fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  return 0;
#endif
}

std::optional<std::string> executable_path() {
#if defined(__APPLE__)
  std::array<char, PATH_MAX> buffer{};
  auto size = static_cast<std::uint32_t>(buffer.size());
  if (::_NSGetExecutablePath(buffer.data(), &size) != 0) {
    return std::nullopt;
  }
  std::error_code ec;
  auto real = std::filesystem::canonical(buffer.data(), ec);
  return ec ? std::nullopt : std::optional<std::string>(real.string());
#else
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::nullopt : std::optional<std::string>(path.string());
#endif
}

}  // namespace bch::util
