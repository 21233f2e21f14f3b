#pragma once

#include <bch/util/httplib.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace bch::relay {

// cpp-httplib's task queue, replaced: httplib runs each connection as one task, and a
// connection holds its task while it is idle between keep-alive requests or while a slow
// client sends its request (up to --request-timeout). A fixed pool would stop answering
// once slow or idle clients held every worker; a pool that starts a thread for every
// task that finds no idle worker turns a burst of ten thousand quick requests into
// thousands of threads thrashing two cores. So this pool keeps up to `eager` workers
// running freely and grows past that only for workers that are held: every `tick`, while
// tasks wait, a supervisor counts the workers whose current task has run longer than
// `held_after`, and starts one more worker for each (never past `max_workers`). A burst
// of quick requests is served by the eager workers; a slow client costs a thread only
// once it has held one.
//
// Workers beyond `keep_idle` that stay idle for `idle_timeout` exit, so the pool shrinks
// after a burst. Beyond `max_workers`, connections wait in line (a flood of connections
// cannot exhaust the process's threads), and a thread the system refuses leaves its task
// in line too. shutdown() waits for every task to finish.
class GrowingTaskQueue final : public httplib::TaskQueue {
public:
  struct Sizes {
    std::size_t keep_idle = 8;
    std::size_t eager = 32;
    std::size_t max_workers = 4096;
    std::chrono::milliseconds idle_timeout{60000};
    std::chrono::milliseconds held_after{50};
    std::chrono::milliseconds tick{10};
  };
  explicit GrowingTaskQueue(Sizes sizes);
  GrowingTaskQueue(const GrowingTaskQueue&) = delete;
  GrowingTaskQueue& operator=(const GrowingTaskQueue&) = delete;
  ~GrowingTaskQueue() override { shutdown(); }

  void enqueue(std::function<void()> task) override;
  void shutdown() override;

private:
  using Clock = std::chrono::steady_clock;
  void work();
  void supervise();
  bool start_worker(std::unique_lock<std::mutex>& lock);

  Sizes m_sizes;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::condition_variable m_done;
  std::condition_variable m_waiting;  // wakes the supervisor
  std::deque<std::function<void()>> m_tasks;
  std::list<Clock::time_point> m_running;  // when each running task started
  std::size_t m_workers = 0;
  std::size_t m_idle = 0;
  bool m_warned = false;
  bool m_stopping = false;
  std::thread m_supervisor;
};

}  // namespace bch::relay
