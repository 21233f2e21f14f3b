// FsSpool: the local Maildir-style spool, and the storage under every relay room.
//
// Layout (SPEC section 4, docs/spool-format.md):
//
//   <root>/agents/<name>.json     {name, subscriptions, createdAt, lastSeen, ...}
//   <root>/agents/.lock           flock()ed around every read-modify-write of a record
//   <root>/spool/<agent>/tmp/     messages being written
//   <root>/spool/<agent>/new/     unread messages, one <id>.json each
//   <root>/spool/<agent>/cur/     claimed messages (kept, or about to be deleted)
//   <root>/spool/<agent>/bad/     files from new/ that did not parse, set aside
//
// Guarantees, and how they are kept:
//
// * A reader never sees a partial message. A message is written to tmp/<id>.json,
//   fsync()ed, and only then rename()d into new/, after which new/ itself is fsync()ed;
//   send() returns only after that. A crash at any instant leaves the message absent (at
//   most a stray file in tmp/, swept after 36 hours) or whole in new/.
//   Threads of one process sending into the same inbox share that fsync of new/ (group
//   commit, util::GroupSync): each still returns only after an fsync that began after
//   its own rename.
// * Exactly one claimer wins. A claimer opens new/<id>.json, takes an exclusive flock on
//   it (a second claimer fails to lock and gives way), and renames it to
//   cur/.<id>.claiming; the kernel lets exactly one rename of a name succeed, and a
//   loser gets ENOENT, which is "already claimed", not an error. The claimed message is
//   handed to the caller before the claim file is deleted (or, with keep, renamed to
//   cur/<id>.json), and a handler that throws puts it back. A claimer that dies
//   mid-claim leaves its claim file unlocked: the next process to read that inbox
//   (recover_claims) renames it back into new/, so a crash shows a message again at
//   worst, and never loses it.
// * Channel fan-out writes one independent copy per subscriber, all with the same id,
//   so each subscriber claims its own copy.
// * Agent records are replaced atomically (AtomicFile) under an exclusive flock on
//   agents/.lock, so concurrent `sub`s from two sessions both stick and a crash leaves
//   either the old record or the new one. Fields we do not know (a relay's tokenHash)
//   are carried over untouched.
// * One broken file never blocks an inbox: a *.json in new/ that does not parse as a
//   message, or whose id does not match its name, is moved to bad/ with a warning.
//   Files in new/ that do not end in .json are ignored.
// * Names from outside (agent names, channel names, message ids) are validated before
//   they are joined into any path, so nothing can address a file outside the root.
// * lastSeen is rewritten at most once a minute per agent, so the hook path (`drain
//   --hook` on an empty inbox) only reads.

#include "spool/dir_watcher.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/scope.hpp>
#include <bch/spool/fs_spool.hpp>
#include <bch/util/atomic_file.hpp>
#include <bch/util/crash_point.hpp>
#include <bch/util/fd.hpp>
#include <bch/util/file_lock.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/group_sync.hpp>
#include <bch/util/json.hpp>
#include <bch/util/log.hpp>
#include <bch/util/platform.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <set>
#include <unordered_set>

