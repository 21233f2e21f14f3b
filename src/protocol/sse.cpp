// Server-sent events: the relay streams each unread message as one event whose data is
// the message JSON and whose id is the message id; HttpSpool parses the stream.
//
// The parser is incremental because the network splits the stream anywhere, including
// between the CR and LF of a line end. Lines are buffered until complete; a blank line
// dispatches the event built so far; lines starting with ':' are comments (keep-alives).
// Unknown fields are ignored, as the SSE specification requires.

#include <bch/protocol/sse.hpp>

namespace bch::protocol {

std::string encode_sse(std::string_view id, std::string_view data) {
  std::string out;
  out.reserve(data.size() + id.size() + 16);
  if (!id.empty() && id.find_first_of("\r\n") == std::string_view::npos) {
    out.append("id: ").append(id).append("\n");
  }
  // Every line break a reader recognises (LF, CR, CRLF) starts a new data: line, so the
  // data can never end the event early or smuggle in a field of its own.
  std::size_t start = 0;
  while (true) {
    std::size_t end = data.find_first_of("\r\n", start);
    out.append("data: ").append(data.substr(start, end - start)).append("\n");
    if (end == std::string_view::npos) {
      break;
    }
    start = end + (data.compare(end, 2, "\r\n") == 0 ? 2 : 1);
  }
  out += '\n';
  return out;
}

void SseParser::feed(std::string_view chunk) {
  for (char c : chunk) {
    if (c == '\n' && m_last_was_cr) {
      m_last_was_cr = false;  // the LF of a CRLF already ended the line
      continue;
    }
    m_last_was_cr = c == '\r';
    if (c == '\n' || c == '\r') {
      line(m_buffer);
      m_buffer.clear();
    } else {
      m_buffer += c;
    }
  }
}

void SseParser::line(std::string_view text) {
  if (text.empty()) {
    if (m_has_data) {
      m_on_event(m_event);
    }
    m_event.data.clear();
    m_event.event.clear();
    m_has_data = false;
    return;
  }
  if (text.front() == ':') {
    return;
  }
  auto colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
  }
  if (field == "data") {
    if (m_has_data) {
      m_event.data += '\n';
    }
    m_event.data.append(value);
    m_has_data = true;
  } else if (field == "id") {
    m_event.id = std::string(value);
  } else if (field == "event") {
    m_event.event = std::string(value);
  }
}

}  // namespace bch::protocol
