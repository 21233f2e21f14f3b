#pragma once

#include <string>
#include <string_view>

// The relay's HTTP API (SPEC section 6): paths, headers and limits shared by the relay
// server and its client, HttpSpool. A client of either implementation must work against
// a relay of the other, so these strings are the contract.
namespace bch::protocol {

inline constexpr int k_default_port = 7117;
inline constexpr const char* k_default_room = "default";
inline constexpr const char* k_room_header = "X-Backchannel-Room";
inline constexpr const char* k_service = "backchannel-relay";

inline constexpr const char* k_health = "/v1/health";
inline constexpr const char* k_rooms = "/v1/rooms";
inline constexpr const char* k_register = "/v1/register";
inline constexpr const char* k_agents = "/v1/agents";
inline constexpr const char* k_channels = "/v1/channels";
inline constexpr const char* k_subscribe = "/v1/subscribe";
inline constexpr const char* k_unsubscribe = "/v1/unsubscribe";
inline constexpr const char* k_send = "/v1/send";
inline constexpr const char* k_inbox = "/v1/inbox/";  // + agent
inline constexpr const char* k_take = "/v1/take";
inline constexpr const char* k_rotate = "/v1/rotate";   // (ours) an agent swaps its token
inline constexpr const char* k_events = "/v1/events/";  // + agent
// (ours) MCP over Streamable HTTP: with an agent token as the bearer, or under
// k_mcp_connector + a connector's secret (`bch connector new`).
inline constexpr const char* k_mcp = "/mcp";
inline constexpr const char* k_mcp_connector = "/mcp/c/";
inline constexpr const char* k_connectors = "/v1/connectors";  // (ours) + "/revoke"

// Agent tokens are 32 random bytes as lower-case hex; only their SHA-256 is stored.
inline constexpr std::size_t k_token_bytes = 32;

// True for ^[A-Za-z0-9_-]{1,64}$.
bool is_valid_room_id(std::string_view room);

// SHA-256 of `text` as lower-case hex (OpenSSL).
std::string sha256_hex(std::string_view text);

// Constant-time equality of two strings of equal length (OpenSSL CRYPTO_memcmp); false
// for different lengths.
bool equal_constant_time(std::string_view a, std::string_view b);

// Where a host name or address is, for warnings about tokens in clear: this machine
// (localhost, 127.0.0.0/8, ::1), a Tailscale network (100.64.0.0/10, *.ts.net, whose
// traffic is encrypted), or anywhere else.
enum class HostReach { loopback, tailnet, other };
HostReach classify_host(std::string_view host);

// The host of an http(s) URL ("[::1]" comes back as "::1"); empty if there is none.
std::string host_of_url(std::string_view url);

}  // namespace bch::protocol
