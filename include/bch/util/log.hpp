#pragma once

#include <string_view>

namespace bch::util {

// Sets up diagnostics: one stderr logger, lines "warning: …". `verbosity` comes from
// -v/-q: -1 errors only, 0 warnings (info too for a service such as the relay, which
// logs one line per request), 1+ debug. Never writes to stdout.
void init_logging(int verbosity, bool service = false);

// An informational line (a service's request log).
void info(std::string_view message);

// A one-line warning on stderr, e.g. about a corrupt file moved aside.
void warn(std::string_view message);

// A debug line, shown with -v.
void debug(std::string_view message);

}  // namespace bch::util
