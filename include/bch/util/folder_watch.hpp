#pragma once

// Watching folders for entries that arrive in them: the one interface behind `bch
// watch`, the local spool's waits and the relay's event streams. Two implementations:
// the kernel's (inotify on Linux) and a portable one that lists each folder every
// period and reports the difference, for systems without inotify (macOS, the BSDs) and
// for Linux when no inotify instance is left. Both are built on Linux and pass one
// contract test (tests/unit/test_util_folder_watch.cpp); portable() picks the portable
// one where the kernel's exists.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace bch::util {

class FolderWatch {
public:
  struct Event {
    int id = 0;         // the watch, as add() returned it
    std::string name;   // the entry that arrived; empty: rescan the folder (events were lost)
    bool gone = false;  // the folder itself was deleted or moved away: the watch is over
  };

  virtual ~FolderWatch() = default;

  // Readable when events may be waiting (for poll() or an event loop).
  virtual int fd() const = 0;

  // Starts watching `dir` for entries created in it or renamed into it; what is there
  // already is not reported. The same folder again gives the same id. Throws Error(io)
  // naming the folder when it cannot be watched.
  virtual int add(const std::filesystem::path& dir) = 0;

  // Stops watching; an id that is over (gone, or removed) is ignored.
  virtual void remove(int id) = 0;

  // The events waiting now, without blocking. A `gone` event ends its watch.
  virtual std::vector<Event> take() = 0;
};

enum class FolderWatchKind { kernel, polling };

// Whether bch uses only its portable implementations (this folder watch's polling one,
// the relay event loop's poll()): always where the kernel's are missing, and on Linux
// when built with BCH_PORTABLE=ON or run with the variable BCH_PORTABLE=1, so that what
// macOS runs is tested here.
bool portable();

// The kind this build uses: the kernel's, unless portable().
FolderWatchKind default_folder_watch();

// A watch of that kind; the portable one lists its folders every `period`. Throws
// Error(io) when it cannot be made (the kernel's: no inotify instance left).
std::unique_ptr<FolderWatch> make_folder_watch(
    FolderWatchKind kind = default_folder_watch(),
    std::chrono::milliseconds period = std::chrono::milliseconds(100));

}  // namespace bch::util
