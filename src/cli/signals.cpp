#include "cli/signals.hpp"

#include <pthread.h>

namespace bch::cli {

SignalStop::SignalStop(std::function<void(int)> on_signal) : m_on_signal(std::move(on_signal)) {
  sigemptyset(&m_signals);
  sigaddset(&m_signals, SIGINT);
  sigaddset(&m_signals, SIGTERM);
  (void)std::signal(SIGINT, SIG_DFL);
  (void)std::signal(SIGTERM, SIG_DFL);
  pthread_sigmask(SIG_BLOCK, &m_signals, nullptr);
  m_thread = std::thread([this] {
    int sig = 0;
    if (sigwait(&m_signals, &sig) == 0 && !m_closing.load()) {
      m_caught = sig;
      m_on_signal(sig);
    }
  });
}

SignalStop::~SignalStop() {
  m_closing = true;
  if (m_caught == 0) {
    // Wake the waiting thread with a signal it will take as "done" (m_closing).
    // NOLINTNEXTLINE(bugprone-bad-signal-to-kill-thread): the thread sigwait()s for it
    pthread_kill(m_thread.native_handle(), SIGTERM);
  }
  m_thread.join();
}

}  // namespace bch::cli
