// A TOML 1.0 syntax checker that records the key paths a document defines. It does not
// build values: setup only needs to know whether a file is TOML, and whether a table is
// already there.

#include <bch/error.hpp>
#include <bch/setup/toml.hpp>

#include <fmt/format.h>

#include <regex>
#include <set>

namespace bch::setup {

class TomlParser {
public:
  TomlParser(std::string_view text, TomlKeys& keys) : m_text(text), m_keys(keys) {}

  void parse() {
    for (;;) {
      skip_blank();
      if (done()) {
        return;
      }
      char c = peek();
      if (c == '#') {
        skip_comment();
      } else if (c == '\n' || c == '\r') {
        newline();
      } else if (c == '[') {
        table_header();
        end_of_line();
      } else {
        KeyPath key = parse_key();
        KeyPath path = join(m_table, key);
        for (std::size_t n = m_table.size() + 1; n < path.size(); ++n) {
          m_keys.m_dotted.emplace(path.begin(), path.begin() + static_cast<long>(n));
        }
        expect('=', "expected '=' after a key");
        skip_blank();
        m_pending_inline = path;
        define(path, value_kind());
        end_of_line();
      }
    }
  }

private:
  using Kind = TomlKeys::Kind;

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorKind::protocol, fmt::format("line {}: {}", m_line, what));
  }

  bool done() const { return m_pos >= m_text.size(); }
  char peek(std::size_t ahead = 0) const {
    return m_pos + ahead < m_text.size() ? m_text[m_pos + ahead] : '\0';
  }
  bool starts_with(std::string_view s) const { return m_text.substr(m_pos, s.size()) == s; }

  void skip_blank() {
    while (!done() && (peek() == ' ' || peek() == '\t')) {
      ++m_pos;
    }
  }

  void skip_comment() {
    while (!done() && peek() != '\n') {
      auto c = static_cast<unsigned char>(peek());
      if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
        fail("control character in a comment");
      }
      ++m_pos;
    }
  }

  void newline() {
    if (peek() == '\r') {
      if (peek(1) != '\n') {
        fail("bare carriage return");
      }
      ++m_pos;
    }
    ++m_pos;
    ++m_line;
  }

  // Blanks, comments and newlines (inside arrays).
  void skip_space_and_lines() {
    for (;;) {
      skip_blank();
      if (peek() == '#') {
        skip_comment();
      } else if (!done() && (peek() == '\n' || peek() == '\r')) {
        newline();
      } else {
        return;
      }
    }
  }

  void end_of_line() {
    skip_blank();
    if (peek() == '#') {
      skip_comment();
    }
    if (done()) {
      return;
    }
    if (peek() != '\n' && peek() != '\r') {
      fail(fmt::format("unexpected '{}' after a value", peek()));
    }
    newline();
  }

  void expect(char c, const char* what) {
    skip_blank();
    if (peek() != c) {
      fail(what);
    }
    ++m_pos;
  }

  static KeyPath join(const KeyPath& a, const KeyPath& b) {
    KeyPath out = a;
    out.insert(out.end(), b.begin(), b.end());
    return out;
  }

  // Whether `path` lies inside an array of tables, whose elements repeat their keys.
  bool under_array_table(const KeyPath& path) const {
    for (std::size_t n = 1; n < path.size(); ++n) {
      if (m_array_tables.count(KeyPath(path.begin(), path.begin() + static_cast<long>(n))) != 0) {
        return true;
      }
    }
    return false;
  }

  void define(const KeyPath& path, Kind kind) {
    // Nothing may be added under a value (an inline table is closed), and a key may be
    // defined once.
    for (std::size_t n = 1; n < path.size(); ++n) {
      KeyPath prefix(path.begin(), path.begin() + static_cast<long>(n));
      auto it = m_keys.m_defined.find(prefix);
      if (it != m_keys.m_defined.end() && it->second == Kind::value
          && m_array_tables.count(prefix) == 0) {
        fail(fmt::format("\"{}\" is a value and cannot hold more keys", path[n - 1]));
      }
    }
    auto [it, added] = m_keys.m_defined.emplace(path, kind);
    if (!added && !under_array_table(path)) {
      fail(fmt::format("\"{}\" is defined twice", path.back()));
    }
  }

  void table_header() {
    ++m_pos;
    bool array = peek() == '[';
    if (array) {
      ++m_pos;
    }
    skip_blank();
    KeyPath path = parse_key();
    expect(']', "expected ']' to close a table header");
    if (array && peek() != ']') {
      fail("expected ']]' to close an array-of-tables header");
    }
    if (array) {
      ++m_pos;
      if (m_array_tables.count(path) == 0) {
        define(path, Kind::value);
        m_array_tables.insert(path);
      }
    } else {
      define(path, Kind::table);
      m_keys.m_headers.insert(path);
    }
    m_table = path;
  }

  KeyPath parse_key() {
    KeyPath key;
    for (;;) {
      skip_blank();
      key.push_back(simple_key());
      skip_blank();
      if (peek() != '.') {
        return key;
      }
      ++m_pos;
    }
  }

  std::string simple_key() {
    if (peek() == '"') {
      if (starts_with("\"\"\"")) {
        fail("a key cannot be a multi-line string");
      }
      return basic_string();
    }
    if (peek() == '\'') {
      if (starts_with("'''")) {
        fail("a key cannot be a multi-line string");
      }
      return literal_string();
    }
    std::size_t start = m_pos;
    while (!done()
           && (std::isalnum(static_cast<unsigned char>(peek())) != 0 || peek() == '_'
               || peek() == '-')) {
      ++m_pos;
    }
    if (m_pos == start) {
      fail(done() ? "expected a key" : fmt::format("unexpected '{}' where a key belongs", peek()));
    }
    return std::string(m_text.substr(start, m_pos - start));
  }

  void check_string_char(unsigned char c, bool multiline) {
    if ((c < 0x20 && c != '\t' && !(multiline && (c == '\n' || c == '\r'))) || c == 0x7f) {
      fail("control character in a string");
    }
  }

  void escape() {
    ++m_pos;  // the backslash
    char c = peek();
    std::size_t hex = c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (hex == 0 && std::string_view("btnfre\"\\").find(c) == std::string_view::npos) {
      fail("invalid escape in a string");
    }
    ++m_pos;
    for (std::size_t i = 0; i < hex; ++i, ++m_pos) {
      if (std::isxdigit(static_cast<unsigned char>(peek())) == 0) {
        fail("invalid unicode escape in a string");
      }
    }
  }

  // The key text is returned without unescaping: it is only compared with bare keys
  // such as "mcp_servers", which never need escapes.
  std::string basic_string() {
    ++m_pos;
    std::size_t start = m_pos;
    for (;;) {
      if (done() || peek() == '\n') {
        fail("unterminated string");
      }
      if (peek() == '"') {
        break;
      }
      if (peek() == '\\') {
        escape();
        continue;
      }
      check_string_char(static_cast<unsigned char>(peek()), false);
      ++m_pos;
    }
    std::string out(m_text.substr(start, m_pos - start));
    ++m_pos;
    return out;
  }

  std::string literal_string() {
    ++m_pos;
    std::size_t start = m_pos;
    while (peek() != '\'') {
      if (done() || peek() == '\n') {
        fail("unterminated string");
      }
      check_string_char(static_cast<unsigned char>(peek()), false);
      ++m_pos;
    }
    std::string out(m_text.substr(start, m_pos - start));
    ++m_pos;
    return out;
  }

  void multiline_string(char quote) {
    m_pos += 3;
    for (;;) {
      if (done()) {
        fail("unterminated multi-line string");
      }
      char c = peek();
      if (c == quote && peek(1) == quote && peek(2) == quote) {
        // Up to two more quotes belong to the content: """a""""" ends after five.
        std::size_t run = 3;
        while (run < 5 && peek(run) == quote) {
          ++run;
        }
        m_pos += run;
        return;
      }
      if (quote == '"' && c == '\\') {
        std::size_t after = m_pos + 1;
        while (after < m_text.size() && (m_text[after] == ' ' || m_text[after] == '\t')) {
          ++after;
        }
        if (after < m_text.size() && (m_text[after] == '\n' || m_text[after] == '\r')) {
          m_pos = after;  // a line-ending backslash; the newline is counted below
          continue;
        }
        escape();
        continue;
      }
      if (c == '\n' || c == '\r') {
        newline();
        continue;
      }
      check_string_char(static_cast<unsigned char>(c), true);
      ++m_pos;
    }
  }

  void array() {
    ++m_pos;
    for (;;) {
      skip_space_and_lines();
      if (peek() == ']') {
        ++m_pos;
        return;
      }
      value_kind();
      skip_space_and_lines();
      if (peek() == ',') {
        ++m_pos;
        continue;
      }
      if (peek() != ']') {
        fail("expected ',' or ']' in an array");
      }
    }
  }

  void inline_table(const KeyPath& at) {
    ++m_pos;
    skip_blank();
    if (peek() == '}') {
      ++m_pos;
      return;
    }
    for (;;) {
      skip_blank();
      KeyPath key = parse_key();
      expect('=', "expected '=' after a key");
      skip_blank();
      KeyPath full = join(at, key);
      m_keys.m_defined.emplace(full, Kind::value);
      if (peek() == '{') {
        inline_table(full);
      } else {
        value_kind();
      }
      skip_blank();
      if (peek() == ',') {
        ++m_pos;
        continue;
      }
      if (peek() != '}') {
        fail("expected ',' or '}' in an inline table");
      }
      ++m_pos;
      return;
    }
  }

  // Parses one value; every value is closed to additions, so its kind is always value.
  // Arrays and inline tables recurse: their nesting is capped so that no file can
  // exhaust the stack.
  Kind value_kind() {
    if (++m_depth > k_max_depth) {
      fail(fmt::format("values nested deeper than {}", k_max_depth));
    }
    char c = peek();
    if (starts_with("\"\"\"")) {
      multiline_string('"');
    } else if (starts_with("'''")) {
      multiline_string('\'');
    } else if (c == '"') {
      basic_string();
    } else if (c == '\'') {
      literal_string();
    } else if (c == '[') {
      array();
    } else if (c == '{') {
      inline_table(m_pending_inline);
    } else {
      scalar();
    }
    --m_depth;
    return Kind::value;
  }

  void scalar() {
    static const std::regex k_scalar(
        R"(true|false|[+-]?(inf|nan)|[+-]?(0|[1-9](_?[0-9])*)|0x[0-9A-Fa-f](_?[0-9A-Fa-f])*)"
        R"(|0o[0-7](_?[0-7])*|0b[01](_?[01])*)"
        R"(|[+-]?(0|[1-9](_?[0-9])*)(\.[0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?)"
        R"(|\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?)?)"
        R"(|\d{2}:\d{2}(:\d{2}(\.\d+)?)?)");
    std::size_t start = m_pos;
    auto token_char = [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' || ch == '+'
             || ch == '-' || ch == '.' || ch == ':';
    };
    while (!done() && token_char(peek())) {
      ++m_pos;
    }
    // A date and a time may be separated by one space.
    if (peek() == ' ' && std::isdigit(static_cast<unsigned char>(peek(1))) != 0
        && m_pos - start == 10 && m_text[start + 4] == '-') {
      ++m_pos;
      while (!done() && token_char(peek())) {
        ++m_pos;
      }
    }
    std::string token(m_text.substr(start, m_pos - start));
    if (token.size() > k_max_scalar) {
      // std::regex recurses per character: a long token would exhaust the stack.
      fail("value too long");
    }
    if (token.empty()) {
      fail(done() ? "expected a value"
                  : fmt::format("unexpected '{}' where a value belongs", peek()));
    }
    if (!std::regex_match(token, k_scalar)) {
      fail(fmt::format("invalid value {}", token));
    }
  }

  static constexpr int k_max_depth = 64;
  static constexpr std::size_t k_max_scalar = 128;

  std::string_view m_text;
  int m_depth = 0;
  TomlKeys& m_keys;
  std::size_t m_pos = 0;
  int m_line = 1;
  KeyPath m_table;
  KeyPath m_pending_inline;  // where an inline table being parsed records its keys
  std::set<KeyPath> m_array_tables;
};

TomlKeys TomlKeys::parse(std::string_view text) {
  TomlKeys keys;
  TomlParser(text, keys).parse();
  return keys;
}

TomlKeys::Kind TomlKeys::kind(const KeyPath& path) const {
  if (auto it = m_defined.find(path); it != m_defined.end()) {
    return it->second;
  }
  // Implied by a deeper definition?
  auto it = m_defined.lower_bound(path);
  if (it != m_defined.end() && it->first.size() > path.size()
      && std::equal(path.begin(), path.end(), it->first.begin())) {
    return Kind::table;
  }
  return Kind::absent;
}

std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\u{:04X}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace bch::setup
