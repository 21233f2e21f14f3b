// Message JSON as read from spool files, relay answers and SSE events.
#include <bch/error.hpp>
#include <bch/message.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    bch::Message m = bch::parse_message(text);
    // Whatever parses must survive a round trip unchanged.
    bch::Message again = bch::parse_message(bch::serialize(m));
    if (again.id != m.id || again.body != m.body || again.refs != m.refs) {
      __builtin_trap();
    }
    (void)bch::short_id(m.id);
  } catch (const bch::Error&) {
  }
  return 0;
}
