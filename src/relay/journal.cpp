// Journal: how the relay makes a send durable with one shared sync, and then writes the
// Maildir behind it.
//
// A durable Maildir delivery costs two syncs (the message file, then its folder), and
// syncs of different files cannot be shared. So the relay does not sync its inboxes on
// the send path at all. It appends the delivery (room, recipients, the message as JSON)
// to a journal and fdatasync()s that: concurrent senders queue their records, the first
// one to find no write in progress becomes the leader, writes every queued record with
// one pwrite() and syncs once for all of them (group commit), and only then does any of
// them answer. A thread behind the journal (the materializer) then writes each delivery
// into its inboxes exactly as an unsynced FsSpool would (tmp/, rename into new/), in
// order; readers flush() first, so an inbox read after a send was acknowledged shows it,
// and streams see it when its file lands (inotify, as for any writer).
//
// Files. The journal is two segments, <dir>/0.seg and <dir>/1.seg, used in turn and
// zero-filled ahead of the records as they grow (fill_to). A segment opens with a
// 16-byte header (magic, generation) and its records start at 4 KiB; each record is
// [length u32][check u32][generation u64][payload], the check being FNV-1a over the
// generation and payload. Overwriting written blocks changes no file size or extent, so
// its fdatasync() writes the data alone: measured here, that is faster than the appends
// a plain log file would make.
//
// Checkpoints. When the current segment is full, the leader moves to the other one; the
// full one is kept until every delivery in it is in its inboxes, then the materializer
// syncs the whole file system once (syncfs) and marks the segment empty (its header's
// generation set to 0, synced). The leader waits only if the other segment is not free
// yet; senders also wait while more than max_unwritten deliveries are acknowledged but
// not written to inboxes, which bounds both memory and how stale an inbox can be.
//
// Crashes. Whatever was acknowledged is in a segment whose header still names its
// generation. recover() reads both segments (older first, each up to its first record
// that is torn, foreign or fails its check), notes every claim, and writes again every
// copy that its inbox does not hold and nobody claimed; then it syncs and empties them.
// Claims are journaled (written, not synced) so a replay does not bring back a message
// that was taken: after a kill -9 the page cache keeps them; after a power cut a lost
// claim means a message shown twice, as with any delivery that was not synced.
//
// A failed write or sync of the journal is sticky: after an fdatasync() error the kernel
// may have dropped the pages, so no later success can be trusted. Every later send fails
// with that error until the relay is restarted (and replays).

#include "relay/journal.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/protocol/relay_api.hpp>
#include <bch/util/crash_point.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/group_sync.hpp>
#include <bch/util/json.hpp>
#include <bch/util/log.hpp>
#include <bch/util/platform.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

namespace bch::relay {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr std::array<char, 8> k_magic{'B', 'C', 'H', 'J', 'R', 'N', 'L', '1'};
constexpr std::size_t k_header_bytes = 16;
constexpr std::size_t k_records_start = 4096;
constexpr std::size_t k_frame_bytes = 16;  // length, check, generation
constexpr std::size_t k_fill_step = 1u << 20;
constexpr auto k_flush_wait = std::chrono::seconds(5);
constexpr auto k_retry_wait = std::chrono::seconds(1);

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

std::uint64_t get_le(std::string_view in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]);
  }
  return v;
}

std::uint32_t check_of(std::uint64_t generation, std::string_view payload) {
  std::uint64_t h = 14695981039346656037ULL;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  for (int i = 0; i < 8; ++i) {
    mix(static_cast<unsigned char>((generation >> (8 * i)) & 0xff));
  }
  for (char c : payload) {
    mix(static_cast<unsigned char>(c));
  }
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

void frame(std::string& out, std::uint64_t generation, std::string_view payload) {
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, check_of(generation, payload));
  put_u64(out, generation);
  out.append(payload);
}

void sync_file(int fd, const fs::path& path) {
  if (util::sync_data(fd) != 0) {
    throw Error(ErrorKind::io,
                util::errno_message(fmt::format("cannot sync '{}'", path.string()), errno));
  }
}

fs::path segment_path(const fs::path& dir, int index) {
  return dir / fmt::format("{}.seg", index);
}

std::string deliver_payload(const JournalDelivery& d) {
  return fmt::format(R"({{"op":"deliver","room":{},"to":{},"message":{}}})",
                     Json(d.room).dump(),
                     Json(d.recipients).dump(),
                     serialize(d.message));
}

