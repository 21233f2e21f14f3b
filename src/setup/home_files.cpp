#include "setup/home_files.hpp"

#include <bch/error.hpp>
#include <bch/util/atomic_file.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/json.hpp>
#include <bch/util/text.hpp>

#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

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

namespace {

// `text` in lines, each with its newline (the last may have none).
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    auto end = text.find('\n');
    end = end == std::string_view::npos ? text.size() : end + 1;
    out.push_back(text.substr(0, end));
    text.remove_prefix(end);
  }
  return out;
}

// "a,b" of a hunk header: its first line (the one before, when it has none) and length.
std::string hunk_range(std::size_t start, std::size_t count) {
  return fmt::format("{},{}", count == 0 ? start : start + 1, count);
}

}  // namespace

std::string unified_diff(const Change& change) {
  std::string before_text = change.before.value_or("");
  std::string after_text = change.after.value_or("");
  auto before = lines_of(before_text);
  auto after = lines_of(after_text);
  std::size_t prefix = 0;
  while (prefix < before.size() && prefix < after.size() && before[prefix] == after[prefix]) {
    ++prefix;
  }
  std::size_t suffix = 0;
  while (suffix < before.size() - prefix && suffix < after.size() - prefix
         && before[before.size() - 1 - suffix] == after[after.size() - 1 - suffix]) {
    ++suffix;
  }
  constexpr std::size_t k_context = 3;
  std::size_t first = prefix > k_context ? prefix - k_context : 0;
  std::size_t tail = std::min(suffix, k_context);
  std::size_t old_end = before.size() - suffix + tail;
  std::size_t new_end = after.size() - suffix + tail;
  std::string out = fmt::format("--- {}\n+++ {}\n@@ -{} +{} @@\n",
                                change.before ? change.name : "/dev/null",
                                change.after ? change.name : "/dev/null",
                                hunk_range(first, old_end - first),
                                hunk_range(first, new_end - first));
  auto line = [&](char mark, std::string_view text) {
    bool newline = text.ends_with('\n');
    out += mark + util::sanitize(newline ? text.substr(0, text.size() - 1) : text, false) + "\n";
    if (!newline) {
      out += "\\ No newline at end of file\n";
    }
  };
  for (std::size_t i = first; i < prefix; ++i) {
    line(' ', before[i]);
  }
  for (std::size_t i = prefix; i < before.size() - suffix; ++i) {
    line('-', before[i]);
  }
  for (std::size_t i = prefix; i < after.size() - suffix; ++i) {
    line('+', after[i]);
  }
  for (std::size_t i = before.size() - suffix; i < old_end; ++i) {
    line(' ', before[i]);
  }
  return out;
}

HomeFiles::HomeFiles(const fs::path& home, std::string shown, Changes* dry_run)
    : m_shown(std::move(shown)), m_dry_run(dry_run) {
  std::error_code ec;
  m_home = fs::canonical(home, ec);
  if (ec || !fs::is_directory(m_home)) {
    throw Error(ErrorKind::usage, fmt::format("home folder {} does not exist", home.string()));
  }
}

