#pragma once

#include <bch/util/fd.hpp>
#include <bch/util/waker.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace bch::relay {

// One thread waiting on many descriptors with epoll, so that a connection that mostly
// waits (an event stream) costs a registration and a few hundred bytes, not a thread.
//
// Everything a loop does runs on its thread: the handlers of registered descriptors,
// the tasks other threads post(), and a periodic tick. A handler is called with the
// epoll events that fired (level-triggered: a descriptor that stays writable keeps
// firing until its handler stops asking for EPOLLOUT). Registrations are named by a
// key that is never reused, so a descriptor closed and renumbered within one batch of
// events is never mistaken for the one it replaced.
//
// Other threads talk to the loop only through post(), which queues the task and wakes
// the loop through a util::Waker. stop() ends the thread after the batch in hand, then
// runs the tasks still queued on the calling thread, so what they carry is never lost.
class EventLoop {
public:
  using Handler = std::function<void(std::uint32_t events)>;

  // Throws Error(io) if epoll or the waker cannot be made.
  EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop();

  // Set before start(): `tick` runs about every `period`.
  void every(std::chrono::milliseconds period, std::function<void()> tick);
  void start();
  void stop();

  // From any thread: `task` runs on the loop's thread, in order of posting.
  void post(std::function<void()> task);

  // On the loop's thread only. add() returns the registration's key; false when epoll
  // refuses the descriptor.
  std::uint64_t add(int fd, std::uint32_t events, Handler handler);
  bool modify(std::uint64_t key, std::uint32_t events);
  void remove(std::uint64_t key);

private:
  void run();
  void run_posted();

  util::Fd m_epoll;
  util::Waker m_wake;
  std::thread m_thread;
  std::chrono::milliseconds m_period{1000};
  std::function<void()> m_tick;

  std::mutex m_mutex;  // m_posted and m_stopping
  std::vector<std::function<void()>> m_posted;
  bool m_stopping = false;

  struct Registration {
    int fd;
    std::shared_ptr<const Handler> handler;  // shared: a call outlives a removal
  };
  std::unordered_map<std::uint64_t, Registration> m_registered;  // loop thread only
  std::uint64_t m_next_key = 1;
};

}  // namespace bch::relay
