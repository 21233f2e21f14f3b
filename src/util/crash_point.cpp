#include <bch/util/crash_point.hpp>

#include <csignal>
#include <cstdlib>
#include <cstring>

namespace bch::util {

void crash_point(const char* name) {
  // Read once: the test hook is not configuration, so it lives here, not in config.cpp.
  static const char* const target = std::getenv("BCH_CRASH_AT");
  if (target != nullptr && std::strcmp(target, name) == 0) {
    (void)std::raise(SIGKILL);
  }
}

}  // namespace bch::util