namespace bch::spool {

// State shared by the threads using one FsSpool (the relay's, per room).
struct FsSpool::Shared {
  util::GroupSync syncs;
  std::mutex mutex;
  std::unordered_set<std::string> swept;  // inboxes whose tmp/ was swept by this process
};

namespace {

namespace fs = std::filesystem;

// Records keep their key order across a rewrite, so a diff of one shows only the change.
using RecordJson = nlohmann::ordered_json;

constexpr std::int64_t k_last_seen_interval_ms = 60'000;
constexpr std::int64_t k_stale_tmp_ms = 36LL * 60 * 60 * 1000;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "<id>.json" → "<id>" if the id is valid, else nothing.
std::optional<std::string> id_from_file_name(std::string_view file) {
  if (!ends_with(file, ".json")) {
    return std::nullopt;
  }
  std::string id(file.substr(0, file.size() - 5));
  if (!is_valid_message_id(id)) {
    return std::nullopt;
  }
  return id;
}

std::vector<std::string> string_array(const RecordJson& json, const char* key) {
  std::vector<std::string> out;
  auto it = json.find(key);
  if (it != json.end() && it->is_array()) {
    for (const auto& item : *it) {
      if (item.is_string()) {
        out.push_back(item.get<std::string>());
      }
    }
  }
  return out;
}

std::string string_field(const RecordJson& json, const char* key) {
  auto it = json.find(key);
  return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
}

AgentRecord record_from_json(const std::string& name, const RecordJson& json) {
  AgentRecord record;
  record.name = name;
  record.subscriptions = string_array(json, "subscriptions");
  std::sort(record.subscriptions.begin(), record.subscriptions.end());
  record.created_at = string_field(json, "createdAt");
  record.last_seen = string_field(json, "lastSeen");
  return record;
}

// Parses an agent record file; throws Error(protocol) naming it if it is not an object.
RecordJson parse_record(const fs::path& path, const std::string& text) {
  auto json = util::parse_json<RecordJson>(text);
  if (json.is_discarded() || !json.is_object()) {
    throw Error(
        ErrorKind::protocol,
        fmt::format("agent record '{}' is not a JSON object — fix or remove it", path.string()));
  }
  return json;
}

void write_record(const fs::path& path, const RecordJson& json) {
  util::AtomicFile file(path, 0600);
  file.write(json.dump(2) + "\n");
  file.commit();
}

// Moves a file that cannot be a message out of new/ (or cur/) into bad/, so it stops
// blocking the inbox, and says so once on stderr. A concurrent reader may have moved it
// already; that is fine.
// Never fails: with the disk full (no room for bad/) the file stays where it is, skipped.
void set_aside(const fs::path& file, const fs::path& inbox, std::string_view why) {
  fs::path bad = inbox / "bad";
  fs::path dest = bad / file.filename();
  try {
    util::make_private_dirs(bad);
  } catch (const Error& e) {
    util::warn(
        fmt::format("skipping unreadable message '{}' ({}): {}", file.string(), why, e.what()));
    return;
  }
  if (std::rename(file.c_str(), dest.c_str()) == 0) {
    util::warn(fmt::format(
        "moved unreadable message '{}' to '{}': {}", file.string(), dest.string(), why));
  }
}

// Removes tmp/ files older than 36 hours: the remains of writers that crashed.
void sweep_tmp(const fs::path& tmp) {
  auto names = util::list_dir(tmp);
  if (!names) {
    return;
  }
  std::int64_t now = now_unix_ms();
  for (const auto& name : *names) {
    fs::path path = tmp / name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0
        && now - static_cast<std::int64_t>(st.st_mtime) * 1000 > k_stale_tmp_ms) {
      ::unlink(path.c_str());
    }
  }
}

// A claim in progress: cur/.<id>.claiming, locked by its claimer (see take()).
constexpr std::string_view k_claim_suffix = ".claiming";

fs::path claim_path(const fs::path& inbox, const std::string& id) {
  return inbox / "cur" / ("." + id + std::string(k_claim_suffix));
}

// The id of a claim file's name, or nothing if the name is not one.
std::optional<std::string> claim_id(const std::string& name) {
  if (name.size() <= 1 + k_claim_suffix.size() || name[0] != '.'
      || !ends_with(name, k_claim_suffix)) {
    return std::nullopt;
  }
  std::string id = name.substr(1, name.size() - 1 - k_claim_suffix.size());
  try {
    check_message_id(id);
  } catch (const Error&) {
    return std::nullopt;
  }
  return id;
}

void make_inbox(const fs::path& inbox) {
  for (const char* sub : {"tmp", "new", "cur"}) {
    util::make_private_dirs(inbox / sub);
  }
}

}  // namespace

FsSpool::FsSpool(fs::path root, bool durable)
    : m_root(std::move(root)), m_durable(durable), m_shared(std::make_unique<Shared>()) {}

FsSpool::~FsSpool() = default;

fs::path FsSpool::agent_file(const std::string& name) const {
  check_agent_name(name);
  return m_root / "agents" / (name + ".json");
}