std::string claim_payload(const std::string& room,
                          const std::string& agent,
                          const std::string& id) {
  return Json{{"op", "claim"}, {"room", room}, {"agent", agent}, {"id", id}}.dump();
}

std::string claim_key(std::string_view room, std::string_view agent, std::string_view id) {
  return fmt::format("{}/{}/{}", room, agent, id);
}

// The records of one segment, in order, up to the first one that does not belong.
std::vector<std::string> read_records(std::string_view data, std::uint64_t generation) {
  std::vector<std::string> out;
  std::size_t at = k_records_start;
  while (at + k_frame_bytes <= data.size()) {
    auto length = static_cast<std::size_t>(get_le(data, at, 4));
    auto check = static_cast<std::uint32_t>(get_le(data, at + 4, 4));
    std::uint64_t gen = get_le(data, at + 8, 8);
    if (gen != generation || length == 0 || length > data.size() - at - k_frame_bytes) {
      break;
    }
    std::string_view payload = data.substr(at + k_frame_bytes, length);
    if (check_of(gen, payload) != check) {
      break;
    }
    out.emplace_back(payload);
    at += k_frame_bytes + length;
  }
  return out;
}

std::string string_at(const Json& json, const char* key) {
  auto it = json.find(key);
  return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string journal_segment_header(std::uint64_t generation) {
  std::string header(k_magic.begin(), k_magic.end());
  put_u64(header, generation);
  return header;
}

std::string journal_record(std::uint64_t generation, std::string_view payload) {
  std::string out;
  frame(out, generation, payload);
  return out;
}

Journal::Journal(Options options, Materialize materialize)
    : m_options(std::move(options)), m_materialize(std::move(materialize)) {
  m_options.segment_bytes = std::max(m_options.segment_bytes, 2 * k_records_start);
  util::make_private_dirs(m_options.dir);
  for (int i = 0; i < 2; ++i) {
    fs::path path = segment_path(m_options.dir, i);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      int err = fd < 0 ? errno : EINVAL;
      if (fd >= 0) {
        ::close(fd);
      }
      for (int j = 0; j < i; ++j) {
        ::close(m_segments[j].fd);
      }
      throw Error(ErrorKind::io,
                  util::errno_message(fmt::format("cannot open journal '{}'", path.string()), err));
    }
    m_segments[i].fd = fd;
  }
  m_sync_fd = ::open(m_options.sync_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (m_sync_fd < 0) {
    int err = errno;
    for (auto& s : m_segments) {
      ::close(s.fd);
    }
    throw Error(
        ErrorKind::io,
        util::errno_message(fmt::format("cannot open '{}'", m_options.sync_root.string()), err));
  }
}

Journal::~Journal() {
  try {
    stop();
  } catch (const std::exception& e) {
    util::warn(fmt::format("journal not emptied at stop: {}", e.what()));
  }
  for (auto& s : m_segments) {
    ::close(s.fd);
  }
  ::close(m_sync_fd);
}

std::size_t Journal::recover(const Holds& holds) {
  // Both segments, older generation first; only a segment in use is read past its header,
  // and no further than the segment size.
  std::vector<std::pair<std::uint64_t, std::string>> segments;
  for (int i = 0; i < 2; ++i) {
    fs::path path = segment_path(m_options.dir, i);
    auto read_at = [&](std::size_t at, std::size_t size) {
      std::string data(size, '\0');
      std::size_t got = 0;
      while (got < size) {
        ssize_t n =
            ::pread(m_segments[i].fd, data.data() + got, size - got, static_cast<off_t>(at + got));
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n < 0) {
          throw Error(ErrorKind::io,
                      util::errno_message(fmt::format("cannot read '{}'", path.string()), errno));
        }
        if (n == 0) {
          break;
        }
        got += static_cast<std::size_t>(n);
      }
      data.resize(got);
      return data;
    };
    std::string header = read_at(0, k_header_bytes);
    if (header.size() < k_header_bytes
        || std::memcmp(header.data(), k_magic.data(), k_magic.size()) != 0) {
      continue;  // new, or never written
    }
    std::uint64_t generation = get_le(header, 8, 8);
    m_generation = std::max(m_generation, generation);
    if (generation != 0) {
      segments.emplace_back(generation, read_at(0, m_options.segment_bytes));
    }
  }
  std::sort(segments.begin(), segments.end(), [](const auto& a, const auto& b) {
    return a.first < b.first;
  });

  std::set<std::string> claims;
  std::vector<Json> deliveries;
  std::size_t ignored = 0;
  std::size_t records = 0;
  for (const auto& [generation, data] : segments) {
    for (const auto& payload : read_records(data, generation)) {
      ++records;
      auto json = util::parse_json<Json>(payload);
      std::string op = json.is_object() ? string_at(json, "op") : "";
      if (op == "claim") {
        claims.insert(
            claim_key(string_at(json, "room"), string_at(json, "agent"), string_at(json, "id")));
      } else if (op == "deliver") {
        deliveries.push_back(std::move(json));
      } else {
        ++ignored;
      }
    }
  }

  std::size_t written = 0;
  for (const auto& json : deliveries) {
    try {
      JournalDelivery d;
      d.room = string_at(json, "room");
      if (!protocol::is_valid_room_id(d.room)) {
        throw Error(ErrorKind::protocol, "its room is not a valid room id");
      }
      auto message = json.find("message");
      if (message == json.end()) {
        throw Error(ErrorKind::protocol, "it has no message");
      }
      d.message = message_from_json(*message);
      auto to = json.find("to");
      if (to == json.end() || !to->is_array()) {
        throw Error(ErrorKind::protocol, "it has no recipients");
      }
      for (const auto& name : *to) {
        if (!name.is_string() || !is_valid_agent_name(name.get<std::string>())) {
          throw Error(ErrorKind::protocol, "a recipient is not a valid agent name");
        }
        std::string agent = name.get<std::string>();
        if (claims.count(claim_key(d.room, agent, d.message.id)) == 0
            && !holds(d.room, agent, d.message.id)) {
          d.recipients.push_back(agent);
        }
      }
      if (!d.recipients.empty()) {
        m_materialize(d);
        written += d.recipients.size();
      }
    } catch (const std::exception& e) {
      ++ignored;
      util::warn(fmt::format("journal: a delivery was not replayed: {}", e.what()));
    }
  }
  if (ignored > 0) {
    util::warn(fmt::format("journal: {} record(s) could not be replayed", ignored));
  }
  // What the records describe (written now, or by the last run and maybe only in the
  // page cache) must be on disk before the records go. An empty journal needs nothing.
  if (records > 0) {
    sync_filesystem();
  }
  for (int i = 0; i < 2; ++i) {
    Segment& s = m_segments[i];
    struct stat st {};
    if (::fstat(s.fd, &st) != 0) {
      throw Error(
          ErrorKind::io,
          util::errno_message(
              fmt::format("cannot stat '{}'", segment_path(m_options.dir, i).string()), errno));
    }
    s.filled = static_cast<std::size_t>(st.st_size);
    fill_to(i, k_records_start);
    reset_segment(s, i == 0 ? ++m_generation : 0);
    s.state = i == 0 ? SegmentState::current : SegmentState::free;
  }
  m_current = 0;
  m_recovered = true;
  return written;
}

