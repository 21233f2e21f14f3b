#include <bch/error.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/hex.hpp>
#include <bch/util/random.hpp>

#include <sys/random.h>

#include <cerrno>
#include <vector>

namespace bch::util {

void random_bytes(unsigned char* out, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = getrandom(out + done, size - done, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw Error(ErrorKind::io, errno_message("cannot read random bytes", errno));
    }
    done += static_cast<std::size_t>(n);
  }
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  random_bytes(raw.data(), raw.size());
  return to_hex(raw.data(), raw.size());
}

}  // namespace bch::util
