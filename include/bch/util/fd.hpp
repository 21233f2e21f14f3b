#pragma once

#include <utility>

namespace bch::util {

// Move-only owner of a file descriptor; closes it on destruction. -1 means empty.
class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset(std::exchange(other.m_fd, -1));
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return m_fd; }
  bool valid() const { return m_fd >= 0; }
  explicit operator bool() const { return valid(); }
  // Closes the held descriptor (if any) and takes `fd`.
  void reset(int fd = -1);

private:
  int m_fd = -1;
};

}  // namespace bch::util
