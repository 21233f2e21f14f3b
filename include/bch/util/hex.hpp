#pragma once

#include <cstddef>
#include <string>

namespace bch::util {

// `size` bytes as lower-case hex (2 × size characters).
inline std::string to_hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    out += k_digits[bytes[i] >> 4];
    out += k_digits[bytes[i] & 0x0f];
  }
  return out;
}

}  // namespace bch::util
