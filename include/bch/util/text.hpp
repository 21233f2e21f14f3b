#pragma once

// Text from outside (message fields, agent records, relay answers and errors, file
// names, names echoed in errors) on its way to a terminal, a log or a model's context.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bch::util {

// The one sanitiser. Returns `text` as valid UTF-8 in which nothing can drive a terminal
// or reorder or break what is shown: C0 controls (with `keep_newlines`, newline and tab
// stay), DEL, C1 controls (U+0080-U+009F), the bidi controls (U+061C, U+200E, U+200F,
// U+202A-U+202E, U+2066-U+2069), the line and paragraph separators (U+2028, U+2029) and
// every byte that is not part of valid UTF-8 (overlong forms, surrogates, stray
// continuation bytes) become U+FFFD.
std::string sanitize(std::string_view text, bool keep_newlines);

// The number of UTF-8 characters (code points) in valid UTF-8 `text`.
std::size_t utf8_length(std::string_view text);

// `text` cut to at most `max_chars` UTF-8 characters, the last one "…" when cut.
std::string cut_chars(std::string text, std::size_t max_chars);

// The candidate nearest to a mistyped `word` (optimal string alignment distance: one
// edit is an insertion, deletion, substitution or swap of neighbours), if one is near
// enough to be what was meant: 1 edit for words up to 4 characters, 2 beyond. Ties go
// to the earlier candidate.
std::optional<std::string> nearest(std::string_view word,
                                   const std::vector<std::string>& candidates);

}  // namespace bch::util
