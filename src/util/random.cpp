#include <bch/error.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/hex.hpp>
#include <bch/util/platform.hpp>
#include <bch/util/random.hpp>

#include <vector>

namespace bch::util {

void random_bytes(unsigned char* out, std::size_t size) {
  system_random(out, size);
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  random_bytes(raw.data(), raw.size());
  return to_hex(raw.data(), raw.size());
}

}  // namespace bch::util
