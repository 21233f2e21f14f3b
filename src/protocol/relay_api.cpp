#include <bch/protocol/relay_api.hpp>
#include <bch/util/hex.hpp>

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace bch::protocol {

bool is_valid_room_id(std::string_view room) {
  if (room.empty() || room.size() > 64) {
    return false;
  }
  for (char c : room) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
              || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string sha256_hex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return util::to_hex(digest, sizeof digest);
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace bch::protocol
