// Invites pasted by people: bch1-<base64url JSON>.
#include <bch/error.hpp>
#include <bch/invite.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    bch::Invite invite = bch::decode_invite(text);
    bch::Invite again = bch::decode_invite(bch::encode_invite(invite));
    if (again.url != invite.url || again.channels != invite.channels) {
      __builtin_trap();
    }
  } catch (const bch::Error&) {
  }
  if (auto raw = bch::base64url_decode(text)) {
    if (bch::base64url_decode(bch::base64url_encode(*raw)) != raw) {
      __builtin_trap();
    }
  }
  return 0;
}
