#pragma once

#include <bch/message.hpp>

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace bch::relay {

// The SSE streams of one room, by agent. A stream registers before it scans the inbox,
// so nothing that lands in between is missed; messages published for its agent queue
// up until the stream takes them. Duplicates (a message both scanned and published)
// are the stream's to drop, by id.
//
// A stream's queue is small and bounded (k_max_queued messages, k_max_queued_bytes of
// bodies): a client that does not read falls behind, and when its queue is full the
// stream is closed rather than buffered without limit. The client reconnects and the
// inbox, which is the truth, replays what it missed.
class Subscribers {
public:
  static constexpr std::size_t k_max_queued = 256;
  static constexpr std::size_t k_max_queued_bytes = std::size_t{2} * 1024 * 1024;

  class Stream {
  public:
    // Waits up to `timeout` for queued messages or close(); returns what is queued
    // (possibly nothing: a keep-alive is due, or the stream is closed).
    std::deque<Message> wait(std::chrono::milliseconds timeout);
    bool closed() const;

  private:
    friend class Subscribers;
    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<Message> m_queue;
    std::size_t m_queued_bytes = 0;
    bool m_closed = false;
  };

  std::shared_ptr<Stream> add(const std::string& agent);
  void remove(const std::string& agent, const std::shared_ptr<Stream>& stream);
  // Whether any stream of `agent` is open (nothing to read for an inbox nobody watches).
  bool watched(const std::string& agent);
  // Queues `message` for every stream of `agent` and wakes them.
  void publish(const std::string& agent, const Message& message);
  // Closes every stream (relay shutdown).
  void close_all();

private:
  std::mutex m_mutex;
  std::map<std::string, std::set<std::shared_ptr<Stream>>> m_streams;
};

}  // namespace bch::relay
