#pragma once

// The few system calls that differ between Linux and the other systems bch builds on
// (macOS, the BSDs), each behind one function: Linux's own call where it has one, the
// POSIX (or Apple) equivalent elsewhere. Everything else bch uses is POSIX.

#include <sys/socket.h>
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace bch::util {

// Makes the file's data durable, as fdatasync(2) does: 0, or -1 with errno. On macOS,
// fsync leaves the drive's cache unflushed: F_FULLFSYNC, or fsync where that fails.
int sync_data(int fd);

// Makes everything written on the file system holding `fd` durable, as syncfs(2) does:
// 0, or -1 with errno. Elsewhere, sync(2), which is the whole machine but never less.
int sync_file_system(int fd);

// The file's modification time, in nanoseconds since the epoch.
std::int64_t mtime_ns(const struct stat& st);

// Fills `out` from the kernel's random source (getrandom, else getentropy); throws
// Error(io) if it cannot.
void system_random(unsigned char* out, std::size_t size);

// A pipe whose both ends close on exec: 0, or -1 with errno.
int pipe_cloexec(int fds[2]);

// The absolute path of this program's executable; nothing if the system will not say.
std::optional<std::string> executable_path();

// send(2) flags that keep a write to a closed socket from raising SIGPIPE, where the
// system has such a flag (elsewhere bch ignores SIGPIPE process-wide, cli/cli.cpp).
#ifdef MSG_NOSIGNAL
inline constexpr int k_send_no_sigpipe = MSG_NOSIGNAL;
#else
inline constexpr int k_send_no_sigpipe = 0;
#endif

}  // namespace bch::util
