#pragma once

#include <bch/spool/spool.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace bch::spool {

// Agent tokens known to a client that acts for several agents (tests, tools serving a
// team). Thread-safe; shared between the spools that use it.
class TokenBook {
public:
  void set(const std::string& agent, const std::string& token);
  std::optional<std::string> get(const std::string& agent) const;
  std::optional<std::string> any() const;

private:
  mutable std::mutex m_mutex;
  std::map<std::string, std::string> m_tokens;
};

// Where a relay is and who we are there.
struct RelayEndpoint {
  std::string url;                    // http(s)://host[:port][/prefix]
  std::optional<std::string> token;   // bearer: the agent token (or a room token to register)
  std::optional<std::string> room;    // X-Backchannel-Room; none = default
  std::shared_ptr<TokenBook> tokens;  // per-agent tokens, preferred over `token`
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{30000};
  // Warn (once per process, on stderr) when the token would cross the network in clear:
  // plain http:// to a host that is neither this machine nor a Tailscale address. Off
  // for the prompt hook, which must stay quiet.
  bool warn_plain_http = true;
};

// The MCP endpoint of the relay at `relay_url` (its path prefix kept, trailing slashes
// dropped), as connector URLs are built. Throws Error(usage) for a URL that is not http(s).
std::string mcp_url(const std::string& relay_url);

// Says on stderr, once per process, when a token sent to `url` would cross the network in
// clear (the test of RelayEndpoint::warn_plain_http).
void warn_if_clear(const std::string& url);

// The relay client (SPEC section 6) behind the Spool interface. Transport failures throw
// Error(unavailable) "relay <url> unreachable: …"; relay errors carry the relay's message.
// register_agent() returns the issued agent token in AgentRecord::token on first
// registration. take() cannot undo a claim if the handler throws: the relay has already
// deleted the message.
std::unique_ptr<Spool> make_http_spool(const RelayEndpoint& endpoint);

// POST /v1/rooms: a new room's id and join token. `admin_token` is sent as the bearer
// when given.
struct NewRoom {
  std::string room_id;
  std::string room_token;
};
NewRoom create_room(const std::string& url, const std::optional<std::string>& admin_token);

// POST /v1/rooms/<id>/check (ours): whether `token` admits new names to the room (`id`
// "default" for a relay's own). Returns whether the room is open to anyone; throws
// Error with the relay's message when the token is refused, Error(unavailable) when the
// relay cannot be reached, Error(not_found) from a relay without the route.
bool check_room_token(const std::string& url, const std::string& room_id, const std::string& token);

// POST /v1/rooms/<id>/rotate with the admin token or the room's current join token:
// the room's new join token. The old one admits no one afterwards.
NewRoom rotate_room_token(const std::string& url,
                          const std::string& room_id,
                          const std::optional<std::string>& bearer_token);

// POST /v1/rotate as the endpoint's agent: its new agent token (the old one stops
// working at once).
std::string rotate_agent_token(const RelayEndpoint& endpoint);

// Connectors (ours): secret URLs under the relay's /mcp/c/ that act as the endpoint's
// agent, for MCP clients that cannot send a token header.
struct Connector {
  std::string id;  // the first hex digits of its secret's hash: a handle, not the secret
  std::string label;
  std::string created_at;
};
struct NewConnector {
  Connector connector;
  std::string url;  // holds the secret; shown once
};
NewConnector create_connector(const RelayEndpoint& endpoint, const std::string& label);
std::vector<Connector> list_connectors(const RelayEndpoint& endpoint);
// `id`: a connector's id or a prefix of 6+ of its digits, or "all". Returns how many went.
std::size_t revoke_connectors(const RelayEndpoint& endpoint, const std::string& id);

}  // namespace bch::spool
