// Diagnostics go through spdlog to stderr. The logger is built on first use, not at
// start-up: `bch drain --hook` runs before every prompt and usually logs nothing, so it
// should not pay for creating one.

#include <bch/util/log.hpp>
#include <bch/util/text.hpp>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

namespace bch::util {
namespace {

std::atomic<int> g_verbosity{0};
std::atomic<bool> g_service{false};

spdlog::level::level_enum level() {
  int v = g_verbosity.load();
  if (v < 0) {
    return spdlog::level::err;
  }
  if (v > 0) {
    return spdlog::level::debug;
  }
  return g_service.load() ? spdlog::level::info : spdlog::level::warn;
}

spdlog::logger& logger() {
  static std::once_flag once;
  static std::shared_ptr<spdlog::logger> instance;
  std::call_once(once, [] {
    instance =
        std::make_shared<spdlog::logger>("bch", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    instance->set_pattern("%l: %v");
  });
  instance->set_level(level());  // init_logging may have run since: cheap to reapply
  return *instance;
}

}  // namespace

void init_logging(int verbosity, bool service) {
  g_verbosity = verbosity;
  g_service = service;
}

void warn(std::string_view message) {
  logger().warn("{}", sanitize(message, false));
}

void info(std::string_view message) {
  if (level() <= spdlog::level::info) {
    logger().info("{}", sanitize(message, false));
  }
}

void debug(std::string_view message) {
  if (g_verbosity.load() > 0) {
    logger().debug("{}", sanitize(message, false));
  }
}

}  // namespace bch::util
