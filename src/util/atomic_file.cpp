// AtomicFile: replace a small file all at once, durably.
//
// The classic sequence (LevelDB, Maildir): write a temporary file in the same folder
// (rename is only atomic within a filesystem), fsync it so its data is on disk before
// its name is, rename it over the target (atomic on POSIX: a reader opens either the old
// inode or the new one), then fsync the folder so the rename itself survives a crash.
// If anything fails before the rename, the target is untouched and the temporary file
// is removed; a crash leaves at most a stray ".<name>.tmp-…" file that readers ignore
// because it does not end in ".json".

#include <bch/error.hpp>
#include <bch/util/atomic_file.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/random.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace bch::util {

AtomicFile::AtomicFile(std::filesystem::path target, unsigned mode)
    : m_target(std::move(target)),
      m_tmp(m_target.parent_path()
            / fmt::format(".{}.tmp-{}", m_target.filename().string(), random_hex(6))) {
  m_fd.reset(::open(m_tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!m_fd) {
    throw Error(ErrorKind::io,
                errno_message(fmt::format("cannot write '{}'", m_target.string()), errno));
  }
}

AtomicFile::~AtomicFile() {
  if (!m_committed) {
    m_fd.reset();
    ::unlink(m_tmp.c_str());
  }
}

void AtomicFile::write(std::string_view data) {
  write_all(m_fd.get(), data, m_target);
}

void AtomicFile::commit(bool sync_dir) {
  if (::fsync(m_fd.get()) != 0) {
    throw Error(ErrorKind::io,
                errno_message(fmt::format("cannot sync '{}'", m_target.string()), errno));
  }
  m_fd.reset();
  if (std::rename(m_tmp.c_str(), m_target.c_str()) != 0) {
    throw Error(ErrorKind::io,
                errno_message(fmt::format("cannot replace '{}'", m_target.string()), errno));
  }
  m_committed = true;
  if (sync_dir) {
    fsync_dir(m_target.parent_path());
  }
}

}  // namespace bch::util
