#pragma once

// The bch tools as a Model Context Protocol server (SPEC section 11): one tool table and
// one dispatcher, whatever the transport — `bch mcp` over stdio (JSON-RPC 2.0, one
// message per line; stdout carries nothing but protocol) and the relay's /mcp endpoint
// over Streamable HTTP (src/relay/mcp_endpoint.cpp).
//
// Two eras of the protocol are served side by side. A legacy client (2024-11-05 to
// 2025-11-25) opens with `initialize`; a modern one (2026-07-28) declares its revision in
// every request's params._meta and may ask `server/discover` first.

#include <bch/spool/spool.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bch::mcp {

using Json = nlohmann::ordered_json;

// The modern revision: no handshake, the version in each request's _meta.
inline constexpr const char* k_modern_version = "2026-07-28";
// The revisions an `initialize` can agree on, newest first.
inline constexpr const char* k_legacy_versions[] = {
    "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
// The _meta key of a modern request's revision.
inline constexpr const char* k_version_meta = "io.modelcontextprotocol/protocolVersion";
// The one resource: the agent's unread messages, listed as bch_peek lists them.
inline constexpr const char* k_inbox_uri = "bch://inbox";

// JSON-RPC error codes, the MCP ones among them (a transport maps some to HTTP statuses).
inline constexpr int k_parse_error = -32700;
inline constexpr int k_invalid_request = -32600;
inline constexpr int k_method_not_found = -32601;
inline constexpr int k_invalid_params = -32602;
inline constexpr int k_resource_not_found = -32002;
inline constexpr int k_header_mismatch = -32020;
inline constexpr int k_unsupported_version = -32022;

// A JSON-RPC error answer (`id` null when the request's could not be read).
Json rpc_error(const Json& id, int code, const std::string& message, Json data = nullptr);

// The revision a modern request declares in params._meta; nothing for a legacy message
// (a non-string value counts as declared, and is refused as unsupported).
std::optional<std::string> declared_version(const Json& message);

// One joined relay room the tools can act in.
struct Room {
  std::string label;  // the room id, or "default"
  spool::Spool* spool;
  std::string agent;
};

// Where the tools find the spool and the identity. Both are asked for on each tool call,
// so a server started before `bch init` answers `initialize` and reports the missing
// identity as a tool error instead of dying.
struct Session {
  std::function<spool::Spool&()> spool;
  std::function<const std::string&()> agent;
  // The session's repository (git origin URL, else working directory): the default
  // `match` of bch_inbox and bch_peek, as the Claude Code hook passes it.
  std::optional<std::string> default_match;
  // At most this many characters in a bch_inbox result; what does not fit stays unread.
  std::size_t budget = spool::k_default_budget;
  // Every joined room, the one of `spool` and `agent` first, for a home in several (unset:
  // just that one). bch_inbox and bch_peek then read them all and label each message
  // with its room, bch_take finds the message in whichever holds it, and every tool's
  // `room` argument makes it act in one room only.
  std::function<std::vector<Room>()> rooms;
  // Set by a transport that can push (the relay's): resources/subscribe of the inbox
  // (true) and unsubscribe (false); the capability is declared only then.
  std::function<void(bool)> subscribe_inbox;
};

class Server {
public:
  explicit Server(Session session);

  // Handles one message (an object, not a batch); returns the answer, or nothing for
  // notifications and responses.
  std::optional<Json> handle(const Json& message);

  // Handles one line; returns the line to answer with (no newline), or nothing for
  // notifications, responses and blank lines.
  std::optional<std::string> handle_line(std::string_view line);

  // Reads lines from the descriptor `in` until end of input, answering each on `out`.
  // Returns when input ends or `out` is closed. A line longer than 4 MiB is answered
  // with an error without being kept in memory.
  void serve(int in, int out);

private:
  Session m_session;
};

// The session's repository as the hook computes it: `git remote get-url origin` run in
// the working directory, else the working directory; nothing if neither is known.
std::optional<std::string> session_context();

}  // namespace bch::mcp
