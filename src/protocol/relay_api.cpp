#include <bch/protocol/relay_api.hpp>
#include <bch/util/hex.hpp>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

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

HostReach classify_host(std::string_view host) {
  std::string h(host);
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  while (!h.empty() && h.back() == '.') {
    h.pop_back();
  }
  if (h == "localhost" || h.ends_with(".localhost") || h == "::1") {
    return HostReach::loopback;
  }
  if (h.ends_with(".ts.net")) {
    return HostReach::tailnet;
  }
  unsigned a = 0;
  unsigned b = 0;
  unsigned c = 0;
  unsigned d = 0;
  char tail = 0;
  if (std::sscanf(h.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a < 256 && b < 256
      && c < 256 && d < 256) {
    if (a == 127) {
      return HostReach::loopback;
    }
    if (a == 100 && b >= 64 && b < 128) {
      return HostReach::tailnet;
    }
  }
  return HostReach::other;
}

std::string host_of_url(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) {
    return "";
  }
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    rest.remove_prefix(at + 1);
  }
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    return std::string(rest.substr(1, close == std::string_view::npos ? close : close - 1));
  }
  return std::string(rest.substr(0, rest.find(':')));
}

}  // namespace bch::protocol