std::string HomeFiles::display(const fs::path& relative) const {
  return m_shown + "/" + relative.generic_string();
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

Change* HomeFiles::recorded(const fs::path& relative) const {
  if (m_dry_run == nullptr) {
    return nullptr;
  }
  auto name = display(relative);
  auto it = std::find_if(
      m_dry_run->begin(), m_dry_run->end(), [&](const Change& c) { return c.name == name; });
  return it == m_dry_run->end() ? nullptr : &*it;
}

bool HomeFiles::exists(const fs::path& relative) const {
  if (const auto* change = recorded(relative)) {
    return change->after.has_value();
  }
  std::error_code ec;
  return fs::exists(m_home / relative, ec);
}

std::optional<std::string> HomeFiles::read(const fs::path& relative) const {
  if (const auto* change = recorded(relative)) {
    return change->after;
  }
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
  if (old) {
    refuse_read_only(relative);
  }
  if (m_dry_run != nullptr) {
    if (auto* change = recorded(relative)) {
      change->after = content;
    } else {
      m_dry_run->push_back({display(relative), old, content});
    }
    return true;
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

std::optional<unsigned> HomeFiles::make_private(const fs::path& relative) const {
  fs::path target = resolve(relative);
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) == 0) {
    return std::nullopt;
  }
  unsigned mode = st.st_mode & 07700;
  if (m_dry_run == nullptr && ::chmod(target.c_str(), mode) != 0) {
    throw Error(ErrorKind::io,
                fmt::format("cannot make {} private: {}", display(relative), std::strerror(errno)));
  }
  return mode;
}

void HomeFiles::refuse_read_only(const fs::path& relative) const {
  struct stat existing {};
  if (::stat(resolve(relative).c_str(), &existing) == 0 && (existing.st_mode & S_IWUSR) == 0) {
    // Read-only is the user's word that the file is not to change (root could write it
    // anyway, and replacing it would also drop the mode).
    throw Error(ErrorKind::io,
                fmt::format("cannot edit {}: it is read-only (mode {:04o}) — not touching it",
                            display(relative),
                            existing.st_mode & 07777));
  }
}

bool HomeFiles::remove(const fs::path& relative) const {
  auto old = read(relative);
  if (!old) {
    return false;
  }
  refuse_read_only(relative);
  if (m_dry_run != nullptr) {
    if (auto* change = recorded(relative)) {
      change->after.reset();
    } else {
      m_dry_run->push_back({display(relative), old, std::nullopt});
    }
    return true;
  }
  fs::path target = resolve(relative);
  if (::unlink(target.c_str()) != 0) {
    throw Error(ErrorKind::io,
                fmt::format("cannot remove {}: {}", display(relative), std::strerror(errno)));
  }
  util::fsync_dir(target.parent_path());
  return true;
}

bool HomeFiles::remove_empty_dir(const fs::path& relative) const {
  if (m_dry_run != nullptr) {
    return false;  // a dry run shows files; their folders follow them
  }
  return ::rmdir(resolve(relative).c_str()) == 0;
}

namespace {

// Where each value of a JSON text lies: enough structure to add a key after the last
// one, in the file's own layout. The text was parsed by nlohmann first, so it is JSON
// (or JSONC) and at most k_max_json_depth deep.
struct Span {
  enum class Kind { object, array, other } kind = Kind::other;
  std::size_t start = 0;
  std::size_t end = 0;
  std::vector<std::string> keys;        // objects: each member's key, decoded
  std::vector<std::size_t> key_starts;  // objects: where each key's quote is
  std::vector<Span> children;           // members' values, or elements
};

class SpanParser {
public:
  explicit SpanParser(std::string_view text) : m_text(text) {}

  Span parse() {
    Span root = value();
    return root;
  }

private:
  char at(std::size_t i) const {
    if (i >= m_text.size()) {
      throw Error(ErrorKind::internal, "JSON text ended early");
    }
    return m_text[i];
  }

  void skip() {
    while (m_pos < m_text.size()) {
      char c = m_text[m_pos];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++m_pos;
      } else if (c == '/' && m_pos + 1 < m_text.size() && m_text[m_pos + 1] == '/') {
        std::size_t end = m_text.find('\n', m_pos);
        m_pos = end == std::string_view::npos ? m_text.size() : end;
      } else if (c == '/' && m_pos + 1 < m_text.size() && m_text[m_pos + 1] == '*') {
        std::size_t end = m_text.find("*/", m_pos + 2);
        m_pos = end == std::string_view::npos ? m_text.size() : end + 2;
      } else {
        return;
      }
    }
  }

  void string() {
    ++m_pos;
    while (at(m_pos) != '"') {
      m_pos += at(m_pos) == '\\' ? std::size_t{2} : std::size_t{1};
    }
    ++m_pos;
  }

  Span value() {
    skip();
    Span span;
    span.start = m_pos;
    char c = at(m_pos);
    if (c == '{' || c == '[') {
      bool object = c == '{';
      span.kind = object ? Span::Kind::object : Span::Kind::array;
      char close = object ? '}' : ']';
      ++m_pos;
      skip();
      while (at(m_pos) != close) {
        if (object) {
          std::size_t key_start = m_pos;
          string();
          auto key = nlohmann::json::parse(m_text.substr(key_start, m_pos - key_start));
          span.keys.push_back(key.get<std::string>());
          span.key_starts.push_back(key_start);
          skip();
          ++m_pos;  // ':'
        }
        span.children.push_back(value());
        skip();
        if (at(m_pos) == ',') {
          ++m_pos;
          skip();
        }
      }
      ++m_pos;
    } else if (c == '"') {
      string();
    } else {
      while (m_pos < m_text.size()
             && std::string_view(",]} \t\r\n/").find(m_text[m_pos]) == std::string_view::npos) {
        ++m_pos;
      }
    }
    span.end = m_pos;
    return span;
  }

  std::string_view m_text;
  std::size_t m_pos = 0;
};

// The whitespace that begins the line holding `pos`.
std::string line_indent(const std::string& text, std::size_t pos) {
  std::size_t start = text.rfind('\n', pos == 0 ? 0 : pos - 1);
  start = start == std::string::npos ? 0 : start + 1;
  std::size_t end = text.find_first_not_of(" \t", start);
  return text.substr(start, std::min(end, pos) - start);
}

// Whether only whitespace precedes `pos` on its line.
bool starts_line(const std::string& text, std::size_t pos) {
  std::size_t start = text.rfind('\n', pos == 0 ? 0 : pos - 1);
  start = start == std::string::npos ? 0 : start + 1;
  return pos == 0 || text.find_first_not_of(" \t", start) == pos;
}

bool multiline(const std::string& text, const Span& span) {
  return text.find('\n', span.start) < span.end;
}

}  // namespace

