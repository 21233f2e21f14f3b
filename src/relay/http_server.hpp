#pragma once

#include <bch/util/httplib.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace bch::relay {

// The relay's HTTP layer under the routes: cpp-httplib's server, plain or TLS, with
// every request held to limits checked as its bytes arrive, before memory is spent:
// its line and headers at most `header` bytes in all (httplib 0.11 caps each header
// line but not their number); its body at most `body` bytes whatever its framing
// (httplib checks only a Content-Length, and reads a chunked body or one without a
// length whole); the whole request, headers and body, within `deadline` (httplib's
// timeout is per read, so one byte every 20 s held a worker for good). A request
// without Content-Length or chunked encoding has no body (RFC 9112), and is not read
// until the client closes.
struct RequestLimits {
  std::size_t header = std::size_t{64} * 1024;
  std::size_t body = std::size_t{1024} * 1024;
  std::chrono::milliseconds deadline{10000};
  // Connections open at once from one client address; more are answered 429 and
  // closed. 0: no cap.
  std::size_t per_address = 0;
  // Called (on a worker) for each connection refused for `per_address`.
  std::function<void()> on_refused;
};

// Why the last request read on this thread was cut off, for the error answer.
enum class RequestVerdict { ok, headers_too_large, body_too_large, too_slow };
RequestVerdict last_request_verdict();

// A connection taken over from httplib once a response's headers are out (an event
// stream lives on in the relay's event loop, not on a worker thread): its socket, its
// TLS session (null for plain HTTP), and how to end it — TLS close_notify, close, and
// its place in the per-address count given back. `close` is safe from any thread.
struct Connection {
  int fd = -1;
  SSL* ssl = nullptr;
  std::function<void()> close;
};

// From a response's content provider: once the provider returns false, the connection
// goes to `take` instead of being closed. False (and `take` is never called) when the
// request came on no connection (answer_in_memory).
bool hand_off_connection(std::function<void(Connection)> take);

// Throws Error(io) when the TLS certificate or key cannot be loaded.
std::unique_ptr<httplib::Server> make_http_server(
    const std::optional<std::filesystem::path>& tls_cert,
    const std::optional<std::filesystem::path>& tls_key,
    const RequestLimits& limits);

// Runs one raw request through `server` exactly as a connection would (parsing, the
// limits, routing, handlers) over an in-memory stream and returns the raw response. The
// stream stops being writable once a byte of body is out: an event stream ends after
// its first chunk.
std::string answer_in_memory(httplib::Server& server,
                             std::string_view request,
                             const RequestLimits& limits);

}  // namespace bch::relay
