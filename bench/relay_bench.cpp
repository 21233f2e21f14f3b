// Relay benchmarks (`make bench-relay`): runs the real `bch relay` on 127.0.0.1 with a
// fresh data folder and measures, over loopback: durable sends per second over one
// keep-alive connection and over 16; send-to-SSE-event latency with an empty inbox and
// with 10,000 unread messages; send latency while 1,000 event streams are open; send
// throughput with 10,000 registered agents against 10; 10,000 watchers connecting at
// once (time to serve them all, send-to-event latency among them); 1,000 streams that
// never read while 50 MiB of messages go to them; and the relay's resident memory idle
// and under those loads. Usage: bch_relay_bench <path to bch> [more `bch relay` flags];
// the relay's data (and the disk floors) go under $TMPDIR (default /tmp).

#include "support/watchers.hpp"

#include <bch/util/httplib.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

struct Relay {
  pid_t pid = -1;
  int port = 0;
};

Relay start_relay(const std::string& bch,
                  const fs::path& data,
                  const std::vector<std::string>& extra) {
  fs::path port_file = data / "port";
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDOUT_FILENO);
    int log = ::open((data / "relay.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(log, STDERR_FILENO);
    // One load generator on one address: the per-client limits would measure
    // themselves.
    std::vector<std::string> args{bch,
                                  "relay",
                                  "--host",
                                  "127.0.0.1",
                                  "--port",
                                  "0",
                                  "--port-file",
                                  port_file.string(),
                                  "--data-dir",
                                  data.string(),
                                  "--rate-per-address",
                                  "0",
                                  "--rate-per-token",
                                  "0",
                                  "--max-connections-per-address",
                                  "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    ::execv(bch.c_str(), argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 500 && !fs::exists(port_file); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::ifstream in(port_file);
  Relay r{pid, 0};
  in >> r.port;
  if (r.port == 0) {
    fmt::print(stderr, "relay did not start\n");
    std::exit(1);
  }
  return r;
}

double rss_mib(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stod(line.substr(6)) / 1024.0;
    }
  }
  return 0;
}

httplib::Client client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);
  // Generous: this VM's disk sometimes stalls fsyncs for many seconds (seen here).
  c.set_read_timeout(std::chrono::seconds(60));
  return c;
}

std::string register_agent(httplib::Client& c, const std::string& name) {
  auto res = c.Post("/v1/register", Json{{"name", name}}.dump(), "application/json");
  if (!res || res->status != 200) {
    fmt::print(
        stderr,
        "register {} failed: {}\n",
        name,
        res ? fmt::format("HTTP {} {}", res->status, res->body) : httplib::to_string(res.error()));
    std::exit(1);
  }
  return Json::parse(res->body)["token"];
}

