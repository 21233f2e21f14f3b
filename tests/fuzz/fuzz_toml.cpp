// Codex's config.toml as `bch setup` reads it before appending to it.
#include <bch/error.hpp>
#include <bch/setup/toml.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto keys = bch::setup::TomlKeys::parse(text);
    (void)keys.kind({"mcp_servers", "backchannel"});
  } catch (const bch::Error&) {
  }
  return 0;
}
