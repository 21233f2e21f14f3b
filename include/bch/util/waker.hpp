#pragma once

#include <bch/util/fd.hpp>

namespace bch::util {

// A descriptor that another thread makes readable: the way to interrupt a poll() or an
// event loop. An eventfd on Linux; a non-blocking pipe elsewhere. notify() is safe from
// any thread and from a stop callback; notifications coalesce until drain().
class Waker {
public:
  // Throws Error(io) when the descriptor cannot be made.
  Waker();

  int fd() const { return m_read.get(); }
  void notify() const;
  // Makes the descriptor unreadable again.
  void drain() const;

private:
  Fd m_read;
  Fd m_write;  // the pipe's write end; empty for an eventfd
};

}  // namespace bch::util
