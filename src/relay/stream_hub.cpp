// StreamHub: every event stream of the relay as a socket in one event loop.
//
// A stream's request is handled like any other, on a worker: auth, the inbox watched
// (watch()), the response headers written. Then the worker hands the connection over
// (hand_off_connection) and goes back to its pool; from there on the stream is a
// registration in the hub's EventLoop and a few hundred bytes of state, so ten thousand
// watchers cost ten thousand descriptors, not ten thousand threads.
//
// What a stream sends: first the messages its inbox held when it was adopted, oldest
// first (by the time in a UUIDv7 id, or else the file's mtime: no file is read to sort)
// and read one at a time as the socket drains — never the whole inbox at once, however
// full; then each message that lands in the
// inbox. One folder watch (util::FolderWatch: one inotify instance on Linux, which
// allows 128 per user) serves the whole relay, with a watch on an inbox's new/ only
// while a stream reads it. The watch is made before the
// listing, so a message landing in between appears in both, and a window of the ids a
// stream sent lately drops the second copy. A message that lands while a stream still
// has listed files to send joins the end of that list, keeping the order.
//
// Memory: a delivered message is read and framed once, and the frame is shared by every
// stream of that inbox. A stream holds at most the event being written plus
// max_queued_bytes; a client that does not read fills its socket's kernel buffer, then
// that allowance, and is closed (it reconnects and the inbox, which is the truth,
// replays). So a thousand streams that never read cost their descriptors and the
// messages themselves, not a copy per stream.
//
// Liveness: a stream idle for `keepalive` gets a comment line; at that moment, and
// before each event, its token is checked again (`authorised`), so a revoked or rotated
// token ends its streams. A client that closes or resets its end is seen by the loop
// (a hangup) and its stream closed at once. A watched folder that is deleted
// or moved (the watch reports it gone) kills its watch: its streams end,
// and the next watch() of that path watches the folder there now. TLS streams keep
// their session: writes go through SSL_write in partial-write mode, and what the client
// sends is read and dropped.

#include "relay/stream_hub.hpp"

#include <bch/error.hpp>
#include <bch/message.hpp>
#include <bch/protocol/sse.hpp>
#include <bch/spool/fs_spool.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/log.hpp>
#include <bch/util/platform.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <deque>
#include <optional>
#include <unordered_set>
#include <vector>