namespace {

// A path step into an array is the element's index, in decimal.
std::optional<std::size_t> index_step(const std::string& key) {
  if (key.empty() || key.size() > 9
      || !std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(std::stoul(key));
}

// The value at `path` inside `root`, which holds it (the caller checked with find).
JsonFile::Json& value_at(JsonFile::Json& root, const JsonFile::Path& path) {
  JsonFile::Json* node = &root;
  for (const auto& key : path) {
    node = node->is_array() ? &node->at(index_step(key).value_or(node->size())) : &(*node)[key];
  }
  return *node;
}

// The span of the value at `path` (which exists) inside `span`.
Span span_at(Span span, const JsonFile::Path& path) {
  for (const auto& key : path) {
    std::size_t i = 0;
    if (span.kind == Span::Kind::array) {
      i = index_step(key).value_or(span.children.size());
    } else {
      i = static_cast<std::size_t>(std::find(span.keys.begin(), span.keys.end(), key)
                                   - span.keys.begin());
    }
    if (i >= span.children.size()) {
      throw Error(ErrorKind::internal, "JSON path not in the text");
    }
    Span child = std::move(span.children[i]);
    span = std::move(child);
  }
  return span;
}

}  // namespace

JsonFile::JsonFile(const HomeFiles& files, fs::path relative, bool comments)
    : m_files(files), m_relative(std::move(relative)), m_comments(comments) {
  auto text = m_files.read(m_relative);
  m_existed = text.has_value();
  m_original = text.value_or("");
  if (m_original.find_first_not_of(" \t\r\n") == std::string::npos) {
    m_value = Json::object();
    return;
  }
  if (!util::json_depth_within(m_original, util::k_max_json_depth, comments)) {
    throw Error(ErrorKind::protocol,
                fmt::format("cannot edit {}: not valid JSON (nested deeper than {}) — fix it, "
                            "then run `bch setup` again",
                            name(),
                            util::k_max_json_depth));
  }
  try {
    m_value = Json::parse(m_original, nullptr, true, comments);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(ErrorKind::protocol,
                fmt::format("cannot edit {}: not valid JSON (line {}) — fix it, then run `bch "
                            "setup` again",
                            name(),
                            line_of(m_original, e.byte == 0 ? 0 : e.byte - 1)));
  } catch (const nlohmann::json::out_of_range&) {
    // Valid JSON, but a number no double holds (1E400): it could not be written back.
    throw Error(
        ErrorKind::protocol,
        fmt::format("cannot edit {}: it holds a number out of range — not touching it", name()));
  }
  if (!m_value.is_object()) {
    throw Error(ErrorKind::protocol,
                fmt::format("cannot edit {}: it is not a JSON object", name()));
  }
  m_text = m_original;
  // The file's spacing after a key and between members on one line.
  if (m_text.find("\": ") == std::string::npos && m_text.find("\":") != std::string::npos) {
    m_colon = ":";
  }
  if (m_text.find(", ") == std::string::npos && m_text.find(",\"") != std::string::npos) {
    m_comma = ",";
  }
  // One level of the file's indentation: the first indented line shows it.
  auto newline = m_text.find('\n');
  if (newline != std::string::npos && newline + 1 < m_text.size()) {
    std::size_t start = newline + 1;
    std::size_t end = m_text.find_first_not_of(" \t", start);
    if (end != std::string::npos && end > start) {
      m_indent = m_text.substr(start, end - start);
    }
  }
}

const JsonFile::Json* JsonFile::find(const Path& path) const {
  const Json* node = &m_value;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (node->is_array() && index_step(path[i])) {
      auto index = *index_step(path[i]);
      if (index >= node->size()) {
        return nullptr;
      }
      node = &(*node)[index];
      continue;
    }
    if (!node->is_object()) {
      throw Error(ErrorKind::protocol,
                  fmt::format("cannot edit {}: \"{}\" is not a JSON object", name(), path[i - 1]));
    }
    auto it = node->find(path[i]);
    if (it == node->end()) {
      return nullptr;
    }
    node = &*it;
  }
  return node;
}

