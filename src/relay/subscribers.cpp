#include "relay/subscribers.hpp"

namespace bch::relay {

std::deque<Message> Subscribers::Stream::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_mutex);
  m_cv.wait_for(lock, timeout, [&] { return !m_queue.empty() || m_closed; });
  std::deque<Message> out;
  out.swap(m_queue);
  m_queued_bytes = 0;
  return out;
}

bool Subscribers::Stream::closed() const {
  std::lock_guard lock(m_mutex);
  return m_closed;
}

std::shared_ptr<Subscribers::Stream> Subscribers::add(const std::string& agent) {
  auto stream = std::make_shared<Stream>();
  std::lock_guard lock(m_mutex);
  m_streams[agent].insert(stream);
  return stream;
}

void Subscribers::remove(const std::string& agent, const std::shared_ptr<Stream>& stream) {
  std::lock_guard lock(m_mutex);
  auto it = m_streams.find(agent);
  if (it != m_streams.end()) {
    it->second.erase(stream);
    if (it->second.empty()) {
      m_streams.erase(it);
    }
  }
}

bool Subscribers::watched(const std::string& agent) {
  std::lock_guard lock(m_mutex);
  auto it = m_streams.find(agent);
  return it != m_streams.end() && !it->second.empty();
}

void Subscribers::publish(const std::string& agent, const Message& message) {
  std::lock_guard lock(m_mutex);
  auto it = m_streams.find(agent);
  if (it == m_streams.end()) {
    return;
  }
  for (const auto& stream : it->second) {
    std::lock_guard stream_lock(stream->m_mutex);
    if (stream->m_closed) {
      continue;
    }
    if (stream->m_queue.size() >= k_max_queued
        || stream->m_queued_bytes + message.body.size() > k_max_queued_bytes) {
      // A slow or stalled reader: closed, not buffered (it reconnects and replays).
      stream->m_closed = true;
      stream->m_queue.clear();
      stream->m_queued_bytes = 0;
    } else {
      stream->m_queue.push_back(message);
      stream->m_queued_bytes += message.body.size();
    }
    stream->m_cv.notify_all();
  }
}

void Subscribers::close_all() {
  std::lock_guard lock(m_mutex);
  for (auto& [agent, streams] : m_streams) {
    for (const auto& stream : streams) {
      std::lock_guard stream_lock(stream->m_mutex);
      stream->m_closed = true;
      stream->m_cv.notify_all();
    }
  }
}

}  // namespace bch::relay
