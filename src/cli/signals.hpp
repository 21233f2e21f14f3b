#pragma once

#include <atomic>
#include <csignal>
#include <functional>
#include <thread>

namespace bch::cli {

// Turns SIGINT and SIGTERM into a call of `on_signal` on a dedicated thread (sigwait),
// so long-running commands (watch, relay) stop through their normal return path. The
// signals are blocked in every thread created after construction; construct it first.
// A shell starts background jobs with SIGINT ignored, and an ignored signal never
// reaches sigwait(), so the dispositions are reset to their defaults here.
// `on_signal` runs at most once, never after destruction began: whatever it touches
// must simply outlive this object (declare it first).
class SignalStop {
public:
  explicit SignalStop(std::function<void(int)> on_signal);
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;
  ~SignalStop();

  // The signal that arrived, or 0.
  int caught() const { return m_caught.load(); }

private:
  sigset_t m_signals{};
  std::function<void(int)> m_on_signal;
  std::atomic<int> m_caught{0};
  std::atomic<bool> m_closing{false};
  std::thread m_thread;
};

}  // namespace bch::cli
