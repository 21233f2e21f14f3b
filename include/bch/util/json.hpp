#pragma once

// Parsing JSON that came from outside. nlohmann's parser is iterative, but copying,
// comparing and dumping a value recurse once per level: a line of 100,000 '[' parses
// and then overflows the stack. So every parse of outside input checks the nesting
// first, in one pass over the bytes, before a single value is built.

#include <nlohmann/json.hpp>

#include <string_view>

namespace bch::util {

// The deepest nesting any JSON that bch reads has a reason to hold (a message is 2
// levels, an MCP request about 5, a settings file rarely 10).
inline constexpr int k_max_json_depth = 64;

// True if the arrays and objects in `text` nest at most `max_depth` deep. Brackets
// inside strings do not count. Does not check that `text` is JSON.
// With `comments`, // and /* */ comments are skipped as JSONC readers do.
bool json_depth_within(std::string_view text,
                       int max_depth = k_max_json_depth,
                       bool comments = false);

// Parses `text` without exceptions: a discarded value (is_discarded()) when it is not
// JSON or nests deeper than k_max_json_depth.
template <class Json = nlohmann::json>
Json parse_json(std::string_view text, bool comments = false) {
  if (!json_depth_within(text, k_max_json_depth, comments)) {
    return Json(nlohmann::json::value_t::discarded);
  }
  return Json::parse(text, nullptr, false, comments);
}

}  // namespace bch::util
