#pragma once

#include <string_view>

namespace bch::util {

// Sets up diagnostics: one stderr logger, lines "warning: …", level from -v/-q
// (verbosity -1, 0, 1+) and BCH_LOG. Never writes to stdout.
void init_logging(int verbosity);

// A one-line warning on stderr, e.g. about a corrupt file moved aside.
void warn(std::string_view message);

// A debug line, shown with -v.
void debug(std::string_view message);

}  // namespace bch::util
