#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace bch::setup {

// What a dry run would have written: each file's content before and after (nothing: the
// file does not exist, or is removed), in the order first touched. Reads through a
// HomeFiles that records here see the recorded content, so later steps build on it.
struct Change {
  std::string name;  // as displayed: "~/.claude/settings.json"
  std::optional<std::string> before;
  std::optional<std::string> after;
};
using Changes = std::vector<Change>;

// `change` as a unified diff (one hunk around the changed lines, three lines of context,
// "/dev/null" for a missing side), each line passed through the sanitiser.
std::string unified_diff(const Change& change);

// The files setup edits, all addressed relative to the home. Every path is resolved
// (symlinks followed) before use and refused if it leads outside the home.
class HomeFiles {
public:
  // Throws Error(usage) when `home` does not exist. `shown` names the root in output
  // ("~" for the home; a harness folder of its own, such as CODEX_HOME, by its path).
  // With `dry_run`, nothing is written or removed: each change is recorded there instead.
  explicit HomeFiles(const std::filesystem::path& home,
                     std::string shown = "~",
                     Changes* dry_run = nullptr);

  // "~/.claude/settings.json": how a file is named in output and errors.
  std::string display(const std::filesystem::path& relative) const;

  bool exists(const std::filesystem::path& relative) const;

  // The file's content; nothing if it does not exist.
  std::optional<std::string> read(const std::filesystem::path& relative) const;

  // Replaces the file with `content` atomically, creating missing folders (0700), keeping
  // an existing file's permissions (new files get `mode`). Returns false, writing
  // nothing, when the file already holds exactly `content`.
  bool write(const std::filesystem::path& relative,
             const std::string& content,
             unsigned mode) const;

  // Takes the group's and others' permissions off the file (it holds a secret); returns
  // its new mode when it had any. A dry run changes nothing and says what it would do.
  std::optional<unsigned> make_private(const std::filesystem::path& relative) const;

  // Removes the file (refused, like write, when it is read-only); false when absent.
  bool remove(const std::filesystem::path& relative) const;

  // Removes the folder when it is empty; false otherwise.
  bool remove_empty_dir(const std::filesystem::path& relative) const;

  bool dry_run() const { return m_dry_run != nullptr; }

private:
  // The real path of `relative`, checked to be inside the home.
  std::filesystem::path resolve(const std::filesystem::path& relative) const;

  // The recorded change of `relative` in a dry run, if any.
  Change* recorded(const std::filesystem::path& relative) const;
  void refuse_read_only(const std::filesystem::path& relative) const;

  std::filesystem::path m_home;
  std::string m_shown;
  Changes* m_dry_run;
};

// A JSON settings file as setup edits it: by editing its text, not by writing back a
// parsed tree. A key is added (or its value replaced) where it belongs, in the file's
// own indentation; every other byte stays as it was: number literals such as
// 123456789012345678901234567890 or 1E2, compact arrays, key order, comments.
class JsonFile {
public:
  using Json = nlohmann::ordered_json;
  using Path = std::vector<std::string>;

  // Loads `relative` (missing or blank: an empty object). With `comments`, // and /* */
  // comments are allowed (Gemini's settings). Throws Error(protocol) naming the file
  // when it is not a JSON object or nests deeper than util::k_max_json_depth.
  JsonFile(const HomeFiles& files, std::filesystem::path relative, bool comments = false);

  const Json& value() const { return m_value; }
  std::string name() const { return m_files.display(m_relative); }

  // The value at `path` (keys of nested objects); nothing if absent. Throws
  // Error(protocol) naming the file when a step on the way is not an object.
  const Json* find(const Path& path) const;

  // Sets the value at `path`, creating the objects on the way.
  void set(const Path& path, const Json& value);

  // Removes the key at `path` (its member of the enclosing object); false when absent.
  bool erase(const Path& path);

  // Removes element `index` of the array at `path`.
  void erase_element(const Path& path, std::size_t index);

  // Appends `element` to the array at `path`, which is created when missing or null.
  // Throws Error(protocol) when it is something else.
  void append(const Path& path, const Json& element);

  // Writes the file if its text changed; returns whether it did. A file left holding an
  // empty object only (once setup --undo took out what setup added) is removed instead.
  bool save() const;

  // The file holds nothing but an empty object (and whitespace).
  bool empty() const {
    return m_value.empty() && m_text.find_first_not_of(" \t\r\n{}") == std::string::npos;
  }

private:
  // Replaces the text between `start` and `end` and checks that the file now parses to
  // `expected`: an edit that would change anything else is refused, not written.
  void splice(std::size_t start, std::size_t end, const std::string& text, const Json& expected);
  // Removes child `index` of the container at `path` from the text, with the separator
  // between it and its neighbour, leaving `expected`.
  void remove_child(const Path& path, std::size_t index, const Json& expected);
  // `value` as text for a place whose line is indented by `indent`.
  std::string render(const Json& value, const std::string& indent, bool lines) const;

  const HomeFiles& m_files;
  std::filesystem::path m_relative;
  bool m_comments;
  bool m_existed = false;
  std::string m_original;
  std::string m_text;
  Json m_value;
  std::string m_indent = "  ";  // one level, as the file indents
  std::string m_colon = ": ";   // between a key and its value, as the file writes it
  std::string m_comma = ", ";   // between members on one line, as the file writes it
};

}  // namespace bch::setup
