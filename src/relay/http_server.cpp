// The relay's HTTP layer: httplib's servers with a cap on each request's header block,
// and in-memory requests for tests and fuzzing.
//
// httplib reads a request's line and headers through a Stream one byte at a time
// (its line reader); HeaderCap sits between that Stream and the parser, counts the
// bytes up to the blank line that ends the headers, and fails the read past the
// limit: httplib then answers 400 and closes the connection, having held at most the
// limit. The body is not counted (httplib's payload limit, --max-body, covers it).
//
// To put HeaderCap in the path, CappedServer (plain or TLS) overrides httplib's
// per-connection entry point (process_and_close_socket) with the same steps httplib takes — its
// public detail:: helpers for the keep-alive loop and the TLS handshake — and wraps
// the stream of each request before handing it to process_request.

#include "relay/http_server.hpp"

#include <bch/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <mutex>
#include <type_traits>
#include <utility>

namespace bch::relay {
namespace {

class HeaderCap final : public httplib::Stream {
public:
  HeaderCap(httplib::Stream& inner, std::size_t limit) : m_inner(inner), m_left(limit) {}

  bool is_readable() const override { return m_inner.is_readable(); }
  bool is_writable() const override { return m_inner.is_writable(); }
  ssize_t read(char* ptr, std::size_t size) override {
    if (m_in_body) {
      return m_inner.read(ptr, size);
    }
    ssize_t n = m_inner.read(ptr, std::min(size, m_left));
    if (n <= 0) {
      return m_left == 0 ? -1 : n;  // the limit reached: the request is refused
    }
    auto count = static_cast<std::size_t>(n);
    for (std::size_t i = 0; i < count && !m_in_body; ++i) {
      m_last4 = (m_last4 << 8) | static_cast<unsigned char>(ptr[i]);
      m_in_body = m_last4 == k_blank_line;
    }
    m_left -= count;
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
  httplib::Stream& m_inner;
  std::size_t m_left;
  std::uint32_t m_last4 = 0;
  bool m_in_body = false;
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
  explicit CappedServer(std::size_t header_limit, Args&&... args)
      : Base(std::forward<Args>(args)...), m_header_limit(header_limit) {}

private:
  bool process_and_close_socket(socket_t sock) override {
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
    if constexpr (k_tls) {
      if (ssl != nullptr) {
        // A clean end gets a TLS close_notify; a broken connection is just dropped.
        httplib::detail::ssl_delete(m_ssl_mutex, ssl, ok);
      }
    }
    httplib::detail::shutdown_socket(sock);
    httplib::detail::close_socket(sock);
    return ok;
  }

  bool serve(httplib::Stream& strm,
             bool close_connection,
             bool& connection_closed,
             const std::function<void(httplib::Request&)>& setup) {
    HeaderCap capped(strm, m_header_limit);
    return this->process_request(capped, close_connection, connection_closed, setup);
  }

  std::mutex m_ssl_mutex;  // guards SSL_new/SSL_free on the shared context (TLS only)
  std::size_t m_header_limit;
};

}  // namespace

std::unique_ptr<httplib::Server> make_http_server(
    const std::optional<std::filesystem::path>& tls_cert,
    const std::optional<std::filesystem::path>& tls_key,
    std::size_t header_limit) {
  if (!tls_cert && !tls_key) {
    return std::make_unique<CappedServer<httplib::Server>>(header_limit);
  }
  if (!tls_cert || !tls_key) {
    throw Error(ErrorKind::usage, "--tls-cert and --tls-key go together");
  }
  auto server = std::make_unique<CappedServer<httplib::SSLServer>>(
      header_limit, tls_cert->c_str(), tls_key->c_str());
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
                             std::size_t header_limit) {
  MemoryStream stream(request);
  HeaderCap capped(stream, header_limit);
  RequestRunner::run(server, capped);
  return stream.take_output();
}

}  // namespace bch::relay
