#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/signals.hpp"

#include <bch/error.hpp>
#include <bch/protocol/relay_api.hpp>
#include <bch/relay/relay_server.hpp>
#include <bch/util/atomic_file.hpp>
#include <bch/util/log.hpp>

#include <fmt/format.h>

#include <sys/resource.h>

namespace bch::cli {
namespace {

struct RelayCmdOptions {
  int port = 7117;
  std::string port_file;
  std::string host;  // default: every interface if the relay has a token, else loopback
  std::string token;
  std::string admin_token;
  std::string data_dir;
  std::string tls_cert;
  std::string tls_key;
  std::size_t max_body = std::size_t{1024} * 1024;
  std::size_t max_connections = 4096;
  std::size_t max_streams = 10000;
  std::vector<std::string> mcp_origins;
  double request_timeout = 10;
  std::size_t max_per_address = 256;
  double rate_per_address = 100;
  double rate_per_token = 50;
  bool no_sync = false;
};

// Every stream and connection is a descriptor: the soft limit (often 1,024) goes up to
// the hard one, and a hard limit below what the flags allow is said once.
void raise_descriptor_limit(std::size_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return;
  }
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < wanted) {
    util::warn(
        fmt::format("the open-file limit ({}) is below what --max-streams and "
                    "--max-connections allow ({}): raise it (LimitNOFILE, DEPLOY.md)",
                    limit.rlim_max,
                    wanted));
  }
}

void run_relay(const RelayCmdOptions& o, Globals& g) {
  util::init_logging(g.verbosity, true);
  relay::RelayOptions options;
  options.port = o.port;
  options.data_dir = o.data_dir.empty() ? g.home() : std::filesystem::path(o.data_dir);
  options.token = non_empty(o.token) ? non_empty(o.token) : g.env.token;
  options.admin_token = non_empty(o.admin_token) ? non_empty(o.admin_token) : g.env.admin_token;
  // A relay with neither a room token nor an admin token lets anyone in: it serves this
  // machine only, unless --host says otherwise (SPEC 6).
  options.host = !o.host.empty()                          ? o.host
                 : (options.token || options.admin_token) ? "0.0.0.0"
                                                          : "127.0.0.1";
  if (!o.tls_cert.empty()) {
    options.tls_cert = o.tls_cert;
  }
  if (!o.tls_key.empty()) {
    options.tls_key = o.tls_key;
  }
  options.max_body = o.max_body;
  options.max_connections = o.max_connections;
  options.max_streams = o.max_streams;
  options.mcp_allowed_origins = o.mcp_origins;
  options.durable = !o.no_sync;
  if (o.no_sync) {
    util::warn(
        "--no-sync: deliveries are not synced; a crash can lose acknowledged sends "
        "(for benchmarks only)");
  }
  options.max_connections_per_address = o.max_per_address;
  options.rate_per_address = o.rate_per_address;
  options.rate_per_token = o.rate_per_token;
  options.request_timeout =
      std::chrono::milliseconds(static_cast<long long>(o.request_timeout * 1000));

  raise_descriptor_limit(options.max_streams + options.max_connections + 256);

  // The server outlives the signal thread that may stop it. Signals are set up before
  // start(), so every thread the relay starts inherits the blocked mask.
  relay::RelayServer server(options);
  SignalStop signals([&server](int) { server.stop(); });
  int port = server.start();
  if (!o.port_file.empty()) {
    util::AtomicFile file(o.port_file, 0644);
    file.write(fmt::format("{}\n", port));
    file.commit();
  }
  print(fmt::format("backchannel relay listening on {}\n", server.url()));
  // Loud, since a relay on a public address is how tokens and rooms leak.
  if (protocol::classify_host(options.host) == protocol::HostReach::other) {
    if (!options.tls_cert) {
      util::warn(
          fmt::format("serving plain HTTP on {}: agent tokens cross the network in clear "
                      "unless a TLS proxy is in front (DEPLOY.md) — or use --tls-cert",
                      options.host));
    }
    if (!options.token) {
      util::warn(
          fmt::format("the default room is open on {}: anyone who reaches it can register "
                      "(set --token)",
                      options.host));
    }
    if (!options.admin_token) {
      util::warn(
          fmt::format("room creation is open on {}: anyone who reaches it can create rooms "
                      "(set --admin-token)",
                      options.host));
    }
  }
  util::info(fmt::format("data in {}; default room {}; room creation {}",
                         options.data_dir.string(),
                         options.token ? "needs the room token" : "is open",
                         options.admin_token ? "needs the admin token" : "is open"));
  if (signals.caught() == 0) {
    server.serve();
  }
  util::info("relay stopped");
}

}  // namespace

void add_relay(CLI::App& app, Globals& g) {
  auto o = std::make_shared<RelayCmdOptions>();
  auto* cmd = app.add_subcommand("relay", "run a relay so agents on other machines can talk");
  cmd->add_option("--port", o->port, "port to listen on; 0 picks a free one")
      ->capture_default_str();
  cmd->add_option("--port-file", o->port_file, "write the port here once listening");
  cmd->add_option("--host",
                  o->host,
                  "address to listen on (default: 0.0.0.0 with --token or --admin-token, else "
                  "127.0.0.1)");
  cmd->add_option("--token", o->token, "the default room's join secret (or BACKCHANNEL_TOKEN)");
  cmd->add_option(
      "--admin-token", o->admin_token, "required to create rooms (or BACKCHANNEL_ADMIN_TOKEN)");
  cmd->add_option("--data-dir", o->data_dir, "where rooms live (default: the bch home)");
  cmd->add_option("--tls-cert", o->tls_cert, "serve HTTPS with this certificate (PEM)");
  cmd->add_option("--tls-key", o->tls_key, "the certificate's private key (PEM)");
  cmd->add_option("--max-body", o->max_body, "largest request body in bytes")
      ->capture_default_str();
  cmd->add_option("--max-connections",
                  o->max_connections,
                  "requests served at once (one worker thread each); more wait in line")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}))
      ->capture_default_str();
  cmd->add_option("--max-streams",
                  o->max_streams,
                  "event streams open at once (one event loop holds them all); more get 503")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}))
      ->capture_default_str();
  cmd->add_option("--mcp-allow-origin",
                  o->mcp_origins,
                  "a browser origin (https://host) allowed to call /mcp; repeatable (default: "
                  "none — requests with any other Origin get 403)");
  cmd->add_option("--max-connections-per-address",
                  o->max_per_address,
                  "connections one client address may hold open; more get 429 (0: no cap)")
      ->capture_default_str();
  cmd->add_option("--rate-per-address",
                  o->rate_per_address,
                  "requests a second from one address, bursts of twice that; more get 429 with "
                  "Retry-After (0: no limit)")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--rate-per-token",
                  o->rate_per_token,
                  "requests a second with one agent token, bursts of twice that (0: no limit)")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--request-timeout",
                  o->request_timeout,
                  "seconds a request (line, headers and body) may take to arrive; slower clients "
                  "are cut off with 408")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  // Hidden: it exists for `make bench-relay`'s ceiling of a relay that does not sync.
  cmd->add_flag("--no-sync", o->no_sync, "do not sync deliveries (benchmarks only)")->group("");
  cmd->callback([o, &g] { run_relay(*o, g); });
}

}  // namespace bch::cli
