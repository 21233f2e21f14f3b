#pragma once

// `bch mcp`: a Model Context Protocol server over stdio (SPEC section 11). JSON-RPC 2.0,
// one message per line; stdout carries nothing but protocol.

#include <bch/spool/spool.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bch::mcp {

// The protocol revisions this server speaks, newest first.
inline constexpr const char* k_protocol_versions[] = {
    "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

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
};

class Server {
public:
  explicit Server(Session session);

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