std::string JsonFile::render(const Json& value, const std::string& indent, bool lines) const {
  if (!lines) {
    // On one line, in the file's own spacing.
    if (value.is_object() && !value.empty()) {
      std::string out = "{";
      for (const auto& [key, item] : value.items()) {
        out += (out.size() > 1 ? m_comma : "") + Json(key).dump() + m_colon
               + render(item, indent, false);
      }
      return out + "}";
    }
    if (value.is_array() && !value.empty()) {
      std::string out = "[";
      for (const auto& item : value) {
        out += (out.size() > 1 ? m_comma : "") + render(item, indent, false);
      }
      return out + "]";
    }
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  }
  std::string text = value.dump(static_cast<int>(m_indent.size()),
                                m_indent.empty() ? ' ' : m_indent[0],
                                false,
                                nlohmann::json::error_handler_t::strict);
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '\n') {
      out += indent;
    }
  }
  return out;
}

void JsonFile::splice(std::size_t start,
                      std::size_t end,
                      const std::string& text,
                      const Json& expected) {
  std::string edited = m_text.substr(0, start) + text + m_text.substr(end);
  auto check = Json::parse(edited, nullptr, false, m_comments);
  if (check.is_discarded() || check != expected) {
    throw Error(
        ErrorKind::internal,
        fmt::format("cannot edit {} without changing more than one key — add it by hand", name()));
  }
  m_text = std::move(edited);
  m_value = expected;
}

void JsonFile::set(const Path& path, const Json& value) {
  Json expected = m_value;
  Json* target = &expected;
  for (const auto& key : path) {
    target = &(*target)[key];
  }
  *target = value;
  if (m_text.find_first_not_of(" \t\r\n") == std::string::npos) {
    m_text = render(expected, "", true) + "\n";
    m_value = expected;
    return;
  }
  // Walk down the existing objects; the first missing key is inserted whole.
  Span span = SpanParser(m_text).parse();
  for (std::size_t depth = 0; depth < path.size(); ++depth) {
    const std::string& key = path[depth];
    auto it = std::find(span.keys.begin(), span.keys.end(), key);
    if (it == span.keys.end()) {
      Json inserted = value;
      for (std::size_t k = path.size() - 1; k > depth; --k) {
        inserted = Json{{path[k], inserted}};
      }
      bool lines = multiline(m_text, span)
                   || (span.children.empty() && m_text.find('\n') < m_text.size() - 1);
      std::string member = Json(key).dump() + m_colon;
      if (span.children.empty()) {
        std::string base = line_indent(m_text, span.start);
        std::string inner = base + m_indent;
        std::string text =
            lines ? fmt::format(
                "{{\n{}{}{}\n{}}}", inner, member, render(inserted, inner, true), base)
                  : fmt::format("{{{}{}}}", member, render(inserted, "", false));
        splice(span.start, span.end, text, expected);
        return;
      }
      std::size_t last_key = span.key_starts.back();
      std::string indent = starts_line(m_text, last_key)
                               ? line_indent(m_text, last_key)
                               : line_indent(m_text, span.start) + m_indent;
      std::string text =
          lines ? fmt::format(",\n{}{}{}", indent, member, render(inserted, indent, true))
                : fmt::format("{}{}{}", m_comma, member, render(inserted, "", false));
      splice(span.children.back().end, span.children.back().end, text, expected);
      return;
    }
    Span child = span.children[static_cast<std::size_t>(it - span.keys.begin())];
    if (depth + 1 == path.size() || child.kind != Span::Kind::object) {
      // The value itself, or something in the way (null): replaced by what belongs there.
      Json replacement = value;
      for (std::size_t k = path.size() - 1; k > depth; --k) {
        replacement = Json{{path[k], replacement}};
      }
      bool lines = multiline(m_text, span);
      splice(child.start,
             child.end,
             render(replacement, line_indent(m_text, child.start), lines),
             expected);
      return;
    }
    span = std::move(child);
  }
}

