#include "relay/task_queue.hpp"

#include <bch/util/log.hpp>

#include <fmt/format.h>

#include <chrono>
#include <system_error>
#include <thread>
#include <utility>

namespace bch::relay {

GrowingTaskQueue::GrowingTaskQueue(Sizes sizes) : m_sizes(sizes) {
  m_sizes.eager = std::min(std::max<std::size_t>(m_sizes.eager, 1), m_sizes.max_workers);
  m_supervisor = std::thread([this] { supervise(); });
}

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
  if (m_workers < m_sizes.eager) {
    start_worker(lock);
    return;
  }
  m_waiting.notify_one();  // in line; the supervisor decides whether the pool grows
}

// Called with the lock held; returns with it held.
bool GrowingTaskQueue::start_worker(std::unique_lock<std::mutex>& lock) {
  ++m_workers;
  lock.unlock();
  try {
    // Detached: a worker may exit on its own after idling; shutdown() waits on the count.
    std::thread([this] { work(); }).detach();
    lock.lock();
    return true;
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
    return false;
  }
}

void GrowingTaskQueue::supervise() {
  std::unique_lock lock(m_mutex);
  while (!m_stopping) {
    if (m_tasks.size() <= m_idle) {
      m_waiting.wait(lock, [&] { return m_stopping || m_tasks.size() > m_idle; });
      continue;
    }
    m_waiting.wait_for(lock, m_sizes.tick, [&] { return m_stopping; });
    if (m_stopping || m_tasks.size() <= m_idle) {
      continue;
    }
    // One more worker for each one held past `held_after`, as far as tasks wait.
    auto held_since = Clock::now() - m_sizes.held_after;
    std::size_t held = 0;
    for (const auto& started : m_running) {
      held += started <= held_since ? std::size_t{1} : std::size_t{0};
    }
    std::size_t free_running = m_workers - std::min(m_workers, held);
    std::size_t waiting = m_tasks.size() - m_idle;
    while (free_running < m_sizes.eager && waiting > 0 && m_workers < m_sizes.max_workers
           && !m_stopping) {
      if (!start_worker(lock)) {
        break;
      }
      ++free_running;
      --waiting;
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
      bool woke = m_wake.wait_for(
          lock, m_sizes.idle_timeout, [&] { return !m_tasks.empty() || m_stopping; });
      --m_idle;
      if (!woke && m_workers > m_sizes.keep_idle) {
        break;
      }
      continue;
    }
    auto task = std::move(m_tasks.front());
    m_tasks.pop_front();
    auto mine = m_running.insert(m_running.end(), Clock::now());
    lock.unlock();
    task();
    lock.lock();
    m_running.erase(mine);
  }
  --m_workers;
  m_done.notify_all();
}

void GrowingTaskQueue::shutdown() {
  std::unique_lock lock(m_mutex);
  m_stopping = true;
  m_wake.notify_all();
  m_waiting.notify_all();
  m_done.wait(lock, [&] { return m_workers == 0; });
  lock.unlock();
  if (m_supervisor.joinable()) {
    m_supervisor.join();
  }
}

}  // namespace bch::relay
