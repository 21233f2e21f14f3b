#pragma once

#include <bch/util/httplib.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace bch::relay {

// cpp-httplib's task queue, replaced: httplib runs each connection as one task, and an
// SSE stream holds its task for as long as the client listens. A fixed pool would stop
// answering anything once it held as many watchers as threads, so this pool grows: a
// task that finds no idle worker gets a new one. Workers beyond `keep_idle` that stay
// idle for `idle_timeout` exit, so the pool shrinks back after a burst. It never grows
// past `max_workers`: beyond that, connections wait in line for a worker (a flood of
// connections cannot exhaust the process's threads), and a thread the system refuses
// leaves its task in line too. shutdown() waits for every task to finish.
class GrowingTaskQueue final : public httplib::TaskQueue {
public:
  GrowingTaskQueue(std::size_t keep_idle,
                   std::chrono::milliseconds idle_timeout,
                   std::size_t max_workers)
      : m_keep_idle(keep_idle), m_idle_timeout(idle_timeout), m_max_workers(max_workers) {}
  GrowingTaskQueue(const GrowingTaskQueue&) = delete;
  GrowingTaskQueue& operator=(const GrowingTaskQueue&) = delete;
  ~GrowingTaskQueue() override { shutdown(); }

  void enqueue(std::function<void()> task) override;
  void shutdown() override;

private:
  void work();

  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::condition_variable m_done;
  std::deque<std::function<void()>> m_tasks;
  std::size_t m_keep_idle;
  std::chrono::milliseconds m_idle_timeout;
  std::size_t m_max_workers;
  std::size_t m_workers = 0;
  bool m_warned = false;
  std::size_t m_idle = 0;
  bool m_stopping = false;
};

}  // namespace bch::relay
