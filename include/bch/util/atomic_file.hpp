#pragma once

#include <bch/util/fd.hpp>

#include <filesystem>
#include <string_view>

namespace bch::util {

// Writes a file so that readers see either the old content or the whole new content,
// never a mix, and so that a committed file survives a crash: the data goes to a
// temporary file in the same folder, which commit() fsyncs, renames over the target
// and follows with an fsync of the folder. Destroying an uncommitted AtomicFile removes
// the temporary file. Throws Error(io) naming the path on any failure.
class AtomicFile {
public:
  // Creates the temporary file (mode `mode`, exclusive) next to `target`.
  AtomicFile(std::filesystem::path target, unsigned mode);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(std::string_view data);
  // fsync, rename onto the target, fsync the folder (unless `sync_dir` is false because
  // the caller will sync it once for several files).
  void commit(bool sync_dir = true);

private:
  std::filesystem::path m_target;
  std::filesystem::path m_tmp;
  Fd m_fd;
  bool m_committed = false;
};

}  // namespace bch::util
