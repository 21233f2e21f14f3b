#include <bch/error.hpp>
#include <bch/util/fd.hpp>
#include <bch/util/fs.hpp>

#include <fmt/format.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bch::util {

void Fd::reset(int fd) {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
  m_fd = fd;
}

std::string errno_message(std::string_view what, int err) {
  return fmt::format("{}: {}", what, std::strerror(err));
}

namespace {

// Writes all of `data` through `write_some` (a write or a pwrite at an offset that
// advances with it), retrying on EINTR and short writes.
template <class WriteSome>
void write_fully(std::string_view data, const fs::path& path, WriteSome write_some) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write_some(data.substr(done), done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      throw Error(
          ErrorKind::io,
          errno_message(fmt::format("cannot write '{}'", path.string()), n < 0 ? errno : EIO));
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

void write_all(int fd, std::string_view data, const fs::path& path) {
  write_fully(data, path, [fd](std::string_view rest, std::size_t) {
    return ::write(fd, rest.data(), rest.size());
  });
}

void pwrite_all(int fd, std::string_view data, std::size_t at, const fs::path& path) {
  write_fully(data, path, [fd, at](std::string_view rest, std::size_t done) {
    return ::pwrite(fd, rest.data(), rest.size(), static_cast<off_t>(at + done));
  });
}

std::optional<std::string> read_file(const fs::path& path, std::size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw Error(ErrorKind::io,
                errno_message(fmt::format("cannot open '{}'", path.string()), errno));
  }
  return read_open_file(fd.get(), path, max_bytes);
}

std::string read_open_file(int fd, const fs::path& path, std::size_t max_bytes) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw Error(ErrorKind::io,
                errno_message(fmt::format("cannot read '{}'", path.string()), errno));
  }
  if (!S_ISREG(st.st_mode)) {
    throw Error(ErrorKind::protocol, fmt::format("'{}' is not a regular file", path.string()));
  }
  auto too_large = [&] {
    return Error(ErrorKind::protocol,
                 fmt::format("'{}' is larger than {} bytes", path.string(), max_bytes));
  };
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    throw too_large();
  }
  std::string out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  char buffer[16384];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw Error(ErrorKind::io,
                  errno_message(fmt::format("cannot read '{}'", path.string()), errno));
    }
    if (n == 0) {
      break;
    }
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      throw too_large();  // it grew while we read
    }
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

void fsync_dir(const fs::path& dir) {
  // A bare file name ("port") has an empty parent: the folder is the current one.
  const char* name = dir.empty() ? "." : dir.c_str();
  Fd fd(::open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) {
    throw Error(ErrorKind::io,
                errno_message(fmt::format("cannot sync folder '{}'", dir.string()), errno));
  }
}

void make_private_dirs(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) {
    return;
  }
  if (errno == ENOENT && dir.has_parent_path() && dir.parent_path() != dir) {
    make_private_dirs(dir.parent_path());
    if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) {
      return;
    }
  }
  throw Error(ErrorKind::io,
              errno_message(fmt::format("cannot create folder '{}'", dir.string()), errno));
}

std::optional<std::vector<std::string>> list_dir(const fs::path& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw Error(ErrorKind::io, errno_message(fmt::format("cannot list '{}'", dir.string()), errno));
  }
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(d)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  ::closedir(d);
  return names;
}

}  // namespace bch::util