void JsonFile::append(const Path& path, const Json& element) {
  const Json* existing = find(path);
  if (existing == nullptr || existing->is_null()) {
    set(path, Json::array({element}));
    return;
  }
  if (!existing->is_array()) {
    throw Error(ErrorKind::protocol,
                fmt::format("cannot edit {}: \"{}\" is not an array", name(), path.back()));
  }
  Json expected = m_value;
  Json* target = &expected;
  for (const auto& key : path) {
    target = &(*target)[key];
  }
  target->push_back(element);
  Span span = SpanParser(m_text).parse();
  for (const auto& key : path) {
    auto it = std::find(span.keys.begin(), span.keys.end(), key);
    Span child = span.children[static_cast<std::size_t>(it - span.keys.begin())];
    span = std::move(child);
  }
  bool lines = multiline(m_text, span);
  if (span.children.empty()) {
    std::string base = line_indent(m_text, span.start);
    std::string text =
        lines ? "[\n" + base + m_indent + render(element, base + m_indent, true) + "\n" + base + "]"
              : "[" + render(element, "", false) + "]";
    splice(span.start, span.end, text, expected);
    return;
  }
  std::size_t last = span.children.back().start;
  std::string text;
  if (lines && starts_line(m_text, last)) {
    std::string indent = line_indent(m_text, last);
    text = ",\n" + indent + render(element, indent, true);
  } else {
    text = m_comma + render(element, line_indent(m_text, last), lines);
  }
  splice(span.children.back().end, span.children.back().end, text, expected);
}

void JsonFile::remove_child(const Path& path, std::size_t index, const Json& expected) {
  Span span = span_at(SpanParser(m_text).parse(), path);
  bool object = span.kind == Span::Kind::object;
  std::size_t count = span.children.size();
  if (count == 1) {
    splice(span.start, span.end, object ? "{}" : "[]", expected);
    return;
  }
  auto begin = [&](std::size_t i) { return object ? span.key_starts[i] : span.children[i].start; };
  if (index + 1 < count) {
    // From this member to the next one: its separator and the next one's indentation go.
    splice(begin(index), begin(index + 1), "", expected);
  } else {
    // The last: from the end of the one before, taking the separator before it.
    splice(span.children[index - 1].end, span.children[index].end, "", expected);
  }
}

bool JsonFile::erase(const Path& path) {
  if (path.empty() || find(path) == nullptr) {
    return false;
  }
  Path parent(path.begin(), path.end() - 1);
  Json expected = m_value;
  value_at(expected, parent).erase(path.back());
  // The member's place among the keys as written (the parsed object keeps that order).
  const Json* container = parent.empty() ? &m_value : find(parent);
  std::size_t index = 0;
  for (const auto& [key, item] : container->items()) {
    if (key == path.back()) {
      break;
    }
    ++index;
  }
  remove_child(parent, index, expected);
  return true;
}

void JsonFile::erase_element(const Path& path, std::size_t index) {
  Json expected = m_value;
  value_at(expected, path).erase(index);
  remove_child(path, index, expected);
}

bool JsonFile::save() const {
  if (m_text == m_original) {
    return false;
  }
  if (m_existed && empty()) {
    // Nothing but an empty object left (after setup --undo): as if it had never been.
    return m_files.remove(m_relative);
  }
  return m_files.write(m_relative, m_text, 0600);
}

}  // namespace bch::setup
