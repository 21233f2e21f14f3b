// The relay's HTTP layer: httplib's servers with every request held to its limits, and
// in-memory requests for tests and fuzzing.
//
// httplib reads a request's line and headers through a Stream one byte at a time (its
// line reader), then the body in blocks. RequestCap sits between that Stream and the
// parser and enforces the limits as the bytes pass (RequestLimits):
//  * it counts the header bytes up to the blank line and fails the read past the limit;
//  * at the blank line it reads the framing from the headers it has seen: with a
//    Content-Length it lets exactly that many bytes through (none past --max-body:
//    httplib would read and discard an oversized body), with chunked encoding at most
//    twice the body limit of raw chunk bytes (the handlers check the decoded size), and
//    with neither it reports the end of the body at once;
//  * before every read it waits for data no longer than what is left of the request's
//    deadline.
// A failed read makes httplib answer 400 and close the connection; the verdict
// (last_request_verdict) lets the error handler say 413 or 408 instead.
//
// To put RequestCap in the path, CappedServer (plain or TLS) overrides httplib's
// per-connection entry point (process_and_close_socket) with the same steps httplib
// takes — its public detail:: helpers for the keep-alive loop and the TLS handshake —
// and wraps the stream of each request before handing it to process_request.

#include "relay/http_server.hpp"

#include "relay/limiter.hpp"

#include <bch/error.hpp>
#include <bch/util/platform.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <type_traits>
#include <utility>

namespace bch::relay {
namespace {

thread_local RequestVerdict g_verdict = RequestVerdict::ok;
// Set while a worker serves a real connection; the taker a handler asked for, if any.
thread_local bool g_on_connection = false;
thread_local std::function<void(Connection)> g_taker;

class RequestCap final : public httplib::Stream {
public:
  RequestCap(httplib::Stream& inner, const RequestLimits& limits)
      : m_inner(inner),
        m_limits(limits),
        m_header_left(limits.header),
        m_started(std::chrono::steady_clock::now()) {
    g_verdict = RequestVerdict::ok;
  }

  bool is_readable() const override { return m_inner.is_readable(); }
  bool is_writable() const override { return m_inner.is_writable(); }
  ssize_t read(char* ptr, std::size_t size) override {
    if (m_in_body) {
      return read_body(ptr, size);
    }
    if (m_header_left == 0) {
      return refuse(RequestVerdict::headers_too_large);
    }
    ssize_t n = timed_read(ptr, std::min(size, m_header_left));
    if (n <= 0) {
      return n;
    }
    auto count = static_cast<std::size_t>(n);
    for (std::size_t i = 0; i < count && !m_in_body; ++i) {
      m_headers += ptr[i];
      m_last4 = (m_last4 << 8) | static_cast<unsigned char>(ptr[i]);
      if (m_last4 == k_blank_line) {
        m_in_body = true;
        frame_body();
      }
    }
    m_header_left -= count;
    return n;
  }
  ssize_t write(const char* ptr, std::size_t size) override { return m_inner.write(ptr, size); }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    m_inner.get_remote_ip_and_port(ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    m_inner.get_local_ip_and_port(ip, port);
  }
  socket_t socket() const override { return m_inner.socket(); }

private:
  static constexpr std::uint32_t k_blank_line = 0x0d0a0d0a;  // "\r\n\r\n"

  ssize_t refuse(RequestVerdict verdict) {
    g_verdict = verdict;
    return -1;
  }

  // Whether the request's deadline has passed. httplib's stream buffers what it
  // receives, out of our sight, so the wait itself is its own (a read waits at most the
  // server's read timeout, which the relay sets to the deadline): a request that stalls
  // is cut between one and two deadlines after it started.
  bool past_deadline() const {
    return std::chrono::steady_clock::now() - m_started >= m_limits.deadline;
  }

  ssize_t timed_read(char* ptr, std::size_t size) {
    if (past_deadline()) {
      return refuse(RequestVerdict::too_slow);
    }
    ssize_t n = m_inner.read(ptr, size);
    if (n < 0 && past_deadline()) {
      return refuse(RequestVerdict::too_slow);
    }
    return n;
  }

  // The value of header `name` (lower-case, with the colon) in the block seen, or "".
  std::string header_value(const std::string& lower, std::string_view name) const {
    std::size_t at = lower.find(std::string("\n") + std::string(name));
    if (at == std::string::npos) {
      return "";
    }
    std::size_t start = at + 1 + name.size();
    std::size_t end = lower.find('\r', start);
    std::string value = lower.substr(start, end == std::string::npos ? end : end - start);
    value.erase(0, value.find_first_not_of(" \t"));
    return value;
  }

