#include <bch/scope.hpp>

#include <algorithm>

namespace bch {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::vector<std::string> scope_segments(std::string_view text) {
  std::string s(text);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  std::string_view v = s;
  for (std::string_view prefix : {"http://", "https://", "git@"}) {
    if (starts_with(v, prefix)) {
      v.remove_prefix(prefix.size());
      break;
    }
  }
  // "repo.git/" and "repo/.git" style tails both reduce to "repo".
  bool changed = true;
  while (changed) {
    changed = false;
    while (ends_with(v, "/")) {
      v.remove_suffix(1);
      changed = true;
    }
    if (ends_with(v, ".git")) {
      v.remove_suffix(4);
      changed = true;
    }
  }
  std::vector<std::string> segments;
  std::string current;
  for (char c : v) {
    if (c == '/' || c == ':') {
      if (!current.empty()) {
        segments.push_back(std::move(current));
        current.clear();
      }
    } else {
      current += c;
    }
  }
  if (!current.empty()) {
    segments.push_back(std::move(current));
  }
  return segments;
}

bool scope_matches(const std::optional<std::string>& scope,
                   const std::optional<std::string>& match) {
  if (!scope) {
    return true;
  }
  auto want = scope_segments(*scope);
  if (want.empty()) {
    return true;
  }
  if (!match) {
    return false;
  }
  auto have = scope_segments(*match);
  return std::search(have.begin(), have.end(), want.begin(), want.end()) != have.end();
}

}  // namespace bch
