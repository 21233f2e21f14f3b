#pragma once

#include <bch/format.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace bch::cli {

// Writes `text` to stdout and flushes; throws Error(io) if stdout is gone, so a claimed
// message whose output failed goes back to unread.
void print(const std::string& text);

// `value` as one line of JSON and a newline, for --json output; text that is not valid
// UTF-8 becomes U+FFFD instead of failing the command.
std::string json_line(const nlohmann::ordered_json& value);

}  // namespace bch::cli
