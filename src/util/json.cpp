#include <bch/util/json.hpp>

namespace bch::util {

bool json_depth_within(std::string_view text, int max_depth, bool comments) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (comments && !in_string && c == '/' && i + 1 < text.size()
        && (text[i + 1] == '/' || text[i + 1] == '*')) {
      // A bracket in a comment must not count, least of all a closing one.
      std::size_t end = text[i + 1] == '/' ? text.find('\n', i) : text.find("*/", i + 2);
      if (end == std::string_view::npos) {
        return true;
      }
      i = text[i + 1] == '/' ? end : end + 1;
      continue;
    }
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, a quote included, never ends the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return false;
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

}  // namespace bch::util
