#pragma once

// How messages and agents look to people and to agents' contexts (SPEC section 8). The
// CLI, the MCP server and the wake notifier all show messages through these.

#include <bch/message.hpp>
#include <bch/spool/spool.hpp>

#include <string>
#include <string_view>

namespace bch {

// The full form: "<from> -> <to>[ [URGENT]] (<ts>, id <id8>)", then scope/thread/refs
// lines when present, then the body. Control characters other than newline and tab are
// shown as U+FFFD so a message cannot drive the terminal.
std::string format_message(const Message& message);

// The brief form: the first line, ": ", and the body on one line with whitespace runs
// folded, the body cut to 120 characters with "…".
std::string format_brief(const Message& message);

// The message as one line of compact JSON.
std::string message_json(const Message& message);

// "<name> (#a, #b) — last seen <ts>".
std::string format_agent(const spool::AgentRecord& agent);

// `text` with C0 controls (but, with `keep_newlines`, newline and tab), DEL and C1
// controls replaced by U+FFFD.
std::string sanitize(std::string_view text, bool keep_newlines);

// `text` with & < > written as XML entities, enough for element content: notification
// bodies (markup to most notification servers) and launchd plist strings.
std::string xml_escape(std::string_view text);

// `text` cut to at most `max_chars` UTF-8 characters, the last one "…" when cut.
std::string cut_chars(std::string text, std::size_t max_chars);

}  // namespace bch
