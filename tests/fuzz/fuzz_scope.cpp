// Scopes and --match values: "<scope>\n<match>".
#include <bch/scope.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto newline = text.find('\n');
  std::string scope = text.substr(0, newline);
  std::string match = newline == std::string::npos ? "" : text.substr(newline + 1);
  (void)bch::scope_segments(scope);
  (void)bch::scope_segments(match);
  bool matched = bch::scope_matches(scope, match);
  // A scope always matches a reader in exactly that place.
  if (!scope.empty() && !bch::scope_segments(scope).empty() && !bch::scope_matches(scope, scope)) {
    __builtin_trap();
  }
  // No scope is claimable by every reader.
  if (!bch::scope_matches(std::nullopt, match)) {
    __builtin_trap();
  }
  (void)matched;
  return 0;
}