fs::path FsSpool::inbox_dir(const std::string& name) const {
  check_agent_name(name);
  return m_root / "spool" / name;
}

std::optional<AgentRecord> FsSpool::load_agent(const std::string& name) const {
  fs::path path = agent_file(name);
  auto text = util::read_file(path);
  if (!text) {
    return std::nullopt;
  }
  return record_from_json(name, parse_record(path, *text));
}

AgentRecord FsSpool::require_agent(const std::string& name) const {
  auto record = load_agent(name);
  if (!record) {
    throw unknown_agent(name);
  }
  return std::move(*record);
}

std::optional<nlohmann::ordered_json> FsSpool::record_json(const std::string& name) const {
  fs::path path = agent_file(name);
  auto text = util::read_file(path);
  if (!text) {
    return std::nullopt;
  }
  return parse_record(path, *text);
}

fs::path FsSpool::unread_dir(const std::string& name) const {
  return inbox_dir(name) / "new";
}

void FsSpool::update_record(const std::string& name,
                            const std::function<bool(nlohmann::ordered_json&)>& modify) {
  fs::path path = agent_file(name);
  util::FileLock lock(m_root / "agents" / ".lock");
  auto text = util::read_file(path);
  if (!text) {
    throw unknown_agent(name);
  }
  RecordJson json = parse_record(path, *text);
  if (modify(json)) {
    write_record(path, json);
  }
}

void FsSpool::touch(const AgentRecord& record) {
  std::int64_t now = now_unix_ms();
  auto seen = parse_timestamp(record.last_seen);
  if (seen && now - *seen < k_last_seen_interval_ms && *seen <= now) {
    return;
  }
  // Best effort: by now the message is delivered (or the inbox read), and a failure
  // here (a full disk) must not turn that into an error whose retry sends it twice.
  try {
    update_record(record.name, [&](RecordJson& json) {
      json["lastSeen"] = format_timestamp(now);
      return true;
    });
  } catch (const Error& e) {
    util::warn(fmt::format("last seen of {} not updated: {}", in_quotes(record.name), e.what()));
  }
}

AgentRecord FsSpool::register_agent(const std::string& name) {
  fs::path path = agent_file(name);
  make_inbox(inbox_dir(name));
  util::make_private_dirs(path.parent_path());
  {
    util::FileLock lock(m_root / "agents" / ".lock");
    if (!util::read_file(path)) {
      std::string now = format_timestamp(now_unix_ms());
      RecordJson json;
      json["name"] = name;
      json["subscriptions"] = RecordJson::array();
      json["createdAt"] = now;
      json["lastSeen"] = now;
      write_record(path, json);
    }
  }
  return *load_agent(name);
}