httplib::Headers auth(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

std::string send(httplib::Client& c,
                 const std::string& token,
                 const std::string& to,
                 const std::string& body) {
  auto res =
      c.Post("/v1/send", auth(token), Json{{"to", to}, {"body", body}}.dump(), "application/json");
  if (!res || res->status != 200) {
    fmt::print(stderr, "send failed: {}\n", res ? res->body : httplib::to_string(res.error()));
    std::exit(1);
  }
  return Json::parse(res->body)["id"];
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// Sends for `seconds` from `connections` threads, each on its own keep-alive
// connection, to `targets` round-robin; returns sends per second.
double send_rate(int port,
                 const std::string& token,
                 const std::vector<std::string>& targets,
                 int connections,
                 double seconds) {
  std::atomic<long> count{0};
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      auto c = client(port);
      std::size_t i = static_cast<std::size_t>(t);
      while (Clock::now() < deadline) {
        send(c, token, targets[i++ % targets.size()], "benchmark message of an ordinary length");
        ++count;
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  return static_cast<double>(count.load()) / seconds;
}

// GET /v1/health for `seconds` from `connections` keep-alive connections: requests/s.
double request_rate(int port, int connections, double seconds) {
  std::atomic<long> count{0};
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&] {
      auto c = client(port);
      while (Clock::now() < deadline) {
        if (!c.Get("/v1/health")) {
          break;
        }
        ++count;
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  return static_cast<double>(count.load()) / seconds;
}

// An SSE reader for one agent that records when each event id arrives.
struct EventWatch {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::string> ids;
  std::atomic<bool> stop{false};
  std::thread thread;

  EventWatch(int port, const std::string& agent, const std::string& token) {
    thread = std::thread([this, port, agent, token] {
      auto c = client(port);
      std::string buffer;
      c.Get("/v1/events/" + agent, auth(token), [&](const char* data, std::size_t n) {
        buffer.append(data, n);
        std::size_t pos;
        while ((pos = buffer.find("\n\n")) != std::string::npos) {
          std::string event = buffer.substr(0, pos);
          buffer.erase(0, pos + 2);
          if (event.rfind("id: ", 0) == 0) {
            std::lock_guard lock(mutex);
            ids.push_back(event.substr(4, event.find('\n') - 4));
            cv.notify_all();
          }
        }
        return !stop.load();
      });
    });
  }
  bool wait_for(const std::string& id) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] {
      return std::find(ids.rbegin(), ids.rend(), id) != ids.rend();
    });
  }
  ~EventWatch() {
    stop = true;
    thread.join();
  }
  EventWatch(const EventWatch&) = delete;
  EventWatch& operator=(const EventWatch&) = delete;
};

std::vector<double> event_latencies(int port,
                                    const std::string& sender,
                                    const std::string& agent,
                                    const std::string& token,
                                    int rounds,
                                    bool take) {
  EventWatch watch(port, agent, token);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto c = client(port);
  std::vector<double> ms;
  for (int i = 0; i < rounds; ++i) {
    auto start = Clock::now();
    std::string id = send(c, sender, "@" + agent, "latency probe");
    if (!watch.wait_for(id)) {
      fmt::print(stderr, "event {} never arrived\n", id);
      std::exit(1);
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (take) {
      c.Post("/v1/take", auth(token), Json{{"id", id}}.dump(), "application/json");
    }
  }
  c.Get("/v1/health");  // lets the stream see one more keep-alive window before it stops
  return ms;
}

// Opens `n` event streams with raw sockets that never read: the relay holds each open.
std::vector<int> open_streams(int port,
                              const std::vector<std::pair<std::string, std::string>>& agents) {
  std::vector<int> fds;
  for (const auto& [name, token] : agents) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      fmt::print(stderr, "cannot open stream {}\n", fds.size());
      std::exit(1);
    }
    std::string request = fmt::format(
        "GET /v1/events/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n",
        name,
        token);
    [[maybe_unused]] auto w = ::write(fd, request.data(), request.size());
    fds.push_back(fd);
  }
  return fds;
}

void row(const std::string& what, const std::string& value) {
  fmt::print("{:<58} {}\n", what, value);
  std::fflush(stdout);
}

// This disk's floor for durable Maildir deliveries, measured now: write, fdatasync,
// rename, fsync the folder, from `threads` threads into 10 folders, for `seconds`.
double disk_floor(const fs::path& root, int threads, double seconds) {
  for (int d = 0; d < 10; ++d) {
    fs::create_directories(root / std::to_string(d) / "tmp");
    fs::create_directories(root / std::to_string(d) / "new");
  }
  std::atomic<long> count{0};
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      fs::path dir = root / std::to_string(t % 10);
      int dir_fd = ::open((dir / "new").c_str(), O_RDONLY | O_DIRECTORY);
      std::string data(200, 'x');
      for (long i = 0; Clock::now() < deadline; ++i) {
        std::string name = fmt::format("{}-{}", t, i);
        std::string tmp = (dir / "tmp" / name).string();
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || ::write(fd, data.data(), data.size()) < 0 || ::fdatasync(fd) != 0) {
          break;
        }
        ::close(fd);
        ::rename(tmp.c_str(), (dir / "new" / name).c_str());
        ::fsync(dir_fd);
        ++count;
      }
      ::close(dir_fd);
    });
  }
  for (auto& w : workers) {
    w.join();
  }
  fs::remove_all(root);
  return static_cast<double>(count.load()) / seconds;
}

