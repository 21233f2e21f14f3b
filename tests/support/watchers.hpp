#pragma once

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace bch::test {

// For a process that opens thousands of sockets: the open-file limit up to its hard
// limit, and a write to a closed stream an error rather than SIGPIPE.
inline void prepare_for_many_sockets() {
  ::signal(SIGPIPE, SIG_IGN);
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

// Many event streams read by one thread with epoll, as many real watchers would be:
// connects them all at once, records when each one's headers arrive, and then when each
// event id arrives on any of them.
class Watchers {
public:
  Watchers(int port, const std::vector<std::pair<std::string, std::string>>& agents)
      : m_epoll(::epoll_create1(EPOLL_CLOEXEC)) {
    auto start = std::chrono::steady_clock::now();
    for (const auto& [name, token] : agents) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<std::uint16_t>(port));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (fd < 0
          || (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
              && errno != EINPROGRESS)) {
        fmt::print(stderr, "cannot open stream {}: {}\n", m_streams.size(), std::strerror(errno));
        std::exit(1);
      }
      Stream s;
      s.fd = fd;
      s.started = start;
      s.request = fmt::format(
          "GET /v1/events/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n",
          name,
          token);
      m_streams.push_back(std::move(s));
    }
    for (std::size_t i = 0; i < m_streams.size(); ++i) {
      epoll_event e{};
      e.events = EPOLLIN | EPOLLOUT;
      e.data.u64 = i;
      ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_streams[i].fd, &e);
    }
    m_thread = std::thread([this] { run(); });
  }
  Watchers(const Watchers&) = delete;
  Watchers& operator=(const Watchers&) = delete;
  ~Watchers() {
    m_stop = true;
    m_thread.join();
    for (auto& s : m_streams) {
      ::close(s.fd);
    }
    ::close(m_epoll);
  }

  // Waits up to `limit` for every stream's headers; returns how many were served and
  // the slowest connect-to-headers time in ms.
  std::pair<std::size_t, double> wait_served(std::chrono::seconds limit) {
    std::unique_lock lock(m_mutex);
    m_cv.wait_for(lock, limit, [&] { return m_served == m_streams.size(); });
    double slowest = 0;
    for (const auto& s : m_streams) {
      if (s.served) {
        slowest = std::max(slowest, s.served_ms);
      }
    }
    return {m_served, slowest};
  }
  // Waits up to `limit` for `id` to arrive on `streams` of the streams (1: any).
  bool wait_event(const std::string& id, std::chrono::seconds limit, std::size_t streams = 1) {
    std::unique_lock lock(m_mutex);
    return m_cv.wait_for(lock, limit, [&] {
      auto it = m_seen.find(id);
      return it != m_seen.end() && it->second >= streams;
    });
  }

private:
  struct Stream {
    int fd = -1;
    std::string request;
    std::size_t written = 0;
    std::string buffer;
    bool served = false;
    double served_ms = 0;
    std::chrono::steady_clock::time_point started;
  };

  void run() {
    std::vector<epoll_event> events(1024);
    std::array<char, 65536> data{};
    while (!m_stop) {
      int n = ::epoll_wait(m_epoll, events.data(), static_cast<int>(events.size()), 50);
      for (int i = 0; i < n; ++i) {
        auto& s = m_streams[events[static_cast<std::size_t>(i)].data.u64];
        if (s.written < s.request.size()) {
          ssize_t w = ::send(
              s.fd, s.request.data() + s.written, s.request.size() - s.written, MSG_NOSIGNAL);
          if (w > 0) {
            s.written += static_cast<std::size_t>(w);
          }
          if (s.written == s.request.size()) {
            epoll_event e{};
            e.events = EPOLLIN;
            e.data.u64 = events[static_cast<std::size_t>(i)].data.u64;
            ::epoll_ctl(m_epoll, EPOLL_CTL_MOD, s.fd, &e);
          }
        }
        ssize_t got = 0;
        while ((got = ::recv(s.fd, data.data(), data.size(), MSG_DONTWAIT)) > 0) {
          s.buffer.append(data.data(), static_cast<std::size_t>(got));
        }
        consume(s);
      }
    }
  }

  void consume(Stream& s) {
    std::lock_guard lock(m_mutex);
    if (!s.served && s.buffer.find("\r\n\r\n") != std::string::npos) {
      s.served = true;
      s.served_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s.started)
              .count();
      ++m_served;
      s.buffer.erase(0, s.buffer.find("\r\n\r\n") + 4);
    }
    for (std::size_t at; s.served && (at = s.buffer.find("id: ")) != std::string::npos;) {
      auto end = s.buffer.find('\n', at);
      if (end == std::string::npos) {
        break;
      }
      ++m_seen[s.buffer.substr(at + 4, end - at - 4)];
      s.buffer.erase(0, end);
    }
    if (s.buffer.size() > 4096) {
      s.buffer.erase(0, s.buffer.size() - 4096);
    }
    m_cv.notify_all();
  }

  int m_epoll;
  std::vector<Stream> m_streams;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::size_t m_served = 0;
  std::unordered_map<std::string, std::size_t> m_seen;  // streams each id reached
};

}  // namespace bch::test
