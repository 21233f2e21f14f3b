#pragma once

#include "relay/event_loop.hpp"
#include "relay/http_server.hpp"

#include <bch/util/fd.hpp>
#include <bch/util/folder_watch.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace bch {
struct Message;
}
namespace bch::spool {
class FsSpool;
}

namespace bch::relay {

// What a stream sends. By default (the /v1/events stream) each message as an event
// (its id and its JSON), what the inbox holds first; an MCP notification stream sends
// its own text per message (`frame`: SSE text, empty for nothing), and only for
// messages that land after it opened.
struct StreamFraming {
  std::function<std::string(const Message&)> frame;
  bool replay = true;    // send what the inbox holds when the stream opens
  std::string greeting;  // SSE text sent first
};

// Every event stream of the relay, on one thread. See the essay in stream_hub.cpp.
class StreamHub {
public:
  struct Limits {
    std::chrono::milliseconds keepalive{25000};
    // Bytes a stream may have waiting for its socket beyond the event being written;
    // past it the stream is closed (its client reconnects; the inbox replays).
    std::size_t max_queued_bytes = std::size_t{256} * 1024;
    // Inbox files a stream may have listed but not yet sent.
    std::size_t max_backlog = 100000;
    // Streams open (or being set up) at once.
    std::size_t max_streams = 100000;
  };

  // Throws Error(io) if the loop or the folder watch cannot be made.
  explicit StreamHub(Limits limits);
  StreamHub(const StreamHub&) = delete;
  StreamHub& operator=(const StreamHub&) = delete;
  // Closes every stream.
  ~StreamHub();

  // From a worker, before answering a stream's request: a place for one more stream
  // (none: max_streams are open), and the agent's inbox watched from now on (its new/
  // is created if missing); returns the watch (`wd`), for adopt() or unwatch(). Throws
  // Error(io) if the inbox cannot be watched.
  std::optional<int> watch(spool::FsSpool& spool, const std::string& agent);
  // Undoes one watch() (the request failed before its stream was adopted).
  void unwatch(int wd);
  // The stream's connection, its headers sent, joins the loop; it sends what the inbox
  // holds, then every message that lands there, while `authorised` says yes. Takes
  // over the watch() made for it.
  void adopt(Connection connection,
             spool::FsSpool& spool,
             const std::string& agent,
             int wd,
             std::function<bool()> authorised,
             StreamFraming framing = {});
  // Ends every stream (relay shutdown); later adoptions are closed at once.
  void close_all();

  std::size_t streams() const { return m_count.load(); }
  std::size_t watched_inboxes();

private:
  struct Stream;
  struct Inbox;

  void on_folder_events();
  void orphan(int wd);
  void deliver(int wd, const std::string& name);
  void on_stream(Stream& stream, std::uint32_t events);
  void flush(Stream& stream);
  void fill(Stream& stream);
  bool queue(Stream& stream, std::shared_ptr<const std::string> chunk);
  void close(Stream& stream);
  void tick();
  void release_watch(int wd);

  Limits m_limits;
  std::unique_ptr<util::FolderWatch> m_folders;  // every watched inbox's new/
  std::atomic<std::size_t> m_count{0};

  // Watches, shared with the workers (watch/unwatch) under m_mutex. A watch stays
  // until its last holder lets go, even once dead (its folder deleted or moved).
  std::mutex m_mutex;
  struct Watch {
    std::string dir;
    std::size_t holders;  // watch() calls not yet undone by unwatch() or a stream's end
    bool live;            // still watching its folder
  };
  std::unordered_map<int, Watch> m_watches;     // by watch descriptor
  std::unordered_map<std::string, int> m_live;  // the live watch of each new/ folder

  // The loop thread's own.
  std::unordered_map<Stream*, std::unique_ptr<Stream>> m_streams;
  std::unordered_map<int, std::unordered_set<Stream*>> m_readers;  // by watch
  bool m_closing = false;

  EventLoop m_loop;  // last: stopped (its thread joined) before the members above go
};

}  // namespace bch::relay