// This disk's floor for durable appends, measured now: 200 bytes appended to one file,
// then fdatasync, from one thread, for `seconds`: the least a durable send can cost.
double append_floor(const fs::path& root, double seconds) {
  fs::create_directories(root);
  int fd = ::open((root / "journal").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  std::string data(200, 'x');
  long count = 0;
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (fd >= 0 && Clock::now() < deadline) {
    if (::write(fd, data.data(), data.size()) < 0 || ::fdatasync(fd) != 0) {
      break;
    }
    ++count;
  }
  ::close(fd);
  fs::remove_all(root);
  return static_cast<double>(count) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: bch_relay_bench <path to bch> [more bch relay flags]\n");
    return 2;
  }
  bch::test::prepare_for_many_sockets();

  std::string bch = fs::absolute(argv[1]).string();
  // $TMPDIR picks the file system measured (the disk floors are measured there too).
  const char* tmpdir = std::getenv("TMPDIR");
  std::string tmpl = fmt::format("{}/bch-relay-bench-XXXXXX", tmpdir ? tmpdir : "/tmp");
  if (::mkdtemp(tmpl.data()) == nullptr) {
    fmt::print(stderr, "cannot make a folder under {}\n", tmpdir ? tmpdir : "/tmp");
    return 1;
  }
  fs::path data = tmpl;
  Relay relay = start_relay(bch, data, std::vector<std::string>(argv + 2, argv + argc));
  fmt::print(
      "relay benchmarks: {} on 127.0.0.1:{}, data in {}\n\n", bch, relay.port, data.string());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  row("relay RSS, idle", fmt::format("{:.1f} MiB", rss_mib(relay.pid)));

  auto c = client(relay.port);
  std::string alice = register_agent(c, "alice");
  std::vector<std::string> ten;
  for (int i = 0; i < 10; ++i) {
    register_agent(c, fmt::format("a{}", i));
    ten.push_back(fmt::format("@a{}", i));
  }
  double append = append_floor(data / "append", 3);
  row("disk floor now: durable appends/s (write + fdatasync), 1 thread",
      fmt::format("{:.0f}", append));
  // The HTTP floor: a request that touches no file, over one keep-alive connection.
  double http = request_rate(relay.port, 1, 2);
  row("HTTP floor now: GET /v1/health round trips/s, 1 connection", fmt::format("{:.0f}", http));
  // The same sends against a relay that does not sync (--no-sync): the ceiling of the
  // HTTP, JSON and file work, and the in-run stand-in for a relay that does not sync.
  std::map<int, double> unsynced;
  {
    fs::path data2 = data / "unsynced";
    fs::create_directories(data2);
    std::vector<std::string> flags(argv + 2, argv + argc);
    flags.emplace_back("--no-sync");
    Relay fast = start_relay(bch, data2, flags);
    auto fc = client(fast.port);
    std::string sender = register_agent(fc, "alice");
    for (int i = 0; i < 10; ++i) {
      register_agent(fc, fmt::format("a{}", i));
    }
    for (int connections : {1, 16, 64}) {
      unsynced[connections] = send_rate(fast.port, sender, ten, connections, 3);
    }
    ::kill(fast.pid, SIGTERM);
    ::waitpid(fast.pid, nullptr, 0);
  }
  for (int connections : {1, 16, 64}) {
    double durable = send_rate(relay.port, alice, ten, connections, 3);
    row(fmt::format("sends/s, {} connection{} (10 agents): durable / not synced",
                    connections,
                    connections == 1 ? "" : "s"),
        fmt::format("{:.0f} / {:.0f} ({:.2f}×)",
                    durable,
                    unsynced[connections],
                    durable / unsynced[connections]));
    if (connections == 1) {
      // One connection waits for each answer: a send costs at least one round trip
      // plus one durable append.
      double ceiling = 1 / (1 / http + 1 / append);
      row("  durable, 1 connection, against the durable-append floor",
          fmt::format("{:.2f}× (a round trip plus an append: {:.0f}/s, {:.2f}×)",
                      durable / append,
                      ceiling,
                      ceiling / append));
    }
  }
  // Measured after the sends: the floor's thousands of deleted files would slow the
  // relay's own file creation (ext4 without a journal scans recently freed inodes).
  row("disk floor now: durable Maildir deliveries/s, 1 thread",
      fmt::format("{:.0f}", disk_floor(data / "floor", 1, 3)));
  row("disk floor now: durable Maildir deliveries/s, 16 threads",
      fmt::format("{:.0f}", disk_floor(data / "floor", 16, 3)));

  std::string bob = register_agent(c, "bob");
  auto empty = event_latencies(relay.port, alice, "bob", bob, 200, true);
  row("send → SSE event, empty inbox: p50 / p99",
      fmt::format("{:.2f} / {:.2f} ms", percentile(empty, 0.5), percentile(empty, 0.99)));
  {
    // 10,000 unread, sent through the relay from 16 connections.
    std::vector<std::string> just_bob{"@bob"};
    std::atomic<int> left{10000};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&] {
        auto cc = client(relay.port);
        while (left.fetch_sub(1) > 0) {
          send(cc, alice, "@bob", "filler");
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
  }
  auto full = event_latencies(relay.port, alice, "bob", bob, 200, true);
  row("send → SSE event, 10,000 unread: p50 / p99",
      fmt::format("{:.2f} / {:.2f} ms", percentile(full, 0.5), percentile(full, 0.99)));
  row("relay RSS after 10,000 unread + streams", fmt::format("{:.1f} MiB", rss_mib(relay.pid)));

  // 1,000 open streams, one per agent; then send latency to those agents.
  std::vector<std::pair<std::string, std::string>> watchers;
  for (int i = 0; i < 1000; ++i) {
    std::string name = fmt::format("w{}", i);
    watchers.emplace_back(name, register_agent(c, name));
  }
  auto fds = open_streams(relay.port, watchers);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  std::vector<double> lat;
  for (int i = 0; i < 500; ++i) {
    auto start = Clock::now();
    send(c,
         alice,
         "@" + watchers[static_cast<std::size_t>(i) % watchers.size()].first,
         "to a watched inbox");
    lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  row("send latency with 1,000 open streams: p50 / p99",
      fmt::format("{:.2f} / {:.2f} ms", percentile(lat, 0.5), percentile(lat, 0.99)));
  row("relay RSS with 1,000 open streams", fmt::format("{:.1f} MiB", rss_mib(relay.pid)));
  for (int fd : fds) {
    ::close(fd);
  }

  // 10,000 registered agents (registration from 16 connections), then the same rate.
  std::vector<std::pair<std::string, std::string>> many(10000 - 1000);
  {
    std::atomic<int> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&] {
        auto cc = client(relay.port);
        for (int i; (i = next.fetch_add(1)) < static_cast<int>(many.size());) {
          std::string name = fmt::format("x{}", i);
          many[static_cast<std::size_t>(i)] = {name, register_agent(cc, name)};
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
  }
  row("durable sends/s, 1 connection, 10,000 registered agents",
      fmt::format("{:.0f}", send_rate(relay.port, alice, ten, 1, 3)));
  row("durable sends/s, 16 connections, 10,000 registered agents",
      fmt::format("{:.0f}", send_rate(relay.port, alice, ten, 16, 3)));

  // 10,000 watchers connecting at once (one stream per agent), then events to them.
  many.insert(many.end(), watchers.begin(), watchers.end());
  {
    bch::test::Watchers all(relay.port, many);
    auto [served, slowest] = all.wait_served(std::chrono::seconds(60));
    row("10,000 watchers connecting at once: served, slowest",
        fmt::format("{} in {:.0f} ms", served, slowest));
    std::vector<double> ms;
    for (int i = 0; i < 300; ++i) {
      const auto& target = many[static_cast<std::size_t>(i * 37) % many.size()];
      auto start = Clock::now();
      std::string id = send(c, alice, "@" + target.first, "to one of 10,000 watchers");
      if (!all.wait_event(id, std::chrono::seconds(10))) {
        fmt::print(stderr, "event {} never arrived\n", id);
        std::exit(1);
      }
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    row("send → event with 10,000 watchers: p50 / p99",
        fmt::format("{:.2f} / {:.2f} ms", percentile(ms, 0.5), percentile(ms, 0.99)));
    row("relay RSS with 10,000 watchers", fmt::format("{:.1f} MiB", rss_mib(relay.pid)));
  }

  // 1,000 streams that never read, 100 for each of 10 agents, then 100 messages of
  // 512 KiB to those agents: each message reaches 100 streams.
  {
    std::vector<std::pair<std::string, std::string>> stalled;
    for (std::size_t i = 0; i < 1000; ++i) {
      stalled.push_back(many[i % 10]);
    }
    auto stalled_fds = open_streams(relay.port, stalled);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    std::string big(512 * 1024, 'm');
    for (int i = 0; i < 100; ++i) {
      send(c, alice, "@" + stalled[static_cast<std::size_t>(i) % 10].first, big);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    row("relay RSS, 1,000 never-reading streams + 50 MiB sent",
        fmt::format("{:.1f} MiB", rss_mib(relay.pid)));
    for (int fd : stalled_fds) {
      ::close(fd);
    }
  }

  ::kill(relay.pid, SIGTERM);
  int status = 0;
  ::waitpid(relay.pid, &status, 0);
  row("relay exit on SIGTERM",
      WIFEXITED(status) ? fmt::format("{}", WEXITSTATUS(status)) : "killed");
  fs::remove_all(data);
  return 0;
}