void Journal::fill_to(int index, std::size_t need) {
  // Zeros written ahead of the records, a MiB at a time and once per file, not
  // fallocate(): reserved but unwritten blocks must be converted on their first write,
  // which made each sync slower than an append (measured here), and a record written
  // inside the file's size changes no size or extent, so its fdatasync() writes the data
  // alone. A relay that sends little writes little.
  Segment& segment = m_segments[index];
  if (need <= segment.filled) {
    return;
  }
  fs::path path = segment_path(m_options.dir, index);
  std::size_t target =
      std::min(m_options.segment_bytes, std::max(need, segment.filled + k_fill_step));
  std::string zeros(target - segment.filled, '\0');
  util::pwrite_all(segment.fd, zeros, segment.filled, path);
  segment.filled = target;
}

void Journal::sync_filesystem() {
  if (util::sync_file_system(m_sync_fd) != 0) {
    throw Error(
        ErrorKind::io,
        util::errno_message(fmt::format("cannot sync '{}'", m_options.sync_root.string()), errno));
  }
}

void Journal::reset_segment(Segment& segment, std::uint64_t generation) {
  std::string header = journal_segment_header(generation);
  int index = static_cast<int>(&segment - m_segments);
  fs::path path = segment_path(m_options.dir, index);
  util::pwrite_all(segment.fd, header, 0, path);
  sync_file(segment.fd, path);
  segment.generation = generation;
  segment.end = k_records_start;
  segment.last_seq = 0;
}

