#pragma once

#include "relay/stream_hub.hpp"

#include <bch/util/httplib.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace bch::spool {
class FsSpool;
}

namespace bch::relay {

// Who an MCP request acts as: the agent its credential (an agent token, or a connector
// URL's secret) belongs to, in that agent's room.
struct McpIdentity {
  spool::FsSpool* spool = nullptr;
  std::string agent;
  // What a session is bound to: the hash of the token or of the connector's secret.
  std::string credential;
  // Whether the credential still holds (a revoked token or connector ends its streams).
  std::function<bool()> authorised;
};

// A request the endpoint refuses before reading it: its HTTP status and why.
struct McpRefusal {
  int status;
  std::string message;
};

struct McpLimits {
  // Legacy sessions (the initialize handshake): at most this many per credential (the
  // least recently used goes), this many on the relay (then 503), and each ends after
  // this long without a request or an open stream.
  std::size_t sessions_per_credential = 16;
  std::size_t max_sessions = 10000;
  std::chrono::milliseconds idle{std::chrono::hours(1)};
  // Origins a browser may call from (the Origin header; none allowed by default, so a
  // page elsewhere, DNS rebinding included, gets 403). Requests without Origin pass.
  std::vector<std::string> allowed_origins;
};

// The relay's /mcp endpoint: MCP over Streamable HTTP (SPEC section 11, ours), every
// tool answered by the same dispatcher as `bch mcp` (mcp::Server) over the room's spool.
// See the essay in mcp_endpoint.cpp.
class McpEndpoint {
public:
  // Throws McpRefusal when the request carries no valid credential (401) or names an
  // unknown room (404).
  using Identify = std::function<McpIdentity(const httplib::Request&)>;

  McpEndpoint(McpLimits limits, StreamHub& streams, Identify identify);
  McpEndpoint(const McpEndpoint&) = delete;
  McpEndpoint& operator=(const McpEndpoint&) = delete;
  ~McpEndpoint();

  void post(const httplib::Request& req, httplib::Response& res);
  void get(const httplib::Request& req, httplib::Response& res);
  void remove(const httplib::Request& req, httplib::Response& res);

  std::size_t sessions();

private:
  struct Session;
  struct Call;

  // Runs `handler` for an allowed origin and an identified caller; refusals answered.
  void guarded(const httplib::Request& req,
               httplib::Response& res,
               const std::function<void(McpIdentity)>& handler);
  void post(Call& call);
  void get(Call& call);
  void remove(Call& call);
  // The session a legacy request names (its credential must be the one that opened it).
  std::shared_ptr<Session> find(const std::string& id, const std::string& credential);
  std::shared_ptr<Session> open(const McpIdentity& who);
  void legacy(Call& call);
  void modern(Call& call);
  void stream(Call& call, const std::function<bool()>& authorised, StreamFraming framing);

  McpLimits m_limits;
  StreamHub& m_streams;
  Identify m_identify;
  std::mutex m_mutex;
  std::unordered_map<std::string, std::shared_ptr<Session>> m_sessions;  // by id
};

}  // namespace bch::relay
