// The relay's stream hub (src/relay/stream_hub.cpp) serving an inbox full of hostile
// files: the input is cut at 0xFF bytes into (file name, file content) pairs planted in
// new/, as a crafted or damaged spool would hold them. A stream is adopted over a
// socketpair, sends what it lists, then a message sent after it started. The output must
// be well-formed chunked encoding carrying only whole SSE events, each event a message
// that parses and carries the id it is sent under, the sentinel last; nothing may crash
// or hang (libFuzzer's -timeout catches a stream that never ends).
#include "relay/stream_hub.hpp"

#include <bch/message.hpp>
#include <bch/protocol/sse.hpp>
#include <bch/spool/fs_spool.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

// Says which invariant broke, then stops the fuzzer on it.
[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "fuzz_stream: %s\n", what);
  __builtin_trap();
}

struct Fixture {
  fs::path dir;
  std::unique_ptr<bch::spool::FsSpool> spool;
  std::unique_ptr<bch::relay::StreamHub> hub;

  Fixture() {
    char pattern[] = "/tmp/bch-fuzz-stream-XXXXXX";
    dir = ::mkdtemp(pattern);
    spool = std::make_unique<bch::spool::FsSpool>(dir, false);  // no syncs: fuzzing speed
    spool->register_agent("alice");
    spool->register_agent("bob");
    bch::relay::StreamHub::Limits limits;
    limits.keepalive = std::chrono::milliseconds(2);
    hub = std::make_unique<bch::relay::StreamHub>(limits);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
  ~Fixture() {
    hub.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// Reads what arrives within 2 s of quiet; false on a timeout or the end. libFuzzer's
// -timeout is a SIGALRM timer, which interrupts poll() (EINTR): that is no timeout.
bool read_some(int fd, std::string& into) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      return false;
    }
    char buffer[65536];
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    into.append(buffer, static_cast<std::size_t>(n));
    return true;
  }
}

// Strict chunked decoding of what is complete so far; traps on a malformed chunk.
std::string dechunk(std::string& raw) {
  std::string out;
  for (;;) {
    auto line_end = raw.find("\r\n");
    if (line_end == std::string::npos) {
      return out;
    }
    std::size_t size = 0;
    for (std::size_t i = 0; i < line_end; ++i) {
      char c = raw[i];
      int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (digit < 0 || line_end > 16) {
        broken("a chunk size that is not hex");
      }
      size = size * 16 + static_cast<std::size_t>(digit);
    }
    if (size == 0 || raw.size() < line_end + 2 + size + 2) {
      if (size == 0) {
        broken("the stream ended itself");
      }
      return out;
    }
    if (raw.compare(line_end + 2 + size, 2, "\r\n") != 0) {
      broken("a chunk not followed by CRLF");
    }
    out += raw.substr(line_end + 2, size);
    raw.erase(0, line_end + 2 + size + 2);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture f;
  fs::path unread = f.spool->unread_dir("bob");
  std::error_code ec;
  fs::remove_all(unread, ec);
  fs::remove_all(unread.parent_path() / "bad", ec);
  fs::create_directories(unread);

  // Plant the files: name, 0xFF, content, 0xFF, name, ...
  std::vector<std::string> parts(1);
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0xFF) {
      parts.emplace_back();
    } else {
      parts.back() += static_cast<char>(data[i]);
    }
  }
  for (std::size_t i = 0; i + 1 < parts.size() && i < 16; i += 2) {
    std::string name = parts[i];
    for (char& c : name) {
      if (c == '/' || c == '\0') {
        c = '_';
      }
    }
    if (name.empty() || name == "." || name == ".." || name.size() > 200) {
      continue;
    }
    std::ofstream(unread / name, std::ios::binary) << parts[i + 1];
  }

  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    std::abort();
  }
  int relay_end = fds[0];
  auto watch = f.hub->watch(*f.spool, "bob");
  if (!watch) {
    std::abort();
  }
  f.hub->adopt(bch::relay::Connection{relay_end, nullptr, [relay_end] { ::close(relay_end); }},
               *f.spool,
               "bob",
               *watch,
               [] { return true; });
  // The first bytes (an event or a keep-alive) say the stream has listed the inbox;
  // what is sent after that comes last.
  std::string raw;
  if (!read_some(fds[1], raw)) {
    broken("nothing arrived within 2 s of the adoption");
  }
  auto sentinel = f.spool->send("alice", "@bob", "sentinel", {});
  std::vector<bch::protocol::SseEvent> events;
  bch::protocol::SseParser parser([&](const bch::protocol::SseEvent& e) { events.push_back(e); });
  bool done = false;
  while (!done) {
    parser.feed(dechunk(raw));
    for (const auto& e : events) {
      if (e.id == sentinel.id) {
        done = true;
      }
    }
    if (!done && !read_some(fds[1], raw)) {
      broken("the message sent after the listing never came");
    }
  }
  for (const auto& e : events) {
    if (e.id.empty()) {
      continue;  // keep-alives are comments: no event
    }
    bch::Message m = bch::parse_message(e.data);  // throws (and so fails) if it does not parse
    if (m.id != e.id) {
      broken("an event's id is not its message's");
    }
  }
  if (events.empty() || events.back().id != sentinel.id) {
    broken("the message sent after the listing did not come last");
  }
  ::close(fds[1]);
  // The next input deletes new/: wait until the hub has seen this stream end and let its
  // watch go, or the next stream could join a watch whose folder is about to vanish
  // (it would be closed, as a real client's would, and reconnect).
  for (int i = 0; i < 2000 && f.hub->streams() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return 0;
}
