#pragma once

#include <bch/spool/spool.hpp>

#include <chrono>
#include <filesystem>

namespace bch::spool {

// The Maildir-style spool rooted at a folder holding agents/ and spool/ (a bch home, or
// a relay room). See the essay at the top of src/spool/fs_spool.cpp and
// docs/spool-format.md for the layout and what survives a crash.
class FsSpool final : public Spool {
public:
  explicit FsSpool(std::filesystem::path root);

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

private:
  std::filesystem::path agent_file(const std::string& name) const;
  std::filesystem::path inbox_dir(const std::string& name) const;
  std::optional<AgentRecord> load_agent(const std::string& name) const;
  AgentRecord require_agent(const std::string& name) const;
  template <typename Modify>
  void update_agent(const std::string& name, Modify&& modify);
  void touch(const AgentRecord& record);
  std::optional<Message> read_new(const std::string& agent, const std::string& file);
  void deliver(const std::vector<std::string>& recipients, const Message& message);

  std::filesystem::path m_root;
};

}  // namespace bch::spool
