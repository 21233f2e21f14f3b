// Diagnostics go through spdlog to stderr. The logger is built on first use, not at
// start-up: `bch drain --hook` runs before every prompt and usually logs nothing, so it
// should not pay for creating one.

#include <bch/util/log.hpp>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

namespace bch::util {
namespace {

std::atomic<int> g_verbosity{0};

spdlog::logger& logger() {
  static std::once_flag once;
  static std::shared_ptr<spdlog::logger> instance;
  std::call_once(once, [] {
    instance =
        std::make_shared<spdlog::logger>("bch", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    instance->set_pattern("%l: %v");
    int v = g_verbosity.load();
    instance->set_level(v < 0    ? spdlog::level::err
                        : v == 0 ? spdlog::level::warn
                                 : spdlog::level::debug);
  });
  return *instance;
}

}  // namespace

void init_logging(int verbosity) {
  g_verbosity = verbosity;
}

void warn(std::string_view message) {
  logger().warn("{}", message);
}

void debug(std::string_view message) {
  if (g_verbosity.load() > 0) {
    logger().debug("{}", message);
  }
}

}  // namespace bch::util
