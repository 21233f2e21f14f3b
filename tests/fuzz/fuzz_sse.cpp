// The SSE stream a relay (or anything claiming to be one) sends, cut into chunks at
// arbitrary places: the first byte of the input picks the chunk size.
#include <bch/protocol/sse.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::size_t chunk = data[0] % 17 + 1;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t events = 0;
  bch::protocol::SseParser parser([&](const bch::protocol::SseEvent&) { ++events; });
  for (std::size_t at = 0; at < text.size(); at += chunk) {
    parser.feed(text.substr(at, chunk));
  }
  // Everything we encode parses back as one event with the same data.
  std::string data_back;
  std::size_t count = 0;
  bch::protocol::SseParser check([&](const bch::protocol::SseEvent& e) {
    data_back = e.data;
    ++count;
  });
  check.feed(bch::protocol::encode_sse("1", text));
  if (count != 1) {
    __builtin_trap();
  }
  return 0;
}
