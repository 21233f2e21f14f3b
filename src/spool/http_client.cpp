// The relay client's and the brain client's HTTP plumbing.
//
// The binary is static, so OpenSSL's compiled-in CA paths may not exist where it runs:
// SSL_CERT_FILE / SSL_CERT_DIR are honoured, then the usual bundle locations of the
// common distributions are tried.

#include "spool/http_client.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>

#include <fmt/format.h>

#include <sys/stat.h>

#include <cstdlib>

namespace bch::spool {
namespace {

bool exists(const char* path) {
  struct stat st {};
  return ::stat(path, &st) == 0;
}

// CA certificates for a static binary: the environment, else a known bundle.
std::pair<std::string, std::string> ca_locations() {
  const char* file = std::getenv("SSL_CERT_FILE");
  const char* dir = std::getenv("SSL_CERT_DIR");
  if ((file != nullptr && *file != '\0') || (dir != nullptr && *dir != '\0')) {
    return {file != nullptr ? file : "", dir != nullptr ? dir : ""};
  }
  for (const char* bundle : {"/etc/ssl/certs/ca-certificates.crt",  // Debian, Ubuntu, Arch
                             "/etc/pki/tls/certs/ca-bundle.crt",    // Fedora, RHEL
                             "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
                             "/etc/ssl/ca-bundle.pem",  // openSUSE
                             "/etc/ssl/cert.pem",       // Alpine, macOS
                             "/usr/local/etc/openssl/cert.pem"}) {
    if (exists(bundle)) {
      return {bundle, ""};
    }
  }
  return {"", exists("/etc/ssl/certs") ? "/etc/ssl/certs" : ""};
}

}  // namespace

Url parse_url(const std::string& url, const char* what) {
  auto scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    throw Error(
        ErrorKind::usage,
        fmt::format("invalid {} url {} (expected http://… or https://…)", what, in_quotes(url)));
  }
  std::size_t host_start = scheme_end + 3;
  std::size_t path_start = url.find('/', host_start);
  Url out;
  out.tls = scheme == "https";
  out.origin = url.substr(0, path_start);
  if (host_start >= out.origin.size()) {
    throw Error(ErrorKind::usage, fmt::format("invalid {} url {} (no host)", what, in_quotes(url)));
  }
  if (path_start != std::string::npos) {
    out.prefix = url.substr(path_start);
    while (!out.prefix.empty() && out.prefix.back() == '/') {
      out.prefix.pop_back();
    }
  }
  return out;
}

std::unique_ptr<httplib::Client> make_client(const Url& url,
                                             std::chrono::milliseconds connect,
                                             std::chrono::milliseconds read) {
  auto client = std::make_unique<httplib::Client>(url.origin);
  client->set_connection_timeout(connect);
  client->set_read_timeout(read);
  client->set_write_timeout(std::chrono::seconds(30));
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);  // requests are small: never wait for a delayed ACK
  if (url.tls) {
    auto [file, dir] = ca_locations();
    client->set_ca_cert_path(file, dir);
    client->enable_server_certificate_verification(true);
  }
  return client;
}

std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection refused or timed out";
    case httplib::Error::SSLServerVerification:
      return "its TLS certificate could not be verified";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::Read:
      return "no answer (read failed or timed out)";
    default:
      return httplib::to_string(error);
  }
}

}  // namespace bch::spool
