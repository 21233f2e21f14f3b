#include "relay/task_queue.hpp"

#include <bch/util/log.hpp>

#include <fmt/format.h>

#include <chrono>
#include <system_error>
#include <thread>
#include <utility>

namespace bch::relay {

void GrowingTaskQueue::enqueue(std::function<void()> task) {
  std::unique_lock lock(m_mutex);
  if (m_stopping) {
    return;  // httplib closes the socket when the task never runs
  }
  m_tasks.push_back(std::move(task));
  if (m_idle >= m_tasks.size()) {
    m_wake.notify_one();
    return;
  }
  if (m_workers >= m_max_workers) {
    return;  // in line until a worker is free
  }
  ++m_workers;
  lock.unlock();
  try {
    // Detached: a worker may exit on its own after idling; shutdown() waits on the count.
    std::thread([this] { work(); }).detach();
  } catch (const std::system_error& e) {
    lock.lock();
    --m_workers;
    m_done.notify_all();
    if (!std::exchange(m_warned, true)) {
      util::warn(
          fmt::format("cannot start a worker thread ({}): connections wait for the {} running",
                      e.what(),
                      m_workers));
    }
  }
}

void GrowingTaskQueue::work() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    if (m_tasks.empty()) {
      if (m_stopping) {
        break;
      }
      ++m_idle;
      bool woke =
          m_wake.wait_for(lock, m_idle_timeout, [&] { return !m_tasks.empty() || m_stopping; });
      --m_idle;
      if (!woke && m_workers > m_keep_idle) {
        break;
      }
      continue;
    }
    auto task = std::move(m_tasks.front());
    m_tasks.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
  --m_workers;
  m_done.notify_all();
}

void GrowingTaskQueue::shutdown() {
  std::unique_lock lock(m_mutex);
  m_stopping = true;
  m_wake.notify_all();
  m_done.wait(lock, [&] { return m_workers == 0; });
}

}  // namespace bch::relay
