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
class Subscribers {
public:
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
