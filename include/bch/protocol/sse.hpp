#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace bch::protocol {

// One server-sent event.
struct SseEvent {
  std::string id;
  std::string event;  // "" means the default, "message"
  std::string data;   // data lines joined with '\n'
};

// "id: <id>\ndata: <data>\n\n"; data containing newlines becomes several data lines.
std::string encode_sse(std::string_view id, std::string_view data);

// The keep-alive comment the relay sends every 25 s.
inline constexpr std::string_view k_sse_keepalive = ": keepalive\n\n";

// Incremental parser for a text/event-stream body (the WHATWG rules that matter here:
// LF, CRLF or CR line ends, comments, "field: value" with one optional space, blank
// line dispatches). Feed it chunks as they arrive; it calls `on_event` per event.
class SseParser {
public:
  explicit SseParser(std::function<void(const SseEvent&)> on_event)
      : m_on_event(std::move(on_event)) {}
  void feed(std::string_view chunk);

private:
  void line(std::string_view text);

  std::function<void(const SseEvent&)> m_on_event;
  std::string m_buffer;
  SseEvent m_event;
  bool m_has_data = false;
  bool m_last_was_cr = false;
};

}  // namespace bch::protocol
