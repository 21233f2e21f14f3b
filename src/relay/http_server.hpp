#pragma once

#include <bch/util/httplib.hpp>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace bch::relay {

// The relay's HTTP layer under the routes: cpp-httplib's server, plain or TLS, with
// each request's line and headers capped at `header_limit` bytes in all (httplib 0.11
// caps each header line but not their number, so one client could make the relay
// hold gigabytes of headers), and a way to answer a request without a socket.

// Throws Error(io) when the TLS certificate or key cannot be loaded.
std::unique_ptr<httplib::Server> make_http_server(
    const std::optional<std::filesystem::path>& tls_cert,
    const std::optional<std::filesystem::path>& tls_key,
    std::size_t header_limit);

// Runs one raw request through `server` exactly as a connection would (parsing, the
// cap, routing, handlers) over an in-memory stream and returns the raw response. The
// stream stops being writable once a byte of body is out: an event stream ends after
// its first chunk.
std::string answer_in_memory(httplib::Server& server,
                             std::string_view request,
                             std::size_t header_limit);

}  // namespace bch::relay
