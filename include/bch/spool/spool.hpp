#pragma once

#include <bch/config.hpp>
#include <bch/error.hpp>
#include <bch/message.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace bch::spool {

// An agent as the spool knows it (agents/<name>.json, SPEC section 4).
struct AgentRecord {
  std::string name;
  std::vector<std::string> subscriptions;  // "#dev", sorted
  std::string created_at;
  std::string last_seen;
  std::optional<std::string> token;  // issued by a relay on first registration only
};

// The record as the relay API and `agents --json` show it: {name, subscriptions,
// createdAt, lastSeen}, never a token or its hash.
nlohmann::ordered_json to_json(const AgentRecord& agent);

// Error(not_found) "unknown agent "x" — they must `bch init x` first".
Error unknown_agent(const std::string& name);

// What `send` takes besides from, to and body.
struct SendOptions {
  Priority priority = Priority::normal;
  std::optional<std::string> scope;
  std::optional<std::string> thread;
  std::vector<std::string> refs;
};

// Called with a claimed message before it is deleted; if it throws, the claim is undone
// where the backend can (the message goes back to unread) and the exception propagates.
using MessageHandler = std::function<void(const Message&)>;

// The store-until-read message spool (SPEC section 5). Every implementation has the same
// semantics; a behavioural difference between them is a bug, and the contract tests in
// tests/unit/test_spool_contract.cpp pin them. Names are validated by the spool before
// they reach any path; violations throw Error(usage).
class Spool {
public:
  virtual ~Spool() = default;

  // Creates the agent if new (its inbox and record); returns its record either way.
  virtual AgentRecord register_agent(const std::string& name) = 0;

  // Every registered agent, sorted by name.
  virtual std::vector<AgentRecord> agents() = 0;

  // Adds/removes "#channel" to/from the agent's subscriptions. Throws Error(not_found)
  // for an unregistered agent. Idempotent.
  virtual void subscribe(const std::string& agent, const std::string& channel) = 0;
  virtual void unsubscribe(const std::string& agent, const std::string& channel) = 0;

  // Every channel someone is subscribed to, sorted.
  virtual std::vector<std::string> channels() = 0;

  // Delivers durably and returns the stored message. A DM to an unknown agent, or a
  // channel with no subscriber but the sender, throws Error(not_found) and delivers
  // nothing.
  virtual Message send(const std::string& from,
                       const std::string& to,
                       const std::string& body,
                       const SendOptions& options) = 0;

  // The agent's unread messages, oldest first, without claiming any.
  virtual std::vector<Message> inbox(const std::string& agent) = 0;

  // Claims the unread message `id`: exactly one concurrent caller gets it. `handle` runs
  // while it is claimed, then it is deleted (kept, claimed, if `keep`). Returns false if
  // it was not there (never sent, or claimed by someone else).
  virtual bool take(const std::string& agent,
                    const std::string& id,
                    bool keep,
                    const MessageHandler& handle) = 0;

  // Calls `on_message` once for each unread message, the existing ones first (oldest
  // first), then each new one as it lands, until `stop` is requested. Never claims.
  virtual void watch(const std::string& agent,
                     const MessageHandler& on_message,
                     std::stop_token stop) = 0;

  // take() without a handler: the claimed message, or nothing.
  std::optional<Message> take(const std::string& agent, const std::string& id, bool keep);
};

// The agent's unread messages that a reader with `match` may claim (SPEC section 3),
// oldest first; with `urgent_only`, only urgent ones.
std::vector<Message> unread_matching(Spool& spool,
                                     const std::string& agent,
                                     const std::optional<std::string>& match,
                                     bool urgent_only = false);

// The id of the one unread message of `agent` that `handle` names (an id prefix or
// short id, see id_matches); nothing if none. Throws Error(usage) when several match.
std::optional<std::string> find_unread(Spool& spool,
                                       const std::string& agent,
                                       const std::string& handle);

// The agents among `agents` subscribed to `channel`, the sender excluded, in order.
// Throws Error(not_found) "channel #x has no other subscribers — nothing to deliver"
// when there are none.
std::vector<std::string> channel_recipients(const std::vector<AgentRecord>& agents,
                                            const std::string& channel,
                                            const std::string& from);

// The default character budget of `drain --hook` and MCP `bch_inbox`: harnesses cut
// longer hook output (Claude Code keeps 10,000 characters), and a message claimed but
// cut away would be lost.
inline constexpr std::size_t k_default_budget = 8000;
inline constexpr std::size_t k_min_budget = 500;

// Shows `candidates` (oldest first) the way the hook does, claiming only what is shown:
// "[backchannel] N message(s) for <agent>:", the note on framing, then each message in
// its frame while the whole output stays within `budget` characters. Each message is
// passed to `emit` (with the lines before it) while it is claimed, and deleted only
// after `emit` returned. The first message that does not fit stops the run: it and
// those after it stay unread, and a last line says how many wait, then `more_hint`. A
// first message that alone exceeds the budget is shown cut and stays unread. Emits
// nothing when there are no candidates. Returns how many messages were claimed.
std::size_t show_within_budget(Spool& spool,
                               const std::string& agent,
                               const std::vector<Message>& candidates,
                               std::size_t budget,
                               std::string_view more_hint,
                               const std::function<void(const std::string&)>& emit);

// The same over several joined rooms: each candidate names its source (a spool, the
// agent it reads as, and the room label its messages are shown with), candidates are
// shown oldest first whatever their room, and the first line names every agent.
struct InboxSource {
  Spool* spool;
  std::string agent;
  std::string room;  // empty: not labelled (one room only)
};
struct Candidate {
  Message message;
  std::size_t source;  // index into the sources
};
std::size_t show_within_budget(const std::vector<InboxSource>& sources,
                               std::vector<Candidate> candidates,
                               std::size_t budget,
                               std::string_view more_hint,
                               const std::function<void(const std::string&)>& emit);

// True if a reader with `match` (and `urgent_only`) should see `message`.
bool wanted(const Message& message, const std::optional<std::string>& match, bool urgent_only);

// Opens the spool that `settings` selects (local folder, relay, brain). `quick` shortens
// network timeouts for callers that must not block a prompt (drain --hook).
std::unique_ptr<Spool> open_spool(const Settings& settings, bool quick = false);

// "local spool", the relay URL, or "brain (room: r, url)": where messages go.
std::string describe_location(const Settings& settings);

}  // namespace bch::spool
