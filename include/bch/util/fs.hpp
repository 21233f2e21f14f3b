#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bch::util {

namespace fs = std::filesystem;

// "<what>: <strerror(err)>", the one place strerror is called.
std::string errno_message(std::string_view what, int err);

// Writes all of `data` to `fd`, retrying on EINTR and short writes. Throws Error(io)
// naming `path`.
void write_all(int fd, std::string_view data, const fs::path& path);

// The same at file offset `at` (pwrite): the file offset is left alone.
void pwrite_all(int fd, std::string_view data, std::size_t at, const fs::path& path);

// The largest file read_file() reads unless told otherwise: far above any record,
// config or settings file, far below what would strain memory.
inline constexpr std::size_t k_max_file_bytes = std::size_t{16} * 1024 * 1024;

// Reads the whole file. Nothing if it does not exist (ENOENT). The file is opened
// without blocking and without following a final symlink, and must be a regular file
// of at most `max_bytes`: a FIFO, a device or a huge file throws Error(protocol) naming
// the path, without waiting and without reading it. Throws Error(io) naming the path
// for any other failure.
std::optional<std::string> read_file(const fs::path& path,
                                     std::size_t max_bytes = k_max_file_bytes);

// read_file() on a descriptor already open (a claimed message); `path` names it in
// errors.
std::string read_open_file(int fd, const fs::path& path, std::size_t max_bytes);

// fsync()s a directory so that entries created or renamed in it survive a crash.
void fsync_dir(const fs::path& dir);

// Creates `dir` and any missing parents with mode 0700. Existing folders are left as
// they are. Throws Error(io) naming the folder.
void make_private_dirs(const fs::path& dir);

// Names of the entries of `dir` (not "." or ".."), unsorted. Nothing if `dir` does not
// exist; throws Error(io) naming the folder on other failures.
std::optional<std::vector<std::string>> list_dir(const fs::path& dir);

}  // namespace bch::util
