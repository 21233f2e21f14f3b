#pragma once

// The one way to include cpp-httplib. httplib.h (built with OpenSSL support) defines a
// static object in every translation unit that calls OPENSSL_init_ssl() before main():
// about 4 ms per process, which `bch drain --hook` on the local spool must not pay.
// OpenSSL 1.1+ initialises itself on first use (SSL_CTX_new and friends), so that eager
// call is only a cost. It is compiled out here; libssl's own internal calls are not
// affected, because this macro only exists in our translation units.

#include <openssl/ssl.h>

#define OPENSSL_init_ssl(opts, settings) (static_cast<void>(opts), static_cast<void>(settings), 1)
#include <httplib.h>
#undef OPENSSL_init_ssl
