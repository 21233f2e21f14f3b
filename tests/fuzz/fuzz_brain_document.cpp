// Documents read back from the brain API: front matter + markdown.
#include <bch/error.hpp>
#include <bch/spool/brain_spool.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    bch::Message m = bch::spool::parse_message_document(text);
    bch::Message again = bch::spool::parse_message_document(bch::spool::message_document(m));
    if (again.body != m.body || again.id != m.id) {
      __builtin_trap();
    }
  } catch (const bch::Error&) {
  }
  try {
    auto agent = bch::spool::parse_agent_document(text, "fuzz");
    (void)bch::spool::agent_document(agent);
  } catch (const bch::Error&) {
  }
  return 0;
}
