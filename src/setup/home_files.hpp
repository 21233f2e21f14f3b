#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace bch::setup {

// The files setup edits, all addressed relative to the home. Every path is resolved
// (symlinks followed) before use and refused if it leads outside the home.
class HomeFiles {
public:
  // Throws Error(usage) when `home` does not exist.
  explicit HomeFiles(const std::filesystem::path& home);

  // "~/.claude/settings.json": how a file is named in output and errors.
  static std::string display(const std::filesystem::path& relative);

  bool exists(const std::filesystem::path& relative) const;

  // The file's content; nothing if it does not exist.
  std::optional<std::string> read(const std::filesystem::path& relative) const;

  // Replaces the file with `content` atomically, creating missing folders (0700), keeping
  // an existing file's permissions (new files get `mode`). Returns false, writing
  // nothing, when the file already holds exactly `content`.
  bool write(const std::filesystem::path& relative,
             const std::string& content,
             unsigned mode) const;

private:
  // The real path of `relative`, checked to be inside the home.
  std::filesystem::path resolve(const std::filesystem::path& relative) const;

  std::filesystem::path m_home;
};

// A JSON settings file as setup edits it: parsed with key order kept, and written back
// in the indentation it had.
class JsonFile {
public:
  // Loads `relative` (missing or blank: an empty object). Throws Error(protocol) naming
  // the file when it is not a JSON object.
  JsonFile(const HomeFiles& files, std::filesystem::path relative);

  nlohmann::ordered_json& value() { return m_value; }
  std::string name() const { return HomeFiles::display(m_relative); }

  // The object at `key` of `parent`, created when missing. Throws Error(protocol) naming
  // the file when it holds something else.
  nlohmann::ordered_json& object_at(nlohmann::ordered_json& parent, const std::string& key);

  // Writes the file if the value changed; returns whether it did.
  bool save() const;

private:
  const HomeFiles& m_files;
  std::filesystem::path m_relative;
  nlohmann::ordered_json m_value;
  int m_indent = 2;
  char m_indent_char = ' ';
};

}  // namespace bch::setup
