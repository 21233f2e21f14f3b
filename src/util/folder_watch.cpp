// The two FolderWatch implementations (see the header). The kernel's reports what
// inotify reports; the portable one keeps each folder's listing and, every period,
// reports the names that are new since, from a thread of its own that wakes fd().

#include <bch/error.hpp>
#include <bch/util/fd.hpp>
#include <bch/util/folder_watch.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/waker.hpp>

#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/inotify.h>
#endif

#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string_view>
#include <thread>
#include <unordered_set>

namespace bch::util {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void cannot_watch(const fs::path& dir, int err) {
  throw Error(ErrorKind::io, errno_message(fmt::format("cannot watch '{}'", dir.string()), err));
}

#ifdef __linux__
class KernelWatch final : public FolderWatch {
public:
  KernelWatch() : m_inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (!m_inotify) {
      throw Error(ErrorKind::io, errno_message("cannot create an inotify instance", errno));
    }
  }

  int fd() const override { return m_inotify.get(); }

  int add(const fs::path& dir) override {
    std::lock_guard lock(m_mutex);
    int wd =
        ::inotify_add_watch(m_inotify.get(),
                            dir.c_str(),
                            IN_MOVED_TO | IN_CREATE | IN_ONLYDIR | IN_DELETE_SELF | IN_MOVE_SELF);
    if (wd < 0) {
      cannot_watch(dir, errno);
    }
    m_live.insert(wd);
    return wd;
  }

  void remove(int id) override {
    std::lock_guard lock(m_mutex);
    if (m_live.erase(id) > 0) {
      ::inotify_rm_watch(m_inotify.get(), id);
    }
  }

  std::vector<Event> take() override {
    std::vector<Event> out;
    alignas(inotify_event) std::array<char, 16384> buffer{};
    for (;;) {
      ssize_t n = ::read(m_inotify.get(), buffer.data(), buffer.size());
      if (n <= 0) {
        return out;
      }
      std::lock_guard lock(m_mutex);
      for (ssize_t off = 0; off < n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + off);
        off += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        if ((event->mask & IN_Q_OVERFLOW) != 0) {
          for (int wd : m_live) {
            out.push_back({wd, "", false});  // lost events: every folder is rescanned
          }
        } else if ((event->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
          // The folder went (or the kernel dropped the watch): over, reported once. An
          // IN_IGNORED after our own removal finds nothing live.
          if (m_live.erase(event->wd) > 0) {
            if ((event->mask & IN_IGNORED) == 0) {
              ::inotify_rm_watch(m_inotify.get(), event->wd);
            }
            out.push_back({event->wd, "", true});
          }
        } else if (event->len > 0 && m_live.contains(event->wd)) {
          out.push_back({event->wd, std::string(event->name), false});
        }
      }
    }
  }

private:
  Fd m_inotify;
  std::mutex m_mutex;  // m_live: add() runs on any thread, take() on the reader's
  std::unordered_set<int> m_live;
};
#endif

// The names in `dir`; nothing when it cannot be listed (gone, or not a folder).
std::optional<std::set<std::string>> listing(const fs::path& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return std::nullopt;
  }
  std::set<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    names.insert(it->path().filename().string());
  }
  if (ec) {
    return std::nullopt;
  }
  return names;
}

class PollingWatch final : public FolderWatch {
public:
  explicit PollingWatch(std::chrono::milliseconds period)
      : m_period(std::max(period, std::chrono::milliseconds(1))),
        m_thread([this](const std::stop_token& stop) { run(stop); }) {}
  PollingWatch(const PollingWatch&) = delete;
  PollingWatch& operator=(const PollingWatch&) = delete;

  ~PollingWatch() override {
    m_thread.request_stop();
    m_thread.join();
  }

  int fd() const override { return m_waker.fd(); }

