#pragma once

#include <bch/format.hpp>

#include <string>

namespace bch::cli {

// Writes `text` to stdout and flushes; throws Error(io) if stdout is gone, so a claimed
// message whose output failed goes back to unread.
void print(const std::string& text);

}  // namespace bch::cli
