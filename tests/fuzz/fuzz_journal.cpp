// The relay's journal as a crash (or a hostile hand) leaves it, replayed at start: a
// segment of raw bytes (first byte odd), or of lines that the harness frames with valid
// checks (first byte even) so they reach the JSON and the replay. Whatever the journal
// holds, a replay writes only valid messages for valid agent names of valid rooms.
#include "relay/journal.hpp"

#include <bch/address.hpp>
#include <bch/protocol/relay_api.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace {

namespace fs = std::filesystem;

const fs::path& scratch() {
  // tmpfs where there is one: the replay syncs the file system once per input.
  static const fs::path dir = [] {
    std::string base = fs::exists("/dev/shm") ? "/dev/shm" : fs::temp_directory_path().string();
    std::string tmpl = base + "/bch-fuzz-journal-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::abort();
    }
    fs::create_directories(fs::path(tmpl) / "journal");
    return fs::path(tmpl);
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string segment;
  if ((data[0] & 1) != 0) {
    segment = input;
  } else {
    segment = bch::relay::journal_segment_header(3);
    segment.resize(4096, '\0');
    while (!input.empty()) {
      auto end = input.find('\n');
      segment += bch::relay::journal_record(3, input.substr(0, end));
      input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
    }
  }
  const fs::path& dir = scratch();
  {
    std::ofstream out(dir / "journal" / "0.seg", std::ios::binary | std::ios::trunc);
    out << segment;
  }
  fs::remove(dir / "journal" / "1.seg");
  bch::relay::Journal::Options options;
  options.dir = dir / "journal";
  options.sync_root = dir;
  options.segment_bytes = 64u << 10;
  bch::relay::Journal journal(options, [](const bch::relay::JournalDelivery& d) {
    if (!bch::protocol::is_valid_room_id(d.room) || !bch::is_valid_message_id(d.message.id)
        || d.recipients.empty()) {
      __builtin_trap();
    }
    for (const auto& name : d.recipients) {
      if (!bch::is_valid_agent_name(name)) {
        __builtin_trap();
      }
    }
  });
  journal.recover([](const std::string&, const std::string&, const std::string&) { return false; });
  return 0;
}
