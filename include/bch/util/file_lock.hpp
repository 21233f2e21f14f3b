#pragma once

#include <bch/util/fd.hpp>

#include <filesystem>

namespace bch::util {

// An exclusive flock() on `path` (created 0600 if missing), held for the object's
// lifetime. Serialises read-modify-write of small records between processes; the
// kernel drops it if the holder dies, so a crash never leaves a stale lock. Throws
// Error(io) naming the path.
class FileLock {
public:
  explicit FileLock(const std::filesystem::path& path);

private:
  Fd m_fd;
};

}  // namespace bch::util
