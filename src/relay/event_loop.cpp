#include "relay/event_loop.hpp"

#include <bch/error.hpp>
#include <bch/util/fs.hpp>

#include <poll.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif

#include <array>
#include <cerrno>

namespace bch::relay {

namespace {

#ifdef __linux__
std::uint32_t to_epoll(std::uint32_t events) {
  return ((events & EventLoop::k_readable) != 0 ? std::uint32_t{EPOLLIN} : 0U)
         | ((events & EventLoop::k_writable) != 0 ? std::uint32_t{EPOLLOUT} : 0U) | EPOLLRDHUP;
}

std::uint32_t from_epoll(std::uint32_t events) {
  return ((events & EPOLLIN) != 0 ? EventLoop::k_readable : 0U)
         | ((events & EPOLLOUT) != 0 ? EventLoop::k_writable : 0U)
         | ((events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0 ? EventLoop::k_hangup : 0U);
}
#endif

short to_poll(std::uint32_t events) {
  return static_cast<short>(((events & EventLoop::k_readable) != 0 ? POLLIN : 0)
                            | ((events & EventLoop::k_writable) != 0 ? POLLOUT : 0));
}

std::uint32_t from_poll(short revents) {
  return ((revents & POLLIN) != 0 ? EventLoop::k_readable : 0U)
         | ((revents & POLLOUT) != 0 ? EventLoop::k_writable : 0U)
         | ((revents & (POLLHUP | POLLERR | POLLNVAL)) != 0 ? EventLoop::k_hangup : 0U);
}

}  // namespace

EventLoop::EventLoop(bool portable) {
#ifdef __linux__
  if (!portable) {
    m_epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
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
#else
  (void)portable;
#endif
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
#ifdef __linux__
  if (m_epoll) {
    epoll_event event{};
    event.events = to_epoll(events);
    event.data.u64 = key;
    if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
      return 0;
    }
  }
#endif
  m_registered.emplace(
      key, Registration{fd, events, std::make_shared<const Handler>(std::move(handler))});
  return key;
}

bool EventLoop::modify(std::uint64_t key, std::uint32_t events) {
  auto it = m_registered.find(key);
  if (it == m_registered.end()) {
    return false;
  }
  it->second.events = events;
#ifdef __linux__
  if (m_epoll) {
    epoll_event event{};
    event.events = to_epoll(events);
    event.data.u64 = key;
    return ::epoll_ctl(m_epoll.get(), EPOLL_CTL_MOD, it->second.fd, &event) == 0;
  }
#endif
  return true;
}

void EventLoop::remove(std::uint64_t key) {
  auto it = m_registered.find(key);
  if (it == m_registered.end()) {
    return;
  }
#ifdef __linux__
  if (m_epoll) {
    ::epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, it->second.fd, nullptr);
  }
#endif
  m_registered.erase(it);
}

std::optional<std::vector<std::pair<std::uint64_t, std::uint32_t>>> EventLoop::wait(
    int timeout_ms) {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> fired;
#ifdef __linux__
  if (m_epoll) {
    std::array<epoll_event, 256> events{};
    int n = ::epoll_wait(m_epoll.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR) {
      return std::nullopt;
    }
    for (int i = 0; i < n; ++i) {
      // Copied out: epoll_event is packed, and a reference to its u64 would be misaligned.
      std::uint64_t key = events[static_cast<std::size_t>(i)].data.u64;
      std::uint32_t fired_events = events[static_cast<std::size_t>(i)].events;
      fired.emplace_back(key, from_epoll(fired_events));
    }
    return fired;
  }
#endif
  // poll(): every registration each time, which is what the portable loop trades for
  // needing nothing but POSIX.
  std::vector<pollfd> fds{{m_wake.fd(), POLLIN, 0}};
  std::vector<std::uint64_t> keys{0};
  for (const auto& [key, r] : m_registered) {
    fds.push_back({r.fd, to_poll(r.events), 0});
    keys.push_back(key);
  }
  int n = ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout_ms);
  if (n < 0 && errno != EINTR) {
    return std::nullopt;
  }
  for (std::size_t i = 0; n > 0 && i < fds.size(); ++i) {
    if (fds[i].revents != 0) {
      fired.emplace_back(keys[i], from_poll(fds[i].revents));
    }
  }
  return fired;
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
  for (;;) {
    auto timeout = std::chrono::ceil<std::chrono::milliseconds>(next_tick - clock::now());
    auto fired = wait(static_cast<int>(std::max<std::int64_t>(0, timeout.count())));
    if (!fired) {
      return;  // the wait itself failed: nothing more can be heard
    }
    for (auto [key, events] : *fired) {
      if (key == 0) {
        m_wake.drain();
        continue;
      }
      // A handler may remove registrations, its own included: look each one up afresh,
      // and hold the handler so it outlives its own removal.
      auto it = m_registered.find(key);
      if (it != m_registered.end()) {
        std::shared_ptr<const Handler> handler = it->second.handler;
        (*handler)(events);
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
