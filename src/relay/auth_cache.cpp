#include "relay/auth_cache.hpp"

#include <bch/util/platform.hpp>

#include <sys/stat.h>

namespace bch::relay {

std::optional<std::string> FileValueCache::get(const std::filesystem::path& path,
                                               const Reader& read) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    m_entries.erase(path.string());
    return std::nullopt;
  }
  Stamp now{st.st_dev, st.st_ino, util::mtime_ns(st), st.st_size};
  auto [it, added] = m_entries.try_emplace(path.string());
  if (added || !(it->second.stamp == now)) {
    it->second.stamp = now;
    it->second.value = read();
  }
  return it->second.value;
}

}  // namespace bch::relay
