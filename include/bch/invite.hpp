#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bch {

// An invite (SPEC section 7): what `bch join` needs to enter a relay room.
struct Invite {
  std::string url;
  std::optional<std::string> token;   // the room's join secret
  std::optional<std::string> room;    // none = the relay's default room
  std::vector<std::string> channels;  // "#a", subscribed on join
};

// "bch1-" + base64url (no padding) of the invite's JSON.
std::string encode_invite(const Invite& invite);

// Decodes an invite string. Throws Error(usage) with the spec's messages: "not a
// backchannel invite (expected it to start with bch1-)", "malformed invite",
// "malformed invite: missing relay url".
Invite decode_invite(std::string_view text);

// base64url without padding, and back (nothing if `text` is not valid base64url).
std::string base64url_encode(std::string_view data);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace bch