void Journal::start() {
  std::lock_guard lock(m_mutex);
  if (m_started) {
    return;
  }
  m_started = true;
  m_thread = std::thread([this] { materializer(); });
}

std::uint64_t Journal::enqueue(std::unique_lock<std::mutex>& lock, Queued queued) {
  (void)lock;
  queued.seq = ++m_next_seq;
  std::uint64_t seq = queued.seq;
  m_queue.push_back(std::move(queued));
  return seq;
}

void Journal::deliver(JournalDelivery delivery) {
  Queued queued;
  queued.payload = deliver_payload(delivery);
  if (queued.payload.size() + k_frame_bytes > m_options.segment_bytes - k_records_start) {
    throw Error(ErrorKind::usage, "message too large for the relay's journal");
  }
  queued.delivery = std::move(delivery);
  std::unique_lock lock(m_mutex);
  // Back-pressure: the inboxes may fall only so far behind the acknowledgements.
  if (!m_changed.wait_for(lock, m_options.full_wait, [this] {
        return m_failed || m_stopping || m_unwritten.size() < m_options.max_unwritten;
      })) {
    throw Error(ErrorKind::io, "relay journal: the inboxes are not being written (disk full?)");
  }
  if (m_failed) {
    throw Error(ErrorKind::io, fmt::format("relay journal failed: {}", *m_failed));
  }
  if (m_stopping) {
    throw Error(ErrorKind::io, "relay is shutting down");
  }
  std::uint64_t seq = enqueue(lock, std::move(queued));
  while (m_durable_seq < seq) {
    if (m_failed) {
      throw Error(ErrorKind::io, fmt::format("relay journal failed: {}", *m_failed));
    }
    if (!m_committing) {
      lead_commit(lock);
    } else {
      m_changed.wait(lock);
    }
  }
}

void Journal::claimed(const std::string& room, const std::string& agent, const std::string& id) {
  Queued queued;
  queued.payload = claim_payload(room, agent, id);
  std::unique_lock lock(m_mutex);
  if (m_failed || !m_started) {
    return;  // nothing will be replayed from this journal that a claim could suppress
  }
  std::uint64_t seq = enqueue(lock, std::move(queued));
  while (m_written_seq < seq && !m_failed) {
    if (!m_committing) {
      lead_commit(lock);
    } else {
      m_changed.wait(lock);
    }
  }
}

void Journal::lead_commit(std::unique_lock<std::mutex>& lock) {
  m_committing = true;
  std::vector<Queued> batch;
  batch.swap(m_queue);
  try {
    write_batch(batch, lock);
  } catch (const std::exception& e) {
    m_failed = e.what();
    util::warn(
        fmt::format("relay journal failed; sends are refused until a restart: {}", e.what()));
  }
  m_committing = false;
  m_changed.notify_all();
}

void Journal::write_batch(std::vector<Queued>& batch, std::unique_lock<std::mutex>& lock) {
  std::vector<int> touched;
  bool any_delivery = false;
  std::size_t i = 0;
  while (i < batch.size()) {
    Segment& segment = m_segments[m_current];
    std::string buffer;
    std::size_t j = i;
    std::uint64_t last_delivery = 0;
    while (j < batch.size()
           && segment.end + buffer.size() + k_frame_bytes + batch[j].payload.size()
                  <= m_options.segment_bytes) {
      frame(buffer, segment.generation, batch[j].payload);
      if (batch[j].delivery) {
        last_delivery = batch[j].seq;
      }
      ++j;
    }
    if (j == i) {
      rotate(lock);
      continue;
    }
    int index = m_current;
    lock.unlock();
    try {
      fill_to(index, segment.end + buffer.size());
      util::pwrite_all(segment.fd, buffer, segment.end, segment_path(m_options.dir, index));
    } catch (...) {
      lock.lock();
      throw;
    }
    lock.lock();
    segment.end += buffer.size();
    if (last_delivery != 0) {
      segment.last_seq = last_delivery;
      any_delivery = true;
    }
    if (std::find(touched.begin(), touched.end(), index) == touched.end()) {
      touched.push_back(index);
    }
    i = j;
  }
  m_written_seq = batch.back().seq;
  m_changed.notify_all();  // claims need no sync
  if (!any_delivery) {
    return;
  }
  lock.unlock();
  auto started = std::chrono::steady_clock::now();
  try {
    for (int index : touched) {
      sync_file(m_segments[index].fd, segment_path(m_options.dir, index));
    }
  } catch (...) {
    lock.lock();
    throw;
  }
  lock.lock();
  ++m_stats.commits;
  m_durable_seq = batch.back().seq;
  std::uint64_t deliveries = 0;
  for (auto& queued : batch) {
    if (queued.delivery) {
      ++deliveries;
      m_unwritten.push_back(std::move(queued));
    }
  }
  m_stats.records += deliveries;
  util::GroupSync::note_round(std::chrono::steady_clock::now() - started, deliveries);
}

