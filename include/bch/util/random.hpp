#pragma once

#include <cstddef>
#include <string>

namespace bch::util {

// Fills `out` with `size` bytes from the kernel's CSPRNG (getrandom). Throws Error(io)
// only if the kernel refuses, which does not happen on a supported system.
void random_bytes(unsigned char* out, std::size_t size);

// `bytes` random bytes as lower-case hex (2 × bytes characters).
std::string random_hex(std::size_t bytes);

}  // namespace bch::util
