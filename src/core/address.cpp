#include <bch/address.hpp>
#include <bch/error.hpp>

#include <fmt/format.h>

namespace bch {
namespace {

bool is_alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

bool is_valid_agent_name(std::string_view name) {
  if (name.empty() || name.size() > k_max_name_length || !is_alnum(name.front())) {
    return false;
  }
  for (char c : name) {
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

void check_agent_name(std::string_view name) {
  if (!is_valid_agent_name(name)) {
    throw Error(ErrorKind::usage,
                fmt::format("invalid agent name {} (use letters, digits, . _ -)", in_quotes(name)));
  }
}

std::string normalize_channel(std::string_view channel) {
  std::string_view bare = channel;
  if (!bare.empty() && bare.front() == '#') {
    bare.remove_prefix(1);
  }
  if (!is_valid_agent_name(bare)) {
    throw Error(ErrorKind::usage,
                fmt::format("invalid channel name {} (use # then letters, digits, . _ -)",
                            in_quotes(channel)));
  }
  return "#" + std::string(bare);
}

bool is_valid_message_id(std::string_view id) {
  if (id.empty() || id.size() > k_max_name_length) {
    return false;
  }
  for (char c : id) {
    if (!is_alnum(c) && c != '-') {
      return false;
    }
  }
  return true;
}

void check_message_id(std::string_view id) {
  if (!is_valid_message_id(id)) {
    throw Error(ErrorKind::usage,
                fmt::format("invalid message id {} (use letters, digits and -)", in_quotes(id)));
  }
}

Target parse_target(std::string_view target) {
  if (!target.empty() && target.front() == '#') {
    return Target{true, normalize_channel(target)};
  }
  std::string_view name = target;
  if (!name.empty() && name.front() == '@') {
    name.remove_prefix(1);
  }
  check_agent_name(name);
  return Target{false, std::string(name)};
}

std::string in_quotes(std::string_view text) {
  constexpr std::size_t k_max_shown = 80;
  std::string out = "\"";
  std::size_t shown = 0;
  for (char c : text) {
    if (++shown > k_max_shown) {
      out += "…";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace bch
