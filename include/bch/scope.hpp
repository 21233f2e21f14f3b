#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bch {

// Normalises a scope or match string (SPEC section 3): lower-case; drop a leading
// http://, https:// or git@; drop trailing '/' and '.git'; ':' becomes '/'. Returns the
// non-empty '/'-separated segments.
std::vector<std::string> scope_segments(std::string_view text);

// True if a message with `scope` may be claimed by a reader with `match`. Unscoped
// messages match every reader; a scoped message never matches a reader without a
// match. Matching is on whole segments: the scope's segments must appear as a
// contiguous run of the match's segments, so "myrepo" does not match ".../notmyrepo".
bool scope_matches(const std::optional<std::string>& scope,
                   const std::optional<std::string>& match);

}  // namespace bch
