#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/invite.hpp>
#include <bch/util/json.hpp>

#include <nlohmann/json.hpp>

namespace bch {
namespace {

constexpr std::string_view k_prefix = "bch1-";
constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  // Standard base64's + and / are accepted too: a hand-copied invite may have them.
  if (c == '-' || c == '+') {
    return 62;
  }
  if (c == '_' || c == '/') {
    return 63;
  }
  return -1;
}

Error malformed(const char* detail = nullptr) {
  return Error(ErrorKind::usage,
               detail ? std::string("malformed invite: ") + detail : "malformed invite");
}

}  // namespace

std::string base64url_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) {
    return static_cast<unsigned>(static_cast<unsigned char>(data[k]));
  };
  for (; i + 2 < data.size(); i += 3) {
    unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += k_alphabet[v >> 18 & 63];
    out += k_alphabet[v >> 12 & 63];
    out += k_alphabet[v >> 6 & 63];
    out += k_alphabet[v & 63];
  }
  if (data.size() - i == 1) {
    unsigned v = byte(i) << 16;
    out += k_alphabet[v >> 18 & 63];
    out += k_alphabet[v >> 12 & 63];
  } else if (data.size() - i == 2) {
    unsigned v = byte(i) << 16 | byte(i + 1) << 8;
    out += k_alphabet[v >> 18 & 63];
    out += k_alphabet[v >> 12 & 63];
    out += k_alphabet[v >> 6 & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = sextet(c);
    if (v < 0) {
      return std::nullopt;
    }
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

std::string encode_invite(const Invite& invite) {
  nlohmann::ordered_json json;
  json["url"] = invite.url;
  if (invite.token) {
    json["token"] = *invite.token;
  }
  if (invite.room) {
    json["room"] = *invite.room;
  }
  if (!invite.channels.empty()) {
    json["channels"] = invite.channels;
  }
  return std::string(k_prefix) + base64url_encode(json.dump());
}

Invite decode_invite(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  if (text.substr(0, k_prefix.size()) != k_prefix) {
    throw Error(ErrorKind::usage, "not a backchannel invite (expected it to start with bch1-)");
  }
  auto raw = base64url_decode(text.substr(k_prefix.size()));
  if (!raw) {
    throw malformed();
  }
  auto json = util::parse_json(*raw);
  if (json.is_discarded() || !json.is_object()) {
    throw malformed();
  }
  Invite invite;
  auto url = json.find("url");
  if (url == json.end() || !url->is_string() || url->get_ref<const std::string&>().empty()) {
    throw malformed("missing relay url");
  }
  invite.url = url->get<std::string>();
  for (const char* key : {"token", "room"}) {
    auto it = json.find(key);
    if (it == json.end() || it->is_null()) {
      continue;
    }
    if (!it->is_string()) {
      throw malformed();
    }
    (std::string_view(key) == "token" ? invite.token : invite.room) = it->get<std::string>();
  }
  if (auto it = json.find("channels"); it != json.end() && !it->is_null()) {
    if (!it->is_array()) {
      throw malformed();
    }
    for (const auto& ch : *it) {
      if (!ch.is_string()) {
        throw malformed();
      }
      invite.channels.push_back(normalize_channel(ch.get<std::string>()));
    }
  }
  return invite;
}

}  // namespace bch
