// The sanitiser. It decodes UTF-8 strictly (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF) and writes back only characters that are safe to show: every
// invalid byte and every character that could move the cursor, recolour a terminal,
// end a line where the reader does not expect one, or reverse the order in which text
// is displayed (so that "evil.sh" can show as "hs.live") becomes U+FFFD, the
// replacement character, which shows that something was there.

#include <bch/util/text.hpp>

#include <algorithm>

namespace bch::util {
namespace {

constexpr std::string_view k_replacement = "\xef\xbf\xbd";

// The length of the valid UTF-8 sequence at the start of `s` and its code point, or
// 0 when it does not start with one.
std::size_t decode(std::string_view s, char32_t& out) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char b0 = byte(0);
  if (b0 < 0x80) {
    out = b0;
    return 1;
  }
  std::size_t len = 0;
  char32_t min = 0;
  if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    out = b0 & 0x1fU;
    min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    out = b0 & 0x0fU;
    min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    out = b0 & 0x07U;
    min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < len) {
    return 0;
  }
  for (std::size_t i = 1; i < len; ++i) {
    if ((byte(i) & 0xc0) != 0x80) {
      return 0;
    }
    out = (out << 6) | (byte(i) & 0x3fU);
  }
  if (out < min || out > 0x10ffff || (out >= 0xd800 && out <= 0xdfff)) {
    return 0;
  }
  return len;
}

bool unsafe(char32_t c, bool keep_newlines) {
  if (c < 0x20) {
    return !(keep_newlines && (c == '\n' || c == '\t'));
  }
  return (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f
         || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

}  // namespace

std::string sanitize(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    char32_t c = 0;
    std::size_t len = decode(text, c);
    if (len == 0) {
      out += k_replacement;
      text.remove_prefix(1);
      continue;
    }
    if (unsafe(c, keep_newlines)) {
      out += k_replacement;
    } else {
      out.append(text.substr(0, len));
    }
    text.remove_prefix(len);
  }
  return out;
}

std::size_t utf8_length(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) {
    n += (static_cast<unsigned char>(c) & 0xc0) != 0x80 ? 1 : 0;
  }
  return n;
}

std::string cut_chars(std::string text, std::size_t max_chars) {
  // Cut on a UTF-8 character boundary, counting characters, not bytes.
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80 && ++chars > max_chars) {
      text.resize(i);
      // Make room for the ellipsis within the limit.
      std::size_t j = text.size();
      while (j > 0 && (static_cast<unsigned char>(text[--j]) & 0xc0) == 0x80) {
      }
      text.resize(j);
      return text + "…";
    }
  }
  return text;
}

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows of the dynamic-programming table: the swap looks two rows back.
  std::vector<std::size_t> before(b.size() + 1);
  std::vector<std::size_t> last(b.size() + 1);
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    last[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({last[j] + 1, row[j - 1] + 1, last[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        row[j] = std::min(row[j], before[j - 2] + 1);
      }
    }
    std::swap(before, last);
    std::swap(last, row);
  }
  return last[b.size()];
}

}  // namespace

std::optional<std::string> nearest(std::string_view word,
                                   const std::vector<std::string>& candidates) {
  // Words from the command line are short; anything long is not a typo of ours.
  if (word.empty() || word.size() > 64) {
    return std::nullopt;
  }
  std::size_t allowed = word.size() <= 4 ? 1 : 2;
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace bch::util
