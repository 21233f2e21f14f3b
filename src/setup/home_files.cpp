#include "setup/home_files.hpp"

#include <bch/error.hpp>
#include <bch/util/atomic_file.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/json.hpp>

#include <fmt/format.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

namespace bch::setup {

namespace fs = std::filesystem;

namespace {

bool inside(const fs::path& path, const fs::path& root) {
  auto mismatch = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return mismatch.first == root.end();
}

// 1-based line of byte `offset` in `text`.
std::size_t line_of(const std::string& text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1
         + static_cast<std::size_t>(
             std::count(text.begin(), text.begin() + static_cast<long>(offset), '\n'));
}

}  // namespace

HomeFiles::HomeFiles(const fs::path& home) {
  std::error_code ec;
  m_home = fs::canonical(home, ec);
  if (ec || !fs::is_directory(m_home)) {
    throw Error(ErrorKind::usage, fmt::format("home folder {} does not exist", home.string()));
  }
}

std::string HomeFiles::display(const fs::path& relative) {
  return "~/" + relative.generic_string();
}

fs::path HomeFiles::resolve(const fs::path& relative) const {
  std::error_code ec;
  fs::path real = fs::weakly_canonical(m_home / relative, ec);
  if (ec) {
    throw Error(ErrorKind::io,
                fmt::format("cannot resolve {}: {}", display(relative), ec.message()));
  }
  if (!inside(real, m_home)) {
    throw Error(ErrorKind::usage,
                fmt::format("{} leads outside the home (to {}) — not touching it",
                            display(relative),
                            real.string()));
  }
  return real;
}

bool HomeFiles::exists(const fs::path& relative) const {
  std::error_code ec;
  return fs::exists(m_home / relative, ec);
}

std::optional<std::string> HomeFiles::read(const fs::path& relative) const {
  try {
    return util::read_file(resolve(relative));
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::protocol) {
      throw;
    }
    // Not a regular file (a FIFO would hang a plain read), or absurdly large.
    throw Error(ErrorKind::protocol,
                fmt::format("cannot edit {}: {} — not touching it", display(relative), e.what()));
  }
}

bool HomeFiles::write(const fs::path& relative, const std::string& content, unsigned mode) const {
  fs::path target = resolve(relative);
  auto old = read(relative);
  if (old == content) {
    return false;
  }
  struct stat existing {};
  if (old && ::stat(target.c_str(), &existing) == 0 && (existing.st_mode & S_IWUSR) == 0) {
    // Read-only is the user's word that the file is not to change (root could write it
    // anyway, and replacing it would also drop the mode).
    throw Error(ErrorKind::io,
                fmt::format("cannot edit {}: it is read-only (mode {:04o}) — not touching it",
                            display(relative),
                            existing.st_mode & 07777));
  }
  // Create missing folders one at a time, each checked again once it exists, so a
  // symlink planted along the way cannot lead the write outside the home.
  fs::path parent = target.parent_path();
  if (!fs::is_directory(parent)) {
    util::make_private_dirs(parent);
    target = resolve(relative);
  }
  struct stat st {};
  if (old && ::stat(target.c_str(), &st) == 0) {
    mode = st.st_mode & 07777;
  }
  util::AtomicFile file(target, mode);
  file.write(content);
  file.commit();
  if (old) {
    ::chmod(target.c_str(), mode);  // the temporary file was created under the umask
  }
  return true;
}

JsonFile::JsonFile(const HomeFiles& files, fs::path relative)
    : m_files(files), m_relative(std::move(relative)) {
  auto text = m_files.read(m_relative);
  if (!text || text->find_first_not_of(" \t\r\n") == std::string::npos) {
    m_value = nlohmann::ordered_json::object();
    return;
  }
  try {
    m_value = nlohmann::ordered_json::parse(*text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(ErrorKind::protocol,
                fmt::format("cannot edit {}: not valid JSON (line {}) — fix it, then run `bch "
                            "setup` again",
                            name(),
                            line_of(*text, e.byte == 0 ? 0 : e.byte - 1)));
  }
  if (!m_value.is_object()) {
    throw Error(ErrorKind::protocol,
                fmt::format("cannot edit {}: it is not a JSON object", name()));
  }
  // Keep the file's indentation: the first indented line shows it.
  auto newline = text->find('\n');
  if (newline != std::string::npos && newline + 1 < text->size()) {
    std::size_t start = newline + 1;
    std::size_t end = text->find_first_not_of(" \t", start);
    if (end != std::string::npos && end > start) {
      m_indent_char = (*text)[start];
      m_indent = static_cast<int>(end - start);
    }
  }
}

nlohmann::ordered_json& JsonFile::object_at(nlohmann::ordered_json& parent,
                                            const std::string& key) {
  auto& child = parent[key];
  if (child.is_null()) {
    child = nlohmann::ordered_json::object();
  }
  if (!child.is_object()) {
    throw Error(ErrorKind::protocol,
                fmt::format("cannot edit {}: \"{}\" is not a JSON object", name(), key));
  }
  return child;
}

bool JsonFile::save() const {
  std::string text =
      m_value.dump(m_indent, m_indent_char, false, nlohmann::json::error_handler_t::strict) + "\n";
  // Unchanged content is not rewritten, whatever its formatting.
  auto old = m_files.read(m_relative);
  if (old && old->find_first_not_of(" \t\r\n") != std::string::npos
      && util::parse_json<nlohmann::ordered_json>(*old) == m_value) {
    return false;
  }
  return m_files.write(m_relative, text, 0600);
}

}  // namespace bch::setup
