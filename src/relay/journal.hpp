#pragma once

#include <bch/message.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace bch::relay {

// One delivery as the journal holds it: a message for some agents of one room.
struct JournalDelivery {
  std::string room;
  std::vector<std::string> recipients;
  Message message;
};

// The on-disk format, for tests and the fuzz target: a segment's 16-byte header, and one
// framed record of a segment of that generation.
std::string journal_segment_header(std::uint64_t generation);
std::string journal_record(std::uint64_t generation, std::string_view payload);

// The relay's journal: group commit for sends, and the Maildir written behind it. See the
// essay at the top of journal.cpp.
class Journal {
public:
  struct Options {
    std::filesystem::path dir;                   // <data dir>/journal
    std::filesystem::path sync_root;             // the file system the inboxes live on
    std::size_t segment_bytes = 16u << 20;       // each of the two segments
    std::size_t max_unwritten = 4096;            // deliveries acknowledged, not yet in inboxes
    std::chrono::milliseconds full_wait{30000};  // a send waits this long for room, then fails
  };
  // Writes a delivery's copies into the inboxes, without syncing (the journal is their
  // durable copy until its next checkpoint). Throws on failure.
  using Materialize = std::function<void(const JournalDelivery&)>;
  // Whether the inbox of `agent` in `room` still holds message `id` (read or unread).
  using Holds =
      std::function<bool(const std::string& room, const std::string& agent, const std::string& id)>;

  // Opens the journal in options.dir (made if missing). Call recover(), then start().
  Journal(Options options, Materialize materialize);
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  // stop(), if not done yet.
  ~Journal();

  // What a previous run left: every delivery in the journal that its inbox does not hold
  // and that was not claimed is written again; then the file system is synced and the
  // journal emptied. Returns how many copies were written again. Throws Error(io) if the
  // journal cannot be read or reset.
  std::size_t recover(const Holds& holds);
  // Starts the thread that writes acknowledged deliveries into the inboxes.
  void start();
  // Durable on return: the delivery's record was written and fdatasync()ed, in one sync
  // shared with every delivery that arrived meanwhile. Throws Error(io) if it could not be.
  void deliver(JournalDelivery delivery);
  // Returns once every delivery acknowledged before the call is in its inboxes (or after
  // a few seconds if writing them keeps failing).
  void flush();
  // Notes that `agent` took message `id` from its inbox (written, not synced): a replay
  // never brings it back.
  void claimed(const std::string& room, const std::string& agent, const std::string& id);
  // Writes what is left into the inboxes, syncs them and empties the journal.
  void stop();

  struct Stats {
    std::uint64_t commits = 0;      // fdatasync()s of the journal
    std::uint64_t records = 0;      // records they made durable
    std::uint64_t checkpoints = 0;  // syncs of the inboxes that freed a segment
  };
  Stats stats();

private:
  enum class SegmentState { free, current, full };
  struct Segment {
    int fd = -1;
    std::uint64_t generation = 0;
    std::size_t end = 0;         // where the next record goes
    std::size_t filled = 0;      // bytes of the file written (zeros ahead of `end`)
    std::uint64_t last_seq = 0;  // the last delivery written to it
    SegmentState state = SegmentState::free;
  };
  struct Queued {
    std::uint64_t seq = 0;
    std::string payload;
    std::optional<JournalDelivery> delivery;  // none for a claim
  };

  void lead_commit(std::unique_lock<std::mutex>& lock);
  void write_batch(std::vector<Queued>& batch, std::unique_lock<std::mutex>& lock);
  void rotate(std::unique_lock<std::mutex>& lock);
  void fill_to(int index, std::size_t need);
  void sync_filesystem();  // syncfs() of the inboxes' file system, or Error(io)
  void reset_segment(Segment& segment, std::uint64_t generation);
  void materializer();
  void checkpoint_if_due(std::unique_lock<std::mutex>& lock);
  std::uint64_t enqueue(std::unique_lock<std::mutex>& lock, Queued queued);

  Options m_options;
  Materialize m_materialize;
  int m_sync_fd = -1;
  std::mutex m_mutex;
  std::condition_variable m_changed;  // any progress: written, synced, materialized, freed
  Segment m_segments[2];
  int m_current = 0;
  std::uint64_t m_generation = 0;
  std::vector<Queued> m_queue;  // records waiting for a leader
  bool m_committing = false;    // a leader is writing
  std::uint64_t m_next_seq = 0;
  std::uint64_t m_written_seq = 0;       // every record up to here is in the file
  std::uint64_t m_durable_seq = 0;       // every record up to here is synced
  std::uint64_t m_materialized_seq = 0;  // every delivery up to here is in its inboxes
  std::deque<Queued> m_unwritten;        // durable, not yet in their inboxes
  std::optional<std::string> m_failed;   // a journal write failed: no more sends
  bool m_started = false;
  bool m_recovered = false;  // the segments are ours: recover() read and reset them
  bool m_stopping = false;
  bool m_stopped = false;
  Stats m_stats;
  std::thread m_thread;
};

}  // namespace bch::relay