  void frame_body() {
    std::string lower = m_headers;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
      return static_cast<char>(std::tolower(c));
    });
    if (header_value(lower, "transfer-encoding:").find("chunked") != std::string::npos) {
      m_mode = Mode::chunked;
      // Raw bytes, framing included: chunks of 1 KiB or more fit a body at the limit; the
      // handlers check the decoded size.
      m_body_left = m_limits.body + m_limits.body / 64 + std::size_t{4096};
      return;
    }
    std::string length = header_value(lower, "content-length:");
    if (!length.empty()) {
      unsigned long long n = std::strtoull(length.c_str(), nullptr, 10);
      m_mode = n <= m_limits.body ? Mode::length : Mode::too_long;
      m_body_left = n <= m_limits.body ? static_cast<std::size_t>(n) : 0;
      return;
    }
    m_mode = Mode::none;  // no framing: no body
  }

  ssize_t read_body(char* ptr, std::size_t size) {
    if (m_mode == Mode::too_long || (m_mode == Mode::chunked && m_body_left == 0)) {
      return refuse(RequestVerdict::body_too_large);
    }
    if (m_body_left == 0) {
      return 0;
    }
    ssize_t n = timed_read(ptr, std::min(size, m_body_left));
    if (n > 0) {
      m_body_left -= static_cast<std::size_t>(n);
    }
    return n;
  }

  httplib::Stream& m_inner;
  const RequestLimits& m_limits;
  std::size_t m_header_left;
  std::chrono::steady_clock::time_point m_started;
  std::string m_headers;
  std::uint32_t m_last4 = 0;
  bool m_in_body = false;
  enum class Mode { none, length, too_long, chunked } m_mode = Mode::none;
  std::size_t m_body_left = 0;
};

// A connection without a socket: the request's bytes in, the response's bytes out.
// Writable until the response has a byte of body.
class MemoryStream final : public httplib::Stream {
public:
  explicit MemoryStream(std::string_view request) : m_in(request) {}

  bool is_readable() const override { return m_read < m_in.size(); }
  bool is_writable() const override {
    auto end = m_out.find("\r\n\r\n");
    return end == std::string::npos || m_out.size() == end + 4;
  }
  ssize_t read(char* ptr, std::size_t size) override {
    std::size_t n = std::min(size, m_in.size() - m_read);
    std::copy_n(m_in.data() + m_read, n, ptr);
    m_read += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, std::size_t size) override {
    m_out.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 0;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 0;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

  std::string take_output() { return std::move(m_out); }

private:
  std::string_view m_in;
  std::size_t m_read = 0;
  std::string m_out;
};

// httplib's one-request entry point, Server::process_request, is protected: a derived
// class may name it, and the pointer it yields calls it on any Server.
struct RequestRunner : httplib::Server {
  // One request, then the connection counts as closed.
  static void run(httplib::Server& server, httplib::Stream& stream) {
    bool closed = false;
    auto process = &RequestRunner::process_request;
    (server.*process)(stream, true, closed, nullptr);
  }
};

// httplib's server (plain or TLS) with every request's stream capped. The connection
// loop is httplib's own (detail::process_server_socket_core), as are the TLS steps.
template <class Base>
class CappedServer final : public Base {
public:
  static constexpr bool k_tls = std::is_base_of_v<httplib::SSLServer, Base>;

  template <class... Args>
  explicit CappedServer(const RequestLimits& limits, Args&&... args)
      : Base(std::forward<Args>(args)...), m_limits(limits), m_open(limits.per_address) {}

private:
  // One client address may hold only so many connections: past the cap, a plain
  // connection is told so (429) and closed; a TLS one is just closed.
  bool process_and_close_socket(socket_t sock) override {
    std::string address;
    int port = 0;
    httplib::detail::get_remote_ip_and_port(sock, address, port);
    if (!m_open.acquire(address)) {
      if (m_limits.on_refused) {
        m_limits.on_refused();
      }
      if constexpr (!k_tls) {
        static constexpr std::string_view k_refusal =
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: "
            "application/json\r\nContent-Length: 51\r\nConnection: close\r\n\r\n"
            "{\"error\":\"too many connections from this address\"}\n";
        (void)::send(sock, k_refusal.data(), k_refusal.size(), util::k_send_no_sigpipe);
      }
      httplib::detail::shutdown_socket(sock);
      httplib::detail::close_socket(sock);
      return false;
    }
    return serve_socket(sock, address);
  }