  int add(const fs::path& dir) override {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
      cannot_watch(dir, errno);
    }
    if (!S_ISDIR(st.st_mode)) {
      cannot_watch(dir, ENOTDIR);
    }
    auto names = listing(dir);
    if (!names) {
      cannot_watch(dir, EACCES);
    }
    std::lock_guard lock(m_mutex);
    auto key = dir.lexically_normal().string();
    if (auto it = m_by_path.find(key); it != m_by_path.end()) {
      return it->second;
    }
    int id = m_next++;
    m_folders.emplace(id, Folder{key, st.st_dev, st.st_ino, std::move(*names)});
    m_by_path.emplace(key, id);
    return id;
  }

  void remove(int id) override {
    std::lock_guard lock(m_mutex);
    if (auto it = m_folders.find(id); it != m_folders.end()) {
      m_by_path.erase(it->second.dir);
      m_folders.erase(it);
    }
  }

  std::vector<Event> take() override {
    std::lock_guard lock(m_mutex);
    m_waker.drain();
    return std::exchange(m_pending, {});
  }

private:
  struct Folder {
    std::string dir;
    dev_t dev;
    ino_t ino;
    std::set<std::string> names;
  };

  void run(const std::stop_token& stop) {
    std::mutex sleep_mutex;
    std::condition_variable_any sleeper;
    while (!stop.stop_requested()) {
      {
        std::unique_lock lock(sleep_mutex);
        sleeper.wait_for(lock, stop, m_period, [] { return false; });
      }
      if (!stop.stop_requested()) {
        scan();
      }
    }
  }

  // Lists every folder (outside the lock: a slow disk must not block add() or take()),
  // then reports what is new in those still watched under the same id.
  void scan() {
    std::vector<std::pair<int, std::string>> folders;
    {
      std::lock_guard lock(m_mutex);
      for (const auto& [id, folder] : m_folders) {
        folders.emplace_back(id, folder.dir);
      }
    }
    struct Seen {
      int id;
      bool gone;
      dev_t dev;
      ino_t ino;
      std::set<std::string> names;
    };
    std::vector<Seen> seen;
    for (const auto& [id, dir] : folders) {
      struct stat st {};
      auto names =
          ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) ? listing(dir) : std::nullopt;
      seen.push_back(
          {id, !names, st.st_dev, st.st_ino, names ? std::move(*names) : std::set<std::string>{}});
    }
    bool any = false;
    std::lock_guard lock(m_mutex);
    for (auto& s : seen) {
      auto it = m_folders.find(s.id);
      if (it == m_folders.end()) {
        continue;  // removed meanwhile
      }
      Folder& folder = it->second;
      if (s.gone || s.dev != folder.dev || s.ino != folder.ino) {
        // Deleted, or another folder now under that name (moved away): over.
        m_pending.push_back({s.id, "", true});
        m_by_path.erase(folder.dir);
        m_folders.erase(it);
        any = true;
        continue;
      }
      for (const auto& name : s.names) {
        if (!folder.names.contains(name)) {
          m_pending.push_back({s.id, name, false});
          any = true;
        }
      }
      folder.names = std::move(s.names);
    }
    if (any) {
      m_waker.notify();
    }
  }

  std::chrono::milliseconds m_period;
  Waker m_waker;
  std::mutex m_mutex;  // everything below
  std::map<int, Folder> m_folders;
  std::map<std::string, int> m_by_path;
  int m_next = 1;
  std::vector<Event> m_pending;
  std::jthread m_thread;  // last: started once the rest exists, stopped first
};

}  // namespace

bool portable() {
#if defined(__linux__) && !defined(BCH_PORTABLE)
  const char* chosen = std::getenv("BCH_PORTABLE");
  return chosen != nullptr && std::string_view(chosen) == "1";
#else
  return true;
#endif
}

FolderWatchKind default_folder_watch() {
  return portable() ? FolderWatchKind::polling : FolderWatchKind::kernel;
}

std::unique_ptr<FolderWatch> make_folder_watch(FolderWatchKind kind,
                                               std::chrono::milliseconds period) {
#ifdef __linux__
  if (kind == FolderWatchKind::kernel) {
    return std::make_unique<KernelWatch>();
  }
#endif
  return std::make_unique<PollingWatch>(period);
}

}  // namespace bch::util
