// A harness file as `bch setup` finds it, which may hold anything: setup edits it (or
// refuses), a second setup changes no byte, `bch doctor`'s inspection reads it, `--undo
// --dry-run` writes nothing, `--undo` takes out what setup added, and a second undo finds
// nothing more to take. The first byte picks the file, and with its top bit, `--remote`.
#include <bch/setup/setup.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace fs = std::filesystem;

namespace {

const fs::path& home() {
  static const fs::path dir = [] {
    char pattern[] = "/tmp/bch-fuzz-setup-XXXXXX";
    return fs::path(::mkdtemp(pattern));
  }();
  return dir;
}

std::string read(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> run(bch::setup::Options o, bool undo, bool dry_run) {
  o.undo = undo;
  o.dry_run = dry_run;
  return bch::setup::run(o, [](const std::string&) {});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  static const char* const files[] = {".claude/settings.json",
                                      ".claude.json",
                                      ".gemini/settings.json",
                                      ".codex/config.toml",
                                      ".codex/AGENTS.md"};
  fs::remove_all(home() / ".claude");
  fs::remove_all(home() / ".gemini");
  fs::remove_all(home() / ".codex");
  fs::remove(home() / ".claude.json");
  for (const char* dir : {".claude", ".gemini", ".codex"}) {
    fs::create_directories(home() / dir);
  }
  fs::path file = home() / files[data[0] % 5];
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  bch::setup::Options o;
  o.home = home();
  o.test_home = true;
  o.bch = "/opt/bch/bin/bch";
  o.path = "";
  o.backchannel_home = "/tmp/x y/'h'";
  if ((data[0] & 0x80) != 0) {
    o.remote = bch::setup::Remote{"https://relay.example/mcp", "tok-/+=", "room-1"};
  }
  bool clean = run(o, false, false).empty();
  std::string set_up = read(file);
  if (clean && (!run(o, false, false).empty() || read(file) != set_up)) {
    __builtin_trap();  // setup is not idempotent
  }
  (void)bch::setup::inspect(o);
  (void)run(o, true, true);
  if (read(file) != set_up) {
    __builtin_trap();  // a dry run wrote
  }
  auto errors = run(o, true, false);
  if (errors.empty()) {
    std::string undone = fs::exists(file) ? read(file) : std::string("<none>");
    (void)run(o, true, false);
    if ((fs::exists(file) ? read(file) : std::string("<none>")) != undone) {
      __builtin_trap();  // a second undo took more
    }
  }
  return 0;
}
