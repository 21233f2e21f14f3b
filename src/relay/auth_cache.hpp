#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

namespace bch::relay {

// Values read from files (an agent's tokenHash from its record, a room's from
// room.json), kept only while the file stays as it was: each get() costs one stat(),
// and the file is read again once it changed. So an operator's edit — a record
// deleted, a tokenHash removed or replaced — counts from the next request, with no
// restart and no read per request. Not thread-safe: the caller locks.
class FileValueCache {
public:
  using Reader = std::function<std::optional<std::string>()>;

  // The value `read` gives for `path`, read again only if the file changed since it was
  // last read; nothing (and forgotten) when the file does not exist.
  std::optional<std::string> get(const std::filesystem::path& path, const Reader& read);

private:
  // What a file was when it was read: a rewrite (a new inode through a rename, or an
  // editor's new mtime or size) differs.
  struct Stamp {
    dev_t dev = 0;
    ino_t ino = 0;
    std::int64_t mtime_ns = 0;
    off_t size = 0;
    bool operator==(const Stamp&) const = default;
  };
  struct Entry {
    Stamp stamp;
    std::optional<std::string> value;
  };

  std::unordered_map<std::string, Entry> m_entries;  // by path
};

}  // namespace bch::relay
