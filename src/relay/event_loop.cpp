#include "relay/event_loop.hpp"

#include <bch/error.hpp>
#include <bch/util/fs.hpp>

#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace bch::relay {

EventLoop::EventLoop() : m_epoll(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!m_epoll) {
    throw Error(ErrorKind::io, util::errno_message("cannot start the relay's event loop", errno));
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = 0;  // key 0: the wake-up
  if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, m_wake.fd(), &event) != 0) {
    throw Error(ErrorKind::io, util::errno_message("cannot start the relay's event loop", errno));
  }
}

EventLoop::~EventLoop() {
  stop();
}

void EventLoop::every(std::chrono::milliseconds period, std::function<void()> tick) {
  m_period = std::max(period, std::chrono::milliseconds(1));
  m_tick = std::move(tick);
}

void EventLoop::start() {
  m_thread = std::thread([this] { run(); });
}

void EventLoop::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_wake.notify();
  if (m_thread.joinable()) {
    m_thread.join();
  }
  // The thread is gone: what is still queued runs here, so nothing it carries leaks.
  run_posted();
}

void EventLoop::post(std::function<void()> task) {
  {
    std::lock_guard lock(m_mutex);
    m_posted.push_back(std::move(task));
  }
  m_wake.notify();
}

std::uint64_t EventLoop::add(int fd, std::uint32_t events, Handler handler) {
  std::uint64_t key = m_next_key++;
  epoll_event event{};
  event.events = events;
  event.data.u64 = key;
  if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    return 0;
  }
  m_registered.emplace(key, Registration{fd, std::make_shared<const Handler>(std::move(handler))});
  return key;
}

bool EventLoop::modify(std::uint64_t key, std::uint32_t events) {
  auto it = m_registered.find(key);
  if (it == m_registered.end()) {
    return false;
  }
  epoll_event event{};
  event.events = events;
  event.data.u64 = key;
  return ::epoll_ctl(m_epoll.get(), EPOLL_CTL_MOD, it->second.fd, &event) == 0;
}

void EventLoop::remove(std::uint64_t key) {
  auto it = m_registered.find(key);
  if (it == m_registered.end()) {
    return;
  }
  ::epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, it->second.fd, nullptr);
  m_registered.erase(it);
}

void EventLoop::run_posted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(m_mutex);
    tasks.swap(m_posted);
  }
  for (auto& task : tasks) {
    task();
  }
}

void EventLoop::run() {
  using clock = std::chrono::steady_clock;
  auto next_tick = clock::now() + m_period;
  std::array<epoll_event, 256> events{};
  for (;;) {
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_tick - clock::now());
    int n = ::epoll_wait(m_epoll.get(),
                         events.data(),
                         static_cast<int>(events.size()),
                         static_cast<int>(std::max<std::int64_t>(0, wait.count())));
    if (n < 0 && errno != EINTR) {
      return;
    }
    for (int i = 0; i < n; ++i) {
      std::uint64_t key = events[static_cast<std::size_t>(i)].data.u64;
      if (key == 0) {
        m_wake.drain();
        continue;
      }
      // A handler may remove registrations, its own included: look each one up afresh,
      // and hold the handler so it outlives its own removal.
      auto it = m_registered.find(key);
      if (it != m_registered.end()) {
        std::shared_ptr<const Handler> handler = it->second.handler;
        (*handler)(events[static_cast<std::size_t>(i)].events);
      }
    }
    {
      std::lock_guard lock(m_mutex);
      if (m_stopping) {
        return;
      }
    }
    run_posted();
    if (clock::now() >= next_tick) {
      next_tick = clock::now() + m_period;
      if (m_tick) {
        m_tick();
      }
    }
  }
}

}  // namespace bch::relay
