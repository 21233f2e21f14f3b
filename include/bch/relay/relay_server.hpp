#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bch::relay {

struct RelayOptions {
  std::string host = "0.0.0.0";
  int port = 7117;                         // 0 picks a free port
  std::filesystem::path data_dir;          // holds rooms/<roomId>/
  std::optional<std::string> token;        // the default room's join secret; none = open
  std::optional<std::string> admin_token;  // required for POST /v1/rooms when set
  std::optional<std::filesystem::path> tls_cert;
  std::optional<std::filesystem::path> tls_key;
  std::size_t max_body = std::size_t{1024} * 1024;
  std::size_t max_header = std::size_t{64} * 1024;  // a request's line and headers, in all
  // A request's line, headers and body must arrive within this (slow clients are cut).
  std::chrono::milliseconds request_timeout{10000};
  // Per-client limits (0: off; `bch relay` turns them on): connections open at once
  // from one address, and requests a second (with twice that as a burst) from one
  // address and with one agent token. Past them: 429 with Retry-After.
  std::size_t max_connections_per_address = 0;
  double rate_per_address = 0;
  double rate_per_token = 0;
  std::chrono::milliseconds keepalive{25000};
  // Requests served at once, each on a worker thread; more wait in line. An event
  // stream gives its worker back once its headers are out (it lives in the stream hub).
  std::size_t max_connections = 4096;
  // Event streams open at once; past it a new one gets 503 (each costs a descriptor).
  std::size_t max_streams = 100000;
  // false: deliveries are not synced (benchmarks only: `make bench-relay` measures the
  // ceiling a relay that does not sync would reach; acknowledged sends can be lost).
  bool durable = true;
  // /mcp (MCP over HTTP): origins a browser may call it from (none by default), and its
  // legacy sessions: per credential, on the relay, and how long one lives unused.
  std::vector<std::string> mcp_allowed_origins;
  std::size_t mcp_sessions_per_credential = 16;
  std::size_t mcp_max_sessions = 10000;
  std::chrono::milliseconds mcp_session_idle{std::chrono::hours(1)};
  // Worker threads beyond the 8 kept idle exit after this long without work.
  std::chrono::milliseconds idle_worker_timeout{60000};
};

// The relay (SPEC section 6): serves one FsSpool per room over HTTP and SSE. Owns its
// threads; start() binds, serve() blocks until stop(). Not copyable.
class RelayServer {
public:
  explicit RelayServer(RelayOptions options);
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;
  ~RelayServer();

  // Binds the listening socket and returns the port. Throws Error(io) if it cannot bind
  // or (with TLS) cannot load the certificate or key.
  int start();
  // Serves requests until stop() is called (from any thread or a signal watcher).
  // Throws Error(io) if the accept loop ends by itself (an accept error).
  void serve();
  // Stops accepting, ends every event stream and makes serve() return.
  void stop();
  // Answers one raw HTTP/1.1 request (request line, headers, body) exactly as a
  // connection would, without a socket, and returns the raw response: for tests and
  // fuzzing. Needs no start(); an event stream sends its first chunk only on a started
  // relay (on one that is not, it ends after its headers).
  std::string answer(std::string_view request);
  int port() const;
  // "http://127.0.0.1:<port>" (https with TLS), with the host as bound.
  std::string url() const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace bch::relay
