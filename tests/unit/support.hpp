#pragma once

#include <filesystem>
#include <optional>
#include <string>

// BCH_TEST_SANITIZED: built with ASan or TSan (GCC says so with __SANITIZE_*__, clang
// with __has_feature), whose shadow memory and quarantine make RSS grow on their own.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BCH_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BCH_TEST_SANITIZED 1
#endif
#endif

namespace bch::test {

// A fresh folder under $TMPDIR (or /tmp), removed when the test passes and kept, with
// its path printed, when it fails.
class TempDir {
public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return m_path; }

private:
  std::filesystem::path m_path;
};

// Sets (or, with nothing, unsets) an environment variable and restores it on
// destruction.
class ScopedEnv {
public:
  ScopedEnv(std::string name, const std::optional<std::string>& value);
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv();

private:
  std::string m_name;
  std::optional<std::string> m_old;
};

// Writes `text` to `path`, creating parent folders.
void write_text(const std::filesystem::path& path, const std::string& text);

// The whole file, or "" if it is missing.
std::string read_text(const std::filesystem::path& path);

// Number of directory entries in `dir` (0 if missing).
std::size_t count_entries(const std::filesystem::path& dir);

}  // namespace bch::test