  bool serve_socket(socket_t sock, const std::string& address) {
    g_on_connection = true;
    g_taker = nullptr;
    SSL* ssl = nullptr;
    if constexpr (k_tls) {
      ssl = httplib::detail::ssl_new(
          sock,
          this->ssl_context(),
          m_ssl_mutex,
          [&](SSL* s) {
            return httplib::detail::ssl_connect_or_accept_nonblocking(
                sock, s, SSL_accept, this->read_timeout_sec_, this->read_timeout_usec_);
          },
          [](SSL*) { return true; });
    }
    bool ok = false;
    if (!k_tls || ssl != nullptr) {
      ok = httplib::detail::process_server_socket_core(
          this->svr_sock_,
          sock,
          this->keep_alive_max_count_,
          this->keep_alive_timeout_sec_,
          [&](bool close_connection, bool& connection_closed) {
            if constexpr (k_tls) {
              httplib::detail::SSLSocketStream strm(sock,
                                                    ssl,
                                                    this->read_timeout_sec_,
                                                    this->read_timeout_usec_,
                                                    this->write_timeout_sec_,
                                                    this->write_timeout_usec_);
              return serve(strm, close_connection, connection_closed, [ssl](httplib::Request& req) {
                req.ssl = ssl;
              });
            } else {
              httplib::detail::SocketStream strm(sock,
                                                 this->read_timeout_sec_,
                                                 this->read_timeout_usec_,
                                                 this->write_timeout_sec_,
                                                 this->write_timeout_usec_);
              return serve(strm, close_connection, connection_closed, nullptr);
            }
          });
    }
    g_on_connection = false;
    auto taker = std::exchange(g_taker, nullptr);
    if (taker && (!k_tls || ssl != nullptr)) {
      taker(
          Connection{sock, ssl, [this, sock, ssl, address] { finish(sock, ssl, address, true); }});
      return true;
    }
    finish(sock, ssl, address, ok);
    return ok;
  }

  void finish(socket_t sock, SSL* ssl, const std::string& address, bool clean) {
    if constexpr (k_tls) {
      if (ssl != nullptr) {
        // A clean end gets a TLS close_notify; a broken connection is just dropped.
        httplib::detail::ssl_delete(m_ssl_mutex, ssl, clean);
      }
    }
    httplib::detail::shutdown_socket(sock);
    httplib::detail::close_socket(sock);
    m_open.release(address);
  }

  bool serve(httplib::Stream& strm,
             bool close_connection,
             bool& connection_closed,
             const std::function<void(httplib::Request&)>& setup) {
    RequestCap capped(strm, m_limits);
    return this->process_request(capped, close_connection, connection_closed, setup);
  }

  std::mutex m_ssl_mutex;  // guards SSL_new/SSL_free on the shared context (TLS only)
  RequestLimits m_limits;
  ConnectionCounter m_open;
};

}  // namespace

bool hand_off_connection(std::function<void(Connection)> take) {
  if (!g_on_connection) {
    return false;
  }
  g_taker = std::move(take);
  return true;
}

RequestVerdict last_request_verdict() {
  return g_verdict;
}

std::unique_ptr<httplib::Server> make_http_server(
    const std::optional<std::filesystem::path>& tls_cert,
    const std::optional<std::filesystem::path>& tls_key,
    const RequestLimits& limits) {
  if (!tls_cert && !tls_key) {
    return std::make_unique<CappedServer<httplib::Server>>(limits);
  }
  if (!tls_cert || !tls_key) {
    throw Error(ErrorKind::usage, "--tls-cert and --tls-key go together");
  }
  auto server = std::make_unique<CappedServer<httplib::SSLServer>>(
      limits, tls_cert->c_str(), tls_key->c_str());
  if (!server->is_valid()) {
    throw Error(ErrorKind::io,
                fmt::format("cannot load TLS certificate '{}' and key '{}'",
                            tls_cert->string(),
                            tls_key->string()));
  }
  return server;
}

std::string answer_in_memory(httplib::Server& server,
                             std::string_view request,
                             const RequestLimits& limits) {
  MemoryStream stream(request);
  RequestCap capped(stream, limits);
  RequestRunner::run(server, capped);
  return stream.take_output();
}

}  // namespace bch::relay
