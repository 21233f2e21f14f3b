#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace bch {

enum class Priority { normal, urgent };

// One message (SPEC section 1). Optional fields are empty when absent and are omitted
// from the JSON, never written as null.
struct Message {
  std::string id;    // UUIDv7, sorts by creation
  std::string from;  // sender agent name
  std::string to;    // the target exactly as addressed: "@bob", "bob" or "#dev"
  std::string body;  // markdown, any UTF-8
  Priority priority = Priority::normal;
  std::optional<std::string> scope;   // routing hint for multi-session readers
  std::optional<std::string> thread;  // id of the message this answers
  std::vector<std::string> refs;      // file paths or URLs, opaque
  std::string ts;                     // UTC ISO-8601 with milliseconds
};

// "normal" / "urgent".
const char* to_string(Priority priority);

// Parses "normal" or "urgent"; nothing for anything else.
std::optional<Priority> parse_priority(std::string_view text);

// The message as a JSON object in the field order of SPEC section 1.
nlohmann::ordered_json to_json(const Message& message);

// Reads a message from JSON, ignoring unknown fields. Throws Error(protocol) naming the
// field when a required field is missing or has the wrong type, or when the id could not
// safely name a file.
Message message_from_json(const nlohmann::json& json);

// Serialises for storage and the wire: compact JSON.
std::string serialize(const Message& message);

// Parses serialised text; throws Error(protocol) on bad JSON or a bad message.
Message parse_message(std::string_view text);

// The 8-character handle shown for a message ("id 3f9c1a2b"). UUIDv7 ids begin with
// the timestamp, so their first 8 characters are shared by every message of the same
// minute; the handle is therefore the id's last 8 characters, which are random.
std::string short_id(const std::string& id);

// True if `handle` names the message `id`: a prefix of the id, a prefix of at least 4
// characters of its short id (what people see and type), or a tail of 8 or more.
bool id_matches(const std::string& id, std::string_view handle);

// Inbox order: ascending ts, ties broken by id.
bool message_before(const Message& a, const Message& b);

// Makes a UUIDv7 (RFC 9562) from Unix time in milliseconds and 12 bits of sub-millisecond
// time (`fraction`, 0-4095, RFC 9562 method 3); the remaining 62 bits are random.
std::string make_uuid_v7(std::int64_t unix_ms, unsigned fraction);

// A new message id and its creation time (the ms in the id, for the ts field). Ids are
// strictly increasing within a process, and across processes they follow the clock to
// about a quarter of a microsecond, so messages sent one after another sort in order.
struct NewId {
  std::string id;
  std::int64_t unix_ms;
};
NewId new_message_id();

// Formats Unix milliseconds as "2026-06-12T12:00:00.000Z".
std::string format_timestamp(std::int64_t unix_ms);

// Parses the format above (also without milliseconds); nothing if malformed.
std::optional<std::int64_t> parse_timestamp(std::string_view text);

// The largest message body a sender accepts (the relay's default --max-body, too).
inline constexpr std::size_t k_max_body_bytes = std::size_t{1024} * 1024;

// The largest message file a reader reads: a body at the limit whose every byte JSON
// escapes as \u00XX (six bytes), plus room for the other fields. Anything larger in
// an inbox was not written by a sender and is set aside unread.
inline constexpr std::size_t k_max_message_file_bytes =
    6 * k_max_body_bytes + std::size_t{256} * 1024;

// A body as typed, ready to send: trailing newlines dropped. Throws Error(usage) when it
// is blank ("empty message body — nothing to send") or over k_max_body_bytes.
std::string prepare_body(std::string body);

// Milliseconds since the Unix epoch, now.
std::int64_t now_unix_ms();

}  // namespace bch
