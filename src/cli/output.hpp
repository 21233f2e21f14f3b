#pragma once

#include <bch/message.hpp>
#include <bch/spool/spool.hpp>

#include <string>
#include <vector>

namespace bch::cli {

// The full form (SPEC section 8): "<from> -> <to>[ [URGENT]] (<ts>, id <id8>)", then
// scope/thread/refs lines when present, then the body. Control characters other than
// newline and tab are shown as U+FFFD so a message cannot drive the terminal.
std::string format_message(const Message& message);

// The brief form: the first line, ": ", and the body on one line with whitespace runs
// folded, the body cut to 120 characters with "…".
std::string format_brief(const Message& message);

// Writes `text` to stdout and flushes; throws Error(io) if stdout is gone, so a claimed
// message whose output failed goes back to unread.
void print(const std::string& text);

// The message as one line of compact JSON.
std::string message_json(const Message& message);

// "<name> (#a, #b) — last seen <ts>".
std::string format_agent(const spool::AgentRecord& agent);

}  // namespace bch::cli