namespace bch::relay {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t k_sent_window = 4096;                       // ids a stream remembers sending
constexpr std::size_t k_low_water = std::size_t{64} * 1024;       // refill from the listing below
constexpr std::size_t k_socket_buffer = std::size_t{128} * 1024;  // SO_SNDBUF (Linux doubles it)

std::shared_ptr<const std::string> chunk_of(std::string_view payload) {
  return std::make_shared<const std::string>(
      fmt::format("{:x}\r\n{}\r\n", payload.size(), payload));
}

const std::shared_ptr<const std::string>& keepalive_chunk() {
  static const auto chunk = chunk_of(protocol::k_sse_keepalive);
  return chunk;
}

std::shared_ptr<const std::string> event_chunk(const Message& message) {
  return chunk_of(protocol::encode_sse(message.id, serialize(message)));
}

// A stream's own text for `message` (its Framing::frame), as a chunk; none if empty.
std::shared_ptr<const std::string> own_chunk(const auto& stream, const Message& message) {
  std::string text = stream.framing.frame(message);
  return text.empty() ? nullptr : chunk_of(text);
}

bool is_message_file(const std::string& name) {
  return name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0;
}

// When a file in new/ was sent, in ms since the epoch, for sending a listing oldest
// first without reading it: a UUIDv7 id carries its creation time in its first 48 bits;
// any other name (the TypeScript tool writes UUIDv4 ids) is placed by its file's
// modification time, which is when it was delivered.
std::int64_t sent_at(const std::string& dir, const std::string& name) {
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  if (name.size() >= 36 && name[8] == '-' && name[13] == '-' && name[14] == '7') {
    std::int64_t ms = 0;
    bool ok = true;
    for (std::size_t i = 0; i < 13; ++i) {
      if (i == 8) {
        continue;  // the dash
      }
      int digit = hex(name[i]);
      ok = ok && digit >= 0;
      ms = ms * 16 + std::max(digit, 0);
    }
    if (ok) {
      return ms;
    }
  }
  struct stat st {};
  if (::fstatat(AT_FDCWD, (dir + "/" + name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return 0;
  }
  return util::mtime_ns(st) / 1'000'000;
}

}  // namespace

struct StreamHub::Stream {
  Connection connection;
  std::uint64_t key = 0;
  spool::FsSpool* spool = nullptr;
  std::string agent;
  std::string dir;
  int wd = -1;  // the watch it holds
  std::function<bool()> authorised;
  StreamFraming framing;
  std::deque<std::string> backlog;  // files listed or landed, not yet sent
  std::deque<std::shared_ptr<const std::string>> out;
  std::size_t offset = 0;  // of out.front(), already written
  std::size_t queued = 0;  // bytes in `out` not yet written
  Clock::time_point last_queued = Clock::now();
  bool writing = false;  // EventLoop::k_writable asked for
  std::unordered_set<std::string> sent;
  std::deque<std::string> sent_order;

  bool first_time(const std::string& id) {
    if (!sent.insert(id).second) {
      return false;
    }
    sent_order.push_back(id);
    if (sent_order.size() > k_sent_window) {
      sent.erase(sent_order.front());
      sent_order.pop_front();
    }
    return true;
  }
};

namespace {

// The kernel's watch; the portable one when the kernel has no instance left to give.
std::unique_ptr<util::FolderWatch> inbox_watch() {
  auto kind = util::default_folder_watch();
  if (kind == util::FolderWatchKind::kernel) {
    try {
      return util::make_folder_watch(kind);
    } catch (const Error& e) {
      util::warn(fmt::format("{}: the relay lists watched inboxes every 100 ms instead", e.what()));
    }
  }
  return util::make_folder_watch(util::FolderWatchKind::polling);
}

}  // namespace

StreamHub::StreamHub(Limits limits) : m_limits(limits), m_folders(inbox_watch()) {
  m_loop.add(m_folders->fd(), EventLoop::k_readable, [this](std::uint32_t) { on_folder_events(); });
  auto period = std::clamp(
      m_limits.keepalive / 2, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
  m_loop.every(period, [this] { tick(); });
  m_loop.start();
}

StreamHub::~StreamHub() {
  close_all();
  m_loop.stop();  // runs what is still queued (close_all, late adoptions) here
}

std::optional<int> StreamHub::watch(spool::FsSpool& spool, const std::string& agent) {
  std::string dir = spool.unread_dir(agent).string();
  std::lock_guard lock(m_mutex);
  if (m_count.load() >= m_limits.max_streams) {
    return std::nullopt;
  }
  if (auto it = m_live.find(dir); it != m_live.end()) {
    ++m_watches.at(it->second).holders;
    ++m_count;
    return it->second;
  }
  util::make_private_dirs(dir);
  int wd = m_folders->add(dir);
  // A watch's id comes again only for the same folder, which is then still the live
  // watch of it.
  auto [it, fresh] = m_watches.try_emplace(wd, Watch{dir, 0, true});
  ++it->second.holders;
  m_live[dir] = wd;
  ++m_count;
  return wd;
}

void StreamHub::unwatch(int wd) {
  release_watch(wd);
  --m_count;
}

void StreamHub::release_watch(int wd) {
  std::lock_guard lock(m_mutex);
  auto it = m_watches.find(wd);
  if (it == m_watches.end() || --it->second.holders > 0) {
    return;
  }
  if (it->second.live) {
    m_folders->remove(wd);
    m_live.erase(it->second.dir);
  }
  m_watches.erase(it);
}

// The watched folder itself went away (deleted, or moved: an operator's cleanup, a
// spool rebuilt): its watch is dead, so its streams end — their clients reconnect and
// watch whatever folder is there now.
void StreamHub::orphan(int wd) {
  {
    std::lock_guard lock(m_mutex);
    auto it = m_watches.find(wd);
    if (it == m_watches.end() || !it->second.live) {
      return;
    }
    it->second.live = false;
    if (auto live = m_live.find(it->second.dir); live != m_live.end() && live->second == wd) {
      m_live.erase(live);
    }
  }
  if (auto readers = m_readers.find(wd); readers != m_readers.end()) {
    std::vector<Stream*> streams(readers->second.begin(), readers->second.end());
    for (Stream* s : streams) {
      close(*s);
    }
  }
}

std::size_t StreamHub::watched_inboxes() {
  std::lock_guard lock(m_mutex);
  return m_live.size();
}

void StreamHub::adopt(Connection connection,
                      spool::FsSpool& spool,
                      const std::string& agent,
                      int wd,
                      std::function<bool()> authorised,
                      StreamFraming framing) {
  auto stream = std::make_unique<Stream>();
  stream->connection = std::move(connection);
  stream->spool = &spool;
  stream->agent = agent;
  stream->dir = spool.unread_dir(agent).string();
  stream->wd = wd;
  stream->authorised = std::move(authorised);
  stream->framing = std::move(framing);
  // std::function needs a copyable task: the stream travels as a shared pointer.
  auto carried = std::make_shared<std::unique_ptr<Stream>>(std::move(stream));
  m_loop.post([this, carried] {
    Stream* s = carried->get();
    m_streams.emplace(s, std::move(*carried));
    m_readers[s->wd].insert(s);
    // Events are small and few: a fixed send buffer (no autotuning up to megabytes)
    // bounds the kernel memory a stream can pin, and a stalled reader is seen sooner.
    int buffer = static_cast<int>(k_socket_buffer);
    ::setsockopt(s->connection.fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    // Its folder may have gone between watch() and now (orphan() ran before this task
    // and found no reader to end): then it ends at once, as it would have a moment later.
    bool live = false;
    {
      std::lock_guard lock(m_mutex);
      auto watch = m_watches.find(s->wd);
      live = watch != m_watches.end() && watch->second.live;
    }
    int flags = ::fcntl(s->connection.fd, F_GETFL);
    if (m_closing || !live || flags < 0
        || ::fcntl(s->connection.fd, F_SETFL, flags | O_NONBLOCK) != 0) {
      close(*s);
      return;
    }
    s->key = m_loop.add(s->connection.fd, EventLoop::k_readable, [this, s](std::uint32_t events) {
      on_stream(*s, events);
    });
    if (s->key == 0) {
      close(*s);
      return;
    }
    if (!s->framing.greeting.empty()) {
      queue(*s, chunk_of(s->framing.greeting));
    }
    if (!s->framing.replay) {
      flush(*s);
      return;
    }
    if (auto names = util::list_dir(s->dir)) {
      std::vector<std::pair<std::int64_t, std::string>> listed;
      for (auto& name : *names) {
        if (is_message_file(name) && listed.size() < m_limits.max_backlog) {
          listed.emplace_back(sent_at(s->dir, name), std::move(name));
        }
      }
      std::sort(listed.begin(), listed.end());
      for (auto& [when, name] : listed) {
        s->backlog.push_back(std::move(name));
      }
    }
    flush(*s);
  });
}

void StreamHub::close_all() {
  m_loop.post([this] {
    m_closing = true;
    std::vector<Stream*> all;
    all.reserve(m_streams.size());
    for (auto& [s, owned] : m_streams) {
      all.push_back(s);
    }
    for (Stream* s : all) {
      close(*s);
    }
  });
}

void StreamHub::close(Stream& stream) {
  m_loop.remove(stream.key);
  stream.connection.close();
  if (auto readers = m_readers.find(stream.wd); readers != m_readers.end()) {
    readers->second.erase(&stream);
    if (readers->second.empty()) {
      m_readers.erase(readers);
    }
  }
  release_watch(stream.wd);
  --m_count;
  m_streams.erase(&stream);
}

void StreamHub::on_folder_events() {
  for (const auto& event : m_folders->take()) {
    if (event.gone) {
      orphan(event.id);
    } else if (is_message_file(event.name)) {
      deliver(event.id, event.name);
    }
  }
}

void StreamHub::deliver(int wd, const std::string& name) {
  auto readers = m_readers.find(wd);
  if (readers == m_readers.end()) {
    return;  // watched for a stream not yet adopted: its listing will find the file
  }
  std::vector<Stream*> targets(readers->second.begin(), readers->second.end());
  std::optional<Message> message;
  std::shared_ptr<const std::string> chunk;  // framed once, shared by every stream
  bool read = false;
  for (Stream* s : targets) {
    if (!s->backlog.empty()) {
      if (s->backlog.size() >= m_limits.max_backlog) {
        close(*s);
      } else {
        s->backlog.push_back(name);
      }
      continue;
    }
    if (!read) {
      read = true;
      try {
        message = s->spool->read_unread(s->agent, name);
      } catch (const std::exception& e) {
        util::warn(fmt::format("cannot read new message {} of {}: {}", name, s->agent, e.what()));
      }
    }
    if (!message || !s->first_time(message->id)) {
      continue;
    }
    if (!s->authorised()) {
      close(*s);
      continue;
    }
    auto framed = s->framing.frame ? own_chunk(*s, *message) : nullptr;
    if (!s->framing.frame && !chunk) {
      chunk = event_chunk(*message);
    }
    if (s->framing.frame && !framed) {
      continue;  // nothing for this stream to send
    }
    if (queue(*s, framed ? framed : chunk)) {
      flush(*s);
    }
  }
}

bool StreamHub::queue(Stream& stream, std::shared_ptr<const std::string> chunk) {
  if (!stream.out.empty() && stream.queued + chunk->size() > m_limits.max_queued_bytes) {
    close(stream);  // a slow or stalled reader: closed, not buffered
    return false;
  }
  stream.queued += chunk->size();
  stream.out.push_back(std::move(chunk));
  stream.last_queued = Clock::now();
  return true;
}

// Refills the stream's queue from its listing, a file at a time, up to the low-water mark.
void StreamHub::fill(Stream& stream) {
  bool checked = false;
  while (!stream.backlog.empty() && stream.queued < k_low_water) {
    std::string name = std::move(stream.backlog.front());
    stream.backlog.pop_front();
    std::optional<Message> message;
    try {
      message = stream.spool->read_unread(stream.agent, name);
    } catch (const std::exception& e) {
      util::warn(fmt::format("cannot read new message {} of {}: {}", name, stream.agent, e.what()));
    }
    if (!message || !stream.first_time(message->id)) {
      continue;
    }
    if (!checked) {
      checked = true;
      if (!stream.authorised()) {
        close(stream);
        return;
      }
    }
    auto framed = stream.framing.frame ? own_chunk(stream, *message) : event_chunk(*message);
    if (framed && !queue(stream, std::move(framed))) {
      return;
    }
  }
}

// Writes what the socket takes; refills from the listing; asks for `k_writable` while
// something waits. May close (and so destroy) the stream.
void StreamHub::flush(Stream& stream) {
  for (;;) {
    while (!stream.out.empty()) {
      const std::string& chunk = *stream.out.front();
      const char* data = chunk.data() + stream.offset;
      std::size_t left = chunk.size() - stream.offset;
      ssize_t n = 0;
      bool blocked = false;
      if (stream.connection.ssl != nullptr) {
        int wrote = SSL_write(stream.connection.ssl, data, static_cast<int>(left));
        if (wrote > 0) {
          n = wrote;
        } else {
          int err = SSL_get_error(stream.connection.ssl, wrote);
          blocked = err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ;
          n = -1;
        }
      } else {
        n = ::send(stream.connection.fd, data, left, util::k_send_no_sigpipe | MSG_DONTWAIT);
        blocked = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
      }
      if (n < 0) {
        if (!blocked) {
          close(stream);
          return;
        }
        if (!stream.writing) {
          stream.writing = true;
          m_loop.modify(stream.key, EventLoop::k_readable | EventLoop::k_writable);
        }
        return;
      }
      stream.offset += static_cast<std::size_t>(n);
      stream.queued -= static_cast<std::size_t>(n);
      if (stream.offset == chunk.size()) {
        stream.out.pop_front();
        stream.offset = 0;
      }
    }
    if (stream.backlog.empty()) {
      break;
    }
    fill(stream);
    if (m_streams.find(&stream) == m_streams.end()) {
      return;  // closed while filling
    }
    if (stream.out.empty()) {
      break;
    }
  }
  if (stream.writing) {
    stream.writing = false;
    m_loop.modify(stream.key, EventLoop::k_readable);
  }
}

void StreamHub::on_stream(Stream& stream, std::uint32_t events) {
  if ((events & EventLoop::k_hangup) != 0) {
    close(stream);
    return;
  }
  if ((events & EventLoop::k_readable) != 0) {
    // A client has nothing to say on an event stream: read and drop, and see its end.
    std::array<char, 4096> scratch{};
    for (;;) {
      ssize_t n = 0;
      if (stream.connection.ssl != nullptr) {
        int got = SSL_read(stream.connection.ssl, scratch.data(), static_cast<int>(scratch.size()));
        if (got > 0) {
          continue;
        }
        int err = SSL_get_error(stream.connection.ssl, got);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          break;
        }
        close(stream);
        return;
      }
      n = ::recv(stream.connection.fd, scratch.data(), scratch.size(), MSG_DONTWAIT);
      if (n > 0) {
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        break;
      }
      close(stream);
      return;
    }
  }
  flush(stream);
}

void StreamHub::tick() {
  auto now = Clock::now();
  std::vector<Stream*> due;
  for (auto& [s, owned] : m_streams) {
    if (now - s->last_queued >= m_limits.keepalive) {
      due.push_back(s);
    }
  }
  for (Stream* s : due) {
    if (!s->authorised()) {
      close(*s);
    } else if (queue(*s, keepalive_chunk())) {
      flush(*s);
    }
  }
}

}  // namespace bch::relay