void Journal::rotate(std::unique_lock<std::mutex>& lock) {
  int next = 1 - m_current;
  if (!m_changed.wait_for(lock, m_options.full_wait, [&] {
        return m_segments[next].state == SegmentState::free;
      })) {
    throw Error(ErrorKind::io, "relay journal full: the inboxes are not being written");
  }
  Segment& segment = m_segments[next];
  std::string header = journal_segment_header(++m_generation);
  // Synced with the first records written after it.
  util::pwrite_all(segment.fd, header, 0, segment_path(m_options.dir, next));
  segment.generation = m_generation;
  segment.end = k_records_start;
  segment.last_seq = 0;
  segment.state = SegmentState::current;
  m_segments[m_current].state = SegmentState::full;
  m_current = next;
  m_changed.notify_all();
}

void Journal::checkpoint_if_due(std::unique_lock<std::mutex>& lock) {
  for (int i = 0; i < 2; ++i) {
    Segment& segment = m_segments[i];
    if (segment.state != SegmentState::full || segment.last_seq > m_materialized_seq) {
      continue;
    }
    lock.unlock();
    bool done = false;
    try {
      sync_filesystem();
      reset_segment(segment, 0);
      done = true;
    } catch (const std::exception& e) {
      util::warn(fmt::format("journal checkpoint failed (retrying): {}", e.what()));
    }
    lock.lock();
    if (done) {
      segment.state = SegmentState::free;
      ++m_stats.checkpoints;
      m_changed.notify_all();
    } else {
      m_changed.wait_for(lock, k_retry_wait);
    }
  }
}

void Journal::materializer() {
  std::unique_lock lock(m_mutex);
  bool warned = false;
  while (true) {
    checkpoint_if_due(lock);
    if (m_unwritten.empty()) {
      if (m_materialized_seq < m_durable_seq) {
        m_materialized_seq = m_durable_seq;
        m_changed.notify_all();
        continue;
      }
      if (m_stopping && !m_committing && m_queue.empty()) {
        return;
      }
      m_changed.wait(lock);
      continue;
    }
    // Only this thread pops: the front stays put while the lock is released.
    Queued& front = m_unwritten.front();
    lock.unlock();
    bool ok = true;
    try {
      util::crash_point("journal.materialize");  // acknowledged, not yet in its inbox
      m_materialize(*front.delivery);
    } catch (const std::exception& e) {
      ok = false;
      if (!warned) {
        util::warn(
            fmt::format("journal: a delivery is not in its inbox yet (retrying): {}", e.what()));
        warned = true;
      }
    }
    lock.lock();
    if (ok) {
      warned = false;
      m_materialized_seq = front.seq;
      m_unwritten.pop_front();
      m_changed.notify_all();
    } else if (m_stopping) {
      return;  // left in the journal: the next start replays it
    } else {
      m_changed.wait_for(lock, k_retry_wait);
    }
  }
}

void Journal::flush() {
  std::unique_lock lock(m_mutex);
  if (!m_started) {
    return;
  }
  std::uint64_t target = m_durable_seq;
  m_changed.wait_for(lock, k_flush_wait, [&] { return m_materialized_seq >= target; });
}

void Journal::stop() {
  {
    std::unique_lock lock(m_mutex);
    if (m_stopped) {
      return;
    }
    m_stopping = true;
    m_changed.notify_all();
  }
  if (m_thread.joinable()) {
    m_thread.join();
  }
  std::unique_lock lock(m_mutex);
  m_stopped = true;
  if (m_failed || !m_unwritten.empty() || !m_recovered) {
    return;  // the next start replays what is there
  }
  if (m_stats.records == 0) {
    return;  // nothing was written since recover() emptied it
  }
  sync_filesystem();
  for (auto& segment : m_segments) {
    reset_segment(segment, 0);
    segment.state = SegmentState::free;
  }
}

Journal::Stats Journal::stats() {
  std::lock_guard lock(m_mutex);
  return m_stats;
}

}  // namespace bch::relay
