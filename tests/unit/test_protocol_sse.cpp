#include <bch/protocol/sse.hpp>

#include <catch2/catch.hpp>

#include <vector>

using bch::protocol::SseEvent;
using bch::protocol::SseParser;

TEST_CASE("events encode with an id and one data line per line", "[sse]") {
  CHECK(bch::protocol::encode_sse("42", "{\"a\":1}") == "id: 42\ndata: {\"a\":1}\n\n");
  CHECK(bch::protocol::encode_sse("", "x\ny") == "data: x\ndata: y\n\n");
  // Found by fuzz_sse: a CR in the data ended the event early for a reader.
  CHECK(bch::protocol::encode_sse("", "a\r\rb\r\nc") == "data: a\ndata: \ndata: b\ndata: c\n\n");
  CHECK(bch::protocol::encode_sse("1\n2", "x") == "data: x\n\n");
}

TEST_CASE("the parser handles any split, CRLF, comments and multi-line data", "[sse]") {
  std::string stream =
      ": keepalive\n\nid: 1\ndata: hello\n\nid: 2\r\ndata: a\r\ndata: b\r\n\r\n:c\nevent: "
      "x\ndata:no-space\n\n";
  for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    std::vector<SseEvent> events;
    SseParser parser([&](const SseEvent& e) { events.push_back(e); });
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
      parser.feed(std::string_view(stream).substr(i, chunk));
    }
    INFO("chunk size " << chunk);
    REQUIRE(events.size() == 3);
    CHECK(events[0].id == "1");
    CHECK(events[0].data == "hello");
    CHECK(events[1].id == "2");
    CHECK(events[1].data == "a\nb");
    CHECK(events[2].event == "x");
    CHECK(events[2].data == "no-space");
  }
}

TEST_CASE("a keep-alive alone is no event", "[sse]") {
  int count = 0;
  SseParser parser([&](const SseEvent&) { ++count; });
  parser.feed(bch::protocol::k_sse_keepalive);
  parser.feed("\n\n");
  CHECK(count == 0);
}
