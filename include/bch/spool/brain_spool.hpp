#pragma once

// The brain backend (SPEC section 9): messages kept as documents in a hosted document
// API, with a permanent archive copy of each under log/.

#include <bch/spool/spool.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace bch::spool {

struct BrainEndpoint {
  std::string url;    // API base, e.g. https://brain.unisonlabs.ai
  std::string token;  // bearer (usk_…); never shown in logs or errors
  std::string room = "default";
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{15000};
  std::chrono::milliseconds poll_interval{5000};  // watch
  // How a retry waits (tests record the waits instead of sleeping); empty: sleep.
  std::function<void(std::chrono::milliseconds)> wait;
};

// Throws Error(usage) unless `room` is a slug: 1-64 of a-z, 0-9, - and _, starting with
// a letter or digit.
void check_brain_room(const std::string& room);

// The Spool interface over the brain document API. Layout under
// /private/backchannel/<room>/: agents/<name>.md, inbox/<agent>/<id>.md (deleted on
// take), log/<id>.md (the archive, never deleted).
//
// Every request is retried as SPEC section 9 says (at most 3 attempts; 429 waits
// Retry-After or 1 s × attempt, at most 5 s; 5xx and network errors wait 300 ms ×
// attempt), so a call spends at most 3 × (connect + read timeout) + 10 s. The final
// failure is Error(unavailable) "brain <url> unreachable: …" or names the answer.
//
// send writes the archive first, then each inbox copy; when some copies fail, the error
// names who got the message and who did not. take reads the copy, deletes it (a 404
// there means another reader claimed it first), then runs the handler; if the handler
// throws, the copy is written back. With `keep`, the archive is the kept copy. watch
// polls the inbox every poll_interval and never writes. inbox is one list request (plus
// one to tell an empty inbox from an unknown agent).
std::unique_ptr<Spool> make_brain_spool(const BrainEndpoint& endpoint);

// The document format: "---\n" + "key: <JSON value>" lines + "\n---\n" + markdown.
// Message keys in order id, from, to, priority, ts, [scope], [thread], [refs], body;
// markdown "# <from> → <to>\n\n<body>\n". The front matter is the truth.
std::string message_document(const Message& message);
// Throws Error(protocol) when the text is not a message document.
Message parse_message_document(std::string_view text);

// Agent documents: subscriptions, createdAt, lastSeen; markdown "# Agent: <name>\n".
std::string agent_document(const AgentRecord& agent);
// Throws Error(protocol) when the text is not an agent document.
AgentRecord parse_agent_document(std::string_view text, const std::string& name);

}  // namespace bch::spool
