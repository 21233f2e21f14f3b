#pragma once

// Just enough TOML for `bch setup` to edit Codex's config.toml safely: a syntax check of
// the whole document (TOML 1.0; a file we cannot parse is never touched) and a map of
// which key paths it defines, so a table is added only where it is absent. Edits are
// appends, so every comment and byte already in the file stays as it is.

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace bch::setup {

using KeyPath = std::vector<std::string>;

class TomlKeys {
public:
  enum class Kind {
    absent,  // not defined
    table,   // a [table], or implied by a deeper key or header
    value,   // a key's value, an inline table, or an array of tables: closed to additions
  };

  // Parses `text`. Throws Error(protocol) "line N: <what is wrong>" when it is not TOML.
  static TomlKeys parse(std::string_view text);

  // What `path` is in the document. A path under a value that does not itself appear
  // (a key an inline table lacks) is absent: ask about its parent to see it is closed.
  Kind kind(const KeyPath& path) const;

  // Whether the table `path` is defined directly, by a [header] or by dotted keys: then
  // a [path] header added later would define it twice.
  bool defined_directly(const KeyPath& path) const {
    return m_headers.count(path) != 0 || m_dotted.count(path) != 0;
  }

private:
  std::map<KeyPath, Kind> m_defined;
  std::set<KeyPath> m_headers;
  std::set<KeyPath> m_dotted;
  friend class TomlParser;
};

// `text` as a TOML basic string, quotes included.
std::string toml_string(std::string_view text);

}  // namespace bch::setup