std::vector<AgentRecord> FsSpool::agents() {
  std::vector<AgentRecord> out;
  fs::path dir = m_root / "agents";
  auto names = util::list_dir(dir);
  if (!names) {
    return out;
  }
  for (const auto& file : *names) {
    if (!ends_with(file, ".json")) {
      continue;
    }
    std::string name = file.substr(0, file.size() - 5);
    if (!is_valid_agent_name(name)) {
      continue;
    }
    try {
      if (auto record = load_agent(name)) {
        out.push_back(std::move(*record));
      }
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::protocol) {
        throw;
      }
      util::warn(fmt::format("skipping agent {}: {}", in_quotes(name), e.what()));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

void FsSpool::subscribe(const std::string& agent, const std::string& channel) {
  std::string ch = normalize_channel(channel);
  update_record(agent, [&](RecordJson& json) {
    auto subs = string_array(json, "subscriptions");
    if (std::find(subs.begin(), subs.end(), ch) != subs.end()) {
      return false;
    }
    subs.push_back(ch);
    json["subscriptions"] = subs;
    return true;
  });
}

void FsSpool::unsubscribe(const std::string& agent, const std::string& channel) {
  std::string ch = normalize_channel(channel);
  update_record(agent, [&](RecordJson& json) {
    auto subs = string_array(json, "subscriptions");
    auto end = std::remove(subs.begin(), subs.end(), ch);
    if (end == subs.end()) {
      return false;
    }
    subs.erase(end, subs.end());
    json["subscriptions"] = subs;
    return true;
  });
}

std::vector<std::string> FsSpool::channels() {
  std::set<std::string> all;
  for (const auto& agent : agents()) {
    all.insert(agent.subscriptions.begin(), agent.subscriptions.end());
  }
  return {all.begin(), all.end()};
}

Message FsSpool::send(const std::string& from,
                      const std::string& to,
                      const std::string& body,
                      const SendOptions& options) {
  // Validate everything before the first write, so a refused send changes nothing.
  check_agent_name(from);
  Target target = parse_target(to);
  if (body.empty()) {
    throw Error(ErrorKind::usage, "empty message body — nothing to send");
  }
  if (options.scope && scope_segments(*options.scope).empty()) {
    throw Error(ErrorKind::usage,
                fmt::format("invalid scope {} (it names nothing)", in_quotes(*options.scope)));
  }
  AgentRecord sender = require_agent(from);

  std::vector<std::string> recipients;
  if (target.is_channel) {
    recipients = channel_recipients(agents(), target.name, from);
  } else {
    require_agent(target.name);
    recipients.push_back(target.name);
  }

  Message message;
  NewId fresh = new_message_id();
  message.id = fresh.id;
  message.ts = format_timestamp(fresh.unix_ms);
  message.from = from;
  message.to = target.is_channel ? target.name : to;
  message.body = body;
  message.priority = options.priority;
  message.scope = options.scope;
  message.thread = options.thread;
  message.refs = options.refs;
  deliver(recipients, message);
  touch(sender);
  return message;
}

void FsSpool::deliver(const std::vector<std::string>& recipients, const Message& message) {
  if (m_log != nullptr) {
    m_log->deliver(recipients, message);
  } else {
    write(recipients, message, m_durable);
  }
}

void FsSpool::write_copies(const std::vector<std::string>& recipients, const Message& message) {
  write(recipients, message, false);
}

bool FsSpool::holds(const std::string& agent, const std::string& id) const {
  check_message_id(id);
  fs::path inbox = inbox_dir(agent);
  std::error_code ec;
  return fs::exists(inbox / "new" / (id + ".json"), ec)
         || fs::exists(inbox / "cur" / (id + ".json"), ec) || fs::exists(claim_path(inbox, id), ec);
}

void FsSpool::write(const std::vector<std::string>& recipients,
                    const Message& message,
                    bool durable) {
  std::string data = serialize(message) + "\n";
  std::string file = message.id + ".json";
  // Phase 1: every copy written and fsynced in tmp/. Phase 2: every copy renamed into
  // new/ and new/ fsynced. A failure in phase 1 leaves nothing visible to anyone.
  std::vector<fs::path> written;
  auto discard = [&] {
    for (const auto& path : written) {
      ::unlink(path.c_str());
    }
  };
  try {
    for (const auto& name : recipients) {
      fs::path inbox = inbox_dir(name);
      sweep_once(inbox);
      fs::path tmp = inbox / "tmp" / file;
      auto create = [&] {
        return ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      };
      util::Fd fd(create());
      if (!fd && errno == ENOENT) {
        make_inbox(inbox);  // an inbox the TypeScript tool never created, or a new agent
        fd.reset(create());
      }
      if (!fd && errno == EEXIST) {
        // A copy of this very message (ids are unique) left by a writer that died before
        // its rename: a relay killed after acknowledging, whose journal replays it now.
        ::unlink(tmp.c_str());
        fd.reset(create());
      }
      if (!fd) {
        throw Error(ErrorKind::io,
                    util::errno_message(fmt::format("cannot create '{}'", tmp.string()), errno));
      }
      written.push_back(tmp);
      util::write_all(fd.get(), std::string_view(data).substr(0, data.size() / 2), tmp);
      util::crash_point("send.tmp-partial");
      util::write_all(fd.get(), std::string_view(data).substr(data.size() / 2), tmp);
      if (durable && util::sync_data(fd.get()) != 0) {
        throw Error(ErrorKind::io,
                    util::errno_message(fmt::format("cannot sync '{}'", tmp.string()), errno));
      }
    }
  } catch (...) {
    discard();
    throw;
  }
  util::crash_point("send.tmp");
  for (std::size_t i = 0; i < recipients.size(); ++i) {
    if (i == 1) {
      util::crash_point("send.renamed-one");
    }
    fs::path dest_dir = inbox_dir(recipients[i]) / "new";
    fs::path dest = dest_dir / file;
    if (std::rename(written[i].c_str(), dest.c_str()) != 0) {
      int err = errno;
      written.erase(written.begin(), written.begin() + static_cast<std::ptrdiff_t>(i));
      discard();
      std::string delivered;
      for (std::size_t j = 0; j < i; ++j) {
        delivered += (j ? ", " : "") + recipients[j];
      }
      throw Error(
          ErrorKind::io,
          util::errno_message(fmt::format("cannot deliver to '{}'{}",
                                          dest.string(),
                                          i ? " (already delivered to " + delivered + ")" : ""),
                              err));
    }
  }
  util::crash_point("send.renamed");
  // Concurrent senders into one inbox share the fsync of its new/ (group commit).
  for (const auto& name : recipients) {
    if (durable) {
      m_shared->syncs.sync(inbox_dir(name) / "new");
    }
  }
}

void FsSpool::sweep_once(const fs::path& inbox) {
  {
    std::lock_guard lock(m_shared->mutex);
    if (!m_shared->swept.insert(inbox.string()).second) {
      return;
    }
  }
  sweep_tmp(inbox / "tmp");
  recover_claims(inbox);
}

std::optional<Message> FsSpool::read_unread(const std::string& agent, const std::string& file) {
  fs::path inbox = inbox_dir(agent);
  fs::path path = inbox / "new" / file;
  auto id = id_from_file_name(file);
  std::optional<std::string> text;
  try {
    text = util::read_file(path, k_max_message_file_bytes);
  } catch (const Error& e) {
    set_aside(path, inbox, e.what());
    return std::nullopt;
  }
  if (!text) {
    return std::nullopt;  // claimed by someone else since the listing
  }
  try {
    Message m = parse_message(*text);
    if (!id || m.id != *id) {
      set_aside(path, inbox, "its name is not <id>.json of the message inside");
      return std::nullopt;
    }
    return m;
  } catch (const Error& e) {
    set_aside(path, inbox, e.what());
    return std::nullopt;
  }
}

std::vector<Message> FsSpool::inbox(const std::string& agent) {
  AgentRecord reader = require_agent(agent);
  if (m_log != nullptr) {
    m_log->flush();  // every acknowledged delivery is in the inbox before it is listed
  }
  sweep_once(inbox_dir(agent));
  std::vector<Message> out;
  if (auto names = util::list_dir(inbox_dir(agent) / "new")) {
    for (const auto& file : *names) {
      if (!ends_with(file, ".json")) {
        continue;
      }
      if (auto m = read_unread(agent, file)) {
        out.push_back(std::move(*m));
      }
    }
  }
  std::sort(out.begin(), out.end(), message_before);
  touch(reader);
  return out;
}

bool FsSpool::take(const std::string& agent,
                   const std::string& id,
                   bool keep,
                   const MessageHandler& handle) {
  check_message_id(id);
  fs::path inbox = inbox_dir(agent);
  fs::path unread = inbox / "new" / (id + ".json");
  fs::path claiming = claim_path(inbox, id);
  if (m_log != nullptr) {
    m_log->flush();
  }
  // Lock the message before claiming it. The lock lives as long as this claim, so a
  // claim whose process died (its lock gone with it) can be told from one in progress
  // and undone by recover_claims(); and of two claimers, the second to lock gives way.
  // O_NONBLOCK: a FIFO planted as new/<id>.json must not hang the reader.
  util::Fd fd(::open(unread.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT) {
      return false;  // never there, or another claimer won
    }
    if (errno == ELOOP) {
      set_aside(unread, inbox, "it is a symbolic link");
      return false;
    }
    throw Error(ErrorKind::io,
                util::errno_message(fmt::format("cannot claim '{}'", unread.string()), errno));
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return false;  // another claimer holds it
    }
    throw Error(ErrorKind::io,
                util::errno_message(fmt::format("cannot lock '{}'", unread.string()), errno));
  }
  if (std::rename(unread.c_str(), claiming.c_str()) != 0) {
    int err = errno;
    if (err == ENOENT && fs::exists(unread)) {
      make_inbox(inbox);  // an inbox without cur/ (made by another tool)
      if (std::rename(unread.c_str(), claiming.c_str()) == 0) {
        err = 0;
      }
    }
    if (err == ENOENT) {
      return false;  // claimed and finished by another process since we opened it
    }
    if (err != 0) {
      throw Error(ErrorKind::io,
                  util::errno_message(fmt::format("cannot claim '{}'", unread.string()), err));
    }
  }
  util::crash_point("take.claimed");
  std::optional<Message> message;
  try {
    // The descriptor locked above is the claimed file (a rename keeps the inode).
    message = parse_message(util::read_open_file(fd.get(), claiming, k_max_message_file_bytes));
    if (message->id != id) {
      throw Error(ErrorKind::protocol, "its name is not <id>.json of the message inside");
    }
  } catch (const Error& e) {
    set_aside(claiming, inbox, e.what());
    return false;
  }
  try {
    if (handle) {
      handle(*message);
    }
  } catch (...) {
    (void)std::rename(claiming.c_str(), unread.c_str());  // unclaim: it was not handled
    throw;
  }
  util::crash_point("take.handled");
  if (m_log != nullptr) {
    m_log->claimed(agent, id);  // a replay of the log must not bring it back
  }
  fs::path kept = inbox / "cur" / (id + ".json");
  int done = keep ? std::rename(claiming.c_str(), kept.c_str()) : ::unlink(claiming.c_str());
  if (done != 0 && errno != ENOENT) {
    throw Error(ErrorKind::io,
                util::errno_message(
                    fmt::format("cannot finish the claim of '{}'", claiming.string()), errno));
  }
  return true;
}

void FsSpool::recover_claims(const fs::path& inbox) {
  auto names = util::list_dir(inbox / "cur");
  if (!names) {
    return;
  }
  for (const auto& name : *names) {
    auto id = claim_id(name);
    if (!id) {
      continue;
    }
    fs::path claiming = inbox / "cur" / name;
    util::Fd fd(::open(claiming.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      continue;  // gone, or its claimer is still at work
    }
    fs::path unread = inbox / "new" / (*id + ".json");
    if (std::rename(claiming.c_str(), unread.c_str()) == 0) {
      util::warn(
          fmt::format("message {} was being read by a process that stopped; it is unread "
                      "again",
                      short_id(*id)));
    }
  }
}

void FsSpool::watch(const std::string& agent,
                    const MessageHandler& on_message,
                    std::stop_token stop) {
  require_agent(agent);
  fs::path new_dir = inbox_dir(agent) / "new";
  make_inbox(inbox_dir(agent));
  // Watch before the first scan, so nothing landing in between is missed.
  DirWatcher watcher(new_dir, stop);
  std::unordered_set<std::string> delivered;
  do {
    auto names = util::list_dir(new_dir).value_or(std::vector<std::string>{});
    std::unordered_set<std::string> present(names.begin(), names.end());
    // Forget what is gone, so a message put back after a failed claim comes again.
    std::erase_if(delivered, [&](const std::string& n) { return !present.contains(n); });
    std::vector<Message> fresh;
    for (const auto& file : names) {
      if (ends_with(file, ".json") && !delivered.contains(file)) {
        if (auto m = read_unread(agent, file)) {
          fresh.push_back(std::move(*m));
        }
      }
    }
    std::sort(fresh.begin(), fresh.end(), message_before);
    for (const auto& m : fresh) {
      if (stop.stop_requested()) {
        return;
      }
      delivered.insert(m.id + ".json");
      on_message(m);
    }
  } while (watcher.wait());
}

}  // namespace bch::spool
