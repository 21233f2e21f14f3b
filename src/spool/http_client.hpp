#pragma once

// What the relay client and the brain client share: URL parsing, CA bundles for a
// static binary, and a configured cpp-httplib client.

#include <bch/util/httplib.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace bch::spool {

struct Url {
  std::string origin;  // scheme://host:port
  std::string prefix;  // "" or "/path" without a trailing slash
  bool tls = false;
};

// Parses an http(s) URL; `what` names it in errors ("relay", "brain"). Throws
// Error(usage) for anything else.
Url parse_url(const std::string& url, const char* what);

// A keep-alive client for `url` with the given timeouts; over TLS the server's
// certificate is verified against SSL_CERT_FILE / SSL_CERT_DIR, else the first CA
// bundle found in the usual places of the common distributions.
std::unique_ptr<httplib::Client> make_client(const Url& url,
                                             std::chrono::milliseconds connect,
                                             std::chrono::milliseconds read);

// A transport failure in words ("connection refused or timed out", …).
std::string describe(httplib::Error error);

}  // namespace bch::spool
