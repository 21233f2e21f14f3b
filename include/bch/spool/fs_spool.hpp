#pragma once

#include <bch/spool/spool.hpp>

#include <filesystem>
#include <functional>
#include <memory>

namespace bch::spool {

// Where an FsSpool hands its deliveries instead of syncing them itself: the relay's
// journal (src/relay/journal.hpp). deliver() returns once the delivery is durable in the
// log; the log then has the copies written into the inboxes (write_copies) and brings
// them back after a crash. The spool calls flush() before it reads an inbox, so a read
// sees every delivery acknowledged before it, and claimed() when a message leaves new/,
// so a replay never brings back what was taken.
class DeliveryLog {
public:
  DeliveryLog() = default;
  DeliveryLog(const DeliveryLog&) = delete;
  DeliveryLog& operator=(const DeliveryLog&) = delete;
  virtual ~DeliveryLog() = default;
  virtual void deliver(const std::vector<std::string>& recipients, const Message& message) = 0;
  virtual void flush() = 0;
  virtual void claimed(const std::string& agent, const std::string& id) = 0;
};

// The Maildir-style spool rooted at a folder holding agents/ and spool/ (a bch home, or
// a relay room). See the essay at the top of src/spool/fs_spool.cpp and
// docs/spool-format.md for the layout and what survives a crash.
class FsSpool final : public Spool {
public:
  // `durable` false skips the syncs of a delivery (a relay benchmark's "what if we did
  // not sync" ceiling; nothing else): a crash may then lose acknowledged sends.
  explicit FsSpool(std::filesystem::path root, bool durable = true);
  FsSpool(const FsSpool&) = delete;
  FsSpool& operator=(const FsSpool&) = delete;
  ~FsSpool() override;

  AgentRecord register_agent(const std::string& name) override;
  std::vector<AgentRecord> agents() override;
  void subscribe(const std::string& agent, const std::string& channel) override;
  void unsubscribe(const std::string& agent, const std::string& channel) override;
  std::vector<std::string> channels() override;
  Message send(const std::string& from,
               const std::string& to,
               const std::string& body,
               const SendOptions& options) override;
  std::vector<Message> inbox(const std::string& agent) override;
  bool take(const std::string& agent,
            const std::string& id,
            bool keep,
            const MessageHandler& handle) override;
  void watch(const std::string& agent,
             const MessageHandler& on_message,
             std::stop_token stop) override;
  using Spool::take;

  const std::filesystem::path& root() const { return m_root; }

  // Deliveries go to `log` from now on (not owned; it must outlive the spool).
  void set_delivery_log(DeliveryLog* log) { m_log = log; }
  // Writes one copy of `message` into each recipient's new/ (tmp/, then a rename), with
  // no syncs: the delivery log calls it for deliveries it already holds durably.
  void write_copies(const std::vector<std::string>& recipients, const Message& message);
  // Whether the agent's inbox still holds the message (unread, being claimed, or kept).
  bool holds(const std::string& agent, const std::string& id) const;

  // For the relay, which keeps more than the spool knows in a record (tokenHash):
  // the record's JSON as stored, or nothing if the agent is not registered.
  std::optional<nlohmann::ordered_json> record_json(const std::string& name) const;
  // Read-modify-write of a record under the lock; `modify` returns false to write
  // nothing. Throws Error(not_found) for an unregistered agent.
  void update_record(const std::string& name,
                     const std::function<bool(nlohmann::ordered_json&)>& modify);
  // The agent's new/ folder (the name is validated first).
  std::filesystem::path unread_dir(const std::string& name) const;
  // Reads new/<file> of the agent: the message, or nothing if it is gone or was moved to
  // bad/ because it does not parse.
  std::optional<Message> read_unread(const std::string& agent, const std::string& file);

private:
  std::filesystem::path agent_file(const std::string& name) const;
  std::filesystem::path inbox_dir(const std::string& name) const;
  std::optional<AgentRecord> load_agent(const std::string& name) const;
  AgentRecord require_agent(const std::string& name) const;
  void touch(const AgentRecord& record);
  void deliver(const std::vector<std::string>& recipients, const Message& message);
  void write(const std::vector<std::string>& recipients, const Message& message, bool durable);

  // Once per process and inbox: removes stale tmp/ files and undoes claims whose
  // process died.
  void sweep_once(const std::filesystem::path& inbox);
  void recover_claims(const std::filesystem::path& inbox);

  struct Shared;
  std::filesystem::path m_root;
  bool m_durable = true;
  DeliveryLog* m_log = nullptr;
  std::unique_ptr<Shared> m_shared;
};

}  // namespace bch::spool
