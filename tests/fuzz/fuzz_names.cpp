// Agent names, channels, message ids and targets: everything that becomes part of a path.
#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/message.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

// A name that passed validation can never leave its folder.
void check_safe(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos
      || name.find('\0') != std::string::npos || name.find('\\') != std::string::npos) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (bch::is_valid_agent_name(text)) {
    check_safe(text);
  }
  if (bch::is_valid_message_id(text)) {
    check_safe(text);
  }
  try {
    std::string channel = bch::normalize_channel(text);
    check_safe(channel);
    if (channel[0] != '#') {
      __builtin_trap();
    }
  } catch (const bch::Error&) {
  }
  try {
    auto target = bch::parse_target(text);
    check_safe(target.name);
  } catch (const bch::Error&) {
  }
  (void)bch::in_quotes(text);
  (void)bch::id_matches("0190d6e2-0000-7000-8000-000000000000", text);
  return 0;
}
