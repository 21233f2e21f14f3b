#pragma once

#include <string>
#include <string_view>

namespace bch {

// Longest agent name, channel name (after the '#') and message id we accept.
inline constexpr std::size_t k_max_name_length = 64;

// True if `name` is a valid agent name: ^[A-Za-z0-9][A-Za-z0-9._-]*$, at most 64 chars.
bool is_valid_agent_name(std::string_view name);

// Throws Error(usage) `invalid agent name "<name>" (use letters, digits, . _ -)` unless
// `name` is valid. Every agent name is checked with this before it reaches a path.
void check_agent_name(std::string_view name);

// Accepts "dev" or "#dev" and returns "#dev"; throws Error(usage) for anything whose
// part after the '#' is not a valid agent name.
std::string normalize_channel(std::string_view channel);

// True if `id` may name a message file: ^[A-Za-z0-9-]{1,64}$.
bool is_valid_message_id(std::string_view id);

// Throws Error(usage) `invalid message id "<id>" (use letters, digits and -)` unless
// `id` is valid. Ids from outside are never joined into a path before this check.
void check_message_id(std::string_view id);

// A parsed message target: a channel ("#dev") or a DM to an agent ("bob").
struct Target {
  bool is_channel = false;
  std::string name;  // "#dev" for a channel, "bob" for a DM (one leading '@' stripped)
};

// Parses "@bob", "bob" or "#dev"; throws Error(usage) if the name part is invalid.
Target parse_target(std::string_view target);

// Quotes `text` for an error message: "text", with control characters escaped and the
// length capped, so hostile input cannot garble the one error line.
std::string in_quotes(std::string_view text);

}  // namespace bch
