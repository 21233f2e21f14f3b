#pragma once

#include <bch/util/fd.hpp>
#include <bch/util/folder_watch.hpp>
#include <bch/util/waker.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace bch::relay {

// One thread waiting on many descriptors with epoll (poll() where there is no epoll, or
// when the portable implementations are asked for: util/folder_watch.hpp), so that a
// connection that mostly waits (an event stream) costs a registration and a few hundred
// bytes, not a thread.
//
// Everything a loop does runs on its thread: the handlers of registered descriptors,
// the tasks other threads post(), and a periodic tick. A handler is called with the
// events that fired (level-triggered: a descriptor that stays writable keeps firing
// until its handler stops asking for `k_writable`; `k_hangup` is always reported). Registrations
// are named by a key that is never reused, so a descriptor closed and renumbered within one batch
// of events is never mistaken for the one it replaced.
//
// Other threads talk to the loop only through post(), which queues the task and wakes
// the loop through a util::Waker. stop() ends the thread after the batch in hand, then
// runs the tasks still queued on the calling thread, so what they carry is never lost.
class EventLoop {
public:
  using Handler = std::function<void(std::uint32_t events)>;
  static constexpr std::uint32_t k_readable = 1;
  static constexpr std::uint32_t k_writable = 2;
  static constexpr std::uint32_t k_hangup = 4;  // the peer closed, or an error

  // Throws Error(io) if epoll or the waker cannot be made. `portable`: poll(), not epoll.
  explicit EventLoop(bool portable = util::portable());
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop();

  // Set before start(): `tick` runs about every `period`.
  void every(std::chrono::milliseconds period, std::function<void()> tick);
  void start();
  void stop();

  // From any thread: `task` runs on the loop's thread, in order of posting.
  void post(std::function<void()> task);

  // On the loop's thread only. add() returns the registration's key; 0 when epoll
  // refuses the descriptor.
  std::uint64_t add(int fd, std::uint32_t events, Handler handler);
  bool modify(std::uint64_t key, std::uint32_t events);
  void remove(std::uint64_t key);

private:
  void run();
  void run_posted();
  // Waits up to `timeout_ms` and returns what fired: (key, events) pairs; nothing when
  // the wait itself failed.
  std::optional<std::vector<std::pair<std::uint64_t, std::uint32_t>>> wait(int timeout_ms);

  util::Fd m_epoll;  // none: poll()
  util::Waker m_wake;
  std::thread m_thread;
  std::chrono::milliseconds m_period{1000};
  std::function<void()> m_tick;

  std::mutex m_mutex;  // m_posted and m_stopping
  std::vector<std::function<void()>> m_posted;
  bool m_stopping = false;

  struct Registration {
    int fd;
    std::uint32_t events;
    std::shared_ptr<const Handler> handler;  // shared: a call outlives a removal
  };
  std::unordered_map<std::uint64_t, Registration> m_registered;  // loop thread only
  std::uint64_t m_next_key = 1;
};

}  // namespace bch::relay
